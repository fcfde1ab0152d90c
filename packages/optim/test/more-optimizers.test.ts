/**
 * Adagrad, Adadelta, Adamax, NAdam and RAdam: hand-worked first steps, state dicts, errors and
 * memory; then every optimizer of the package, with non-default options (weightDecay,
 * maximize, lrDecay, amsgrad, parameter groups), against PyTorch 1.13 run on the same
 * parameters and gradients (test/fixtures/torch_more_optim.py; without a python3 that imports
 * torch those tests skip, with the reason in their names); last, the new optimizers on CUDA
 * against the CPU (skipped without a GPU).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, decodeState, encodeState, memoryStats, randn, scope, tensor } from '@dl/tensor';
import type { Device, DType, Tensor } from '@dl/tensor';
import { assertClose, cudaTestNames } from '@dl/tensor/testing';
import { Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop, SGD } from '../src/index.js';
import type { Optimizer, OptimizerStateDict, Params } from '../src/index.js';
import { expectDLErrors } from './helpers.js';

type AnyOptions = Record<string, unknown>;
type Make = (params: Params<AnyOptions>, options: AnyOptions) => Optimizer;

const OPTIMIZERS: Record<string, Make> = {
  SGD: (ps, o) => new SGD(ps as never, o),
  Adam: (ps, o) => new Adam(ps as never, o),
  AdamW: (ps, o) => new AdamW(ps as never, o),
  RMSprop: (ps, o) => new RMSprop(ps as never, o),
  Adagrad: (ps, o) => new Adagrad(ps as never, o),
  Adadelta: (ps, o) => new Adadelta(ps as never, o),
  Adamax: (ps, o) => new Adamax(ps as never, o),
  NAdam: (ps, o) => new NAdam(ps as never, o),
  RAdam: (ps, o) => new RAdam(ps as never, o),
};

const values = (t: Tensor) => Array.from(t.dataSync(), Number);

/** One step of a 1-element float64 parameter p with gradient g; the parameter and state after it. */
function firstStep(opt: Optimizer, p: Tensor, g: number): { p: number; state: Record<string, number> } {
  p.grad = tensor([g], { dtype: 'float64' });
  opt.step();
  const state: Record<string, number> = {};
  for (const [k, v] of Object.entries(opt.state.get(p) ?? {})) state[k] = typeof v === 'number' ? v : v.item();
  return { p: p.item(), state };
}

const scalar = (x: number) => tensor([x], { dtype: 'float64', requiresGrad: true });

