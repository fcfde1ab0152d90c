/**
 * The fused updates (one backend call per parameter group) against the per-tensor ops, from
 * the same start, step after step: the same bits, the same state dicts. Runs on whichever
 * backend serves 'cpu' (DL_BACKEND=ts: the TypeScript kernels; else the native ones).
 */

import type { Backend, DType, Tensor } from '@dl/tensor';
import { fusedSgdStep, Generator, randn, registerBackend, zeros } from '@dl/tensor';
import { describe, expect, it } from 'vitest';
import type { AdamOptions, SGDOptions } from '../src/index.js';
import { Adam, AdamW, SGD } from '../src/index.js';
import { countingKernels } from './helpers.js';

/** The backend serving 'cpu', read off a tensor's storage. */
const cpu = zeros([1]).storage.backend as Backend;
const fusedKernels = cpu.optim;

type Make = (params: Tensor[]) => SGD | Adam;

/** Shapes of the parameters: a scalar, small ones and one spanning several chunks of the native kernel. */
const SHAPES = [[], [3], [4, 5], [130, 140]];
const STEPS = 5;

interface Run {
  params: number[][];
  state: unknown;
  fusedCalls: number;
}

/**
 * Runs `STEPS` steps with gradients from a fixed generator on `backend`, counting the calls of
 * its fused kernels; `late` lists parameters that get their first gradient at step 3.
 */
function run(make: Make, dtype: DType, fused: boolean, late: readonly number[] = []): Run {
  let fusedCalls = 0;
  const counted = fusedKernels && countingKernels(fusedKernels, () => fusedCalls++);
  registerBackend({ ...cpu, optim: fused ? counted : undefined });
  try {
    const g = new Generator(7);
    const params = SHAPES.map((s) => randn(s, { generator: g, dtype }).requiresGrad_());
    const opt = make(params);
    for (let step = 1; step <= STEPS; step++) {
      params.forEach((p, i) => {
        p.grad = late.includes(i) && step < 3 ? null : randn(p.shape as number[], { generator: g, dtype });
      });
      opt.step();
      opt.zeroGrad();
    }
    const sd = opt.stateDict();
    const state = Object.entries(sd.state).map(([k, s]) => [k, Object.entries(s).map(([name, v]) => [name, typeof v === 'number' ? v : Array.from((v as Tensor).dataSync())])]);
    return { params: params.map((p) => Array.from(p.dataSync())), state: { state, paramGroups: sd.paramGroups }, fusedCalls };
  } finally {
    registerBackend(cpu);
  }
}

const SGD_CASES: [string, Partial<SGDOptions>][] = [
  ['plain', { lr: 0.1 }],
  ['momentum', { lr: 0.05, momentum: 0.9 }],
  ['momentum, dampening, weight decay', { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }],
  ['nesterov, weight decay', { lr: 0.02, momentum: 0.8, nesterov: true, weightDecay: 0.1 }],
  ['maximize, momentum, weight decay', { lr: 0.03, momentum: 0.5, maximize: true, weightDecay: 0.02 }],
  ['maximize, weight decay, no momentum', { lr: 0.1, weightDecay: 0.1, maximize: true }],
];

const ADAM_CASES: [string, Partial<AdamOptions>][] = [
  ['plain', { lr: 0.01 }],
  ['weight decay', { lr: 0.01, weightDecay: 0.1 }],
  ['amsgrad, maximize', { lr: 0.02, amsgrad: true, maximize: true }],
  ['betas, eps, amsgrad, weight decay', { lr: 0.005, betas: [0.8, 0.99], eps: 1e-6, amsgrad: true, weightDecay: 0.05 }],
];

const OPTIMIZERS: [string, Make][] = [
  ...SGD_CASES.map(([name, o]): [string, Make] => [`SGD ${name}`, (ps) => new SGD(ps, o)]),
  ...ADAM_CASES.map(([name, o]): [string, Make] => [`Adam ${name}`, (ps) => new Adam(ps, o)]),
  ...ADAM_CASES.map(([name, { weightDecay, ...o }]): [string, Make] => [`AdamW ${name}`, (ps) => new AdamW(ps, { ...o, weightDecay: weightDecay ?? 0.01 })]),
];

describe.skipIf(!fusedKernels)(`fused optimizer steps on ${cpu.name} match the per-tensor ops`, () => {
  it.each(OPTIMIZERS)('%s: float32 and float64, bit for bit, same state dict', (_name, make) => {
    for (const dtype of ['float32', 'float64'] as const) {
      const fused = run(make, dtype, true);
      const perTensor = run(make, dtype, false);
      expect(fused.fusedCalls).toBe(STEPS);
      expect(perTensor.fusedCalls).toBe(0);
      expect(fused.params).toEqual(perTensor.params);
      expect(fused.state).toEqual(perTensor.state);
    }
  });

  // Steps 1-2 are fused (the late parameter has no gradient). At step 3 only some parameters
  // have momentum buffers: per-tensor, then fused again; Adam's step counts differ from then on.
  it.each([
    [...OPTIMIZERS[2], 4],
    [...OPTIMIZERS[8], 2],
  ] as const)('%s: a parameter whose first gradient comes at step 3 gives the same results', (_name, make, fusedCalls) => {
    const fused = run(make, 'float32', true, [1]);
    const perTensor = run(make, 'float32', false, [1]);
    expect(fused.fusedCalls).toBe(fusedCalls);
    expect(fused.params).toEqual(perTensor.params);
    expect(fused.state).toEqual(perTensor.state);
  });

  it('a fused step is an in-place write: a graph that saved the parameter refuses to backward, and non-leaves are refused', () => {
    registerBackend(cpu);
    const p = randn([3], { generator: new Generator(3) }).requiresGrad_();
    const y = p.mul(p);
    p.grad = randn([3], { generator: new Generator(4) });
    new SGD([p], { lr: 0.1 }).step();
    expect(() => y.sum().backward()).toThrowError(/modified by an in-place operation/);
    const nonLeaf = p.mul(2);
    expect(() => fusedSgdStep([nonLeaf], [zeros([3])], null, { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, firstStep: false })).toThrowError(
      /fusedSgdStep: params\[0\] \(shape \[3\]\) has a recorded history \(a gradFn\) and would be written in place/,
    );
  });

  it('a group with a non-contiguous parameter takes the per-tensor path', () => {
    registerBackend(cpu);
    const base = randn([4, 6], { generator: new Generator(1) });
    const p = base.t().requiresGrad_();
    p.grad = randn([6, 4], { generator: new Generator(2) });
    const q = base.t().contiguous().requiresGrad_();
    q.grad = p.grad.clone();
    new SGD([p], { lr: 0.1, momentum: 0.9 }).step();
    new SGD([q], { lr: 0.1, momentum: 0.9 }).step();
    expect(Array.from(p.contiguous().dataSync())).toEqual(Array.from(q.dataSync()));
  });
});
