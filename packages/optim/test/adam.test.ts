import { describe, expect, it } from 'vitest';
import { tensor } from '@dl/tensor';
import type { DType, Tensor } from '@dl/tensor';
import { Adam, AdamW } from '../src/index.js';

const P0 = [0.5, -1.25, 2, 0.01];
// Step 3 makes the last element's gradient small, so amsgrad's max(v) differs from v.
const GRADS = [
  [0.3, -0.8, 1.5, 2.0],
  [-0.2, 0.4, 0.9, -1.0],
  [1.1, -0.6, -0.3, 0.001],
  [0.05, 0.7, -1.2, 0.002],
  [-0.4, 0.1, 0.2, -0.003],
];

interface Ref { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; decoupled?: boolean; maximize?: boolean }

/** PyTorch's documented Adam / AdamW algorithm in float64 JS numbers; the parameter after each step. */
function referenceAdam(p0: number[], grads: number[][], o: Ref): number[][] {
  const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false, decoupled = false, maximize = false } = o;
  const [b1, b2] = betas;
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const vmax = p.map(() => 0);
  const out: number[][] = [];
  grads.forEach((grad, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      let g = maximize ? -grad[i] : grad[i];
      if (decoupled) p[i] *= 1 - lr * weightDecay;
      else g += weightDecay * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      vmax[i] = Math.max(vmax[i], v[i]);
      const second = amsgrad ? vmax[i] : v[i];
      const stepSize = lr / (1 - b1 ** t);
      const denom = Math.sqrt(second) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] -= (stepSize * m[i]) / denom;
    }
    out.push([...p]);
  });
  return out;
}

function run(make: (p: Tensor) => Adam, dtype: DType, grads = GRADS): number[][] {
  const p = tensor(P0, { dtype, requiresGrad: true });
  const opt = make(p);
  return grads.map((g) => {
    p.grad = tensor(g, { dtype });
    opt.step();
    opt.zeroGrad();
    return Array.from(p.dataSync());
  });
}

function expectClose(actual: number[][], expected: number[][], relTol: number): void {
  for (const [s, row] of actual.entries()) {
    for (const [i, v] of row.entries()) {
      const e = expected[s][i];
      if (!(Math.abs(v - e) <= relTol * Math.max(1, Math.abs(e)))) throw new Error(`step ${s + 1}, element ${i}: got ${v}, expected ${e}`);
    }
  }
}

