/**
 * ParameterList and ParameterDict, Bilinear, Dropout1d / AlphaDropout / FeatureAlphaDropout,
 * EmbeddingBag and Unfold / Fold, with their functional forms. Checked against float64 definitions
 * written here, against PyTorch 1.13 run once for the whole file
 * (test/fixtures/torch_layers_extra.py; without a python3 that imports torch those tests skip,
 * saying so in their names), by gradcheck, by the statistics of the random masks, and for their
 * errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, bernoulli, manualSeed, randn, } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck } from '@dl/autograd';
import {
  AlphaDropout,
  Bilinear,
  Dropout1d,
  EmbeddingBag,
  F,
  FeatureAlphaDropout,
  Fold,
  Linear,
  Module,
  Parameter,
  ParameterDict,
  ParameterList,
  Unfold,
  utils,
} from '../src/index.js';
import type { EmbeddingBagMode, UnfoldOptions } from '../src/index.js';
import { caught as err, f64, i32, numel, seq, values, weighted, worstRel, python } from './helpers.js';

const pair = (v: number | readonly number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);



// ---------------------------------------------------------------- float64 definitions
/** y[n, o] = sum_ij x1[n, i] w[o, i, j] x2[n, j] + b[o]. */
function refBilinear(x1: number[], x2: number[], w: number[], b: number[] | null, in1: number, in2: number, out: number): number[] {
  const n = x1.length / in1;
  const y: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < in1; i++) for (let j = 0; j < in2; j++) s += x1[r * in1 + i] * w[(o * in1 + i) * in2 + j] * x2[r * in2 + j];
      y.push(s);
    }
  }
  return y;
}

interface Blocks {
  k: [number, number];
  d: [number, number];
  p: [number, number];
  s: [number, number];
  /** Blocks along H and W. */
  b: [number, number];
}
function blocksOf(size: [number, number], kernelSize: number | [number, number], o: UnfoldOptions): Blocks {
  const k = pair(kernelSize);
  const d = pair(o.dilation ?? 1);
  const p = pair(o.padding ?? 0);
  const s = pair(o.stride ?? 1);
  const b = [0, 1].map((i) => Math.floor((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) / s[i]) + 1) as [number, number];
  return { k, d, p, s, b };
}
/** Visits every (plane, tap row, block, input cell or null in the padding) of im2col. */
function eachTap(planes: number, size: [number, number], g: Blocks, visit: (row: number, col: number, cell: number | null) => void): void {
  const [h, w] = size;
  for (let c = 0; c < planes; c++) {
    for (let i = 0; i < g.k[0]; i++) {
      for (let j = 0; j < g.k[1]; j++) {
        for (let y = 0; y < g.b[0]; y++) {
          for (let x = 0; x < g.b[1]; x++) {
            const r = y * g.s[0] - g.p[0] + i * g.d[0];
            const q = x * g.s[1] - g.p[1] + j * g.d[1];
            visit((c * g.k[0] + i) * g.k[1] + j, y * g.b[1] + x, r >= 0 && r < h && q >= 0 && q < w ? (c * h + r) * w + q : null);
          }
        }
      }
    }
  }
}
/** cols[plane-row, block] = the input cell each tap of each block sees (0 in the padding); all planes in one batch of rows. */
function refUnfold(x: number[], planes: number, size: [number, number], g: Blocks): number[] {
  const len = g.b[0] * g.b[1];
  const out = new Array<number>(planes * g.k[0] * g.k[1] * len).fill(0);
  eachTap(planes, size, g, (row, col, cell) => {
    out[row * len + col] = cell === null ? 0 : x[cell];
  });
  return out;
}
/** The image each column entry adds into (the padding's entries are lost). */
function refFold(cols: number[], planes: number, size: [number, number], g: Blocks): number[] {
  const len = g.b[0] * g.b[1];
  const out = new Array<number>(planes * size[0] * size[1]).fill(0);
  eachTap(planes, size, g, (row, col, cell) => {
    if (cell !== null) out[cell] += cols[row * len + col];
  });
  return out;
}

/** Each bag's rows (padding left out) reduced; weight rows of `dim`, bags given by their starts and the end. */
function refEmbeddingBag(idx: number[], w: number[], dim: number, starts: number[], mode: EmbeddingBagMode, pad: number | null, psw: number[] | null): number[] {
  const out: number[] = [];
  for (let b = 0; b + 1 < starts.length; b++) {
    const ks = [];
    for (let k = starts[b]; k < starts[b + 1]; k++) if (idx[k] !== pad) ks.push(k);
    for (let e = 0; e < dim; e++) {
      const vals = ks.map((k) => w[idx[k] * dim + e] * (psw ? psw[k] : 1));
      if (vals.length === 0) out.push(0);
      else if (mode === 'max') out.push(Math.max(...vals));
      else out.push(vals.reduce((a, v) => a + v, 0) / (mode === 'mean' ? vals.length : 1));
    }
  }
  return out;
}

// ---------------------------------------------------------------- ParameterList and ParameterDict
class Holder extends Module {
  lin = new Linear(2, 3);
  plist = new ParameterList([randn([3, 2]), new Parameter(randn([3]))]);
  pdict = new ParameterDict({ zeta: randn([2]), alpha: randn([2, 2]) });
  override forward(x: Tensor): Tensor {
    return this.lin.forward(x).add(x.matmul(this.plist.get(0).t())).add(this.plist.get(-1)).mul(this.pdict.get('zeta').sum());
  }
}

