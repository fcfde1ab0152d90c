/**
 * ConstantLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR and
 * ChainedScheduler (and SequentialLR over them): the lr (and momentum) after construction and
 * after every step, against PyTorch 1.13 running the same schedule
 * (test/fixtures/torch_more_schedulers.py; without a python3 that imports torch those tests
 * skip, with the reason in their names); then state dicts, resumption and errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor } from '@dl/tensor';
import { Adagrad, Adam, RMSprop, SGD, lrScheduler } from '../src/index.js';
import type { LRScheduler, Optimizer } from '../src/index.js';
import { expectDLErrors } from './helpers.js';

const { ConstantLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, ChainedScheduler, SequentialLR, ExponentialLR, LinearLR, StepLR } = lrScheduler;

type AnyOptions = Record<string, unknown>;

/** Functions by name; the fixture script has the same table. */
const FUNCTIONS: Record<string, (x: number) => number> = {
  const95: () => 0.95,
  alternate: (e) => (e % 2 === 0 ? 0.9 : 1.05),
  slowDecay: (e) => 1 - 1 / (e + 10),
  inverse: (x) => 1 / x,
  halfEvery10: (x) => 0.5 ** (x / 10),
};

interface Spec {
  kind: string;
  options?: AnyOptions;
  /** ChainedScheduler's schedulers. */
  schedulers?: Spec[];
}
interface Run {
  optimizer: 'SGD' | 'Adam' | 'RMSprop' | 'Adagrad';
  options: AnyOptions;
  /** Options per group; each group gets its own 1-element parameter. */
  groups: AnyOptions[];
  scheduler: Spec;
  /** null: step(); a number: step(epoch). */
  steps: (number | null)[];
}
interface Point {
  lr: number[];
  momentum: (number | null)[];
}

const OPTIMIZERS: Record<Run['optimizer'], (groups: never, options: never) => Optimizer> = {
  SGD: (g, o) => new SGD(g, o),
  Adam: (g, o) => new Adam(g, o),
  RMSprop: (g, o) => new RMSprop(g, o),
  Adagrad: (g, o) => new Adagrad(g, o),
};
type Make = new (opt: Optimizer, options: never) => LRScheduler;
const KINDS: Record<string, Make> = { ConstantLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR, ExponentialLR, LinearLR, StepLR };

function build(opt: Optimizer, spec: Spec): LRScheduler {
  if (spec.kind === 'ChainedScheduler') return new ChainedScheduler((spec.schedulers ?? []).map((s) => build(opt, s)));
  const o: AnyOptions = { ...spec.options };
  if (typeof o.lrLambda === 'string') o.lrLambda = FUNCTIONS[o.lrLambda];
  if (Array.isArray(o.lrLambda)) o.lrLambda = o.lrLambda.map((n: string) => FUNCTIONS[n]);
  if (typeof o.scaleFn === 'string') o.scaleFn = FUNCTIONS[o.scaleFn];
  if (Array.isArray(o.schedulers)) o.schedulers = o.schedulers.map((s: Spec) => build(opt, s));
  return new KINDS[spec.kind](opt, o as never);
}

function optimizerOf(run: Run): Optimizer {
  const groups = run.groups.map((g) => ({ ...g, params: [tensor([0], { requiresGrad: true })] }));
  return OPTIMIZERS[run.optimizer](groups as never, run.options as never);
}

const momenta = (opt: Optimizer) => opt.paramGroups.map((g) => (typeof g.momentum === 'number' ? g.momentum : Array.isArray(g.betas) ? (g.betas[0] as number) : null));

/** The run in dl: the fixture's layout. */
function runDl(run: Run): Point[] {
  const opt = optimizerOf(run);
  const s = build(opt, run.scheduler);
  const out: Point[] = [{ lr: opt.paramGroups.map((g) => g.lr), momentum: momenta(opt) }];
  for (const epoch of run.steps) {
    opt.step();
    if (epoch === null) s.step();
    else s.step(epoch);
    expect(s.getLastLr()).toEqual(opt.paramGroups.map((g) => g.lr));
    out.push({ lr: opt.paramGroups.map((g) => g.lr), momentum: momenta(opt) });
  }
  return out;
}

