/**
 * @internal The values of an image or a tensor as a typed array with its layout ("raster"),
 * and the argument parsing shared by the transforms. Not part of the public API.
 */
import { Tensor, tensor } from '@dl/tensor';
import type { DType, TypedArray } from '@dl/tensor';
import { fail } from '../errors.js';
import { isImage } from '../io/image.js';
import type { Image } from '../io/image.js';

export type ImageOrTensor = Image | Tensor;
export type PaddingMode = 'constant' | 'edge' | 'reflect' | 'symmetric';
/** A size: one number (square, or the shorter edge for resize) or [height, width]. */
export type SizeArg = number | readonly [number] | readonly [number, number] | readonly number[];
/** Padding: all sides, [left/right, top/bottom] or [left, top, right, bottom] (torchvision's order). */
export type PaddingArg = number | readonly number[];
/** A fill value: one number for all channels or one per channel. */
export type FillArg = number | readonly number[];

/** @internal The values of an image or tensor with their layout. */
export interface Raster {
  data: TypedArray;
  kind: 'image' | 'tensor';
  dtype: DType;
  /** Leading (batch) dims of a tensor. */
  lead: number[];
  /** A tensor [H, W] (no channel dim). */
  noChannelDim: boolean;
  n: number;
  c: number;
  h: number;
  w: number;
}

/** @internal */
export function toRaster(op: string, x: unknown): Raster {
  if (isImage(x)) return { data: x.data, kind: 'image', dtype: 'uint8', lead: [], noChannelDim: false, n: 1, c: x.channels, h: x.height, w: x.width };
  if (x instanceof Tensor) {
    if (x.isDisposed) fail('DISPOSED', op, 'the input tensor has been disposed');
    if (x.ndim < 2) fail('SHAPE', op, `expected a tensor [..., C, H, W] or [H, W]; got shape [${x.shape.join(', ')}]`);
    if (x.dtype === 'bool') fail('DTYPE', op, 'expected a float or integer image tensor; got bool', "cast it first, e.g. x.to('uint8')");
    const noChannelDim = x.ndim === 2;
    const [c, h, w] = noChannelDim ? [1, x.shape[0], x.shape[1]] : x.shape.slice(-3);
    const lead = noChannelDim ? [] : x.shape.slice(0, -3);
    return { data: x.dataSync(), kind: 'tensor', dtype: x.dtype, lead, noChannelDim, n: lead.reduce((a, b) => a * b, 1), c, h, w };
  }
  return fail('ARGUMENT', op, `expected an image ({ data: Uint8Array, height, width, channels }) or a Tensor; got ${describe(x)}`);
}

/** @internal */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return `an object with keys ${Object.keys(x as object).slice(0, 6).join(', ') || '(none)'}`;
  return typeof x;
}

/** @internal Element strides of a layout: [n, c, y, x]. */
export function rasterStrides(kind: 'image' | 'tensor', c: number, h: number, w: number): [number, number, number, number] {
  return kind === 'image' ? [h * w * c, 1, w * c, c] : [c * h * w, h * w, w, 1];
}

/** @internal A new typed array for the raster's dtype. */
export function allocLike(r: Raster, length: number): TypedArray {
  switch (r.dtype) {
    case 'uint8':
      return new Uint8Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'float64':
      return new Float64Array(length);
    default:
      return new Float32Array(length);
  }
}

/** @internal Wrap values in the input's kind (the array is adopted, not copied). */
export function fromRaster(r: Raster, data: TypedArray, c: number, h: number, w: number): ImageOrTensor {
  if (r.kind === 'image') return { data: data as Uint8Array, height: h, width: w, channels: c };
  const shape = r.noChannelDim ? [h, w] : [...r.lead, c, h, w];
  return tensor(data, { shape, dtype: r.dtype, copy: false });
}

/** @internal How a computed value is stored: rounded and clamped for images and uint8, as is for floats. */
export function storeFor(r: Raster): (v: number) => number {
  if (r.dtype === 'uint8') return (v) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
  if (r.dtype === 'int32') return (v) => Math.round(v);
  return (v) => v;
}

/** @internal Per-channel fill values, stored as the dtype stores them. */
export function fillValues(op: string, r: Raster, fill: FillArg | undefined): number[] {
  const f = fill ?? 0;
  const vals = typeof f === 'number' ? [f] : Array.isArray(f) ? [...f] : fail('ARGUMENT', op, `fill must be a number or an array of numbers; got ${describe(f)}`);
  if (vals.some((v) => typeof v !== 'number' || !Number.isFinite(v))) fail('ARGUMENT', op, `fill values must be finite numbers; got ${JSON.stringify(f)}`);
  if (vals.length !== 1 && vals.length !== r.c) fail('ARGUMENT', op, `fill needs 1 or ${r.c} (one per channel) values; got ${vals.length}`);
  const store = storeFor(r);
  return Array.from({ length: r.c }, (_, k) => store(vals.length === 1 ? vals[0] : vals[k]));
}

/**
 * @internal out[y][x] = src[rows[y]][cols[x]], or the channel's fill where rows[y] or
 * cols[x] is -1.
 */
