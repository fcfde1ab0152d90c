import { describe, expect, it } from 'vitest';
import { tensor } from '@dl/tensor';
import type { DType, Tensor } from '@dl/tensor';
import { RMSprop } from '../src/index.js';

const P0 = [0.5, -1.25, 2];
const GRADS = [
  [0.3, -0.8, 1.5],
  [-0.2, 0.4, 0.9],
  [1.1, -0.6, -0.3],
  [0.05, 0.7, -1.2],
];

interface Ref { lr?: number; alpha?: number; eps?: number; weightDecay?: number; momentum?: number; centered?: boolean }

/** PyTorch's documented RMSprop algorithm in float64 JS numbers; the parameter after each step. */
function referenceRMSprop(p0: number[], grads: number[][], o: Ref): number[][] {
  const { lr = 1e-2, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0, centered = false } = o;
  const p = [...p0];
  const v = p.map(() => 0);
  const gAvg = p.map(() => 0);
  const buf = p.map(() => 0);
  return grads.map((grad) => {
    for (let i = 0; i < p.length; i++) {
      const g = grad[i] + weightDecay * p[i];
      v[i] = alpha * v[i] + (1 - alpha) * g * g;
      let vt = v[i];
      if (centered) {
        gAvg[i] = alpha * gAvg[i] + (1 - alpha) * g;
        vt -= gAvg[i] * gAvg[i];
      }
      const avg = Math.sqrt(vt) + eps;
      if (momentum > 0) {
        buf[i] = momentum * buf[i] + g / avg;
        p[i] -= lr * buf[i];
      } else {
        p[i] -= (lr * g) / avg;
      }
    }
    return [...p];
  });
}

function run(o: Ref, dtype: DType): number[][] {
  const p = tensor(P0, { dtype, requiresGrad: true });
  const opt = new RMSprop([p], o);
  return GRADS.map((g) => {
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

describe('RMSprop', () => {
  it('hand-worked first step: v = 0.01 g^2, p -= lr * g / (0.1 |g| + eps)', () => {
    const p = tensor([1, 1], { dtype: 'float64', requiresGrad: true });
    const opt = new RMSprop([p], { lr: 0.01 });
    p.grad = tensor([2, -0.5], { dtype: 'float64' });
    opt.step();
    const [a, b] = Array.from(p.dataSync());
    expect(a).toBeCloseTo(1 - (0.01 * 2) / (0.2 + 1e-8), 14);
    expect(b).toBeCloseTo(1 + (0.01 * 0.5) / (0.05 + 1e-8), 14);
    expect(opt.state.get(p)!.step).toBe(1);
  });

  const cases: [string, Ref][] = [
    ['defaults', {}],
    ['alpha 0.9, weight decay', { lr: 0.05, alpha: 0.9, weightDecay: 0.1 }],
    ['momentum', { lr: 0.01, alpha: 0.9, momentum: 0.8 }],
    ['centered', { lr: 0.01, alpha: 0.9, centered: true }],
    ['centered + momentum + weight decay', { lr: 0.02, alpha: 0.8, centered: true, momentum: 0.5, weightDecay: 0.05, eps: 1e-6 }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: matches the documented algorithm (float64 and float32)`, () => {
      const expected = referenceRMSprop(P0, GRADS, o);
      expectClose(run(o, 'float64'), expected, 1e-12);
      expectClose(run(o, 'float32'), expected, 2e-6);
    });
  }

  it('keeps squareAvg always, momentumBuffer and gradAvg only when used', () => {
    const p = tensor([1], { requiresGrad: true });
    const plain = new RMSprop([p]);
    p.grad = tensor([1]);
    plain.step();
    expect(Object.keys(plain.state.get(p)!).sort()).toEqual(['squareAvg', 'step']);
    const q = tensor([1], { requiresGrad: true });
    const full = new RMSprop([q], { momentum: 0.9, centered: true });
    q.grad = tensor([1]);
    full.step();
    expect(Object.keys(full.state.get(q)!).sort()).toEqual(['gradAvg', 'momentumBuffer', 'squareAvg', 'step']);
    expect((full.state.get(q)!.gradAvg as Tensor).item()).toBeCloseTo(0.01, 7);
  });
});
