/** Argument checks shared by the op front ends (validate once, at the front door). */
import type { DType } from '../dtype.js';
import { fail, fmtShape } from '../errors.js';
import { normalizeDim } from '../layout.js';
import { Tensor } from '../tensor.js';

export function assertAlive(op: string, t: Tensor): void {
  if (t.isDisposed) fail('DISPOSED', op, `the tensor of shape ${fmtShape(t.shape)} was disposed`, 'do not use a tensor after dispose() or after the scope() that made it has ended');
}

/** Check that a JavaScript caller passed a Tensor. */
export function asTensor(op: string, name: string, v: unknown): Tensor {
  if (v instanceof Tensor) {
    assertAlive(op, v);
    return v;
  }
  const got = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
  return fail('ARGUMENT', op, `${name} must be a Tensor; got ${got}`, Array.isArray(v) ? 'wrap arrays with tensor(...)' : undefined);
}

export function dimArg(op: string, dim: number, ndim: number): number {
  return normalizeDim(op, dim, ndim);
}

export function intArg(op: string, name: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    fail('ARGUMENT', op, `${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}; got ${String(v)}`);
  }
  return v;
}

export function shapeArgCheck(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    fail('SHAPE', op, `shape must be an array of non-negative integers; got ${JSON.stringify(shape)}`);
  }
  return shape as number[];
}

export function requireFloat(op: string, t: Tensor): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    fail('DTYPE', op, `expected a floating point tensor; got ${t.dtype}`, "cast with x.to('float32')");
  }
}

export function requireDType(op: string, name: string, t: Tensor, dtypes: readonly DType[]): void {
  if (!dtypes.includes(t.dtype)) {
    fail('DTYPE', op, `${name} must have dtype ${dtypes.join(' or ')}; got ${t.dtype}`, dtypes.includes('int32') ? "cast with x.to('int32')" : undefined);
  }
}
