/**
 * Batched augmentation: one call transforms a whole batch tensor [N, C, H, W] (float32,
 * float64, uint8 or int32) with a different random draw per image, as fast CIFAR trainers
 * do instead of per-sample transforms in the data loader. Each is one tight loop over the
 * batch's values on the CPU and returns a new tensor of the same dtype (normalize: float).
 *
 * The draws per image come in the same order as the per-image transforms make them
 * (randomHorizontalFlip: one uniform per image, as RandomHorizontalFlip; randomCrop: top then
 * left, as RandomCrop), so with the same generator state a batched call equals applying the
 * per-image transform to each image in turn.
 */
import { Tensor, defaultGenerator, tensor } from '@dl/tensor';
import type { Generator } from '@dl/tensor';
import { fail } from '../errors.js';
import { allocLike, checkPaddingMode, padIndex, parsePadding, parseSize, perChannel, toRaster } from './raster.js';
import type { FillArg, PaddingArg, PaddingMode, Raster, SizeArg } from './raster.js';

function batchRaster(op: string, x: Tensor): Raster {
  if (!(x instanceof Tensor)) fail('ARGUMENT', op, `expected a batch tensor [N, C, H, W]; got ${typeof x}`);
  if (x.ndim !== 4) fail('SHAPE', op, `expected a batch tensor [N, C, H, W]; got shape [${x.shape.join(', ')}]`, 'for one image [C, H, W], use x.unsqueeze(0) or the per-image transforms');
  return toRaster(op, x);
}

function out(r: Raster, data: ArrayLike<number> & { length: number }, h = r.h, w = r.w): Tensor {
  return tensor(data as Float32Array, { shape: [r.n, r.c, h, w], dtype: r.dtype, copy: false });
}

export interface BatchedFlipOptions {
  /** Probability of flipping each image (default 0.5). */
  p?: number;
  generator?: Generator;
}

/** Mirror each image left-right with probability p. */
export function randomHorizontalFlip(x: Tensor, opts: BatchedFlipOptions = {}): Tensor {
  const op = 'batched.randomHorizontalFlip';
  const r = batchRaster(op, x);
  const p = opts.p ?? 0.5;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) fail('ARGUMENT', op, `p must be a probability in [0, 1]; got ${p}`);
  const g = opts.generator ?? defaultGenerator;
  const src = r.data;
  const dst = allocLike(r, src.length);
  const { c, h, w } = r;
  const imageSize = c * h * w;
  for (let n = 0; n < r.n; n++) {
    const base = n * imageSize;
    if (g.nextFloat() < p) {
      for (let row = base; row < base + imageSize; row += w) {
        for (let k = 0; k < w; k++) dst[row + k] = src[row + w - 1 - k];
      }
    } else {
      dst.set(src.subarray(base, base + imageSize), base);
    }
  }
  return out(r, dst);
}

export interface BatchedCropOptions {
  /** Output size (default: the input's height and width, i.e. a random translation). */
  size?: SizeArg;
  /** Padding before cropping: all sides, [left/right, top/bottom] or [left, top, right, bottom] (default 0). */
  padding?: PaddingArg;
  /** How the padding is filled (default 'constant'; fast CIFAR recipes often use 'reflect'). */
  paddingMode?: PaddingMode;
  /** The constant padding's value, one number or one per channel (default 0). */
  fill?: FillArg;
  generator?: Generator;
}

/** Pad every image, then crop each at its own random offset (a random translation when size is the input's). */
export function randomCrop(x: Tensor, opts: BatchedCropOptions = {}): Tensor {
  const op = 'batched.randomCrop';
  const r = batchRaster(op, x);
  const [l, t, rt, b] = parsePadding(op, opts.padding ?? 0);
  const mode = checkPaddingMode(op, opts.paddingMode ?? 'constant');
  const [th, tw] = opts.size === undefined ? [r.h, r.w] : parseSize(op, opts.size);
  const ph = r.h + t + b;
  const pw = r.w + l + rt;
  if (th > ph || tw > pw) fail('SHAPE', op, `crop size (${th}, ${tw}) is larger than the padded image (${ph}, ${pw})`, 'use more padding or a smaller size');
  const fillArg = opts.fill ?? 0;
  const fills = perChannel(op, 'fill', typeof fillArg === 'number' ? fillArg : [...fillArg], r.c);
  const g = opts.generator ?? defaultGenerator;
  const { c, h, w } = r;
  const src = r.data;
  const dst = allocLike(r, r.n * c * th * tw);
  const rows = new Int32Array(th);
  const cols = new Int32Array(tw);
  for (let n = 0; n < r.n; n++) {
    const i = g.nextBelow(ph - th + 1);
    const j = g.nextBelow(pw - tw + 1);
    for (let y = 0; y < th; y++) rows[y] = padIndex(i + y - t, h, mode);
    for (let k = 0; k < tw; k++) cols[k] = padIndex(j + k - l, w, mode);
    // The columns lie wholly inside the source: copy rows as blocks.
    const inside = j - l >= 0 && j - l + tw <= w;
    for (let ch = 0; ch < c; ch++) {
      const sb = (n * c + ch) * h * w;
      const ob = (n * c + ch) * th * tw;
      const f = fills[ch];
      for (let y = 0; y < th; y++) {
        const sy = rows[y];
        const o = ob + y * tw;
        if (sy < 0) {
          dst.fill(f, o, o + tw);
        } else if (inside) {
          const s = sb + sy * w + j - l;
          dst.set(src.subarray(s, s + tw), o);
        } else {
          const s = sb + sy * w;
          for (let k = 0; k < tw; k++) {
            const sx = cols[k];
            dst[o + k] = sx < 0 ? f : src[s + sx];
          }
        }
      }
    }
  }
  return out(r, dst, th, tw);
}