const N = (n: number): null[] => Array.from({ length: n }, () => null);
const SGD_M = { lr: 0.1, momentum: 0.9 };
const one = (kind: string, options: AnyOptions, steps: (number | null)[] = N(30), groups: AnyOptions[] = [{}], optimizer: Run['optimizer'] = 'SGD', optOptions: AnyOptions = SGD_M): Run => ({
  optimizer, options: optOptions, groups, scheduler: { kind, options }, steps,
});
const TWO_GROUPS = [{}, { lr: 0.3 }];
/** A group resumed from a checkpoint: its initialLr is set (and its lr somewhere in the schedule). */
const RESUMED = [{ lr: 0.02, initialLr: 0.1 }];

const RUNS: [string, Run][] = [
  ['ConstantLR defaults', one('ConstantLR', {})],
  ['ConstantLR factor 0.5, totalIters 4, two groups', one('ConstantLR', { factor: 0.5, totalIters: 4 }, N(30), TWO_GROUPS)],
  ['ConstantLR totalIters 0 (the factor applies at epoch 0 only, then stays: PyTorch never divides it out)', one('ConstantLR', { factor: 0.25, totalIters: 0 })],
  ['ConstantLR resumed at lastEpoch 3', one('ConstantLR', { factor: 0.2, totalIters: 6, lastEpoch: 3 }, N(30), RESUMED)],
  ['ConstantLR step(epoch) jumps (closed form)', one('ConstantLR', { factor: 0.3, totalIters: 5 }, [null, 2, null, 7, 3, null, ...N(5)])],
  ['MultiplicativeLR constant factor 0.95', one('MultiplicativeLR', { lrLambda: 'const95' })],
  ['MultiplicativeLR one function per group', one('MultiplicativeLR', { lrLambda: ['alternate', 'slowDecay'] }, N(30), TWO_GROUPS)],
  ['MultiplicativeLR resumed at lastEpoch 4', one('MultiplicativeLR', { lrLambda: 'slowDecay', lastEpoch: 4 }, N(30), RESUMED)],
  ['MultiplicativeLR step(epoch) (no closed form: it multiplies the current lr)', one('MultiplicativeLR', { lrLambda: 'alternate' }, [null, 5, null, 2, null, 0, null])],
  ['PolynomialLR defaults', one('PolynomialLR', {})],
  ['PolynomialLR totalIters 10, power 2', one('PolynomialLR', { totalIters: 10, power: 2 })],
  ['PolynomialLR totalIters 7, power 0.5, two groups', one('PolynomialLR', { totalIters: 7, power: 0.5 }, N(30), TWO_GROUPS)],
  ['PolynomialLR step(epoch) jumps (closed form)', one('PolynomialLR', { totalIters: 8, power: 1.5 }, [3, null, 9, null, 1, null, null])],
  ['PolynomialLR resumed at lastEpoch 2', one('PolynomialLR', { totalIters: 8, power: 3, lastEpoch: 2 }, N(30), RESUMED)],
  ['CosineAnnealingWarmRestarts t0 10', one('CosineAnnealingWarmRestarts', { t0: 10 })],
  ['CosineAnnealingWarmRestarts t0 5, tMult 2, etaMin 0.01', one('CosineAnnealingWarmRestarts', { t0: 5, tMult: 2, etaMin: 0.01 }, N(40))],
  ['CosineAnnealingWarmRestarts t0 3, tMult 3, etaMin 0.001, two groups', one('CosineAnnealingWarmRestarts', { t0: 3, tMult: 3, etaMin: 0.001 }, N(30), TWO_GROUPS)],
  ['CosineAnnealingWarmRestarts fractional epochs, tMult 2', one('CosineAnnealingWarmRestarts', { t0: 4, tMult: 2 }, Array.from({ length: 30 }, (_, i) => i * 0.45))],
  ['CosineAnnealingWarmRestarts fractional epochs, tMult 1', one('CosineAnnealingWarmRestarts', { t0: 3, etaMin: 0.05 }, Array.from({ length: 30 }, (_, i) => i * 0.7))],
  ['CosineAnnealingWarmRestarts step() then step(26) then step() (interleaved)', one('CosineAnnealingWarmRestarts', { t0: 10 }, [...N(20), 26, ...N(5)])],
  ['CosineAnnealingWarmRestarts interleaved with tMult 2', one('CosineAnnealingWarmRestarts', { t0: 2, tMult: 2 }, [...N(5), 13.5, ...N(6), 3, ...N(4), 40, null])],
  ['CosineAnnealingWarmRestarts resumed at lastEpoch 7', one('CosineAnnealingWarmRestarts', { t0: 5, tMult: 2, lastEpoch: 7 }, N(30), RESUMED)],
  ['CyclicLR triangular, stepSizeUp 4 (SGD momentum)', one('CyclicLR', { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 4 })],
  ['CyclicLR triangular2, stepSizeUp 3, stepSizeDown 5', one('CyclicLR', { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 3, stepSizeDown: 5, mode: 'triangular2' })],
  ['CyclicLR exp_range, gamma 0.95', one('CyclicLR', { baseLr: 0.001, maxLr: 0.1, stepSizeUp: 5, mode: 'exp_range', gamma: 0.95 })],
  ['CyclicLR scaleFn of the cycle, momenta 0.85-0.95', one('CyclicLR', { baseLr: 0.01, maxLr: 0.2, stepSizeUp: 3, scaleFn: 'inverse', baseMomentum: 0.85, maxMomentum: 0.95 })],
  ['CyclicLR scaleFn of the iterations, stepSizeDown 2', one('CyclicLR', { baseLr: 0.01, maxLr: 0.2, stepSizeUp: 4, stepSizeDown: 2, scaleFn: 'halfEvery10', scaleMode: 'iterations' })],
  ['CyclicLR per-group baseLr, maxLr and momenta', one('CyclicLR', { baseLr: [0.01, 0.001], maxLr: [0.1, 0.05], baseMomentum: [0.8, 0.7], maxMomentum: [0.9, 0.95], stepSizeUp: 2 }, N(30), TWO_GROUPS)],
  ['CyclicLR fractional step sizes 2.5 and 1.5', one('CyclicLR', { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2.5, stepSizeDown: 1.5 })],
  ['CyclicLR on Adam without cycleMomentum', one('CyclicLR', { baseLr: 0.001, maxLr: 0.01, stepSizeUp: 3, cycleMomentum: false }, N(30), [{}], 'Adam', { lr: 0.1 })],
  ['CyclicLR on RMSprop (momentum)', one('CyclicLR', { baseLr: 0.001, maxLr: 0.01, stepSizeUp: 3, mode: 'triangular2' }, N(30), [{}], 'RMSprop', { lr: 0.1, momentum: 0.5 })],
  ['CyclicLR resumed at lastEpoch 10', one('CyclicLR', { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 4, lastEpoch: 10 }, N(30), [{ lr: 0.05, initialLr: 0.01, momentum: 0.8 }])],
  ['ChainedScheduler ConstantLR + ExponentialLR (PyTorch docs example)', { optimizer: 'SGD', options: { lr: 1 }, groups: [{}], scheduler: { kind: 'ChainedScheduler', schedulers: [{ kind: 'ConstantLR', options: { factor: 0.1, totalIters: 2 } }, { kind: 'ExponentialLR', options: { gamma: 0.9 } }] }, steps: N(30) }],
  ['ChainedScheduler MultiplicativeLR + PolynomialLR + StepLR, two groups', { optimizer: 'SGD', options: SGD_M, groups: TWO_GROUPS, scheduler: { kind: 'ChainedScheduler', schedulers: [{ kind: 'MultiplicativeLR', options: { lrLambda: 'const95' } }, { kind: 'PolynomialLR', options: { totalIters: 20, power: 2 } }, { kind: 'StepLR', options: { stepSize: 5, gamma: 0.5 } }] }, steps: N(30) }],
  ['ChainedScheduler CyclicLR + ConstantLR', { optimizer: 'SGD', options: SGD_M, groups: [{}], scheduler: { kind: 'ChainedScheduler', schedulers: [{ kind: 'CyclicLR', options: { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 3 } }, { kind: 'ConstantLR', options: { factor: 0.5, totalIters: 6 } }] }, steps: N(30) }],
  ['SequentialLR ConstantLR then ExponentialLR (PyTorch docs example)', { optimizer: 'SGD', options: { lr: 1 }, groups: [{}], scheduler: { kind: 'SequentialLR', options: { schedulers: [{ kind: 'ConstantLR', options: { factor: 0.1, totalIters: 2 } }, { kind: 'ExponentialLR', options: { gamma: 0.9 } }], milestones: [2] } }, steps: N(30) }],
  ['SequentialLR LinearLR then PolynomialLR', { optimizer: 'SGD', options: SGD_M, groups: TWO_GROUPS, scheduler: { kind: 'SequentialLR', options: { schedulers: [{ kind: 'LinearLR', options: { startFactor: 0.25, totalIters: 4 } }, { kind: 'PolynomialLR', options: { totalIters: 10, power: 2 } }], milestones: [5] } }, steps: N(30) }],
  ['SequentialLR ConstantLR then CosineAnnealingWarmRestarts', { optimizer: 'SGD', options: SGD_M, groups: [{}], scheduler: { kind: 'SequentialLR', options: { schedulers: [{ kind: 'ConstantLR', options: { factor: 0.5, totalIters: 10 } }, { kind: 'CosineAnnealingWarmRestarts', options: { t0: 4, tMult: 2 } }], milestones: [3] } }, steps: N(30) }],
];

