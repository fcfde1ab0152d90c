/**
 * The augmentation transforms of CIFAR-10 recipes (rotate, affine, blur, the AutoAugment
 * family's colour ops and the random transforms over them), checked against torchvision 0.14
 * run once for this file (test/fixtures/torchvision_augment.py; without a python3 that imports
 * torchvision those tests skip, saying so in their names), and on their own: drawn parameters
 * and their ranges, the random containers' semantics, the policy tables, specs and errors.
 *
 * Tolerances against torchvision: uint8 results of nearest sampling and of the colour ops are
 * exact; uint8 results of bilinear sampling and blurs may differ by 1 (a float32 sum that lands
 * within rounding error of .5); float32 results by 2e-6 (float32 arithmetic in another order).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Generator, manualSeed, tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { io, transforms } from '../src/index.js';
import type { Image } from '../src/index.js';
import { afterAll, describe, expect, it } from 'vitest';

const F = transforms.functional;
type T = transforms.Transform<Tensor, Tensor>;

const H = 12;
const W = 10;

function randomU8(shape: number[], seed: number): Tensor {
  const g = new Generator(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Uint8Array.from({ length: n }, () => g.nextBelow(256)), { shape });
}
const U8 = randomU8([3, H, W], 1);
const F32 = U8.to('float32').div(255);
/** Channel 1 constant, channel 2 in [40, 90]: autocontrast's two cases, equalize's step 0. */
const FLAT = (() => {
  const v = Array.from(U8.dataSync());
  for (let i = 0; i < H * W; i++) {
    v[H * W + i] = 77;
    v[2 * H * W + i] = 40 + (v[2 * H * W + i] % 51);
  }
  return tensor(Uint8Array.from(v), { shape: [3, H, W] });
})();
const BATCH = randomU8([2, 3, H, W], 2);

const enc = (t: Tensor) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) });

// ---------------------------------------------------------------- the torchvision run
const requests: unknown[] = [];
/** Queue a request; its answer is answers[index] once the file's one run is done. */
function ask(req: Record<string, unknown>): number {
  requests.push(req);
  return requests.length - 1;
}

interface OpCase {
  label: string;
  input: Tensor;
  ts: (x: Tensor) => Tensor;
  fn: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** 'exact' or the allowed deviation for uint8 inputs (floats: 2e-6). */
  u8: 'exact' | number;
  index?: number;
}

