/**
 * torchvision.utils: makeGrid (a batch of images tiled into one image tensor) and saveImage
 * (a tensor, batch or image written as a PNG file).
 */
import { extname } from 'node:path';
import { Tensor, stack, tensor } from '@dl/tensor';
import type { TypedArray } from '@dl/tensor';
import { fail } from './errors.js';
import { isImage, writePng } from './io/image.js';
import type { Image } from './io/image.js';

export interface MakeGridOptions {
  /** Images per row (default 8). */
  nrow?: number;
  /** Pixels of padding around and between images (default 2). */
  padding?: number;
  /** Scale values to [0, 1]: by the min and max of the whole batch, of each image (scaleEach), or of valueRange. */
  normalize?: boolean;
  /** [min, max] for normalize (values are clamped to it first). */
  valueRange?: readonly [number, number];
  /** With normalize: each image by its own min and max. */
  scaleEach?: boolean;
  /** The value of the padding (default 0). */
  padValue?: number;
}

function asBatch(op: string, input: Tensor | readonly Tensor[]): { data: TypedArray; n: number; c: number; h: number; w: number; dtype: Tensor['dtype'] } {
  let t: Tensor;
  let owned = false;
  if (Array.isArray(input)) {
    if (input.length === 0) fail('ARGUMENT', op, 'expected a non-empty array of tensors');
    t = stack(input as Tensor[], 0);
    owned = true;
  } else if (input instanceof Tensor) {
    t = input;
  } else {
    return fail('ARGUMENT', op, `expected a tensor [N, C, H, W], [C, H, W] or [H, W], or an array of [C, H, W] tensors; got ${typeof input}`);
  }
  if (t.dtype === 'bool') fail('DTYPE', op, 'expected a float or integer tensor; got bool');
  let shape = [...t.shape];
  if (shape.length === 2) shape = [1, 1, ...shape];
  else if (shape.length === 3) shape = [1, ...shape];
  else if (shape.length !== 4) fail('SHAPE', op, `expected a tensor [N, C, H, W], [C, H, W] or [H, W]; got shape [${t.shape.join(', ')}]`);
  const data = t.dataSync();
  const dtype = t.dtype;
  if (owned) t.dispose();
  let [n, c, h, w] = shape;
  let values = data;
  if (c === 1) {
    // Gray images become 3 equal channels (as torchvision).
    const out = new (data.constructor as new (n: number) => TypedArray)(n * 3 * h * w);
    for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) out.set(data.subarray(i * h * w, (i + 1) * h * w), (i * 3 + k) * h * w);
    values = out;
    c = 3;
  }
  return { data: values, n, c, h, w, dtype };
}

/**
 * Tile a batch [N, C, H, W] into one image tensor [C, H', W'] (torchvision.utils.make_grid):
 * min(nrow, N) images per row, `padding` pixels of `padValue` around and between them, so
 * H' = rows * (H + padding) + padding and W' = min(nrow, N) * (W + padding) + padding.
 * Image k sits at row floor(k / nrow), column k % nrow. A single image is returned without
 * padding; 1-channel images become 3 channels. The dtype is kept.
 */
