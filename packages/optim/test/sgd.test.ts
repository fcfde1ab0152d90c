import { describe, expect, it } from 'vitest';
import { tensor } from '@dl/tensor';
import type { DType } from '@dl/tensor';
import { SGD } from '../src/index.js';

// Fixed synthetic gradients, one row per step.
const P0 = [0.5, -1.25, 2];
const GRADS = [
  [0.3, -0.8, 1.5],
  [-0.2, 0.4, 0.9],
  [1.1, -0.6, -0.3],
  [0.05, 0.7, -1.2],
];

interface Ref { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean }

/** PyTorch's documented SGD algorithm, in float64 JS numbers; returns the parameter after each step. */
function referenceSGD(p0: number[], grads: number[][], o: Ref): number[][] {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, maximize = false } = o;
  const p = [...p0];
  let buf: number[] | null = null;
  const out: number[][] = [];
  for (const grad of grads) {
    const g = grad.map((gi, i) => (maximize ? -gi : gi) + weightDecay * p[i]);
    let d = g;
    if (momentum !== 0) {
      buf = buf === null ? [...g] : buf.map((b, i) => momentum * b + (1 - dampening) * g[i]);
      const b = buf;
      d = nesterov ? g.map((gi, i) => gi + momentum * b[i]) : b;
    }
    for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
    out.push([...p]);
  }
  return out;
}

/** Run the library with the given gradients set by hand; returns the parameter after each step. */
function runSGD(o: Ref, dtype: DType): number[][] {
  const p = tensor(P0, { dtype, requiresGrad: true });
  const opt = new SGD([p], o);
  const out: number[][] = [];
  for (const g of GRADS) {
    p.grad = tensor(g, { dtype });
    opt.step();
    out.push(Array.from(p.dataSync()));
    opt.zeroGrad();
  }
  return out;
}

function expectClose(actual: number[][], expected: number[][], relTol: number): void {
  expect(actual.length).toBe(expected.length);
  for (const [s, row] of actual.entries()) {
    for (const [i, v] of row.entries()) {
      const e = expected[s][i];
      if (!(Math.abs(v - e) <= relTol * Math.max(1, Math.abs(e)))) {
        throw new Error(`step ${s + 1}, element ${i}: got ${v}, expected ${e}`);
      }
    }
  }
}

const CASES: [string, Ref][] = [
  ['plain', { lr: 0.1 }],
  ['momentum', { lr: 0.1, momentum: 0.9 }],
  ['momentum + dampening', { lr: 0.05, momentum: 0.8, dampening: 0.3 }],
  ['nesterov', { lr: 0.1, momentum: 0.9, nesterov: true }],
  ['weight decay', { lr: 0.1, weightDecay: 0.01 }],
  ['everything but nesterov', { lr: 0.02, momentum: 0.7, dampening: 0.1, weightDecay: 0.05 }],
  ['nesterov + weight decay', { lr: 0.02, momentum: 0.5, weightDecay: 0.1, nesterov: true }],
  ['maximize', { lr: 0.1, momentum: 0.9, maximize: true }],
];

describe('SGD', () => {
  it('hand-worked: lr 0.1, momentum 0.9 on p = [1] with grad 1 twice gives 0.9 then 0.71', () => {
    const p = tensor([1], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = tensor([1], { dtype: 'float64' });
    opt.step(); // buf = 1, p = 1 - 0.1
    expect(p.item()).toBeCloseTo(0.9, 15);
    opt.step(); // buf = 0.9 + 1 = 1.9, p = 0.9 - 0.19
    expect(p.item()).toBeCloseTo(0.71, 15);
    expect((opt.state.get(p)!.momentumBuffer as ReturnType<typeof tensor>).item()).toBeCloseTo(1.9, 15);
  });

  for (const [name, o] of CASES) {
    it(`${name}: matches the documented algorithm over ${GRADS.length} steps (float64 and float32)`, () => {
      const expected = referenceSGD(P0, GRADS, o);
      expectClose(runSGD(o, 'float64'), expected, 1e-13);
      expectClose(runSGD(o, 'float32'), expected, 1e-6);
    });
  }

  it('keeps no state without momentum and a momentumBuffer with it', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const plain = new SGD([p], { lr: 0.1 });
    p.grad = tensor([1, 1]);
    plain.step();
    expect(plain.state.size).toBe(0);
    const q = tensor([1, 2], { requiresGrad: true });
    const withMomentum = new SGD([q], { lr: 0.1, momentum: 0.5 });
    q.grad = tensor([1, 1]);
    withMomentum.step();
    expect(Object.keys(withMomentum.state.get(q)!)).toEqual(['momentumBuffer']);
  });

  it('defaults as PyTorch', () => {
    const opt = new SGD([tensor([1], { requiresGrad: true })]);
    const { params, ...hyper } = opt.paramGroups[0];
    expect(params.length).toBe(1);
    expect(hyper).toEqual({ lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false });
  });
});