describe('ParameterList and ParameterDict', () => {
  it('register their parameters: namedParameters, parameters and the state dict name them "0", "1", ... and by key, in order', () => {
    manualSeed(1);
    const m = new Holder();
    const names = ['lin.weight', 'lin.bias', 'plist.0', 'plist.1', 'pdict.zeta', 'pdict.alpha'];
    expect(m.namedParameters().map(([k]) => k)).toEqual(names);
    expect(Object.keys(m.stateDict())).toEqual(names);
    expect(m.parameters()[2]).toBe(m.plist.get(0));
    expect(m.parameters().every((p) => p instanceof Parameter && p.requiresGrad)).toBe(true);
    // Gradients reach them.
    m.forward(randn([4, 2])).sum().backward();
    for (const p of m.parameters().slice(0, 5)) expect(p.grad).not.toBeNull();
  });

  it('loadStateDict, to(dtype) and to(device) in place: the same Parameter objects, new values', () => {
    manualSeed(2);
    const a = new Holder();
    const b = new Holder();
    const before = b.parameters();
    b.loadStateDict(a.stateDict());
    for (const [k, t] of Object.entries(b.stateDict())) expect(values(t)).toEqual(values(a.stateDict()[k]));
    b.to('float64').to('reference');
    expect(b.parameters()).toEqual(before);
    b.parameters().forEach((p, i) => {
      expect(p).toBe(before[i]);
      expect(p.dtype).toBe('float64');
      expect(p.device).toBe('reference');
    });
    expect(b.plist.get(1)).toBe(before[3]);
    expect(b.pdict.get('alpha')).toBe(before[5]);
    expect(String(b.plist)).toBe('ParameterList(\n    (0): Parameter containing: [float64 of size 3x2 (reference)]\n    (1): Parameter containing: [float64 of size 3 (reference)]\n)');
  });

  it('print as PyTorch (dl dtype names), one entry on its own line too, empty as ParameterList()', () => {
    manualSeed(3);
    expect(String(new Holder())).toBe(
      [
        'Holder(',
        '  (lin): Linear(inFeatures=2, outFeatures=3, bias=true)',
        '  (plist): ParameterList(',
        '      (0): Parameter containing: [float32 of size 3x2]',
        '      (1): Parameter containing: [float32 of size 3]',
        '  )',
        '  (pdict): ParameterDict(',
        '      (zeta): Parameter containing: [float32 of size 2]',
        '      (alpha): Parameter containing: [float32 of size 2x2]',
        '  )',
        ')',
      ].join('\n'),
    );
    expect(String(new ParameterList([randn([4])]))).toBe('ParameterList(\n    (0): Parameter containing: [float32 of size 4]\n)');
    expect(String(new ParameterList())).toBe('ParameterList()');
    expect(String(new ParameterDict())).toBe('ParameterDict()');
  });

  it('ParameterList: append, extend, get (negative counts from the end), set, length, iteration; plain tensors become Parameters sharing storage', () => {
    const t = randn([2]);
    const p = new Parameter(randn([3]));
    const l = new ParameterList().append(t).extend([p, randn([1])]);
    expect(l.length).toBe(3);
    expect(l.get(0)).toBeInstanceOf(Parameter);
    expect(l.get(0).storage).toBe(t.storage);
    expect(l.get(1)).toBe(p);
    expect(l.get(-2)).toBe(p);
    const q = new Parameter(randn([5]));
    l.set(-1, q);
    expect([...l]).toEqual([l.get(0), p, q]);
    expect(l.namedParameters().map(([k, v]) => [k, v.shape])).toEqual([['0', [2]], ['1', [3]], ['2', [5]]]);
    expect(err(() => l.get(3)).message).toMatch(/^ParameterList.get: index 3 is out of range for a ParameterList of length 3/);
    expect(err(() => l.append([1, 2] as never)).message).toMatch(/ParameterList.append: param must be a Parameter or a Tensor; got an array[\s\S]*hint: wrap arrays with tensor/);
  });

  it('ParameterDict: get, set, has, delete, update (object, pairs, another dict: insertion order kept), keys, values, items, size, registerParameter', () => {
    const [a, b, c] = [randn([1]), randn([2]), randn([3])];
    const d = new ParameterDict([['b', b]]).update({ a }).update(new ParameterDict({ c }));
    expect(d.keys()).toEqual(['b', 'a', 'c']); // PyTorch 1.13 sorts a plain dict's keys
    expect(d.size).toBe(3);
    expect(d.has('a')).toBe(true);
    expect(d.get('a').storage).toBe(a.storage);
    expect(d.items().map(([k, p]) => [k, p.shape])).toEqual([['b', [2]], ['a', [1]], ['c', [3]]]);
    expect(d.values()).toEqual(d.items().map(([, p]) => p));
    expect([...d]).toEqual(['b', 'a', 'c']);
    const removed = d.delete('b');
    expect(removed.shape).toEqual([2]);
    expect(d.keys()).toEqual(['a', 'c']);
    d.registerParameter('e', new Parameter(randn([4])));
    expect(d.namedParameters().map(([k]) => k)).toEqual(['a', 'c', 'e']);
    expect(err(() => d.get('b')).message).toMatch(/^ParameterDict.get: no parameter named 'b'; the keys are \["a","c","e"\]/);
    expect(err(() => d.set('x.y', randn([1]))).message).toMatch(/key must be a non-empty string without '\.'; got "x.y"/);
  });

  it('utils.functionalCall replaces a ParameterList entry for one call (gradcheck through it) and restores it', () => {
    manualSeed(4);
    const m = new Holder().double();
    const x = f64(seq([3, 2]), [3, 2]);
    const w = f64(seq([3, 2], 0.5), [3, 2]).requiresGrad_();
    const original = m.plist.get(0);
    expect(gradcheck((u) => utils.functionalCall(m, { 'plist.0': u }, x), [w])).toBe(true);
    expect(m.plist.get(0)).toBe(original);
  });
});