/** Runs PyTorch refuses too: [name, run, dl's message]. */
const REFUSED: [string, Run, RegExp][] = [
  ['CyclicLR cycling the momentum of Adagrad (no momentum, no betas)', one('CyclicLR', { baseLr: 0.01, maxLr: 0.1 }, [], [{}], 'Adagrad', { lr: 0.1 }), /^CyclicLR: the optimizer must support momentum or beta1 with the cycleMomentum option enabled; Adagrad has neither\nhint: pass cycleMomentum: false$/],
  ['CyclicLR mode triangle', one('CyclicLR', { baseLr: 0.01, maxLr: 0.1, mode: 'triangle' }, []), /^CyclicLR: invalid mode: triangle; expected 'triangular', 'triangular2' or 'exp_range'\nhint: or give your own scaleFn/],
  ['CyclicLR two maxLr values for one group', one('CyclicLR', { baseLr: 0.01, maxLr: [0.1, 0.2] }, []), /^CyclicLR: expected 1 values for maxLr \(one per parameter group\); got 2$/],
  ['CosineAnnealingWarmRestarts t0 0', one('CosineAnnealingWarmRestarts', { t0: 0 }, []), /^CosineAnnealingWarmRestarts: invalid t0: 0; expected a positive integer$/],
  ['CosineAnnealingWarmRestarts t0 2.5', one('CosineAnnealingWarmRestarts', { t0: 2.5 }, []), /^CosineAnnealingWarmRestarts: invalid t0: 2.5; expected a positive integer$/],
  ['CosineAnnealingWarmRestarts tMult 0', one('CosineAnnealingWarmRestarts', { t0: 2, tMult: 0 }, []), /^CosineAnnealingWarmRestarts: invalid tMult: 0; expected an integer >= 1$/],
  ['CosineAnnealingWarmRestarts tMult 1.5', one('CosineAnnealingWarmRestarts', { t0: 2, tMult: 1.5 }, []), /^CosineAnnealingWarmRestarts: invalid tMult: 1.5; expected an integer >= 1$/],
  ['ConstantLR factor 1.5', one('ConstantLR', { factor: 1.5 }, []), /^ConstantLR: invalid factor: 1.5; expected a constant multiplicative factor with 0 < factor <= 1$/],
  ['ConstantLR factor -0.1', one('ConstantLR', { factor: -0.1 }, []), /^ConstantLR: invalid factor: -0.1; expected a constant multiplicative factor/],
  ['PolynomialLR resumed without initialLr', one('PolynomialLR', { lastEpoch: 2 }, []), /^PolynomialLR: 'initialLr' is not specified in paramGroups\[0\] when resuming an optimizer \(lastEpoch 2\)/],
  ['MultiplicativeLR two functions for one group', one('MultiplicativeLR', { lrLambda: ['const95', 'alternate'] }, []), /^MultiplicativeLR: expected 1 functions for lrLambda \(one per parameter group\); got 2$/],
];

