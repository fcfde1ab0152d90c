/**
 * Transform classes (torchvision.transforms): each has `apply(input)` and `spec()`. Geometric
 * and colour transforms take an image object (uint8 HWC) or a tensor [..., C, H, W] and give
 * back the same kind; ToTensor turns an image into a float32 CHW tensor in [0, 1]; Normalize
 * and RandomErasing work on tensors.
 *
 * Randomness comes from a Generator of @dl/tensor: the `generator` option, or the default
 * generator (so `manualSeed(s)` makes augmentation repeatable; in a DataLoader worker the
 * default generator is seeded per worker and epoch). The draws follow torchvision's order.
 * A transform rebuilt from its spec (in a worker) uses that thread's default generator.
 */
import { Tensor, defaultGenerator, randn, randperm } from '@dl/tensor';
import type { Generator } from '@dl/tensor';
import { fail } from '../errors.js';
import { isImage, tensorToImage, imageToTensor } from '../io/image.js';
import type { Image } from '../io/image.js';
import * as F from './functional.js';
import { checkPaddingMode, fillValues, padIndex, parsePadding, parseSize, remap, toRaster } from './raster.js';
import type { FillArg, ImageOrTensor, PaddingArg, PaddingMode, SizeArg } from './raster.js';
import { isTransformSpec, registerTransform, transformFromSpec } from './spec.js';
import type { TransformSpec } from './spec.js';

/** The base of all transforms. */
export abstract class Transform<I = unknown, O = unknown> {
  abstract apply(input: I): O;
  /** This transform as data, to rebuild it in a worker thread with transformFromSpec. */
  abstract spec(): TransformSpec;
  toString(): string {
    let s: TransformSpec;
    try {
      s = this.spec();
    } catch {
      return `${this.constructor.name}()`;
    }
    return `${s.name}(${s.args.map((a) => JSON.stringify(a)).join(', ')})`;
  }
}

/** A transform, a plain function (becomes a Lambda) or a spec (rebuilt with transformFromSpec). */
export type TransformLike<I = unknown, O = unknown> = Transform<I, O> | ((input: I) => O) | TransformSpec;

/** A Transform of a transform-like value. */
export function toTransform<I = unknown, O = unknown>(t: TransformLike<I, O>, what = 'transform'): Transform<I, O> {
  if (t instanceof Transform) return t;
  if (typeof t === 'function') return new Lambda(t);
  if (isTransformSpec(t)) return transformFromSpec<Transform<I, O>>(t);
  if (typeof t === 'object' && t !== null && typeof (t as { apply?: unknown }).apply === 'function') return t as unknown as Transform<I, O>;
  return fail('ARGUMENT', what, `expected a transform (an object with apply()), a function or a { name, args } spec; got ${t === null ? 'null' : typeof t}`);
}

/** A transform's spec, with an error naming where it sits when it has none. */
function specOf(t: { spec?: () => TransformSpec }, where: string): TransformSpec {
  if (typeof t.spec !== 'function') fail('ARGUMENT', where, 'this transform has no spec() method, so it cannot be rebuilt in a DataLoader worker thread', 'extend transforms.Transform, implement spec() and registerTransform() it, or use numWorkers: 0');
  return t.spec();
}

function generatorOf(g: Generator | undefined): Generator {
  return g ?? defaultGenerator;
}

/** log(ratio) in float32, as torchvision's torch.log(torch.tensor(ratio)). */
function floatLogRatio(ratio: readonly [number, number]): [number, number] {
  return [Math.fround(Math.log(Math.fround(ratio[0]))), Math.fround(Math.log(Math.fround(ratio[1])))];
}

/** torch.empty(1).uniform_(lo, hi).item(), as torchvision draws its factors. */
function uniform(g: Generator, lo: number, hi: number): number {
  return g.nextFloat32In(lo, hi);
}

function checkProbability(op: string, p: number): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) fail('ARGUMENT', op, `p must be a probability in [0, 1]; got ${p}`);
  return p;
}

function checkRange(op: string, name: string, v: readonly number[] | undefined, fallback: [number, number]): [number, number] {
  const r = v ?? fallback;
  if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== 'number' || !Number.isFinite(x))) fail('ARGUMENT', op, `${name} must be [min, max]; got ${JSON.stringify(v)}`);
  if (r[0] > r[1]) fail('ARGUMENT', op, `${name} should be of kind (min, max); got ${JSON.stringify(r)}`);
  return [r[0], r[1]];
}

// ------------------------------------------------------------------------------------------

/**
 * Apply transforms one after another. Its input and output are typed `any` (the chain's types
 * are not inferred), so a Compose fits wherever a transform is expected.
 */
// biome-ignore lint/suspicious/noExplicitAny: a chain of transforms of the caller's choosing
export class Compose extends Transform<any, any> {
  readonly transforms: Transform[];
  constructor(transforms: readonly TransformLike<never, unknown>[]) {
    super();
    if (!Array.isArray(transforms)) fail('ARGUMENT', 'Compose', `expected an array of transforms; got ${typeof transforms}`);
    this.transforms = transforms.map((t, i) => toTransform(t as TransformLike, `Compose: transform ${i}`));
  }
  // biome-ignore lint/suspicious/noExplicitAny: see the class
  apply(input: any): any {
    let x: unknown = input;
    for (const t of this.transforms) x = t.apply(x);
    return x;
  }
  spec(): TransformSpec {
    return { name: 'Compose', args: [this.transforms.map((t, i) => specOf(t, `Compose (transform ${i})`))] };
  }
  override toString(): string {
    return `Compose(\n${this.transforms.map((t) => `  ${t.toString()}`).join('\n')}\n)`;
  }
}

/** Image (uint8 HWC) to a float32 tensor [C, H, W] with values in [0, 1]. */
export class ToTensor extends Transform<Image, Tensor> {
  apply(img: Image): Tensor {
    return F.toTensor(img);
  }
  spec(): TransformSpec {
    return { name: 'ToTensor', args: [] };
  }
}

/** Image (uint8 HWC) to a uint8 tensor [C, H, W] with the same values. */
export class PILToTensor extends Transform<Image, Tensor> {
  apply(img: Image): Tensor {
    return imageToTensor(img);
  }
  spec(): TransformSpec {
    return { name: 'PILToTensor', args: [] };
  }
}