// ---------------------------------------------------------------- Bilinear
const BILINEAR = [
  { name: '[4, 3] x [4, 5] -> [4, 2], bias', s1: [4, 3], s2: [4, 5], out: 2, bias: true },
  { name: '1-D [3] x [2] -> [4], no bias', s1: [3], s2: [2], out: 4, bias: false },
  { name: '[2, 3, 2] x [2, 3, 4] -> [2, 3, 3], bias', s1: [2, 3, 2], s2: [2, 3, 4], out: 3, bias: true },
];
const bilinearInputs = (c: (typeof BILINEAR)[number]) => {
  const in1 = c.s1[c.s1.length - 1];
  const in2 = c.s2[c.s2.length - 1];
  return {
    x1: f64(seq(c.s1), c.s1).requiresGrad_(),
    x2: f64(seq(c.s2, 0.61, 0.3), c.s2).requiresGrad_(),
    w: f64(seq([c.out, in1, in2], 0.29, 0.7, 1), [c.out, in1, in2]).requiresGrad_(),
    b: c.bias ? f64(seq([c.out], 1.3), [c.out]).requiresGrad_() : null,
    in1,
    in2,
  };
};

describe('Bilinear', () => {
  it.each(BILINEAR.map((c) => [c.name, c] as const))('%s: F.bilinear and the module against the float64 definition; gradcheck', (_name, c) => {
    const { x1, x2, w, b, in1, in2 } = bilinearInputs(c);
    const y = F.bilinear(x1, x2, w, b);
    expect(y.shape).toEqual([...c.s1.slice(0, -1), c.out]);
    expect(worstRel(values(y), refBilinear(values(x1), values(x2), values(w), b && values(b), in1, in2, c.out))).toBeLessThan(1e-14);
    const m = new Bilinear(in1, in2, c.out, { bias: c.bias, dtype: 'float64' });
    m.loadStateDict(b ? { weight: w, bias: b } : { weight: w });
    expect(values(m.forward(x1, x2))).toEqual(values(y));
    expect(gradcheck((u, v, ww, bb) => F.bilinear(u, v, ww, bb), b ? [x1, x2, w, b] : [x1, x2, w])).toBe(true);
  });

  it('initialisation: U(-1/sqrt(in1), 1/sqrt(in1)) for weight and bias; the module prints its sizes', () => {
    manualSeed(5);
    const m = new Bilinear(16, 3, 40);
    for (const p of m.parameters()) {
      const v = values(p);
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(0.25);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(p.numel > 100 ? 0.249 : 0.23);
    }
    expect(String(m)).toBe('Bilinear(in1Features=16, in2Features=3, outFeatures=40, bias=true)');
    expect(new Bilinear(2, 2, 2, { bias: false }).bias).toBeNull();
  });
});

// ---------------------------------------------------------------- the dropouts
const ALPHA_PRIME = 1.0507009873554805 * 1.6732632423543772;
const alphaA = (p: number) => 1 / Math.sqrt((ALPHA_PRIME * ALPHA_PRIME * p + 1) * (1 - p));
const meanVar = (v: number[]) => {
  const mean = v.reduce((a, x) => a + x, 0) / v.length;
  return { mean, variance: v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length };
};

