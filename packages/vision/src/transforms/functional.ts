/**
 * The functional transforms (torchvision.transforms.functional): deterministic image
 * operations that the random transforms are built from. Each accepts an image object
 * (uint8 HWC, see io.Image) or a tensor [..., C, H, W] (any leading batch dims, or [H, W]) and
 * returns the same kind: images stay images, tensors stay tensors of the same dtype.
 *
 * They work on the values as typed arrays ("rasters") with one index formula for both layouts,
 * so a geometric op is one pass that maps each output row/column to a source row/column.
 */
import { Tensor, tensor } from '@dl/tensor';
import { fail } from '../errors.js';
import { isImage } from '../io/image.js';
import type { Image } from '../io/image.js';
import { allocLike, checkPaddingMode, describe, fillValues, fromRaster, parsePadding, parseSize, perChannel, range, rasterStrides, remap, storeFor, toRaster } from './raster.js';
import type { FillArg, ImageOrTensor, PaddingArg, PaddingMode, Raster, SizeArg } from './raster.js';
import type { TypedArray } from '@dl/tensor';

export type { FillArg, ImageOrTensor, PaddingArg, PaddingMode, SizeArg } from './raster.js';

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// ------------------------------------------------------------------------------------------
// Geometry

/** [channels, height, width] of an image or tensor. */
export function getDimensions(x: ImageOrTensor): [number, number, number] {
  const r = toRaster('getDimensions', x);
  return [r.c, r.h, r.w];
}

/** The region at (top, left) of the given size; parts outside the input are filled with 0 (as torchvision). */
export function crop(x: ImageOrTensor, top: number, left: number, height: number, width: number): ImageOrTensor {
  const op = 'crop';
  const r = toRaster(op, x);
  for (const [n, v] of [['top', top], ['left', left]] as const) if (!Number.isInteger(v)) fail('ARGUMENT', op, `${n} must be an integer; got ${v}`);
  for (const [n, v] of [['height', height], ['width', width]] as const) if (!Number.isInteger(v) || v < 0) fail('ARGUMENT', op, `${n} must be a non-negative integer; got ${v}`);
  return remap(r, range(top, height, r.h), range(left, width, r.w), fillValues(op, r, 0));
}

/** Pad the borders (torchvision's F.pad; padding is [left, top, right, bottom] or shorter forms). */
export function pad(x: ImageOrTensor, padding: PaddingArg, fill: FillArg = 0, paddingMode: PaddingMode = 'constant'): ImageOrTensor {
  const op = 'pad';
  const r = toRaster(op, x);
  const [l, t, rt, b] = parsePadding(op, padding);
  const mode = checkPaddingMode(op, paddingMode);
  if (mode !== 'constant' && (r.h === 0 || r.w === 0)) fail('SHAPE', op, `cannot pad an empty image (${r.h}x${r.w}) with mode '${mode}'`);
  return remap(r, range(-t, r.h + t + b, r.h, mode), range(-l, r.w + l + rt, r.w, mode), fillValues(op, r, fill));
}

/** Mirror left-right. */
export function hflip(x: ImageOrTensor): ImageOrTensor {
  const r = toRaster('hflip', x);
  const cols = new Int32Array(r.w);
  for (let i = 0; i < r.w; i++) cols[i] = r.w - 1 - i;
  return remap(r, range(0, r.h, r.h), cols, fillValues('hflip', r, 0));
}

/** Mirror top-bottom. */
export function vflip(x: ImageOrTensor): ImageOrTensor {
  const r = toRaster('vflip', x);
  const rows = new Int32Array(r.h);
  for (let i = 0; i < r.h; i++) rows[i] = r.h - 1 - i;
  return remap(r, rows, range(0, r.w, r.w), fillValues('vflip', r, 0));
}

/** Crop the center (torchvision's F.center_crop: pads with 0 first when the crop is larger than the input). */
export function centerCrop(x: ImageOrTensor, size: SizeArg): ImageOrTensor {
  const op = 'centerCrop';
  const [th, tw] = parseSize(op, size);
  let r = toRaster(op, x);
  let src: ImageOrTensor = x;
  if (tw > r.w || th > r.h) {
    const padL = tw > r.w ? Math.floor((tw - r.w) / 2) : 0;
    const padT = th > r.h ? Math.floor((th - r.h) / 2) : 0;
    const padR = tw > r.w ? Math.floor((tw - r.w + 1) / 2) : 0;
    const padB = th > r.h ? Math.floor((th - r.h + 1) / 2) : 0;
    src = pad(x, [padL, padT, padR, padB], 0);
    r = toRaster(op, src);
    if (r.w === tw && r.h === th) return src;
  }
  const top = roundHalfEven((r.h - th) / 2);
  const left = roundHalfEven((r.w - tw) / 2);
  return remap(r, range(top, th, r.h), range(left, tw, r.w), fillValues(op, r, 0));
}

/** Output [height, width] of resize (torchvision's rule: a single number sets the shorter edge). */
export function resizedSize(height: number, width: number, size: SizeArg, maxSize?: number): [number, number] {
  const op = 'resize';
  if (typeof size !== 'number' && !(Array.isArray(size) && size.length === 1)) {
    if (maxSize !== undefined) fail('ARGUMENT', op, `maxSize is only allowed when size is a single number; got size ${JSON.stringify(size)}`);
    return parseSize(op, size);
  }
  const s = parseSize(op, size)[0];
  const [short, long] = width <= height ? [width, height] : [height, width];
  let newShort = s;
  let newLong = Math.floor((s * long) / short);
  if (maxSize !== undefined) {
    if (!Number.isInteger(maxSize) || maxSize <= s) fail('ARGUMENT', op, `maxSize must be an integer larger than size (${s}); got ${maxSize}`);
    if (newLong > maxSize) {
      newShort = Math.floor((maxSize * newShort) / newLong);
      newLong = maxSize;
    }
  }
  return width <= height ? [newLong, newShort] : [newShort, newLong];
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  maxTaps: number;
}