const fill3 = (x: Tensor) => (x.dtype === 'uint8' ? [10, 200, 77] : [0.1, 0.8, 0.3]);
const opCases: OpCase[] = [];
for (const x of [U8, F32]) {
  const d = x.dtype;
  const add = (c: Omit<OpCase, 'input' | 'label'> & { label: string }) => opCases.push({ ...c, input: x, label: `${c.label} (${d})` });
  for (const angle of [0, 30, -45, 90, 137.5, 180]) {
    add({ label: `rotate ${angle} nearest`, ts: (t) => F.rotate(t, angle) as Tensor, fn: 'rotate', args: [angle], u8: 'exact' });
  }
  for (const angle of [30, -12.5]) {
    add({ label: `rotate ${angle} bilinear`, ts: (t) => F.rotate(t, angle, { interpolation: 'bilinear' }) as Tensor, fn: 'rotate', args: [angle], kwargs: { interpolation: 'bilinear' }, u8: 1 });
  }
  for (const [angle, mode] of [[30, 'nearest'], [90, 'nearest'], [-50, 'bilinear']] as const) {
    add({ label: `rotate ${angle} ${mode} expand`, ts: (t) => F.rotate(t, angle, { interpolation: mode, expand: true }) as Tensor, fn: 'rotate', args: [angle], kwargs: { interpolation: mode, expand: true }, u8: mode === 'nearest' ? 'exact' : 1 });
  }
  add({ label: 'rotate 30 about [2, 3]', ts: (t) => F.rotate(t, 30, { center: [2, 3] }) as Tensor, fn: 'rotate', args: [30], kwargs: { center: [2, 3] }, u8: 'exact' });
  for (const mode of ['nearest', 'bilinear'] as const) {
    add({ label: `rotate 25 ${mode} with a fill per channel`, ts: (t) => F.rotate(t, 25, { interpolation: mode, fill: fill3(t) }) as Tensor, fn: 'rotate', args: [25], kwargs: { interpolation: mode, fill: fill3(x) }, u8: mode === 'nearest' ? 'exact' : 1 });
    add({ label: `rotate -70 ${mode} expand, fill 0`, ts: (t) => F.rotate(t, -70, { interpolation: mode, expand: true, fill: [0] }) as Tensor, fn: 'rotate', args: [-70], kwargs: { interpolation: mode, expand: true, fill: [0] }, u8: mode === 'nearest' ? 'exact' : 1 });
  }
  const affines: [string, transforms.AffineOptions][] = [
    ['angle 15, translate [2, -1], scale 1.2, shear [10, -5]', { angle: 15, translate: [2, -1], scale: 1.2, shear: [10, -5] }],
    ['scale 0.7', { angle: 0, translate: [0, 0], scale: 0.7, shear: [0, 0] }],
    ['scale 2 (half-pixel samples)', { angle: 0, translate: [0, 0], scale: 2, shear: [0, 0] }],
    ['shear 20 (a number: x only)', { angle: 0, translate: [0, 0], scale: 1, shear: 20 }],
    ['angle -30 about [0, 0], fill 7', { angle: -30, translate: [0, 0], scale: 1, shear: [0, 0], center: [0, 0], fill: 7 }],
    ['shear x atan(0.3) about [0, 0] (AutoAugment)', { angle: 0, translate: [0, 0], scale: 1, shear: [(Math.atan(0.3) * 180) / Math.PI, 0], center: [0, 0] }],
    ['translate [3, 0] (AutoAugment)', { angle: 0, translate: [3, 0], scale: 1, shear: [0, 0] }],
  ];
  for (const [label, o] of affines) {
    for (const mode of ['nearest', 'bilinear'] as const) {
      const kw: Record<string, unknown> = { ...o, interpolation: mode };
      if (typeof o.fill === 'number') kw.fill = [o.fill];
      add({ label: `affine ${label} ${mode}`, ts: (t) => F.affine(t, { ...o, interpolation: mode }) as Tensor, fn: 'affine', kwargs: kw, u8: mode === 'nearest' ? 'exact' : 1 });
    }
  }
  for (const [k, s] of [[3, 1], [[5, 3], [0.8, 1.5]], [5, undefined], [1, 0.5]] as const) {
    add({ label: `gaussianBlur ${JSON.stringify(k)} sigma ${JSON.stringify(s)}`, ts: (t) => F.gaussianBlur(t, k, s) as Tensor, fn: 'gaussian_blur', args: [typeof k === 'number' ? [k, k] : k, s === undefined ? null : s], u8: 1 });
  }
  add({ label: 'invert', ts: (t) => F.invert(t) as Tensor, fn: 'invert', u8: 'exact' });
  for (const th of d === 'uint8' ? [0, 128, 255] : [0.25, 0.5]) add({ label: `solarize ${th}`, ts: (t) => F.solarize(t, th) as Tensor, fn: 'solarize', args: [th], u8: 'exact' });
  for (const s of [0, 0.5, 1.7, 3]) add({ label: `adjustSharpness ${s}`, ts: (t) => F.adjustSharpness(t, s) as Tensor, fn: 'adjust_sharpness', args: [s], u8: 'exact' });
  add({ label: 'autocontrast', ts: (t) => F.autocontrast(t) as Tensor, fn: 'autocontrast', u8: 'exact' });
  if (d === 'uint8') {
    for (const bits of [0, 1, 3, 8]) add({ label: `posterize ${bits}`, ts: (t) => F.posterize(t, bits) as Tensor, fn: 'posterize', args: [bits], u8: 'exact' });
    add({ label: 'equalize', ts: (t) => F.equalize(t) as Tensor, fn: 'equalize', u8: 'exact' });
  }
}
for (const [label, fn, ts] of [
  ['autocontrast', 'autocontrast', (t: Tensor) => F.autocontrast(t)],
  ['equalize', 'equalize', (t: Tensor) => F.equalize(t)],
  ['adjustSharpness 2', 'adjust_sharpness', (t: Tensor) => F.adjustSharpness(t, 2)],
] as const) {
  opCases.push({ label: `${label} of a constant and a narrow channel (uint8)`, input: FLAT, ts: ts as (t: Tensor) => Tensor, fn, args: label.startsWith('adjust') ? [2] : [], u8: 'exact' });
}
opCases.push({ label: 'rotate 33 bilinear, fill, of a batch [2, 3, H, W] (uint8)', input: BATCH, ts: (t) => F.rotate(t, 33, { interpolation: 'bilinear', fill: [5] }) as Tensor, fn: 'rotate', args: [33], kwargs: { interpolation: 'bilinear', fill: [5] }, u8: 1 });
opCases.push({ label: 'equalize of a batch [2, 3, H, W] (uint8)', input: BATCH, ts: (t) => F.equalize(t) as Tensor, fn: 'equalize', u8: 'exact' });
for (const c of opCases) c.index = ask({ kind: 'op', fn: c.fn, args: c.args ?? [], kwargs: c.kwargs ?? {}, input: enc(c.input) });

