/**
 * Data movement: copy (into any, possibly strided, destination), cast, fill,
 * pad, cat, indexSelect, indexAdd, gather, scatter, scatterAdd.
 *
 * All of them come down to `copyRow`-style loops driven by a `Walker`; runs that
 * are contiguous on both sides and not tiny are block copies (subarray + set).
 */
import type { DType, TypedArray } from '../../dtype.js';
import { fail, fmtShape } from '../../errors.js';
import type { Kernel, KernelAttrs } from '../types.js';
import { type Arg, Walker, contiguous, findIndex, normalizeBool, numelOf, replaced, without } from './strided.js';

type NoAttrs = KernelAttrs['copy'];
type K<A> = Kernel<A, TypedArray>;

/** Below this many elements a plain loop beats subarray + set. */
const BLOCK_MIN = 16;

// ---------------------------------------------------------------- rows

/** dst[id + i*sd] = src[is + i*ss] for i < n (typed-array assignment converts). */
function copyRow(src: TypedArray, is: number, ss: number, dst: TypedArray, id: number, sd: number, n: number): void {
  if (ss === 1 && sd === 1 && n >= BLOCK_MIN) {
    dst.set(src.subarray(is, is + n), id);
    return;
  }
  for (let i = 0; i < n; i++, is += ss, id += sd) dst[id] = src[is];
}

function addRow(src: TypedArray, is: number, ss: number, dst: TypedArray, id: number, sd: number, n: number): void {
  for (let i = 0; i < n; i++, is += ss, id += sd) dst[id] += src[is];
}

function toBoolRow(src: TypedArray, is: number, ss: number, dst: TypedArray, id: number, sd: number, n: number): void {
  for (let i = 0; i < n; i++, is += ss, id += sd) dst[id] = src[is] !== 0 ? 1 : 0; // NaN -> 1
}

/** Float to integer: truncation and wrap-around come from the typed-array store. False at a non-finite value. */
function toIntRow(src: TypedArray, is: number, ss: number, dst: TypedArray, id: number, sd: number, n: number): boolean {
  for (let i = 0; i < n; i++, is += ss, id += sd) {
    const v = src[is];
    if (v - v !== 0) return false; // NaN or +-Infinity
    dst[id] = v;
  }
  return true;
}

/** Walks all rows of `w` (operand 0 = dst, 1 = src) copying src into dst. */
function copyRows(w: Walker, dst: TypedArray, src: TypedArray): void {
  const p = w.pos;
  const s = w.inner;
  for (let r = 0; r < w.rows; r++, w.next()) copyRow(src, p[1], s[1], dst, p[0], s[0], w.n);
}

function addRows(w: Walker, dst: TypedArray, src: TypedArray): void {
  const p = w.pos;
  const s = w.inner;
  for (let r = 0; r < w.rows; r++, w.next()) addRow(src, p[1], s[1], dst, p[0], s[0], w.n);
}

// ---------------------------------------------------------------- copy / cast / fill

/** dst[...] = src[...] over dst's shape; dst may be strided, src expanded (stride 0). Same dtype. */
export function copyInto(dst: Arg, src: Arg): void {
  if (contiguous(dst) && contiguous(src)) {
    copyRow(src.buf, src.offset, 1, dst.buf, dst.offset, 1, numelOf(dst.shape));
    return;
  }
  copyRows(new Walker(dst.shape, [dst.strides, src.strides], [dst.offset, src.offset]), dst.buf, src.buf);
}

function nonFinite(x: Arg, to: DType): never {
  let bad = NaN;
  const idx = findIndex(x.shape, x.strides, x.offset, (off) => {
    const v = x.buf[off];
    if (v - v !== 0) {
      bad = v;
      return true;
    }
    return false;
  });
  fail(
    'VALUE',
    'cast',
    `cannot convert a non-finite value to ${to}; got ${bad} at index ${fmtShape(idx ?? [])} of a ${x.dtype} tensor of shape ${fmtShape(x.shape)}, expected finite values`,
    'replace NaN and +-Infinity first, e.g. with where(isnan(x), 0, x) / clamp(), then cast',
  );
}