/**
 * Weights of the separable bilinear (triangle) filter with half-pixel centers. With
 * antialias the filter widens by the downscale factor (PIL's and torch's antialiased
 * bilinear); without, it is plain bilinear interpolation (align_corners=False).
 */
function taps(inSize: number, outSize: number, antialias: boolean): Taps {
  const scale = inSize / outSize;
  const ss = antialias ? Math.max(scale, 1) : 1;
  const support = ss;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    let k = 0;
    for (let x = lo; x < hi && k < maxTaps; x++, k++) {
      const t = Math.abs((x - center + 0.5) / ss);
      const wgt = t < 1 ? 1 - t : 0;
      weights[i * maxTaps + k] = wgt;
      total += wgt;
    }
    if (total > 0) for (let j = 0; j < k; j++) weights[i * maxTaps + j] /= total;
    start[i] = lo;
    count[i] = k;
  }
  return { start, count, weights, maxTaps };
}

export interface ResizeOptions {
  /** Widen the filter when downscaling (default true, as torchvision and PIL). */
  antialias?: boolean;
  /** With a single-number size: the longer edge's limit. */
  maxSize?: number;
}

/** Resize with bilinear interpolation (torchvision's F.resize; uint8 results are rounded). */
export function resize(x: ImageOrTensor, size: SizeArg, opts: ResizeOptions = {}): ImageOrTensor {
  const op = 'resize';
  const r = toRaster(op, x);
  const [oh, ow] = resizedSize(r.h, r.w, size, opts.maxSize);
  if (oh === r.h && ow === r.w) return x instanceof Tensor ? x.clone() : { ...x, data: (x as Image).data.slice() };
  if (r.h === 0 || r.w === 0) fail('SHAPE', op, `cannot resize an empty image (${r.h}x${r.w})`);
  const antialias = opts.antialias ?? true;
  const tx = taps(r.w, ow, antialias);
  const ty = taps(r.h, oh, antialias);
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const [oN, oC, oY, oX] = rasterStrides(r.kind, r.c, oh, ow);
  const store = storeFor(r);
  const src = r.data;
  const out = allocLike(r, r.n * r.c * oh * ow);
  const tmp = new Float64Array(r.h * ow);
  for (let n = 0; n < r.n; n++) {
    for (let ch = 0; ch < r.c; ch++) {
      const base = n * sN + ch * sC;
      // Horizontal pass into tmp [h, ow].
      for (let y = 0; y < r.h; y++) {
        const row = base + y * sY;
        for (let x = 0; x < ow; x++) {
          const s = tx.start[x];
          const wo = x * tx.maxTaps;
          let acc = 0;
          for (let k = 0; k < tx.count[x]; k++) acc += tx.weights[wo + k] * src[row + (s + k) * sX];
          tmp[y * ow + x] = acc;
        }
      }
      // Vertical pass into the output.
      const ob = n * oN + ch * oC;
      for (let y = 0; y < oh; y++) {
        const s = ty.start[y];
        const wo = y * ty.maxTaps;
        for (let x = 0; x < ow; x++) {
          let acc = 0;
          for (let k = 0; k < ty.count[y]; k++) acc += ty.weights[wo + k] * tmp[(s + k) * ow + x];
          out[ob + y * oY + x * oX] = store(acc);
        }
      }
    }
  }
  return fromRaster(r, out, r.c, oh, ow);
}

/** Crop then resize to `size` ([height, width] or a square side). */
export function resizedCrop(x: ImageOrTensor, top: number, left: number, height: number, width: number, size: SizeArg, opts: ResizeOptions = {}): ImageOrTensor {
  const [h, w] = parseSize('resizedCrop', size);
  return resize(crop(x, top, left, height, width), [h, w], { antialias: opts.antialias });
}

// ------------------------------------------------------------------------------------------
// Tensor conversion and normalisation

/** A float32 tensor [C, H, W] in [0, 1] from an image (torchvision's to_tensor). */
export function toTensor(img: Image): Tensor {
  if (!isImage(img)) {
    if ((img as unknown) instanceof Tensor) fail('ARGUMENT', 'toTensor', 'the input is already a Tensor', "use x.to('float32').div(255) for a uint8 tensor, or drop ToTensor from the pipeline");
    fail('ARGUMENT', 'toTensor', `expected an image ({ data: Uint8Array, height, width, channels }); got ${describe(img)}`);
  }
  const { height: h, width: w, channels: c, data } = img;
  const hw = h * w;
  const out = new Float32Array(c * hw);
  for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) out[k * hw + p] = data[p * c + k] / 255;
  return tensor(out, { shape: [c, h, w], dtype: 'float32', copy: false });
}

/** (x - mean) / std per channel, for float tensors [..., C, H, W] (torchvision's F.normalize). */
export function normalize(x: Tensor, mean: number | readonly number[], std: number | readonly number[]): Tensor {
  const op = 'normalize';
  if (!(x instanceof Tensor)) fail('ARGUMENT', op, `expected a Tensor; got ${describe(x)}`, 'apply ToTensor() before Normalize');
  if (x.dtype !== 'float32' && x.dtype !== 'float64') fail('DTYPE', op, `expected a float tensor; got ${x.dtype}`, 'apply ToTensor() first, or x.to(\'float32\').div(255)');
  if (x.ndim < 3) fail('SHAPE', op, `expected a tensor [..., C, H, W]; got shape [${x.shape.join(', ')}]`);
  const r = toRaster(op, x);
  const m = perChannel(op, 'mean', mean, r.c);
  const s = perChannel(op, 'std', std, r.c);
  const zero = s.indexOf(0);
  if (zero >= 0) fail('VALUE', op, `std evaluated to zero (channel ${zero}), leading to division by zero`);
  const out = allocLike(r, r.data.length);
  const plane = r.h * r.w;
  for (let n = 0; n < r.n; n++) {
    for (let k = 0; k < r.c; k++) {
      const base = (n * r.c + k) * plane;
      const mk = m[k];
      const inv = 1 / s[k];
      for (let p = 0; p < plane; p++) out[base + p] = (r.data[base + p] - mk) * inv;
    }
  }
  return fromRaster(r, out, r.c, r.h, r.w) as Tensor;
}