/** Tensor [C, H, W] to an image (floats in [0, 1] become floor(v * 255)). */
export class ToPILImage extends Transform<Tensor, Image> {
  apply(t: Tensor): Image {
    return tensorToImage(t);
  }
  spec(): TransformSpec {
    return { name: 'ToPILImage', args: [] };
  }
}

/** (x - mean) / std per channel, for float tensors. */
export class Normalize extends Transform<Tensor, Tensor> {
  readonly mean: number[];
  readonly std: number[];
  constructor(mean: number | readonly number[], std: number | readonly number[]) {
    super();
    this.mean = typeof mean === 'number' ? [mean] : [...mean];
    this.std = typeof std === 'number' ? [std] : [...std];
    if (this.std.some((s) => s === 0)) fail('VALUE', 'Normalize', `std must not contain zeros; got ${JSON.stringify(this.std)}`);
  }
  apply(x: Tensor): Tensor {
    return F.normalize(x, this.mean, this.std);
  }
  spec(): TransformSpec {
    return { name: 'Normalize', args: [this.mean, this.std] };
  }
}

export interface ResizeTransformOptions {
  maxSize?: number;
  antialias?: boolean;
}

/** Resize with bilinear interpolation; a single number sets the shorter edge. */
export class Resize extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly size: SizeArg;
  readonly opts: ResizeTransformOptions;
  constructor(size: SizeArg, opts: ResizeTransformOptions = {}) {
    super();
    parseSize('Resize', size);
    this.size = typeof size === 'number' ? size : [...size];
    this.opts = { ...opts };
  }
  apply<T extends ImageOrTensor>(x: T): T {
    return F.resize(x, this.size, this.opts) as T;
  }
  spec(): TransformSpec {
    return { name: 'Resize', args: [this.size, this.opts] };
  }
}

/** Crop the center to `size` (padding with 0 when the input is smaller). */
export class CenterCrop extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly size: [number, number];
  constructor(size: SizeArg) {
    super();
    this.size = parseSize('CenterCrop', size);
  }
  apply<T extends ImageOrTensor>(x: T): T {
    return F.centerCrop(x, this.size) as T;
  }
  spec(): TransformSpec {
    return { name: 'CenterCrop', args: [this.size] };
  }
}

export interface PadOptions {
  fill?: FillArg;
  paddingMode?: PaddingMode;
}

/** Pad the borders. */
export class Pad extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly padding: PaddingArg;
  readonly fill: FillArg;
  readonly paddingMode: PaddingMode;
  constructor(padding: PaddingArg, opts: PadOptions = {}) {
    super();
    parsePadding('Pad', padding);
    this.padding = typeof padding === 'number' ? padding : [...padding];
    this.fill = opts.fill ?? 0;
    this.paddingMode = checkPaddingMode('Pad', opts.paddingMode ?? 'constant');
  }
  apply<T extends ImageOrTensor>(x: T): T {
    return F.pad(x, this.padding, this.fill, this.paddingMode) as T;
  }
  spec(): TransformSpec {
    return { name: 'Pad', args: [this.padding, { fill: this.fill, paddingMode: this.paddingMode }] };
  }
}

export interface RandomCropOptions {
  /** Padding applied first: all sides, [left/right, top/bottom] or [left, top, right, bottom]. */
  padding?: PaddingArg | null;
  /** Pad when the input is smaller than the crop. */
  padIfNeeded?: boolean;
  fill?: FillArg;
  paddingMode?: PaddingMode;
  generator?: Generator;
}

/** Crop at a random position, after optional padding (torchvision.transforms.RandomCrop). */
export class RandomCrop extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly size: [number, number];
  readonly padding: PaddingArg | null;
  readonly padIfNeeded: boolean;
  readonly fill: FillArg;
  readonly paddingMode: PaddingMode;
  readonly generator: Generator | undefined;
  constructor(size: SizeArg, opts: RandomCropOptions = {}) {
    super();
    this.size = parseSize('RandomCrop', size);
    this.padding = opts.padding ?? null;
    if (this.padding !== null) parsePadding('RandomCrop', this.padding);
    this.padIfNeeded = opts.padIfNeeded ?? false;
    this.fill = opts.fill ?? 0;
    this.paddingMode = checkPaddingMode('RandomCrop', opts.paddingMode ?? 'constant');
    this.generator = opts.generator;
  }

  /** torchvision's get_params: the (top, left) of a crop of `size` in an image of height x width. */
  static getParams(height: number, width: number, size: readonly [number, number], generator?: Generator): [number, number] {
    const [th, tw] = size;
    if (height < th || width < tw) {
      fail('SHAPE', 'RandomCrop', `required crop size (${th}, ${tw}) is larger than the input image size (${height}, ${width})`, 'use padding or padIfNeeded: true, or a smaller size');
    }
    if (height === th && width === tw) return [0, 0];
    const g = generatorOf(generator);
    const i = g.nextBelow(height - th + 1);
    const j = g.nextBelow(width - tw + 1);
    return [i, j];
  }

  apply<T extends ImageOrTensor>(x: T): T {
    const op = 'RandomCrop';
    const [th, tw] = this.size;
    let img: ImageOrTensor = x;
    let r = toRaster(op, img);
    const [l, t, rt, b] = this.padding === null ? [0, 0, 0, 0] : parsePadding(op, this.padding);
    const needPad = this.padIfNeeded && (r.w + l + rt < tw || r.h + t + b < th);
    if (needPad) {
      if (this.padding !== null) img = F.pad(img, this.padding, this.fill, this.paddingMode);
      let [, h, w] = F.getDimensions(img);
      if (w < tw) img = F.pad(img, [tw - w, 0], this.fill, this.paddingMode);
      [, h, w] = F.getDimensions(img);
      if (h < th) img = F.pad(img, [0, th - h], this.fill, this.paddingMode);
      r = toRaster(op, img);
      const [i, j] = RandomCrop.getParams(r.h, r.w, this.size, this.generator);
      return F.crop(img, i, j, th, tw) as T;
    }
    // Pad and crop in one pass: output row y reads padded row i + y, i.e. source row i + y - top.
    const [i, j] = RandomCrop.getParams(r.h + t + b, r.w + l + rt, this.size, this.generator);
    const rows = new Int32Array(th);
    const cols = new Int32Array(tw);
    for (let y = 0; y < th; y++) rows[y] = padIndex(i + y - t, r.h, this.paddingMode);
    for (let xx = 0; xx < tw; xx++) cols[xx] = padIndex(j + xx - l, r.w, this.paddingMode);
    return remap(r, rows, cols, fillValues(op, r, this.fill)) as T;
  }
  spec(): TransformSpec {
    return { name: 'RandomCrop', args: [this.size, { padding: this.padding, padIfNeeded: this.padIfNeeded, fill: this.fill, paddingMode: this.paddingMode }] };
  }
}