// ---------------------------------------------------------------- PyTorch
const script = join(import.meta.dirname, 'fixtures', 'torch_more_schedulers.py');
const python = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);

// Measured: 34 of the 38 runs agree bit for bit; the largest |dl - torch| / (1 + |torch|) over every
// lr and momentum is 6.8e-18 (an ulp where V8's Math.cos or ** rounds differently from C's).
const TOL = 1e-15;

describe.skipIf(!python)('against PyTorch 1.13: lr and momentum after construction and every step (skipped only where python3 with torch is missing)', () => {
  let answers: unknown[] | undefined;
  /** PyTorch's answers for every run and refused run (one python3 process for all). */
  function torchAnswers(): unknown[] {
    if (answers) return answers;
    const runs = [...RUNS.map(([, run]) => run), ...REFUSED.map(([, run]) => run)];
    const r = spawnSync(python as string, [script], { input: JSON.stringify(runs), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
    answers = JSON.parse(r.stdout) as unknown[];
    return answers;
  }

  it.each(RUNS.map(([name, run], i) => [name, run, i] as const))('%s', (_name, run, i) => {
    const expected = torchAnswers()[i] as Point[];
    const actual = runDl(run);
    expect(actual.length).toBe(expected.length);
    let worst = 0;
    for (const [s, point] of actual.entries()) {
      for (const key of ['lr', 'momentum'] as const) {
        point[key].forEach((v, g) => {
          const want = expected[s][key][g];
          if (want === null || v === null) expect(v, `step ${s} ${key} of group ${g}`).toBe(want);
          else worst = Math.max(worst, Math.abs(v - want) / (1 + Math.abs(want)));
        });
      }
      if (worst > TOL) throw new Error(`step ${s}: dl ${JSON.stringify(point)}, torch ${JSON.stringify(expected[s])}`);
    }
  });

  it.each(REFUSED.map(([name, run, re], i) => [name, run, re, i] as const))('both refuse: %s', (_name, run, re, i) => {
    const expected = torchAnswers()[RUNS.length + i] as { error?: string };
    expect(expected.error, 'PyTorch raised').toBeTypeOf('string');
    expectDLErrors([[() => build(optimizerOf(run), run.scheduler), re]]);
  });

  it("CyclicLR on Adam cycles betas[0] (beta2 untouched) as SGD's momentum (PyTorch 2.x; 1.13 refuses Adam)", () => {
    const [, sgdRun] = RUNS.find(([name]) => name.startsWith('CyclicLR triangular,')) as [string, Run];
    const sgdMomenta = (torchAnswers()[RUNS.findIndex(([, r]) => r === sgdRun)] as Point[]).map((p) => p.momentum[0]);
    const opt = new Adam([tensor([0], { requiresGrad: true })], { betas: [0.5, 0.99] });
    const s = new CyclicLR(opt, sgdRun.scheduler.options as never);
    const betas: (readonly number[])[] = [opt.paramGroups[0].betas];
    for (const _ of sgdRun.steps) {
      s.step();
      betas.push(opt.paramGroups[0].betas);
    }
    expect(betas.map((b) => b[0])).toEqual(sgdMomenta);
    expect(betas.every((b) => b[1] === 0.99)).toBe(true);
  });
});

// ---------------------------------------------------------------- state dicts
describe('state dicts: save after some steps, load into a fresh optimizer + scheduler, the next steps agree', () => {
  const kinds: [string, (opt: Optimizer) => LRScheduler, (number | null)[]][] = [
    ['ConstantLR', (opt) => new ConstantLR(opt, { factor: 0.5, totalIters: 6 }), N(4)],
    ['MultiplicativeLR', (opt) => new MultiplicativeLR(opt, { lrLambda: FUNCTIONS.alternate }), N(4)],
    ['PolynomialLR', (opt) => new PolynomialLR(opt, { totalIters: 8, power: 2 }), N(4)],
    ['CosineAnnealingWarmRestarts (saved at a fractional epoch)', (opt) => new CosineAnnealingWarmRestarts(opt, { t0: 3, tMult: 2 }), [null, 4.6, null]],
    ['CyclicLR triangular2', (opt) => new CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2, mode: 'triangular2' }), N(5)],
    ['CyclicLR with a scaleFn', (opt) => new CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 2, scaleFn: FUNCTIONS.inverse }), N(5)],
    ['ChainedScheduler', (opt) => new ChainedScheduler([new ConstantLR(opt, { factor: 0.2, totalIters: 5 }), new CosineAnnealingWarmRestarts(opt, { t0: 4 })]), N(4)],
  ];
  for (const [name, make, before] of kinds) {
    it(name, () => {
      const opt = new SGD([tensor([1], { requiresGrad: true })], { lr: 0.5, momentum: 0.9 });
      const s = make(opt);
      for (const e of before) {
        opt.step();
        if (e === null) s.step();
        else s.step(e);
      }
      const optSd = opt.stateDict();
      const sd = JSON.parse(JSON.stringify(s.stateDict())); // plain data
      const opt2 = new SGD([tensor([1], { requiresGrad: true })], { lr: 0.5, momentum: 0.9 });
      const s2 = make(opt2);
      opt2.loadStateDict(optSd);
      s2.loadStateDict(sd);
      expect(s2.getLastLr()).toEqual(s.getLastLr());
      expect(s2.lastEpoch).toBe(s.lastEpoch);
      for (let i = 0; i < 8; i++) {
        s.step();
        s2.step();
        expect(s2.getLastLr()).toEqual(s.getLastLr());
        expect(opt2.paramGroups[0].momentum).toBe(opt.paramGroups[0].momentum);
      }
    });
  }

  it('the functions (MultiplicativeLR lrLambda, CyclicLR scaleFn) are not in the state dicts', () => {
    const opt = new SGD([tensor([1], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
    const m = new MultiplicativeLR(opt, { lrLambda: FUNCTIONS.const95 });
    expect(Object.keys(m.stateDict()).sort()).toEqual(['baseLrs', 'lastEpoch', 'lastLr', 'stepCount']);
    expect(m.lrLambdas.length).toBe(1);
    const c = new CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, scaleFn: FUNCTIONS.inverse });
    const sd = c.stateDict();
    expect(Object.values(sd).some((v) => typeof v === 'function')).toBe(false);
    expect(sd.scaleMode).toBe('cycle');
    const chained = new ChainedScheduler([m, c]).stateDict();
    expect((chained.schedulers as unknown[]).length).toBe(2);
  });

  it('ChainedScheduler refuses a state dict with another number of schedulers', () => {
    const opt = new SGD([tensor([1], { requiresGrad: true })], { lr: 0.1 });
    const c = new ChainedScheduler([new ConstantLR(opt), new ExponentialLR(opt, { gamma: 0.9 })]);
    expect(() => c.loadStateDict({ ...c.stateDict(), schedulers: [{}] })).toThrowError(/^ChainedScheduler: loadStateDict: expected 'schedulers' with 2 state dict\(s\); got 1$/);
  });
});