describe('Dropout1d, AlphaDropout and FeatureAlphaDropout', () => {
  it('eval mode and p = 0 return the input itself; p = 1 gives zeros; the modules print p', () => {
    const x = f64(seq([2, 3, 4]), [2, 3, 4]);
    for (const M of [Dropout1d, AlphaDropout, FeatureAlphaDropout]) {
      expect(new M(0.3).eval().forward(x)).toBe(x);
      expect(new M(0).forward(x)).toBe(x);
      expect(values(new M(1).forward(x)).every((v) => v === 0)).toBe(true);
      expect(String(new M(0.3))).toBe(`${M.name}(p=0.3)`);
    }
    // PyTorch's functional alpha dropouts default to training = false.
    expect(F.alphaDropout(x, 0.5)).toBe(x);
    expect(F.featureAlphaDropout(x, 0.5)).toBe(x);
    expect(F.dropout1d(x, 0.5, false)).toBe(x);
  });

  it('dropout1d: whole channels of (N, C, L) and (C, L) zeroed or scaled by 1 / (1 - p), the mask of the generator; the gradient through it', () => {
    for (const shape of [[3, 5, 7], [6, 9]]) {
      const p = 0.4;
      const x = f64(seq(shape), shape).requiresGrad_();
      const y = F.dropout1d(x, p, true, { generator: new Generator(8) });
      const mask = values(bernoulli(1 - p, { shape: [...shape.slice(0, -1), 1], dtype: 'float64', generator: new Generator(8) }));
      const len = shape[shape.length - 1];
      const scale = (i: number) => mask[Math.floor(i / len)] / (1 - p);
      expect(values(y)).toEqual(values(x).map((v, i) => v * scale(i)));
      expect(mask.some((m) => m === 0) && mask.some((m) => m === 1)).toBe(true);
      y.sum().backward();
      expect(values(x.grad!)).toEqual(values(x).map((_, i) => scale(i)));
    }
  });

  it('alphaDropout: kept a (x + alpha p), dropped -a alpha (1 - p) (PyTorch\'s constants), given the generator\'s mask; gradient a * mask', () => {
    const p = 0.3;
    const a = alphaA(p);
    const x = f64(seq([4, 25]), [4, 25]).requiresGrad_();
    const y = F.alphaDropout(x, p, true, { generator: new Generator(9) });
    const keep = values(bernoulli(1 - p, { shape: [4, 25], dtype: 'float64', generator: new Generator(9) }));
    const want = values(x).map((v, i) => (keep[i] ? a * (v + ALPHA_PRIME * p) : -a * ALPHA_PRIME * (1 - p)));
    expect(worstRel(values(y), want)).toBeLessThan(1e-15);
    y.sum().backward();
    expect(values(x.grad!)).toEqual(keep.map((k) => a * k));
  });

  it('featureAlphaDropout: one draw per (sample, channel), the same affine map over the whole channel', () => {
    const p = 0.5;
    const a = alphaA(p);
    const shape = [3, 4, 2, 5];
    const x = f64(seq(shape), shape);
    const y = values(F.featureAlphaDropout(x, p, true, { generator: new Generator(10) }));
    const keep = values(bernoulli(1 - p, { shape: [3, 4, 1, 1], dtype: 'float64', generator: new Generator(10) }));
    const want = values(x).map((v, i) => (keep[Math.floor(i / 10)] ? a * (v + ALPHA_PRIME * p) : -a * ALPHA_PRIME * (1 - p)));
    expect(worstRel(y, want)).toBeLessThan(1e-15);
    expect(keep.some((k) => k === 0) && keep.some((k) => k === 1)).toBe(true);
  });

  it('statistics: standard normal inputs keep mean 0 and variance 1; about p of the elements (channels) dropped', () => {
    manualSeed(11);
    const x = randn([200000], { dtype: 'float64' });
    for (const p of [0.1, 0.5]) {
      const y = values(new AlphaDropout(p).forward(x));
      const { mean, variance } = meanVar(y);
      expect(Math.abs(mean)).toBeLessThan(0.01);
      expect(Math.abs(variance - 1)).toBeLessThan(0.02);
      const dropped = y.filter((v) => v === -alphaA(p) * ALPHA_PRIME * (1 - p)).length / y.length;
      expect(Math.abs(dropped - p)).toBeLessThan(0.01);
    }
    const xf = randn([2000, 25, 4], { dtype: 'float64' });
    const yf = new FeatureAlphaDropout(0.2).forward(xf);
    const { mean, variance } = meanVar(values(yf));
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    // Whole channels: within each (sample, channel), every element dropped or none.
    const dropValue = -alphaA(0.2) * ALPHA_PRIME * 0.8;
    const perChannel = values(yf.eq(dropValue).to('float64').sum(2));
    expect(perChannel.every((n) => n === 0 || n === 4)).toBe(true);
    expect(Math.abs(perChannel.filter((n) => n === 4).length / perChannel.length - 0.2)).toBeLessThan(0.01);
    const y1 = new Dropout1d(0.25).forward(f64(new Array(4000 * 3).fill(1), [4000, 3]));
    const zeroed = values(y1.eq(0).to('float64').sum(1));
    expect(zeroed.every((n) => n === 0 || n === 3)).toBe(true);
    expect(Math.abs(zeroed.filter((n) => n === 3).length / 4000 - 0.25)).toBeLessThan(0.02);
  });
});

