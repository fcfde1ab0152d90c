/**
 * The margin, embedding and likelihood losses (CosineEmbeddingLoss, MarginRankingLoss,
 * TripletMarginLoss, SoftMarginLoss, MultiLabelSoftMarginLoss, GaussianNLLLoss, PoissonNLLLoss,
 * HingeEmbeddingLoss and their functional forms). Checked against float64 definitions written here
 * element by element, against PyTorch 1.13 run in the same test run
 * (test/fixtures/torch_losses_more.py; without a python3 that imports torch those tests skip,
 * saying so in their names), by gradcheck away from the kinks, by hand at the kinks, for overflow
 * in float32, and for their errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed, rand, randint, randn, tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck } from '@dl/autograd';
import {
  CosineEmbeddingLoss,
  F,
  GaussianNLLLoss,
  HingeEmbeddingLoss,
  MarginRankingLoss,
  MultiLabelSoftMarginLoss,
  PoissonNLLLoss,
  SoftMarginLoss,
  TripletMarginLoss,
} from '../src/index.js';
import type { Module, Reduction } from '../src/index.js';
import { python, caught as err } from './helpers.js';

const values = (t: Tensor) => Array.from(t.dataSync());
const f64 = (data: number[], shape?: number[]) => tensor(data, { dtype: 'float64' }).reshape(shape ?? [data.length]);
const close = (a: number, b: number, tol: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(tol);
const expectClose = (actual: number[], expected: number[], tol: number) => {
  expect(actual.length).toBe(expected.length);
  for (const [i, v] of actual.entries()) close(v, expected[i], tol * (1 + Math.abs(expected[i])));
};
const reductions = ['mean', 'sum', 'none'] as const;
const reduced = (per: number[], reduction: Reduction) => {
  const sum = per.reduce((a, v) => a + v, 0);
  return reduction === 'none' ? per : reduction === 'sum' ? [sum] : [sum / per.length];
};
/** The rows of a 2-D (or one row of a 1-D) tensor. */
const rowsOf = (t: Tensor): number[][] => {
  const v = values(t);
  const d = t.shape[t.ndim - 1];
  return Array.from({ length: v.length / d }, (_, i) => v.slice(i * d, (i + 1) * d));
};
const labels = (n: number) => f64(values(randint(0, 2, [n])).map((v) => 2 * v - 1));

// ---------------------------------------------------------------- float64 definitions (PyTorch's documented formulas)
const sp = (z: number) => Math.log1p(Math.exp(z));
function refCosineEmbedding(a: number[], b: number[], y: number, margin: number): number {
  const dot = a.reduce((s, v, i) => s + v * b[i], 0);
  const m1 = a.reduce((s, v) => s + v * v, 0) + 1e-12;
  const m2 = b.reduce((s, v) => s + v * v, 0) + 1e-12;
  const cos = dot / Math.sqrt(m1 * m2);
  return y === 1 ? 1 - cos : Math.max(0, cos - margin);
}
const dist = (u: number[], v: number[], p: number, eps: number) => u.reduce((s, x, i) => s + Math.abs(x - v[i] + eps) ** p, 0) ** (1 / p);
function refTriplet(a: number[], pos: number[], neg: number[], o: { margin: number; p: number; eps: number; swap: boolean }): number {
  const dn = dist(a, neg, o.p, o.eps);
  return Math.max(0, o.margin + dist(a, pos, o.p, o.eps) - (o.swap ? Math.min(dn, dist(pos, neg, o.p, o.eps)) : dn));
}
const refMultilabel = (x: number[], y: number[], w: number[] | null) => x.reduce((s, v, c) => s + (w ? w[c] : 1) * (y[c] * sp(-v) + (1 - y[c]) * sp(v)), 0) / x.length;
function refGaussian(x: number, t: number, v: number, full: boolean, eps: number): number {
  const vc = Math.max(v, eps);
  return 0.5 * (Math.log(vc) + (x - t) ** 2 / vc) + (full ? 0.5 * Math.log(2 * Math.PI) : 0);
}
function refPoisson(x: number, t: number, logInput: boolean, full: boolean, eps: number): number {
  const l = logInput ? Math.exp(x) - t * x : x - t * Math.log(x + eps);
  return l + (full && t > 1 ? t * Math.log(t) - t + 0.5 * Math.log(2 * Math.PI * t) : 0);
}