/**
 * The tensor with the region [i, i+h) x [j, j+w) set to v (a number, one per channel, or a
 * tensor/array of C*h*w values) (torchvision's F.erase; returns a new tensor).
 */
export function erase(x: Tensor, i: number, j: number, h: number, w: number, v: number | readonly number[] | Tensor | Float32Array): Tensor {
  const op = 'erase';
  if (!(x instanceof Tensor)) fail('ARGUMENT', op, `expected a Tensor; got ${describe(x)}`, 'erasing works on tensors: apply ToTensor() first');
  const r = toRaster(op, x);
  if (!(i >= 0 && j >= 0 && h >= 0 && w >= 0 && i + h <= r.h && j + w <= r.w)) fail('ARGUMENT', op, `the region (i=${i}, j=${j}, h=${h}, w=${w}) does not fit in ${r.h}x${r.w}`);
  const values = v instanceof Tensor ? v.dataSync() : v;
  const full = typeof values !== 'number' && values.length === r.c * h * w && values.length !== r.c;
  const perC = full ? null : perChannel(op, 'value', Array.isArray(values) || typeof values === 'number' ? (values as number | number[]) : Array.from(values as ArrayLike<number>), r.c);
  const out = r.data.slice();
  const store = storeFor(r);
  const plane = r.h * r.w;
  for (let n = 0; n < r.n; n++) {
    for (let k = 0; k < r.c; k++) {
      const base = (n * r.c + k) * plane;
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          const val = perC ? perC[k] : (values as ArrayLike<number>)[(k * h + y) * w + xx];
          out[base + (i + y) * r.w + j + xx] = store(val);
        }
      }
    }
  }
  return fromRaster(r, out, r.c, r.h, r.w) as Tensor;
}

// ------------------------------------------------------------------------------------------
// Colour

/**
 * How colour results are stored, following each kind's reference: images round (PIL),
 * uint8 tensors truncate after clamping (torchvision's tensor kernels), floats clamp to [0, 1].
 */
function colorStore(op: string, r: Raster): { bound: number; store: (v: number) => number } {
  if (r.kind === 'image') return { bound: 255, store: (v) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v)) };
  if (r.dtype === 'uint8') return { bound: 255, store: (v) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v)) };
  if (r.dtype === 'float32' || r.dtype === 'float64') return { bound: 1, store: (v) => Math.min(Math.max(v, 0), 1) };
  return fail('DTYPE', op, `expected an image, a uint8 tensor or a float tensor; got ${r.dtype}`);
}

/** Gray value of a pixel as each kind computes it (PIL's rounded luma for images, truncated for uint8 tensors). */
function grayFn(r: Raster): (rv: number, gv: number, bv: number) => number {
  if (r.kind === 'image') return (rv, gv, bv) => (rv * 19595 + gv * 38470 + bv * 7471 + 0x8000) >> 16;
  if (r.dtype === 'uint8') return (rv, gv, bv) => Math.trunc(0.2989 * rv + 0.587 * gv + 0.114 * bv);
  return (rv, gv, bv) => 0.2989 * rv + 0.587 * gv + 0.114 * bv;
}

function checkChannels(op: string, r: Raster, allowed: number[]): void {
  if (!allowed.includes(r.c)) fail('SHAPE', op, `expected ${allowed.join(' or ')} channels; got ${r.c}`);
}

/** Gray version (ITU-R 601-2 luma), with 1 or 3 equal output channels (torchvision's rgb_to_grayscale). */
export function rgbToGrayscale(x: ImageOrTensor, numOutputChannels: 1 | 3 = 1): ImageOrTensor {
  const op = 'rgbToGrayscale';
  const r = toRaster(op, x);
  checkChannels(op, r, [1, 3]);
  if (numOutputChannels !== 1 && numOutputChannels !== 3) fail('ARGUMENT', op, `numOutputChannels must be 1 or 3; got ${numOutputChannels}`);
  const gray = grayFn(r);
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const oc = numOutputChannels;
  const [oN, oC, oY, oX] = rasterStrides(r.kind, oc, r.h, r.w);
  const out = allocLike(r, r.n * oc * r.h * r.w);
  for (let n = 0; n < r.n; n++) {
    for (let y = 0; y < r.h; y++) {
      for (let xx = 0; xx < r.w; xx++) {
        const s = n * sN + y * sY + xx * sX;
        const g = r.c === 1 ? r.data[s] : gray(r.data[s], r.data[s + sC], r.data[s + 2 * sC]);
        for (let k = 0; k < oc; k++) out[n * oN + k * oC + y * oY + xx * oX] = g;
      }
    }
  }
  return fromRaster(r, out, oc, r.h, r.w);
}

/**
 * The arithmetic of torchvision's tensor kernels for a raster: float32 (uint8 and int32 are
 * computed in float32 too), float64 as is. Images keep float64 (their reference, PIL, differs anyway).
 */
function arith(r: Raster): (v: number) => number {
  return r.kind === 'tensor' && r.dtype !== 'float64' ? Math.fround : (v) => v;
}

/**
 * ratio * x + (1 - ratio) * other, clamped and stored per kind; `other(r, n, s, sC)` is one
 * value per pixel (s: the pixel's offset), or `otherAt(i)` one per element (i: its offset).
 */