// ---------------------------------------------------------------- EmbeddingBag
const EB_ROWS = 10;
const EB_DIM = 3;
const ebWeight = () => f64(seq([EB_ROWS, EB_DIM], 0.83, 0.2, 1.5), [EB_ROWS, EB_DIM]).requiresGrad_();
interface BagCase {
  name: string;
  idx: number[];
  /** Input shape: 2-D, or 1-D with offsets. */
  shape: number[];
  offsets: number[] | null;
  mode: EmbeddingBagMode;
  includeLastOffset?: boolean;
  paddingIdx?: number;
  psw?: boolean;
}
const IDX = [1, 2, 4, 5, 4, 3, 2, 9, 7, 0];
const BAGS: BagCase[] = [
  ...(['sum', 'mean', 'max'] as const).map((mode) => ({ name: `${mode}, 1-D with offsets, an empty bag, a repeated index`, idx: IDX, shape: [10], offsets: [0, 3, 3, 7], mode })),
  ...(['sum', 'mean', 'max'] as const).map((mode) => ({ name: `${mode}, 2-D input (2 bags of 5)`, idx: IDX, shape: [2, 5], offsets: null, mode })),
  { name: 'sum with perSampleWeights', idx: IDX, shape: [10], offsets: [0, 4, 6], mode: 'sum', psw: true },
  { name: 'sum with perSampleWeights, 2-D', idx: IDX, shape: [5, 2], offsets: null, mode: 'sum', psw: true },
  { name: 'mean, includeLastOffset', idx: IDX, shape: [10], offsets: [0, 2, 7, 10], mode: 'mean', includeLastOffset: true },
  { name: 'mean, paddingIdx 4 (not counted; a bag of padding only gives 0)', idx: [4, 4, 1, 4, 2, 3, 9, 4], shape: [8], offsets: [0, 2, 5], mode: 'mean', paddingIdx: 4 },
  { name: 'max, paddingIdx -1 (= 9)', idx: [9, 1, 9, 2, 3, 9], shape: [6], offsets: [0, 1, 3], mode: 'max', paddingIdx: -1 },
  { name: 'sum, paddingIdx 2, perSampleWeights', idx: IDX, shape: [10], offsets: [0, 5], mode: 'sum', paddingIdx: 2, psw: true },
];
const bagInputs = (c: BagCase) => ({
  input: i32(c.idx, c.shape),
  offsets: c.offsets && i32(c.offsets),
  weight: ebWeight(),
  psw: c.psw ? f64(seq(c.shape, 0.9, 0.4, 1), c.shape).requiresGrad_() : null,
});
const bagOpts = (c: BagCase, psw: Tensor | null) => ({ mode: c.mode, includeLastOffset: c.includeLastOffset, paddingIdx: c.paddingIdx, perSampleWeights: psw });
const bagStarts = (c: BagCase) => {
  if (!c.offsets) return Array.from({ length: c.shape[0] + 1 }, (_, b) => b * c.shape[1]);
  return c.includeLastOffset ? c.offsets : [...c.offsets, c.idx.length];
};

describe('EmbeddingBag', () => {
  it.each(BAGS.map((c) => [c.name, c] as const))('%s: F.embeddingBag and the module against the float64 definition; gradcheck (weight, perSampleWeights)', (_name, c) => {
    const { input, offsets, weight, psw } = bagInputs(c);
    const y = F.embeddingBag(input, weight, offsets, bagOpts(c, psw));
    const pad = c.paddingIdx === undefined ? null : (c.paddingIdx + EB_ROWS) % EB_ROWS;
    const want = refEmbeddingBag(c.idx, values(weight), EB_DIM, bagStarts(c), c.mode, pad, psw && values(psw));
    expect(y.shape).toEqual([bagStarts(c).length - 1, EB_DIM]);
    expect(worstRel(values(y), want)).toBeLessThan(1e-15);
    const m = new EmbeddingBag(EB_ROWS, EB_DIM, { mode: c.mode, paddingIdx: c.paddingIdx, includeLastOffset: c.includeLastOffset, dtype: 'float64' });
    m.loadStateDict({ weight });
    expect(values(m.forward(input, offsets, psw))).toEqual(values(y));
    expect(gradcheck((w, s) => F.embeddingBag(input, w, offsets, bagOpts(c, s ?? null)), psw ? [weight, psw] : [weight])).toBe(true);
  });

  it('max: each feature\'s gradient goes to the first maximum only (a repeated row gets it once)', () => {
    const weight = ebWeight();
    const y = F.embeddingBag(i32([3, 3, 1]), weight, i32([0]), { mode: 'max' });
    y.sum().backward();
    const g = values(weight.grad!);
    const w = values(weight);
    for (let e = 0; e < EB_DIM; e++) {
      const top = w[3 * EB_DIM + e] >= w[1 * EB_DIM + e] ? 3 : 1;
      expect(g.filter((v, k) => k % EB_DIM === e && v !== 0)).toEqual([1]);
      expect(g[top * EB_DIM + e]).toBe(1);
    }
  });

  it('initialisation N(0, 1) with the padding row zeroed; the module prints its settings', () => {
    manualSeed(12);
    const m = new EmbeddingBag(400, 50, { paddingIdx: 3 });
    const w = values(m.weight);
    expect(w.slice(150, 200).every((v) => v === 0)).toBe(true);
    const { mean, variance } = meanVar(w);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    expect(String(m)).toBe("EmbeddingBag(400, 50, mode='mean', paddingIdx=3)");
    expect(String(new EmbeddingBag(5, 2, { mode: 'max', includeLastOffset: true }))).toBe("EmbeddingBag(5, 2, mode='max', includeLastOffset=true)");
  });

  it('a 2-D input without columns gives zeros (PyTorch 1.13 fails)', () => {
    const y = F.embeddingBag(i32([], [3, 0]), ebWeight(), null, { mode: 'mean' });
    expect(y.shape).toEqual([3, EB_DIM]);
    expect(values(y).every((v) => v === 0)).toBe(true);
  });
});

// ---------------------------------------------------------------- Unfold and Fold
interface BlockCase {
  name: string;
  shape: number[];
  kernel: number | [number, number];
  opts: UnfoldOptions;
}
const BLOCKS: BlockCase[] = [
  { name: 'kernel 2', shape: [2, 3, 5, 6], kernel: 2, opts: {} },
  { name: 'kernel [3, 2], stride 2, padding 1', shape: [1, 2, 7, 6], kernel: [3, 2], opts: { stride: 2, padding: 1 } },
  { name: 'kernel 3, dilation [2, 1], padding [2, 0], stride [1, 3], unbatched', shape: [2, 6, 8], kernel: 3, opts: { dilation: [2, 1], padding: [2, 0], stride: [1, 3] } },
  { name: 'kernel 2, stride 3 (cells no block covers), padding 2', shape: [1, 1, 5, 7], kernel: 2, opts: { stride: 3, padding: 2 } },
];
const blockGeometry = (c: BlockCase) => {
  const size = c.shape.slice(-2) as [number, number];
  const planes = numel(c.shape.slice(0, -2));
  return { size, planes, g: blocksOf(size, c.kernel, c.opts) };
};
const colsShape = (c: BlockCase, g: Blocks) => [...c.shape.slice(0, -3), c.shape[c.shape.length - 3] * g.k[0] * g.k[1], g.b[0] * g.b[1]];