describe('the margin and embedding losses match their float64 definitions for every reduction', () => {
  it('CosineEmbeddingLoss: (N, D) with y (N), (D) with a 0-dim y, int32 labels too', () => {
    manualSeed(51);
    const a = randn([6, 4], { dtype: 'float64' });
    const b = randn([6, 4], { dtype: 'float64' });
    const y = labels(6);
    for (const margin of [0, 0.3, -0.5]) {
      for (const reduction of reductions) {
        const want = reduced(rowsOf(a).map((r, i) => refCosineEmbedding(r, rowsOf(b)[i], values(y)[i], margin)), reduction);
        expectClose(values(F.cosineEmbeddingLoss(a, b, y, { margin, reduction })), want, 1e-15);
        expectClose(values(new CosineEmbeddingLoss({ margin, reduction }).forward(a, b, y.to('int32'))), want, 1e-15);
      }
    }
    const one = F.cosineEmbeddingLoss(a.select(0, 1), b.select(0, 1), f64([-1], []), { margin: -0.5, reduction: 'none' });
    expect(one.shape).toEqual([]);
    close(one.item(), refCosineEmbedding(rowsOf(a)[1], rowsOf(b)[1], -1, -0.5), 1e-15);
    // The 1e-12 in each squared norm: zero vectors give cos = 0 (not NaN).
    expect(values(F.cosineEmbeddingLoss(f64([0, 0, 1, 1], [2, 2]), f64([1, 2, 0, 0], [2, 2]), f64([1, -1]), { reduction: 'none' }))).toEqual([1, 0]);
  });

  it('MarginRankingLoss: max(0, -y (x1 - x2) + margin)', () => {
    manualSeed(52);
    const a = randn([3, 4], { dtype: 'float64' });
    const b = randn([3, 4], { dtype: 'float64' });
    const y = labels(12).reshape([3, 4]);
    for (const margin of [0, 0.5]) {
      for (const reduction of reductions) {
        const want = reduced(values(a).map((v, i) => Math.max(0, -values(y)[i] * (v - values(b)[i]) + margin)), reduction);
        expectClose(values(F.marginRankingLoss(a, b, y, { margin, reduction })), want, 1e-15);
        expectClose(values(new MarginRankingLoss({ margin, reduction }).forward(a, b, y)), want, 1e-15);
      }
    }
  });

  it('TripletMarginLoss: p-norm distances with eps, swap, batched and unbatched', () => {
    manualSeed(53);
    const [a, p, n] = [0, 1, 2].map(() => randn([5, 3], { dtype: 'float64' }));
    for (const o of [
      { margin: 1, p: 2, eps: 1e-6, swap: false },
      { margin: 0.5, p: 1, eps: 1e-6, swap: true },
      { margin: 2, p: 3, eps: 1e-3, swap: true },
    ]) {
      for (const reduction of reductions) {
        const want = reduced(rowsOf(a).map((r, i) => refTriplet(r, rowsOf(p)[i], rowsOf(n)[i], o)), reduction);
        expectClose(values(F.tripletMarginLoss(a, p, n, { ...o, reduction })), want, 1e-14);
        expectClose(values(new TripletMarginLoss({ ...o, reduction }).forward(a, p, n)), want, 1e-14);
      }
      const one = F.tripletMarginLoss(a.select(0, 2), p.select(0, 2), n.select(0, 2), { ...o, reduction: 'none' });
      expect(one.shape).toEqual([]);
      close(one.item(), refTriplet(rowsOf(a)[2], rowsOf(p)[2], rowsOf(n)[2], o), 1e-14);
    }
  });

  it('SoftMarginLoss and HingeEmbeddingLoss', () => {
    manualSeed(54);
    const x = randn([4, 5], { dtype: 'float64' }).mul(3);
    const y = labels(20).reshape([4, 5]);
    for (const reduction of reductions) {
      const want = reduced(values(x).map((v, i) => sp(-values(y)[i] * v)), reduction);
      expectClose(values(F.softMarginLoss(x, y, { reduction })), want, 1e-15);
      expectClose(values(new SoftMarginLoss({ reduction }).forward(x, y)), want, 1e-15);
      for (const margin of [1, 0.5, 4]) {
        const hinge = reduced(values(x).map((v, i) => (values(y)[i] === 1 ? v : Math.max(0, margin - v))), reduction);
        expectClose(values(F.hingeEmbeddingLoss(x, y, { margin, reduction })), hinge, 1e-15);
        expectClose(values(new HingeEmbeddingLoss({ margin, reduction }).forward(x, y.to('int32'))), hinge, 1e-15);
      }
    }
  });

  it('MultiLabelSoftMarginLoss: the class mean per sample, with and without weight, (N, C) and (C)', () => {
    manualSeed(55);
    const x = randn([4, 5], { dtype: 'float64' }).mul(3);
    const y = rand([4, 5], { dtype: 'float64' }).round();
    const w = rand([5], { dtype: 'float64' }).add(0.5);
    for (const weight of [null, w]) {
      for (const reduction of reductions) {
        const want = reduced(rowsOf(x).map((r, i) => refMultilabel(r, rowsOf(y)[i], weight && values(weight))), reduction);
        expectClose(values(F.multilabelSoftMarginLoss(x, y, { weight, reduction })), want, 1e-15);
        expectClose(values(new MultiLabelSoftMarginLoss({ weight, reduction }).forward(x, y)), want, 1e-15);
      }
    }
    const one = F.multilabelSoftMarginLoss(x.select(0, 0), y.select(0, 0), { reduction: 'none' });
    expect(one.shape).toEqual([]);
    close(one.item(), refMultilabel(rowsOf(x)[0], rowsOf(y)[0], null), 1e-15);
  });
});

