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

/** ratio * x + (1 - ratio) * other(pixel), clamped and stored per kind. */
function blend(op: string, x: ImageOrTensor, ratio: number, other: (r: Raster, n: number, s: number, sC: number) => number, channels: number[] = [1, 3]): ImageOrTensor {
  const r = toRaster(op, x);
  checkChannels(op, r, channels);
  const { bound, store } = colorStore(op, r);
  const [sN, sC, sY, sX] = rasterStrides(r.kind, r.c, r.h, r.w);
  const out = allocLike(r, r.data.length);
  for (let n = 0; n < r.n; n++) {
    for (let y = 0; y < r.h; y++) {
      for (let xx = 0; xx < r.w; xx++) {
        const s = n * sN + y * sY + xx * sX;
        const o = other(r, n, s, sC);
        for (let k = 0; k < r.c; k++) {
          const v = ratio * r.data[s + k * sC] + (1 - ratio) * o;
          out[s + k * sC] = store(Math.min(Math.max(v, 0), bound));
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
