/**
 * The 1-d layers (Conv1d, MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d and their
 * functional forms), which run as the 2-d ops on (N, C, 1, L) views. Checked against float64
 * definitions written here with plain loops, against PyTorch 1.13 run in the same test run
 * (test/fixtures/torch_layers1d.py; without a python3 that imports torch those tests skip,
 * saying so in their names), by gradcheck, and for their errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DLError, arange, manualSeed, randint, randn, tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck } from '@dl/autograd';
import { AdaptiveAvgPool1d, AdaptiveMaxPool1d, AvgPool1d, Conv1d, F, MaxPool1d, type Module, utils } from '../src/index.js';
import type { AvgPool1dOptions, Conv1dOptions, MaxPool1dOptions, PaddingMode } from '../src/index.js';
import { python } from './helpers.js';

const values = (t: Tensor) => Array.from(t.dataSync());

// ---------------------------------------------------------------- float64 definitions
/** Where position j of a row of length L reads from under a padding mode (null: a zero). */
function source(j: number, L: number, mode: PaddingMode): number | null {
  if (j >= 0 && j < L) return j;
  if (mode === 'zeros') return null;
  if (mode === 'replicate') return j < 0 ? 0 : L - 1;
  if (mode === 'circular') return ((j % L) + L) % L;
  return j < 0 ? -j : 2 * (L - 1) - j; // reflect (without repeating the edge)
}

/** PyTorch's pooling output length: floor or ceil, and a last window must start inside the input or its left padding. */
function poolLength(L: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = L + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= L + p) o--;
  return o;
}

interface Rows {
  n: number;
  c: number;
  L: number;
  at: (n: number, c: number, l: number) => number;
}
const rows = (x: Tensor): Rows => {
  const data = x.dataSync();
  const [n, c, L] = x.ndim === 3 ? x.shape : [1, ...x.shape];
  return { n, c, L, at: (i, ch, l) => data[(i * c + ch) * L + l] };
};

/** y[n, o, t] = b[o] + sum over the group's channels ci and taps k of w[o, ci, k] x[n, g cg + ci, t s + k d - before]. */
function refConv1d(x: Tensor, w: Tensor, b: Tensor | null, opts: Required<Omit<Conv1dOptions, 'dtype' | 'device' | 'bias'>>): number[] {
  const { n, c, L, at } = rows(x);
  const [O, cg, K] = w.shape;
  const wd = w.dataSync();
  const bd = b?.dataSync();
  const { stride: s, dilation: d, groups, paddingMode } = opts;
  const total = d * (K - 1);
  const [before, after] = opts.padding === 'same' ? [Math.floor(total / 2), total - Math.floor(total / 2)] : opts.padding === 'valid' ? [0, 0] : [opts.padding, opts.padding];
  const Lout = Math.floor((L + before + after - total - 1) / s) + 1;
  const perGroup = O / groups;
  expect(c).toBe(cg * groups);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / perGroup);
      for (let t = 0; t < Lout; t++) {
        let acc = bd ? bd[o] : 0;
        for (let ci = 0; ci < cg; ci++) {
          for (let k = 0; k < K; k++) {
            const j = source(t * s + k * d - before, L, paddingMode);
            if (j !== null) acc += wd[(o * cg + ci) * K + k] * at(i, g * cg + ci, j);
          }
        }
        out.push(acc);
      }
    }
  }
  return out;
}

/** Max over the taps start + k d (start = t s - p) that fall inside the row (the padding is -infinity). */
function refMaxPool1d(x: Tensor, k: number, o: MaxPool1dOptions): number[] {
  const { n, c, L, at } = rows(x);
  const [s, p, d] = [o.stride ?? k, o.padding ?? 0, o.dilation ?? 1];
  const Lout = poolLength(L, k, s, p, d, o.ceilMode ?? false);
  const out: number[] = [];
  for (let i = 0; i < n * c; i++) {
    for (let t = 0; t < Lout; t++) {
      let m = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < k; j++) {
        const l = t * s - p + j * d;
        if (l >= 0 && l < L) m = Math.max(m, at(Math.floor(i / c), i % c, l));
      }
      out.push(m);
    }
  }
  return out;
}

/**
 * PyTorch's average: the window [t s - p, t s - p + k) cut at the padded end L + p, summed over the
 * part inside the input, divided by the cut window's size (countIncludePad) or by that part's size.
 */