describe('the likelihood losses match their float64 definitions for every reduction', () => {
  it('GaussianNLLLoss: var of the input shape, without the last dim, with a last dim of 1; clamped at eps; full', () => {
    manualSeed(56);
    const x = randn([4, 3], { dtype: 'float64' });
    const t = randn([4, 3], { dtype: 'float64' });
    const vData = values(rand([4, 3], { dtype: 'float64' }).add(0.1));
    [vData[0], vData[4]] = [0, 1e-9];
    const v = f64(vData, [4, 3]);
    const vRow = rand([4], { dtype: 'float64' }).add(0.1);
    for (const full of [false, true]) {
      for (const eps of [1e-6, 0.2]) {
        for (const reduction of reductions) {
          const want = reduced(values(x).map((xv, i) => refGaussian(xv, values(t)[i], vData[i], full, eps)), reduction);
          expectClose(values(F.gaussianNllLoss(x, t, v, { full, eps, reduction })), want, 1e-15);
          expectClose(values(new GaussianNLLLoss({ full, eps, reduction }).forward(x, t, v)), want, 1e-15);
          const homo = reduced(values(x).map((xv, i) => refGaussian(xv, values(t)[i], values(vRow)[Math.floor(i / 3)], full, eps)), reduction);
          expectClose(values(F.gaussianNllLoss(x, t, vRow, { full, eps, reduction })), homo, 1e-15);
          expectClose(values(F.gaussianNllLoss(x, t, vRow.unsqueeze(1), { full, eps, reduction })), homo, 1e-15);
        }
      }
    }
  });

  it('PoissonNLLLoss: log input or rate, the Stirling term where target > 1', () => {
    manualSeed(57);
    const x = randn([4, 5], { dtype: 'float64' });
    const rate = x.exp();
    const t = randint(0, 6, [4, 5]).to('float64');
    expect(values(t).filter((v) => v <= 1).length).toBeGreaterThan(0);
    for (const full of [false, true]) {
      for (const reduction of reductions) {
        const wantLog = reduced(values(x).map((v, i) => refPoisson(v, values(t)[i], true, full, 1e-8)), reduction);
        expectClose(values(F.poissonNllLoss(x, t, { full, reduction })), wantLog, 1e-15);
        expectClose(values(new PoissonNLLLoss({ full, reduction }).forward(x, t)), wantLog, 1e-15);
        for (const eps of [1e-8, 0.1]) {
          const want = reduced(values(rate).map((v, i) => refPoisson(v, values(t)[i], false, full, eps)), reduction);
          expectClose(values(F.poissonNllLoss(rate, t, { logInput: false, full, eps, reduction })), want, 1e-15);
        }
      }
    }
  });
});