/** Random transforms built the same way here and in torchvision, run after the same seed. */
interface TransformCase {
  label: string;
  make: () => T;
  name: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  input: Tensor;
  seeds: number[];
  u8: 'exact' | number;
  index?: number[];
}
const seeds = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const transformCases: TransformCase[] = [
  { label: 'RandomRotation(30)', make: () => new transforms.RandomRotation(30), name: 'RandomRotation', args: [30], input: U8, seeds: seeds(4), u8: 'exact' },
  { label: 'RandomRotation([-10, 40], bilinear, expand, fill 5) (float32)', make: () => new transforms.RandomRotation([-10, 40], { interpolation: 'bilinear', expand: true, fill: 5 / 255 }), name: 'RandomRotation', args: [[-10, 40]], kwargs: { interpolation: 'bilinear', expand: true, fill: 5 / 255 }, input: F32, seeds: seeds(3), u8: 1 },
  { label: 'RandomAffine(20, translate, scale, shear x and y)', make: () => new transforms.RandomAffine(20, { translate: [0.1, 0.2], scale: [0.8, 1.2], shear: [-5, 5, -3, 3] }), name: 'RandomAffine', args: [20], kwargs: { translate: [0.1, 0.2], scale: [0.8, 1.2], shear: [-5, 5, -3, 3] }, input: U8, seeds: seeds(4), u8: 'exact' },
  { label: 'RandomAffine(0, shear 10, bilinear, fill [1, 2, 3])', make: () => new transforms.RandomAffine(0, { shear: 10, interpolation: 'bilinear', fill: [1, 2, 3] }), name: 'RandomAffine', args: [0], kwargs: { shear: 10, interpolation: 'bilinear', fill: [1, 2, 3] }, input: U8, seeds: seeds(3), u8: 1 },
  { label: 'GaussianBlur(3, [0.1, 2])', make: () => new transforms.GaussianBlur(3, [0.1, 2]), name: 'GaussianBlur', args: [3, [0.1, 2]], input: F32, seeds: seeds(3), u8: 1 },
  { label: 'RandomGrayscale(0.5)', make: () => new transforms.RandomGrayscale(0.5), name: 'RandomGrayscale', args: [0.5], input: U8, seeds: seeds(4), u8: 'exact' },
  { label: 'RandomInvert()', make: () => new transforms.RandomInvert(), name: 'RandomInvert', input: U8, seeds: seeds(3), u8: 'exact' },
  { label: 'RandomPosterize(3)', make: () => new transforms.RandomPosterize(3), name: 'RandomPosterize', args: [3], input: U8, seeds: seeds(3), u8: 'exact' },
  { label: 'RandomSolarize(100)', make: () => new transforms.RandomSolarize(100), name: 'RandomSolarize', args: [100], input: U8, seeds: seeds(3), u8: 'exact' },
  { label: 'RandomAdjustSharpness(2)', make: () => new transforms.RandomAdjustSharpness(2), name: 'RandomAdjustSharpness', args: [2], input: U8, seeds: seeds(3), u8: 'exact' },
  { label: 'RandomAutocontrast()', make: () => new transforms.RandomAutocontrast(), name: 'RandomAutocontrast', input: U8, seeds: seeds(3), u8: 'exact' },
  { label: 'RandomEqualize()', make: () => new transforms.RandomEqualize(), name: 'RandomEqualize', input: U8, seeds: seeds(3), u8: 'exact' },
  ...(['imagenet', 'cifar10', 'svhn'] as const).map((policy) => ({
    label: `AutoAugment('${policy}')`,
    make: () => new transforms.AutoAugment(policy),
    name: 'AutoAugment',
    kwargs: { policy },
    input: U8,
    seeds: seeds(12),
    u8: 'exact' as const,
  })),
  { label: "AutoAugment('cifar10', bilinear, fill 128)", make: () => new transforms.AutoAugment('cifar10', { interpolation: 'bilinear', fill: 128 }), name: 'AutoAugment', kwargs: { policy: 'cifar10', interpolation: 'bilinear', fill: 128 }, input: U8, seeds: seeds(12, 100), u8: 1 },
  { label: 'RandAugment()', make: () => new transforms.RandAugment(), name: 'RandAugment', input: U8, seeds: seeds(12), u8: 'exact' },
  { label: 'RandAugment(numOps 3, magnitude 15, bilinear, fill [0, 128, 255])', make: () => new transforms.RandAugment({ numOps: 3, magnitude: 15, interpolation: 'bilinear', fill: [0, 128, 255] }), name: 'RandAugment', kwargs: { numOps: 3, magnitude: 15, interpolation: 'bilinear', fill: [0, 128, 255] }, input: U8, seeds: seeds(10), u8: 1 },
  { label: 'TrivialAugmentWide()', make: () => new transforms.TrivialAugmentWide(), name: 'TrivialAugmentWide', input: U8, seeds: seeds(16), u8: 'exact' },
  { label: 'TrivialAugmentWide(numMagnitudeBins 10)', make: () => new transforms.TrivialAugmentWide({ numMagnitudeBins: 10 }), name: 'TrivialAugmentWide', kwargs: { numMagnitudeBins: 10 }, input: U8, seeds: seeds(10, 50), u8: 'exact' },
];
for (const c of transformCases) c.index = c.seeds.map((seed) => ask({ kind: 'transform', name: c.name, args: c.args ?? [], kwargs: c.kwargs ?? {}, seed, input: enc(c.input) }));
const spacesIndex = ask({ kind: 'spaces', height: H, width: W, bins: 31 });

