/**
 * Same seed, same numbers as PyTorch: dl's host random stream is PyTorch's CPU generator
 * (MT19937 with its sampling formulas), so after manualSeed(s) the samplers, the layers'
 * default initialisation, the DataLoader's shuffling and torchvision-style transform
 * parameters equal PyTorch's after torch.manual_seed(s). The reference is PyTorch itself
 * (test/fixtures/torch_parity.py, run here); without a python3 that imports torch the tests
 * skip, saying so in their names.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DataLoader, RandomSampler, SubsetRandomSampler, WeightedRandomSampler, randomSplit } from '@dl/data';
import type { Tensor } from '@dl/tensor';
import { Generator, bernoulli, defaultGenerator, linspace, manualSeed, normal_, rand, randint, randn, ones, randperm, uniform_, zeros } from '@dl/tensor';
import { functional, init } from '@dl/nn';
import { models, transforms } from '@dl/vision';
import { describe, expect, it } from 'vitest';
import { epochOrder } from '../apps/cifar-trainer/src/data.js';

const script = join(import.meta.dirname, 'fixtures', 'torch_parity.py');
const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0);

type Ref = Record<string, unknown>;
function reference(): Ref {
  const r = spawnSync(python as string, [script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Ref;
}
const ref: Ref = python ? reference() : {};

function seeded<T>(seed: number | bigint, fn: () => T): T {
  manualSeed(seed);
  return fn();
}
const values = (t: Tensor) => Array.from(t.dataSync());
/** Largest difference in float32 ulps (of the reference value) between two lists. */
function maxUlps(actual: number[], expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  return Math.max(...actual.map((a, i) => Math.abs(a - expected[i]) / (2 ** (Math.floor(Math.log2(Math.abs(expected[i]) || 1)) - 23))));
}

