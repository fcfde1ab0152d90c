/**
 * Activations (SELU, CELU, LogSigmoid, Softsign, Tanhshrink, Hardshrink, Softshrink, Threshold,
 * GLU, Softmin, Softmax2d), InstanceNorm1d / 2d, LocalResponseNorm, PixelShuffle /
 * PixelUnshuffle, the padding layers, CosineSimilarity and PairwiseDistance, and their functional
 * forms. Checked against float64 definitions written here, against PyTorch 1.13 run in the same
 * test run (test/fixtures/torch_layers_misc.py; without a python3 that imports torch those tests
 * skip, saying so in their names), by gradcheck, and for their errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck } from '@dl/autograd';
import {
  CELU,
  CircularPad2d,
  ConstantPad1d,
  ConstantPad2d,
  CosineSimilarity,
  F,
  GLU,
  Hardshrink,
  InstanceNorm1d,
  InstanceNorm2d,
  LocalResponseNorm,
  LogSigmoid,
  type Module,
  PairwiseDistance,
  PixelShuffle,
  PixelUnshuffle,
  ReflectionPad1d,
  ReflectionPad2d,
  ReplicationPad1d,
  ReplicationPad2d,
  SELU,
  Softmax2d,
  Softmin,
  Softshrink,
  Softsign,
  Tanhshrink,
  Threshold,
  ZeroPad2d,
  utils,
} from '../src/index.js';
import { python } from './helpers.js';

const values = (t: Tensor) => Array.from(t.dataSync());
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
/** scale * sin(a i + b) + shift over the elements of shape, float64 values. */
const seq = (shape: readonly number[], a = 0.37, b = 0.11, scale = 2, shift = 0) => Array.from({ length: numel(shape) }, (_, i) => scale * Math.sin(a * i + b) + shift);
const strides = (shape: readonly number[]) => shape.map((_, d) => numel(shape.slice(d + 1)));
const unravel = (i: number, shape: readonly number[]) => strides(shape).map((s, d) => Math.floor(i / s) % shape[d]);
const ravel = (idx: readonly number[], shape: readonly number[]) => idx.reduce((acc, v, d) => acc + v * strides(shape)[d], 0);

// ---------------------------------------------------------------- float64 definitions
const SELU_A = 1.6732632423543772;
const SELU_S = 1.0507009873554805;
const elementwise = (f: (v: number) => number) => (xs: number[][]) => xs[0].map(f);
const REF_ACT = {
  selu: (v: number) => SELU_S * (v > 0 ? v : SELU_A * Math.expm1(v)),
  celu: (alpha: number) => (v: number) => (v > 0 ? v : alpha * Math.expm1(v / alpha)),
  logsigmoid: (v: number) => -Math.log1p(Math.exp(-v)),
  softsign: (v: number) => v / (1 + Math.abs(v)),
  tanhshrink: (v: number) => v - Math.tanh(v),
  hardshrink: (l: number) => (v: number) => (Math.abs(v) > l ? v : 0),
  softshrink: (l: number) => (v: number) => (v > l ? v - l : v < -l ? v + l : 0),
  threshold: (t: number, value: number) => (v: number) => (v > t ? v : value),
};

/** softmax(sign * x) along dim of an input of the given shape. */
function refSoftmax(x: number[], shape: number[], dim: number, sign: number): number[] {
  const out = new Array<number>(x.length);
  const s = strides(shape)[dim];
  for (let i = 0; i < x.length; i++) {
    const idx = unravel(i, shape);
    const base = i - idx[dim] * s;
    const row = Array.from({ length: shape[dim] }, (_, j) => sign * x[base + j * s]);
    const m = Math.max(...row);
    const z = row.reduce((acc, v) => acc + Math.exp(v - m), 0);
    out[i] = Math.exp(sign * x[i] - m) / z;
  }
  return out;
}

function refGlu(x: number[], shape: number[]): number[] {
  const h = shape[shape.length - 1] / 2;
  const out: number[] = [];
  for (let r = 0; r < x.length / (2 * h); r++) for (let j = 0; j < h; j++) out.push(x[r * 2 * h + j] / (1 + Math.exp(-x[r * 2 * h + h + j])));
  return out;
}