describe('hand-worked first steps (a 1-element float64 parameter)', () => {
  it('Adagrad: lr 0.1, lrDecay 0.5, weightDecay 0.1, initialAccumulatorValue 0.5; p = 2, grad 1, then grad -1', () => {
    const p = scalar(2);
    const opt = new Adagrad([p], { lr: 0.1, lrDecay: 0.5, weightDecay: 0.1, initialAccumulatorValue: 0.5 });
    // state made at construction, as PyTorch: step 0, sum 0.5
    const initial = opt.state.get(p) ?? {};
    expect(initial.step).toBe(0);
    expect((initial.sum as Tensor).item()).toBe(0.5);
    // g = 1 + 0.1 * 2 = 1.2; clr = 0.1 / (1 + 0 * 0.5) = 0.1; sum = 0.5 + 1.44 = 1.94
    // p = 2 - 0.1 * 1.2 / (sqrt(1.94) + 1e-10)
    const s1 = firstStep(opt, p, 1);
    const p1 = 2 - (0.1 * 1.2) / (Math.sqrt(1.94) + 1e-10);
    expect(s1.p).toBeCloseTo(p1, 15);
    expect(s1.state).toEqual({ step: 1, sum: expect.closeTo(1.94, 15) });
    // step 2: g = -1 + 0.1 * p1; clr = 0.1 / (1 + 1 * 0.5); sum = 1.94 + g^2
    const g2 = -1 + 0.1 * p1;
    const sum2 = 1.94 + g2 * g2;
    const s2 = firstStep(opt, p, -1);
    expect(s2.p).toBeCloseTo(p1 - ((0.1 / 1.5) * g2) / (Math.sqrt(sum2) + 1e-10), 15);
    expect(s2.state).toEqual({ step: 2, sum: expect.closeTo(sum2, 15) });
  });

  it('Adagrad maximize: p = 1, grad 3: sum = 9, p = 1 + 0.01 * 3 / (3 + 1e-10)', () => {
    const p = scalar(1);
    const s = firstStep(new Adagrad([p], { maximize: true }), p, 3);
    expect(s.p).toBeCloseTo(1 + (0.01 * 3) / (3 + 1e-10), 15);
    expect(s.state).toEqual({ step: 1, sum: 9 });
  });

  it('Adadelta defaults: p = 1, grad 2', () => {
    const p = scalar(1);
    // v = 0.1 * 4 = 0.4; delta = sqrt(0 + 1e-6) / sqrt(0.4 + 1e-6) * 2; u = 0.1 * delta^2; p = 1 - 1.0 * delta
    const delta = (Math.sqrt(1e-6) / Math.sqrt(0.400001)) * 2;
    const s = firstStep(new Adadelta([p]), p, 2);
    expect(s.p).toBeCloseTo(1 - delta, 15);
    expect(s.state).toEqual({ step: 1, squareAvg: expect.closeTo(0.4, 15), accDelta: expect.closeTo(0.1 * delta * delta, 18) });
  });

  it('Adadelta lr 0.5, rho 0.5, weightDecay 0.2, maximize: p = 1, grad 2', () => {
    const p = scalar(1);
    // g = -2 + 0.2 * 1 = -1.8; v = 0.5 * 3.24 = 1.62; delta = sqrt(1e-6) / sqrt(1.620001) * -1.8; p = 1 - 0.5 * delta
    const delta = (Math.sqrt(1e-6) / Math.sqrt(1.620001)) * -1.8;
    const s = firstStep(new Adadelta([p], { lr: 0.5, rho: 0.5, weightDecay: 0.2, maximize: true }), p, 2);
    expect(s.p).toBeCloseTo(1 - 0.5 * delta, 15);
    expect(s.state).toEqual({ step: 1, squareAvg: expect.closeTo(1.62, 15), accDelta: expect.closeTo(0.5 * delta * delta, 18) });
  });

  it('Adamax defaults: p = 1, grad -0.5', () => {
    const p = scalar(1);
    // m = 0.1 * -0.5 = -0.05; u = max(0.999 * 0, 0.5 + 1e-8); p = 1 - (0.002 / (1 - 0.9)) * -0.05 / 0.50000001
    const s = firstStep(new Adamax([p]), p, -0.5);
    expect(s.p).toBeCloseTo(1 + (0.02 * 0.05) / 0.50000001, 15);
    expect(s.state).toEqual({ step: 1, expAvg: expect.closeTo(-0.05, 15), expInf: expect.closeTo(0.50000001, 16) });
  });

  it('Adamax weightDecay 0.5, maximize, betas [0.5, 0.9]: p = 2, grad 0.25', () => {
    const p = scalar(2);
    // g = -0.25 + 0.5 * 2 = 0.75; m = 0.5 * 0.75 = 0.375; u = 0.75 + 1e-8; p = 2 - (0.002 / 0.5) * 0.375 / (0.75 + 1e-8)
    const s = firstStep(new Adamax([p], { weightDecay: 0.5, maximize: true, betas: [0.5, 0.9] }), p, 0.25);
    expect(s.p).toBeCloseTo(2 - (0.004 * 0.375) / 0.75000001, 15);
    expect(s.state).toEqual({ step: 1, expAvg: 0.375, expInf: expect.closeTo(0.75000001, 16) });
  });

  it('NAdam defaults: p = 1, grad 1', () => {
    const p = scalar(1);
    // mu = 0.9 (1 - 0.5 * 0.96^(1 * 0.004)), muNext = 0.9 (1 - 0.5 * 0.96^(2 * 0.004)); muProduct = mu
    // muProductNext = muProduct * muNext (not 1.13's single-tensor muProduct * mu * muNext, a bug).
    // m = 0.1, v = 0.001, denom = sqrt(0.001 / 0.001) + 1e-8
    // p = 1 - 0.002 (1 - mu) / (1 - mu) * 1 / denom - 0.002 muNext / (1 - mu muNext) * 0.1 / denom
    const mu = 0.9 * (1 - 0.5 * 0.96 ** 0.004);
    const muNext = 0.9 * (1 - 0.5 * 0.96 ** 0.008);
    expect(mu).toBeCloseTo(0.450073, 6);
    const denom = 1 + 1e-8;
    const want = 1 - 0.002 / denom - ((0.002 * muNext) / (1 - mu * muNext)) * (0.1 / denom);
    const s = firstStep(new NAdam([p]), p, 1);
    expect(s.p).toBeCloseTo(want, 15);
    expect(s.state).toEqual({ step: 1, muProduct: mu, expAvg: expect.closeTo(0.1, 15), expAvgSq: expect.closeTo(0.001, 15) });
  });

  it('RAdam lr 0.1, weightDecay 0.5: p = 1, grad 3 (rhoT = 1 <= 5: the unrectified step)', () => {
    const p = scalar(1);
    // g = 3 + 0.5 = 3.5; m = 0.35; mHat = 0.35 / 0.1 = 3.5; rhoT = 1999 - 2 * 0.999 / 0.001 = 1; p = 1 - 0.1 * 3.5
    const s = firstStep(new RAdam([p], { lr: 0.1, weightDecay: 0.5 }), p, 3);
    expect(s.p).toBeCloseTo(0.65, 15);
    expect(s.state).toEqual({ step: 1, expAvg: expect.closeTo(0.35, 15), expAvgSq: expect.closeTo(0.001 * 12.25, 15) });
  });

  it('RAdam rectified step: betas [0, 0.5] make rhoInf 3 (never rectified), betas [0, 0.9] rectify from step 6', () => {
    // beta1 = 0: mHat = g, so each unrectified step is p -= lr * g.
    const p = scalar(1);
    const opt = new RAdam([p], { lr: 0.1, betas: [0, 0.5] });
    for (let t = 1; t <= 8; t++) expect(firstStep(opt, p, 1).p).toBeCloseTo(1 - 0.1 * t, 14);
    // betas [0, 0.9]: rhoInf = 19; rhoT = 19 - 2t 0.9^t / (1 - 0.9^t) is 4.58 at t = 5, 5.39 at t = 6.
    const q = scalar(0);
    const rect = new RAdam([q], { lr: 0.1, betas: [0, 0.9], eps: 0 });
    for (let t = 1; t <= 5; t++) expect(firstStep(rect, q, 1).p).toBeCloseTo(-0.1 * t, 14);
    // t = 6, constant gradient 1: v = 1 - 0.9^6, so sqrt(1 - 0.9^6) / sqrt(v) = 1 and p -= lr * rect
    const rho6 = 19 - (12 * 0.9 ** 6) / (1 - 0.9 ** 6);
    const r6 = Math.sqrt(((rho6 - 4) * (rho6 - 2) * 19) / (15 * 17 * rho6));
    expect(firstStep(rect, q, 1).p).toBeCloseTo(-0.5 - 0.1 * r6, 14);
  });
});