/** Mirror left-right with probability p. */
export class RandomHorizontalFlip extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly p: number;
  readonly generator: Generator | undefined;
  constructor(p = 0.5, opts: { generator?: Generator } = {}) {
    super();
    this.p = checkProbability('RandomHorizontalFlip', p);
    this.generator = opts.generator;
  }
  apply<T extends ImageOrTensor>(x: T): T {
    return (generatorOf(this.generator).nextFloat() < this.p ? F.hflip(x) : x) as T;
  }
  spec(): TransformSpec {
    return { name: 'RandomHorizontalFlip', args: [this.p] };
  }
}

/** Mirror top-bottom with probability p. */
export class RandomVerticalFlip extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly p: number;
  readonly generator: Generator | undefined;
  constructor(p = 0.5, opts: { generator?: Generator } = {}) {
    super();
    this.p = checkProbability('RandomVerticalFlip', p);
    this.generator = opts.generator;
  }
  apply<T extends ImageOrTensor>(x: T): T {
    return (generatorOf(this.generator).nextFloat() < this.p ? F.vflip(x) : x) as T;
  }
  spec(): TransformSpec {
    return { name: 'RandomVerticalFlip', args: [this.p] };
  }
}

export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the input's (default [0.08, 1]). */
  scale?: readonly [number, number] | readonly number[];
  /** Range of the crop's aspect ratio, width / height (default [3/4, 4/3]). */
  ratio?: readonly [number, number] | readonly number[];
  antialias?: boolean;
  generator?: Generator;
}

/** A random crop of random area and aspect ratio, resized to `size` (torchvision.transforms.RandomResizedCrop). */
export class RandomResizedCrop extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly size: [number, number];
  readonly scale: [number, number];
  readonly ratio: [number, number];
  readonly antialias: boolean;
  readonly generator: Generator | undefined;
  constructor(size: SizeArg, opts: RandomResizedCropOptions = {}) {
    super();
    const op = 'RandomResizedCrop';
    this.size = parseSize(op, size);
    this.scale = checkRange(op, 'scale', opts.scale, [0.08, 1]);
    this.ratio = checkRange(op, 'ratio', opts.ratio, [3 / 4, 4 / 3]);
    if (this.ratio[0] <= 0) fail('ARGUMENT', op, `ratio must be positive; got ${JSON.stringify(this.ratio)}`);
    this.antialias = opts.antialias ?? true;
    this.generator = opts.generator;
  }

  /** torchvision's get_params: [top, left, height, width] of the crop. */
  static getParams(height: number, width: number, scale: readonly [number, number], ratio: readonly [number, number], generator?: Generator): [number, number, number, number] {
    const g = generatorOf(generator);
    const area = height * width;
    const logRatio = floatLogRatio(ratio);
    for (let attempt = 0; attempt < 10; attempt++) {
      const targetArea = area * uniform(g, scale[0], scale[1]);
      const aspect = Math.fround(Math.exp(uniform(g, logRatio[0], logRatio[1])));
      const w = F.roundHalfEven(Math.sqrt(targetArea * aspect));
      const h = F.roundHalfEven(Math.sqrt(targetArea / aspect));
      if (w > 0 && w <= width && h > 0 && h <= height) {
        const i = g.nextBelow(height - h + 1);
        const j = g.nextBelow(width - w + 1);
        return [i, j, h, w];
      }
    }
    // Fallback: a center crop of the whole image, with the ratio clamped.
    const inRatio = width / height;
    let w: number;
    let h: number;
    if (inRatio < Math.min(...ratio)) {
      w = width;
      h = F.roundHalfEven(w / Math.min(...ratio));
    } else if (inRatio > Math.max(...ratio)) {
      h = height;
      w = F.roundHalfEven(h * Math.max(...ratio));
    } else {
      w = width;
      h = height;
    }
    return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
  }

  apply<T extends ImageOrTensor>(x: T): T {
    const [, h, w] = F.getDimensions(x);
    const [i, j, ch, cw] = RandomResizedCrop.getParams(h, w, this.scale, this.ratio, this.generator);
    return F.resizedCrop(x, i, j, ch, cw, this.size, { antialias: this.antialias }) as T;
  }
  spec(): TransformSpec {
    return { name: 'RandomResizedCrop', args: [this.size, { scale: this.scale, ratio: this.ratio, antialias: this.antialias }] };
  }
}

/** Convert to gray (1 or 3 equal channels). */
export class Grayscale extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly numOutputChannels: 1 | 3;
  constructor(numOutputChannels: 1 | 3 = 1) {
    super();
    if (numOutputChannels !== 1 && numOutputChannels !== 3) fail('ARGUMENT', 'Grayscale', `numOutputChannels must be 1 or 3; got ${numOutputChannels}`);
    this.numOutputChannels = numOutputChannels;
  }
  apply<T extends ImageOrTensor>(x: T): T {
    return F.rgbToGrayscale(x, this.numOutputChannels) as T;
  }
  spec(): TransformSpec {
    return { name: 'Grayscale', args: [this.numOutputChannels] };
  }
}

type JitterArg = number | readonly [number, number] | readonly number[];

export interface ColorJitterOptions {
  /** A factor range around 1: b gives [max(0, 1 - b), 1 + b]; or [min, max]. */
  brightness?: JitterArg;
  contrast?: JitterArg;
  saturation?: JitterArg;
  /** A shift range: h (at most 0.5) gives [-h, h]; or [min, max] within [-0.5, 0.5]. */
  hue?: JitterArg;
  generator?: Generator;
}