describe('Unfold and Fold', () => {
  it.each(BLOCKS.map((c) => [c.name, c] as const))('%s: against the float64 definitions (loops), adjoint of each other, the modules, gradcheck', (_name, c) => {
    const { size, planes, g } = blockGeometry(c);
    const x = f64(seq(c.shape), c.shape).requiresGrad_();
    const cols = F.unfold(x, c.kernel, c.opts);
    expect(cols.shape).toEqual(colsShape(c, g));
    expect(values(cols)).toEqual(refUnfold(values(x), planes, size, g));
    const z = f64(seq(cols.shape, 0.53, 0.9), cols.shape).requiresGrad_();
    const img = F.fold(z, size, c.kernel, c.opts);
    expect(img.shape).toEqual(c.shape);
    expect(worstRel(values(img), refFold(values(z), planes, size, g))).toBeLessThan(1e-15);
    // <unfold(x), z> = <x, fold(z)>.
    expect(cols.mul(z).sum().item()).toBeCloseTo(x.mul(img).sum().item(), 12);
    expect(values(new Unfold(c.kernel, c.opts).forward(x))).toEqual(values(cols));
    expect(values(new Fold(size, c.kernel, c.opts).forward(z))).toEqual(values(img));
    expect(gradcheck((u) => F.unfold(u, c.kernel, c.opts), [x])).toBe(true);
    expect(gradcheck((u) => F.fold(u, size, c.kernel, c.opts), [z])).toBe(true);
  });

  it('fold(unfold(x)) is x times the number of blocks covering each cell; the modules print their settings', () => {
    const x = f64(seq([1, 1, 4, 4]), [1, 1, 4, 4]);
    const back = F.fold(F.unfold(x, 2), [4, 4], 2);
    const covers = [1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1];
    expect(worstRel(values(back), values(x).map((v, i) => v * covers[i]))).toBeLessThan(1e-15);
    expect(String(new Unfold(2, { dilation: 2 }))).toBe('Unfold(kernelSize=2, dilation=2, padding=0, stride=1)');
    expect(String(new Fold([4, 5], [2, 3], { stride: [1, 2] }))).toBe('Fold(outputSize=[4, 5], kernelSize=[2, 3], dilation=1, padding=0, stride=[1, 2])');
  });
});

