/** Helpers shared by the layers: argument checks and the repr formatting. */
import { DLError, Tensor } from '@dl/tensor';
import type { DType, Device } from '@dl/tensor';

export type IntOrPair = number | readonly [number, number];
export type Reduction = 'mean' | 'sum' | 'none';

/** dtype and device of the tensors a layer creates (PyTorch's factory kwargs). */
export interface FactoryOptions {
  dtype?: DType;
  device?: Device;
}

export function positiveInt(op: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new DLError('ARGUMENT', op, `${name} must be an integer >= ${min}; got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  }
  return v;
}

export function pair(op: string, name: string, v: IntOrPair, min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new DLError('ARGUMENT', op, `${name} must be an integer >= ${min} or a pair of them; got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

export function probability(op: string, name: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new DLError('VALUE', op, `${name} has to be between 0 and 1; got ${String(p)}`);
  return p;
}

/** A value as the repr shows it: arrays as [a, b], strings quoted. */
export function fmt(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(fmt).join(', ')}]`;
  if (typeof v === 'string') return `'${v}'`;
  return String(v);
}

export function checkReduction(op: string, reduction: unknown): Reduction {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new DLError('ARGUMENT', op, `reduction must be 'mean', 'sum' or 'none'; got ${JSON.stringify(reduction)}`);
  }
  return reduction;
}

export function checkTensor(op: string, name: string, v: unknown): asserts v is Tensor {
  if (!(v instanceof Tensor)) {
    throw new DLError('ARGUMENT', op, `${name} must be a Tensor; got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`, Array.isArray(v) ? 'wrap arrays with tensor(...)' : undefined);
  }
  if (v.isDisposed) throw new DLError('DISPOSED', op, `${name} (shape ${fmtShape(v.shape)}) was disposed`, 'do not use a tensor after dispose() or after the scope() that made it has ended');
}

export function checkFloat(op: string, name: string, t: Tensor): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new DLError('DTYPE', op, `${name} must be a floating point tensor; got ${t.dtype}`, `cast with ${name}.to('float32')`);
  }
}

export const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/** PyTorch's second positional argument of a pool is the stride: MaxPool2d(2, 2). */
export function poolOptions<T extends { stride?: IntOrPair | null }>(strideOrOpts: IntOrPair | T | undefined): T {
  if (strideOrOpts === undefined) return {} as T;
  if (typeof strideOrOpts === 'number' || Array.isArray(strideOrOpts)) return { stride: strideOrOpts } as T;
  return strideOrOpts as T;
}