function jitterRange(name: string, v: JitterArg | undefined, center: number, bound: [number, number], clipFirst: boolean): [number, number] | null {
  const op = 'ColorJitter';
  if (v === undefined || v === null) return null;
  let r: [number, number];
  if (typeof v === 'number') {
    if (!(v >= 0)) fail('ARGUMENT', op, `if ${name} is a single number, it must be non-negative; got ${v}`);
    r = [center - v, center + v];
    if (clipFirst) r[0] = Math.max(r[0], 0);
  } else if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    r = [v[0], v[1]];
  } else {
    return fail('ARGUMENT', op, `${name} should be a single number or [min, max]; got ${JSON.stringify(v)}`);
  }
  if (!(bound[0] <= r[0] && r[0] <= r[1] && r[1] <= bound[1])) fail('ARGUMENT', op, `${name} values should be between ${JSON.stringify(bound)}; got ${JSON.stringify(r)}`);
  return r[0] === center && r[1] === center ? null : r;
}

/** Random brightness, contrast, saturation and hue, applied in a random order (torchvision.transforms.ColorJitter). */
export class ColorJitter extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly brightness: [number, number] | null;
  readonly contrast: [number, number] | null;
  readonly saturation: [number, number] | null;
  readonly hue: [number, number] | null;
  readonly generator: Generator | undefined;
  constructor(opts: ColorJitterOptions = {}) {
    super();
    this.brightness = jitterRange('brightness', opts.brightness, 1, [0, Infinity], true);
    this.contrast = jitterRange('contrast', opts.contrast, 1, [0, Infinity], true);
    this.saturation = jitterRange('saturation', opts.saturation, 1, [0, Infinity], true);
    this.hue = jitterRange('hue', opts.hue, 0, [-0.5, 0.5], false);
    this.generator = opts.generator;
  }

  /** torchvision's get_params: the order of the four adjustments and their factors (null: not applied). */
  static getParams(
    brightness: readonly [number, number] | null,
    contrast: readonly [number, number] | null,
    saturation: readonly [number, number] | null,
    hue: readonly [number, number] | null,
    generator?: Generator,
  ): { order: number[]; brightness: number | null; contrast: number | null; saturation: number | null; hue: number | null } {
    const g = generatorOf(generator);
    const perm = randperm(4, { generator: g });
    const order = Array.from(perm.dataSync());
    perm.dispose();
    const draw = (r: readonly [number, number] | null) => (r === null ? null : uniform(g, r[0], r[1]));
    const b = draw(brightness);
    const c = draw(contrast);
    const s = draw(saturation);
    const h = draw(hue);
    return { order, brightness: b, contrast: c, saturation: s, hue: h };
  }

  apply<T extends ImageOrTensor>(x: T): T {
    const p = ColorJitter.getParams(this.brightness, this.contrast, this.saturation, this.hue, this.generator);
    let img: ImageOrTensor = x;
    for (const k of p.order) {
      if (k === 0 && p.brightness !== null) img = F.adjustBrightness(img, p.brightness);
      else if (k === 1 && p.contrast !== null) img = F.adjustContrast(img, p.contrast);
      else if (k === 2 && p.saturation !== null) img = F.adjustSaturation(img, p.saturation);
      else if (k === 3 && p.hue !== null) img = F.adjustHue(img, p.hue);
    }
    return img as T;
  }
  spec(): TransformSpec {
    const o: Record<string, [number, number]> = {};
    if (this.brightness) o.brightness = this.brightness;
    if (this.contrast) o.contrast = this.contrast;
    if (this.saturation) o.saturation = this.saturation;
    if (this.hue) o.hue = this.hue;
    return { name: 'ColorJitter', args: [o] };
  }
}

export interface RandomErasingOptions {
  /** Probability of erasing (default 0.5). */
  p?: number;
  /** Range of the erased area as a fraction of the image (default [0.02, 0.33]). */
  scale?: readonly [number, number] | readonly number[];
  /** Range of the erased region's aspect ratio (default [0.3, 3.3]). */
  ratio?: readonly [number, number] | readonly number[];
  /** The erasing value: a number, one per channel, or 'random' (standard normal values). Default 0. */
  value?: number | readonly number[] | 'random';
  generator?: Generator;
}

/** Erase a random rectangle of a tensor image (torchvision.transforms.RandomErasing; returns a new tensor). */
export class RandomErasing extends Transform<Tensor, Tensor> {
  readonly p: number;
  readonly scale: [number, number];
  readonly ratio: [number, number];
  readonly value: number | number[] | 'random';
  readonly generator: Generator | undefined;
  constructor(opts: RandomErasingOptions = {}) {
    super();
    const op = 'RandomErasing';
    this.p = checkProbability(op, opts.p ?? 0.5);
    this.scale = checkRange(op, 'scale', opts.scale, [0.02, 0.33]);
    this.ratio = checkRange(op, 'ratio', opts.ratio, [0.3, 3.3]);
    if (this.scale[0] < 0 || this.scale[1] > 1) fail('ARGUMENT', op, `scale should be between 0 and 1; got ${JSON.stringify(this.scale)}`);
    if (this.ratio[0] <= 0) fail('ARGUMENT', op, `ratio must be positive; got ${JSON.stringify(this.ratio)}`);
    const v = opts.value ?? 0;
    if (v !== 'random' && typeof v !== 'number' && !(Array.isArray(v) && v.every((x) => typeof x === 'number'))) {
      fail('ARGUMENT', op, `value must be a number, an array of numbers or 'random'; got ${JSON.stringify(v)}`);
    }
    this.value = Array.isArray(v) ? [...v] : (v as number | 'random');
    this.generator = opts.generator;
  }