/** y = x converted to y's dtype (see KernelAttrs['cast']). */
export function castInto(y: Arg, x: Arg): void {
  const toBool = y.dtype === 'bool' && x.dtype !== 'bool';
  const checked = (y.dtype === 'int32' || y.dtype === 'uint8') && (x.dtype === 'float32' || x.dtype === 'float64');
  if (!toBool && !checked) {
    copyInto(y, x); // typed-array stores do float rounding and integer wrap-around
    return;
  }
  const w = new Walker(y.shape, [y.strides, x.strides], [y.offset, x.offset]);
  const p = w.pos;
  const s = w.inner;
  if (toBool) {
    for (let r = 0; r < w.rows; r++, w.next()) toBoolRow(x.buf, p[1], s[1], y.buf, p[0], s[0], w.n);
    return;
  }
  for (let r = 0; r < w.rows; r++, w.next()) {
    if (!toIntRow(x.buf, p[1], s[1], y.buf, p[0], s[0], w.n)) nonFinite(x, y.dtype);
  }
}

const copy: K<NoAttrs> = (ins, outs) => {
  const src = ins[0];
  const dst = outs[0];
  if (src.dtype === dst.dtype) copyInto(dst, src);
  else castInto(dst, src);
};

const cast: K<NoAttrs> = (ins, outs) => castInto(outs[0], ins[0]);

function fillWith(y: Arg, value: number): void {
  if (contiguous(y)) {
    y.buf.fill(value, y.offset, y.offset + numelOf(y.shape));
    return;
  }
  const w = new Walker(y.shape, [y.strides], [y.offset]);
  const buf = y.buf;
  for (let r = 0; r < w.rows; r++, w.next()) {
    const s = w.inner[0];
    for (let i = 0, j = w.pos[0]; i < w.n; i++, j += s) buf[j] = value;
  }
}

const fill: K<KernelAttrs['fill']> = (_ins, outs, attrs) => fillWith(outs[0], attrs.value);

// ---------------------------------------------------------------- pad / cat

const pad: K<KernelAttrs['pad']> = (ins, outs, attrs) => {
  const x = ins[0];
  const y = outs[0];
  fillWith(y, attrs.value);
  let offset = y.offset;
  for (let d = 0; d < x.shape.length; d++) offset += attrs.pads[d][0] * y.strides[d];
  copyInto({ buf: y.buf, dtype: y.dtype, shape: x.shape, strides: y.strides, offset }, x);
};

const cat: K<KernelAttrs['cat']> = (ins, outs, attrs) => {
  const y = outs[0];
  const dim = attrs.dim;
  const step = y.strides[dim];
  let at = 0;
  for (const x of ins) {
    copyInto({ buf: y.buf, dtype: y.dtype, shape: x.shape, strides: y.strides, offset: y.offset + at * step }, x);
    at += x.shape[dim];
  }
};

// ---------------------------------------------------------------- index ops

/** A 0-d tensor seen as shape [1] (index ops address dim 0 of it). */
function atLeast1d(a: Arg): Arg {
  return a.shape.length > 0 ? a : { buf: a.buf, dtype: a.dtype, shape: [1], strides: [0], offset: a.offset };
}

const indexSelect: K<KernelAttrs['indexSelect']> = (ins, outs, attrs) => {
  const x = atLeast1d(ins[0]);
  const index = atLeast1d(ins[1]);
  const y = atLeast1d(outs[0]);
  const dim = attrs.dim;
  const ids = index.buf;
  const si = index.strides[0];
  const len = index.shape[0];
  // One plan over the slice (all dims but `dim`), restarted at every selected index.
  const w = new Walker(without(x.shape, dim), [without(y.strides, dim), without(x.strides, dim)], [0, 0]);
  const base = [0, 0];
  for (let i = 0; i < len; i++) {
    base[0] = y.offset + i * y.strides[dim];
    base[1] = x.offset + ids[index.offset + i * si] * x.strides[dim];
    w.reset(base);
    copyRows(w, y.buf, x.buf);
  }
};