function blend(op: string, x: ImageOrTensor, ratio: number, other: ((r: Raster, n: number, s: number, sC: number) => number) | { otherAt: (i: number) => number }, channels: number[] = [1, 3]): ImageOrTensor {
  const r = toRaster(op, x);
  checkChannels(op, r, channels);
  const { bound, store } = colorStore(op, r);
  const f = arith(r);
  const a = f(ratio);
  const b = f(1 - ratio);
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const out = allocLike(r, r.data.length);
  for (let n = 0; n < r.n; n++) {
    for (let y = 0; y < r.h; y++) {
      for (let xx = 0; xx < r.w; xx++) {
        const s = n * sN + y * sY + xx * sX;
        const o = typeof other === 'function' ? other(r, n, s, sC) : 0;
        for (let k = 0; k < r.c; k++) {
          const i = s + k * sC;
          const v = f(f(a * r.data[i]) + f(b * (typeof other === 'function' ? o : other.otherAt(i))));
          out[i] = store(Math.min(Math.max(v, 0), bound));
        }
      }
    }
  }
  return fromRaster(r, out, r.c, r.h, r.w);
}

function checkFactor(op: string, name: string, f: number): void {
  if (typeof f !== 'number' || !(f >= 0) || !Number.isFinite(f)) fail('ARGUMENT', op, `${name} must be a non-negative number; got ${f}`);
}

/** Brightness: factor 0 gives black, 1 the original, 2 twice as bright. */
export function adjustBrightness(x: ImageOrTensor, factor: number): ImageOrTensor {
  checkFactor('adjustBrightness', 'brightnessFactor', factor);
  return blend('adjustBrightness', x, factor, () => 0, [1, 2, 3, 4]);
}

/** Contrast: blend with the mean gray value (factor 0 gives a solid gray image). */
export function adjustContrast(x: ImageOrTensor, factor: number): ImageOrTensor {
  const op = 'adjustContrast';
  checkFactor(op, 'contrastFactor', factor);
  const r = toRaster(op, x);
  checkChannels(op, r, [1, 3]);
  const gray = grayFn(r);
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const means = new Float64Array(r.n);
  for (let n = 0; n < r.n; n++) {
    let sum = 0;
    for (let y = 0; y < r.h; y++) {
      for (let xx = 0; xx < r.w; xx++) {
        const s = n * sN + y * sY + xx * sX;
        sum += r.c === 1 ? r.data[s] : gray(r.data[s], r.data[s + sC], r.data[s + 2 * sC]);
      }
    }
    const m = sum / Math.max(1, r.h * r.w);
    means[n] = r.kind === 'image' ? Math.floor(m + 0.5) : m;
  }
  return blend(op, x, factor, (_r, n) => means[n]);
}

/** Saturation: blend with the gray version (factor 0 gives gray, 1 the original). */
export function adjustSaturation(x: ImageOrTensor, factor: number): ImageOrTensor {
  const op = 'adjustSaturation';
  checkFactor(op, 'saturationFactor', factor);
  const r = toRaster(op, x);
  if (r.c === 1) return x instanceof Tensor ? x.clone() : { ...x, data: (x as Image).data.slice() };
  const gray = grayFn(r);
  return blend(op, x, factor, (rr, _n, s, sC) => gray(rr.data[s], rr.data[s + sC], rr.data[s + 2 * sC]), [3]);
}

/** Hue: rotate the hue by hueFactor (in [-0.5, 0.5], a fraction of the colour circle) in HSV space. */
export function adjustHue(x: ImageOrTensor, hueFactor: number): ImageOrTensor {
  const op = 'adjustHue';
  if (typeof hueFactor !== 'number' || !(hueFactor >= -0.5 && hueFactor <= 0.5)) fail('ARGUMENT', op, `hueFactor must be in [-0.5, 0.5]; got ${hueFactor}`);
  const r = toRaster(op, x);
  checkChannels(op, r, [1, 3]);
  if (r.c === 1) return x instanceof Tensor ? x.clone() : { ...x, data: (x as Image).data.slice() };
  colorStore(op, r);
  const isFloat = r.dtype === 'float32' || r.dtype === 'float64';
  const scale = isFloat ? 1 : 255;
  // uint8 back-conversion as each reference does it: PIL rounds, torchvision's convert_image_dtype truncates v * 255.999.
  const back = r.kind === 'image' ? (v: number) => Math.round(v * 255) : isFloat ? (v: number) => v : (v: number) => Math.trunc(v * 255.999);
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const out = allocLike(r, r.data.length);
  for (let n = 0; n < r.n; n++) {
    for (let y = 0; y < r.h; y++) {
      for (let xx = 0; xx < r.w; xx++) {
        const s = n * sN + y * sY + xx * sX;
        const rv = r.data[s] / scale;
        const gv = r.data[s + sC] / scale;
        const bv = r.data[s + 2 * sC] / scale;
        // rgb -> hsv (torchvision's _rgb2hsv)
        const maxc = Math.max(rv, gv, bv);
        const minc = Math.min(rv, gv, bv);
        const eq = maxc === minc;
        const cr = maxc - minc;
        const sat = cr / (eq ? 1 : maxc);
        const div = eq ? 1 : cr;
        const rc = (maxc - rv) / div;
        const gc = (maxc - gv) / div;
        const bc = (maxc - bv) / div;
        let h = maxc === rv ? bc - gc : maxc === gv ? 2 + rc - bc : 4 + gc - rc;
        h = (((h / 6 + 1) % 1) + hueFactor) % 1;
        if (h < 0) h += 1;
        // hsv -> rgb (torchvision's _hsv2rgb)
        const i6 = Math.floor(h * 6);
        const f = h * 6 - i6;
        const i = ((i6 % 6) + 6) % 6;
        const v = maxc;
        const clamp01 = (z: number) => Math.min(Math.max(z, 0), 1);
        const p = clamp01(v * (1 - sat));
        const q = clamp01(v * (1 - sat * f));
        const t = clamp01(v * (1 - sat * (1 - f)));
        const R = [v, q, p, p, t, v][i];
        const G = [t, v, v, q, p, p][i];
        const B = [p, p, t, v, v, q][i];
        out[s] = back(R);
        out[s + sC] = back(G);
        out[s + 2 * sC] = back(B);
      }
    }
  }
  return fromRaster(r, out, r.c, r.h, r.w);
}

