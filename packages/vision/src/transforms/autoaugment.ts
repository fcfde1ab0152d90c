/**
 * AutoAugment, RandAugment and TrivialAugmentWide (torchvision.transforms, 0.14): each picks
 * ops from a table (the augmentation space: op name -> magnitude bins, and whether the
 * magnitude takes a random sign) and applies them with torchvision's `_apply_op` semantics.
 * The draws come from the `generator` option or the default generator, in torchvision's order
 * and with its formulas (randint, rand), so a seed gives torchvision's choices under
 * torch.manual_seed of the same seed. Shear, translate and rotate work on tensors of any
 * dtype; Posterize and Equalize need uint8 (as torchvision), so these transforms are meant for
 * uint8 images before ToTensor.
 */
import type { Generator } from '@dl/tensor';
import { defaultGenerator } from '@dl/tensor';
import { fail } from '../errors.js';
import * as F from './functional.js';
import type { FillArg, ImageOrTensor } from './raster.js';
import { registerTransform } from './spec.js';
import type { TransformSpec } from './spec.js';
import { Transform } from './transforms.js';

export type AugmentOpName =
  | 'Identity'
  | 'ShearX'
  | 'ShearY'
  | 'TranslateX'
  | 'TranslateY'
  | 'Rotate'
  | 'Brightness'
  | 'Color'
  | 'Contrast'
  | 'Sharpness'
  | 'Posterize'
  | 'Solarize'
  | 'AutoContrast'
  | 'Equalize'
  | 'Invert';

/** One entry of an augmentation space: the magnitude bins (null: the op takes none) and whether the sign is drawn. */
export interface AugmentOpMeta {
  magnitudes: number[] | null;
  signed: boolean;
}

/** An op as drawn: its name and magnitude (0 for ops without one). */
export interface AugmentOp {
  name: AugmentOpName;
  magnitude: number;
}

export interface AugmentOptions {
  /** 'nearest' (default) or 'bilinear', for the geometric ops. */
  interpolation?: F.InterpolationMode;
  /** The value outside warped images: a number or one per channel; null (default) leaves 0 without a fill mask, as torchvision's None. */
  fill?: FillArg | null;
  generator?: Generator;
}

const f32 = Math.fround;
/** a + b * c rounded once to float32 (the fused multiply-add of torch's scalar kernels; b * c of two float32 values is exact in float64). */
const fma32 = (b: number, c: number, a: number) => f32(b * c + a);

/**
 * torch.linspace(start, end, steps) in float32, value for value as PyTorch 1.13's CPU kernel
 * makes it: the first half counts up from start, the second down from end (one fused
 * multiply-add each), except blocks of 16 values, which are two runs of 8 from a block start.
 */
function linspace32(start: number, end: number, steps: number): number[] {
  const a = f32(start);
  const b = f32(end);
  if (steps === 1) return [a];
  const step = f32(f32(b - a) / (steps - 1));
  const half = Math.floor(steps / 2);
  const scalar = (i: number) => (i < half ? fma32(step, i, a) : fma32(-step, steps - i - 1, b));
  const out: number[] = [];
  let i = 0;
  while (i < steps) {
    if (steps - i >= 16) {
      for (let run = 0; run < 2; run++, i += 8) {
        const base = i < half ? f32(a + f32(step * i)) : fma32(-step, steps - i - 1, b);
        for (let k = 0; k < 8; k++) out.push(f32(base + f32(k * step)));
      }
    } else {
      out.push(scalar(i++));
    }
  }
  return out;
}

/** 8 - round(i / ((n - 1) / div)) for i < n: the Posterize bins (bits kept). */
function posterizeBins(n: number, div: number): number[] {
  const d = f32((n - 1) / div);
  return Array.from({ length: n }, (_, i) => 8 - F.roundHalfEven(f32(i / d)));
}