/** Each (n, c) slice of L positions normalised with its mean and biased variance. */
function refInstanceNorm(x: number[], shape: number[], eps: number, stats?: { mean: number[]; var: number[] }): number[] {
  const [n, c] = shape;
  const L = x.length / (n * c);
  const out: number[] = [];
  for (let i = 0; i < n * c; i++) {
    const row = x.slice(i * L, (i + 1) * L);
    const mean = stats ? stats.mean[i % c] : row.reduce((a, b) => a + b, 0) / L;
    const v = stats ? stats.var[i % c] : row.reduce((a, b) => a + (b - mean) ** 2, 0) / L;
    for (const e of row) out.push((e - mean) / Math.sqrt(v + eps));
  }
  return out;
}

/** The running stats after one training step from (0, 1): batch averages of instance means and unbiased variances. */
function refRunning(x: number[], shape: number[], momentum: number): { mean: number[]; var: number[] } {
  const [n, c] = shape;
  const L = x.length / (n * c);
  const mean = new Array<number>(c).fill(0);
  const vr = new Array<number>(c).fill(0);
  for (let i = 0; i < n * c; i++) {
    const row = x.slice(i * L, (i + 1) * L);
    const m = row.reduce((a, b) => a + b, 0) / L;
    mean[i % c] += m / n;
    vr[i % c] += row.reduce((a, b) => a + (b - m) ** 2, 0) / (L - 1) / n;
  }
  return { mean: mean.map((m) => momentum * m), var: vr.map((v) => (1 - momentum) + momentum * v) };
}

function refLrn(x: number[], shape: number[], size: number, alpha: number, beta: number, k: number): number[] {
  const c = shape[1];
  return x.map((v, i) => {
    const idx = unravel(i, shape);
    let acc = 0;
    for (let j = idx[1] - Math.floor(size / 2); j <= idx[1] + Math.floor((size - 1) / 2); j++) {
      if (j >= 0 && j < c) acc += x[ravel([idx[0], j, ...idx.slice(2)], shape)] ** 2;
    }
    return v / (k + (alpha / size) * acc) ** beta;
  });
}

function refPixelShuffle(x: number[], shape: number[], r: number): number[] {
  const [n, c, h, w] = shape;
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let o = 0; o < c / (r * r); o++)
      for (let y = 0; y < h * r; y++)
        for (let z = 0; z < w * r; z++) out.push(x[ravel([b, o * r * r + (y % r) * r + (z % r), Math.floor(y / r), Math.floor(z / r)], shape)]);
  return out;
}

function refPixelUnshuffle(x: number[], shape: number[], r: number): number[] {
  const [n, c, h, w] = shape;
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let o = 0; o < c * r * r; o++)
      for (let y = 0; y < h / r; y++)
        for (let z = 0; z < w / r; z++) out.push(x[ravel([b, Math.floor(o / (r * r)), y * r + Math.floor((o % (r * r)) / r), z * r + (o % r)], shape)]);
  return out;
}

type Mode = 'constant' | 'reflect' | 'replicate' | 'circular';
/** Where position j of a dim of size L reads from (null: the constant). */
function source(j: number, L: number, mode: Mode): number | null {
  if (j >= 0 && j < L) return j;
  if (mode === 'constant') return null;
  if (mode === 'replicate') return j < 0 ? 0 : L - 1;
  if (mode === 'circular') return ((j % L) + L) % L;
  return j < 0 ? -j : 2 * (L - 1) - j;
}

/** pads in F.pad order ((left, right) of the last dim, then of the one before). */
function refPad(x: number[], shape: number[], pads: number[], mode: Mode, value = 0): number[] {
  const nd = shape.length;
  const before = shape.map((_, d) => (nd - 1 - d < pads.length / 2 ? pads[2 * (nd - 1 - d)] : 0));
  const after = shape.map((_, d) => (nd - 1 - d < pads.length / 2 ? pads[2 * (nd - 1 - d) + 1] : 0));
  const outShape = shape.map((s, d) => s + before[d] + after[d]);
  return Array.from({ length: numel(outShape) }, (_, i) => {
    const src = unravel(i, outShape).map((j, d) => source(j - before[d], shape[d], mode));
    return src.includes(null) ? value : x[ravel(src as number[], shape)];
  });
}

/** x1, x2 of shape [n, d]: per row, dot / (max(|x1|, eps) max(|x2|, eps)) (dim 1). */
function refCosine(a: number[], b: number[], n: number, d: number, eps: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const ra = a.slice(i * d, (i + 1) * d);
    const rb = b.slice(i * d, (i + 1) * d);
    const dot = ra.reduce((s, v, j) => s + v * rb[j], 0);
    const na = Math.sqrt(ra.reduce((s, v) => s + v * v, 0));
    const nb = Math.sqrt(rb.reduce((s, v) => s + v * v, 0));
    return dot / (Math.max(na, eps) * Math.max(nb, eps));
  });
}