/** Round half to even and clamp, as torchvision stores a float result in an integer tensor (torch.round, then the cast). */
function storeRounded(r: Raster): (v: number) => number {
  if (r.dtype === 'uint8') return (v) => (v <= 0 ? 0 : v >= 255 ? 255 : roundHalfEven(v));
  if (r.dtype === 'int32') return (v) => roundHalfEven(v);
  return (v) => v;
}

/** The largest value of an image kind: 1 for floats, 255 for images and integer tensors (torchvision's bound). */
function boundOf(r: Raster): number {
  return r.dtype === 'float32' || r.dtype === 'float64' ? 1 : 255;
}

function checkUint8(op: string, r: Raster): void {
  if (r.dtype !== 'uint8') fail('DTYPE', op, `only uint8 images are supported (as torchvision); got ${r.dtype}`, "convert first, e.g. x.mul(255).to('uint8') for a float tensor in [0, 1]");
}

// ------------------------------------------------------------------------------------------
// Affine warps (torchvision's tensor path: an inverse affine matrix, a sampling grid, grid_sample)

export type InterpolationMode = 'nearest' | 'bilinear';

function checkInterpolation(op: string, mode: unknown): InterpolationMode {
  if (mode !== 'nearest' && mode !== 'bilinear') fail('ARGUMENT', op, `interpolation must be 'nearest' or 'bilinear'; got ${JSON.stringify(mode)}`, 'tensors support only these two modes, as in torchvision');
  return mode;
}

function checkFinite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail('ARGUMENT', op, `${name} must be a finite number; got ${JSON.stringify(v)}`);
  return v;
}

function checkPair(op: string, name: string, v: unknown, what = '[x, y]'): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || v.some((e) => typeof e !== 'number' || !Number.isFinite(e))) fail('ARGUMENT', op, `${name} must be ${what} (two finite numbers); got ${JSON.stringify(v)}`);
  return [v[0], v[1]];
}

/**
 * The matrix that maps output pixel coordinates to input ones (torchvision's
 * _get_inverse_affine_matrix): the forward map is T * C * R(angle) S(scale) SHy SHx * C^-1
 * (T the translation, C the center, angles in degrees, clockwise), and this is its inverse
 * C * (RSS)^-1 * C^-1 * T^-1, as 6 numbers [a, b, c, d, e, f] (x' = a x + b y + c, y' = d x + e y + f).
 */
export function inverseAffineMatrix(center: readonly [number, number], angle: number, translate: readonly [number, number], scale: number, shear: readonly [number, number]): number[] {
  const rad = Math.PI / 180;
  const rot = angle * rad;
  const sx = shear[0] * rad;
  const sy = shear[1] * rad;
  const [cx, cy] = center;
  const [tx, ty] = translate;
  // Rotation times the shears, without the scale; its determinant is 1.
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0].map((v) => v / scale);
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx;
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy;
  return m;
}

/** [width, height] that holds the whole warped image (torchvision's _compute_affine_output_size, in float32 as there). */
function expandedSize(matrix: readonly number[], w: number, h: number): [number, number] {
  const f = Math.fround;
  const t = matrix.map(f);
  const lo = [Infinity, Infinity];
  const hi = [-Infinity, -Infinity];
  for (const [px, py] of [[-0.5 * w, -0.5 * h], [-0.5 * w, 0.5 * h], [0.5 * w, 0.5 * h], [0.5 * w, -0.5 * h]]) {
    for (let k = 0; k < 2; k++) {
      const v = f(f(f(px * t[3 * k]) + f(py * t[3 * k + 1])) + t[3 * k + 2]);
      lo[k] = Math.min(lo[k], v);
      hi[k] = Math.max(hi[k], v);
    }
  }
  // Shift to [0, w] x [0, h] and truncate to 1e-4 so that 1e-15 above an integer does not ceil to the next.
  const tol = f(1e-4);
  const size = [0, 1].map((k) => {
    const half = f((k === 0 ? w : h) * 0.5);
    const mx = Math.ceil(f(Math.trunc(f(f(hi[k] + half) / tol)) * tol));
    const mn = Math.floor(f(Math.trunc(f(f(lo[k] + half) / tol)) * tol));
    return mx - mn;
  });
  return [size[0], size[1]];
}

/**
 * Output pixel (i, j) of an oh x ow grid samples the input at the image of its centre under
 * `matrix` (coordinates relative to the centres of the images), as torchvision's
 * _gen_affine_grid + grid_sample(align_corners=False, zeros padding), computed in float32 for
 * all dtypes but float64. Without `fill` the outside reads 0; with it, torchvision's mask:
 * nearest takes the fill where the sample fell outside, bilinear blends by the weight inside.
 */
