/**
 * Max pools with indices (MaxPool1d / 2d and AdaptiveMaxPool1d / 2d with returnIndices), MaxUnpool1d
 * / 2d, MultiMarginLoss, MultiLabelMarginLoss, InstanceNorm3d, BatchNorm3d and Transformer's
 * customEncoder / customDecoder, with their functional forms. Checked against float64 definitions
 * written here, against PyTorch 1.13 run once for the whole file
 * (test/fixtures/torch_layers_more.py; without a python3 that imports torch those tests skip,
 * saying so in their names), by gradcheck, and for their errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed, randint, randn, tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck } from '@dl/autograd';
import {
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  BatchNorm3d,
  F,
  InstanceNorm3d,
  LayerNorm,
  Linear,
  MaxPool1d,
  MaxPool2d,
  MaxUnpool1d,
  MaxUnpool2d,
  Module,
  MultiLabelMarginLoss,
  MultiMarginLoss,
  Transformer,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
  init,
  utils,
} from '../src/index.js';
import type { Reduction, TransformerForwardOptions } from '../src/index.js';
import { caught as err, f64, i32, numel, seq, values, weighted, weighting, worstRel, python } from './helpers.js';

/** seq rounded to halves (no -0, which JSON cannot carry): windows with equal maxima (PyTorch keeps the first). */
const ties = (shape: readonly number[], b = 0.11) => seq(shape, 0.37, b).map((v) => Math.round(2 * v) / 2 + 0);
const reductions = ['mean', 'sum', 'none'] as const;
const reduced = (per: number[], reduction: Reduction) => {
  const sum = per.reduce((a, v) => a + v, 0);
  return reduction === 'none' ? per : reduction === 'sum' ? [sum] : [sum / per.length];
};



// ---------------------------------------------------------------- float64 definitions
/** Each plane's output: zeros with input[j] at indices[j], later inputs overwriting earlier ones. */
function refUnpool(x: number[], idx: number[], inPlane: number, outPlane: number): number[] {
  const out = new Array<number>((x.length / inPlane) * outPlane).fill(0);
  for (let j = 0; j < x.length; j++) out[Math.floor(j / inPlane) * outPlane + idx[j]] = x[j];
  return out;
}

/** The inputs an index repeat overwrites (true: not written): every earlier one of a repeat within its plane. */
function overwritten(idx: number[], inPlane: number): boolean[] {
  const last = new Map<string, number>();
  for (let j = 0; j < idx.length; j++) last.set(`${Math.floor(j / inPlane)}:${idx[j]}`, j);
  return idx.map((v, j) => last.get(`${Math.floor(j / inPlane)}:${v}`) !== j);
}

/** Per row of C scores with target y: sum over i != y of w[y] max(0, margin - x[y] + x[i])^p, over C. */
function refMultiMargin(x: number[], y: number[], c: number, p: number, margin: number, w: number[] | null): number[] {
  return y.map((t, n) => {
    let s = 0;
    for (let i = 0; i < c; i++) if (i !== t) s += (w ? w[t] : 1) * Math.max(0, margin - x[n * c + t] + x[n * c + i]) ** p;
    return s / c;
  });
}

/** Per row: the targets before the first -1 (repeats count), against every class not among them. */
function refMultilabelMargin(x: number[], y: number[], c: number): number[] {
  return Array.from({ length: x.length / c }, (_, n) => {
    const row = y.slice(n * c, (n + 1) * c);
    const end = row.indexOf(-1);
    const targets = end < 0 ? row : row.slice(0, end);
    let s = 0;
    for (const j of targets) for (let i = 0; i < c; i++) if (!targets.includes(i)) s += Math.max(0, 1 - (x[n * c + j] - x[n * c + i]));
    return s / c;
  });
}

/** (x - mean) / sqrt(var + eps) * weight + bias per channel, the statistics over `groupOf`'s groups (biased variance). */
function refNorm(x: number[], shape: number[], eps: number, groupOf: (i: number) => number, groups: number, affine?: { w: number[]; b: number[] }): number[] {
  const c = shape[1];
  const inner = numel(shape.slice(2));
  const channel = (i: number) => Math.floor(i / inner) % c;
  const sum = new Array<number>(groups).fill(0);
  const count = new Array<number>(groups).fill(0);
  for (const [i, v] of x.entries()) {
    sum[groupOf(i)] += v;
    count[groupOf(i)] += 1;
  }
  const mean = sum.map((s, g) => s / count[g]);
  const sq = new Array<number>(groups).fill(0);
  for (const [i, v] of x.entries()) sq[groupOf(i)] += (v - mean[groupOf(i)]) ** 2;
  return x.map((v, i) => {
    const g = groupOf(i);
    const y = (v - mean[g]) / Math.sqrt(sq[g] / count[g] + eps);
    return affine ? y * affine.w[channel(i)] + affine.b[channel(i)] : y;
  });
}
const instanceGroups = (shape: number[]) => ({ groupOf: (i: number) => Math.floor(i / numel(shape.slice(2))), groups: shape[0] * shape[1] });
const batchGroups = (shape: number[]) => ({ groupOf: (i: number) => Math.floor(i / numel(shape.slice(2))) % shape[1], groups: shape[1] });