function refAvgPool1d(x: Tensor, k: number, o: AvgPool1dOptions): number[] {
  const { n, c, L, at } = rows(x);
  const [s, p] = [o.stride ?? k, o.padding ?? 0];
  const Lout = poolLength(L, k, s, p, 1, o.ceilMode ?? false);
  const out: number[] = [];
  for (let i = 0; i < n * c; i++) {
    for (let t = 0; t < Lout; t++) {
      const start = t * s - p;
      const end = Math.min(start + k, L + p);
      const [lo, hi] = [Math.max(start, 0), Math.min(end, L)];
      let acc = 0;
      for (let l = lo; l < hi; l++) acc += at(Math.floor(i / c), i % c, l);
      out.push(acc / ((o.countIncludePad ?? true) ? end - start : hi - lo));
    }
  }
  return out;
}

/** Output t reduces input [floor(t L / n), ceil((t + 1) L / n)). */
function refAdaptive1d(x: Tensor, size: number, reduce: 'avg' | 'max'): number[] {
  const { n, c, L, at } = rows(x);
  const out: number[] = [];
  for (let i = 0; i < n * c; i++) {
    for (let t = 0; t < size; t++) {
      const window: number[] = [];
      for (let l = Math.floor((t * L) / size); l < Math.ceil(((t + 1) * L) / size); l++) window.push(at(Math.floor(i / c), i % c, l));
      out.push(reduce === 'max' ? Math.max(...window) : window.reduce((a, v) => a + v, 0) / window.length);
    }
  }
  return out;
}

// ---------------------------------------------------------------- the cases
type Layer = 'Conv1d' | 'MaxPool1d' | 'AvgPool1d' | 'AdaptiveAvgPool1d' | 'AdaptiveMaxPool1d';
interface Case {
  name: string;
  module: Layer;
  args: number[];
  kwargs: Record<string, unknown>;
  input: number[];
}

function make(c: Pick<Case, 'module' | 'args' | 'kwargs'>): Module {
  const [a, b, k] = c.args;
  switch (c.module) {
    case 'Conv1d':
      return new Conv1d(a, b, k, c.kwargs as Conv1dOptions);
    case 'MaxPool1d':
      return new MaxPool1d(a, c.kwargs as MaxPool1dOptions);
    case 'AvgPool1d':
      return new AvgPool1d(a, c.kwargs as AvgPool1dOptions);
    case 'AdaptiveAvgPool1d':
      return new AdaptiveAvgPool1d(a);
    case 'AdaptiveMaxPool1d':
      return new AdaptiveMaxPool1d(a);
  }
}

/** The float64 definition of a case's output. */
function reference(c: Case, m: Module, x: Tensor): number[] {
  switch (c.module) {
    case 'Conv1d': {
      const conv = m as Conv1d;
      const opts = { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups, paddingMode: conv.paddingMode };
      return refConv1d(x, conv.weight, conv.bias, opts);
    }
    case 'MaxPool1d':
      return refMaxPool1d(x, c.args[0], c.kwargs as MaxPool1dOptions);
    case 'AvgPool1d':
      return refAvgPool1d(x, c.args[0], c.kwargs as AvgPool1dOptions);
    case 'AdaptiveAvgPool1d':
      return refAdaptive1d(x, c.args[0], 'avg');
    case 'AdaptiveMaxPool1d':
      return refAdaptive1d(x, c.args[0], 'max');
  }
}