export function makeGrid(input: Tensor | readonly Tensor[], opts: MakeGridOptions = {}): Tensor {
  const op = 'makeGrid';
  const nrow = opts.nrow ?? 8;
  const padding = opts.padding ?? 2;
  const padValue = opts.padValue ?? 0;
  if (!Number.isInteger(nrow) || nrow < 1) fail('ARGUMENT', op, `nrow must be a positive integer; got ${nrow}`);
  if (!Number.isInteger(padding) || padding < 0) fail('ARGUMENT', op, `padding must be a non-negative integer; got ${padding}`);
  const b = asBatch(op, input);
  let data = b.data;
  const { n, c, h, w, dtype } = b;
  if (opts.normalize) {
    if (dtype !== 'float32' && dtype !== 'float64') fail('DTYPE', op, `normalize needs a float tensor; got ${dtype}`, "convert first, e.g. x.to('float32')");
    if (opts.valueRange !== undefined && (!Array.isArray(opts.valueRange) || opts.valueRange.length !== 2)) fail('ARGUMENT', op, `valueRange must be [min, max]; got ${JSON.stringify(opts.valueRange)}`);
    data = data.slice();
    const size = c * h * w;
    const groups = opts.scaleEach ? n : 1;
    const per = opts.scaleEach ? size : n * size;
    for (let g = 0; g < groups; g++) {
      const start = g * per;
      let lo: number;
      let hi: number;
      if (opts.valueRange) [lo, hi] = opts.valueRange;
      else {
        lo = Infinity;
        hi = -Infinity;
        for (let i = start; i < start + per; i++) {
          if (data[i] < lo) lo = data[i];
          if (data[i] > hi) hi = data[i];
        }
      }
      const scale = 1 / Math.max(hi - lo, 1e-5);
      for (let i = start; i < start + per; i++) {
        const v = Math.min(Math.max(data[i], lo), hi);
        data[i] = (v - lo) * scale;
      }
    }
  }
  if (n === 1) return tensor(data === b.data ? data.slice() : data, { shape: [c, h, w], dtype, copy: false });
  const xmaps = Math.min(nrow, n);
  const ymaps = Math.ceil(n / xmaps);
  const cellH = h + padding;
  const cellW = w + padding;
  const gh = cellH * ymaps + padding;
  const gw = cellW * xmaps + padding;
  const grid = new (data.constructor as new (n: number) => TypedArray)(c * gh * gw);
  if (padValue !== 0) grid.fill(padValue);
  for (let k = 0; k < n; k++) {
    const y0 = Math.floor(k / xmaps) * cellH + padding;
    const x0 = (k % xmaps) * cellW + padding;
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        const src = ((k * c + ch) * h + y) * w;
        grid.set(data.subarray(src, src + w), (ch * gh + y0 + y) * gw + x0);
      }
    }
  }
  return tensor(grid, { shape: [c, gh, gw], dtype, copy: false });
}

/**
 * Write a tensor (a batch [N, C, H, W] is tiled with makeGrid first; or one image [C, H, W])
 * or an io.Image as a PNG file, atomically. Float values are taken to be in [0, 1] and stored
 * as round(v * 255) clamped to [0, 255] (torchvision.utils.save_image); uint8 as they are.
 */
export function saveImage(input: Tensor | readonly Tensor[] | Image, path: string, opts: MakeGridOptions = {}): void {
  const op = 'saveImage';
  if (typeof path !== 'string' || path === '') fail('ARGUMENT', op, `path must be a file path; got ${JSON.stringify(path)}`);
  const ext = extname(path).toLowerCase();
  if (ext !== '.png') fail('ARGUMENT', op, `only PNG files can be written; got ${JSON.stringify(path)}`, 'use a path ending in .png');
  if (isImage(input)) {
    writePng(path, input);
    return;
  }
  const grid = makeGrid(input as Tensor | readonly Tensor[], opts);
  const [c, h, w] = grid.shape;
  if (c !== 1 && c !== 3 && c !== 4) fail('SHAPE', op, `expected 1, 3 or 4 channels; got ${c}`);
  const src = grid.dataSync();
  const isFloat = grid.dtype === 'float32' || grid.dtype === 'float64';
  grid.dispose();
  const out = new Uint8Array(h * w * c);
  const hw = h * w;
  for (let k = 0; k < c; k++) {
    for (let p = 0; p < hw; p++) {
      const v = isFloat ? Math.floor(src[k * hw + p] * 255 + 0.5) : src[k * hw + p];
      out[p * c + k] = Math.min(Math.max(v, 0), 255);
    }
  }
  writePng(path, { data: out, height: h, width: w, channels: c });
}