  /** torchvision's get_params: [top, left, height, width] and the values (null: erase nothing). */
  static getParams(
    c: number,
    height: number,
    width: number,
    scale: readonly [number, number],
    ratio: readonly [number, number],
    value: number | readonly number[] | 'random',
    generator?: Generator,
  ): { i: number; j: number; h: number; w: number; v: number[] | Float32Array } | null {
    const g = generatorOf(generator);
    const area = height * width;
    const logRatio = floatLogRatio(ratio);
    for (let attempt = 0; attempt < 10; attempt++) {
      const eraseArea = area * uniform(g, scale[0], scale[1]);
      const aspect = Math.fround(Math.exp(uniform(g, logRatio[0], logRatio[1])));
      const h = F.roundHalfEven(Math.sqrt(eraseArea * aspect));
      const w = F.roundHalfEven(Math.sqrt(eraseArea / aspect));
      if (!(h < height && w < width)) continue;
      let v: number[] | Float32Array;
      if (value === 'random') {
        const noise = randn([c, h, w], { generator: g });
        v = noise.dataSync() as Float32Array;
        noise.dispose();
      } else {
        v = typeof value === 'number' ? [value] : [...value];
      }
      const i = g.nextBelow(height - h + 1);
      const j = g.nextBelow(width - w + 1);
      return { i, j, h, w, v };
    }
    return null;
  }

  apply(x: Tensor): Tensor {
    const op = 'RandomErasing';
    if (!(x instanceof Tensor)) {
      fail('ARGUMENT', op, `expected a Tensor; got ${isImage(x) ? 'an image' : typeof x}`, 'apply ToTensor() before RandomErasing, as in torchvision');
    }
    if (x.ndim < 3) fail('SHAPE', op, `expected a tensor [..., C, H, W]; got shape [${x.shape.join(', ')}]`);
    const [c, h, w] = x.shape.slice(-3);
    if (Array.isArray(this.value) && this.value.length !== 1 && this.value.length !== c) {
      fail('ARGUMENT', op, `value must have 1 or ${c} (one per channel) values; got ${this.value.length}`);
    }
    const g = generatorOf(this.generator);
    if (!(g.nextFloat() < this.p)) return x;
    const p = RandomErasing.getParams(c, h, w, this.scale, this.ratio, this.value, g);
    if (p === null) return x;
    return F.erase(x, p.i, p.j, p.h, p.w, p.v);
  }
  spec(): TransformSpec {
    return { name: 'RandomErasing', args: [{ p: this.p, scale: this.scale, ratio: this.ratio, value: this.value }] };
  }
}

// ------------------------------------------------------------------------------------------
// Affine augmentation, blur, random application and the AutoAugment family's single ops

type RangeArg = number | readonly number[];

/** torchvision's _setup_angle: d >= 0 gives [-d, d]; else [min, max] (or [xmin, xmax, ymin, ymax] where 4 are allowed). */
function angleRange(op: string, name: string, v: RangeArg, sizes: number[] = [2]): number[] {
  if (typeof v === 'number') {
    if (!(v >= 0) || !Number.isFinite(v)) fail('ARGUMENT', op, `if ${name} is a single number, it must be non-negative; got ${v}`, `pass ${name}: d for [-d, d], or [min, max]`);
    return [-v, v];
  }
  if (!Array.isArray(v) || !sizes.includes(v.length) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    fail('ARGUMENT', op, `${name} must be a non-negative number or ${sizes.map((n) => `${n} numbers`).join(' or ')} ([min, max]${sizes.includes(4) ? ' or [xmin, xmax, ymin, ymax]' : ''}); got ${JSON.stringify(v)}`);
  }
  for (let k = 0; k < v.length; k += 2) if (v[k] > v[k + 1]) fail('ARGUMENT', op, `${name} ranges must be [min, max] with min <= max; got ${JSON.stringify(v)}`);
  return [...v];
}

function checkFill(op: string, fill: unknown): F.FillArg {
  if (typeof fill === 'number' ? Number.isFinite(fill) : Array.isArray(fill) && fill.length > 0 && fill.every((x) => typeof x === 'number' && Number.isFinite(x))) return typeof fill === 'number' ? fill : [...(fill as number[])];
  return fail('ARGUMENT', op, `fill must be a number or an array of numbers (one per channel); got ${JSON.stringify(fill)}`);
}

function checkCenter(op: string, center: unknown): [number, number] | null {
  if (center === undefined || center === null) return null;
  if (!Array.isArray(center) || center.length !== 2 || center.some((x) => typeof x !== 'number' || !Number.isFinite(x))) fail('ARGUMENT', op, `center must be [x, y] in pixels; got ${JSON.stringify(center)}`);
  return [center[0], center[1]];
}

function checkMode(op: string, mode: unknown): F.InterpolationMode {
  if (mode !== 'nearest' && mode !== 'bilinear') fail('ARGUMENT', op, `interpolation must be 'nearest' or 'bilinear'; got ${JSON.stringify(mode)}`);
  return mode;
}

export interface RandomRotationOptions {
  interpolation?: F.InterpolationMode;
  expand?: boolean;
  center?: readonly [number, number] | readonly number[] | null;
  /** The value outside the rotated image (default 0), with torchvision's fill mask. */
  fill?: FillArg;
  generator?: Generator;
}

/** Rotate by an angle drawn uniformly from `degrees` (d: [-d, d]) (torchvision.transforms.RandomRotation). */
export class RandomRotation extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly degrees: [number, number];
  readonly interpolation: F.InterpolationMode;
  readonly expand: boolean;
  readonly center: [number, number] | null;
  readonly fill: FillArg;
  readonly generator: Generator | undefined;
  constructor(degrees: RangeArg, opts: RandomRotationOptions = {}) {
    super();
    const op = 'RandomRotation';
    this.degrees = angleRange(op, 'degrees', degrees) as [number, number];
    this.interpolation = checkMode(op, opts.interpolation ?? 'nearest');
    this.expand = opts.expand ?? false;
    this.center = checkCenter(op, opts.center);
    this.fill = checkFill(op, opts.fill ?? 0);
    this.generator = opts.generator;
  }
  /** torchvision's get_params: the angle, uniform in [degrees[0], degrees[1]) (float32). */
  static getParams(degrees: readonly [number, number], generator?: Generator): number {
    return uniform(generatorOf(generator), degrees[0], degrees[1]);
  }
  apply<T extends ImageOrTensor>(x: T): T {
    const angle = RandomRotation.getParams(this.degrees, this.generator);
    return F.rotate(x, angle, { interpolation: this.interpolation, expand: this.expand, center: this.center ?? undefined, fill: this.fill }) as T;
  }
  spec(): TransformSpec {
    return { name: 'RandomRotation', args: [this.degrees, { interpolation: this.interpolation, expand: this.expand, center: this.center, fill: this.fill }] };
  }
}