const CASES: Case[] = [
  { name: 'Conv1d', module: 'Conv1d', args: [4, 6, 3], kwargs: {}, input: [2, 4, 9] },
  { name: 'Conv1d stride 2, padding 2, dilation 2, groups 2', module: 'Conv1d', args: [4, 6, 3], kwargs: { stride: 2, padding: 2, dilation: 2, groups: 2 }, input: [2, 4, 11] },
  { name: 'Conv1d stride 3, padding 1, no bias', module: 'Conv1d', args: [3, 2, 4], kwargs: { stride: 3, padding: 1, bias: false }, input: [2, 3, 12] },
  { name: 'Conv1d depthwise (groups = inChannels), channel multiplier 2', module: 'Conv1d', args: [3, 6, 3], kwargs: { groups: 3, padding: 1 }, input: [2, 3, 7] },
  { name: "Conv1d padding 'same', even kernel", module: 'Conv1d', args: [3, 4, 4], kwargs: { padding: 'same' }, input: [2, 3, 7] },
  { name: "Conv1d padding 'same', dilation 3", module: 'Conv1d', args: [2, 3, 3], kwargs: { padding: 'same', dilation: 3 }, input: [1, 2, 9] },
  { name: "Conv1d padding 'valid'", module: 'Conv1d', args: [2, 3, 5], kwargs: { padding: 'valid' }, input: [2, 2, 8] },
  { name: 'Conv1d unbatched (C, L)', module: 'Conv1d', args: [3, 2, 3], kwargs: { padding: 1, stride: 2 }, input: [3, 8] },
  { name: 'Conv1d reflect padding 2', module: 'Conv1d', args: [2, 3, 3], kwargs: { padding: 2, paddingMode: 'reflect' }, input: [2, 2, 6] },
  { name: 'Conv1d replicate padding, stride 2, groups 2', module: 'Conv1d', args: [4, 2, 3], kwargs: { padding: 2, stride: 2, groups: 2, paddingMode: 'replicate' }, input: [2, 4, 7] },
  { name: "Conv1d circular padding 'same', even kernel, dilation 2", module: 'Conv1d', args: [2, 2, 4], kwargs: { padding: 'same', dilation: 2, paddingMode: 'circular' }, input: [2, 2, 8] },
  { name: 'Conv1d reflect padding, unbatched', module: 'Conv1d', args: [2, 3, 3], kwargs: { padding: 1, paddingMode: 'reflect' }, input: [2, 5] },
  { name: 'MaxPool1d', module: 'MaxPool1d', args: [3], kwargs: {}, input: [2, 3, 10] },
  { name: 'MaxPool1d stride 2, padding 1, ceilMode', module: 'MaxPool1d', args: [3], kwargs: { stride: 2, padding: 1, ceilMode: true }, input: [2, 3, 10] },
  { name: 'MaxPool1d stride 3, ceilMode (a partial last window)', module: 'MaxPool1d', args: [4], kwargs: { stride: 3, ceilMode: true }, input: [2, 2, 11] },
  { name: 'MaxPool1d ceilMode, a last window that would start in the right padding is dropped', module: 'MaxPool1d', args: [2], kwargs: { stride: 2, padding: 1, ceilMode: true }, input: [1, 2, 4] },
  { name: 'MaxPool1d dilation 2, padding 1, stride 1', module: 'MaxPool1d', args: [3], kwargs: { stride: 1, padding: 1, dilation: 2 }, input: [2, 2, 8] },
  { name: 'MaxPool1d unbatched', module: 'MaxPool1d', args: [2], kwargs: {}, input: [3, 7] },
  { name: 'AvgPool1d', module: 'AvgPool1d', args: [2], kwargs: {}, input: [2, 3, 9] },
  { name: 'AvgPool1d padding 1, stride 2, countIncludePad', module: 'AvgPool1d', args: [3], kwargs: { stride: 2, padding: 1 }, input: [2, 3, 8] },
  { name: 'AvgPool1d padding 1, stride 2, countIncludePad false', module: 'AvgPool1d', args: [3], kwargs: { stride: 2, padding: 1, countIncludePad: false }, input: [2, 3, 8] },
  { name: 'AvgPool1d ceilMode, padding 2, countIncludePad (the last window cut at L + padding)', module: 'AvgPool1d', args: [4], kwargs: { stride: 3, padding: 2, ceilMode: true }, input: [2, 2, 10] },
  { name: 'AvgPool1d ceilMode, countIncludePad false', module: 'AvgPool1d', args: [4], kwargs: { stride: 3, padding: 2, ceilMode: true, countIncludePad: false }, input: [2, 2, 10] },
  { name: 'AvgPool1d ceilMode without padding', module: 'AvgPool1d', args: [3], kwargs: { stride: 2, ceilMode: true }, input: [1, 2, 8] },
  { name: 'AvgPool1d unbatched', module: 'AvgPool1d', args: [3], kwargs: { stride: 1, padding: 1 }, input: [2, 6] },
  { name: 'AdaptiveAvgPool1d 7 -> 3 (overlapping windows)', module: 'AdaptiveAvgPool1d', args: [3], kwargs: {}, input: [2, 3, 7] },
  { name: 'AdaptiveAvgPool1d 7 -> 5', module: 'AdaptiveAvgPool1d', args: [5], kwargs: {}, input: [2, 2, 7] },
  { name: 'AdaptiveAvgPool1d 5 -> 8 (more outputs than inputs)', module: 'AdaptiveAvgPool1d', args: [8], kwargs: {}, input: [1, 2, 5] },
  { name: 'AdaptiveAvgPool1d 6 -> 1, unbatched', module: 'AdaptiveAvgPool1d', args: [1], kwargs: {}, input: [3, 6] },
  { name: 'AdaptiveMaxPool1d 10 -> 4', module: 'AdaptiveMaxPool1d', args: [4], kwargs: {}, input: [2, 3, 10] },
  { name: 'AdaptiveMaxPool1d 7 -> 3', module: 'AdaptiveMaxPool1d', args: [3], kwargs: {}, input: [2, 2, 7] },
  { name: 'AdaptiveMaxPool1d 4 -> 6, unbatched', module: 'AdaptiveMaxPool1d', args: [6], kwargs: {}, input: [2, 4] },
];