describe('state dicts', () => {
  const CASES: [string, AnyOptions][] = [
    ['Adagrad', { lr: 0.1, lrDecay: 0.1, weightDecay: 0.01, initialAccumulatorValue: 0.1, maximize: true }],
    ['Adadelta', { lr: 0.5, rho: 0.8, weightDecay: 0.01, maximize: true }],
    ['Adamax', { lr: 0.01, betas: [0.8, 0.9], weightDecay: 0.01, maximize: true }],
    ['NAdam', { lr: 0.01, betas: [0.8, 0.9], weightDecay: 0.01, momentumDecay: 0.01 }],
    ['RAdam', { lr: 0.01, betas: [0.8, 0.9], weightDecay: 0.01 }],
  ];
  const STATE_KEYS: Record<string, string[]> = {
    Adagrad: ['step', 'sum'],
    Adadelta: ['step', 'squareAvg', 'accDelta'],
    Adamax: ['step', 'expAvg', 'expInf'],
    NAdam: ['step', 'muProduct', 'expAvg', 'expAvgSq'],
    RAdam: ['step', 'expAvg', 'expAvgSq'],
  };
  const gradAt = (s: number, shape: number) => Array.from({ length: shape }, (_, i) => Math.sin(1 + s * 3 + i) * (i + 1));
  const stepWith = (opt: Optimizer, params: Tensor[], s: number) => {
    for (const p of params) p.grad = tensor(gradAt(s, p.shape[0]));
    opt.step();
    opt.zeroGrad();
  };
  const make = (name: string, params: Tensor[], options: AnyOptions) => OPTIMIZERS[name]([{ params: params.slice(0, 1) }, { params: params.slice(1), lr: 0.02 }], options);

  for (const [name, options] of CASES) {
    it(`${name}: saved after 2 steps (through encodeState) and loaded into a fresh optimizer, it continues exactly as the uninterrupted one`, () => {
      const start = [[0.5, -1, 2], [0.3, 0.7]];
      const whole = start.map((v) => tensor(v, { requiresGrad: true }));
      const wholeOpt = make(name, whole, options);
      for (let s = 0; s < 5; s++) stepWith(wholeOpt, whole, s);

      const first = start.map((v) => tensor(v, { requiresGrad: true }));
      const firstOpt = make(name, first, options);
      for (let s = 0; s < 2; s++) stepWith(firstOpt, first, s);
      const sd = decodeState(encodeState(firstOpt.stateDict())) as OptimizerStateDict;
      expect(Object.keys(sd.state)).toEqual(['0', '1']);
      expect(Object.keys(sd.state[0]).sort()).toEqual([...STATE_KEYS[name]].sort());
      expect(sd.state[1].step).toBe(2);
      expect(sd.paramGroups.map((g) => g.params)).toEqual([[0], [1]]);

      // the fresh optimizer is built with the defaults: loading restores the saved hyperparameters
      const resumed = first.map((p) => tensor(values(p), { requiresGrad: true }));
      const resumedOpt = make(name, resumed, {});
      resumedOpt.loadStateDict(sd);
      expect(resumedOpt.paramGroups.map(({ params: _, ...h }) => h)).toEqual(wholeOpt.paramGroups.map(({ params: _, ...h }) => h));
      for (let s = 2; s < 5; s++) stepWith(resumedOpt, resumed, s);
      for (const [i, p] of resumed.entries()) {
        expect(values(p)).toEqual(values(whole[i]));
        const mine = resumedOpt.state.get(p) ?? {};
        const theirs = wholeOpt.state.get(whole[i]) ?? {};
        for (const k of STATE_KEYS[name]) {
          const [a, b] = [mine[k], theirs[k]];
          expect(typeof a === 'number' ? a : values(a), `${name} state ${i}.${k}`).toEqual(typeof b === 'number' ? b : values(b));
        }
      }
    });
  }

  it("Adagrad's state exists from construction (step 0, sum = initialAccumulatorValue), also for a group added later", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3], { requiresGrad: true });
    const opt = new Adagrad([a], { initialAccumulatorValue: 0.25 });
    opt.addParamGroup({ params: [b], initialAccumulatorValue: 0.5 });
    const sd = opt.stateDict();
    expect(sd.state[0].step).toBe(0);
    expect(values(sd.state[0].sum as Tensor)).toEqual([0.25, 0.25]);
    expect(values(sd.state[1].sum as Tensor)).toEqual([0.5]);
  });
});

