/**
 * The tensor-level fused optimizer steps (fusedSgdStep, fusedAdamStep): argument checks,
 * in-place writes with version bumps, and `false` on a backend without fused kernels. Their
 * numerics against @dl/optim's per-tensor path are tested in packages/optim/test/fused.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { backendFor } from '../src/device.js';
import type { Backend, SgdStepAttrs, Tensor } from '../src/index.js';
import * as T from '../src/index.js';
import { withBackend } from './helpers.js';

const SGD: SgdStepAttrs = { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, firstStep: false };
const ADAM = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, amsgrad: false, maximize: false, step: 1 };
const f64 = (data: number[]) => T.tensor(data, { dtype: 'float64' });
const values = (t: Tensor) => Array.from(t.dataSync());

describe('fused optimizer steps (tensor level)', () => {
  const cpu = backendFor('test', 'cpu');

  it('update in place and bump the version counters of what they write (not of the gradients)', () => {
    const p = f64([1, 2]);
    const g = f64([0.5, 1]);
    const buf = T.zerosLike(p);
    const versions = [p.version, g.version, buf.version];
    expect(T.hasFusedOptimizer('cpu')).toBe(true);
    expect(T.fusedSgdStep([p], [g], [buf], { ...SGD, momentum: 0.9, firstStep: true })).toBe(true);
    expect(values(p)).toEqual([1 - 0.1 * 0.5, 2 - 0.1 * 1]);
    expect(values(buf)).toEqual([0.5, 1]);
    expect([p.version, g.version, buf.version]).toEqual([versions[0] + 1, versions[1], versions[2] + 1]);

    const m = T.zerosLike(p);
    const v = T.zerosLike(p);
    expect(T.fusedAdamStep([p], [g], [m], [v], null, ADAM)).toBe(true);
    // First Adam step: m / (1 - beta1) = g, sqrt(v / (1 - beta2)) = |g|, so p moves by lr * sign(g).
    expect(values(p).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0.85, 1.8]);
    expect(m.version).toBe(1);
  });

  it('return false and change nothing on a backend without fused kernels', () => {
    const p = f64([1, 2]);
    const g = f64([0.5, 1]);
    const noFused: Backend = { ...cpu, optim: undefined };
    withBackend(noFused, () => {
      expect(T.hasFusedOptimizer('cpu')).toBe(false);
      expect(T.fusedSgdStep([p], [g], null, SGD)).toBe(false);
      expect(T.fusedAdamStep([p], [g], [T.zerosLike(p)], [T.zerosLike(p)], null, ADAM)).toBe(false);
    });
    expect(values(p)).toEqual([1, 2]);
    expect(p.version).toBe(0);
    expect(T.hasFusedOptimizer('reference')).toBe(false);
  });

  it('refuse inconsistent arguments with errors naming the op and the tensor', () => {
    const p = f64([1, 2]);
    const g = f64([0.5, 1]);
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as T.DLError;
      }
      throw new Error('expected an error');
    };
    expect(err(() => T.fusedSgdStep([p], [], null, SGD)).message).toMatch(/fusedSgdStep: grads must be an array with one tensor per parameter \(1\); got 0 tensors/);
    expect(err(() => T.fusedSgdStep([p], [f64([1, 2, 3])], null, SGD)).message).toMatch(/fusedSgdStep: grads\[0\] must have the shape and dtype of params\[0\] \(\[2\] float64\); got \[3\] float64/);
    expect(err(() => T.fusedSgdStep([p], [g.to('float32')], null, SGD)).code).toBe('SHAPE');
    expect(err(() => T.fusedSgdStep([T.tensor([1, 2], { dtype: 'int32' })], [g], null, SGD)).message).toMatch(/fusedSgdStep: params\[0\] must be float32 or float64; got int32/);
    const wide = T.zeros([2, 2], { dtype: 'float64' });
    expect(err(() => T.fusedSgdStep([wide.select(1, 0)], [g], null, SGD)).message).toMatch(/fusedSgdStep: params\[0\] \(shape \[2\]\) is not contiguous\nhint: /);
    expect(err(() => T.fusedSgdStep([p], [g.to('reference')], null, SGD)).code).toBe('DEVICE');
    expect(err(() => T.fusedSgdStep([p], [g], null, { ...SGD, momentum: 0.9 })).message).toMatch(/fusedSgdStep: momentumBufs must be given exactly when momentum != 0; got momentum 0.9 and no buffers/);
    expect(err(() => T.fusedAdamStep([p], [g], [T.zerosLike(p)], [T.zerosLike(p)], null, { ...ADAM, amsgrad: true })).message).toMatch(/fusedAdamStep: maxExpAvgSqs must be given exactly when amsgrad is set/);
    expect(err(() => T.fusedAdamStep([p], [g], [T.zerosLike(p)], [T.zerosLike(p)], null, { ...ADAM, step: 0 })).message).toMatch(/fusedAdamStep: step must be an integer >= 1/);
    const disposed = f64([0, 0]);
    disposed.dispose();
    expect(err(() => T.fusedSgdStep([p], [disposed], null, SGD)).code).toBe('DISPOSED');
    expect(values(p)).toEqual([1, 2]);
  });
});