/** A case's module (float64, initialised after manualSeed(seed)) and input (randn, float64). */
function setup(c: Case, seed: number): { m: Module; x: Tensor } {
  manualSeed(seed);
  const m = make(c).double();
  return { m, x: randn(c.input, { dtype: 'float64' }) };
}

describe('the 1-d layers against float64 definitions (plain loops)', () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const { m, x } = setup(c, 100 + i);
    const y = m.forward(x);
    const want = reference(c, m, x);
    const got = values(y);
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (const [k, v] of got.entries()) worst = Math.max(worst, Math.abs(v - want[k]) / (1 + Math.abs(want[k])));
    // Measured: at most 1.6e-16 (summation order only).
    expect(worst).toBeLessThan(1e-14);
    // The functional form agrees with the layer.
    const viaF = (() => {
      switch (c.module) {
        case 'Conv1d': {
          const conv = m as Conv1d;
          if (conv.paddingMode !== 'zeros') return null;
          return F.conv1d(x, conv.weight, conv.bias, { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups });
        }
        case 'MaxPool1d':
          return F.maxPool1d(x, c.args[0], c.kwargs as MaxPool1dOptions);
        case 'AvgPool1d':
          return F.avgPool1d(x, c.args[0], c.kwargs as AvgPool1dOptions);
        case 'AdaptiveAvgPool1d':
          return F.adaptiveAvgPool1d(x, c.args[0]);
        case 'AdaptiveMaxPool1d':
          return F.adaptiveMaxPool1d(x, c.args[0]);
      }
    })();
    if (viaF) expect(values(viaF)).toEqual(got);
  });

  it('compute known values by hand, and PyTorch-style output shapes', () => {
    const x = arange(8).to('float32').reshape([1, 1, 8]);
    const conv = new Conv1d(1, 1, 3, { bias: false });
    conv.loadStateDict({ weight: tensor([[[1, 0, -1]]]) });
    expect(conv.forward(x).toArray()).toEqual([[[-2, -2, -2, -2, -2, -2]]]);
    expect(new MaxPool1d(3).forward(x).toArray()).toEqual([[[2, 5]]]);
    expect(new MaxPool1d(3, { ceilMode: true }).forward(x).toArray()).toEqual([[[2, 5, 7]]]);
    expect(new MaxPool1d(2, 2).forward(x).toArray()).toEqual([[[1, 3, 5, 7]]]);
    expect(new AvgPool1d(4).forward(x).toArray()).toEqual([[[1.5, 5.5]]]);
    expect(new AvgPool1d(3, { stride: 3, padding: 1, countIncludePad: false }).forward(x).toArray()).toEqual([[[0.5, 3, 6]]]);
    expect(new AdaptiveAvgPool1d(3).forward(x).toArray()).toEqual([[[1, 3.5, 6]]]);
    expect(new AdaptiveMaxPool1d(3).forward(x).toArray()).toEqual([[[2, 5, 7]]]);
    expect(new Conv1d(3, 8, 3, { stride: 2, padding: 1 }).forward(randn([2, 3, 9])).shape).toEqual([2, 8, 5]);
    expect(new Conv1d(3, 8, 4, { padding: 'same', dilation: 2 }).forward(randn([3, 10])).shape).toEqual([8, 10]);
    expect(new AvgPool1d(2).forward(randn([4, 5])).shape).toEqual([4, 2]);
  });

  it('repr and attributes', () => {
    expect(String(new Conv1d(2, 3, 3))).toBe('Conv1d(2, 3, kernelSize=3, stride=1)');
    expect(String(new Conv1d(4, 6, 3, { padding: 2, dilation: 2, groups: 2, bias: false, paddingMode: 'reflect' }))).toBe(
      "Conv1d(4, 6, kernelSize=3, stride=1, padding=2, dilation=2, groups=2, bias=false, paddingMode='reflect')",
    );
    expect(String(new MaxPool1d(3, 2))).toBe('MaxPool1d(kernelSize=3, stride=2, padding=0, dilation=1, ceilMode=false)');
    expect(String(new AvgPool1d(3))).toBe('AvgPool1d(kernelSize=3, stride=3, padding=0)');
    expect(String(new AdaptiveMaxPool1d(5))).toBe('AdaptiveMaxPool1d(outputSize=5)');
    const conv = new Conv1d(6, 4, 5, { groups: 2 });
    expect(conv.weight.shape).toEqual([4, 3, 5]);
    expect(conv.namedParameters().map(([k]) => k)).toEqual(['weight', 'bias']);
  });
});