function warp(op: string, x: ImageOrTensor, matrix: readonly number[], ow: number, oh: number, mode: InterpolationMode, fill: FillArg | undefined): ImageOrTensor {
  const r = toRaster(op, x);
  const { w, h } = r;
  const f = r.dtype === 'float64' ? (v: number) => v : Math.fround;
  const t = matrix.map(f);
  const hw = f(0.5 * w);
  const hh = f(0.5 * h);
  const [r00, r10, r20, r01, r11, r21] = [t[0] / hw, t[1] / hw, t[2] / hw, t[3] / hh, t[4] / hh, t[5] / hh].map(f);
  const [, sC, sY, sX] = rasterStrides(r.kind, r.c, h, w);
  const npix = oh * ow;
  // Per output pixel: up to 4 taps (source offset in a plane, -1 outside) with weights, and the weight inside.
  const taps = new Int32Array(npix * 4).fill(-1);
  const wts = new Float64Array(npix * 4);
  const inside = new Float64Array(npix);
  for (let i = 0; i < oh; i++) {
    const yb = -oh * 0.5 + 0.5 + i;
    for (let j = 0; j < ow; j++) {
      const xb = -ow * 0.5 + 0.5 + j;
      // The grid's matrix product as torch's float32 bmm rounds it: x a + y b fused, then + c.
      const gx = f(f(yb * r10 + f(xb * r00)) + r20);
      const gy = f(f(yb * r11 + f(xb * r01)) + r21);
      const ix = f(f(f(gx + 1) * f(w / 2)) - 0.5);
      const iy = f(f(f(gy + 1) * f(h / 2)) - 0.5);
      const p = i * ow + j;
      if (mode === 'nearest') {
        const xn = roundHalfEven(ix);
        const yn = roundHalfEven(iy);
        if (xn >= 0 && xn < w && yn >= 0 && yn < h) {
          taps[p * 4] = yn * sY + xn * sX;
          wts[p * 4] = 1;
          inside[p] = 1;
        }
        continue;
      }
      const x0 = Math.floor(ix);
      const y0 = Math.floor(iy);
      const we = f(ix - x0);
      const ea = f(1 - we);
      const no = f(iy - y0);
      const so = f(1 - no);
      const corner = [[x0, y0, f(so * ea)], [x0 + 1, y0, f(so * we)], [x0, y0 + 1, f(no * ea)], [x0 + 1, y0 + 1, f(no * we)]];
      let m = 0;
      for (let k = 0; k < 4; k++) {
        const [cx, cy, cw] = corner[k];
        if (cx >= 0 && cx < w && cy >= 0 && cy < h) {
          taps[p * 4 + k] = cy * sY + cx * sX;
          wts[p * 4 + k] = cw;
          m = f(m + cw);
        }
      }
      inside[p] = m;
    }
  }
  const fills = fill === undefined ? null : perChannel(op, 'fill', fill, r.c).map(f);
  const store = storeRounded(r);
  const [sN] = rasterStrides(r.kind, r.c, h, w);
  const [oN, oC, oY, oX] = rasterStrides(r.kind, r.c, oh, ow);
  const out = allocLike(r, r.n * r.c * npix);
  for (let n = 0; n < r.n; n++) {
    for (let ch = 0; ch < r.c; ch++) {
      const sb = n * sN + ch * sC;
      const ob = n * oN + ch * oC;
      const fv = fills === null ? 0 : fills[ch];
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const p = i * ow + j;
          let v = 0;
          for (let k = 0; k < 4; k++) {
            const s = taps[p * 4 + k];
            if (s >= 0) v = f(v + f(wts[p * 4 + k] * r.data[sb + s]));
          }
          if (fills !== null) {
            if (mode === 'nearest') v = inside[p] < 0.5 ? fv : v;
            else v = f(f(v * inside[p]) + f(f(1 - inside[p]) * fv));
          }
          out[ob + i * oY + j * oX] = store(v);
        }
      }
    }
  }
  return fromRaster(r, out, r.c, oh, ow);
}

/** The center option as torchvision's tensor path takes it: pixel coordinates relative to the image centre. */
function centerOffset(op: string, center: readonly number[] | undefined, h: number, w: number): [number, number] {
  if (center === undefined || center === null) return [0, 0];
  const [cx, cy] = checkPair(op, 'center', center);
  return [cx - w * 0.5, cy - h * 0.5];
}

export interface RotateOptions {
  /** 'nearest' (default) or 'bilinear'. */
  interpolation?: InterpolationMode;
  /** Enlarge the output to hold the whole rotated image (assumes rotation about the centre). */
  expand?: boolean;
  /** The centre of rotation [x, y] in pixels from the top-left corner (default the image centre). */
  center?: readonly [number, number] | readonly number[];
  /** The value outside the rotated image: one number or one per channel (default: 0 without torchvision's fill mask). */
  fill?: FillArg;
}

/** Rotate by `angle` degrees counter-clockwise (torchvision's F.rotate, tensor path; uint8 results are rounded). */
export function rotate(x: ImageOrTensor, angle: number, opts: RotateOptions = {}): ImageOrTensor {
  const op = 'rotate';
  checkFinite(op, 'angle', angle);
  const mode = checkInterpolation(op, opts.interpolation ?? 'nearest');
  const r = toRaster(op, x);
  const matrix = inverseAffineMatrix(centerOffset(op, opts.center, r.h, r.w), -angle, [0, 0], 1, [0, 0]);
  const [ow, oh] = opts.expand ? expandedSize(matrix, r.w, r.h) : [r.w, r.h];
  return warp(op, x, matrix, ow, oh, mode, opts.fill);
}

export interface AffineOptions {
  /** Rotation in degrees, clockwise (default 0). */
  angle?: number;
  /** Translation [dx, dy] in pixels, after the rotation (default [0, 0]). */
  translate?: readonly [number, number] | readonly number[];
  /** Overall scale, positive (default 1). */
  scale?: number;
  /** Shear in degrees: one number (parallel to x), [sx] (both) or [sx, sy] (default 0). */
  shear?: number | readonly number[];
  interpolation?: InterpolationMode;
  fill?: FillArg;
  /** The centre [x, y] in pixels from the top-left corner (default the image centre). */
  center?: readonly [number, number] | readonly number[];
}