describe('gradcheck (float64, away from the kinks)', () => {
  const req = (t: Tensor) => t.detach().requiresGrad_();

  it('CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss, HingeEmbeddingLoss', () => {
    manualSeed(61);
    const a = req(randn([5, 4], { dtype: 'float64' }));
    const b = req(randn([5, 4], { dtype: 'float64' }));
    const c = req(randn([5, 4], { dtype: 'float64' }));
    const y = labels(5);
    // Away from cos = margin for the negatives.
    const cos = values(F.cosineSimilarity(a, b));
    for (const margin of [0, 0.2]) expect(cos.every((v) => Math.abs(v - margin) > 1e-3)).toBe(true);
    for (const margin of [0, 0.2]) {
      expect(gradcheck((u, v) => F.cosineEmbeddingLoss(u, v, y, { margin, reduction: 'none' }), [a, b])).toBe(true);
      expect(gradcheck((u, v) => new CosineEmbeddingLoss({ margin }).forward(u, v, y), [a, b])).toBe(true);
    }
    const y2 = req(labels(20).reshape([5, 4]));
    expect(values(a.sub(b).mul(y2).neg()).every((v) => Math.abs(v) > 1e-3 && Math.abs(v + 0.5) > 1e-3)).toBe(true);
    expect(gradcheck((u, v, w) => F.marginRankingLoss(u, v, w, { reduction: 'sum' }), [a, b, y2])).toBe(true);
    expect(gradcheck((u, v, w) => new MarginRankingLoss({ margin: 0.5 }).forward(u, v, w), [a, b, y2])).toBe(true);
    for (const o of [{}, { p: 1, swap: true, margin: 0.5 }, { p: 3, eps: 1e-3, reduction: 'none' as const }]) {
      expect(gradcheck((u, v, w) => F.tripletMarginLoss(u, v, w, o), [a, b, c])).toBe(true);
    }
    const yh = labels(20).reshape([5, 4]);
    expect(values(a).every((v) => Math.abs(v - 1) > 1e-3)).toBe(true);
    expect(gradcheck((u) => F.hingeEmbeddingLoss(u, yh, { reduction: 'none' }), [a])).toBe(true);
    expect(gradcheck((u) => new HingeEmbeddingLoss().forward(u, yh), [a])).toBe(true);
  });

  it('SoftMarginLoss, MultiLabelSoftMarginLoss (input, target and weight)', () => {
    manualSeed(62);
    const x = req(randn([4, 5], { dtype: 'float64' }).mul(3));
    const y = req(labels(20).reshape([4, 5]));
    const p = req(rand([4, 5], { dtype: 'float64' }));
    const w = req(rand([5], { dtype: 'float64' }).add(0.5));
    for (const reduction of reductions) {
      expect(gradcheck((u, v) => F.softMarginLoss(u, v, { reduction }), [x, y])).toBe(true);
      expect(gradcheck((u, v, k) => F.multilabelSoftMarginLoss(u, v, { weight: k, reduction }), [x, p, w])).toBe(true);
    }
    expect(gradcheck((u, v) => new MultiLabelSoftMarginLoss().forward(u, v), [x, p])).toBe(true);
  });

  it('GaussianNLLLoss (input, target, var; homoscedastic) and PoissonNLLLoss (input, target; full)', () => {
    manualSeed(63);
    const x = req(randn([4, 3], { dtype: 'float64' }));
    const t = req(randn([4, 3], { dtype: 'float64' }));
    const v = req(rand([4, 3], { dtype: 'float64' }).add(0.1));
    const vRow = req(rand([4], { dtype: 'float64' }).add(0.1));
    for (const reduction of reductions) {
      expect(gradcheck((a, b, c) => F.gaussianNllLoss(a, b, c, { reduction, full: true }), [x, t, v])).toBe(true);
      expect(gradcheck((a, b, c) => F.gaussianNllLoss(a, b, c, { reduction }), [x, t, vRow])).toBe(true);
    }
    expect(gradcheck((a, b, c) => new GaussianNLLLoss().forward(a, b, c), [x, t, vRow.unsqueeze(1)])).toBe(true);
    // Targets away from 1, where the Stirling term switches on.
    const counts = req(f64([0.5, 2, 3.5, 1.7, 4, 0.2, 2.5, 5, 0.9, 1.3, 3, 6], [4, 3]));
    const rate = req(x.exp());
    for (const reduction of reductions) {
      for (const full of [false, true]) {
        expect(gradcheck((a, b) => F.poissonNllLoss(a, b, { full, reduction }), [x, counts])).toBe(true);
        expect(gradcheck((a, b) => F.poissonNllLoss(a, b, { logInput: false, full, reduction }), [rate, counts])).toBe(true);
      }
    }
  });
});

