/**
 * Errors: `<op>: <what is wrong>; got <actual>, expected <expected>` and, where
 * it helps, a second line `hint: <how to fix>`. Each error has a stable code.
 */
export type ErrorCode =
  | 'SHAPE'
  | 'BROADCAST'
  | 'DTYPE'
  | 'DEVICE'
  | 'DIM'
  | 'ARGUMENT'
  | 'DISPOSED'
  | 'VALUE'
  | 'BACKEND'
  | 'AUTOGRAD'
  | 'IO'
  | 'CUDA';

export class DLError extends Error {
  readonly code: ErrorCode;
  readonly op: string;
  constructor(code: ErrorCode, op: string, message: string, hint?: string) {
    super(`${op}: ${message}${hint ? `\nhint: ${hint}` : ''}`);
    this.name = 'DLError';
    this.code = code;
    this.op = op;
  }
}

export function fail(code: ErrorCode, op: string, message: string, hint?: string): never {
  throw new DLError(code, op, message, hint);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