/** The answers, from the first python3 that imports torchvision (null: none does, and those tests skip). */
const answers: unknown[] | null = (() => {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, [join(import.meta.dirname, 'fixtures', 'torchvision_augment.py')], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status === 0) return JSON.parse(r.stdout) as unknown[];
    if (r.error === undefined && !/ModuleNotFoundError|ImportError/.test(r.stderr)) throw new Error(`${py} torchvision_augment.py failed: ${r.stderr}`);
  }
  return null;
})();
const python = answers !== null;

const worst: Record<string, number> = {};
function compare(what: string, got: Tensor, want: { shape: number[]; values: number[] }, tol: number): void {
  expect(got.shape, what).toEqual(want.shape);
  const g = got.dataSync();
  let max = 0;
  let off = 0;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - want.values[i]);
    max = Math.max(max, e);
    if (e > 0) off++;
  }
  const key = `${got.dtype} ${tol === 0 ? 'exact' : 'tolerant'}`;
  worst[key] = Math.max(worst[key] ?? 0, max);
  worst[`${key}: values off`] = (worst[`${key}: values off`] ?? 0) + off;
  worst[`${key}: values`] = (worst[`${key}: values`] ?? 0) + g.length;
  expect(max, what).toBeLessThanOrEqual(tol);
}
afterAll(() => {
  if (python) console.log(`largest deviations from torchvision: ${JSON.stringify(worst)}`);
});

const tolOf = (x: Tensor, u8: 'exact' | number) => (x.dtype === 'uint8' ? (u8 === 'exact' ? 0 : u8) : 2e-6);
const skipNote = python ? '' : ' (skipped: torchvision not installed)';

describe.skipIf(!python)(`functional ops against torchvision 0.14${skipNote}`, () => {
  it.each(opCases.map((c) => [c.label, c] as const))('%s', (_label, c) => {
    compare(c.label, c.ts(c.input), (answers as unknown[])[c.index as number] as { shape: number[]; values: number[] }, tolOf(c.input, c.u8));
  });
});

describe.skipIf(!python)(`random transforms against torchvision 0.14 after the same seed${skipNote}`, () => {
  it.each(transformCases.map((c) => [c.label, c] as const))('%s', (_label, c) => {
    c.seeds.forEach((seed, k) => {
      manualSeed(seed);
      compare(`${c.label}, seed ${seed}`, c.make().apply(c.input), (answers as unknown[])[(c.index as number[])[k]] as { shape: number[]; values: number[] }, tolOf(c.input, c.u8));
    });
  });

  it("the augmentation spaces' bins and AutoAugment's policies equal torchvision's", () => {
    const want = (answers as unknown[])[spacesIndex] as Record<string, Record<string, { magnitudes: number[] | null; signed: boolean }>> & { policies: Record<string, [string, number, number | null][][]> };
    const dump = (m: Map<string, { magnitudes: number[] | null; signed: boolean }>) => Object.fromEntries([...m].map(([k, v]) => [k, { magnitudes: v.magnitudes, signed: v.signed }]));
    expect(dump(new transforms.AutoAugment().augmentationSpace(10, H, W))).toEqual(want.autoAugment);
    expect(dump(new transforms.RandAugment().augmentationSpace(31, H, W))).toEqual(want.randAugment);
    expect(dump(new transforms.TrivialAugmentWide().augmentationSpace(31))).toEqual(want.trivialAugmentWide);
    // Key order matters: RandAugment and TrivialAugmentWide draw an index into it.
    expect([...new transforms.RandAugment().augmentationSpace(31, H, W).keys()]).toEqual(Object.keys(want.randAugment));
    expect([...new transforms.TrivialAugmentWide().augmentationSpace(31).keys()]).toEqual(Object.keys(want.trivialAugmentWide));
    for (const p of ['imagenet', 'cifar10', 'svhn'] as const) expect(new transforms.AutoAugment(p).policies).toEqual(want.policies[p]);
  });
});

// ---------------------------------------------------------------- on their own
const same = (a: Tensor, b: Tensor) => expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));