function space(entries: [AugmentOpName, number[] | null, boolean][]): Map<AugmentOpName, AugmentOpMeta> {
  return new Map(entries.map(([name, magnitudes, signed]) => [name, { magnitudes, signed }]));
}

/** AutoAugment's and RandAugment's space (RandAugment adds Identity first and has no Invert). */
function autoAugmentSpace(numBins: number, height: number, width: number, rand: boolean): Map<AugmentOpName, AugmentOpMeta> {
  const entries: [AugmentOpName, number[] | null, boolean][] = [
    ['ShearX', linspace32(0, 0.3, numBins), true],
    ['ShearY', linspace32(0, 0.3, numBins), true],
    ['TranslateX', linspace32(0, (150 / 331) * width, numBins), true],
    ['TranslateY', linspace32(0, (150 / 331) * height, numBins), true],
    ['Rotate', linspace32(0, 30, numBins), true],
    ['Brightness', linspace32(0, 0.9, numBins), true],
    ['Color', linspace32(0, 0.9, numBins), true],
    ['Contrast', linspace32(0, 0.9, numBins), true],
    ['Sharpness', linspace32(0, 0.9, numBins), true],
    ['Posterize', posterizeBins(numBins, 4), false],
    ['Solarize', linspace32(255, 0, numBins), false],
    ['AutoContrast', null, false],
    ['Equalize', null, false],
  ];
  return space(rand ? [['Identity', null, false], ...entries] : [...entries, ['Invert', null, false]]);
}

/**
 * One op on an image, as torchvision's _apply_op: shears are affine maps about the top-left
 * corner by atan(magnitude) (in degrees), translations are whole pixels (truncated), colour
 * factors are 1 + magnitude, Posterize keeps trunc(magnitude) bits, Solarize's threshold is the magnitude.
 */
export function applyAugmentOp(x: ImageOrTensor, op: AugmentOp, opts: { interpolation?: F.InterpolationMode; fill?: FillArg | null } = {}): ImageOrTensor {
  const m = op.magnitude;
  const interpolation = opts.interpolation ?? 'nearest';
  const fill = opts.fill ?? undefined;
  const deg = (v: number) => (Math.atan(v) * 180) / Math.PI;
  switch (op.name) {
    case 'Identity':
      return x;
    case 'ShearX':
      return F.affine(x, { shear: [deg(m), 0], interpolation, fill, center: [0, 0] });
    case 'ShearY':
      return F.affine(x, { shear: [0, deg(m)], interpolation, fill, center: [0, 0] });
    case 'TranslateX':
      return F.affine(x, { translate: [Math.trunc(m), 0], interpolation, fill });
    case 'TranslateY':
      return F.affine(x, { translate: [0, Math.trunc(m)], interpolation, fill });
    case 'Rotate':
      return F.rotate(x, m, { interpolation, fill });
    case 'Brightness':
      return F.adjustBrightness(x, 1 + m);
    case 'Color':
      return F.adjustSaturation(x, 1 + m);
    case 'Contrast':
      return F.adjustContrast(x, 1 + m);
    case 'Sharpness':
      return F.adjustSharpness(x, 1 + m);
    case 'Posterize':
      return F.posterize(x, Math.trunc(m));
    case 'Solarize':
      return F.solarize(x, m);
    case 'AutoContrast':
      return F.autocontrast(x);
    case 'Equalize':
      return F.equalize(x);
    case 'Invert':
      return F.invert(x);
    default:
      return fail('ARGUMENT', 'applyAugmentOp', `unknown op ${JSON.stringify((op as AugmentOp).name)}`, 'use one of Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, Brightness, Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize, Invert');
  }
}

