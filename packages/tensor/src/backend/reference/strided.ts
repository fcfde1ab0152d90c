/**
 * The few helpers every reference kernel is built from: walk a multi-index over
 * a shape, map it to an element of a strided tensor, read a tensor's logical
 * values in row-major order, and write row-major values into an output
 * (normalised to the output's dtype).
 */
import type { DType } from '../../dtype.js';
import { numel } from '../../layout.js';
import type { TensorArg } from '../types.js';

export type Arg = TensorArg<Float64Array>;

/**
 * Calls `fn(idx, i)` for every multi-index `idx` of `shape` in row-major order,
 * `i` being the row-major position (0, 1, 2, ...). `idx` is reused between
 * calls: copy it if you keep it. A 0-d shape yields one call with `idx = []`.
 */
export function forEachIndex(shape: readonly number[], fn: (idx: number[], i: number) => void): void {
  const total = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < total; i++) {
    fn(idx, i);
    // Odometer increment: bump the last dim, carry into the previous ones.
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      if (idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** Position in `arg.buf` of the element at multi-index `idx` (strides + offset). */
export function elementPos(arg: Arg, idx: readonly number[]): number {
  let pos = arg.offset;
  for (let d = 0; d < idx.length; d++) pos += idx[d] * arg.strides[d];
  return pos;
}

/** The element of a strided tensor at multi-index `idx`. */
export function get(arg: Arg, idx: readonly number[]): number {
  return arg.buf[elementPos(arg, idx)];
}

/** Row-major position of multi-index `idx` in a contiguous tensor of `shape`. */
export function flatIndex(shape: readonly number[], idx: readonly number[]): number {
  let pos = 0;
  for (let d = 0; d < shape.length; d++) pos = pos * shape[d] + idx[d];
  return pos;
}

/** The logical values of a (possibly strided / broadcast) tensor, in row-major order. */
export function readAll(arg: Arg): Float64Array {
  const out = new Float64Array(numel(arg.shape));
  forEachIndex(arg.shape, (idx, i) => {
    out[i] = get(arg, idx);
  });
  return out;
}

/** Writes row-major `values` into `out` (any strides), normalised to out's dtype. */
export function writeAll(out: Arg, values: ArrayLike<number>): void {
  forEachIndex(out.shape, (idx, i) => {
    out.buf[elementPos(out, idx)] = normalize(out.dtype, values[i]);
  });
}

/**
 * Brings an exact float64 result into the value set of `dtype`: floats are kept
 * as they are (float32 results are NOT rounded), int32 truncates toward zero and
 * wraps modulo 2^32 like C, uint8 wraps modulo 256, bool is 0 or 1 (NaN is true).
 * Non-finite values become 0 for the integer dtypes (only `cast` rejects them).
 */
export function normalize(dtype: DType, v: number): number {
  switch (dtype) {
    case 'float32':
    case 'float64':
      return v;
    case 'int32':
      return v | 0; // ToInt32: truncate, then wrap modulo 2^32.
    case 'uint8':
      return (v | 0) & 255; // 2^32 is a multiple of 256, so this wraps modulo 256.
    case 'bool':
      return v !== 0 ? 1 : 0;
  }
}

/** Multiplies two integers with the wrap-around of `dtype` (int32 via Math.imul). */
export function wrapMul(dtype: DType, a: number, b: number): number {
  if (dtype === 'int32') return Math.imul(a, b);
  return normalize(dtype, a * b); // uint8 / bool products are exact in float64.
}

/** `shape` with every dim in `dims` set to 1 (the keepdim form of a reduction). */
export function keepdimShape(shape: readonly number[], dims: readonly number[]): number[] {
  return shape.map((s, d) => (dims.includes(d) ? 1 : s));
}

/**
 * Groups the row-major positions of a tensor of `shape` by the output cell of a
 * reduction over `dims` (keepdim form). `groups[j]` lists, in increasing order,
 * the input positions that reduce into output cell `j` (row-major); for a single
 * reduced dim, the k-th entry is the element at index k along that dim.
 */
export function reduceGroups(shape: readonly number[], dims: readonly number[]): number[][] {
  const outShape = keepdimShape(shape, dims);
  const groups: number[][] = Array.from({ length: numel(outShape) }, () => []);
  forEachIndex(shape, (idx, i) => {
    const outIdx = idx.map((v, d) => (dims.includes(d) ? 0 : v));
    groups[flatIndex(outShape, outIdx)].push(i);
  });
  return groups;
}