// ---------------------------------------------------------------- semantics by hand
describe('hand-worked values', () => {
  const sgd = (lr: number, momentum = 0) => new SGD([tensor([1], { requiresGrad: true })], { lr, momentum });

  it('ConstantLR (PyTorch docs: lr 0.05, factor 0.5, totalIters 4 -> 0.025 for epochs 0-3, then 0.05)', () => {
    const opt = sgd(0.05);
    const s = new ConstantLR(opt, { factor: 0.5, totalIters: 4 });
    const seen = [s.getLastLr()[0]];
    for (let i = 0; i < 5; i++) {
      s.step();
      seen.push(s.getLastLr()[0]);
    }
    expect(seen).toEqual([0.025, 0.025, 0.025, 0.025, 0.05, 0.05]);
  });

  it('PolynomialLR (PyTorch docs: lr 0.001, totalIters 4, power 1 -> 0.001, 0.00075, 0.0005, 0.00025, 0, 0)', () => {
    const opt = sgd(0.001);
    const s = new PolynomialLR(opt, { totalIters: 4 });
    const seen = [s.getLastLr()[0]];
    for (let i = 0; i < 5; i++) {
      s.step();
      seen.push(s.getLastLr()[0]);
    }
    for (const [i, v] of [0.001, 0.00075, 0.0005, 0.00025, 0, 0].entries()) expect(seen[i]).toBeCloseTo(v, 17);
  });

  it('CosineAnnealingWarmRestarts(t0 2, tMult 2): restarts at 2 and 6; step(epoch) places tCur and tI', () => {
    const opt = sgd(1);
    const s = new CosineAnnealingWarmRestarts(opt, { t0: 2, tMult: 2 });
    const seen = [[s.tCur, s.tI]];
    for (let i = 0; i < 7; i++) {
      s.step();
      seen.push([s.tCur, s.tI]);
    }
    expect(seen).toEqual([[0, 2], [1, 2], [0, 4], [1, 4], [2, 4], [3, 4], [0, 8], [1, 8]]);
    s.step(7.5); // in the third period (6..14): tCur 1.5 of 8
    expect([s.tCur, s.tI, s.lastEpoch]).toEqual([1.5, 8, 7]);
    expect(s.getLastLr()[0]).toBeCloseTo((1 + Math.cos((Math.PI * 1.5) / 8)) / 2, 15);
    s.step(); // tCur counts on from the fractional point
    expect([s.tCur, s.lastEpoch]).toEqual([2.5, 8]);
  });

  it('CyclicLR triangular: the lr rises over stepSizeUp steps, falls over stepSizeDown, momentum the other way', () => {
    const opt = sgd(1, 0.9);
    const s = new CyclicLR(opt, { baseLr: 0.1, maxLr: 0.5, stepSizeUp: 2, stepSizeDown: 2 });
    const lr: number[] = [s.getLastLr()[0]];
    const mom: number[] = [opt.paramGroups[0].momentum as number];
    for (let i = 0; i < 5; i++) {
      s.step();
      lr.push(s.getLastLr()[0]);
      mom.push(opt.paramGroups[0].momentum as number);
    }
    for (const [i, v] of [0.1, 0.3, 0.5, 0.3, 0.1, 0.3].entries()) expect(lr[i]).toBeCloseTo(v, 15);
    for (const [i, v] of [0.9, 0.85, 0.8, 0.85, 0.9, 0.85].entries()) expect(mom[i]).toBeCloseTo(v, 15);
    expect(opt.paramGroups[0].initialLr).toBe(0.1);
  });

  it('ChainedScheduler: construction steps nothing; each step() steps every scheduler in order', () => {
    const opt = sgd(1);
    const a = new ConstantLR(opt, { factor: 0.1, totalIters: 2 });
    const b = new ExponentialLR(opt, { gamma: 0.9 });
    const c = new ChainedScheduler([a, b]);
    expect(c.getLastLr()[0]).toBeCloseTo(0.1, 15);
    c.step();
    c.step();
    expect([a.lastEpoch, b.lastEpoch, c.lastEpoch]).toEqual([2, 2, 2]);
    expect(c.getLastLr()[0]).toBeCloseTo(0.81, 15); // 0.1, then 0.1 * 0.9, then 0.09 / 0.1 * 0.9
  });
});