// ---------------------------------------------------------------- the max pools with indices
type PoolFn = 'maxPool1d' | 'maxPool2d' | 'adaptiveMaxPool1d' | 'adaptiveMaxPool2d';
interface PoolCase {
  name: string;
  fn: PoolFn;
  shape: number[];
  /** kernelSize or outputSize. */
  arg: unknown;
  opts: Record<string, unknown>;
}
const POOLS: PoolCase[] = [
  { name: 'maxPool2d 2', fn: 'maxPool2d', shape: [2, 3, 6, 7], arg: 2, opts: {} },
  { name: 'maxPool2d 3, stride 2, padding 1, ceilMode', fn: 'maxPool2d', shape: [2, 2, 7, 8], arg: 3, opts: { stride: 2, padding: 1, ceilMode: true } },
  { name: 'maxPool2d [2, 3], stride [1, 2], dilation [2, 1], unbatched', fn: 'maxPool2d', shape: [3, 6, 7], arg: [2, 3], opts: { stride: [1, 2], dilation: [2, 1] } },
  { name: 'maxPool1d 3, stride 2, padding 1, dilation 2, ceilMode', fn: 'maxPool1d', shape: [2, 3, 10], arg: 3, opts: { stride: 2, padding: 1, dilation: 2, ceilMode: true } },
  { name: 'maxPool1d 2, unbatched', fn: 'maxPool1d', shape: [3, 9], arg: 2, opts: {} },
  { name: 'adaptiveMaxPool2d [3, 2] (overlapping windows)', fn: 'adaptiveMaxPool2d', shape: [2, 3, 7, 5], arg: [3, 2], opts: {} },
  { name: 'adaptiveMaxPool2d [null, 3], unbatched', fn: 'adaptiveMaxPool2d', shape: [2, 4, 5], arg: [null, 3], opts: {} },
  { name: 'adaptiveMaxPool1d 4', fn: 'adaptiveMaxPool1d', shape: [2, 3, 10], arg: 4, opts: {} },
  { name: 'adaptiveMaxPool1d 3, unbatched', fn: 'adaptiveMaxPool1d', shape: [3, 7], arg: 3, opts: {} },
];
type AnyPool = (x: Tensor, arg: unknown, opts: Record<string, unknown>) => Tensor | [Tensor, Tensor];
const poolF = (fn: PoolFn) => F[fn] as unknown as AnyPool;
const POOL_MODULES: Record<PoolFn, new (arg: never, opts: never) => Module> = { maxPool1d: MaxPool1d, maxPool2d: MaxPool2d, adaptiveMaxPool1d: AdaptiveMaxPool1d, adaptiveMaxPool2d: AdaptiveMaxPool2d };
const poolInput = (c: PoolCase) => f64(ties(c.shape), c.shape).requiresGrad_();
const withIndices = (c: PoolCase, x: Tensor) => poolF(c.fn)(x, c.arg, { ...c.opts, returnIndices: true }) as [Tensor, Tensor];
const spatial = (fn: PoolFn) => (fn.endsWith('2d') ? 2 : 1);

describe('max pools with returnIndices', () => {
  it.each(POOLS.map((c) => [c.name, c] as const))('%s: [values, indices] as PyTorch returns them, the same from the module, the values alone without returnIndices', (_name, c) => {
    const x = poolInput(c);
    const [v, idx] = withIndices(c, x);
    expect(idx.dtype).toBe('int32');
    expect(idx.shape).toEqual(v.shape);
    expect(v.requiresGrad).toBe(true);
    expect(idx.requiresGrad).toBe(false);
    // Each index names a cell of its plane holding the value.
    const nd = spatial(c.fn);
    const planes = x.flatten(-nd);
    const picked = planes.gather(-1, idx.flatten(-nd)).reshape(v.shape);
    expect(values(picked)).toEqual(values(v));
    const plain = poolF(c.fn)(x, c.arg, c.opts) as Tensor;
    expect(values(plain)).toEqual(values(v));
    const [mv, mi] = new POOL_MODULES[c.fn](c.arg as never, { ...c.opts, returnIndices: true } as never).forward(x) as [Tensor, Tensor];
    expect(values(mv)).toEqual(values(v));
    expect(values(mi)).toEqual(values(idx));
    expect(new POOL_MODULES[c.fn](c.arg as never, c.opts as never).forward(x)).not.toBeInstanceOf(Array);
  });

  it('ties keep the first maximum and NaN wins (the last NaN), as PyTorch 1.13', () => {
    const [v, i] = F.maxPool2d(f64([1, 1, 1, 1], [1, 1, 2, 2]), 2, { returnIndices: true });
    expect([values(v), values(i)]).toEqual([[1], [0]]);
    const [vn, iN] = F.maxPool2d(f64([Number.NaN, 1, Number.NaN, 1], [1, 1, 2, 2]), 2, { returnIndices: true });
    expect(values(vn)).toEqual([Number.NaN]);
    expect(values(iN)).toEqual([2]);
    const [va, ia] = F.adaptiveMaxPool1d(f64([3, 1, 3, 2, 5, 5], [1, 6]), 2, { returnIndices: true });
    expect([values(va), values(ia)]).toEqual([[3, 5], [0, 4]]);
  });

  it('the values get gradients, also through a pool-then-unpool chain (gradcheck)', () => {
    const x = f64(seq([1, 2, 5, 6]), [1, 2, 5, 6]).requiresGrad_();
    expect(gradcheck((u) => F.maxPool2d(u, 3, { stride: 2, padding: 1, returnIndices: true })[0], [x])).toBe(true);
    expect(gradcheck((u) => F.adaptiveMaxPool2d(u, [2, 4], { returnIndices: true })[0], [x])).toBe(true);
    expect(gradcheck((u) => F.maxUnpool2d(...F.maxPool2d(u, 3, { stride: 2, padding: 1, returnIndices: true }), 3, { stride: 2, padding: 1, outputSize: [5, 6] }), [x])).toBe(true);
    const x1 = f64(seq([2, 9]), [2, 9]).requiresGrad_();
    expect(gradcheck((u) => F.maxUnpool1d(...F.maxPool1d(u, 3, { stride: 2, returnIndices: true }), 3, { stride: 2, outputSize: [9] }), [x1])).toBe(true);
  });
});