export function remap(r: Raster, rows: Int32Array, cols: Int32Array, fill: number[]): ImageOrTensor {
  const oh = rows.length;
  const ow = cols.length;
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const [oN, oC, oY, oX] = rasterStrides(r.kind, r.c, oh, ow);
  const src = r.data;
  const out = allocLike(r, r.n * r.c * oh * ow);
  for (let n = 0; n < r.n; n++) {
    for (let ch = 0; ch < r.c; ch++) {
      const sb = n * sN + ch * sC;
      const ob = n * oN + ch * oC;
      const f = fill[ch];
      for (let y = 0; y < oh; y++) {
        const sy = rows[y];
        const orow = ob + y * oY;
        if (sy < 0) {
          for (let x = 0; x < ow; x++) out[orow + x * oX] = f;
          continue;
        }
        const srow = sb + sy * sY;
        for (let x = 0; x < ow; x++) {
          const sx = cols[x];
          out[orow + x * oX] = sx < 0 ? f : src[srow + sx * sX];
        }
      }
    }
  }
  return fromRaster(r, out, r.c, oh, ow);
}

/** @internal The source index of padded position j (j < 0 or j >= n lies in the padding); -1 for the fill. */
export function padIndex(j: number, n: number, mode: PaddingMode): number {
  if (j >= 0 && j < n) return j;
  switch (mode) {
    case 'constant':
      return -1;
    case 'edge':
      return j < 0 ? 0 : n - 1;
    case 'reflect': {
      // Mirror without repeating the edge: period 2(n - 1).
      if (n === 1) return 0;
      const p = 2 * (n - 1);
      const m = ((j % p) + p) % p;
      return m < n ? m : p - m;
    }
    case 'symmetric': {
      // Mirror repeating the edge: period 2n.
      const p = 2 * n;
      const m = ((j % p) + p) % p;
      return m < n ? m : p - 1 - m;
    }
    default:
      return fail('ARGUMENT', 'pad', `unknown padding mode '${String(mode)}'`, "use 'constant', 'edge', 'reflect' or 'symmetric'");
  }
}

/** @internal Source indices of `length` positions from `start` (padIndex of each). */
export function range(start: number, length: number, size: number, mode: PaddingMode = 'constant'): Int32Array {
  const idx = new Int32Array(length);
  for (let i = 0; i < length; i++) idx[i] = padIndex(start + i, size, mode);
  return idx;
}

// ------------------------------------------------------------------------------------------
// Arguments

/** @internal [height, width] of a size argument. */
export function parseSize(op: string, size: SizeArg, what = 'size'): [number, number] {
  const s = typeof size === 'number' ? [size, size] : Array.isArray(size) && size.length === 1 ? [size[0], size[0]] : Array.isArray(size) && size.length === 2 ? [size[0], size[1]] : null;
  if (!s || s.some((v) => !Number.isInteger(v) || v <= 0)) {
    fail('ARGUMENT', op, `${what} must be a positive integer or [height, width] of positive integers; got ${JSON.stringify(size)}`);
  }
  return s as [number, number];
}

/** @internal [left, top, right, bottom] of a padding argument. */
export function parsePadding(op: string, padding: PaddingArg): [number, number, number, number] {
  const p = typeof padding === 'number' ? [padding] : Array.isArray(padding) ? [...padding] : [];
  if (![1, 2, 4].includes(p.length) || p.some((v) => !Number.isInteger(v) || v < 0)) {
    fail('ARGUMENT', op, `padding must be a non-negative integer or an array of 1, 2 ([left/right, top/bottom]) or 4 ([left, top, right, bottom]) non-negative integers; got ${JSON.stringify(padding)}`);
  }
  if (p.length === 1) return [p[0], p[0], p[0], p[0]];
  if (p.length === 2) return [p[0], p[1], p[0], p[1]];
  return p as [number, number, number, number];
}

const PADDING_MODES: readonly PaddingMode[] = ['constant', 'edge', 'reflect', 'symmetric'];

/** @internal */
export function checkPaddingMode(op: string, mode: unknown): PaddingMode {
  if (!PADDING_MODES.includes(mode as PaddingMode)) fail('ARGUMENT', op, `paddingMode must be one of ${PADDING_MODES.map((m) => `'${m}'`).join(', ')}; got ${JSON.stringify(mode)}`);
  return mode as PaddingMode;
}

/** @internal One value per channel from a number or an array of 1 or C numbers. */
export function perChannel(op: string, name: string, v: number | readonly number[], c: number): Float64Array {
  const arr = typeof v === 'number' ? [v] : Array.isArray(v) ? v : fail('ARGUMENT', op, `${name} must be a number or an array of numbers; got ${describe(v)}`);
  if (arr.length !== 1 && arr.length !== c) fail('ARGUMENT', op, `${name} needs 1 or ${c} (one per channel) values; got ${arr.length}`);
  if (arr.some((x) => typeof x !== 'number' || !Number.isFinite(x))) fail('ARGUMENT', op, `${name} values must be finite numbers; got ${JSON.stringify(v)}`);
  return Float64Array.from({ length: c }, (_, k) => (arr.length === 1 ? arr[0] : arr[k]));
}
