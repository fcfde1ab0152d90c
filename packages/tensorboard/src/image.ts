/**
 * Images as torch.utils.tensorboard makes them: the tensor is brought to [H, W, C] (a batch is
 * tiled into a grid first), 1-channel images become RGB, values are scaled to bytes (uint8
 * tensors as they are; any other dtype times 255, in float32, clipped to [0, 255] and
 * truncated, as numpy's astype(uint8)) and the result is PNG-encoded with pngjs.
 */
import { DLError, Tensor } from '@dl/tensor';
import type { DType, TypedArray } from '@dl/tensor';
import { PNG } from 'pngjs';
import type { ColorType } from 'pngjs';
import type { ImageProto } from './proto.js';

/** The layout of one image: any order of C, H, W, or of H, W (gray). */
export type ImageFormat = 'CHW' | 'HWC' | 'HW' | 'CWH' | 'HCW' | 'WCH' | 'WHC' | 'WH';
/** The layout of a batch: any order of N, C, H, W (N first is usual). */
export type ImagesFormat = 'NCHW' | 'NHWC' | (string & {});

/** Images per row in a batch's grid (PyTorch's make_grid default for add_images). */
export const GRID_COLUMNS = 8;

interface Pixels {
  /** [H, W, C] values, still of the tensor's dtype. */
  data: TypedArray;
  h: number;
  w: number;
  c: number;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** The axis of each letter of `target` in `format`, after checking `format` is a permutation of `target` and fits `shape`. */
function axes(op: string, format: unknown, target: string, shape: readonly number[]): number[] {
  const what = target.length === 4 ? "a batch format such as 'NCHW' or 'NHWC'" : "'CHW', 'HWC' or 'HW'";
  if (typeof format !== 'string') throw new DLError('ARGUMENT', op, `dataformats must be a string; got ${typeof format}`, `pass ${what}`);
  const f = format.toUpperCase();
  const valid = [target, target.length === 3 ? 'HW' : ''].filter(Boolean);
  const letters = [...f].sort().join('');
  if (!valid.some((t) => [...t].sort().join('') === letters)) {
    throw new DLError('ARGUMENT', op, `dataformats must be an ordering of ${valid.map((t) => `'${t}'`).join(' or ')}; got '${format}'`, `pass ${what}`);
  }
  if (f.length !== shape.length) {
    let hint = `pass a ${f.length}-d tensor, or the dataformats of a ${shape.length}-d one`;
    if (target.length === 3 && shape.length === 3) hint = "for a [C, H, W] tensor pass 'CHW', for [H, W, C] pass 'HWC'";
    if (target.length === 3 && shape.length === 2) hint = "for a [H, W] tensor pass dataformats 'HW'";
    if (target.length === 3 && shape.length === 4) hint = 'for a batch [N, C, H, W] use addImages';
    throw new DLError('SHAPE', op, `dataformats '${format}' needs a ${f.length}-d tensor; got shape ${fmtShape(shape)}`, hint);
  }
  return [...(f.length === 2 ? 'HW' : target)].map((ch) => f.indexOf(ch));
}

function checkChannels(op: string, c: number, format: string, shape: readonly number[]): void {
  if (c === 1 || c === 3 || c === 4) return;
  let hint = 'images have 1 (gray), 3 (RGB) or 4 (RGBA) channels';
  const f = format.toUpperCase();
  if (shape.length === 3 && f === 'CHW' && [1, 3, 4].includes(shape[2])) hint = `the last dim looks like channels: pass dataformats 'HWC'`;
  if (shape.length === 3 && f === 'HWC' && [1, 3, 4].includes(shape[0])) hint = `the first dim looks like channels: pass dataformats 'CHW'`;
  if (shape.length === 4 && f === 'NCHW' && [1, 3, 4].includes(shape[3])) hint = `the last dim looks like channels: pass dataformats 'NHWC'`;
  if (shape.length === 4 && f === 'NHWC' && [1, 3, 4].includes(shape[1])) hint = `dim 1 looks like channels: pass dataformats 'NCHW'`;
  throw new DLError('SHAPE', op, `expected 1, 3 or 4 channels with dataformats '${format}'; got ${c} channels (shape ${fmtShape(shape)})`, hint);
}

function tensorData(op: string, img: unknown): { data: TypedArray; shape: readonly number[]; dtype: DType } {
  if (!(img instanceof Tensor)) throw new DLError('ARGUMENT', op, `expected an image tensor; got ${img === null ? 'null' : typeof img}`, 'pass a Tensor, e.g. tensor(values, { shape: [3, H, W] })');
  if (img.numel === 0) throw new DLError('SHAPE', op, `the image is empty; got shape ${fmtShape(img.shape)}`);
  return { data: img.dataSync(), shape: img.shape, dtype: img.dtype };
}

/** One image tensor in `dataformats` as [H, W, C] pixels (1 channel repeated to 3). */
export function imagePixels(op: string, img: unknown, dataformats: unknown): Pixels & { dtype: DType } {
  const { data, shape, dtype } = tensorData(op, img);
  const ax = axes(op, dataformats, 'HWC', shape);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const h = shape[ax[0]];
  const w = shape[ax[1]];
  const c = ax.length === 3 ? shape[ax[2]] : 1;
  checkChannels(op, c, dataformats as string, shape);
  const sh = strides[ax[0]];
  const sw = strides[ax[1]];
  const sc = ax.length === 3 ? strides[ax[2]] : 0;
  const outC = c === 1 ? 3 : c;
  const out = new (data.constructor as new (n: number) => TypedArray)(h * w * outC);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < outC; k++) out[(y * w + x) * outC + k] = data[y * sh + x * sw + (c === 1 ? 0 : k) * sc];
    }
  }
  return { data: out, h, w, c: outC, dtype };
}