// ---------------------------------------------------------------- max unpooling
interface UnpoolCase {
  name: string;
  dims: 1 | 2;
  shape: number[];
  kernel: number | [number, number];
  opts: { stride?: number | [number, number]; padding?: number | [number, number] };
  outputSize: number[] | null;
  /** What PyTorch gets (default outputSize). */
  torchOutputSize?: number[] | null;
  /** Index repeats within a plane (overlapping windows with a common maximum). */
  repeats: boolean;
}
const UNPOOLS: UnpoolCase[] = [
  { name: 'maxUnpool2d 2, outputSize the whole shape [2, 3, 6, 7]', dims: 2, shape: [2, 3, 6, 7], kernel: 2, opts: {}, outputSize: [2, 3, 6, 7], repeats: false },
  { name: 'maxUnpool2d 3, stride 2, padding 1, outputSize [7, 8]: overlapping windows repeat indices', dims: 2, shape: [1, 2, 7, 8], kernel: 3, opts: { stride: 2, padding: 1 }, outputSize: [7, 8], repeats: true },
  { name: 'maxUnpool2d [2, 3], stride [2, 1], unbatched, outputSize [3, 4, 7] (PyTorch: the default)', dims: 2, shape: [3, 5, 7], kernel: [2, 3], opts: { stride: [2, 1] }, outputSize: [3, 4, 7], torchOutputSize: null, repeats: true },
  { name: 'maxUnpool1d 3, stride 2, outputSize [10]', dims: 1, shape: [2, 3, 10], kernel: 3, opts: { stride: 2 }, outputSize: [10], repeats: true },
  { name: 'maxUnpool1d 2, unbatched, default size', dims: 1, shape: [3, 9], kernel: 2, opts: {}, outputSize: null, repeats: false },
];

/** The case's pool of ties(shape) (values detached, requiring grad) and its indices. */
function unpoolInputs(c: UnpoolCase): { v: Tensor; idx: Tensor; inPlane: number; outPlane: number; size: number[] } {
  const nd = c.dims;
  const x = f64(ties(c.shape, 0.5), c.shape);
  const [v, idx] = (nd === 2 ? F.maxPool2d(x, c.kernel, { ...c.opts, returnIndices: true }) : F.maxPool1d(x, c.kernel as number, { ...(c.opts as { stride?: number }), returnIndices: true })) as [Tensor, Tensor];
  const k = typeof c.kernel === 'number' ? [c.kernel, c.kernel] : c.kernel;
  const s = c.opts.stride === undefined ? k : typeof c.opts.stride === 'number' ? [c.opts.stride, c.opts.stride] : c.opts.stride;
  const p = typeof c.opts.padding === 'number' ? [c.opts.padding, c.opts.padding] : (c.opts.padding ?? [0, 0]);
  const inSize = v.shape.slice(-nd);
  const size = c.outputSize ? c.outputSize.slice(-nd) : inSize.map((n, d) => (n - 1) * s[d] - 2 * p[d] + k[d]);
  return { v: v.detach().requiresGrad_(), idx, inPlane: numel(inSize), outPlane: numel(size), size };
}
const unpool = (c: UnpoolCase, v: Tensor, idx: Tensor) =>
  c.dims === 2 ? F.maxUnpool2d(v, idx, c.kernel, { ...c.opts, outputSize: c.outputSize }) : F.maxUnpool1d(v, idx, c.kernel as number, { ...(c.opts as { stride?: number }), outputSize: c.outputSize });

describe('maxUnpool1d / 2d against their float64 definition (plain loops)', () => {
  it.each(UNPOOLS.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { v, idx, inPlane, outPlane, size } = unpoolInputs(c);
    expect(overwritten(values(idx), inPlane).some(Boolean)).toBe(c.repeats);
    const y = unpool(c, v, idx);
    expect(y.shape).toEqual([...v.shape.slice(0, -size.length), ...size]);
    expect(values(y)).toEqual(refUnpool(values(v), values(idx), inPlane, outPlane));
    // The gradient of each written input is the output gradient at its cell; overwritten ones get none.
    weighted(y).backward();
    const w = weighting(y.numel);
    const lost = overwritten(values(idx), inPlane);
    expect(values(v.grad!)).toEqual(values(idx).map((ix, j) => (lost[j] ? 0 : w[Math.floor(j / inPlane) * outPlane + ix])));
    // The module forms.
    const m = c.dims === 2 ? new MaxUnpool2d(c.kernel, c.opts) : new MaxUnpool1d(c.kernel as number, c.opts as { stride?: number });
    expect(values(m.forward(v, idx, c.outputSize))).toEqual(values(y));
  });

  it('gradcheck (float64) with respect to the input, repeats included', () => {
    for (const c of UNPOOLS) {
      const { v, idx } = unpoolInputs(c);
      expect(gradcheck((u) => unpool(c, u, idx), [v])).toBe(true);
    }
  });

  it('takes PyTorch\'s positional stride and prints like PyTorch', () => {
    const [v, i] = F.maxPool2d(f64(seq([1, 1, 4, 4]), [1, 1, 4, 4]), 2, { returnIndices: true });
    expect(values(F.maxUnpool2d(v, i, 2, 2))).toEqual(values(F.maxUnpool2d(v, i, 2)));
    expect(String(new MaxUnpool2d(2, [2, 1]))).toBe('MaxUnpool2d(kernelSize=2, stride=[2, 1], padding=0)');
    expect(String(new MaxUnpool1d(3, { padding: 1 }))).toBe('MaxUnpool1d(kernelSize=3, stride=3, padding=1)');
  });
});

// ---------------------------------------------------------------- the margin losses
const MM_C = 4;
/** Scores (5, 4) with targets; row 0 has a zero hinge at margin 1 (1 - 0.75 + -0.25). */
function marginData(): { x: number[]; y: number[] } {
  const x = seq([5, MM_C], 0.61, 0.3, 1.5);
  const y = [2, 0, 3, 1, 3];
  [x[2], x[1]] = [0.75, -0.25];
  return { x, y };
}
const MM_W = [0.5, 1.5, 1, 2];
const MULTIMARGIN = [
  { p: 1, margin: 1, weight: null, reduction: 'mean' },
  { p: 2, margin: 0.5, weight: MM_W, reduction: 'sum' },
  { p: 1, margin: 0.3, weight: MM_W, reduction: 'none' },
  { p: 2, margin: 1, weight: null, reduction: 'none' },
] as const;

const ML_C = 5;
/** Scores (4, 5), targets listed then -1: {3, 0} (anything after the -1), 1 twice and 2, none, every class; row 0 has a zero hinge (1 - (0.5 - -0.5)). */
function multilabelData(): { x: number[]; y: number[] } {
  const x = seq([4, ML_C], 0.53, 0.7, 1.2);
  [x[3], x[2]] = [0.5, -0.5];
  const y = [3, 0, -1, 1, 4, 1, 1, 2, -1, -1, -1, 2, 3, 0, 0, 4, 3, 2, 1, 0];
  return { x, y };
}