describe('drawn parameters: the transform equals the functional op with them, within their ranges', () => {
  it('RandomRotation', () => {
    for (const seed of [1, 2, 3]) {
      const angle = transforms.RandomRotation.getParams([-10, 40], new Generator(seed));
      const out = new transforms.RandomRotation([-10, 40], { interpolation: 'bilinear', fill: 9, generator: new Generator(seed) }).apply(U8);
      same(out, F.rotate(U8, angle, { interpolation: 'bilinear', fill: 9 }) as Tensor);
    }
    const g = new Generator(5);
    const angles = Array.from({ length: 500 }, () => transforms.RandomRotation.getParams([-10, 40], g));
    expect(Math.min(...angles)).toBeGreaterThanOrEqual(-10);
    expect(Math.max(...angles)).toBeLessThan(40);
    expect(Math.max(...angles) - Math.min(...angles)).toBeGreaterThan(45);
    expect(new transforms.RandomRotation(15).degrees).toEqual([-15, 15]);
  });

  it('RandomAffine: angle, whole-pixel translation within [-a w, a w] x [-b h, b h], scale and shears', () => {
    const t = new transforms.RandomAffine([-5, 5], { translate: [0.2, 0.1], scale: [0.9, 1.1], shear: [-4, 4, 1, 2], generator: new Generator(7) });
    const p = transforms.RandomAffine.getParams([-5, 5], [0.2, 0.1], [0.9, 1.1], [-4, 4, 1, 2], [H, W], new Generator(7));
    same(t.apply(U8), F.affine(U8, p) as Tensor);
    const g = new Generator(8);
    for (let i = 0; i < 300; i++) {
      const q = transforms.RandomAffine.getParams([-5, 5], [0.2, 0.1], [0.9, 1.1], [-4, 4, 1, 2], [H, W], g);
      expect(Math.abs(q.angle)).toBeLessThanOrEqual(5);
      expect(q.translate.every(Number.isInteger)).toBe(true);
      expect(Math.abs(q.translate[0])).toBeLessThanOrEqual(0.2 * W);
      expect(Math.abs(q.translate[1])).toBeLessThanOrEqual(0.1 * H + 0.5);
      expect(q.scale).toBeGreaterThanOrEqual(0.9);
      expect(q.scale).toBeLessThan(1.1);
      expect(Math.abs(q.shear[0])).toBeLessThanOrEqual(4);
      expect(q.shear[1]).toBeGreaterThanOrEqual(1);
      expect(q.shear[1]).toBeLessThan(2);
    }
    // No translate, scale or shear: only the angle is drawn.
    const only = transforms.RandomAffine.getParams([0, 10], null, null, null, [H, W], new Generator(3));
    expect(only.translate).toEqual([0, 0]);
    expect(only.scale).toBe(1);
    expect(only.shear).toEqual([0, 0]);
    expect(only.angle).toBe(transforms.RandomRotation.getParams([0, 10], new Generator(3)));
  });

  it('GaussianBlur: sigma in [min, max), the same for x and y', () => {
    const s = transforms.GaussianBlur.getParams(0.5, 1.5, new Generator(4));
    expect(s).toBeGreaterThanOrEqual(0.5);
    expect(s).toBeLessThan(1.5);
    same(new transforms.GaussianBlur([3, 5], [0.5, 1.5], { generator: new Generator(4) }).apply(F32), F.gaussianBlur(F32, [3, 5], [s, s]) as Tensor);
  });

  it('the Random<Op> classes apply their op when one uniform draw is < p', () => {
    const ops: [T, (x: Tensor) => Tensor][] = [
      [new transforms.RandomInvert(0.5), (x) => F.invert(x) as Tensor],
      [new transforms.RandomPosterize(2, 0.5), (x) => F.posterize(x, 2) as Tensor],
      [new transforms.RandomSolarize(60, 0.5), (x) => F.solarize(x, 60) as Tensor],
      [new transforms.RandomAdjustSharpness(0.3, 0.5), (x) => F.adjustSharpness(x, 0.3) as Tensor],
      [new transforms.RandomAutocontrast(0.5), (x) => F.autocontrast(x) as Tensor],
      [new transforms.RandomEqualize(0.5), (x) => F.equalize(x) as Tensor],
      [new transforms.RandomGrayscale(0.5), (x) => F.rgbToGrayscale(x, 3) as Tensor],
    ];
    for (const [t, fn] of ops) {
      for (const seed of [0, 1, 2, 3, 4, 5]) {
        const applied = new Generator(seed).nextFloat() < 0.5;
        manualSeed(seed);
        const out = t.apply(U8);
        if (applied) same(out, fn(U8));
        else expect(out).toBe(U8);
      }
    }
  });
});

