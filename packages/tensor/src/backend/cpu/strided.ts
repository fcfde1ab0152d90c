/**
 * Strided iteration for the TypeScript CPU kernels.
 *
 * Every kernel that is not a plain flat loop walks its operands with a `Walker`:
 * the dims of the iteration shape are coalesced (size-1 dims dropped, adjacent
 * dims merged wherever every operand steps through them as one run), the
 * innermost coalesced dim becomes a tight loop of `n` elements with one stride
 * per operand (`inner`), and the remaining dims form a small odometer that, row
 * after row, keeps the base offset of every operand in `pos`.
 *
 * A kernel body looks like:
 *
 *     const w = new Walker(shape, [y.strides, x.strides], [y.offset, x.offset]);
 *     for (let r = 0; r < w.rows; r++, w.next()) someRow(x.buf, w.pos[1], w.inner[1], y.buf, w.pos[0], w.inner[0], w.n);
 *
 * where `someRow` is a loop over `n` elements with the op chosen outside it.
 */
import type { TypedArray } from '../../dtype.js';
import { isContiguous } from '../../layout.js';
import type { TensorArg } from '../types.js';

/** A tensor argument of the CPU backend: the buffer is the dtype's typed array. */
export type Arg = TensorArg<TypedArray>;

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/** Row-major (C-contiguous) layout, ignoring the strides of size-1 dims. */
export function contiguous(a: { readonly shape: readonly number[]; readonly strides: readonly number[]; readonly offset: number }): boolean {
  return isContiguous(a);
}

/** Row-major strides of `shape`. */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** `arr` without entry `d`. */
export function without(arr: readonly number[], d: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < arr.length; i++) if (i !== d) out.push(arr[i]);
  return out;
}

/** `arr` with entry `d` replaced by `v`. */
export function replaced(arr: readonly number[], d: number, v: number): number[] {
  const out = arr.slice();
  out[d] = v;
  return out;
}

/**
 * The dims of `shape` coalesced for k operands: size-1 dims dropped, and adjacent dims merged
 * wherever every operand steps through them as one run. `sizes` are innermost first; `strides`
 * holds each group's k strides (flattened g*k+op); `total` is the element count.
 */
export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { sizes: number[]; strides: number[]; total: number } {
  const k = strides.length;
  const gSize: number[] = [];
  const gStride: number[] = [];
  let total = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d];
    total *= size;
    if (size === 1) continue;
    const g = gSize.length - 1;
    let merge = g >= 0;
    if (merge) {
      for (let o = 0; o < k; o++) {
        if (strides[o][d] !== gStride[g * k + o] * gSize[g]) {
          merge = false;
          break;
        }
      }
    }
    if (merge) gSize[g] *= size;
    else {
      gSize.push(size);
      for (let o = 0; o < k; o++) gStride.push(strides[o][d]);
    }
  }
  return { sizes: gSize, strides: gStride, total };
}

/**
 * Iterates a shape over k operands (each with its own strides and offset).
 * After construction `pos` holds the base offsets of row 0; `next()` advances to
 * the following row. `reset(offsets)` restarts the walk from new base offsets
 * (same shape and strides), which lets a kernel reuse one plan many times.
 */
export class Walker {
  /** Length of the innermost run (0 when the shape is empty). */
  readonly n: number;
  /** Number of rows (product of the outer dims); 0 when the shape has no elements. */
  readonly rows: number;
  /** Innermost stride of each operand. */
  readonly inner: number[];
  /** Base offset of the current row, per operand. */
  readonly pos: number[];
  private readonly k: number;
  /** Outer dims, innermost first: sizes, per-operand strides (flattened g*k+op), counters. */
  private readonly sizes: number[];
  private readonly steps: number[];
  private readonly count: number[];

  constructor(shape: readonly number[], strides: readonly (readonly number[])[], offsets: readonly number[]) {
    const k = strides.length;
    this.k = k;
    this.pos = offsets.slice(0, k);
    const { sizes: gSize, strides: gStride, total } = coalesce(shape, strides);
    if (total === 0) {
      this.n = 0;
      this.rows = 0;
      this.inner = new Array<number>(k).fill(0);
      this.sizes = [];
      this.steps = [];
      this.count = [];
      return;
    }
    if (gSize.length === 0) {
      // A single element (0-d or all dims of size 1).
      gSize.push(1);
      for (let o = 0; o < k; o++) gStride.push(0);
    }
    this.n = gSize[0];
    this.inner = gStride.slice(0, k);
    this.sizes = gSize.slice(1);
    this.steps = gStride.slice(k);
    this.count = new Array<number>(this.sizes.length).fill(0);
    let rows = 1;
    for (const s of this.sizes) rows *= s;
    this.rows = rows;
  }

  /** Advances `pos` to the next row (odometer over the outer dims). */
  next(): void {
    const k = this.k;
    const pos = this.pos;
    const sizes = this.sizes;
    const steps = this.steps;
    const count = this.count;
    for (let g = 0; g < sizes.length; g++) {
      const base = g * k;
      if (++count[g] < sizes[g]) {
        for (let o = 0; o < k; o++) pos[o] += steps[base + o];
        return;
      }
      count[g] = 0;
      const back = sizes[g] - 1;
      for (let o = 0; o < k; o++) pos[o] -= steps[base + o] * back;
    }
  }

  /** Restarts the walk at row 0 with new base offsets. */
  reset(offsets: readonly number[]): void {
    for (let o = 0; o < this.k; o++) this.pos[o] = offsets[o];
    this.count.fill(0);
  }
}

/**
 * The multi-index (row-major order) of every element of `shape`, calling
 * `visit(index, offset)` with the element's offset in a tensor of `strides` and
 * `offset`; stops when `visit` returns true. For slow paths only (error reports).
 */
export function findIndex(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  visit: (offset: number) => boolean,
): number[] | undefined {
  const total = numelOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  let off = offset;
  for (let i = 0; i < total; i++) {
    if (visit(off)) return idx;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      off += strides[d];
      if (idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return undefined;
}

/** Bytes of a bool tensor that arithmetic left outside {0, 1} become 1. */
export function normalizeBool(y: Arg): void {
  const w = new Walker(y.shape, [y.strides], [y.offset]);
  const buf = y.buf;
  for (let r = 0; r < w.rows; r++, w.next()) {
    const s = w.inner[0];
    for (let i = 0, j = w.pos[0]; i < w.n; i++, j += s) if (buf[j] !== 0) buf[j] = 1;
  }
}