describe('MultiMarginLoss and MultiLabelMarginLoss against their float64 definitions', () => {
  it('MultiMarginLoss: p 1 and 2, margins, weight, every reduction, (N, C) and (C) with a 0-dim target', () => {
    const { x, y } = marginData();
    const input = f64(x, [5, MM_C]);
    const target = i32(y, [5]);
    for (const o of MULTIMARGIN) {
      const weight = o.weight && f64(o.weight, [MM_C]);
      for (const reduction of reductions) {
        const want = reduced(refMultiMargin(x, y, MM_C, o.p, o.margin, o.weight && [...o.weight]), reduction);
        expect(worstRel(values(F.multiMarginLoss(input, target, { ...o, weight, reduction })), want)).toBeLessThan(1e-15);
        expect(worstRel(values(new MultiMarginLoss({ ...o, weight, reduction }).forward(input, target)), want)).toBeLessThan(1e-15);
      }
      const one = F.multiMarginLoss(input.select(0, 3), target.select(0, 3), { ...o, weight, reduction: 'none' });
      expect(one.shape).toEqual([]);
      expect(worstRel([one.item()], refMultiMargin(x.slice(12, 16), [y[3]], MM_C, o.p, o.margin, o.weight && [...o.weight]))).toBeLessThan(1e-15);
    }
  });

  it('MultiLabelMarginLoss: lists padded with -1, repeats, no targets, every class a target; (N, C) and (C)', () => {
    const { x, y } = multilabelData();
    const input = f64(x, [4, ML_C]);
    const target = i32(y, [4, ML_C]);
    const per = refMultilabelMargin(x, y, ML_C);
    expect(per[2]).toBe(0);
    expect(per[3]).toBe(0);
    for (const reduction of reductions) {
      expect(worstRel(values(F.multilabelMarginLoss(input, target, { reduction })), reduced(per, reduction))).toBeLessThan(1e-15);
      expect(worstRel(values(new MultiLabelMarginLoss({ reduction }).forward(input, target)), reduced(per, reduction))).toBeLessThan(1e-15);
    }
    const one = F.multilabelMarginLoss(input.select(0, 1), target.select(0, 1), { reduction: 'none' });
    expect(one.shape).toEqual([]);
    expect(one.item()).toBeCloseTo(per[1], 15);
  });

  it('the gradient at a zero hinge is 0 (PyTorch\'s z > 0)', () => {
    const x = f64([0.75, -0.25, -2], [1, 3]).requiresGrad_();
    F.multiMarginLoss(x, i32([0], [1]), { reduction: 'sum' }).backward();
    expect(values(x.grad!).map((v) => v + 0)).toEqual([0, 0, 0]);
    const z = f64([0.5, -0.5, -2], [1, 3]).requiresGrad_();
    F.multilabelMarginLoss(z, i32([0, -1, 0], [1, 3]), { reduction: 'sum' }).backward();
    expect(values(z.grad!).map((v) => v + 0)).toEqual([0, 0, 0]);
  });

  it('gradcheck (float64, away from the hinges): input and weight of MultiMarginLoss, input of MultiLabelMarginLoss', () => {
    manualSeed(21);
    const x = randn([4, 5], { dtype: 'float64' }).requiresGrad_();
    const y = randint(0, 5, [4]);
    const w = randn([5], { dtype: 'float64' }).abs().add(0.5).requiresGrad_();
    const xs = values(x);
    for (const margin of [1, 0.4]) expect(values(y).every((t, n) => xs.slice(n * 5, n * 5 + 5).every((v, i) => i === t || Math.abs(margin - xs[n * 5 + t] + v) > 1e-3))).toBe(true);
    for (const p of [1, 2] as const) {
      expect(gradcheck((u, k) => F.multiMarginLoss(u, y, { p, weight: k, reduction: 'none' }), [x, w])).toBe(true);
      expect(gradcheck((u) => F.multiMarginLoss(u, y, { p, margin: 0.4 }), [x])).toBe(true);
    }
    const t = i32([1, 3, -1, 0, 0, 4, -1, 1, 1, 1, 0, 1, 2, 3, -1, -1, 2, 2, 2, 2], [4, 5]);
    for (const reduction of reductions) expect(gradcheck((u) => F.multilabelMarginLoss(u, t, { reduction }), [x])).toBe(true);
  });
});

// ---------------------------------------------------------------- InstanceNorm3d, BatchNorm3d
describe('InstanceNorm3d and BatchNorm3d against their float64 definitions', () => {
  it('InstanceNorm3d: each (sample, channel) volume normalised; affine; unbatched; the functional form', () => {
    const shape = [2, 3, 2, 3, 2];
    const x = f64(seq(shape), shape);
    const { groupOf, groups } = instanceGroups(shape);
    expect(worstRel(values(new InstanceNorm3d(3).forward(x)), refNorm(values(x), shape, 1e-5, groupOf, groups))).toBeLessThan(1e-14);
    const m = new InstanceNorm3d(3, { affine: true, eps: 1e-3 }).double();
    m.loadStateDict({ weight: f64([1, 1.5, 0.5], [3]), bias: f64([0, 0.2, -0.1], [3]) });
    expect(worstRel(values(m.forward(x)), refNorm(values(x), shape, 1e-3, groupOf, groups, { w: [1, 1.5, 0.5], b: [0, 0.2, -0.1] }))).toBeLessThan(1e-14);
    expect(values(m.forward(x.select(0, 1)))).toEqual(values(m.forward(x).select(0, 1)));
    expect(values(F.instanceNorm(x))).toEqual(values(new InstanceNorm3d(3).forward(x)));
  });

  it('BatchNorm3d: training normalises each channel over the batch and the volume and updates the running stats; eval uses them', () => {
    const shape = [3, 2, 2, 2, 3];
    const x = f64(seq(shape, 0.29), shape);
    const m = new BatchNorm3d(2).double();
    const { groupOf, groups } = batchGroups(shape);
    expect(worstRel(values(m.forward(x)), refNorm(values(x), shape, 1e-5, groupOf, groups))).toBeLessThan(1e-14);
    expect(m.numBatchesTracked!.item()).toBe(1);
    m.eval();
    const [mean, variance] = [values(m.runningMean!), values(m.runningVar!)];
    const want = values(x).map((v, i) => (v - mean[groupOf(i)]) / Math.sqrt(variance[groupOf(i)] + 1e-5));
    expect(worstRel(values(m.forward(x)), want)).toBeLessThan(1e-14);
  });
});