describe('RandomApply, RandomChoice, RandomOrder', () => {
  const add = (k: number) => (x: number[]) => [...x, k];
  it('RandomApply applies all its transforms, in order, when the draw is <= p', () => {
    const t = new transforms.RandomApply([add(1), add(2)], 0.3);
    let applied = 0;
    for (let seed = 0; seed < 40; seed++) {
      const u = new Generator(seed).nextFloat();
      manualSeed(seed);
      const out = t.apply([0]);
      expect(out).toEqual(u <= 0.3 ? [0, 1, 2] : [0]);
      if (u <= 0.3) applied++;
    }
    expect(applied).toBeGreaterThan(4);
    expect(new transforms.RandomApply([add(1)], 0).apply([0])).toEqual([0]);
    expect(new transforms.RandomApply([add(1)], 1).apply([0])).toEqual([0, 1]);
  });

  it('RandomChoice picks one transform by its weights', () => {
    expect(new transforms.RandomChoice([add(1), add(2), add(3)], [0, 1, 0], { generator: new Generator(1) }).apply([])).toEqual([2]);
    const t = new transforms.RandomChoice([add(0), add(1), add(2)], [1, 2, 1], { generator: new Generator(9) });
    const counts = [0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[t.apply([])[0]]++;
    expect(counts[0] / 4000).toBeCloseTo(0.25, 1);
    expect(counts[1] / 4000).toBeCloseTo(0.5, 1);
    expect(counts[2] / 4000).toBeCloseTo(0.25, 1);
    const eq = new transforms.RandomChoice([add(0), add(1), add(2), add(3)], null, { generator: new Generator(2) });
    const seen = new Set(Array.from({ length: 200 }, () => eq.apply([])[0]));
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
  });

  it('RandomOrder applies every transform once, in the order getParams draws', () => {
    for (const seed of [0, 1, 2, 3]) {
      const order = transforms.RandomOrder.getParams(4, new Generator(seed));
      expect([...order].sort()).toEqual([0, 1, 2, 3]);
      expect(new transforms.RandomOrder([add(0), add(1), add(2), add(3)], { generator: new Generator(seed) }).apply([])).toEqual(order);
    }
  });
});

describe('AutoAugment, RandAugment, TrivialAugmentWide: ops from their tables, magnitudes from their bins', () => {
  const binsOf = (space: Map<string, transforms.AugmentOpMeta>, name: string, signed: boolean) => {
    const meta = space.get(name) as transforms.AugmentOpMeta;
    expect(meta, name).toBeDefined();
    return meta.magnitudes === null ? [0] : signed ? [...meta.magnitudes, ...meta.magnitudes.map((m) => -m)] : meta.magnitudes;
  };

  it('AutoAugment: the two steps of one sub-policy, each at its bin, with probabilities as given', () => {
    for (const policy of ['imagenet', 'cifar10', 'svhn'] as const) {
      const t = new transforms.AutoAugment(policy, { generator: new Generator(3) });
      const space = t.augmentationSpace(10, 32, 32);
      const steps = new Map<string, number>();
      for (let i = 0; i < 3000; i++) {
        const g = new Generator(0).setState((t.generator as Generator).getState());
        const { policyId, probs } = transforms.AutoAugment.getParams(25, g);
        const ops = t.sampleOps(32, 32);
        const taken = [0, 1].filter((k) => probs[k] <= t.policies[policyId][k][1]);
        expect(ops.map((o) => o.name)).toEqual(taken.map((k) => t.policies[policyId][k][0]));
        ops.forEach((o, i) => {
          const [name, , bin] = t.policies[policyId][taken[i]];
          const meta = space.get(name) as transforms.AugmentOpMeta;
          expect(Math.abs(o.magnitude)).toBe(bin === null || meta.magnitudes === null ? 0 : meta.magnitudes[bin]);
          if (!meta.signed) expect(o.magnitude).toBeGreaterThanOrEqual(0);
          const key = `${policyId}.${taken[i]}`;
          steps.set(key, (steps.get(key) ?? 0) + 1);
        });
      }
      // Every step with probability > 0 happened.
      t.policies.forEach((sub, id) => {
        sub.forEach(([, p], k) => {
          expect(steps.has(`${id}.${k}`), `${policy} ${id}.${k}`).toBe(p > 0);
        });
      });
    }
  });

  it('RandAugment: numOps uniform ops of its space, all at the magnitude bin, both signs', () => {
    const t = new transforms.RandAugment({ numOps: 3, magnitude: 5, numMagnitudeBins: 11, generator: new Generator(4) });
    const space = t.augmentationSpace(11, 32, 32);
    const counts = new Map<string, number>();
    const signs = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const ops = t.sampleOps(32, 32);
      expect(ops).toHaveLength(3);
      for (const o of ops) {
        const meta = space.get(o.name) as transforms.AugmentOpMeta;
        expect(Math.abs(o.magnitude)).toBe(meta.magnitudes === null ? 0 : meta.magnitudes[5]);
        if (meta.signed) signs.add(Math.sign(o.magnitude));
        counts.set(o.name, (counts.get(o.name) ?? 0) + 1);
      }
    }
    expect([...counts.keys()].sort()).toEqual([...space.keys()].sort());
    for (const c of counts.values()) expect(c / 6000).toBeCloseTo(1 / 14, 1);
    expect([...signs].sort()).toEqual([-1, 1]);
    expect(space.has('Invert')).toBe(false);
  });

  it('TrivialAugmentWide: one op, every bin of its wide ranges', () => {
    const t = new transforms.TrivialAugmentWide({ numMagnitudeBins: 8, generator: new Generator(5) });
    const space = t.augmentationSpace(8);
    const seen = new Map<string, Set<number>>();
    for (let i = 0; i < 3000; i++) {
      const [o, ...rest] = t.sampleOps(32, 32);
      expect(rest).toHaveLength(0);
      const meta = space.get(o.name) as transforms.AugmentOpMeta;
      expect(binsOf(space, o.name, meta.signed)).toContain(o.magnitude);
      if (!seen.has(o.name)) seen.set(o.name, new Set());
      (seen.get(o.name) as Set<number>).add(o.magnitude);
    }
    expect(seen.size).toBe(14);
    for (const [name, meta] of space) if (meta.magnitudes) expect((seen.get(name) as Set<number>).size, name).toBe(meta.signed ? 15 : new Set(meta.magnitudes).size);
    expect(space.get('Rotate')?.magnitudes?.at(-1)).toBe(135);
  });

  it('apply() is applyAugmentOp of the sampled ops, in turn; ops by hand', () => {
    for (const t of [new transforms.AutoAugment('cifar10'), new transforms.RandAugment({ numOps: 4 }), new transforms.TrivialAugmentWide()]) {
      for (const seed of [0, 1, 2, 3]) {
        const ops = t.sampleOps(H, W, new Generator(seed));
        let want: Tensor = U8;
        for (const o of ops) want = transforms.applyAugmentOp(want, o) as Tensor;
        manualSeed(seed);
        same(t.apply(U8), want);
      }
    }
    same(transforms.applyAugmentOp(U8, { name: 'Brightness', magnitude: -0.3 }) as Tensor, F.adjustBrightness(U8, 0.7) as Tensor);
    same(transforms.applyAugmentOp(U8, { name: 'Posterize', magnitude: 4.9 }) as Tensor, F.posterize(U8, 4) as Tensor);
    same(transforms.applyAugmentOp(U8, { name: 'TranslateY', magnitude: -3.7 }) as Tensor, F.affine(U8, { translate: [0, -3] }) as Tensor);
    same(transforms.applyAugmentOp(U8, { name: 'ShearX', magnitude: 0.2 }) as Tensor, F.affine(U8, { shear: [(Math.atan(0.2) * 180) / Math.PI, 0], center: [0, 0] }) as Tensor);
  });
});

