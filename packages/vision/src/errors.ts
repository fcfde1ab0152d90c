/** Errors of @dl/vision: DLErrors of @dl/tensor (`<op>: <what>` and a `hint:` line with the fix). */
import { DLError } from '@dl/tensor';
import type { ErrorCode } from '@dl/tensor';

export function fail(code: ErrorCode, op: string, message: string, hint?: string): never {
  throw new DLError(code, op, message, hint);
}

/** The message of an unknown thrown value, with its cause (fetch puts the socket error there). */
export function reasonOf(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as Error & { cause?: unknown }).cause;
  const code = (e as Error & { code?: unknown }).code;
  let msg = e.message;
  if (typeof code === 'string' && !msg.includes(code)) msg = `${code}: ${msg}`;
  if (cause instanceof Error && !msg.includes(cause.message)) msg += ` (${cause.message})`;
  return msg;
}