// ---------------------------------------------------------------- Transformer with custom parts
const LAYER = { dimFeedforward: 16, dropout: 0 };

describe('Transformer customEncoder / customDecoder', () => {
  it('uses the given modules as they are (weights kept), and initialises only what it builds, drawing as building that alone', () => {
    manualSeed(31);
    const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, LAYER), 1);
    const before = enc.parameters().map(values);
    const model = new Transformer({ dModel: 8, nhead: 2, numDecoderLayers: 2, ...LAYER, customEncoder: enc });
    expect(model.encoder).toBe(enc);
    expect(enc.parameters().map(values)).toEqual(before);
    manualSeed(31);
    new TransformerEncoder(new TransformerEncoderLayer(8, 2, LAYER), 1);
    const dec = new TransformerDecoder(new TransformerDecoderLayer(8, 2, LAYER), 2, { norm: new LayerNorm(8) });
    for (const p of dec.parameters()) if (p.ndim > 1) init.xavierUniform_(p);
    expect(model.decoder.parameters().map(values)).toEqual(dec.parameters().map(values));
    expect(Object.keys(model.stateDict()).filter((k) => k.startsWith('encoder.')).sort()).toEqual(Object.keys(enc.stateDict()).map((k) => `encoder.${k}`).sort());
  });

  it('any Module with the encoder signature: it gets the source masks, and forward is decoder(tgt, encoder(src))', () => {
    class Projection extends Module {
      lin = new Linear(8, 8);
      seen: TransformerForwardOptions | undefined;
      override forward(src: Tensor, opts?: TransformerForwardOptions): Tensor {
        this.seen = opts;
        return this.lin.forward(src);
      }
    }
    manualSeed(32);
    const proj = new Projection();
    const model = new Transformer({ dModel: 8, nhead: 2, numDecoderLayers: 1, ...LAYER, customEncoder: proj });
    const src = randn([5, 2, 8]);
    const tgt = randn([3, 2, 8]);
    const srcKeyPaddingMask = tensor([[false, false, false, true, true], [false, false, false, false, false]]);
    const y = model.forward(src, tgt, { srcKeyPaddingMask, srcIsCausal: true });
    expect(proj.seen).toEqual({ srcMask: undefined, srcKeyPaddingMask, isCausal: true });
    expect(values(y)).toEqual(values(model.decoder.forward(tgt, proj.lin.forward(src))));
  });

  it('refuses what is not a Module', () => {
    expect(err(() => new Transformer({ dModel: 8, nhead: 2, customDecoder: ((x: Tensor) => x) as never })).message).toBe(
      'Transformer: customDecoder must be a Module; got function\nhint: wrap it in a Module subclass whose forward calls it',
    );
  });
});