function refPairwise(a: number[], b: number[], n: number, d: number, p: number, eps: number): number[] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Math.abs(a[i * d + j] - b[i * d + j] + eps) ** p).reduce((s, v) => s + v, 0) ** (1 / p));
}

// ---------------------------------------------------------------- the cases
interface Case {
  name: string;
  make: () => Module;
  /** What PyTorch runs: a torch.nn module (args and camelCase kwargs) or a torch.nn.functional function. */
  torch: { module?: string; fn?: string; args?: unknown[]; kwargs?: Record<string, unknown> };
  inputs: number[][];
  /** Input values (default seq(shape) for input k with b = 0.11 + k). */
  data?: (shape: number[], k: number) => number[];
  ref: (xs: number[][], shapes: number[][]) => number[];
  /** Run in eval mode (default: training, as a new module). */
  eval?: boolean;
  /** Set the state before the run. */
  prepare?: (m: Module) => void;
  /** PyTorch's input gradients agree to this (default 1e-13). */
  torchGradTol?: number;
  /** The float64 state after the run. */
  refState?: (xs: number[][], shapes: number[][]) => Record<string, number[]>;
}

const act = (name: string, make: () => Module, module: string, ref: (v: number) => number, args: unknown[] = []): Case => ({
  name,
  make,
  torch: { module, args },
  inputs: [[3, 7]],
  ref: elementwise(ref),
});