describe('Adam', () => {
  it('bias correction: the first step moves every element by lr against the gradient sign', () => {
    // t = 1: m = 0.1 g, v = 0.001 g^2; mhat = g, vhat = g^2, so the update is lr * g / (|g| + eps) ~ lr.
    const out = run((p) => new Adam([p], { lr: 0.01 }), 'float64', GRADS.slice(0, 1));
    for (const [i, v] of out[0].entries()) expect(v).toBeCloseTo(P0[i] - 0.01 * Math.sign(GRADS[0][i]), 6);
  });

  it('bias correction in steps 1..3 against hand-worked values (lr 0.1, p = [1], grads 1, -1, 2)', () => {
    const p = tensor([1], { dtype: 'float64', requiresGrad: true });
    const opt = new Adam([p], { lr: 0.1, eps: 0 });
    const seen: number[] = [];
    for (const g of [1, -1, 2]) {
      p.grad = tensor([g], { dtype: 'float64' });
      opt.step();
      seen.push(p.item());
    }
    // t=1: m=0.1, v=0.001 -> mhat=1, vhat=1: p = 1 - 0.1 = 0.9
    // t=2: m = 0.09 - 0.1 = -0.01, v = 0.000999 + 0.001 = 0.001999; bias corrections 1 - 0.9^2 = 0.19, 1 - 0.999^2
    const m2 = -0.01;
    const v2 = 0.001999;
    const p2 = 0.9 - (0.1 / (1 - 0.81)) * m2 / (Math.sqrt(v2) / Math.sqrt(1 - 0.999 ** 2));
    // t=3: m=0.9*(-0.01)+0.2=0.191, v=0.999*0.001999+0.004=0.005997001
    const m3 = 0.191;
    const v3 = 0.999 * 0.001999 + 0.001 * 4;
    const p3 = p2 - (0.1 / (1 - 0.729)) * m3 / (Math.sqrt(v3) / Math.sqrt(1 - 0.999 ** 3));
    expect(seen[0]).toBeCloseTo(0.9, 14);
    expect(seen[1]).toBeCloseTo(p2, 14);
    expect(seen[2]).toBeCloseTo(p3, 14);
    const st = opt.state.get(p)!;
    expect(st.step).toBe(3);
    expect((st.expAvg as Tensor).item()).toBeCloseTo(m3, 15);
    expect((st.expAvgSq as Tensor).item()).toBeCloseTo(v3, 15);
  });

  const cases: [string, Ref][] = [
    ['defaults', {}],
    ['lr 0.05, betas [0.8, 0.99], eps 1e-6', { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6 }],
    ['L2 weight decay', { lr: 0.01, weightDecay: 0.1 }],
    ['amsgrad (beta2 0.5, so max(v) != v)', { lr: 0.01, betas: [0.9, 0.5], amsgrad: true }],
    ['amsgrad + weight decay + maximize', { lr: 0.01, betas: [0.9, 0.5], amsgrad: true, weightDecay: 0.05, maximize: true }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: matches the documented algorithm (float64 and float32)`, () => {
      const { decoupled: _, ...opts } = o;
      const expected = referenceAdam(P0, GRADS, o);
      expectClose(run((p) => new Adam([p], opts), 'float64'), expected, 1e-12);
      expectClose(run((p) => new Adam([p], opts), 'float32'), expected, 2e-6);
    });
  }

  it('amsgrad keeps the running maximum of v and changes the result', () => {
    const plain = referenceAdam(P0, GRADS, { lr: 0.01, betas: [0.9, 0.5] });
    const ams = referenceAdam(P0, GRADS, { lr: 0.01, betas: [0.9, 0.5], amsgrad: true });
    expect(Math.abs(plain[4][3] - ams[4][3])).toBeGreaterThan(1e-3); // the cases above can tell them apart
    const p = tensor(P0, { dtype: 'float64', requiresGrad: true });
    const opt = new Adam([p], { lr: 0.01, betas: [0.9, 0.5], amsgrad: true });
    for (const g of GRADS) {
      p.grad = tensor(g, { dtype: 'float64' });
      opt.step();
    }
    const st = opt.state.get(p)!;
    const v = Array.from((st.expAvgSq as Tensor).dataSync());
    const vmax = Array.from((st.maxExpAvgSq as Tensor).dataSync());
    for (const [i, x] of vmax.entries()) expect(x).toBeGreaterThanOrEqual(v[i]);
    expect(vmax[3]).toBeGreaterThan(v[3]);
  });
});

describe('AdamW', () => {
  it('defaults to weightDecay 1e-2, decoupled', () => {
    const opt = new AdamW([tensor([1], { requiresGrad: true })]);
    const { params: _, ...hyper } = opt.paramGroups[0];
    expect(hyper).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, decoupledWeightDecay: true });
  });

  const cases: [string, Ref][] = [
    ['defaults', {}],
    ['lr 0.1, weightDecay 0.5', { lr: 0.1, weightDecay: 0.5 }],
    ['amsgrad', { lr: 0.02, betas: [0.9, 0.5], weightDecay: 0.1, amsgrad: true }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: p *= 1 - lr * wd before the Adam update (float64 and float32)`, () => {
      const opts = { ...o };
      const expected = referenceAdam(P0, GRADS, { weightDecay: 1e-2, ...o, decoupled: true });
      expectClose(run((p) => new AdamW([p], opts), 'float64'), expected, 1e-12);
      expectClose(run((p) => new AdamW([p], opts), 'float32'), expected, 2e-6);
    });
  }

  it('differs from Adam with the same L2 weight decay', () => {
    const a = run((p) => new Adam([p], { lr: 0.1, weightDecay: 0.5 }), 'float64');
    const w = run((p) => new AdamW([p], { lr: 0.1, weightDecay: 0.5 }), 'float64');
    expect(Math.abs(a[4][0] - w[4][0])).toBeGreaterThan(1e-3);
  });

  it('a gradient of zero still decays the weights', () => {
    const p = tensor([2], { dtype: 'float64', requiresGrad: true });
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.5 });
    p.grad = tensor([0], { dtype: 'float64' });
    opt.step();
    expect(p.item()).toBeCloseTo(2 * (1 - 0.05), 14);
  });
});