export interface RandomAffineOptions {
  /** Maximal translation as fractions [a, b] of the width and height: dx in (-a w, a w), dy in (-b h, b h). */
  translate?: readonly [number, number] | readonly number[] | null;
  /** Scale range [min, max] (positive). */
  scale?: readonly [number, number] | readonly number[] | null;
  /** Shear in degrees: s gives x in [-s, s]; [min, max] for x; [xmin, xmax, ymin, ymax] for both. */
  shear?: RangeArg | null;
  interpolation?: F.InterpolationMode;
  fill?: FillArg;
  center?: readonly [number, number] | readonly number[] | null;
  generator?: Generator;
}

/** The drawn parameters of RandomAffine, as F.affine takes them. */
export interface AffineParams {
  angle: number;
  translate: [number, number];
  scale: number;
  shear: [number, number];
}

/** A random affine warp keeping the centre fixed (torchvision.transforms.RandomAffine). */
export class RandomAffine extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly degrees: [number, number];
  readonly translate: [number, number] | null;
  readonly scale: [number, number] | null;
  readonly shear: number[] | null;
  readonly interpolation: F.InterpolationMode;
  readonly fill: FillArg;
  readonly center: [number, number] | null;
  readonly generator: Generator | undefined;
  constructor(degrees: RangeArg, opts: RandomAffineOptions = {}) {
    super();
    const op = 'RandomAffine';
    this.degrees = angleRange(op, 'degrees', degrees) as [number, number];
    const tr = opts.translate;
    if (tr != null && !(Array.isArray(tr) && tr.length === 2 && tr.every((t) => typeof t === 'number' && t >= 0 && t <= 1))) {
      fail('ARGUMENT', op, `translate must be [a, b], fractions in [0, 1] of the width and height; got ${JSON.stringify(tr)}`, 'e.g. translate: [0.1, 0.1] for up to 10% of the width and height');
    }
    this.translate = tr == null ? null : [tr[0], tr[1]];
    this.scale = opts.scale == null ? null : checkRange(op, 'scale', opts.scale, [1, 1]);
    if (this.scale && this.scale[0] <= 0) fail('ARGUMENT', op, `scale values must be positive; got ${JSON.stringify(this.scale)}`);
    this.shear = opts.shear == null ? null : angleRange(op, 'shear', opts.shear, [2, 4]);
    this.interpolation = checkMode(op, opts.interpolation ?? 'nearest');
    this.fill = checkFill(op, opts.fill ?? 0);
    this.center = checkCenter(op, opts.center);
    this.generator = opts.generator;
  }
  /** torchvision's get_params, in its order of draws: angle, then dx and dy (rounded), scale, shear x, shear y. */
  static getParams(
    degrees: readonly [number, number],
    translate: readonly [number, number] | null,
    scale: readonly [number, number] | null,
    shear: readonly number[] | null,
    size: readonly [number, number],
    generator?: Generator,
  ): AffineParams {
    const g = generatorOf(generator);
    const [height, width] = size;
    const angle = uniform(g, degrees[0], degrees[1]);
    let t: [number, number] = [0, 0];
    if (translate) {
      const dx = translate[0] * width;
      const dy = translate[1] * height;
      t = [F.roundHalfEven(uniform(g, -dx, dx)), F.roundHalfEven(uniform(g, -dy, dy))];
    }
    const s = scale ? uniform(g, scale[0], scale[1]) : 1;
    const sh: [number, number] = [0, 0];
    if (shear) {
      sh[0] = uniform(g, shear[0], shear[1]);
      if (shear.length === 4) sh[1] = uniform(g, shear[2], shear[3]);
    }
    return { angle, translate: t, scale: s, shear: sh };
  }
  apply<T extends ImageOrTensor>(x: T): T {
    const [, h, w] = F.getDimensions(x);
    const p = RandomAffine.getParams(this.degrees, this.translate, this.scale, this.shear, [h, w], this.generator);
    return F.affine(x, { ...p, interpolation: this.interpolation, fill: this.fill, center: this.center ?? undefined }) as T;
  }
  spec(): TransformSpec {
    return { name: 'RandomAffine', args: [this.degrees, { translate: this.translate, scale: this.scale, shear: this.shear, interpolation: this.interpolation, fill: this.fill, center: this.center }] };
  }
}

/** Gaussian blur with sigma drawn uniformly from [min, max] (torchvision.transforms.GaussianBlur). */
export class GaussianBlur extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly kernelSize: [number, number];
  readonly sigma: [number, number];
  readonly generator: Generator | undefined;
  /** kernelSize: odd and positive, one number or [kx, ky]; sigma: s > 0 (fixed) or [min, max] (default [0.1, 2]). */
  constructor(kernelSize: number | readonly number[], sigma: number | readonly number[] = [0.1, 2], opts: { generator?: Generator } = {}) {
    super();
    const op = 'GaussianBlur';
    const ks = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : Array.isArray(kernelSize) && kernelSize.length === 1 ? [kernelSize[0], kernelSize[0]] : kernelSize;
    if (!Array.isArray(ks) || ks.length !== 2 || ks.some((k) => !Number.isInteger(k) || k <= 0 || k % 2 === 0)) {
      fail('ARGUMENT', op, `kernel size values must be odd positive integers (one number or [kx, ky]); got ${JSON.stringify(kernelSize)}`, 'use e.g. 3 or [3, 5]');
    }
    this.kernelSize = [ks[0], ks[1]];
    if (typeof sigma === 'number') {
      if (!(sigma > 0) || !Number.isFinite(sigma)) fail('ARGUMENT', op, `if sigma is a single number, it must be positive; got ${sigma}`);
      this.sigma = [sigma, sigma];
    } else {
      if (!Array.isArray(sigma) || sigma.length !== 2 || !(sigma[0] > 0 && sigma[0] <= sigma[1] && Number.isFinite(sigma[1]))) fail('ARGUMENT', op, `sigma values must be positive and of the form [min, max]; got ${JSON.stringify(sigma)}`);
      this.sigma = [sigma[0], sigma[1]];
    }
    this.generator = opts.generator;
  }
  /** torchvision's get_params: sigma, uniform in [min, max) (float32). */
  static getParams(sigmaMin: number, sigmaMax: number, generator?: Generator): number {
    return uniform(generatorOf(generator), sigmaMin, sigmaMax);
  }
  apply<T extends ImageOrTensor>(x: T): T {
    const s = GaussianBlur.getParams(this.sigma[0], this.sigma[1], this.generator);
    return F.gaussianBlur(x, this.kernelSize, [s, s]) as T;
  }
  spec(): TransformSpec {
    return { name: 'GaussianBlur', args: [this.kernelSize, this.sigma] };
  }
}