describe('gradients at the kinks and clamps (by hand, as PyTorch 1.13)', () => {
  it('MarginRankingLoss and HingeEmbeddingLoss pass the gradient at a zero hinge (clamp_min), CosineEmbeddingLoss at cos = margin too', () => {
    // -y (x1 - x2) + margin = [0, 0, 1]: the gradient of x1 is -y at all three.
    const x1 = f64([1, 2, 0.5]).requiresGrad_();
    const x2 = f64([1, 1, 0.5]).requiresGrad_();
    F.marginRankingLoss(x1, x2, f64([1, -1, 1]), { margin: 1, reduction: 'sum' }).backward();
    expect(values(x1.grad!)).toEqual([-1, 1, -1]);
    expect(values(x2.grad!)).toEqual([1, -1, 1]);
    const x = f64([1, 0.5, 2, 3]).requiresGrad_();
    F.hingeEmbeddingLoss(x, f64([-1, -1, 1, -1]), { reduction: 'sum' }).backward();
    expect(values(x.grad!)).toEqual([-1, -1, 1, 0]);
    // cos([1, 0], [1, 0]) = 1 = margin (up to the 1e-12): the gradient of cos, which is 0 for parallel vectors.
    const a = f64([3, 4], [1, 2]).requiresGrad_();
    const l = F.cosineEmbeddingLoss(a, f64([3, 4], [1, 2]), f64([-1]), { margin: 1 });
    expect(l.item()).toBe(0);
    l.backward();
    for (const g of values(a.grad!)) close(g, 0, 1e-12);
  });

  it('TripletMarginLoss with swap splits the gradient evenly where d(a, n) = d(p, n), as torch.min', () => {
    // a and p are mirror images about n, so the two distances are equal.
    const a = f64([1, 0], [1, 2]).requiresGrad_();
    const p = f64([-1, 0], [1, 2]).requiresGrad_();
    const n = f64([0, 0], [1, 2]);
    F.tripletMarginLoss(a, p, n, { margin: 5, eps: 0, swap: true }).backward();
    // l = 5 + |a - p| - min(|a - n|, |p - n|): d/da = (a - p)/2 - 0.5 (a - n)/1 = [1 - 0.5, 0].
    expect(values(a.grad!).map((v) => v + 0)).toEqual([0.5, 0]);
    expect(values(p.grad!).map((v) => v + 0)).toEqual([-0.5, 0]);
  });

  it('GaussianNLLLoss: where var < eps the loss uses eps and var gets the gradient at eps unchanged (no_grad clamp)', () => {
    const eps = 0.25;
    const v = f64([0, 0.1, 1]).requiresGrad_();
    const x = f64([1, 1, 1]);
    const l = F.gaussianNllLoss(x, f64([0, 0, 0]), v, { eps, reduction: 'none' });
    expectClose(values(l), [eps, eps, 1].map((c) => 0.5 * (Math.log(c) + 1 / c)), 1e-15);
    l.sum().backward();
    // d/dv 0.5 (log v + 1 / v) = 0.5 (1 / v - 1 / v^2), at v = eps for the clamped two.
    expectClose(values(v.grad!), [eps, eps, 1].map((c) => 0.5 * (1 / c - 1 / (c * c))), 1e-15);
  });

  it('PoissonNLLLoss full: target 0 and 1 give no Stirling term and a finite target gradient (PyTorch: NaN at 0)', () => {
    const t = f64([0, 1, 2]).requiresGrad_();
    const x = f64([0.5, 0.5, 0.5]).requiresGrad_();
    const l = F.poissonNllLoss(x, t, { full: true, reduction: 'none' });
    expectClose(values(l), [0, 1, 2].map((c) => refPoisson(0.5, c, true, true, 1e-8)), 1e-15);
    l.sum().backward();
    // d/dt = -x, plus log(t) + 1 / (2 t) where t > 1.
    expectClose(values(t.grad!), [-0.5, -0.5, -0.5 + Math.log(2) + 0.25], 1e-15);
    expectClose(values(x.grad!), [0, 1, 2].map((c) => Math.exp(0.5) - c), 1e-15);
  });
});