const CASES: Case[] = [
  act('SELU', () => new SELU(), 'SELU', REF_ACT.selu),
  // PyTorch's CELU backward takes 1 / alpha as a float32 (derivatives.yaml: 1.0/alpha.toFloat()).
  { ...act('CELU alpha 0.7', () => new CELU(0.7), 'CELU', REF_ACT.celu(0.7), [0.7]), torchGradTol: 1e-7 },
  act('LogSigmoid', () => new LogSigmoid(), 'LogSigmoid', REF_ACT.logsigmoid),
  act('Softsign', () => new Softsign(), 'Softsign', REF_ACT.softsign),
  act('Tanhshrink', () => new Tanhshrink(), 'Tanhshrink', REF_ACT.tanhshrink),
  act('Hardshrink lambd 0.8', () => new Hardshrink(0.8), 'Hardshrink', REF_ACT.hardshrink(0.8), [0.8]),
  act('Softshrink (lambd 0.5)', () => new Softshrink(), 'Softshrink', REF_ACT.softshrink(0.5)),
  act('Threshold 0.3, value -2', () => new Threshold(0.3, -2), 'Threshold', REF_ACT.threshold(0.3, -2), [0.3, -2]),
  { name: 'GLU (dim -1)', make: () => new GLU(), torch: { module: 'GLU' }, inputs: [[2, 3, 6]], ref: (xs, s) => refGlu(xs[0], s[0]) },
  { name: 'GLU dim 1', make: () => new GLU(1), torch: { module: 'GLU', args: [1] }, inputs: [[2, 4]], ref: (xs) => refGlu(xs[0], [2, 4]) },
  { name: 'Softmin dim 1', make: () => new Softmin(1), torch: { module: 'Softmin', args: [1] }, inputs: [[3, 5]], ref: (xs, s) => refSoftmax(xs[0], s[0], 1, -1) },
  { name: 'Softmax2d', make: () => new Softmax2d(), torch: { module: 'Softmax2d' }, inputs: [[2, 3, 2, 2]], ref: (xs, s) => refSoftmax(xs[0], s[0], 1, 1) },
  { name: 'Softmax2d unbatched', make: () => new Softmax2d(), torch: { module: 'Softmax2d' }, inputs: [[3, 2, 3]], ref: (xs, s) => refSoftmax(xs[0], s[0], 0, 1) },
  {
    name: 'InstanceNorm1d (no affine, no running stats)',
    make: () => new InstanceNorm1d(3),
    torch: { module: 'InstanceNorm1d', args: [3] },
    inputs: [[2, 3, 5]],
    ref: (xs, s) => refInstanceNorm(xs[0], s[0], 1e-5),
  },
  {
    name: 'InstanceNorm1d unbatched, eps 1e-3',
    make: () => new InstanceNorm1d(2, { eps: 1e-3 }),
    torch: { module: 'InstanceNorm1d', args: [2], kwargs: { eps: 1e-3 } },
    inputs: [[2, 6]],
    ref: (xs) => refInstanceNorm(xs[0], [1, 2, 6], 1e-3),
  },
  {
    name: 'InstanceNorm2d affine (weight 1 + 0.1 c, bias 0.2 c), trackRunningStats, training: running stats updated',
    make: () => new InstanceNorm2d(3, { affine: true, trackRunningStats: true, momentum: 0.2 }),
    torch: { module: 'InstanceNorm2d', args: [3], kwargs: { affine: true, trackRunningStats: true, momentum: 0.2 } },
    prepare: (m) => m.loadStateDict({ weight: tensor([1, 1.1, 1.2], { dtype: 'float64' }), bias: tensor([0, 0.2, 0.4], { dtype: 'float64' }) }, { strict: false }),
    inputs: [[2, 3, 3, 4]],
    ref: (xs, s) => refInstanceNorm(xs[0], s[0], 1e-5).map((v, i) => v * (1 + 0.1 * unravel(i, s[0])[1]) + 0.2 * unravel(i, s[0])[1]),
    refState: (xs, s) => {
      const r = refRunning(xs[0], s[0], 0.2);
      return { runningMean: r.mean, runningVar: r.var, numBatchesTracked: [0] };
    },
  },
  {
    name: 'InstanceNorm2d trackRunningStats, eval: normalised with the running stats',
    make: () => new InstanceNorm2d(2, { trackRunningStats: true }),
    torch: { module: 'InstanceNorm2d', args: [2], kwargs: { trackRunningStats: true } },
    eval: true,
    prepare: (m) => m.loadStateDict({ runningMean: tensor([0.3, -0.2], { dtype: 'float64' }), runningVar: tensor([1.5, 0.7], { dtype: 'float64' }) }, { strict: false }),
    inputs: [[2, 2, 2, 3]],
    ref: (xs, s) => refInstanceNorm(xs[0], s[0], 1e-5, { mean: [0.3, -0.2], var: [1.5, 0.7] }),
    refState: () => ({ runningMean: [0.3, -0.2], runningVar: [1.5, 0.7], numBatchesTracked: [0] }),
  },
  {
    name: 'LocalResponseNorm size 3, alpha 0.1, beta 0.6, k 2',
    make: () => new LocalResponseNorm(3, { alpha: 0.1, beta: 0.6, k: 2 }),
    torch: { module: 'LocalResponseNorm', args: [3], kwargs: { alpha: 0.1, beta: 0.6, k: 2 } },
    inputs: [[2, 5, 2, 3]],
    ref: (xs, s) => refLrn(xs[0], s[0], 3, 0.1, 0.6, 2),
  },
  {
    name: 'LocalResponseNorm size 4 (uneven window), 3-D input',
    make: () => new LocalResponseNorm(4),
    torch: { module: 'LocalResponseNorm', args: [4] },
    inputs: [[2, 6, 3]],
    ref: (xs, s) => refLrn(xs[0], s[0], 4, 1e-4, 0.75, 1),
  },
  { name: 'PixelShuffle 2', make: () => new PixelShuffle(2), torch: { module: 'PixelShuffle', args: [2] }, inputs: [[2, 8, 2, 3]], ref: (xs, s) => refPixelShuffle(xs[0], s[0], 2) },
  { name: 'PixelShuffle 3, unbatched', make: () => new PixelShuffle(3), torch: { module: 'PixelShuffle', args: [3] }, inputs: [[9, 2, 1]], ref: (xs) => refPixelShuffle(xs[0], [1, 9, 2, 1], 3) },
  { name: 'PixelUnshuffle 2', make: () => new PixelUnshuffle(2), torch: { module: 'PixelUnshuffle', args: [2] }, inputs: [[2, 2, 4, 6]], ref: (xs, s) => refPixelUnshuffle(xs[0], s[0], 2) },
  { name: 'ZeroPad2d (1, 2, 0, 3)', make: () => new ZeroPad2d([1, 2, 0, 3]), torch: { module: 'ZeroPad2d', args: [[1, 2, 0, 3]] }, inputs: [[2, 2, 3, 3]], ref: (xs, s) => refPad(xs[0], s[0], [1, 2, 0, 3], 'constant') },
  { name: 'ConstantPad1d 2, value 1.5', make: () => new ConstantPad1d(2, 1.5), torch: { module: 'ConstantPad1d', args: [2, 1.5] }, inputs: [[2, 4]], ref: (xs, s) => refPad(xs[0], s[0], [2, 2], 'constant', 1.5) },
  { name: 'ConstantPad2d (0, 1, 2, 1), value -1', make: () => new ConstantPad2d([0, 1, 2, 1], -1), torch: { module: 'ConstantPad2d', args: [[0, 1, 2, 1], -1] }, inputs: [[1, 2, 3, 2]], ref: (xs, s) => refPad(xs[0], s[0], [0, 1, 2, 1], 'constant', -1) },
  { name: 'ReflectionPad1d (3, 1)', make: () => new ReflectionPad1d([3, 1]), torch: { module: 'ReflectionPad1d', args: [[3, 1]] }, inputs: [[2, 2, 5]], ref: (xs, s) => refPad(xs[0], s[0], [3, 1], 'reflect') },
  { name: 'ReflectionPad2d 2', make: () => new ReflectionPad2d(2), torch: { module: 'ReflectionPad2d', args: [2] }, inputs: [[1, 2, 3, 4]], ref: (xs, s) => refPad(xs[0], s[0], [2, 2, 2, 2], 'reflect') },
  { name: 'ReplicationPad1d (1, 3), unbatched', make: () => new ReplicationPad1d([1, 3]), torch: { module: 'ReplicationPad1d', args: [[1, 3]] }, inputs: [[2, 4]], ref: (xs, s) => refPad(xs[0], s[0], [1, 3], 'replicate') },
  { name: 'ReplicationPad2d (2, 0, 1, 3)', make: () => new ReplicationPad2d([2, 0, 1, 3]), torch: { module: 'ReplicationPad2d', args: [[2, 0, 1, 3]] }, inputs: [[2, 1, 3, 3]], ref: (xs, s) => refPad(xs[0], s[0], [2, 0, 1, 3], 'replicate') },
  // CircularPad2d is newer than PyTorch 1.13: its F.pad(mode='circular') is the reference.
  { name: 'CircularPad2d (1, 2, 3, 0)', make: () => new CircularPad2d([1, 2, 3, 0]), torch: { fn: 'pad', kwargs: { pad: [1, 2, 3, 0], mode: 'circular' } }, inputs: [[2, 1, 3, 4]], ref: (xs, s) => refPad(xs[0], s[0], [1, 2, 3, 0], 'circular') },
  { name: 'CosineSimilarity (dim 1)', make: () => new CosineSimilarity(), torch: { module: 'CosineSimilarity' }, inputs: [[4, 5], [4, 5]], ref: (xs) => refCosine(xs[0], xs[1], 4, 5, 1e-8) },
  {
    // Every norm above eps: below it PyTorch's gradient differs (see the value test further down).
    name: 'CosineSimilarity dim 0, eps 0.5, x2 broadcast',
    make: () => new CosineSimilarity({ dim: 0, eps: 0.5 }),
    torch: { module: 'CosineSimilarity', kwargs: { dim: 0, eps: 0.5 } },
    inputs: [[3, 4], [3, 1]],
    data: (shape, k) => seq(shape, 0.37, 0.11 + k, 1, k),
    // dim 0: the columns; with x2's column broadcast.
    ref: (xs) => {
      const t = (a: number[], n: number, d: number) => Array.from({ length: n * d }, (_, i) => a[(i % d) * n + Math.floor(i / d)]);
      const x2 = Array.from({ length: 12 }, (_, i) => xs[1][Math.floor(i / 4)]);
      return refCosine(t(xs[0], 4, 3), t(x2, 4, 3), 4, 3, 0.5);
    },
  },
  { name: 'PairwiseDistance (p 2)', make: () => new PairwiseDistance(), torch: { module: 'PairwiseDistance' }, inputs: [[4, 5], [4, 5]], ref: (xs) => refPairwise(xs[0], xs[1], 4, 5, 2, 1e-6) },
  {
    name: 'PairwiseDistance p 3, eps 0.01, keepdim',
    make: () => new PairwiseDistance({ p: 3, eps: 0.01, keepdim: true }),
    torch: { module: 'PairwiseDistance', kwargs: { p: 3, eps: 0.01, keepdim: true } },
    inputs: [[3, 4], [3, 4]],
    ref: (xs) => refPairwise(xs[0], xs[1], 3, 4, 3, 0.01),
  },
  { name: 'PairwiseDistance p 1', make: () => new PairwiseDistance({ p: 1 }), torch: { module: 'PairwiseDistance', kwargs: { p: 1 } }, inputs: [[3, 4], [3, 4]], ref: (xs) => refPairwise(xs[0], xs[1], 3, 4, 1, 1e-6) },
];