/**
 * A batch in `dataformats` (an ordering of NCHW) as one [H', W', C] grid: min(N, 8) images per
 * row, rows = ceil(N / columns), no padding, zeros where a row is not full (PyTorch's
 * torch.utils.tensorboard make_grid; not torchvision's, which pads).
 */
export function gridPixels(op: string, imgs: unknown, dataformats: unknown): Pixels & { dtype: DType } {
  const { data, shape, dtype } = tensorData(op, imgs);
  const ax = axes(op, dataformats, 'NCHW', shape);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const [n, c, h, w] = ax.map((a) => shape[a]);
  checkChannels(op, c, dataformats as string, shape);
  const [sn, sc, sh, sw] = ax.map((a) => strides[a]);
  const cols = Math.min(n, GRID_COLUMNS);
  const rows = Math.ceil(n / cols);
  const gh = rows * h;
  const gw = cols * w;
  const outC = c === 1 ? 3 : c;
  const out = new (data.constructor as new (n: number) => TypedArray)(gh * gw * outC);
  for (let i = 0; i < n; i++) {
    const y0 = Math.floor(i / cols) * h;
    const x0 = (i % cols) * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = ((y0 + y) * gw + x0 + x) * outC;
        for (let k = 0; k < outC; k++) out[o + k] = data[i * sn + y * sh + x * sw + (c === 1 ? 0 : k) * sc];
      }
    }
  }
  return { data: out, h: gh, w: gw, c: outC, dtype };
}

/** Bytes of the pixels: uint8 as they are, anything else ×255 in float32, clipped to [0, 255], truncated. */
export function toBytes(data: TypedArray, dtype: DType): Uint8Array {
  if (dtype === 'uint8') return data instanceof Uint8Array ? data : Uint8Array.from(data);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Math.fround(Math.fround(data[i]) * 255);
    // NaN becomes 0 (numpy leaves it undefined); the clip makes the truncation safe.
    out[i] = v > 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
  }
  return out;
}

/** PNG bytes of [H, W, C] bytes with C = 3 (RGB) or 4 (RGBA). */
export function encodePng(bytes: Uint8Array, h: number, w: number, c: number): Uint8Array {
  const png = new PNG({ width: w, height: h });
  const rgba = png.data;
  for (let p = 0; p < h * w; p++) {
    rgba[p * 4] = bytes[p * c];
    rgba[p * 4 + 1] = bytes[p * c + 1];
    rgba[p * 4 + 2] = bytes[p * c + 2];
    rgba[p * 4 + 3] = c === 4 ? bytes[p * c + 3] : 255;
  }
  const colorType: ColorType = c === 4 ? 6 : 2;
  const out = PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The Summary.Image of [H, W, C] pixels. */
export function makeImage(p: Pixels & { dtype: DType }): ImageProto {
  const bytes = toBytes(p.data, p.dtype);
  return { height: p.h, width: p.w, colorspace: p.c, encodedImageString: encodePng(bytes, p.h, p.w, p.c) };
}