describe('errors', () => {
  const p = () => [tensor([1], { requiresGrad: true })];
  it('invalid hyperparameters name the optimizer, the value and the valid range', () => {
    expectDLErrors(
      [
        [() => new Adagrad(p(), { lr: -1 }), /^Adagrad: invalid learning rate: -1; expected lr >= 0$/],
        [() => new Adagrad(p(), { lrDecay: -0.1 }), /^Adagrad: invalid lrDecay value: -0.1; expected lrDecay >= 0$/],
        [() => new Adagrad(p(), { weightDecay: -1 }), /^Adagrad: invalid weightDecay value: -1; expected weightDecay >= 0$/],
        [() => new Adagrad(p(), { initialAccumulatorValue: -1 }), /^Adagrad: invalid initialAccumulatorValue value: -1; expected initialAccumulatorValue >= 0$/],
        [() => new Adagrad(p(), { eps: -1e-10 }), /^Adagrad: invalid epsilon value: -1e-10; expected eps >= 0$/],
        [() => new Adagrad(p(), { maximize: 1 as never }), /^Adagrad: invalid maximize: 1; expected true or false$/],
        [() => new Adagrad([{ params: p(), lrDecay: Number.NaN }]), /^Adagrad: invalid lrDecay value: NaN; expected lrDecay >= 0$/],
        [() => new Adadelta(p(), { lr: -0.5 }), /^Adadelta: invalid learning rate: -0.5; expected lr >= 0$/],
        [() => new Adadelta(p(), { rho: 1.5 }), /^Adadelta: invalid rho value: 1.5; expected 0 <= rho <= 1$/],
        [() => new Adadelta(p(), { eps: -1 }), /^Adadelta: invalid epsilon value: -1; expected eps >= 0$/],
        [() => new Adadelta(p(), { weightDecay: -1 }), /^Adadelta: invalid weightDecay value: -1; expected weightDecay >= 0$/],
        [() => new Adamax(p(), { betas: [1, 0.999] }), /^Adamax: invalid beta parameter at index 0: 1; expected 0 <= betas\[0\] < 1$/],
        [() => new Adamax(p(), { betas: [0.9] as never }), /^Adamax: invalid betas: \[0.9\]; expected two numbers \[beta1, beta2\]$/],
        [() => new Adamax(p(), { eps: -1 }), /^Adamax: invalid epsilon value: -1; expected eps >= 0$/],
        [() => new Adamax(p(), { weightDecay: -1 }), /^Adamax: invalid weightDecay value: -1; expected weightDecay >= 0$/],
        [() => new NAdam(p(), { momentumDecay: -0.004 }), /^NAdam: invalid momentumDecay value: -0.004; expected momentumDecay >= 0$/],
        [() => new NAdam(p(), { betas: [0.9, 1] }), /^NAdam: invalid beta parameter at index 1: 1; expected 0 <= betas\[1\] < 1$/],
        [() => new NAdam(p(), { lr: -1 }), /^NAdam: invalid learning rate: -1; expected lr >= 0$/],
        [() => new RAdam(p(), { betas: [-0.1, 0.999] }), /^RAdam: invalid beta parameter at index 0: -0.1; expected 0 <= betas\[0\] < 1$/],
        [() => new RAdam(p(), { eps: -1 }), /^RAdam: invalid epsilon value: -1; expected eps >= 0$/],
        [() => new RAdam(p(), { weightDecay: -0.1 }), /^RAdam: invalid weightDecay value: -0.1; expected weightDecay >= 0$/],
      ],
      'VALUE',
    );
  });

  it('unknown options, with the camelCase hint; NAdam and RAdam have no maximize (PyTorch 1.13)', () => {
    expectDLErrors(
      [
        [() => new Adagrad(p(), { lr_decay: 0.1 } as never), /^Adagrad: unknown option 'lr_decay'; expected one of lr, lrDecay, weightDecay, initialAccumulatorValue, eps, maximize\nhint: options are camelCase: use 'lrDecay'$/],
        [() => new NAdam(p(), { momentum_decay: 0.1 } as never), /^NAdam: unknown option 'momentum_decay'.*\nhint: options are camelCase: use 'momentumDecay'$/],
        [() => new NAdam(p(), { maximize: true } as never), /^NAdam: unknown option 'maximize'; expected one of lr, betas, eps, weightDecay, momentumDecay$/],
        [() => new RAdam(p(), { maximize: true } as never), /^RAdam: unknown option 'maximize'; expected one of lr, betas, eps, weightDecay$/],
      ],
      'ARGUMENT',
    );
  });
});