describe('errors', () => {
  it('clear messages for bad options', () => {
    const opt = new SGD([tensor([1], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
    const other = new SGD([tensor([1], { requiresGrad: true })], { lr: 0.1 });
    const cases: [() => unknown, RegExp][] = [
      [() => new ConstantLR(opt, { totalIters: -1 }), /^ConstantLR: invalid totalIters: -1; expected an integer >= 0$/],
      [() => new ConstantLR(opt, { factor: 0 }), /^ConstantLR: invalid factor: 0; expected a constant multiplicative factor with 0 < factor <= 1$/],
      [() => new ConstantLR(opt, { total_iters: 3 } as never), /^ConstantLR: unknown option 'total_iters'.*\nhint: options are camelCase: use 'totalIters'$/],
      [() => new MultiplicativeLR(opt, { lrLambda: 0.9 as never }), /^MultiplicativeLR: invalid lrLambda: 0.9; expected a function of the epoch.*\nhint: e.g. lrLambda: \(epoch\) => 0.95$/],
      [() => new MultiplicativeLR(opt, { lrLambda: () => Number.NaN }).step(), /^MultiplicativeLR: lrLambda returned NaN at epoch 1 \(group 0\); expected a finite number/],
      [() => new PolynomialLR(opt, { totalIters: 0 }), /^PolynomialLR: invalid totalIters: 0; expected an integer >= 1$/],
      [() => new PolynomialLR(opt, { power: -1 }), /^PolynomialLR: invalid power: -1; expected a finite number >= 0$/],
      [() => new CosineAnnealingWarmRestarts(opt, { T_0: 10 } as never), /^CosineAnnealingWarmRestarts: unknown option 'T_0'; expected one of t0, tMult, etaMin, lastEpoch\nhint: use 't0'$/],
      [() => new CosineAnnealingWarmRestarts(opt, { t0: 10, T_mult: 2 } as never), /^CosineAnnealingWarmRestarts: unknown option 'T_mult'.*\nhint: use 'tMult'$/],
      [() => new CosineAnnealingWarmRestarts(opt, { t0: 10 }).step(-1), /^CosineAnnealingWarmRestarts: invalid epoch: -1; expected a non-negative number$/],
      [() => new CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, stepSizeUp: 0 }), /^CyclicLR: invalid stepSizeUp: 0; expected a number of steps > 0$/],
      [() => new CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, scaleFn: FUNCTIONS.inverse, scaleMode: 'cycles' as never }), /^CyclicLR: invalid scaleMode: cycles; expected 'cycle' or 'iterations'$/],
      [() => new CyclicLR(opt, { baseLr: 0.01, maxLr: 0.1, scaleFn: () => Number.NaN }), /^CyclicLR: scaleFn returned NaN for 1; expected a finite number\nhint: return the scale/],
      [() => new CyclicLR(opt, { maxLr: 0.1 } as never), /^CyclicLR: invalid baseLr: undefined; expected a finite number$/],
      [() => new CyclicLR(opt, { base_lr: 0.1, maxLr: 0.2 } as never), /^CyclicLR: unknown option 'base_lr'.*\nhint: options are camelCase: use 'baseLr'$/],
      [() => new ChainedScheduler([]), /^ChainedScheduler: expected an array of at least one scheduler; got an empty array/],
      [() => new ChainedScheduler([new ConstantLR(opt), new ConstantLR(other)]), /^ChainedScheduler: expects all schedulers to belong to the same optimizer, but scheduler 1 has a different one$/],
      [() => new ChainedScheduler([{} as never]), /^ChainedScheduler: schedulers\[0\] is not an LRScheduler$/],
    ];
    expectDLErrors(cases);
  });
});