const inputData = (c: Case) => c.inputs.map((shape, k) => (c.data ?? ((s: number[], j: number) => seq(s, 0.37, 0.11 + j)))(shape, k));

/** The case's float64 module (state prepared, mode set) and its float64 inputs requiring grad. */
function setup(c: Case): { m: Module; xs: Tensor[] } {
  const m = c.make().double();
  c.prepare?.(m);
  m.train(!c.eval);
  const xs = c.inputs.map((shape, k) => tensor(inputData(c)[k], { dtype: 'float64' }).reshape(shape).requiresGrad_());
  return { m, xs };
}

/** sin(1 + 0.7 k): the output weighting of the backward pass (the fixture's). */
const weighting = (n: number) => Array.from({ length: n }, (_, k) => Math.sin(1 + 0.7 * k));

function worstRel(got: number[], want: number[]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (const [k, v] of got.entries()) worst = Math.max(worst, Math.abs(v - want[k]) / (1 + Math.abs(want[k])));
  return worst;
}

describe('against float64 definitions (plain loops and formulas)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { m, xs } = setup(c);
    const y: Tensor = m.forward(...xs);
    // Measured: at most 4e-16 (rounding and summation order only).
    expect(worstRel(values(y), c.ref(inputData(c), c.inputs))).toBeLessThan(1e-14);
    if (c.refState) {
      const state = m.stateDict();
      for (const [k, want] of Object.entries(c.refState(inputData(c), c.inputs))) expect(worstRel(values(state[k]), want), k).toBeLessThan(1e-14);
    }
  });

  it('the functional forms agree with the layers', () => {
    const x = tensor(seq([2, 4, 2, 3]), { dtype: 'float64' }).reshape([2, 4, 2, 3]);
    const x2 = tensor(seq([2, 4, 2, 3], 0.5, 1), { dtype: 'float64' }).reshape([2, 4, 2, 3]);
    const same = (a: Tensor, b: Tensor) => expect(values(a)).toEqual(values(b));
    same(F.selu(x), new SELU().forward(x));
    same(F.celu(x, 2), new CELU(2).forward(x));
    same(F.logsigmoid(x), new LogSigmoid().forward(x));
    same(F.softsign(x), new Softsign().forward(x));
    same(F.tanhshrink(x), new Tanhshrink().forward(x));
    same(F.hardshrink(x), new Hardshrink().forward(x));
    same(F.softshrink(x, 1), new Softshrink(1).forward(x));
    same(F.threshold(x, 0.1, 7), new Threshold(0.1, 7).forward(x));
    same(F.glu(x, 1), new GLU(1).forward(x));
    same(F.softmin(x, 1), new Softmin(1).forward(x));
    same(F.instanceNorm(x), new InstanceNorm2d(4).double().forward(x));
    same(F.localResponseNorm(x, 2), new LocalResponseNorm(2).forward(x));
    same(F.pixelShuffle(x, 2), new PixelShuffle(2).forward(x));
    same(F.pixelUnshuffle(F.pixelShuffle(x, 2), 2), x);
    same(F.pad(x, [1, 1, 1, 1], 'reflect'), new ReflectionPad2d(1).forward(x));
    same(F.cosineSimilarity(x, x2), new CosineSimilarity().forward(x, x2));
    same(F.pairwiseDistance(x, x2), new PairwiseDistance().forward(x, x2));
  });

  it('no overflow in the unused branches: values and gradients finite at |x| = 200 in float32', () => {
    const fns: [string, (x: Tensor) => Tensor][] = [
      ['selu', F.selu],
      ['celu', (x) => F.celu(x, 0.5)],
      ['logsigmoid', F.logsigmoid],
      ['softsign', F.softsign],
      ['tanhshrink', F.tanhshrink],
      ['hardshrink', F.hardshrink],
      ['softshrink', F.softshrink],
      ['threshold', (x) => F.threshold(x, 0, -1)],
      ['glu', (x) => F.glu(x, 0)],
      ['softmin', (x) => F.softmin(x, 0)],
    ];
    for (const [name, f] of fns) {
      const x = tensor([-200, 200, -200, 200], { dtype: 'float32' }).requiresGrad_();
      const y = f(x);
      y.sum().backward();
      for (const v of [...values(y), ...values(x.grad as Tensor)]) expect(Number.isFinite(v), name).toBe(true);
    }
    const [lo, hi] = values(F.logsigmoid(tensor([-200, 200])));
    expect(lo).toBe(-200);
    expect(Math.abs(hi)).toBe(0);
    expect(values(F.selu(tensor([-200])))[0]).toBeCloseTo(-SELU_S * SELU_A, 5);
  });

  it('CosineSimilarity clamps each norm on its own (PyTorch 1.13), so tiny parallel vectors are similar', () => {
    const a = tensor([[1e-5, 0]], { dtype: 'float64' });
    expect(values(F.cosineSimilarity(a, a))).toEqual([1]);
    // Below eps the clamped norm divides: 1e-9 * 1 / (max(1e-9, 1e-8) * 1).
    expect(values(F.cosineSimilarity(tensor([[1e-9, 0]], { dtype: 'float64' }), tensor([[1, 0]], { dtype: 'float64' })))[0]).toBeCloseTo(0.1, 12);
    expect(values(F.cosineSimilarity(tensor([[0, 0]]), tensor([[1, 2]])))).toEqual([0]);
  });
});