describe('no overflow in float32 at |x| = 200', () => {
  const finite = (t: Tensor) => values(t).every(Number.isFinite);

  it('SoftMarginLoss and MultiLabelSoftMarginLoss: finite values and gradients (PyTorch 1.13 SoftMarginLoss gives inf and NaN)', () => {
    const x = tensor([200, -200, 200, -200]).requiresGrad_();
    const y = tensor([-1, 1, 1, -1]);
    const l = F.softMarginLoss(x, y, { reduction: 'none' });
    expect(values(l)).toEqual([200, 200, 0, 0]);
    l.sum().backward();
    expect(values(x.grad!)).toEqual([1, -1, -0, 0]);
    const xm = tensor([200, -200, 200, -200]).reshape([2, 2]).detach().requiresGrad_();
    const m = F.multilabelSoftMarginLoss(xm, tensor([0, 1, 1, 0]).reshape([2, 2]), { reduction: 'sum' });
    expect(m.item()).toBe(200);
    m.backward();
    expect(finite(xm.grad!)).toBe(true);
    expect(values(xm.grad!).map((v) => v + 0)).toEqual([0.5, -0.5, 0, 0]);
  });

  it('PoissonNLLLoss: exp(input) is finite at -200 (at +200 the loss itself exceeds float32: inf, as PyTorch)', () => {
    const x = tensor([-200, -200, 80]).requiresGrad_();
    const l = F.poissonNllLoss(x, tensor([0, 3, 2]), { full: true, reduction: 'none' });
    expect(finite(l)).toBe(true);
    close(values(l)[1], refPoisson(-200, 3, true, true, 1e-8), 1e-3);
    l.sum().backward();
    expect(finite(x.grad!)).toBe(true);
    expect(F.poissonNllLoss(tensor([200]), tensor([1])).item()).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('errors', () => {
  const x = randn([4, 3]);

  it('name the op, the values and the fix', () => {
    expect(err(() => F.cosineEmbeddingLoss(x, x, tensor([1, 0, 1, -1]))).message).toBe('cosineEmbeddingLoss: target values must be 1 or -1\nhint: for 0/1 labels use target.mul(2).sub(1)');
    expect(err(() => F.cosineEmbeddingLoss(x, x, tensor([1, 1, 1]))).message).toBe('cosineEmbeddingLoss: target must have shape [4] (one label per row of x1); got [3]');
    expect(err(() => F.cosineEmbeddingLoss(x, randn([4, 2]), tensor([1, 1, 1, 1]))).message).toBe('cosineEmbeddingLoss: x1 and x2 must have the same shape, (N, D) or (D); got [4, 3] and [4, 2]');
    expect(err(() => F.cosineEmbeddingLoss(randn([3]), randn([3]), tensor([1]))).message).toMatch(/^cosineEmbeddingLoss: target must have shape \[\] \(a 0-dim label for 1-D inputs\); got \[1\]/);
    expect(err(() => new CosineEmbeddingLoss({ margin: Number.NaN })).message).toBe('CosineEmbeddingLoss: margin must be a number; got null');
    expect(err(() => F.marginRankingLoss(x, x, tensor([1, 1, 1, 1]))).message).toBe('marginRankingLoss: x1, x2 and target must have the same shape; got [4, 3], [4, 3] and [4]');
    expect(err(() => F.marginRankingLoss(x, x, randint(0, 2, [4, 3]))).message).toMatch(/^marginRankingLoss: target must be a floating point tensor; got int32/);
    expect(err(() => F.tripletMarginLoss(x, x, randn([3]))).message).toBe('tripletMarginLoss: anchor, positive and negative must have the same number of dims (>= 1); got [4, 3], [4, 3] and [3]');
    expect(err(() => F.tripletMarginLoss(x, x, randn([2, 3]))).message).toMatch(/^tripletMarginLoss: /);
    expect(err(() => new TripletMarginLoss({ p: -1 })).message).toBe('TripletMarginLoss: p must be a number >= 0; got -1\nhint: p = 2 is the Euclidean distance');
    expect(err(() => F.tripletMarginLoss(x, x, x, { swap: 1 as unknown as boolean })).message).toBe('tripletMarginLoss: swap must be true or false; got 1');
    expect(err(() => F.softMarginLoss(x, randn([4]))).message).toMatch(/^softMarginLoss: target shape \[4\] must equal input shape \[4, 3\]/);
    expect(err(() => F.multilabelSoftMarginLoss(x, x, { weight: randn([4]) })).message).toMatch(/^multilabelSoftMarginLoss: /);
    expect(err(() => F.multilabelSoftMarginLoss(x, x, { weight: randn([4, 1, 3]) })).message).toBe(
      "multilabelSoftMarginLoss: weight of shape [4, 1, 3] does not broadcast to the input's shape [4, 3]\nhint: give one weight per class: a 1-D tensor of the last dim of the input",
    );
    expect(err(() => F.multilabelSoftMarginLoss(randn([]), randn([]))).message).toBe('multilabelSoftMarginLoss: input must be (N, C) or (C); got a 0-dim tensor');
    expect(err(() => F.gaussianNllLoss(x, x, randn([3]))).message).toBe("gaussianNllLoss: var of shape [3] does not fit the input's shape [4, 3]\nhint: var must have the input's shape, or [4] or [4, 1] (one variance for the last dim)");
    expect(err(() => F.gaussianNllLoss(x, x, tensor([1, 1, -1, 1]))).message).toBe('gaussianNllLoss: var has negative entries\nhint: var is a variance: pass e.g. softplus(raw) or raw.exp()');
    expect(err(() => new GaussianNLLLoss({ eps: -1 })).message).toBe('GaussianNLLLoss: eps must be a number >= 0; got -1');
    expect(err(() => F.gaussianNllLoss(x, x, x, { full: 'yes' as unknown as boolean })).message).toBe('gaussianNllLoss: full must be true or false; got "yes"');
    expect(err(() => F.poissonNllLoss(x, randint(0, 3, [4, 3]))).code).toBe('DTYPE');
    expect(err(() => new PoissonNLLLoss({ logInput: 0 as unknown as boolean })).message).toBe('PoissonNLLLoss: logInput must be true or false; got 0');
    expect(err(() => F.hingeEmbeddingLoss(x, tensor([1, -1, 1]))).message).toBe("hingeEmbeddingLoss: target must have shape [4, 3] (the input's); got [3]");
    expect(err(() => new HingeEmbeddingLoss({ reduction: 'avg' as Reduction })).message).toBe("HingeEmbeddingLoss: reduction must be 'mean', 'sum' or 'none'; got \"avg\"");
    expect(err(() => F.softMarginLoss(x, [1] as unknown as Tensor)).message).toMatch(/^softMarginLoss: target must be a Tensor; got an array/);
  });
});

const torchScript = join(import.meta.dirname, 'fixtures', 'torch_losses_more.py');

describe.skipIf(!python)('against PyTorch 1.13: values and gradients of every differentiable input, float64 (skipped only where python3 with torch is missing)', () => {
  interface TorchCase {
    module: string;
    kwargs: Record<string, unknown>;
    make: () => Module;
    inputs: Tensor[];
    /** Which inputs get a gradient (those PyTorch differentiates). */
    grads: boolean[];
  }
  manualSeed(71);
  const r = (shape: number[], scale = 1) => randn(shape, { dtype: 'float64' }).mul(scale);
  const cases: TorchCase[] = [];
  const add = (module: string, kwargs: Record<string, unknown>, make: () => Module, inputs: Tensor[], grads: boolean[]) => cases.push({ module, kwargs, make, inputs, grads });
  for (const [margin, reduction] of [[0, 'mean'], [0.3, 'sum'], [-0.2, 'none']] as const) {
    add('CosineEmbeddingLoss', { margin, reduction }, () => new CosineEmbeddingLoss({ margin, reduction }), [r([6, 4]), r([6, 4]), labels(6)], [true, true, false]);
  }
  add('CosineEmbeddingLoss', { margin: 0.1, reduction: 'none' }, () => new CosineEmbeddingLoss({ margin: 0.1, reduction: 'none' }), [r([4]), r([4]), f64([-1], [])], [true, true, false]);
  for (const [margin, reduction] of [[0, 'mean'], [0.5, 'none'], [1, 'sum']] as const) {
    // Exactly at the hinge for the first two elements.
    const a = values(r([3, 4]));
    const b = values(r([3, 4]));
    const y = values(labels(12));
    [a[0], b[0], y[0], a[1], b[1], y[1]] = [1, 1 + margin, -1, 2, 2 + margin, -1];
    add('MarginRankingLoss', { margin, reduction }, () => new MarginRankingLoss({ margin, reduction }), [f64(a, [3, 4]), f64(b, [3, 4]), f64(y, [3, 4])], [true, true, true]);
  }
  for (const o of [{ reduction: 'mean' }, { margin: 0.5, p: 1, swap: true, reduction: 'none' }, { margin: 2, p: 3, eps: 1e-3, swap: true, reduction: 'sum' }] as const) {
    add('TripletMarginLoss', { ...o }, () => new TripletMarginLoss(o), [r([6, 3]), r([6, 3]), r([6, 3])], [true, true, true]);
  }
  add('TripletMarginLoss', { margin: 3, reduction: 'none' }, () => new TripletMarginLoss({ margin: 3, reduction: 'none' }), [r([5]), r([5]), r([5])], [true, true, true]);
  for (const reduction of reductions) {
    add('SoftMarginLoss', { reduction }, () => new SoftMarginLoss({ reduction }), [r([4, 5], 3), labels(20).reshape([4, 5])], [true, false]);
    const w = rand([5], { dtype: 'float64' }).add(0.5);
    add('MultiLabelSoftMarginLoss', { reduction }, () => new MultiLabelSoftMarginLoss({ reduction }), [r([4, 5], 3), rand([4, 5], { dtype: 'float64' })], [true, true]);
    add('MultiLabelSoftMarginLoss', { weight: { tensor: values(w) }, reduction }, () => new MultiLabelSoftMarginLoss({ weight: w, reduction }), [r([4, 5], 3), rand([4, 5], { dtype: 'float64' }).round()], [true, true]);
    for (const margin of [1, 0.5]) {
      const x = values(r([4, 5], 2));
      const y = values(labels(20));
      [x[0], y[0]] = [margin, -1];
      add('HingeEmbeddingLoss', { margin, reduction }, () => new HingeEmbeddingLoss({ margin, reduction }), [f64(x, [4, 5]), f64(y, [4, 5])], [true, false]);
    }
  }
  for (const [full, eps, reduction] of [[false, 1e-6, 'mean'], [true, 1e-6, 'none'], [true, 0.3, 'sum']] as const) {
    const v = values(rand([4, 3], { dtype: 'float64' }).add(0.05));
    [v[0], v[5]] = [0, 1e-9];
    for (const variance of [f64(v, [4, 3]), f64(v.slice(0, 4)), f64(v.slice(4, 8), [4, 1])]) {
      add('GaussianNLLLoss', { full, eps, reduction }, () => new GaussianNLLLoss({ full, eps, reduction }), [r([4, 3]), r([4, 3]), variance], [true, true, true]);
    }
  }
  for (const [logInput, full, eps, reduction] of [[true, false, 1e-8, 'mean'], [true, true, 1e-8, 'none'], [false, false, 0.1, 'sum'], [false, true, 1e-8, 'none']] as const) {
    const x = logInput ? r([4, 5]) : r([4, 5]).exp();
    const counts = randint(0, 6, [4, 5]).to('float64');
    const make = () => new PoissonNLLLoss({ logInput, full, eps, reduction });
    // With full, PyTorch's target gradient is NaN where the target is 0: positive non-integer targets for that one.
    add('PoissonNLLLoss', { logInput, full, eps, reduction }, make, [x, counts], [true, !full]);
    if (full) add('PoissonNLLLoss', { logInput, full, eps, reduction }, make, [x, rand([4, 5], { dtype: 'float64' }).mul(4).add(0.1)], [true, true]);
  }

  const requests = cases.map((c) => ({
    module: c.module,
    kwargs: c.kwargs,
    inputs: c.inputs.map((t, i) => ({ shape: t.shape, values: values(t), dtype: t.dtype, requiresGrad: c.grads[i] })),
  }));
  const answers: { shape: number[]; output: number[]; grads: (number[] | null)[] }[] = (() => {
    if (!python) return [];
    const res = spawnSync(python, [torchScript], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (res.status !== 0) throw new Error(`${torchScript} failed: ${res.stderr}`);
    return JSON.parse(res.stdout);
  })();
  const worst = (a: number[], b: number[]) => a.reduce((w, v, k) => Math.max(w, Math.abs(v - b[k]) / (1 + Math.abs(b[k]))), 0);

  it.each(cases.map((c, i) => [`${c.module} ${JSON.stringify(c.kwargs)} ${c.inputs.map((t) => `[${t.shape.join(', ')}]`).join(' ')}`, i] as const))('%s', (_name, i) => {
    const c = cases[i];
    const want = answers[i];
    const ins = c.inputs.map((t, k) => (c.grads[k] ? t.detach().requiresGrad_() : t));
    const y = c.make().forward(...ins);
    expect(y.shape).toEqual(want.shape);
    expect(worst(values(y), want.output)).toBeLessThan(1e-14);
    y.mul(tensor(Float64Array.from({ length: y.numel }, (_, k) => Math.sin(1 + 0.7 * k)), { shape: y.shape })).sum().backward();
    for (const [k, t] of ins.entries()) {
      if (c.grads[k]) expect(worst(values(t.grad!), want.grads[k]!), `gradient of input ${k}`).toBeLessThan(1e-14);
    }
  });
});