// ---------------------------------------------------------------- errors
describe('bad inputs: DLErrors naming the op, the values and the fix', () => {
  const w = ebWeight();
  const x4 = f64(seq([1, 2, 3, 3]), [1, 2, 3, 3]);
  const cases: [string, () => unknown, RegExp][] = [
    ['bilinear: leading dims differ', () => F.bilinear(f64(seq([1, 3]), [1, 3]), f64(seq([4, 5]), [4, 5]), f64(seq([2, 3, 5]), [2, 3, 5])), /^bilinear: input1 \[1, 3\] and input2 \[4, 5\] must have the same leading dims.*not broadcast[\s\S]*hint: expand/],
    ['bilinear: input2 features', () => F.bilinear(f64(seq([4, 3]), [4, 3]), f64(seq([4, 4]), [4, 4]), f64(seq([2, 3, 5]), [2, 3, 5])), /^bilinear: input2 of shape \[4, 4\] has 4 features in its last dim, but the weight \[2, 3, 5\] expects 5/],
    ['bilinear: bias', () => F.bilinear(f64(seq([4, 3]), [4, 3]), f64(seq([4, 5]), [4, 5]), f64(seq([2, 3, 5]), [2, 3, 5]), f64([0, 0, 0], [3])), /^bilinear: bias must have shape \[2\] \(weight \[2, 3, 5\]\); got \[3\]/],
    ['dropout1d: rank', () => F.dropout1d(x4), /^dropout1d: expected an \(N, C, L\) or unbatched \(C, L\) input; got shape \[1, 2, 3, 3\][\s\S]*hint: for \(N, C, H, W\) inputs use dropout2d/],
    ['alphaDropout: p', () => new AlphaDropout(1.5), /^AlphaDropout: dropout probability has to be between 0 and 1; got 1.5/],
    ['featureAlphaDropout: rank', () => F.featureAlphaDropout(f64([1, 2], [2]), 0.5, true), /^featureAlphaDropout: feature dropout requires at least 2 dims \(N, C, \*\); got shape \[2\][\s\S]*hint: for element-wise dropout use alphaDropout/],
    ['alphaDropout: integer input', () => F.alphaDropout(i32([1, 2]), 0.5, true), /^alphaDropout: input must be a floating point tensor; got int32/],
    ['embeddingBag: index out of range', () => F.embeddingBag(i32([1, 10]), w, i32([0])), /^embeddingBag: index 10 is out of range for an embedding of 10 rows \(at flat position 1 of the input\)[\s\S]*hint: indices must lie in \[0, 10\)/],
    ['embeddingBag: offsets[0]', () => F.embeddingBag(i32([1, 2]), w, i32([1])), /^embeddingBag: offsets\[0\] must be 0 \(the first bag starts at the first index\); got 1/],
    ['embeddingBag: decreasing offsets', () => F.embeddingBag(i32([1, 2, 3]), w, i32([0, 2, 1])), /^embeddingBag: offsets must not decrease; got offsets\[1\] = 2 then offsets\[2\] = 1/],
    ['embeddingBag: offsets beyond', () => F.embeddingBag(i32([1, 2]), w, i32([0, 3])), /^embeddingBag: offsets\[-1\] = 3 is beyond the input's 2 indices/],
    ['embeddingBag: includeLastOffset short', () => F.embeddingBag(i32([1, 2, 3]), w, i32([0, 2]), { includeLastOffset: true }), /^embeddingBag: with includeLastOffset the last offset is the end of the last bag and must be the number of indices 3; got 2[\s\S]*hint: append 3 to offsets/],
    ['embeddingBag: 1-D without offsets', () => F.embeddingBag(i32([1, 2]), w), /^embeddingBag: a 1-D input \[2\] needs offsets/],
    ['embeddingBag: 2-D with offsets', () => F.embeddingBag(i32([1, 2], [1, 2]), w, i32([0])), /^embeddingBag: offsets must be null for a 2-D input \[1, 2\]: each row is a bag/],
    ['embeddingBag: perSampleWeights with max', () => F.embeddingBag(i32([1, 2]), w, i32([0]), { mode: 'max', perSampleWeights: f64([1, 1], [2]) }), /^embeddingBag: perSampleWeights is only supported for mode 'sum'; got mode 'max'/],
    ['embeddingBag: perSampleWeights shape', () => F.embeddingBag(i32([1, 2]), w, i32([0]), { mode: 'sum', perSampleWeights: f64([1], [1]) }), /^embeddingBag: perSampleWeights must have the input's shape \[2\]; got \[1\]/],
    ['embeddingBag: mode', () => F.embeddingBag(i32([1, 2]), w, i32([0]), { mode: 'prod' as never }), /^embeddingBag: mode must be 'sum', 'mean' or 'max'; got "prod"/],
    ['unfold: rank', () => F.unfold(f64(seq([3, 3]), [3, 3]), 2), /^unfold: expected an \(N, C, H, W\) or unbatched \(C, H, W\) input; got shape \[3, 3\][\s\S]*hint: a single channel is \(1, H, W\)/],
    ['unfold: kernel too large', () => F.unfold(x4, 4), /^unfold: a 3x3 plane with padding \[0, 0\] has no room for a block of kernelSize \[4, 4\] with dilation \[1, 1\] \(the number of blocks would be 0x0\)/],
    ['unfold: stride 0', () => F.unfold(x4, 2, { stride: 0 }), /^unfold: stride must be an integer >= 1 or a pair of them; got 0/],
    ['fold: rows', () => F.fold(f64(seq([1, 7, 4]), [1, 7, 4]), [3, 3], 2), /^fold: the 7 rows \(dim 1\) of input \[1, 7, 4\] are not divisible by the 4 taps of kernelSize \[2, 2\]/],
    ['fold: blocks', () => F.fold(f64(seq([1, 8, 5]), [1, 8, 5]), [3, 3], 2), /^fold: input \[1, 8, 5\] has 5 blocks in its last dim, but outputSize \[3, 3\] with kernelSize \[2, 2\], dilation \[1, 1\], padding \[0, 0\], stride \[1, 1\] has 2 \* 2 = 4[\s\S]*hint: give the outputSize and settings of the unfold/],
    ['Unfold: padding checked at construction', () => new Unfold(2, { padding: -1 }), /^Unfold: padding must be an integer >= 0 or a pair of them; got -1/],
  ];
  it.each(cases)('%s', (_name, fn, want) => {
    expect(err(fn).message).toMatch(want);
  });
});

// ---------------------------------------------------------------- PyTorch
const script = join(import.meta.dirname, 'fixtures', 'torch_layers_extra.py');

interface TorchAnswer {
  shapes: number[][];
  outputs: number[][];
  grads: (number[] | null)[];
  state: Record<string, number[]>;
  error?: string;
}
/** A tensor as the fixture takes it: float64 ones require grad when they do here, int32 ones go as int64 (PyTorch's index dtype). */
const input = (t: Tensor, name?: string) => ({ shape: [...t.shape], values: values(t), dtype: t.dtype === 'float64' ? 'float64' : 'int64', requiresGrad: t.requiresGrad, ...(name ? { name } : {}) });

describe.skipIf(!python)('against PyTorch 1.13 (values and gradients in float64, initial weights in float32; skipped only where python3 with torch is missing)', () => {
  const requests: unknown[] = [];
  const ask = (r: unknown) => requests.push(r) - 1;
  const bilinearAt = BILINEAR.map((c) => {
    const { x1, x2, w, b } = bilinearInputs(c);
    return ask({ fn: 'bilinear', args: [], inputs: [input(x1), input(x2), input(w), ...(b ? [input(b)] : [])] });
  });
  const bagAt = BAGS.map((c) => {
    const { input: idx, offsets, weight, psw } = bagInputs(c);
    const inputs = [input(idx), input(weight), ...(offsets ? [input(offsets, 'offsets')] : []), ...(psw ? [input(psw, 'perSampleWeights')] : [])];
    return ask({ fn: 'embeddingBag', args: [], kwargs: { mode: c.mode, includeLastOffset: c.includeLastOffset ?? false, paddingIdx: c.paddingIdx ?? null }, inputs });
  });
  const unfoldAt = BLOCKS.map((c) => ask({ fn: 'unfold', args: [c.kernel], kwargs: c.opts, inputs: [input(f64(seq(c.shape), c.shape).requiresGrad_())] }));
  const foldAt = BLOCKS.map((c) => {
    const { size, g } = blockGeometry(c);
    const shape = colsShape(c, g);
    return ask({ fn: 'fold', args: [size, c.kernel], kwargs: c.opts, inputs: [input(f64(seq(shape, 0.53, 0.9), shape).requiresGrad_())] });
  });
  /** tol: PyTorch's normal_ of 16 or more values runs vectorised float32 maths, which differs in the last bits. */
  const INITS = [
    { name: 'Bilinear(5, 3, 4): uniform, exact', make: () => new Bilinear(5, 3, 4), torch: { init: 'Bilinear', args: [5, 3, 4], kwargs: {} }, seed: 21, tol: 0 },
    { name: 'Bilinear(2, 7, 3, bias false): uniform, exact', make: () => new Bilinear(2, 7, 3, { bias: false }), torch: { init: 'Bilinear', args: [2, 7, 3], kwargs: { bias: false } }, seed: 22, tol: 0 },
    { name: 'EmbeddingBag(20, 3, paddingIdx 4): normal, to float32 rounding', make: () => new EmbeddingBag(20, 3, { paddingIdx: 4 }), torch: { init: 'EmbeddingBag', args: [20, 3], kwargs: { paddingIdx: 4 } }, seed: 23, tol: 1e-6 },
  ];
  const initAt = INITS.map((c) => ask({ ...c.torch, seed: c.seed }));
  const answers: TorchAnswer[] = (() => {
    if (!python) return [];
    const r = spawnSync(python, [script], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`torch_layers_extra.py failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as TorchAnswer[];
  })();

  it.each(BILINEAR.map((c, k) => [c.name, c, k] as const))('bilinear %s: values and the gradients of both inputs, weight and bias', (_name, c, k) => {
    const want = answers[bilinearAt[k]];
    const { x1, x2, w, b } = bilinearInputs(c);
    const y = F.bilinear(x1, x2, w, b);
    expect([y.shape]).toEqual(want.shapes);
    expect(worstRel(values(y), want.outputs[0])).toBeLessThan(1e-14);
    weighted(y).backward();
    [x1, x2, w, ...(b ? [b] : [])].forEach((t, i) => {
      expect(worstRel(values(t.grad!), want.grads[i]!)).toBeLessThan(1e-14);
    });
  });

  it.each(BAGS.map((c, k) => [c.name, c, k] as const))('embeddingBag %s: values and the gradients of weight (and perSampleWeights)', (_name, c, k) => {
    const want = answers[bagAt[k]];
    expect(want.error).toBeUndefined();
    const { input: idx, offsets, weight, psw } = bagInputs(c);
    const y = F.embeddingBag(idx, weight, offsets, bagOpts(c, psw));
    expect([y.shape]).toEqual(want.shapes);
    expect(worstRel(values(y), want.outputs[0])).toBeLessThan(1e-15);
    weighted(y).backward();
    expect(worstRel(values(weight.grad!), want.grads[1]!)).toBeLessThan(1e-15);
    if (psw) expect(worstRel(values(psw.grad!), want.grads[want.grads.length - 1]!)).toBeLessThan(1e-15);
  });

  it.each(BLOCKS.map((c, k) => [c.name, c, k] as const))('unfold and fold %s: values and gradients', (_name, c, k) => {
    const { size, g } = blockGeometry(c);
    const x = f64(seq(c.shape), c.shape).requiresGrad_();
    const cols = F.unfold(x, c.kernel, c.opts);
    const u = answers[unfoldAt[k]];
    expect([cols.shape]).toEqual(u.shapes);
    expect(values(cols)).toEqual(u.outputs[0]);
    weighted(cols).backward();
    expect(worstRel(values(x.grad!), u.grads[0]!)).toBeLessThan(1e-15);
    const shape = colsShape(c, g);
    const z = f64(seq(shape, 0.53, 0.9), shape).requiresGrad_();
    const img = F.fold(z, size, c.kernel, c.opts);
    const f = answers[foldAt[k]];
    expect([img.shape]).toEqual(f.shapes);
    expect(worstRel(values(img), f.outputs[0])).toBeLessThan(1e-15);
    weighted(img).backward();
    expect(worstRel(values(z.grad!), f.grads[0]!)).toBeLessThan(1e-15);
  });

  it.each(INITS.map((c, k) => [c.name, c, k] as const))('%s: after the same manualSeed, the initial weights are PyTorch\'s (float32)', (_name, c, k) => {
    manualSeed(c.seed);
    const m = c.make();
    const want = answers[initAt[k]].state;
    expect(Object.keys(m.stateDict())).toEqual(Object.keys(want));
    for (const [key, t] of Object.entries(m.stateDict())) {
      if (c.tol === 0) expect(values(t)).toEqual(want[key]);
      else expect(worstRel(values(t), want[key])).toBeLessThan(c.tol);
    }
  });
});