describe('by hand, images, specs and errors', () => {
  it('rotate by 90 about the centre moves rows to columns; translate shifts whole pixels with the fill', () => {
    const x = tensor([[[1, 2], [3, 4]]]);
    expect((F.rotate(x, 90) as Tensor).toArray()).toEqual([[[2, 4], [1, 3]]]);
    expect((F.affine(x, { translate: [1, 0], fill: 9 }) as Tensor).toArray()).toEqual([[[9, 1], [9, 3]]]);
    expect((F.rotate(tensor([[[1, 2, 3]]]), 90, { expand: true }) as Tensor).shape).toEqual([1, 3, 1]);
    expect((F.invert(tensor(new Uint8Array([0, 5, 255]), { shape: [1, 1, 3] })) as Tensor).toArray()).toEqual([[[255, 250, 0]]]);
    expect((F.posterize(tensor(new Uint8Array([255, 0b10110111]), { shape: [1, 1, 2] }), 3) as Tensor).toArray()).toEqual([[[0b11100000, 0b10100000]]]);
  });

  it('images (uint8 HWC) give the uint8 tensor results', () => {
    const img = io.tensorToImage(U8) as Image;
    const check = (a: Image, b: Tensor) => expect(Array.from(io.imageToTensor(a).dataSync())).toEqual(Array.from(b.dataSync()));
    check(F.rotate(img, 33, { interpolation: 'bilinear', fill: [1, 2, 3] }) as Image, F.rotate(U8, 33, { interpolation: 'bilinear', fill: [1, 2, 3] }) as Tensor);
    check(F.affine(img, { angle: 10, shear: [5, 5], scale: 0.9 }) as Image, F.affine(U8, { angle: 10, shear: [5, 5], scale: 0.9 }) as Tensor);
    check(F.gaussianBlur(img, 3, 0.7) as Image, F.gaussianBlur(U8, 3, 0.7) as Tensor);
    check(F.equalize(img) as Image, F.equalize(U8) as Tensor);
    check(F.autocontrast(img) as Image, F.autocontrast(U8) as Tensor);
    check(F.solarize(img, 99) as Image, F.solarize(U8, 99) as Tensor);
    manualSeed(4);
    const a = new transforms.TrivialAugmentWide().apply(img);
    expect([a.height, a.width, a.channels]).toEqual([H, W, 3]);
  });

  it('every new transform survives spec -> structuredClone -> transformFromSpec and behaves the same', () => {
    const all: T[] = [
      new transforms.RandomRotation([-10, 20], { interpolation: 'bilinear', expand: true, fill: [1, 2, 3], center: [3, 4] }),
      new transforms.RandomAffine(10, { translate: [0.1, 0.1], scale: [0.9, 1.1], shear: 5, fill: 4 }),
      new transforms.GaussianBlur(3),
      new transforms.RandomApply([new transforms.RandomInvert(1), new transforms.RandomPosterize(4, 1)], 0.7),
      new transforms.RandomChoice([new transforms.RandomSolarize(50, 1), new transforms.RandomEqualize(1)], [0.3, 0.7]),
      new transforms.RandomOrder([new transforms.RandomAutocontrast(1), new transforms.RandomAdjustSharpness(2, 1), new transforms.RandomGrayscale(1)]),
      new transforms.AutoAugment('svhn', { fill: 3 }),
      new transforms.RandAugment({ numOps: 3, magnitude: 12, interpolation: 'bilinear' }),
      new transforms.TrivialAugmentWide({ numMagnitudeBins: 20 }),
    ];
    for (const t of all) {
      const rebuilt = transforms.transformFromSpec(structuredClone(t.spec())) as T;
      expect(rebuilt.constructor).toBe(t.constructor);
      expect(rebuilt.spec()).toEqual(t.spec());
      for (const seed of [1, 2]) {
        manualSeed(seed);
        const a = t.apply(U8);
        manualSeed(seed);
        same(rebuilt.apply(U8), a);
      }
    }
  });

  it('bad arguments name the transform, the value and the fix', () => {
    expect(() => new transforms.RandomRotation(-5)).toThrow(/RandomRotation: if degrees is a single number, it must be non-negative; got -5\nhint: pass degrees: d for \[-d, d\], or \[min, max\]/);
    expect(() => new transforms.RandomRotation([10, 0])).toThrow(/RandomRotation: degrees ranges must be \[min, max\] with min <= max; got \[10,0\]/);
    expect(() => new transforms.RandomRotation(5, { interpolation: 'bicubic' as never })).toThrow(/RandomRotation: interpolation must be 'nearest' or 'bilinear'; got "bicubic"/);
    expect(() => new transforms.RandomAffine(0, { translate: [0.5, 2] })).toThrow(/RandomAffine: translate must be \[a, b\], fractions in \[0, 1\] of the width and height; got \[0.5,2\]\nhint:/);
    expect(() => new transforms.RandomAffine(0, { scale: [0, 1] })).toThrow(/RandomAffine: scale values must be positive; got \[0,1\]/);
    expect(() => new transforms.RandomAffine(0, { shear: [1, 2, 3] })).toThrow(/RandomAffine: shear must be a non-negative number or 2 numbers or 4 numbers/);
    expect(() => new transforms.GaussianBlur(4)).toThrow(/GaussianBlur: kernel size values must be odd positive integers \(one number or \[kx, ky\]\); got 4\nhint: use e.g. 3 or \[3, 5\]/);
    expect(() => new transforms.GaussianBlur(3, [2, 1])).toThrow(/GaussianBlur: sigma values must be positive and of the form \[min, max\]; got \[2,1\]/);
    expect(() => new transforms.RandomPosterize(9)).toThrow(/RandomPosterize: bits must be an integer in \[0, 8\]; got 9/);
    expect(() => new transforms.RandomAdjustSharpness(-1)).toThrow(/RandomAdjustSharpness: sharpnessFactor must be a non-negative number; got -1\nhint: 0 blurs/);
    expect(() => new transforms.RandomInvert(1.5)).toThrow(/RandomInvert: p must be a probability in \[0, 1\]; got 1.5/);
    expect(() => new transforms.RandomChoice([(x: unknown) => x], [1, 2])).toThrow(/RandomChoice: p must have one weight per transform \(1\); got \[1,2\]/);
    expect(() => new transforms.AutoAugment('mnist' as never)).toThrow(/AutoAugment: unknown policy "mnist"\nhint: use 'imagenet', 'cifar10' or 'svhn'/);
    expect(() => new transforms.RandAugment({ magnitude: 31 })).toThrow(/RandAugment: magnitude must be an integer in \[0, 30\]; got 31/);
    expect(() => new transforms.TrivialAugmentWide({ numMagnitudeBins: 1 })).toThrow(/TrivialAugmentWide: numMagnitudeBins must be an integer in \[2, ∞\]; got 1/);
    expect(() => F.posterize(F32, 3)).toThrow(/posterize: only uint8 images are supported \(as torchvision\); got float32\nhint:/);
    expect(() => F.equalize(F32)).toThrow(/equalize: only uint8 images are supported/);
    expect(() => F.solarize(F32, 128)).toThrow(/solarize: threshold must be at most the image's largest value 1; got 128\nhint: float images are in \[0, 1\]/);
    expect(() => F.rotate(U8, Number.NaN)).toThrow(/rotate: angle must be a finite number; got null/);
    expect(() => F.rotate(U8, 10, { fill: [1, 2] })).toThrow(/rotate: fill needs 1 or 3 \(one per channel\) values; got 2/);
    expect(() => F.affine(U8, { scale: -1 })).toThrow(/affine: scale must be positive; got -1/);
    expect(() => F.gaussianBlur(U8, 3, 0)).toThrow(/gaussianBlur: sigma must be a positive number or \[sx, sy\] of them; got 0/);
    expect(() => F.gaussianBlur(U8, 25)).toThrow(/gaussianBlur: kernelSize \[25,25\] needs reflect padding of 12 x 12, which must be smaller than the image \(12x10\)\nhint: use a smaller kernel/);
    expect(() => F.invert(randomU8([4, 2, 2], 1))).toThrow(/invert: expected 1 or 3 channels; got 4/);
  });
});
