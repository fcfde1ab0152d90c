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
};
for (const [name, ctor] of Object.entries(BUILTINS)) registerTransform(name, ctor as never);