const indexAdd: K<KernelAttrs['indexAdd']> = (ins, outs, attrs) => {
  const self = atLeast1d(ins[0]);
  const index = atLeast1d(ins[1]);
  const source = atLeast1d(ins[2]);
  const y = atLeast1d(outs[0]);
  const dim = attrs.dim;
  copyInto(y, self);
  const ids = index.buf;
  const si = index.strides[0];
  const len = index.shape[0];
  const w = new Walker(without(source.shape, dim), [without(y.strides, dim), without(source.strides, dim)], [0, 0]);
  const base = [0, 0];
  for (let i = 0; i < len; i++) {
    base[0] = y.offset + ids[index.offset + i * si] * y.strides[dim];
    base[1] = source.offset + i * source.strides[dim];
    w.reset(base);
    addRows(w, y.buf, source.buf);
  }
  if (y.dtype === 'bool') normalizeBool(y);
};

const gather: K<KernelAttrs['gather']> = (ins, outs, attrs) => {
  const x = atLeast1d(ins[0]);
  const index = atLeast1d(ins[1]);
  const y = atLeast1d(outs[0]);
  const dim = attrs.dim;
  const sd = x.strides[dim];
  // x walked with stride 0 along dim; the index value supplies that offset.
  const w = new Walker(index.shape, [y.strides, index.strides, replaced(x.strides, dim, 0)], [y.offset, index.offset, x.offset]);
  const p = w.pos;
  const s = w.inner;
  const yb = y.buf;
  const ib = index.buf;
  const xb = x.buf;
  for (let r = 0; r < w.rows; r++, w.next()) {
    const sy = s[0];
    const si = s[1];
    const sx = s[2];
    for (let j = 0, py = p[0], pi = p[1], px = p[2]; j < w.n; j++, py += sy, pi += si, px += sx) yb[py] = xb[px + ib[pi] * sd];
  }
};

function scatterKernel(accumulate: boolean): K<KernelAttrs['scatter']> {
  return (ins, outs, attrs) => {
    const self = atLeast1d(ins[0]);
    const index = atLeast1d(ins[1]);
    const src = atLeast1d(ins[2]);
    const y = atLeast1d(outs[0]);
    const dim = attrs.dim;
    copyInto(y, self);
    const sd = y.strides[dim];
    // Walk index's shape; y with stride 0 along dim, the index value supplies it.
    const w = new Walker(index.shape, [index.strides, src.strides, replaced(y.strides, dim, 0)], [index.offset, src.offset, y.offset]);
    const p = w.pos;
    const s = w.inner;
    const yb = y.buf;
    const ib = index.buf;
    const sb = src.buf;
    for (let r = 0; r < w.rows; r++, w.next()) {
      const si = s[0];
      const ss = s[1];
      const sy = s[2];
      if (accumulate) {
        for (let j = 0, pi = p[0], ps = p[1], py = p[2]; j < w.n; j++, pi += si, ps += ss, py += sy) yb[py + ib[pi] * sd] += sb[ps];
      } else {
        for (let j = 0, pi = p[0], ps = p[1], py = p[2]; j < w.n; j++, pi += si, ps += ss, py += sy) yb[py + ib[pi] * sd] = sb[ps];
      }
    }
    if (accumulate && y.dtype === 'bool') normalizeBool(y);
  };
}

export const movementKernels = {
  copy,
  cast,
  fill,
  pad,
  cat,
  indexSelect,
  indexAdd,
  gather,
  scatter: scatterKernel(false),
  scatterAdd: scatterKernel(true) as K<KernelAttrs['scatterAdd']>,
};
