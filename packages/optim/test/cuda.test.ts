/**
 * Optimizers on CUDA: the fused kernels take float32 only, so other dtypes must take the
 * per-tensor path (checked here on the CPU with fused kernels restricted the same way), and on
 * a GPU the fused SGD/Adam/AdamW steps and whole optimizers match the CPU step for step (those
 * tests skip, with the reason in their names, without a GPU).
 */

import type { Backend, Device, DType, Tensor } from '@dl/tensor';
import { fusedAdamStep, fusedSgdStep, Generator, hasFusedOptimizer, randn, registerBackend, zeros } from '@dl/tensor';
import { assertClose, cudaTestNames } from '@dl/tensor/testing';
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, SGD } from '../src/index.js';
import { countingKernels } from './helpers.js';

const { gpu, needsGpu } = cudaTestNames();
const TOL = { rtol: 1e-5, atol: 1e-6 };

type Make = (params: Tensor[]) => SGD | Adam;

/** Five steps from a fixed start with gradients from a fixed generator; the final parameters on the CPU. */
function train(make: Make, device: Device, dtype: DType): Tensor[] {
  const g = new Generator(11);
  const params = [[3], [4, 5], [130, 7]].map((s) => randn(s, { generator: g, dtype }).to(device).requiresGrad_());
  const opt = make(params);
  for (let step = 0; step < 5; step++) {
    for (const p of params) p.grad = randn(p.shape as number[], { generator: g, dtype }).to(device);
    opt.step();
  }
  return params.map((p) => p.detach().cpu());
}

const OPTIMIZERS: [string, Make][] = [
  ['SGD momentum, Nesterov, weight decay', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-2 })],
  ['SGD dampening, maximize', (ps) => new SGD(ps, { lr: 0.05, momentum: 0.5, dampening: 0.3, maximize: true })],
  ['Adam', (ps) => new Adam(ps, { lr: 1e-2, weightDecay: 1e-3 })],
  ['Adam amsgrad', (ps) => new Adam(ps, { lr: 1e-2, amsgrad: true })],
  ['AdamW', (ps) => new AdamW(ps, { lr: 1e-2 })],
];

describe('fused kernels for some dtypes only (as CUDA: float32)', () => {
  const cpu = zeros([1]).storage.backend as Backend;

  it.skipIf(!cpu.optim)(`parameters of other dtypes take the per-tensor path${cpu.optim ? '' : ' (skipped: the cpu backend has no fused kernels)'}`, () => {
    const kernels = cpu.optim as NonNullable<Backend['optim']>;
    let calls = 0;
    const float32Only: Backend = {
      ...cpu,
      optim: { dtypes: ['float32'], ...countingKernels(kernels, () => calls++) },
    };
    const unfused: Backend = { ...cpu, optim: undefined };
    try {
      registerBackend(float32Only);
      expect(hasFusedOptimizer('cpu', 'float32')).toBe(true);
      expect(hasFusedOptimizer('cpu', 'float64')).toBe(false);
      const p = randn([3], { dtype: 'float64' });
      expect(fusedSgdStep([p], [randn([3], { dtype: 'float64' })], null, { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, firstStep: true })).toBe(false);
      for (const [name, make] of OPTIMIZERS) {
        registerBackend(float32Only);
        const before = calls;
        const f64 = train(make, 'cpu', 'float64');
        expect(calls, `${name}: float64 fused calls`).toBe(before);
        train(make, 'cpu', 'float32');
        expect(calls, `${name}: float32 fused calls`).toBeGreaterThan(before);
        registerBackend(unfused);
        const plain = train(make, 'cpu', 'float64');
        for (const [i, t] of f64.entries()) expect(Array.from(t.dataSync()), `${name} parameter ${i}`).toEqual(Array.from(plain[i].dataSync()));
      }
    } finally {
      registerBackend(cpu);
    }
  });
});

describe.skipIf(!gpu)(needsGpu('optimizers on CUDA equal the CPU'), () => {
  for (const [name, make] of OPTIMIZERS) {
    it(`${name}: float32 (fused kernels) and float64 (per-tensor ops)`, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        const onCpu = train(make, 'cpu', dtype);
        const onGpu = train(make, 'cuda', dtype);
        for (const [i, t] of onGpu.entries()) assertClose(t, onCpu[i], TOL, `${name} ${dtype} parameter ${i}`);
      }
    });
  }

  it('fusedSgdStep and fusedAdamStep on CUDA: one call equals the CPU kernels; float64 is refused (false)', () => {
    const g = new Generator(3);
    const make = (dtype: DType) => [[5], [64, 33]].map((s) => randn(s, { generator: g, dtype }));
    const [p, grad, buf, m, v] = [make('float32'), make('float32'), make('float32'), make('float32'), make('float32').map((t) => t.abs())];
    const sgd = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-2, nesterov: true, maximize: false, firstStep: false };
    const adam = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, decoupledWeightDecay: true, amsgrad: false, maximize: false, step: 3 };
    const results = (device: Device) => {
      const on = (ts: Tensor[]) => ts.map((t) => t.clone().to(device));
      const [dp, dg, db, dm, dv] = [on(p), on(grad), on(buf), on(m), on(v)];
      expect(fusedSgdStep(dp, dg, db, sgd)).toBe(true);
      expect(fusedAdamStep(dp, dg, dm, dv, null, adam)).toBe(true);
      return [...dp, ...db, ...dm, ...dv].map((t) => t.cpu());
    };
    const cpuResults = results('cpu');
    for (const [i, t] of results('cuda').entries()) assertClose(t, cpuResults[i], TOL, `tensor ${i}`);
    expect(hasFusedOptimizer('cuda', 'float64')).toBe(false);
    const p64 = randn([3], { dtype: 'float64', device: 'cuda' });
    expect(fusedSgdStep([p64], [p64.clone()], null, { ...sgd, momentum: 0, nesterov: false })).toBe(false);
  });
});