describe.skipIf(!python)('same seed, same numbers as PyTorch 1.13 on the CPU (skipped only where python3 with torch and torchvision is missing)', () => {
  it('rand, randint, randperm, 63-bit draws, bernoulli, uniform_ and big seeds are bit-identical', () => {
    expect(seeded(0, () => values(rand([7])))).toEqual(ref.rand);
    expect(seeded(1, () => values(rand([5], { dtype: 'float64' })))).toEqual(ref.rand64);
    expect(seeded(2, () => values(randint(-3, 50000, [9])))).toEqual(ref.randint);
    expect(seeded(3, () => [values(randperm(10)), values(randperm(1000))])).toEqual(ref.randperm);
    expect(seeded(4, () => [0, 1, 2].map(() => String(defaultGenerator.nextInt64())))).toEqual(ref.int64);
    expect(seeded(7, () => [values(bernoulli(0.3, { shape: [40] })), values(bernoulli(linspace(0, 1, 40)))])).toEqual(ref.bernoulli);
    const [uniform, normal] = ref.uniformNormal as number[][];
    expect(seeded(8, () => values(uniform_(zeros([6]), -0.2, 0.3)))).toEqual(uniform);
    expect(maxUlps(values(normal_(zeros([4]), 2, 0.5)), normal)).toBeLessThanOrEqual(1);
    expect(seeded(2n ** 40n + 9n, () => [values(rand([3])), String(defaultGenerator.initialSeed())])).toEqual(ref.bigSeed);
  });

  it('randn: fewer than 16 values one by one (exact), 16 or more by blocks of 16 (within 2e-6: PyTorch approximates log/sin/cos with AVX2)', () => {
    const [f32, f64] = ref.randnSerial as number[][];
    expect(seeded(5, () => [maxUlps(values(randn([5])), f32), values(randn([3], { dtype: 'float64' }))])).toEqual([0, f64]);
    const [fill32, fill64] = ref.randnFill as number[][];
    manualSeed(6);
    for (const [i, v] of values(randn([37])).entries()) expect(Math.abs(v - fill32[i])).toBeLessThan(2e-6);
    const d = values(randn([20], { dtype: 'float64' }));
    for (const [i, v] of d.entries()) expect(v).toBeCloseTo(fill64[i], 14);
  });

  it("the tutorial ConvNet's default initialisation equals PyTorch's, parameter by parameter", () => {
    const params = seeded(0, () => Object.values(new models.TutorialNet().stateDict()).map(values));
    expect(params).toEqual(ref.tutorialNet);
  });

  it('xavierUniform_ is bit-identical, kaimingNormal_ within 2e-6; a dropout mask is bit-identical', () => {
    const [xavier, kaiming] = ref.init as number[][];
    manualSeed(16);
    expect(values(init.xavierUniform_(zeros([30, 20])))).toEqual(xavier);
    for (const [i, v] of values(init.kaimingNormal_(zeros([16, 8]))).entries()) expect(Math.abs(v - kaiming[i])).toBeLessThan(2e-6);
    expect(seeded(17, () => values(functional.dropout(ones([40]), 0.3)))).toEqual(ref.dropout);
  });

  it('truncNormal_ equals trunc_normal_ within 1e-6 (the inverse CDF in float64 against PyTorch\'s float32), inside the bounds', () => {
    const [shifted, standard] = ref.truncNormal as number[][];
    manualSeed(18);
    const ours = [values(init.truncNormal_(zeros([2000]), 0.5, 2, -1, 3)), values(init.truncNormal_(zeros([2000])))];
    for (const [k, expected] of [shifted, standard].entries()) {
      expect(Math.max(...ours[k].map((v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-6);
    }
    expect(Math.min(...ours[0])).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...ours[0])).toBeLessThanOrEqual(3);
  });

  it("DataLoader(shuffle: true) gives PyTorch's batches, without a generator and with one, epoch after epoch", async () => {
    const range = (n: number) => ({ length: n, getItem: (i: number) => i });
    const epochs = async (loader: DataLoader<number, Tensor>) => {
      const out: number[][][] = [];
      for (let e = 0; e < 2; e++) {
        const batches: number[][] = [];
        for await (const b of loader) batches.push(values(b));
        out.push(batches);
      }
      return out;
    };
    manualSeed(3);
    expect(await epochs(new DataLoader(range(10), { batchSize: 3, shuffle: true }))).toEqual(ref.loader);
    expect(await epochs(new DataLoader(range(10), { batchSize: 4, shuffle: true, generator: new Generator(21) }))).toEqual(ref.loaderGenerator);
  });

  it('samplers and randomSplit draw the indices PyTorch draws', () => {
    expect(seeded(3, () => [0, 1].map(() => [...new SubsetRandomSampler([10, 20, 30, 40, 50])]))).toEqual(ref.subset);
    expect(seeded(3, () => [[...new RandomSampler({ length: 7 }, { replacement: true, numSamples: 40 })], [...new RandomSampler({ length: 4 }, { numSamples: 10 })]])).toEqual(ref.randomSampler);
    const w = [0, 1, 2, 0.5, 3, 0.1];
    expect(seeded(3, () => [[...new WeightedRandomSampler(w, 20)], [...new WeightedRandomSampler(w, 4, { replacement: false })], [...new WeightedRandomSampler(w, 1)]])).toEqual(ref.weighted);
    const ds = { length: 10, getItem: (i: number) => i };
    expect(seeded(3, () => randomSplit(ds, [3, 7]).map((s) => [...s.indices]))).toEqual(ref.split);
  });

  it("the trainer's tutorial recipe: after the same seed, the ConvNet's initialisation then the first epoch's order are PyTorch's", () => {
    manualSeed(11);
    new models.TutorialNet();
    const { order } = epochOrder(50000, defaultGenerator);
    expect(Array.from(order.subarray(0, 128))).toEqual(ref.tutorialOrder);
  });

  it("transform parameters: RandomCrop, RandomResizedCrop, ColorJitter and RandomErasing draw torchvision's", () => {
    // torchvision's RandomCrop.get_params also returns the crop's size: [i, j, 32, 32].
    expect(seeded(12, () => [0, 1, 2, 3, 4].map(() => [...transforms.RandomCrop.getParams(40, 40, [32, 32]), 32, 32]))).toEqual(ref.crop);
    expect(seeded(13, () => [0, 1, 2, 3, 4].map(() => transforms.RandomResizedCrop.getParams(32, 48, [0.08, 1.0], [3 / 4, 4 / 3])))).toEqual(ref.resizedCrop);
    const j = seeded(14, () => transforms.ColorJitter.getParams([0.6, 1.4], [0.6, 1.4], [0.6, 1.4], [-0.1, 0.1]));
    expect([j.order, j.brightness, j.contrast, j.saturation, j.hue]).toEqual(ref.jitter);
    const e = seeded(15, () => transforms.RandomErasing.getParams(3, 32, 32, [0.02, 0.33], [0.3, 3.3], 'random'));
    const [i, jj, h, w, v] = ref.erasing as [number, number, number, number, number[]];
    expect(e && [e.i, e.j, e.h, e.w]).toEqual([i, jj, h, w]);
    for (const [k, x] of Array.from(e?.v ?? []).entries()) expect(Math.abs(x - v[k])).toBeLessThan(2e-6);
  });
});