// ---------------------------------------------------------------- PyTorch
const script = join(import.meta.dirname, 'fixtures', 'torch_layers1d.py');

interface RunAnswer {
  shape: number[];
  output: number[];
  grads: (number[] | null)[];
  paramGrads: Record<string, number[]>;
}
function torchAnswers<T>(requests: unknown[]): T[] {
  const r = spawnSync(python as string, [script], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T[];
}

/** Conv1d constructions whose default initialisation is compared, after manualSeed(seed). */
const INITS: { seed: number; args: [number, number, number]; kwargs: Conv1dOptions }[] = [
  { seed: 0, args: [4, 6, 3], kwargs: {} },
  { seed: 1, args: [6, 4, 5], kwargs: { groups: 2, bias: false } },
  { seed: 2, args: [3, 8, 2], kwargs: { dilation: 2, padding: 'same', paddingMode: 'reflect' } },
  { seed: 3, args: [16, 32, 7], kwargs: { stride: 2 } },
  { seed: 4, args: [8, 8, 3], kwargs: { groups: 8 } },
];

/** Largest |a - b| / (1 + |b|) over two lists of the same length. */
function worstRelative(actual: number[], expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  return actual.reduce((w, v, i) => Math.max(w, Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))), 0);
}

describe.skipIf(!python)('the 1-d layers against PyTorch 1.13 (skipped only where python3 with torch is missing)', () => {
  const runs = CASES.map((c, i) => {
    const { m, x } = setup(c, 100 + i);
    const state = Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, values(v)]));
    return { m, x, request: { kind: 'run', module: c.module, args: c.args, kwargs: c.kwargs, state, inputs: [{ shape: c.input, values: values(x), requiresGrad: true }] } };
  });
  const inits = INITS.map((c) => ({ kind: 'init', module: 'Conv1d', args: c.args, kwargs: c.kwargs, seed: c.seed }));
  const answers = python ? torchAnswers<unknown>([...inits, ...runs.map((r) => r.request)]) : [];

  it("Conv1d's default initialisation after manualSeed(s) is PyTorch's after torch.manual_seed(s), bit for bit", () => {
    for (const [i, c] of INITS.entries()) {
      manualSeed(c.seed);
      const conv = new Conv1d(...c.args, c.kwargs);
      const state = Object.fromEntries(Object.entries(conv.stateDict()).map(([k, v]) => [k, values(v)]));
      expect(state).toEqual(answers[i]);
    }
  });

  it.each(CASES.map((c, i) => [c.name, i] as const))('%s: output and the gradients of input and parameters (float64)', (_name, i) => {
    const { m, x } = runs[i];
    const want = answers[INITS.length + i] as RunAnswer;
    const xg = x.detach().requiresGrad_();
    const y = m.forward(xg);
    expect(y.shape).toEqual(want.shape);
    // Measured: outputs within 5.2e-17, gradients within 6.3e-16 (relative to 1 + |value|).
    expect(worstRelative(values(y), want.output)).toBeLessThan(1e-14);
    const w = tensor(Float64Array.from({ length: y.numel }, (_, k) => Math.sin(1 + 0.7 * k)), { shape: y.shape });
    y.mul(w).sum().backward();
    expect(worstRelative(values(xg.grad as Tensor), want.grads[0] as number[])).toBeLessThan(1e-14);
    for (const [k, p] of m.namedParameters()) expect(worstRelative(values(p.grad as Tensor), want.paramGrads[k])).toBeLessThan(1e-14);
    expect(Object.keys(want.paramGrads).sort()).toEqual(m.namedParameters().map(([k]) => k).sort());
  });
});