function transformList(op: string, transforms: readonly TransformLike<never, unknown>[]): Transform[] {
  if (!Array.isArray(transforms)) fail('ARGUMENT', op, `expected an array of transforms; got ${typeof transforms}`);
  return transforms.map((t, i) => toTransform(t as TransformLike, `${op}: transform ${i}`));
}

/** Apply all the transforms, in order, with probability p (torchvision.transforms.RandomApply: one uniform draw, applied when it is <= p). */
// biome-ignore lint/suspicious/noExplicitAny: a chain of transforms of the caller's choosing, as Compose
export class RandomApply extends Transform<any, any> {
  readonly transforms: Transform[];
  readonly p: number;
  readonly generator: Generator | undefined;
  constructor(transforms: readonly TransformLike<never, unknown>[], p = 0.5, opts: { generator?: Generator } = {}) {
    super();
    this.transforms = transformList('RandomApply', transforms);
    this.p = checkProbability('RandomApply', p);
    this.generator = opts.generator;
  }
  // biome-ignore lint/suspicious/noExplicitAny: see the class
  apply(input: any): any {
    if (this.p < generatorOf(this.generator).nextFloat()) return input;
    let x: unknown = input;
    for (const t of this.transforms) x = t.apply(x);
    return x;
  }
  spec(): TransformSpec {
    return { name: 'RandomApply', args: [this.transforms.map((t, i) => specOf(t, `RandomApply (transform ${i})`)), this.p] };
  }
}

/**
 * Apply one of the transforms, picked with the weights `p` (default equal) (torchvision.transforms.RandomChoice).
 * torchvision draws from Python's `random`; here one uniform double of the generator picks, as random.choices does.
 */
// biome-ignore lint/suspicious/noExplicitAny: see RandomApply
export class RandomChoice extends Transform<any, any> {
  readonly transforms: Transform[];
  readonly p: number[] | null;
  readonly generator: Generator | undefined;
  constructor(transforms: readonly TransformLike<never, unknown>[], p: readonly number[] | null = null, opts: { generator?: Generator } = {}) {
    super();
    const op = 'RandomChoice';
    this.transforms = transformList(op, transforms);
    if (this.transforms.length === 0) fail('ARGUMENT', op, 'needs at least one transform to choose from; got an empty array');
    if (p !== null && p !== undefined) {
      if (!Array.isArray(p) || p.length !== this.transforms.length) fail('ARGUMENT', op, `p must have one weight per transform (${this.transforms.length}); got ${JSON.stringify(p)}`);
      if (p.some((w) => typeof w !== 'number' || !(w >= 0) || !Number.isFinite(w)) || !(p.reduce((a, b) => a + b, 0) > 0)) fail('ARGUMENT', op, `p must be non-negative weights with a positive sum; got ${JSON.stringify(p)}`);
    }
    this.p = p ? [...p] : null;
    this.generator = opts.generator;
  }
  /** The index of the transform to apply. */
  static getParams(n: number, p: readonly number[] | null, generator?: Generator): number {
    const u = generatorOf(generator).nextDouble();
    if (p === null) return Math.floor(u * n);
    const total = p.reduce((a, b) => a + b, 0);
    let cum = 0;
    for (let i = 0; i < n - 1; i++) {
      cum += p[i];
      if (u * total < cum) return i;
    }
    return n - 1;
  }
  // biome-ignore lint/suspicious/noExplicitAny: see the class
  apply(input: any): any {
    return this.transforms[RandomChoice.getParams(this.transforms.length, this.p, this.generator)].apply(input);
  }
  spec(): TransformSpec {
    return { name: 'RandomChoice', args: [this.transforms.map((t, i) => specOf(t, `RandomChoice (transform ${i})`)), this.p] };
  }
}

/** Apply all the transforms in a random order (torchvision.transforms.RandomOrder; the order is randperm of the generator, where torchvision shuffles with Python's `random`). */
// biome-ignore lint/suspicious/noExplicitAny: see RandomApply
export class RandomOrder extends Transform<any, any> {
  readonly transforms: Transform[];
  readonly generator: Generator | undefined;
  constructor(transforms: readonly TransformLike<never, unknown>[], opts: { generator?: Generator } = {}) {
    super();
    this.transforms = transformList('RandomOrder', transforms);
    this.generator = opts.generator;
  }
  /** The order of application: a permutation of 0..n-1. */
  static getParams(n: number, generator?: Generator): number[] {
    const perm = randperm(n, { generator: generatorOf(generator) });
    const order = Array.from(perm.dataSync());
    perm.dispose();
    return order;
  }
  // biome-ignore lint/suspicious/noExplicitAny: see the class
  apply(input: any): any {
    let x: unknown = input;
    for (const i of RandomOrder.getParams(this.transforms.length, this.generator)) x = this.transforms[i].apply(x);
    return x;
  }
  spec(): TransformSpec {
    return { name: 'RandomOrder', args: [this.transforms.map((t, i) => specOf(t, `RandomOrder (transform ${i})`))] };
  }
}

/** A deterministic op applied with probability p: one uniform draw, applied when it is < p (torchvision's Random<Op> classes). */
abstract class RandomOp extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly p: number;
  readonly generator: Generator | undefined;
  constructor(op: string, p: number, generator: Generator | undefined) {
    super();
    this.p = checkProbability(op, p);
    this.generator = generator;
  }
  protected abstract op(x: ImageOrTensor): ImageOrTensor;
  apply<T extends ImageOrTensor>(x: T): T {
    return (generatorOf(this.generator).nextFloat() < this.p ? this.op(x) : x) as T;
  }
}