/** An affine warp keeping the centre fixed (torchvision's F.affine, tensor path). */
export function affine(x: ImageOrTensor, opts: AffineOptions = {}): ImageOrTensor {
  const op = 'affine';
  const angle = checkFinite(op, 'angle', opts.angle ?? 0);
  const translate = checkPair(op, 'translate', opts.translate ?? [0, 0], '[dx, dy]');
  const scale = checkFinite(op, 'scale', opts.scale ?? 1);
  if (!(scale > 0)) fail('ARGUMENT', op, `scale must be positive; got ${scale}`);
  const sh = opts.shear ?? 0;
  let shear: [number, number];
  if (typeof sh === 'number') shear = [checkFinite(op, 'shear', sh), 0];
  else if (Array.isArray(sh) && sh.length === 1) shear = [checkFinite(op, 'shear', sh[0]), sh[0]];
  else shear = checkPair(op, 'shear', sh, 'a number, [sx] or [sx, sy]');
  const mode = checkInterpolation(op, opts.interpolation ?? 'nearest');
  const r = toRaster(op, x);
  const matrix = inverseAffineMatrix(centerOffset(op, opts.center, r.h, r.w), angle, translate, scale, shear);
  return warp(op, x, matrix, r.w, r.h, mode, opts.fill);
}

// ------------------------------------------------------------------------------------------
// Filters

/** Normalised 1-d Gaussian taps at -(k-1)/2 .. (k-1)/2, in float32 as torchvision makes them. */
function gaussianKernel1d(k: number, sigma: number): number[] {
  const f = Math.fround;
  const half = (k - 1) * 0.5;
  const s = f(sigma);
  const pdf = Array.from({ length: k }, (_, i) => {
    const z = f((-half + i) / s);
    return f(Math.exp(f(-0.5 * f(z * z))));
  });
  const sum = pdf.reduce((a, b) => f(a + b), 0);
  return pdf.map((v) => f(v / sum));
}

/**
 * Sum of kernel[ky][kx] * x[y + ky - kh/2][x + kx - kw/2] over a padded neighbourhood: every
 * pixel with `index(y)`/`index(x)` mapping padded positions to sources, only the pixels whose
 * window fits when `interiorOnly` (the others keep their value).
 */
function convolve(r: Raster, kernel: number[][], interiorOnly: boolean, store: (v: number) => number): TypedArray {
  const kh = kernel.length;
  const kw = kernel[0].length;
  const ph = kh >> 1;
  const pw = kw >> 1;
  const rows = interiorOnly ? null : range(-ph, r.h + 2 * ph, r.h, 'reflect');
  const cols = interiorOnly ? null : range(-pw, r.w + 2 * pw, r.w, 'reflect');
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const out = interiorOnly ? r.data.slice() : allocLike(r, r.data.length);
  const y0 = interiorOnly ? ph : 0;
  const x0 = interiorOnly ? pw : 0;
  for (let n = 0; n < r.n; n++) {
    for (let ch = 0; ch < r.c; ch++) {
      const base = n * sN + ch * sC;
      for (let y = y0; y < r.h - y0; y++) {
        for (let xx = x0; xx < r.w - x0; xx++) {
          let acc = 0;
          for (let a = 0; a < kh; a++) {
            const sy = rows ? rows[y + a] : y + a - ph;
            const krow = kernel[a];
            for (let b = 0; b < kw; b++) acc += krow[b] * r.data[base + sy * sY + (cols ? cols[xx + b] : xx + b - pw) * sX];
          }
          out[base + y * sY + xx * sX] = store(acc);
        }
      }
    }
  }
  return out;
}

/**
 * Gaussian blur (torchvision's F.gaussian_blur): kernelSize is odd and positive, one number or
 * [kx, ky]; sigma one number or [sx, sy], by default 0.3 * ((k - 1) * 0.5 - 1) + 0.8 (= 0.15 k + 0.35).
 * The borders are reflected; uint8 results are rounded.
 */
export function gaussianBlur(x: ImageOrTensor, kernelSize: number | readonly number[], sigma?: number | readonly number[]): ImageOrTensor {
  const op = 'gaussianBlur';
  const ks = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : Array.isArray(kernelSize) && kernelSize.length === 1 ? [kernelSize[0], kernelSize[0]] : kernelSize;
  if (!Array.isArray(ks) || ks.length !== 2 || ks.some((k) => !Number.isInteger(k) || k <= 0 || k % 2 === 0)) {
    fail('ARGUMENT', op, `kernelSize must be an odd positive integer or [kx, ky] of them; got ${JSON.stringify(kernelSize)}`, 'use e.g. 3, 5 or [3, 5]');
  }
  const sg = sigma === undefined ? ks.map((k) => k * 0.15 + 0.35) : typeof sigma === 'number' ? [sigma, sigma] : Array.isArray(sigma) && sigma.length === 1 ? [sigma[0], sigma[0]] : sigma;
  if (!Array.isArray(sg) || sg.length !== 2 || sg.some((s) => typeof s !== 'number' || !(s > 0) || !Number.isFinite(s))) {
    fail('ARGUMENT', op, `sigma must be a positive number or [sx, sy] of them; got ${JSON.stringify(sigma)}`);
  }
  const r = toRaster(op, x);
  if (ks[0] >> 1 >= r.w || ks[1] >> 1 >= r.h) fail('SHAPE', op, `kernelSize ${JSON.stringify(ks)} needs reflect padding of ${ks[0] >> 1} x ${ks[1] >> 1}, which must be smaller than the image (${r.h}x${r.w})`, 'use a smaller kernel');
  const kx = gaussianKernel1d(ks[0], sg[0]);
  const ky = gaussianKernel1d(ks[1], sg[1]);
  const kernel = ky.map((a) => kx.map((b) => Math.fround(a * b)));
  return fromRaster(r, convolve(r, kernel, false, storeRounded(r)), r.c, r.h, r.w);
}

// ------------------------------------------------------------------------------------------
// Per-pixel colour operations (the AutoAugment family). Images take the uint8 tensor semantics.