// ---------------------------------------------------------------- gradcheck
/** gradcheck of a module's forward as a function of (input, ...parameters), in float64. */
function gradcheckModule(m: Module, x: Tensor): boolean {
  m.double();
  const names = m.namedParameters().map(([k]) => k);
  const fn = (inp: Tensor, ...ps: Tensor[]) => utils.functionalCall(m, Object.fromEntries(names.map((k, i) => [k, ps[i]])), inp) as Tensor;
  return gradcheck(fn, [x.to('float64').requiresGrad_(), ...m.parameters()]);
}

describe('gradcheck of the 1-d layers (float64)', () => {
  it('Conv1d: stride, padding, dilation, groups, no bias, every padding mode, unbatched', () => {
    manualSeed(8);
    expect(gradcheckModule(new Conv1d(2, 3, 3, { stride: 2, padding: 1 }), randn([2, 2, 7]))).toBe(true);
    expect(gradcheckModule(new Conv1d(4, 2, 2, { groups: 2, dilation: 2, bias: false }), randn([1, 4, 6]))).toBe(true);
    expect(gradcheckModule(new Conv1d(2, 2, 4, { padding: 'same' }), randn([2, 2, 5]))).toBe(true);
    for (const paddingMode of ['reflect', 'replicate', 'circular'] as const) {
      expect(gradcheckModule(new Conv1d(2, 2, 3, { padding: 2, paddingMode }), randn([1, 2, 5]))).toBe(true);
    }
    expect(gradcheckModule(new Conv1d(3, 2, 3, { padding: 1 }), randn([3, 5]))).toBe(true);
  });

  it('the pools: padding, dilation, ceilMode, countIncludePad, adaptive sizes that do not divide', () => {
    manualSeed(9);
    const x = randn([2, 2, 9]);
    expect(gradcheckModule(new MaxPool1d(3, { stride: 2, padding: 1, dilation: 2, ceilMode: true }), x)).toBe(true);
    expect(gradcheckModule(new AvgPool1d(4, { stride: 3, padding: 2, ceilMode: true }), x)).toBe(true);
    expect(gradcheckModule(new AvgPool1d(3, { stride: 2, padding: 1, countIncludePad: false }), x)).toBe(true);
    expect(gradcheckModule(new AdaptiveAvgPool1d(4), x)).toBe(true);
    expect(gradcheckModule(new AdaptiveMaxPool1d(5), x)).toBe(true);
    expect(gradcheckModule(new MaxPool1d(2), randn([3, 6]))).toBe(true);
  });
});

// ---------------------------------------------------------------- errors
function err(fn: () => unknown): DLError {
  try {
    fn();
  } catch (e) {
    return e as DLError;
  }
  throw new Error('expected an error');
}