// ---------------------------------------------------------------- PyTorch
const script = join(import.meta.dirname, 'fixtures', 'torch_layers_misc.py');

interface TorchAnswer {
  shape: number[];
  output: number[];
  grads: number[][];
  state: Record<string, number[]>;
}

function torchAnswers(requests: unknown[]): TorchAnswer[] {
  const r = spawnSync(python as string, [script], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`torch_layers_misc.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as TorchAnswer[];
}

const snakeKeys = (state: Record<string, Tensor>) => Object.fromEntries(Object.entries(state).map(([k, v]) => [k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), values(v)]));

describe.skipIf(!python)('against PyTorch 1.13: outputs, input gradients and running stats (skipped only where python3 with torch is missing)', () => {
  const requests = CASES.map((c) => {
    const { m } = setup(c);
    return { ...c.torch, args: c.torch.args ?? [], kwargs: c.torch.kwargs ?? {}, state: snakeKeys(m.stateDict()), train: !c.eval, inputs: c.inputs.map((shape, k) => ({ shape, values: inputData(c)[k] })) };
  });
  const answers = python ? torchAnswers(requests) : [];

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const want = answers[i];
    const { m, xs } = setup(c);
    const y: Tensor = m.forward(...xs);
    expect(y.shape).toEqual(want.shape);
    y.mul(tensor(weighting(y.numel), { dtype: 'float64' }).reshape(y.shape)).sum().backward();
    // Both float64; measured at most 3e-16.
    expect(worstRel(values(y), want.output)).toBeLessThan(1e-13);
    for (const [k, x] of xs.entries()) expect(worstRel(values(x.grad as Tensor), want.grads[k]), `gradient ${k}`).toBeLessThan(c.torchGradTol ?? 1e-13);
    const state = snakeKeys(m.stateDict());
    expect(Object.keys(state).sort()).toEqual(Object.keys(want.state).sort());
    for (const [k, v] of Object.entries(want.state)) expect(worstRel(state[k], v), k).toBeLessThan(1e-13);
  });

  it("CosineSimilarity's value where a norm is below eps", () => {
    const x1 = [1e-9, 3e-9, -2e-9, 4e-9];
    const x2 = seq([2, 2]);
    const [want] = torchAnswers([{ fn: 'cosineSimilarity', args: [], kwargs: {}, state: {}, train: false, inputs: [{ shape: [2, 2], values: x1 }, { shape: [2, 2], values: x2 }] }]);
    expect(worstRel(values(F.cosineSimilarity(tensor(x1, { dtype: 'float64' }).reshape([2, 2]), tensor(x2, { dtype: 'float64' }).reshape([2, 2]))), want.output)).toBeLessThan(1e-13);
  });
});

// ---------------------------------------------------------------- gradcheck
describe('gradcheck (float64) of every case, parameters included', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { m, xs } = setup(c);
    const names = m.namedParameters().map(([k]) => k);
    const fn = (...args: Tensor[]) => utils.functionalCall(m, Object.fromEntries(names.map((k, i) => [k, args[xs.length + i]])), ...args.slice(0, xs.length)) as Tensor;
    expect(gradcheck(fn, [...xs, ...m.parameters()])).toBe(true);
  });
});

// ---------------------------------------------------------------- errors
describe('bad inputs: DLErrors naming the op, the value and the fix', () => {
  const x = tensor(seq([2, 3, 4])).reshape([2, 3, 4]);
  it.each([
    ['celu alpha 0', () => F.celu(x, 0), /celu: alpha must be a finite nonzero number; got 0\nhint: the default is alpha = 1/],
    ['CELU alpha 0', () => new CELU(0), /CELU: alpha must be a finite nonzero number; got 0/],
    ['softshrink negative lambd', () => F.softshrink(x, -1), /softshrink: lambd must be a finite number >= 0; got -1\nhint/],
    ['hardshrink integer input', () => F.hardshrink(tensor([1, 2], { dtype: 'int32' })), /hardshrink: input must be a floating point tensor; got int32\nhint: cast/],
    ['glu odd size', () => F.glu(x, 1), /glu: halving dimension must be even, but dim 1 of input \[2, 3, 4\] has size 3\nhint: pick a dim of even size/],
    ['glu dim out of range', () => F.glu(x, 3), /glu: dim 3 is out of range for an input of rank 3/],
    ['Softmin without dim', () => new Softmin(undefined as unknown as number), /Softmin: dim must be an integer; got undefined\nhint/],
    ['Softmax2d 2-D input', () => new Softmax2d().forward(tensor([[1, 2]])), /Softmax2d: expected a \(N, C, H, W\) or \(C, H, W\) input; got shape \[1, 2\]\nhint: for other shapes use Softmax\(dim\)/],
    ['InstanceNorm1d 4-D input', () => new InstanceNorm1d(3).forward(tensor(seq([1, 3, 2, 2])).reshape([1, 3, 2, 2])), /InstanceNorm1d: expected 2D \(unbatched\) or 3D \(batched\) input; got 4D input of shape \[1, 3, 2, 2\]/],
    ['InstanceNorm1d affine, wrong channels', () => new InstanceNorm1d(4, { affine: true }).forward(x), /InstanceNorm1d: expected 4 channels in dim 1 \(numFeatures\); got input of shape \[2, 3, 4\]/],
    ['InstanceNorm2d momentum null', () => new InstanceNorm2d(3, { momentum: null }), /InstanceNorm2d: momentum must be a number; got null\nhint/],
    ['instanceNorm one position', () => F.instanceNorm(tensor(seq([2, 3, 1])).reshape([2, 3, 1])), /instanceNorm: expected more than 1 spatial element per instance; got input of shape \[2, 3, 1\]\nhint/],
    ['instanceNorm without running stats', () => F.instanceNorm(x, null, null, { useInputStats: false }), /instanceNorm: runningMean and runningVar are required when useInputStats is false\nhint/],
    ['localResponseNorm 2-D', () => F.localResponseNorm(tensor([[1, 2]]), 2), /localResponseNorm: expected an input of shape \(N, C, \*\) with at least 3 dims; got shape \[1, 2\]\nhint/],
    ['pixelShuffle channels', () => F.pixelShuffle(tensor(seq([1, 6, 2, 2])).reshape([1, 6, 2, 2]), 2), /pixelShuffle: the 6 channels of input \[1, 6, 2, 2\] are not divisible by upscaleFactor\^2 = 4\nhint: give C a multiple of 4/],
    ['pixelUnshuffle size', () => F.pixelUnshuffle(tensor(seq([1, 1, 3, 4])).reshape([1, 1, 3, 4]), 2), /pixelUnshuffle: the height 3 and width 4 of input \[1, 1, 3, 4\] must both be divisible by downscaleFactor 2\nhint/],
    ['PixelShuffle factor 0', () => new PixelShuffle(0), /PixelShuffle: upscaleFactor must be an integer >= 1; got 0/],
    ['ReflectionPad2d 3 pads', () => new ReflectionPad2d([1, 2, 3] as unknown as number), /ReflectionPad2d: padding must be an integer >= 0 or 4 of them \(left, right, top, bottom\); got \[1,2,3\]/],
    ['ReflectionPad1d too large', () => new ReflectionPad1d(4).forward(x), /pad: reflect padding \(4, 4\) must be smaller than dimension 2's size 4/],
    ['ReplicationPad2d 2-D input', () => new ReplicationPad2d(1).forward(tensor([[1, 2]])), /ReplicationPad2d: expected a 3D \(unbatched\) or 4D \(batched\) input; got shape \[1, 2\]/],
    ['cosineSimilarity shapes', () => F.cosineSimilarity(x, tensor(seq([2, 5])).reshape([2, 5])), /cosineSimilarity.*\[2, 3, 4\].*\[2, 5\]/],
    ['cosineSimilarity dim', () => F.cosineSimilarity(x, x, 3), /cosineSimilarity: dim 3 is out of range for inputs broadcast to \[2, 3, 4\]\nhint: use a dim in \[-3, 3\)/],
    ['pairwiseDistance p', () => F.pairwiseDistance(x, x, -1), /pairwiseDistance: p must be a number >= 0; got -1\nhint/],
  ])('%s', (_name, f, re) => {
    expect(f).toThrowError(re);
  });
});