describe('memory', () => {
  const cases: [string, (p: Tensor) => Optimizer][] = [
    ['Adagrad', (p) => new Adagrad([p], { lrDecay: 0.1, weightDecay: 0.1, maximize: true })],
    ['Adadelta', (p) => new Adadelta([p], { weightDecay: 0.1, maximize: true })],
    ['Adamax', (p) => new Adamax([p], { weightDecay: 0.1, maximize: true })],
    ['NAdam', (p) => new NAdam([p], { weightDecay: 0.1 })],
    ['RAdam', (p) => new RAdam([p], { weightDecay: 0.1 })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: frees its temporaries and keeps its state across scopes`, () => {
      const p = tensor([1, 2, 3], { requiresGrad: true });
      const opt = make(p);
      const stepOnce = () => {
        p.grad = tensor([0.1, -0.2, 0.3]);
        opt.step();
        opt.zeroGrad();
      };
      stepOnce();
      const live = memoryStats().liveTensors;
      for (let i = 0; i < 7; i++) stepOnce(); // RAdam's rectified steps start at step 6
      expect(memoryStats().liveTensors).toBe(live);
      const q = tensor([1, 2, 3], { requiresGrad: true });
      const opt2 = scope(() => {
        const o = make(q);
        q.grad = tensor([0.1, -0.2, 0.3]);
        o.step();
        return o;
      });
      for (const [k, v] of Object.entries(opt2.state.get(q) ?? {})) if (typeof v !== 'number') expect(v.isDisposed, k).toBe(false);
    });
  }
});

// ---------------------------------------------------------------- PyTorch
const script = join(import.meta.dirname, 'fixtures', 'torch_more_optim.py');
const python = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);

type StateValues = Record<string, number | number[]>;
interface RunAnswer {
  initial: StateValues[];
  steps: { params: number[][]; state: StateValues[] }[];
}
interface Run {
  optimizer: string;
  kwargs: AnyOptions;
  groups: ({ params: number[] } & AnyOptions)[] | null;
  dtype: DType;
  params: number[][];
  grads: (number[] | null)[][];
}

const P0 = [[0.5, -1.25, 2, 0.01, -0.3], [1.5, -0.7, 0.2]];
/** Eight steps (RAdam rectifies from step 6); element 3 of the first parameter gets small gradients (Adamax's eps and max, Adam's amsgrad). */
const GRADS: number[][][] = Array.from({ length: 8 }, (_, s) =>
  P0.map((p, k) => p.map((_, i) => Math.round(1000 * Math.sin(1 + 0.7 * (11 * s + 5 * k + i)) * (k === 0 && i === 3 ? 0.01 : 1 + i)) / 1000)),
);
/** The same, with no gradient for the second parameter at step 3 (it is skipped; its step count lags). */
const GRADS_WITH_GAP: (number[] | null)[][] = GRADS.map((g, s) => (s === 2 ? [g[0], null] : g));

const TWO_GROUPS = (second: AnyOptions) => [{ params: [0] }, { params: [1], ...second }];

/** [name, optimizer, options, groups (or one group), dtypes]. */
const CASES: [string, string, AnyOptions, Run['groups'], DType[]][] = [
  ['defaults', 'Adagrad', {}, null, ['float32']],
  ['lr 0.1, lrDecay, weightDecay, initialAccumulatorValue, maximize', 'Adagrad', { lr: 0.1, lrDecay: 0.05, weightDecay: 0.1, initialAccumulatorValue: 0.2, maximize: true }, null, ['float32', 'float64']],
  ['two groups (lr, lrDecay, eps), a step without gradient', 'Adagrad', { lr: 0.05, lrDecay: 0.01 }, TWO_GROUPS({ lr: 0.2, lrDecay: 0.3, eps: 1e-3 }), ['float32']],
  ['defaults', 'Adadelta', {}, null, ['float32']],
  ['lr 0.5, rho 0.8, eps 1e-5, weightDecay, maximize', 'Adadelta', { lr: 0.5, rho: 0.8, eps: 1e-5, weightDecay: 0.05, maximize: true }, null, ['float32', 'float64']],
  ['two groups, a step without gradient', 'Adadelta', { rho: 0.95 }, TWO_GROUPS({ lr: 2, rho: 0.5, weightDecay: 0.1 }), ['float32']],
  ['defaults', 'Adamax', {}, null, ['float32']],
  ['lr 0.01, betas [0.8, 0.9], eps 1e-6, weightDecay, maximize', 'Adamax', { lr: 0.01, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.1, maximize: true }, null, ['float32', 'float64']],
  ['two groups, a step without gradient', 'Adamax', { lr: 0.01 }, TWO_GROUPS({ betas: [0.5, 0.6], maximize: true }), ['float32']],
  ['defaults', 'NAdam', {}, null, ['float32']],
  ['lr 0.01, betas [0.8, 0.95], weightDecay, momentumDecay 0.05', 'NAdam', { lr: 0.01, betas: [0.8, 0.95], weightDecay: 0.05, momentumDecay: 0.05 }, null, ['float32', 'float64']],
  ['two groups, a step without gradient', 'NAdam', { lr: 0.01 }, TWO_GROUPS({ momentumDecay: 0.5, eps: 1e-4, weightDecay: 0.2 }), ['float32']],
  ['defaults', 'RAdam', {}, null, ['float32']],
  ['lr 0.01, betas [0.85, 0.9], eps 1e-6, weightDecay', 'RAdam', { lr: 0.01, betas: [0.85, 0.9], eps: 1e-6, weightDecay: 0.1 }, null, ['float32', 'float64']],
  ['two groups, a step without gradient', 'RAdam', { lr: 0.01 }, TWO_GROUPS({ betas: [0.5, 0.8], weightDecay: 0.3 }), ['float32']],
  ['momentum, Nesterov, weightDecay, maximize', 'SGD', { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.1, maximize: true }, null, ['float32', 'float64']],
  ['dampening, maximize, no momentum in the second group', 'SGD', { lr: 0.05, momentum: 0.5, dampening: 0.3, maximize: true }, TWO_GROUPS({ momentum: 0, lr: 0.1 }), ['float32']],
  ['amsgrad, weightDecay, maximize', 'Adam', { lr: 0.01, betas: [0.9, 0.5], amsgrad: true, weightDecay: 0.05, maximize: true }, null, ['float32', 'float64']],
  ['amsgrad, maximize, a step without gradient', 'AdamW', { lr: 0.01, betas: [0.9, 0.5], amsgrad: true, maximize: true, weightDecay: 0.1 }, TWO_GROUPS({ amsgrad: false }), ['float32']],
  ['centered, momentum, weightDecay, maximize', 'RMSprop', { lr: 0.01, alpha: 0.9, centered: true, momentum: 0.5, weightDecay: 0.05, maximize: true }, null, ['float32', 'float64']],
];
const RUNS: [string, Run][] = CASES.flatMap(([name, optimizer, kwargs, groups, dtypes]) =>
  dtypes.map((dtype): [string, Run] => [`${optimizer} ${name} (${dtype})`, { optimizer, kwargs, groups, dtype, params: P0, grads: groups ? GRADS_WITH_GAP : GRADS }]),
);

/** The same run in dl: the answer in the fixture's layout. */
function runDl(run: Run): RunAnswer {
  const params = run.params.map((v) => tensor(v, { dtype: run.dtype, requiresGrad: true }));
  const groups = run.groups ? run.groups.map(({ params: idx, ...o }) => ({ ...o, params: idx.map((i) => params[i]) })) : params;
  const opt = OPTIMIZERS[run.optimizer](groups, run.kwargs);
  const stateOf = (p: Tensor): StateValues => Object.fromEntries(Object.entries(opt.state.get(p) ?? {}).map(([k, v]) => [k, typeof v === 'number' ? v : values(v)]));
  const initial = params.map(stateOf);
  const steps = run.grads.map((grads) => {
    grads.forEach((g, i) => {
      params[i].grad = g === null ? null : tensor(g, { dtype: run.dtype });
    });
    opt.step();
    const out = { params: params.map(values), state: params.map(stateOf) };
    opt.zeroGrad();
    return out;
  });
  return { initial, steps };
}

/** Largest |a - b| / (1 + |b|) over the parameters and state of every step; the key sets must be equal. */
function worstRelative(actual: RunAnswer, expected: RunAnswer): number {
  let worst = 0;
  const near = (a: number | number[], b: number | number[], where: string) => {
    const [as, bs] = [[a].flat(), [b].flat()];
    expect(as.length, where).toBe(bs.length);
    for (const [i, x] of as.entries()) worst = Math.max(worst, Math.abs(x - bs[i]) / (1 + Math.abs(bs[i])));
  };
  const states = (a: StateValues[], b: StateValues[], where: string) => {
    for (const [i, s] of a.entries()) {
      expect(Object.keys(s).sort(), `${where} state keys of parameter ${i}`).toEqual(Object.keys(b[i]).sort());
      for (const [k, v] of Object.entries(s)) {
        if (k === 'step') expect(v, `${where} parameter ${i} step`).toBe(b[i][k]);
        else near(v, b[i][k], `${where} parameter ${i} ${k}`);
      }
    }
  };
  states(actual.initial, expected.initial, 'initial');
  expect(actual.steps.length).toBe(expected.steps.length);
  for (const [s, step] of actual.steps.entries()) {
    for (const [i, p] of step.params.entries()) near(p, expected.steps[s].params[i], `step ${s + 1} parameter ${i}`);
    states(step.state, expected.steps[s].state, `step ${s + 1}`);
  }
  return worst;
}

// Measured, relative to 1 + |value| over parameters and state of all steps: float32 within 3.8e-7
// (SGD with Nesterov; the new optimizers within 1.4e-7), float64 within 2.9e-16.
const TOL: Partial<Record<DType, number>> = { float32: 1e-6, float64: 1e-15 };

describe.skipIf(!python)('against PyTorch 1.13: the same parameters and gradients, parameters and state after every step (skipped only where python3 with torch is missing)', () => {
  let answers: RunAnswer[] | undefined;
  /** PyTorch's answers for every run (one python3 process for all). */
  function torchAnswers(): RunAnswer[] {
    if (answers) return answers;
    const r = spawnSync(python as string, [script], { input: JSON.stringify(RUNS.map(([, run]) => run)), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
    answers = JSON.parse(r.stdout) as RunAnswer[];
    return answers;
  }

  it.each(RUNS.map(([name, run], i) => [name, run, i] as const))('%s', (_name, run, i) => {
    const worst = worstRelative(runDl(run), torchAnswers()[i]);
    expect(worst).toBeLessThanOrEqual(TOL[run.dtype] as number);
  });
});

// ---------------------------------------------------------------- CUDA
const { gpu, needsGpu } = cudaTestNames();

/** Eight steps from a fixed start with gradients from a fixed generator; the final parameters on the CPU. */
function train(make: (ps: Tensor[]) => Optimizer, device: Device, dtype: DType): Tensor[] {
  const g = new Generator(7);
  const params = [[3], [4, 5], [130, 7]].map((s) => randn(s, { generator: g, dtype }).to(device).requiresGrad_());
  const opt = make(params);
  for (let step = 0; step < 8; step++) {
    for (const p of params) p.grad = randn(p.shape as number[], { generator: g, dtype }).to(device);
    opt.step();
  }
  return params.map((p) => p.detach().cpu());
}

describe.skipIf(!gpu)(needsGpu('the new optimizers on CUDA equal the CPU'), () => {
  const cases: [string, (ps: Tensor[]) => Optimizer][] = [
    ['Adagrad', (ps) => new Adagrad(ps, { lr: 0.1, lrDecay: 0.1, weightDecay: 1e-2, initialAccumulatorValue: 0.1, maximize: true })],
    ['Adadelta', (ps) => new Adadelta(ps, { weightDecay: 1e-2, maximize: true })],
    ['Adamax', (ps) => new Adamax(ps, { lr: 1e-2, weightDecay: 1e-2, maximize: true })],
    ['NAdam', (ps) => new NAdam(ps, { lr: 1e-2, weightDecay: 1e-2 })],
    ['RAdam', (ps) => new RAdam(ps, { lr: 1e-2, weightDecay: 1e-2 })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: float32 and float64`, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        const onCpu = train(make, 'cpu', dtype);
        const onGpu = train(make, 'cuda', dtype);
        for (const [i, t] of onGpu.entries()) assertClose(t, onCpu[i], { rtol: 1e-5, atol: 1e-6 }, `${name} ${dtype} parameter ${i}`);
      }
    });
  }
});