describe('errors of the 1-d layers name the op, the bad value and the fix', () => {
  it('Conv1d and conv1d', () => {
    const conv = new Conv1d(4, 4, 3);
    const image = err(() => conv.forward(randn([1, 4, 5, 5])));
    expect(image.code).toBe('SHAPE');
    expect(image.message).toBe('conv1d: expected a 3-D (N, C, L) or 2-D unbatched (C, L) input; got shape [1, 4, 5, 5]\nhint: for (N, C, H, W) inputs use conv2d');
    expect(err(() => conv.forward(randn([5]))).message).toMatch(/got shape \[5\]\nhint: a single channel is \(1, L\): x.unsqueeze\(0\)/);
    expect(err(() => conv.forward(randn([2, 3, 8]))).message).toBe('conv1d: expected an input with 4 channels (weight [4, 4, 3], groups 1); got 3 channels in input of shape [2, 3, 8]');
    const short = err(() => new Conv1d(2, 2, 5, { dilation: 2 }).forward(randn([1, 2, 6])));
    expect(short.message).toBe("conv1d: the input length 6 is shorter than the kernel's span 9 (kernelSize 5, dilation 2)\nhint: use a longer input, more padding or a smaller kernel");
    expect(err(() => conv.forward(randint(0, 3, [1, 4, 5]))).code).toBe('DTYPE');
    expect(err(() => F.conv1d(randn([1, 2, 5]), randn([2, 2, 1, 3]))).message).toBe('conv1d: weight must be 3-D [outChannels, inChannels / groups, kernelSize]; got shape [2, 2, 1, 3]\nhint: a 4-D weight is a conv2d kernel');
    expect(err(() => F.conv1d(randn([1, 2, 5]), randn([3, 2, 3]), randn([2]))).message).toBe('conv1d: bias must have shape [3]; got [2]');
    expect(err(() => F.conv1d(randn([1, 4, 5]), randn([3, 2, 3]), null, { groups: 2 })).message).toBe('conv1d: outChannels (weight.shape[0] = 3) must be divisible by groups (2)');
    expect(err(() => F.conv1d(randn([1, 2, 5]), randn([3, 2, 3]), null, { padding: -1 })).message).toBe("conv1d: padding must be an integer >= 0, 'same' or 'valid'; got -1");
    const strided = err(() => new Conv1d(2, 2, 3, { padding: 'same', stride: 2 }));
    expect(strided.message).toBe("Conv1d: padding='same' is not supported for strided convolutions\nhint: use stride 1 or explicit padding");
    expect(err(() => new Conv1d(3, 4, 3, { groups: 2 })).message).toBe('Conv1d: inChannels (3) must be divisible by groups (2)');
    expect(err(() => new Conv1d(2, 4, 3, { paddingMode: 'mirror' as PaddingMode })).message).toMatch(/Conv1d: paddingMode must be 'zeros', 'reflect', 'replicate' or 'circular'; got "mirror"/);
    expect(err(() => new Conv1d(2, 4, [3] as unknown as number)).message).toBe('Conv1d: kernelSize must be an integer >= 1; got [3]');
    expect(err(() => new Conv1d(2, 4, 3, { stride: 0 })).message).toBe('Conv1d: stride must be an integer >= 1; got 0');
    expect(err(() => new Conv1d(2, 2, 3, { padding: 2, paddingMode: 'reflect' }).forward(randn([1, 2, 2]))).message).toMatch(/reflect padding \(2, 2\) must be smaller than dimension 2's size 2/);
  });

  it('the pools', () => {
    const x = randn([1, 2, 6]);
    expect(err(() => new MaxPool1d(3, { padding: 2 }).forward(x)).message).toBe('maxPool1d: padding should be at most half of the kernel size; got padding 2 for kernelSize 3\nhint: use padding <= 1');
    expect(err(() => new AvgPool1d(7).forward(x)).message).toBe("avgPool1d: the input length 6 is shorter than the kernel's span 7 (kernelSize 7, dilation 1)\nhint: use a longer input, more padding or a smaller kernel");
    expect(err(() => new MaxPool1d(4, { dilation: 2 }).forward(x)).message).toMatch(/maxPool1d: the input length 6 is shorter than the kernel's span 7 \(kernelSize 4, dilation 2\)/);
    expect(err(() => F.avgPool1d(randn([1, 2, 3, 6]), 2)).message).toMatch(/avgPool1d: expected a 3-D \(N, C, L\) or 2-D unbatched \(C, L\) input; got shape \[1, 2, 3, 6\]\nhint: for \(N, C, H, W\) inputs use avgPool2d/);
    expect(err(() => new AdaptiveMaxPool1d(2).forward(randn([1, 1, 2, 6]))).message).toMatch(/adaptiveMaxPool1d: .*\nhint: for \(N, C, H, W\) inputs use adaptiveMaxPool2d/);
    expect(err(() => new AdaptiveAvgPool1d(0)).message).toBe('AdaptiveAvgPool1d: outputSize must be an integer >= 1; got 0');
    expect(err(() => F.adaptiveAvgPool1d(x, 2.5)).message).toBe('adaptiveAvgPool1d: outputSize must be an integer >= 1; got 2.5');
    expect(err(() => new MaxPool1d(0)).message).toBe('MaxPool1d: kernelSize must be an integer >= 1; got 0');
    expect(err(() => new AvgPool1d(2, { padding: -1 })).message).toBe('AvgPool1d: padding must be an integer >= 0; got -1');
    expect(err(() => F.maxPool1d(randint(0, 3, [1, 2, 6]), 2)).code).toBe('DTYPE');
  });
});