/** Convert to gray with probability p (default 0.1), keeping the number of channels (torchvision.transforms.RandomGrayscale). */
export class RandomGrayscale extends RandomOp {
  constructor(p = 0.1, opts: { generator?: Generator } = {}) {
    super('RandomGrayscale', p, opts.generator);
  }
  protected op(x: ImageOrTensor): ImageOrTensor {
    return F.rgbToGrayscale(x, F.getDimensions(x)[0] as 1 | 3);
  }
  spec(): TransformSpec {
    return { name: 'RandomGrayscale', args: [this.p] };
  }
}

/** Invert the colours with probability p (torchvision.transforms.RandomInvert). */
export class RandomInvert extends RandomOp {
  constructor(p = 0.5, opts: { generator?: Generator } = {}) {
    super('RandomInvert', p, opts.generator);
  }
  protected op(x: ImageOrTensor): ImageOrTensor {
    return F.invert(x);
  }
  spec(): TransformSpec {
    return { name: 'RandomInvert', args: [this.p] };
  }
}

/** Keep `bits` bits per channel with probability p (uint8; torchvision.transforms.RandomPosterize). */
export class RandomPosterize extends RandomOp {
  readonly bits: number;
  constructor(bits: number, p = 0.5, opts: { generator?: Generator } = {}) {
    super('RandomPosterize', p, opts.generator);
    if (!Number.isInteger(bits) || bits < 0 || bits > 8) fail('ARGUMENT', 'RandomPosterize', `bits must be an integer in [0, 8]; got ${bits}`);
    this.bits = bits;
  }
  protected op(x: ImageOrTensor): ImageOrTensor {
    return F.posterize(x, this.bits);
  }
  spec(): TransformSpec {
    return { name: 'RandomPosterize', args: [this.bits, this.p] };
  }
}

/** Invert the values at or above `threshold` with probability p (torchvision.transforms.RandomSolarize). */
export class RandomSolarize extends RandomOp {
  readonly threshold: number;
  constructor(threshold: number, p = 0.5, opts: { generator?: Generator } = {}) {
    super('RandomSolarize', p, opts.generator);
    if (typeof threshold !== 'number' || !Number.isFinite(threshold)) fail('ARGUMENT', 'RandomSolarize', `threshold must be a finite number; got ${JSON.stringify(threshold)}`);
    this.threshold = threshold;
  }
  protected op(x: ImageOrTensor): ImageOrTensor {
    return F.solarize(x, this.threshold);
  }
  spec(): TransformSpec {
    return { name: 'RandomSolarize', args: [this.threshold, this.p] };
  }
}

/** Adjust the sharpness by `sharpnessFactor` with probability p (torchvision.transforms.RandomAdjustSharpness). */
export class RandomAdjustSharpness extends RandomOp {
  readonly sharpnessFactor: number;
  constructor(sharpnessFactor: number, p = 0.5, opts: { generator?: Generator } = {}) {
    super('RandomAdjustSharpness', p, opts.generator);
    if (typeof sharpnessFactor !== 'number' || !(sharpnessFactor >= 0) || !Number.isFinite(sharpnessFactor)) fail('ARGUMENT', 'RandomAdjustSharpness', `sharpnessFactor must be a non-negative number; got ${JSON.stringify(sharpnessFactor)}`, '0 blurs, 1 keeps the image, 2 sharpens');
    this.sharpnessFactor = sharpnessFactor;
  }
  protected op(x: ImageOrTensor): ImageOrTensor {
    return F.adjustSharpness(x, this.sharpnessFactor);
  }
  spec(): TransformSpec {
    return { name: 'RandomAdjustSharpness', args: [this.sharpnessFactor, this.p] };
  }
}

/** Autocontrast with probability p (torchvision.transforms.RandomAutocontrast). */
export class RandomAutocontrast extends RandomOp {
  constructor(p = 0.5, opts: { generator?: Generator } = {}) {
    super('RandomAutocontrast', p, opts.generator);
  }
  protected op(x: ImageOrTensor): ImageOrTensor {
    return F.autocontrast(x);
  }
  spec(): TransformSpec {
    return { name: 'RandomAutocontrast', args: [this.p] };
  }
}

/** Equalize the histogram with probability p (uint8; torchvision.transforms.RandomEqualize). */
export class RandomEqualize extends RandomOp {
  constructor(p = 0.5, opts: { generator?: Generator } = {}) {
    super('RandomEqualize', p, opts.generator);
  }
  protected op(x: ImageOrTensor): ImageOrTensor {
    return F.equalize(x);
  }
  spec(): TransformSpec {
    return { name: 'RandomEqualize', args: [this.p] };
  }
}

/** A function as a transform. It works on the main thread only: a function cannot be copied to a DataLoader worker. */
export class Lambda<I = unknown, O = unknown> extends Transform<I, O> {
  readonly fn: (input: I) => O;
  constructor(fn: (input: I) => O) {
    super();
    if (typeof fn !== 'function') fail('ARGUMENT', 'Lambda', `expected a function; got ${typeof fn}`);
    this.fn = fn;
  }
  apply(input: I): O {
    return this.fn(input);
  }
  spec(): TransformSpec {
    return fail(
      'ARGUMENT',
      'Lambda',
      `a Lambda transform (${this.fn.name || 'an anonymous function'}) cannot be sent to a DataLoader worker thread: functions cannot be copied between threads`,
      'use numWorkers: 0, or write the step as a class extending transforms.Transform with a spec() and registerTransform() it in a module the worker imports',
    );
  }
  override toString(): string {
    return `Lambda(${this.fn.name || 'anonymous'})`;
  }
}

// Every built-in can be rebuilt from its spec.
const BUILTINS = {
  Compose,
  ToTensor,
  PILToTensor,
  ToPILImage,
  Normalize,
  Resize,
  CenterCrop,
  Pad,
  RandomCrop,
  RandomHorizontalFlip,
  RandomVerticalFlip,
  RandomResizedCrop,
  Grayscale,
  ColorJitter,
  RandomErasing,
  RandomRotation,
  RandomAffine,
  GaussianBlur,
  RandomApply,
  RandomChoice,
  RandomOrder,
  RandomGrayscale,
  RandomInvert,
  RandomPosterize,
  RandomSolarize,
  RandomAdjustSharpness,
  RandomAutocontrast,
  RandomEqualize,
};
for (const [name, ctor] of Object.entries(BUILTINS)) registerTransform(name, ctor as never);