export interface CutoutOptions {
  /** Side of the square (or [height, width] of the rectangle) set to `value`. */
  size: SizeArg;
  /** The value written (default 0). */
  value?: number;
  generator?: Generator;
}

/**
 * Cutout (DeVries and Taylor), as fast CIFAR trainers do it: in each image, a square of
 * `size` at a random position that lies wholly inside the image (top uniform in
 * [0, H - size], then left in [0, W - size]) is set to `value` in every channel.
 */
export function cutout(x: Tensor, opts: CutoutOptions): Tensor {
  const op = 'batched.cutout';
  const r = batchRaster(op, x);
  if (opts === undefined || opts.size === undefined) fail('ARGUMENT', op, 'size is required, e.g. cutout(x, { size: 12 })');
  const [sh, sw] = parseSize(op, opts.size);
  if (sh > r.h || sw > r.w) fail('SHAPE', op, `cutout size (${sh}, ${sw}) is larger than the images (${r.h}, ${r.w})`);
  const value = opts.value ?? 0;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('ARGUMENT', op, `value must be a finite number; got ${value}`);
  const g = opts.generator ?? defaultGenerator;
  const dst = r.data.slice();
  const { c, h, w } = r;
  for (let n = 0; n < r.n; n++) {
    const top = g.nextBelow(h - sh + 1);
    const left = g.nextBelow(w - sw + 1);
    for (let ch = 0; ch < c; ch++) {
      const base = (n * c + ch) * h * w;
      for (let y = top; y < top + sh; y++) dst.fill(value, base + y * w + left, base + y * w + left + sw);
    }
  }
  return out(r, dst);
}

/**
 * (x - mean) / std per channel, for a batch [N, C, H, W] (or any [..., C, H, W]). Float input
 * keeps its dtype; uint8 input is first scaled to [0, 1] (as ToTensor does) and gives float32.
 */
export function normalize(x: Tensor, mean: number | readonly number[], std: number | readonly number[]): Tensor {
  const op = 'batched.normalize';
  if (!(x instanceof Tensor)) fail('ARGUMENT', op, `expected a tensor [..., C, H, W]; got ${typeof x}`);
  if (x.ndim < 3) fail('SHAPE', op, `expected a tensor [..., C, H, W]; got shape [${x.shape.join(', ')}]`);
  if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'uint8') fail('DTYPE', op, `expected a float32, float64 or uint8 tensor; got ${x.dtype}`);
  const r = toRaster(op, x);
  const m = perChannel(op, 'mean', mean, r.c);
  const s = perChannel(op, 'std', std, r.c);
  const zero = s.indexOf(0);
  if (zero >= 0) fail('VALUE', op, `std evaluated to zero (channel ${zero}), leading to division by zero`);
  const scale = x.dtype === 'uint8' ? 1 / 255 : 1;
  const dst = x.dtype === 'float64' ? new Float64Array(r.data.length) : new Float32Array(r.data.length);
  const plane = r.h * r.w;
  const src = r.data;
  for (let n = 0; n < r.n; n++) {
    for (let k = 0; k < r.c; k++) {
      const base = (n * r.c + k) * plane;
      const mk = m[k];
      const inv = 1 / s[k];
      for (let p = base; p < base + plane; p++) dst[p] = (src[p] * scale - mk) * inv;
    }
  }
  return tensor(dst, { shape: [...x.shape], dtype: x.dtype === 'float64' ? 'float64' : 'float32', copy: false });
}