// ---------------------------------------------------------------- errors
describe('bad inputs: DLErrors naming the op, the values and the fix', () => {
  const [v, i] = F.maxPool2d(f64(seq([1, 2, 6, 8]), [1, 2, 6, 8]), 2, { returnIndices: true });
  it.each([
    ['maxUnpool2d outputSize too large', () => F.maxUnpool2d(v, i, 2, { outputSize: [6, 10] }), 'maxUnpool2d: outputSize [6, 10] does not fit input [1, 2, 3, 4], kernelSize [2, 2], stride [2, 2], padding [0, 0]: W must be in [7, 9] (within stride - 1 of the default 8); got 10\nhint: give the size of the max pool\'s input, the sizes its pool maps to the input\'s'],
    ['maxUnpool1d outputSize too small', () => F.maxUnpool1d(v.select(0, 0).select(1, 0), i.select(0, 0).select(1, 0), 3, { outputSize: [2] }), /^maxUnpool1d: outputSize \[2\] does not fit input \[2, 4\], kernelSize 3, stride 3, padding 0: L must be in \[10, 14\]/],
    ['maxUnpool2d outputSize of 3 entries for a batched input', () => F.maxUnpool2d(v, i, 2, { outputSize: [2, 6, 8] }), 'maxUnpool2d: outputSize must be 2 positive integers (H, W) or the whole output shape (4); got [2,6,8]'],
    ['maxUnpool2d outputSize changing the batch', () => F.maxUnpool2d(v, i, 2, { outputSize: [2, 2, 6, 8] }), "maxUnpool2d: outputSize [2, 2, 6, 8] must keep the input's leading dims [1, 2]\nhint: give the spatial size only: [6, 8]"],
    ['maxUnpool2d empty default size', () => F.maxUnpool2d(v, i, 2, { padding: 3 }), 'maxUnpool2d: the default output size [0, 2] of input [1, 2, 3, 4], kernelSize [2, 2], stride [2, 2], padding [3, 3] is empty\nhint: use less padding, or give outputSize'],
    ['maxUnpool2d index out of range', () => F.maxUnpool2d(v, i, 2, { outputSize: [5, 7] }), /^maxUnpool2d: index \d+ at flat position \d+ of indices is out of range for an output plane of 5x7 = 35 cells; expected indices in \[0, 35\)\nhint: pass the indices of maxPool2d\(x, \.\.\., \{ returnIndices: true \}\) with the same kernelSize, stride and padding, and x's size as outputSize$/],
    ['maxUnpool2d negative index', () => F.maxUnpool2d(v, i.mul(0).sub(1), 2), /^maxUnpool2d: index -1 at flat position 0 of indices is out of range/],
    ['maxUnpool2d float indices', () => F.maxUnpool2d(v, i.to('float32'), 2), "maxUnpool2d: indices must be int32; got float32\nhint: take them from maxPool2d(x, kernelSize, { returnIndices: true }), or cast with indices.to('int32')"],
    ['maxUnpool2d indices of another shape', () => F.maxUnpool2d(v, i.select(1, 0), 2), "maxUnpool2d: indices must have the input's shape [1, 2, 3, 4]; got [1, 3, 4]\nhint: pass the values and the indices of one max pool"],
    ['maxUnpool1d 4-D input', () => F.maxUnpool1d(v, i, 2), 'maxUnpool1d: expected a (N, C, L) or unbatched (C, L) input; got shape [1, 2, 3, 4]'],
    ['MaxUnpool2d kernel 0', () => new MaxUnpool2d(0), 'MaxUnpool2d: kernelSize must be an integer >= 1 or a pair of them; got 0'],
    ['multiMarginLoss p 3', () => F.multiMarginLoss(f64([1, 2], [1, 2]), i32([0], [1]), { p: 3 as never }), 'multiMarginLoss: p must be 1 or 2; got 3\nhint: p = 1 is the hinge and p = 2 its square; PyTorch defines no other'],
    ['MultiMarginLoss p 0', () => new MultiMarginLoss({ p: 0 as never }), /^MultiMarginLoss: p must be 1 or 2; got 0/],
    ['multiMarginLoss target out of range', () => F.multiMarginLoss(f64([1, 2, 3, 4], [2, 2]), i32([0, 2], [2])), 'multiMarginLoss: target 2 is out of bounds: there are 2 classes, so class indices must lie in [0, 1]; got 2 at flat position 1 of the target'],
    ['multiMarginLoss 3-D input', () => F.multiMarginLoss(f64(seq([2, 2, 2]), [2, 2, 2]), i32([0, 1], [2])), 'multiMarginLoss: input must be (N, C) or (C) with C >= 1; got shape [2, 2, 2]\nhint: move the class dim last and flatten the rest: (N * d1 * ..., C)'],
    ['multiMarginLoss weight shape', () => F.multiMarginLoss(f64([1, 2], [1, 2]), i32([0], [1]), { weight: f64([1, 2, 3], [3]) }), 'multiMarginLoss: weight must be a 1-D tensor with one entry per class (2); got shape [3]'],
    ['multiMarginLoss target shape', () => F.multiMarginLoss(f64([1, 2], [1, 2]), i32([0, 1], [2])), /^multiMarginLoss: expected a target of shape \[1\] for an input of shape \[1, 2\]; got target shape \[2\]/],
    ['multilabelMarginLoss float target', () => F.multilabelMarginLoss(f64([1, 2], [1, 2]), f64([1, 0], [1, 2])), 'multilabelMarginLoss: target must hold int32 class indices; got float64\nhint: for 0/1 labels of every class use multilabelSoftMarginLoss'],
    ['multilabelMarginLoss target shape', () => F.multilabelMarginLoss(f64([1, 2], [1, 2]), i32([1], [1])), "multilabelMarginLoss: target must have the input's shape [1, 2]; got [1]\nhint: list each sample's target classes first, then pad with -1"],
    ['multilabelMarginLoss target -2', () => F.multilabelMarginLoss(f64([1, 2], [1, 2]), i32([0, -2], [1, 2])), "multilabelMarginLoss: target -2 is out of range: with 2 classes, target values must lie in [-1, 1] (-1 ends a sample's list); got -2 at flat position 1 of the target"],
    ['InstanceNorm3d 3-D input', () => new InstanceNorm3d(2).forward(f64(seq([2, 2, 2]), [2, 2, 2])), 'InstanceNorm3d: expected 4D (unbatched) or 5D (batched) input; got 3D input of shape [2, 2, 2]'],
    ['BatchNorm3d 4-D input', () => new BatchNorm3d(2).forward(f64(seq([2, 2, 2, 2]), [2, 2, 2, 2])), 'BatchNorm3d: expected 5D input (got 4D input of shape [2, 2, 2, 2])'],
  ] as [string, () => unknown, string | RegExp][])('%s', (_name, f, want) => {
    const e = err(f);
    if (typeof want === 'string') expect(e.message).toBe(want);
    else expect(e.message).toMatch(want);
  });
});

// ---------------------------------------------------------------- PyTorch
const script = join(import.meta.dirname, 'fixtures', 'torch_layers_more.py');

interface TorchAnswer {
  shapes: number[][];
  outputs: number[][];
  grads: (number[] | null)[];
  state: Record<string, number[]>;
  error?: string;
}
type TorchInput = { shape: number[]; values: number[]; dtype: 'float64' | 'int64'; requiresGrad: boolean };
/** A tensor as the fixture takes it: float64 ones require grad, int32 ones go as int64 (PyTorch's index dtype). */
const input = (t: Tensor): TorchInput => ({ shape: [...t.shape], values: values(t), dtype: t.dtype === 'float64' ? 'float64' : 'int64', requiresGrad: t.dtype === 'float64' });
const snakeKeys = (state: Record<string, Tensor>) => Object.fromEntries(Object.entries(utils.stateDictToPyTorch(state)).map(([k, t]) => [k, values(t)]));

/** The outputSize sweeps: input [1, 1, 3, 4] (default [6, 8] with kernel 2) and [1, 1, 3, 2] with kernel 2, stride 3 (default [8, 5]). */
const SWEEPS = [
  ...[3, 4, 5, 6, 7, 8, 9].map((h) => ({ shape: [1, 1, 3, 4], opts: { stride: 2 }, outputSize: [h, 8] })),
  ...[5, 6, 7, 8, 9, 10, 11].map((w) => ({ shape: [1, 1, 3, 4], opts: { stride: 2 }, outputSize: [6, w] })),
  ...[4, 5, 6, 7, 8, 9, 10, 11, 12].map((h) => ({ shape: [1, 1, 3, 2], opts: { stride: 3 }, outputSize: [h, 5] })),
];

describe.skipIf(!python)('against PyTorch 1.13 (values, indices, gradients; float64; skipped only where python3 with torch is missing)', () => {
  const requests: unknown[] = [];
  const ask = (r: unknown) => requests.push(r) - 1;
  const poolAt = POOLS.map((c) => ask({ fn: c.fn, args: [c.arg], kwargs: { ...c.opts, returnIndices: true }, inputs: [input(poolInput(c))] }));
  const unpoolAt = UNPOOLS.map((c) => {
    const { v, idx } = unpoolInputs(c);
    return ask({ fn: c.dims === 2 ? 'maxUnpool2d' : 'maxUnpool1d', args: [c.kernel], kwargs: { ...c.opts, outputSize: c.torchOutputSize === undefined ? c.outputSize : c.torchOutputSize }, inputs: [input(v), input(idx)] });
  });
  const sweepAt = SWEEPS.map((s) => ask({ fn: 'maxUnpool2d', args: [2], kwargs: { ...s.opts, outputSize: s.outputSize }, inputs: [input(f64(seq(s.shape), s.shape)), input(i32(new Array(numel(s.shape)).fill(0), s.shape))] }));
  const badIndexAt = [12, -1].map((bad) => ask({ fn: 'maxUnpool2d', args: [2], kwargs: { outputSize: [3, 4] }, inputs: [input(f64(seq([1, 1, 2, 2]), [1, 1, 2, 2])), input(i32([0, 5, bad, 2], [1, 1, 2, 2]))] }));
  const mm = marginData();
  const multiMarginAt = MULTIMARGIN.flatMap((o) => [
    ask({ fn: 'multiMarginLoss', args: [], kwargs: { ...o, weight: o.weight && { tensor: o.weight } }, inputs: [input(f64(mm.x, [5, MM_C])), input(i32(mm.y, [5]))] }),
    ask({ fn: 'multiMarginLoss', args: [], kwargs: { ...o, weight: o.weight && { tensor: o.weight } }, inputs: [input(f64(mm.x.slice(4, 8), [MM_C])), input(i32([mm.y[1]], []))] }),
  ]);
  const ml = multilabelData();
  const multilabelAt = reductions.flatMap((reduction) => [
    ask({ fn: 'multilabelMarginLoss', args: [], kwargs: { reduction }, inputs: [input(f64(ml.x, [4, ML_C])), input(i32(ml.y, [4, ML_C]))] }),
    ask({ fn: 'multilabelMarginLoss', args: [], kwargs: { reduction }, inputs: [input(f64(ml.x.slice(5, 10), [ML_C])), input(i32(ml.y.slice(5, 10), [ML_C]))] }),
  ]);

  // The norm layers: a module, its state set, trained or evaluated once.
  const NORMS = [
    { name: 'InstanceNorm3d', make: () => new InstanceNorm3d(3), kwargs: {}, shape: [2, 3, 2, 3, 2], train: true },
    { name: 'InstanceNorm3d affine, trackRunningStats, momentum 0.3 (train)', make: () => new InstanceNorm3d(3, { affine: true, trackRunningStats: true, momentum: 0.3 }), kwargs: { affine: true, trackRunningStats: true, momentum: 0.3 }, shape: [2, 3, 2, 2, 3], train: true },
    { name: 'InstanceNorm3d trackRunningStats (eval), unbatched', make: () => new InstanceNorm3d(3, { trackRunningStats: true }), kwargs: { trackRunningStats: true }, shape: [3, 2, 3, 2], train: false },
    { name: 'BatchNorm3d (train)', make: () => new BatchNorm3d(2), kwargs: {}, shape: [3, 2, 2, 2, 3], train: true },
    { name: 'BatchNorm3d eps 1e-3, no affine (eval)', make: () => new BatchNorm3d(2, { eps: 1e-3, affine: false }), kwargs: { eps: 1e-3, affine: false }, shape: [2, 2, 3, 2, 2], train: false },
  ];
  /** The norm module in float64 with a state away from the initial one. */
  const normModule = (c: (typeof NORMS)[number]) => {
    const m = c.make().double();
    const state = m.stateDict();
    m.loadStateDict(Object.fromEntries(Object.entries(state).map(([k, t]) => [k, t.dtype === 'float64' ? f64(seq(t.shape, 0.9, k.length).map((v) => (k === 'runningVar' ? 1 + v * v : v)), t.shape) : t])));
    return m.train(c.train);
  };
  const normAt = NORMS.map((c) => ask({ module: c.name.split(' ')[0], args: [c.shape[c.shape.length === 5 ? 1 : 0]], kwargs: c.kwargs, state: snakeKeys(normModule(c).stateDict()), train: c.train, inputs: [input(f64(seq(c.shape, 0.41), c.shape))] }));

  // Transformer with a custom encoder (one layer and a final LayerNorm) or decoder (one layer, batchFirst).
  const TRANSFORMERS = [
    {
      name: 'customEncoder: a one-layer TransformerEncoder with a LayerNorm; 2 built decoder layers',
      make: () => new Transformer({ dModel: 8, nhead: 2, numDecoderLayers: 2, ...LAYER, customEncoder: new TransformerEncoder(new TransformerEncoderLayer(8, 2, LAYER), 1, { norm: new LayerNorm(8) }) }),
      torch: { dModel: 8, nhead: 2, numDecoderLayers: 2, ...LAYER, customEncoder: { layers: 1, norm: true } },
      shapes: [[5, 2, 8], [4, 2, 8]],
    },
    {
      name: 'customDecoder: a one-layer TransformerDecoder without norm; batchFirst, normFirst',
      make: () => new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 2, ...LAYER, batchFirst: true, normFirst: true, customDecoder: new TransformerDecoder(new TransformerDecoderLayer(8, 2, { ...LAYER, batchFirst: true, normFirst: true }), 1) }),
      torch: { dModel: 8, nhead: 2, numEncoderLayers: 2, ...LAYER, batchFirst: true, normFirst: true, customDecoder: { layers: 1, norm: false } },
      shapes: [[2, 5, 8], [2, 3, 8]],
    },
  ];
  const transformerModel = (c: (typeof TRANSFORMERS)[number]) => {
    manualSeed(41);
    return c.make().double();
  };
  const transformerInputs = (c: (typeof TRANSFORMERS)[number]) => c.shapes.map((s, k) => f64(seq(s, 0.43, k), s).requiresGrad_());
  const transformerAt = TRANSFORMERS.map((c) => ask({ transformer: c.torch, state: snakeKeys(transformerModel(c).stateDict()), inputs: transformerInputs(c).map((t) => input(t)) }));

  const answers: TorchAnswer[] = (() => {
    if (!python) return [];
    const r = spawnSync(python, [script], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`torch_layers_more.py failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as TorchAnswer[];
  })();

  it.each(POOLS.map((c, k) => [c.name, c, k] as const))('%s: values, indices and the values\' gradient', (_name, c, k) => {
    const want = answers[poolAt[k]];
    const x = poolInput(c);
    const [v, idx] = withIndices(c, x);
    expect([v.shape, idx.shape]).toEqual(want.shapes);
    expect(values(v)).toEqual(want.outputs[0]);
    expect(values(idx)).toEqual(want.outputs[1]);
    weighted(v).backward();
    expect(worstRel(values(x.grad!), want.grads[0]!)).toBeLessThan(1e-15);
  });

  it.each(UNPOOLS.map((c, k) => [c.name, c, k] as const))('%s: values; the gradient too, except that overwritten repeats get none (PyTorch: the written cell\'s)', (_name, c, k) => {
    const want = answers[unpoolAt[k]];
    const { v, idx, inPlane } = unpoolInputs(c);
    const y = unpool(c, v, idx);
    expect(y.shape).toEqual(want.shapes[0]);
    expect(values(y)).toEqual(want.outputs[0]);
    weighted(y).backward();
    const lost = overwritten(values(idx), inPlane);
    // Python's sin and V8's may differ in the last bit: the weights are not bit-identical.
    expect(worstRel(values(v.grad!), want.grads[0]!.map((g, j) => (lost[j] ? 0 : g)))).toBeLessThan(1e-15);
  });

  it('accepts exactly the outputSizes PyTorch accepts, and refuses out-of-range indices as PyTorch does', () => {
    for (const [k, s] of SWEEPS.entries()) {
      const want = answers[sweepAt[k]];
      const run = () => F.maxUnpool2d(f64(seq(s.shape), s.shape), i32(new Array(numel(s.shape)).fill(0), s.shape), 2, { ...s.opts, outputSize: s.outputSize });
      if (want.error) expect(run, `${JSON.stringify(s)}: PyTorch says ${want.error}`).toThrow(/outputSize/);
      else expect(run().shape, JSON.stringify(s)).toEqual(want.shapes[0]);
    }
    // 3 + 3 + 5 sizes within stride - 1 of the defaults.
    expect(sweepAt.filter((at) => !answers[at].error)).toHaveLength(11);
    for (const at of badIndexAt) expect(answers[at].error).toBeDefined();
    for (const bad of [12, -1]) expect(() => F.maxUnpool2d(f64(seq([1, 1, 2, 2]), [1, 1, 2, 2]), i32([0, 5, bad, 2], [1, 1, 2, 2]), 2, { outputSize: [3, 4] })).toThrow(`index ${bad} at flat position 2`);
  });

  it.each(MULTIMARGIN.map((o, k) => [JSON.stringify(o), o, k] as const))('MultiMarginLoss %s: (N, C) and (C)', (_name, o, k) => {
    for (const [j, [x, y]] of [[f64(mm.x, [5, MM_C]), i32(mm.y, [5])], [f64(mm.x.slice(4, 8), [MM_C]), i32([mm.y[1]], [])]].entries()) {
      const want = answers[multiMarginAt[2 * k + j]];
      const xg = x.requiresGrad_();
      const l = new MultiMarginLoss({ ...o, weight: o.weight && f64(o.weight, [MM_C]) }).forward(xg, y);
      expect(l.shape).toEqual(want.shapes[0]);
      expect(worstRel(values(l), want.outputs[0])).toBeLessThan(1e-15);
      weighted(l).backward();
      expect(worstRel(values(xg.grad!), want.grads[0]!)).toBeLessThan(1e-15);
    }
  });

  it.each(reductions.map((r, k) => [r, k] as const))('MultiLabelMarginLoss %s: (N, C) and (C)', (reduction, k) => {
    for (const [j, [x, y]] of [[f64(ml.x, [4, ML_C]), i32(ml.y, [4, ML_C])], [f64(ml.x.slice(5, 10), [ML_C]), i32(ml.y.slice(5, 10), [ML_C])]].entries()) {
      const want = answers[multilabelAt[2 * k + j]];
      const xg = x.requiresGrad_();
      const l = new MultiLabelMarginLoss({ reduction }).forward(xg, y);
      expect(l.shape).toEqual(want.shapes[0]);
      expect(worstRel(values(l), want.outputs[0])).toBeLessThan(1e-15);
      weighted(l).backward();
      expect(worstRel(values(xg.grad!), want.grads[0]!)).toBeLessThan(1e-15);
    }
  });

  it.each(NORMS.map((c, k) => [c.name, c, k] as const))('%s: output, input gradient and state', (_name, c, k) => {
    const want = answers[normAt[k]];
    const m = normModule(c);
    const x = f64(seq(c.shape, 0.41), c.shape).requiresGrad_();
    const y: Tensor = m.forward(x);
    expect(y.shape).toEqual(want.shapes[0]);
    // Both float64; measured at most 4.2e-16 (summation order).
    expect(worstRel(values(y), want.outputs[0])).toBeLessThan(1e-14);
    weighted(y).backward();
    expect(worstRel(values(x.grad!), want.grads[0]!)).toBeLessThan(1e-14);
    const state = snakeKeys(m.stateDict());
    expect(Object.keys(state).sort()).toEqual(Object.keys(want.state).sort());
    for (const [key, v] of Object.entries(want.state)) expect(worstRel(state[key], v), key).toBeLessThan(1e-14);
  });

  it.each(TRANSFORMERS.map((c, k) => [c.name, c, k] as const))('Transformer, %s: output and the gradients of src and tgt', (_name, c, k) => {
    const want = answers[transformerAt[k]];
    const [src, tgt] = transformerInputs(c);
    const y = transformerModel(c).forward(src, tgt);
    expect(y.shape).toEqual(want.shapes[0]);
    // Both float64; measured at most 6e-16.
    expect(worstRel(values(y), want.outputs[0])).toBeLessThan(1e-14);
    weighted(y).backward();
    expect(worstRel(values(src.grad!), want.grads[0]!)).toBeLessThan(1e-14);
    expect(worstRel(values(tgt.grad!), want.grads[1]!)).toBeLessThan(1e-14);
  });
});