/** Apply v -> fn(v) to every value of a 1- or 3-channel image. */
function mapValues(op: string, x: ImageOrTensor, fn: (v: number, r: Raster) => number): ImageOrTensor {
  const r = toRaster(op, x);
  checkChannels(op, r, [1, 3]);
  const out = allocLike(r, r.data.length);
  for (let i = 0; i < r.data.length; i++) out[i] = fn(r.data[i], r);
  return fromRaster(r, out, r.c, r.h, r.w);
}

/** bound - x: 255 - x for uint8, 1 - x for floats (torchvision's F.invert). */
export function invert(x: ImageOrTensor): ImageOrTensor {
  const op = 'invert';
  const bound = boundOf(toRaster(op, x));
  return mapValues(op, x, (v) => bound - v);
}

/** Keep the `bits` (0..8) highest bits of each uint8 value (torchvision's F.posterize). */
export function posterize(x: ImageOrTensor, bits: number): ImageOrTensor {
  const op = 'posterize';
  checkUint8(op, toRaster(op, x));
  if (!Number.isInteger(bits) || bits < 0 || bits > 8) fail('ARGUMENT', op, `bits must be an integer in [0, 8]; got ${bits}`);
  const mask = (0xff << (8 - bits)) & 0xff;
  return mapValues(op, x, (v) => v & mask);
}

/** Invert the values at or above `threshold` (torchvision's F.solarize; the threshold may not exceed 255, or 1 for floats). */
export function solarize(x: ImageOrTensor, threshold: number): ImageOrTensor {
  const op = 'solarize';
  const bound = boundOf(toRaster(op, x));
  checkFinite(op, 'threshold', threshold);
  if (threshold > bound) fail('ARGUMENT', op, `threshold must be at most the image's largest value ${bound}; got ${threshold}`, bound === 1 ? 'float images are in [0, 1]: scale the threshold by 1/255' : undefined);
  return mapValues(op, x, (v) => (v >= threshold ? bound - v : v));
}

/**
 * Sharpness: blend with a smoothed copy (3x3 kernel 1 1 1 / 1 5 1 / 1 1 1, over 13, on the
 * interior; the border pixels stay) by `factor` (0 smooths, 1 is the original, 2 sharpens)
 * (torchvision's F.adjust_sharpness).
 */
export function adjustSharpness(x: ImageOrTensor, factor: number): ImageOrTensor {
  const op = 'adjustSharpness';
  checkFactor(op, 'sharpnessFactor', factor);
  const r = toRaster(op, x);
  checkChannels(op, r, [1, 3]);
  if (r.h <= 2 || r.w <= 2) return x instanceof Tensor ? x.clone() : { ...x, data: (x as Image).data.slice() };
  const edge = Math.fround(1 / 13);
  const mid = Math.fround(5 / 13);
  const kernel = [[edge, edge, edge], [edge, mid, edge], [edge, edge, edge]];
  const smooth = convolve(r, kernel, true, storeRounded(r));
  return blend(op, x, factor, { otherAt: (i) => smooth[i] });
}

/** Stretch each channel of each image to the full range [0, bound] (torchvision's F.autocontrast). */
export function autocontrast(x: ImageOrTensor): ImageOrTensor {
  const op = 'autocontrast';
  const r = toRaster(op, x);
  checkChannels(op, r, [1, 3]);
  const bound = boundOf(r);
  const f = arith(r);
  const isFloat = bound === 1;
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const out = allocLike(r, r.data.length);
  for (let n = 0; n < r.n; n++) {
    for (let ch = 0; ch < r.c; ch++) {
      const base = n * sN + ch * sC;
      let lo = Infinity;
      let hi = -Infinity;
      for (let y = 0; y < r.h; y++) {
        for (let xx = 0; xx < r.w; xx++) {
          const v = r.data[base + y * sY + xx * sX];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      let scale = f(bound / f(hi - lo));
      if (!Number.isFinite(scale)) {
        lo = 0;
        scale = 1;
      }
      for (let y = 0; y < r.h; y++) {
        for (let xx = 0; xx < r.w; xx++) {
          const i = base + y * sY + xx * sX;
          const v = Math.min(Math.max(f(f(r.data[i] - lo) * scale), 0), bound);
          out[i] = isFloat ? v : Math.trunc(v);
        }
      }
    }
  }
  return fromRaster(r, out, r.c, r.h, r.w);
}

/**
 * Histogram equalisation of each channel of each uint8 image (torchvision's F.equalize): with
 * step = floor((pixels - count of the highest value present) / 255), value v maps to
 * floor((count of values below v + floor(step / 2)) / step); a channel with step 0 stays.
 */
export function equalize(x: ImageOrTensor): ImageOrTensor {
  const op = 'equalize';
  const r = toRaster(op, x);
  checkUint8(op, r);
  checkChannels(op, r, [1, 3]);
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const out = allocLike(r, r.data.length);
  const hist = new Float64Array(256);
  const lut = new Uint8Array(256);
  for (let n = 0; n < r.n; n++) {
    for (let ch = 0; ch < r.c; ch++) {
      const base = n * sN + ch * sC;
      hist.fill(0);
      for (let y = 0; y < r.h; y++) for (let xx = 0; xx < r.w; xx++) hist[r.data[base + y * sY + xx * sX]]++;
      let last = 255;
      while (last > 0 && hist[last] === 0) last--;
      const step = Math.floor((r.h * r.w - hist[last]) / 255);
      let below = 0;
      for (let v = 0; v < 256; v++) {
        lut[v] = step === 0 ? v : Math.min(255, Math.floor((below + Math.floor(step / 2)) / step));
        below += hist[v];
      }
      for (let y = 0; y < r.h; y++) {
        for (let xx = 0; xx < r.w; xx++) {
          const i = base + y * sY + xx * sX;
          out[i] = lut[r.data[i]];
        }
      }
    }
  }
  return fromRaster(r, out, r.c, r.h, r.w);
}