function checkAugmentOptions(op: string, opts: AugmentOptions): { interpolation: F.InterpolationMode; fill: FillArg | null } {
  const interpolation = opts.interpolation ?? 'nearest';
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') fail('ARGUMENT', op, `interpolation must be 'nearest' or 'bilinear'; got ${JSON.stringify(interpolation)}`);
  const fill = opts.fill ?? null;
  if (fill !== null && !(typeof fill === 'number' ? Number.isFinite(fill) : Array.isArray(fill) && fill.length > 0 && fill.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    fail('ARGUMENT', op, `fill must be null, a number or an array of numbers (one per channel); got ${JSON.stringify(fill)}`);
  }
  return { interpolation, fill: Array.isArray(fill) ? [...fill] : fill };
}

function checkInt(op: string, name: string, v: number, min: number, max = Infinity): number {
  if (!Number.isInteger(v) || v < min || v > max) fail('ARGUMENT', op, `${name} must be an integer in [${min}, ${max === Infinity ? '∞' : max}]; got ${v}`);
  return v;
}

export type AutoAugmentPolicy = 'imagenet' | 'cifar10' | 'svhn';

type SubPolicy = [[AugmentOpName, number, number | null], [AugmentOpName, number, number | null]];

// The learned policies of the AutoAugment paper (Cubuk et al., 2019, appendix), in torchvision's
// order: 25 sub-policies of two (op, probability, magnitude bin of 10) steps each.
const P = (a: AugmentOpName, pa: number, ma: number | null, b: AugmentOpName, pb: number, mb: number | null): SubPolicy => [
  [a, pa, ma],
  [b, pb, mb],
];
const POLICIES: Record<AutoAugmentPolicy, SubPolicy[]> = {
  imagenet: [
    P('Posterize', 0.4, 8, 'Rotate', 0.6, 9),
    P('Solarize', 0.6, 5, 'AutoContrast', 0.6, null),
    P('Equalize', 0.8, null, 'Equalize', 0.6, null),
    P('Posterize', 0.6, 7, 'Posterize', 0.6, 6),
    P('Equalize', 0.4, null, 'Solarize', 0.2, 4),
    P('Equalize', 0.4, null, 'Rotate', 0.8, 8),
    P('Solarize', 0.6, 3, 'Equalize', 0.6, null),
    P('Posterize', 0.8, 5, 'Equalize', 1.0, null),
    P('Rotate', 0.2, 3, 'Solarize', 0.6, 8),
    P('Equalize', 0.6, null, 'Posterize', 0.4, 6),
    P('Rotate', 0.8, 8, 'Color', 0.4, 0),
    P('Rotate', 0.4, 9, 'Equalize', 0.6, null),
    P('Equalize', 0.0, null, 'Equalize', 0.8, null),
    P('Invert', 0.6, null, 'Equalize', 1.0, null),
    P('Color', 0.6, 4, 'Contrast', 1.0, 8),
    P('Rotate', 0.8, 8, 'Color', 1.0, 2),
    P('Color', 0.8, 8, 'Solarize', 0.8, 7),
    P('Sharpness', 0.4, 7, 'Invert', 0.6, null),
    P('ShearX', 0.6, 5, 'Equalize', 1.0, null),
    P('Color', 0.4, 0, 'Equalize', 0.6, null),
    P('Equalize', 0.4, null, 'Solarize', 0.2, 4),
    P('Solarize', 0.6, 5, 'AutoContrast', 0.6, null),
    P('Invert', 0.6, null, 'Equalize', 1.0, null),
    P('Color', 0.6, 4, 'Contrast', 1.0, 8),
    P('Equalize', 0.8, null, 'Equalize', 0.6, null),
  ],
  cifar10: [
    P('Invert', 0.1, null, 'Contrast', 0.2, 6),
    P('Rotate', 0.7, 2, 'TranslateX', 0.3, 9),
    P('Sharpness', 0.8, 1, 'Sharpness', 0.9, 3),
    P('ShearY', 0.5, 8, 'TranslateY', 0.7, 9),
    P('AutoContrast', 0.5, null, 'Equalize', 0.9, null),
    P('ShearY', 0.2, 7, 'Posterize', 0.3, 7),
    P('Color', 0.4, 3, 'Brightness', 0.6, 7),
    P('Sharpness', 0.3, 9, 'Brightness', 0.7, 9),
    P('Equalize', 0.6, null, 'Equalize', 0.5, null),
    P('Contrast', 0.6, 7, 'Sharpness', 0.6, 5),
    P('Color', 0.7, 7, 'TranslateX', 0.5, 8),
    P('Equalize', 0.3, null, 'AutoContrast', 0.4, null),
    P('TranslateY', 0.4, 3, 'Sharpness', 0.2, 6),
    P('Brightness', 0.9, 6, 'Color', 0.2, 8),
    P('Solarize', 0.5, 2, 'Invert', 0.0, null),
    P('Equalize', 0.2, null, 'AutoContrast', 0.6, null),
    P('Equalize', 0.2, null, 'Equalize', 0.6, null),
    P('Color', 0.9, 9, 'Equalize', 0.6, null),
    P('AutoContrast', 0.8, null, 'Solarize', 0.2, 8),
    P('Brightness', 0.1, 3, 'Color', 0.7, 0),
    P('Solarize', 0.4, 5, 'AutoContrast', 0.9, null),
    P('TranslateY', 0.9, 9, 'TranslateY', 0.7, 9),
    P('AutoContrast', 0.9, null, 'Solarize', 0.8, 3),
    P('Equalize', 0.8, null, 'Invert', 0.1, null),
    P('TranslateY', 0.7, 9, 'AutoContrast', 0.9, null),
  ],
  svhn: [
    P('ShearX', 0.9, 4, 'Invert', 0.2, null),
    P('ShearY', 0.9, 8, 'Invert', 0.7, null),
    P('Equalize', 0.6, null, 'Solarize', 0.6, 6),
    P('Invert', 0.9, null, 'Equalize', 0.6, null),
    P('Equalize', 0.6, null, 'Rotate', 0.9, 3),
    P('ShearX', 0.9, 4, 'AutoContrast', 0.8, null),
    P('ShearY', 0.9, 8, 'Invert', 0.4, null),
    P('ShearY', 0.9, 5, 'Solarize', 0.2, 6),
    P('Invert', 0.9, null, 'AutoContrast', 0.8, null),
    P('Equalize', 0.6, null, 'Rotate', 0.9, 3),
    P('ShearX', 0.9, 4, 'Solarize', 0.3, 3),
    P('ShearY', 0.8, 8, 'Invert', 0.7, null),
    P('Equalize', 0.9, null, 'TranslateY', 0.6, 6),
    P('Invert', 0.9, null, 'Equalize', 0.6, null),
    P('Contrast', 0.3, 3, 'Rotate', 0.8, 4),
    P('Invert', 0.8, null, 'TranslateY', 0.0, 2),
    P('ShearY', 0.7, 6, 'Solarize', 0.4, 8),
    P('Invert', 0.6, null, 'Rotate', 0.8, 4),
    P('ShearY', 0.3, 7, 'TranslateX', 0.9, 3),
    P('ShearX', 0.1, 6, 'Invert', 0.6, null),
    P('Solarize', 0.7, 2, 'TranslateY', 0.6, 7),
    P('ShearY', 0.8, 4, 'Invert', 0.8, null),
    P('ShearX', 0.7, 9, 'TranslateY', 0.8, 3),
    P('ShearY', 0.8, 5, 'AutoContrast', 0.7, null),
    P('ShearX', 0.7, 2, 'Invert', 0.1, null),
  ],
};

/** Base of the three: draws the ops for an image size, then applies them in turn. */
abstract class Augment extends Transform<ImageOrTensor, ImageOrTensor> {
  readonly interpolation: F.InterpolationMode;
  readonly fill: FillArg | null;
  readonly generator: Generator | undefined;
  constructor(op: string, opts: AugmentOptions) {
    super();
    const o = checkAugmentOptions(op, opts);
    this.interpolation = o.interpolation;
    this.fill = o.fill;
    this.generator = opts.generator;
  }
  /** The ops to apply to an image of this size, drawn from the generator (or the given one). */
  abstract sampleOps(height: number, width: number, generator?: Generator): AugmentOp[];
  apply<T extends ImageOrTensor>(x: T): T {
    const [, h, w] = F.getDimensions(x);
    let img: ImageOrTensor = x;
    for (const op of this.sampleOps(h, w)) img = applyAugmentOp(img, op, { interpolation: this.interpolation, fill: this.fill });
    return img as T;
  }
  protected gen(generator: Generator | undefined): Generator {
    return generator ?? this.generator ?? defaultGenerator;
  }
  protected options(): Record<string, unknown> {
    return { interpolation: this.interpolation, fill: this.fill };
  }
}

/** AutoAugment with a learned policy: one random sub-policy, each of its two steps applied with its probability (torchvision.transforms.AutoAugment). */
export class AutoAugment extends Augment {
  readonly policy: AutoAugmentPolicy;
  constructor(policy: AutoAugmentPolicy = 'imagenet', opts: AugmentOptions = {}) {
    super('AutoAugment', opts);
    if (!Object.hasOwn(POLICIES, policy)) fail('ARGUMENT', 'AutoAugment', `unknown policy ${JSON.stringify(policy)}`, "use 'imagenet', 'cifar10' or 'svhn'");
    this.policy = policy;
  }
  /** The policy's sub-policies: pairs of [op, probability, magnitude bin (null: none)]. */
  get policies(): SubPolicy[] {
    return POLICIES[this.policy];
  }
  /** torchvision's get_params: the sub-policy index (randint), two probabilities (rand) and two signs (randint(2); 0 negates). */
  static getParams(transformNum: number, generator?: Generator): { policyId: number; probs: [number, number]; signs: [number, number] } {
    const g = generator ?? defaultGenerator;
    const policyId = g.nextBelow(transformNum);
    const probs: [number, number] = [g.nextFloat(), g.nextFloat()];
    const signs: [number, number] = [g.nextBelow(2), g.nextBelow(2)];
    return { policyId, probs, signs };
  }
  /** The augmentation space with 10 bins for an image of this size. */
  augmentationSpace(numBins: number, height: number, width: number): Map<AugmentOpName, AugmentOpMeta> {
    return autoAugmentSpace(numBins, height, width, false);
  }
  sampleOps(height: number, width: number, generator?: Generator): AugmentOp[] {
    const { policyId, probs, signs } = AutoAugment.getParams(this.policies.length, this.gen(generator));
    const meta = this.augmentationSpace(10, height, width);
    const ops: AugmentOp[] = [];
    this.policies[policyId].forEach(([name, p, bin], i) => {
      if (!(probs[i] <= p)) return;
      const { magnitudes, signed } = meta.get(name) as AugmentOpMeta;
      let magnitude = bin === null || magnitudes === null ? 0 : magnitudes[bin];
      if (signed && signs[i] === 0) magnitude = -magnitude;
      ops.push({ name, magnitude });
    });
    return ops;
  }
  spec(): TransformSpec {
    return { name: 'AutoAugment', args: [this.policy, this.options()] };
  }
}

export interface RandAugmentOptions extends AugmentOptions {
  /** Ops applied in a row (default 2). */
  numOps?: number;
  /** The magnitude bin of every op (default 9). */
  magnitude?: number;
  /** Bins of the magnitude ranges (default 31). */
  numMagnitudeBins?: number;
}

/** RandAugment: numOps uniformly drawn ops at one fixed magnitude bin, with random signs (torchvision.transforms.RandAugment). */
export class RandAugment extends Augment {
  readonly numOps: number;
  readonly magnitude: number;
  readonly numMagnitudeBins: number;
  constructor(opts: RandAugmentOptions = {}) {
    super('RandAugment', opts);
    const op = 'RandAugment';
    this.numOps = checkInt(op, 'numOps', opts.numOps ?? 2, 0);
    this.numMagnitudeBins = checkInt(op, 'numMagnitudeBins', opts.numMagnitudeBins ?? 31, 2);
    this.magnitude = checkInt(op, 'magnitude', opts.magnitude ?? 9, 0, this.numMagnitudeBins - 1);
  }
  augmentationSpace(numBins: number, height: number, width: number): Map<AugmentOpName, AugmentOpMeta> {
    return autoAugmentSpace(numBins, height, width, true);
  }
  sampleOps(height: number, width: number, generator?: Generator): AugmentOp[] {
    const g = this.gen(generator);
    const meta = [...this.augmentationSpace(this.numMagnitudeBins, height, width)];
    const ops: AugmentOp[] = [];
    for (let k = 0; k < this.numOps; k++) {
      const [name, { magnitudes, signed }] = meta[g.nextBelow(meta.length)];
      let magnitude = magnitudes === null ? 0 : magnitudes[this.magnitude];
      if (signed && g.nextBelow(2) === 1) magnitude = -magnitude;
      ops.push({ name, magnitude });
    }
    return ops;
  }
  spec(): TransformSpec {
    return { name: 'RandAugment', args: [{ numOps: this.numOps, magnitude: this.magnitude, numMagnitudeBins: this.numMagnitudeBins, ...this.options() }] };
  }
}

export interface TrivialAugmentWideOptions extends AugmentOptions {
  /** Bins of the magnitude ranges (default 31). */
  numMagnitudeBins?: number;
}

/** TrivialAugment (wide ranges): one uniformly drawn op at a uniformly drawn magnitude bin, with a random sign (torchvision.transforms.TrivialAugmentWide). */
export class TrivialAugmentWide extends Augment {
  readonly numMagnitudeBins: number;
  constructor(opts: TrivialAugmentWideOptions = {}) {
    super('TrivialAugmentWide', opts);
    this.numMagnitudeBins = checkInt('TrivialAugmentWide', 'numMagnitudeBins', opts.numMagnitudeBins ?? 31, 2);
  }
  augmentationSpace(numBins: number): Map<AugmentOpName, AugmentOpMeta> {
    const wide = linspace32(0, 0.99, numBins);
    return space([
      ['Identity', null, false],
      ['ShearX', wide, true],
      ['ShearY', wide, true],
      ['TranslateX', linspace32(0, 32, numBins), true],
      ['TranslateY', linspace32(0, 32, numBins), true],
      ['Rotate', linspace32(0, 135, numBins), true],
      ['Brightness', wide, true],
      ['Color', wide, true],
      ['Contrast', wide, true],
      ['Sharpness', wide, true],
      ['Posterize', posterizeBins(numBins, 6), false],
      ['Solarize', linspace32(255, 0, numBins), false],
      ['AutoContrast', null, false],
      ['Equalize', null, false],
    ]);
  }
  sampleOps(_height: number, _width: number, generator?: Generator): AugmentOp[] {
    const g = this.gen(generator);
    const meta = [...this.augmentationSpace(this.numMagnitudeBins)];
    const [name, { magnitudes, signed }] = meta[g.nextBelow(meta.length)];
    let magnitude = magnitudes === null ? 0 : magnitudes[g.nextBelow(magnitudes.length)];
    if (signed && g.nextBelow(2) === 1) magnitude = -magnitude;
    return [{ name, magnitude }];
  }
  spec(): TransformSpec {
    return { name: 'TrivialAugmentWide', args: [{ numMagnitudeBins: this.numMagnitudeBins, ...this.options() }] };
  }
}

for (const [name, ctor] of Object.entries({ AutoAugment, RandAugment, TrivialAugmentWide })) registerTransform(name, ctor as never);
