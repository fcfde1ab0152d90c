import { describe, expect, it } from 'vitest';
import { tensor } from '@dl/tensor';
import { Adam, RMSprop, SGD, lrScheduler } from '../src/index.js';
import type { LRScheduler, Optimizer } from '../src/index.js';
import { expectDLErrors } from './helpers.js';

const { LambdaLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR, SequentialLR } = lrScheduler;

const sgd = (lr: number, momentum = 0) => new SGD([tensor([1], { requiresGrad: true })], { lr, momentum });

/** The lr of group 0 after construction and after each of n steps. */
function lrs(opt: Optimizer, sched: LRScheduler, n: number): number[] {
  const out = [sched.getLastLr()[0]];
  for (let i = 0; i < n; i++) {
    opt.step();
    sched.step();
    out.push(sched.getLastLr()[0]);
    expect(opt.paramGroups[0].lr).toBe(out[out.length - 1]);
  }
  return out;
}

function expectList(actual: number[], expected: number[], digits = 12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    if (!(Math.abs(v - expected[i]) <= 10 ** -digits * Math.max(1, Math.abs(expected[i])))) throw new Error(`epoch ${i}: got ${v}, expected ${expected[i]}\n${actual.join(', ')}`);
  });
}

describe('schedulers: lr sequences', () => {
  it('sets initialLr in each group on construction', () => {
    const opt = new SGD([{ params: [tensor([1], { requiresGrad: true })] }, { params: [tensor([1], { requiresGrad: true })], lr: 0.5 }], { lr: 1 });
    const s = new StepLR(opt, { stepSize: 2 });
    expect(opt.paramGroups.map((g) => g.initialLr)).toEqual([1, 0.5]);
    expect(s.baseLrs).toEqual([1, 0.5]);
    expect(s.lastEpoch).toBe(0);
  });

  it('LambdaLR: lr = initialLr * lrLambda(epoch), from initialLr (not chained on the current lr)', () => {
    const opt = sgd(0.6);
    const s = new LambdaLR(opt, { lrLambda: (e) => 1 / (e + 1) });
    expectList(lrs(opt, s, 4), [0.6, 0.3, 0.2, 0.15, 0.12]);
    opt.paramGroups[0].lr = 100; // ignored: the factor multiplies initialLr
    s.step();
    expectList(s.getLastLr(), [0.1]);
    s.step(1); // a jump
    expectList(s.getLastLr(), [0.3]);
  });

  it('LambdaLR with one function per group', () => {
    const opt = new SGD([{ params: [tensor([1], { requiresGrad: true })] }, { params: [tensor([1], { requiresGrad: true })], lr: 0.1 }], { lr: 1 });
    const s = new LambdaLR(opt, { lrLambda: [(e) => Math.floor(e / 2) + 1, (e) => 0.5 ** e] });
    const seen = [s.getLastLr()];
    for (let i = 0; i < 4; i++) {
      s.step();
      seen.push(s.getLastLr());
    }
    expect(seen).toEqual([[1, 0.1], [1, 0.05], [2, 0.025], [2, 0.0125], [3, 0.00625]]);
    expect(s.lrLambdas.length).toBe(2);
  });

  it('StepLR(stepSize 3, gamma 0.1)', () => {
    const opt = sgd(1);
    expectList(lrs(opt, new StepLR(opt, { stepSize: 3 }), 9), [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]);
  });

  it('StepLR on two groups', () => {
    const opt = new SGD([{ params: [tensor([1], { requiresGrad: true })] }, { params: [tensor([1], { requiresGrad: true })], lr: 0.4 }], { lr: 2 });
    const s = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    const seen = [s.getLastLr()];
    for (let i = 0; i < 4; i++) {
      s.step();
      seen.push(s.getLastLr());
    }
    expect(seen).toEqual([[2, 0.4], [2, 0.4], [1, 0.2], [1, 0.2], [0.5, 0.1]]);
  });

  it('MultiStepLR(milestones [2, 5], gamma 0.5), given unsorted; a repeated milestone decays twice', () => {
    const opt = sgd(1);
    expectList(lrs(opt, new MultiStepLR(opt, { milestones: [5, 2], gamma: 0.5 }), 7), [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
    const opt2 = sgd(1);
    expectList(lrs(opt2, new MultiStepLR(opt2, { milestones: [1, 3, 3] }), 4), [1, 0.1, 0.1, 0.001, 0.001]);
  });

  it('ExponentialLR(gamma 0.5)', () => {
    const opt = sgd(0.8);
    expectList(lrs(opt, new ExponentialLR(opt, { gamma: 0.5 }), 5), [0.8, 0.4, 0.2, 0.1, 0.05, 0.025]);
  });

  it('CosineAnnealingLR(tMax 4): down to etaMin and, past tMax, back up (as PyTorch)', () => {
    const c1 = (1 + Math.SQRT1_2) / 2; // (1 + cos(pi/4)) / 2
    const c3 = (1 - Math.SQRT1_2) / 2; // (1 + cos(3pi/4)) / 2
    const opt = sgd(1);
    expectList(lrs(opt, new CosineAnnealingLR(opt, { tMax: 4 }), 8), [1, c1, 0.5, c3, 0, c3, 0.5, c1, 1]);
    const opt2 = sgd(1);
    const m = 0.2;
    expectList(lrs(opt2, new CosineAnnealingLR(opt2, { tMax: 4, etaMin: m }), 6), [1, m + (1 - m) * c1, m + (1 - m) * 0.5, m + (1 - m) * c3, m, m + (1 - m) * c3, m + (1 - m) * 0.5]);
  });

  it('LinearLR defaults (startFactor 1/3, endFactor 1, totalIters 5) and a decay', () => {
    const opt = sgd(0.9);
    expectList(lrs(opt, new LinearLR(opt), 7), [0.3, 0.42, 0.54, 0.66, 0.78, 0.9, 0.9, 0.9]);
    const opt2 = sgd(1);
    expectList(lrs(opt2, new LinearLR(opt2, { startFactor: 1, endFactor: 0.5, totalIters: 4 }), 5), [1, 0.875, 0.75, 0.625, 0.5, 0.5]);
  });

  it('SequentialLR: LinearLR warm-up, then ExponentialLR restarted at the milestone', () => {
    const opt = sgd(1);
    const warm = new LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
    const decay = new ExponentialLR(opt, { gamma: 0.5 });
    const s = new SequentialLR(opt, { schedulers: [warm, decay], milestones: [3] });
    expectList(lrs(opt, s, 6), [0.5, 0.75, 1, 1, 0.5, 0.25, 0.125]);
  });

  it('SequentialLR with three schedulers: constant warm-up (LinearLR), StepLR, CosineAnnealingLR', () => {
    const opt = sgd(1);
    const a = new LinearLR(opt, { startFactor: 0.1, endFactor: 0.1, totalIters: 100 });
    const b = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    const c = new CosineAnnealingLR(opt, { tMax: 2, etaMin: 0 });
    const s = new SequentialLR(opt, { schedulers: [a, b, c], milestones: [2, 6] });
    // epochs 0-1: 0.1; 2-5: StepLR from epoch 0 (1, 1, 0.5, 0.5); 6-8: cosine from epoch 0 (1, 0.5, 0)
    expectList(lrs(opt, s, 8), [0.1, 0.1, 1, 1, 0.5, 0.5, 1, 0.5, 0]);
  });

  it('schedulers chain as in PyTorch: each works on the lr the previous one set', () => {
    const opt = sgd(1);
    const e = new ExponentialLR(opt, { gamma: 0.9 });
    const st = new StepLR(opt, { stepSize: 2, gamma: 0.1 });
    const seen = [opt.paramGroups[0].lr];
    for (let i = 0; i < 4; i++) {
      e.step();
      st.step();
      seen.push(opt.paramGroups[0].lr);
    }
    expectList(seen, [1, 0.9, 0.081, 0.0729, 0.006561]);
  });

  it('step(epoch) jumps with the closed form', () => {
    const opt = sgd(1);
    const s = new StepLR(opt, { stepSize: 3, gamma: 0.5 });
    s.step(7);
    expect(s.getLastLr()).toEqual([0.25]);
    const c = new CosineAnnealingLR(sgd(2), { tMax: 10, etaMin: 0.5 });
    c.step(3);
    expect(c.getLastLr()[0]).toBeCloseTo(0.5 + 1.5 * (1 + Math.cos((3 * Math.PI) / 10)) / 2, 14);
  });
});

describe('OneCycleLR', () => {
  // The documented formula, written out: cosine from start to end as pct goes 0 -> 1.
  const cos = (start: number, end: number, pct: number) => end + ((start - end) / 2) * (1 + Math.cos(Math.PI * pct));
  const lin = (start: number, end: number, pct: number) => start + (end - start) * pct;

  /** lr and momentum after `step` scheduler steps (0 = after construction). */
  function at(make: () => [Optimizer, LRScheduler], steps: number[]): { lr: number; momentum: number; betas?: number[] }[] {
    const [opt, s] = make();
    const out: { lr: number; momentum: number; betas?: number[] }[] = [];
    let done = 0;
    for (const target of steps) {
      while (done < target) {
        s.step();
        done++;
      }
      const g = opt.paramGroups[0];
      out.push({ lr: s.getLastLr()[0], momentum: (g.momentum as number) ?? (g.betas as number[])[0], betas: g.betas as number[] | undefined });
    }
    return out;
  }

  it('cos, two phases (totalSteps 100, pctStart 0.3): start, warm-up, peak at step 29, mid-annealing, last step 99', () => {
    const maxLr = 1;
    const initial = maxLr / 25;
    const min = initial / 1e4;
    const res = at(() => {
      const opt = sgd(0.123, 0.5);
      return [opt, new OneCycleLR(opt, { maxLr, totalSteps: 100 })];
    }, [0, 10, 29, 64, 80, 99, 100]);
    const expected = [
      [initial, 0.95], // start
      [cos(initial, maxLr, 10 / 29), cos(0.95, 0.85, 10 / 29)], // warming up
      [maxLr, 0.85], // the peak: phase one ends at 0.3 * 100 - 1 = 29
      [cos(maxLr, min, 0.5), 0.9], // (64 - 29) / (99 - 29) = 0.5: half way down
      [cos(maxLr, min, 51 / 70), cos(0.85, 0.95, 51 / 70)],
      [min, 0.95], // the last step: totalSteps - 1
      [cos(maxLr, min, 71 / 70), cos(0.85, 0.95, 71 / 70)], // PyTorch allows one more step (step == totalSteps)
    ];
    res.forEach((r, i) => {
      expect(r.lr, `lr ${i}`).toBeCloseTo(expected[i][0], 14);
      expect(r.momentum, `momentum ${i}`).toBeCloseTo(expected[i][1], 14);
    });
    expect(res[3].lr).toBeCloseTo((1 + min) / 2, 14);
  });

  it('writes initialLr, maxLr, minLr and the momenta into the groups; refuses to step past totalSteps', () => {
    const opt = sgd(0.1, 0.9);
    const s = new OneCycleLR(opt, { maxLr: 0.5, epochs: 2, stepsPerEpoch: 5, divFactor: 10, finalDivFactor: 100 });
    const g = opt.paramGroups[0];
    expect([g.initialLr, g.maxLr, g.minLr, g.maxMomentum, g.baseMomentum]).toEqual([0.05, 0.5, 0.0005, 0.95, 0.85]);
    expect(g.lr).toBeCloseTo(0.05, 15);
    for (let i = 0; i < 10; i++) s.step();
    expect(() => s.step()).toThrowError(/OneCycleLR: tried to step 11 times; the specified number of total steps is 10/);
  });

  it('linear annealing', () => {
    const res = at(() => {
      const opt = sgd(0.1, 0.9);
      return [opt, new OneCycleLR(opt, { maxLr: 2, totalSteps: 20, pctStart: 0.25, annealStrategy: 'linear' })];
    }, [0, 2, 4, 12, 19]);
    const initial = 2 / 25;
    const min = initial / 1e4;
    // phase one ends at 0.25 * 20 - 1 = 4, phase two at 19
    const expected = [
      [initial, 0.95],
      [lin(initial, 2, 2 / 4), lin(0.95, 0.85, 2 / 4)],
      [2, 0.85],
      [lin(2, min, 8 / 15), lin(0.85, 0.95, 8 / 15)],
      [min, 0.95],
    ];
    res.forEach((r, i) => {
      expect(r.lr).toBeCloseTo(expected[i][0], 14);
      expect(r.momentum).toBeCloseTo(expected[i][1], 14);
    });
  });

  it('three phases: up to step 29, down to initialLr at step 58, then to minLr at 99', () => {
    const res = at(() => {
      const opt = sgd(0.1, 0.9);
      return [opt, new OneCycleLR(opt, { maxLr: 1, totalSteps: 100, threePhase: true })];
    }, [0, 29, 40, 58, 80, 99]);
    const initial = 0.04;
    const min = initial / 1e4;
    const expected = [
      [initial, 0.95],
      [1, 0.85],
      [cos(1, initial, 11 / 29), cos(0.85, 0.95, 11 / 29)],
      [initial, 0.95],
      [cos(initial, min, 22 / 41), 0.95],
      [min, 0.95],
    ];
    res.forEach((r, i) => {
      expect(r.lr, `lr ${i}`).toBeCloseTo(expected[i][0], 14);
      expect(r.momentum, `momentum ${i}`).toBeCloseTo(expected[i][1], 14);
    });
  });

  it("cycles Adam's beta1 (beta2 untouched), and RMSprop's momentum", () => {
    const res = at(() => {
      const opt = new Adam([tensor([1], { requiresGrad: true })], { betas: [0.9, 0.99] });
      return [opt, new OneCycleLR(opt, { maxLr: 0.01, totalSteps: 10, baseMomentum: 0.8, maxMomentum: 0.9 })];
    }, [0, 2, 9]);
    expect(res.map((r) => r.betas)).toEqual([[0.9, 0.99], [0.8, 0.99], [0.9, 0.99]]);
    const rms = new RMSprop([tensor([1], { requiresGrad: true })]);
    new OneCycleLR(rms, { maxLr: 0.01, totalSteps: 10 });
    expect(rms.paramGroups[0].momentum).toBe(0.95);
  });

  it('per-group maxLr', () => {
    const opt = new SGD([{ params: [tensor([1], { requiresGrad: true })] }, { params: [tensor([1], { requiresGrad: true })] }], { lr: 0.1, momentum: 0.9 });
    const s = new OneCycleLR(opt, { maxLr: [1, 0.1], totalSteps: 10, cycleMomentum: false });
    expect(s.getLastLr()[0]).toBeCloseTo(0.04, 15);
    expect(s.getLastLr()[1]).toBeCloseTo(0.004, 15);
    expect(opt.paramGroups[0].momentum).toBe(0.9);
    expect(() => new OneCycleLR(opt, { maxLr: [1, 2, 3], totalSteps: 10 })).toThrowError(/OneCycleLR: expected 2 values for maxLr \(one per parameter group\); got 3/);
  });
});

describe('scheduler state dicts', () => {
  const kinds: [string, (opt: Optimizer) => LRScheduler][] = [
    ['LambdaLR', (opt) => new LambdaLR(opt, { lrLambda: (e) => 0.9 ** e + (e % 3) })],
    ['StepLR', (opt) => new StepLR(opt, { stepSize: 2, gamma: 0.5 })],
    ['MultiStepLR', (opt) => new MultiStepLR(opt, { milestones: [1, 4], gamma: 0.3 })],
    ['ExponentialLR', (opt) => new ExponentialLR(opt, { gamma: 0.8 })],
    ['CosineAnnealingLR', (opt) => new CosineAnnealingLR(opt, { tMax: 5, etaMin: 0.01 })],
    ['LinearLR', (opt) => new LinearLR(opt, { totalIters: 6 })],
    ['OneCycleLR', (opt) => new OneCycleLR(opt, { maxLr: 1, totalSteps: 12 })],
    ['SequentialLR', (opt) => new SequentialLR(opt, { schedulers: [new LinearLR(opt, { totalIters: 2 }), new CosineAnnealingLR(opt, { tMax: 6 })], milestones: [3] })],
  ];
  for (const [name, make] of kinds) {
    it(`${name}: save after 4 steps, load into a fresh optimizer + scheduler, the next 6 lrs agree`, () => {
      const opt = sgd(0.5, 0.9);
      const s = make(opt);
      for (let i = 0; i < 4; i++) {
        opt.step();
        s.step();
      }
      const optSd = opt.stateDict();
      const sd = JSON.parse(JSON.stringify(s.stateDict())); // plain data
      expect(sd.lastEpoch).toBe(4);
      const opt2 = sgd(0.5, 0.9);
      const s2 = make(opt2);
      opt2.loadStateDict(optSd);
      s2.loadStateDict(sd);
      expect(s2.getLastLr()).toEqual(s.getLastLr());
      for (let i = 0; i < 6; i++) {
        s.step();
        s2.step();
        expect(s2.getLastLr()).toEqual(s.getLastLr());
        expect(opt2.paramGroups[0].momentum).toBe(opt.paramGroups[0].momentum);
      }
    });
  }

  it('LambdaLR: the functions are not in the state dict (nor can one be loaded); the restored scheduler keeps its own', () => {
    const opt = sgd(1);
    const s = new LambdaLR(opt, { lrLambda: (e) => 2 ** -e });
    s.step();
    s.step();
    const sd = s.stateDict();
    expect(Object.keys(sd).sort()).toEqual(['baseLrs', 'lastEpoch', 'lastLr', 'stepCount']);
    const s2 = new LambdaLR(sgd(1), { lrLambda: (e) => 3 ** -e });
    s2.loadStateDict(sd);
    s2.step();
    expect(s2.getLastLr()).toEqual([1 / 27]);
    expect(() => s2.loadStateDict({ ...sd, lrLambdas: [null] })).toThrowError(/LambdaLR: loadStateDict: unknown entry 'lrLambdas'/);
  });

  it('refuses entries of another kind of scheduler', () => {
    const opt = sgd(1);
    const sd = new StepLR(opt, { stepSize: 2 }).stateDict();
    expect(() => new ExponentialLR(sgd(1), { gamma: 0.5 }).loadStateDict(sd)).toThrowError(/ExponentialLR: loadStateDict: unknown entry 'stepSize' for a ExponentialLR/);
  });
});

describe('scheduler errors', () => {
  it('clear messages for bad options', () => {
    const opt = sgd(1);
    const cases: [() => unknown, RegExp][] = [
      [() => new LambdaLR(opt, { lrLambda: [(e) => e, (e) => e] }), /^LambdaLR: expected 1 functions for lrLambda \(one per parameter group\); got 2$/],
      [() => new LambdaLR(opt, { lrLambda: 0.5 as never }), /^LambdaLR: invalid lrLambda: 0.5; expected a function of the epoch, or an array of them \(one per parameter group\)\nhint: e.g. lrLambda: \(epoch\) => 0.95 \*\* epoch$/],
      [() => new LambdaLR(opt, { lrLambda: (() => {}) as never }), /^LambdaLR: lrLambda returned undefined at epoch 0 \(group 0\); expected a finite number\nhint: return the factor/],
      [() => new LambdaLR(opt, { lrLambda: (e) => 1 / e }), /^LambdaLR: lrLambda returned Infinity at epoch 0 \(group 0\); expected a finite number/],
      [() => new LambdaLR(opt, { lr_lambda: () => 1 } as never), /LambdaLR: unknown option 'lr_lambda'.*\nhint: options are camelCase: use 'lrLambda'/],
      [() => new StepLR(opt, { stepSize: 0 }), /^StepLR: invalid stepSize: 0; expected an integer >= 1$/],
      [() => new StepLR(opt, { step_size: 2 } as never), /StepLR: unknown option 'step_size'.*\nhint: options are camelCase: use 'stepSize'/],
      [() => new MultiStepLR(opt, { milestones: [1, -2] }), /MultiStepLR: invalid milestones: \[1,-2\]/],
      [() => new CosineAnnealingLR(opt, { tMax: 0 }), /CosineAnnealingLR: invalid tMax: 0; expected an integer >= 1/],
      [() => new LinearLR(opt, { startFactor: 0 }), /LinearLR: invalid startFactor: 0; expected 0 < startFactor <= 1/],
      [() => new LinearLR(opt, { endFactor: 1.5 }), /LinearLR: invalid endFactor: 1.5; expected 0 <= endFactor <= 1/],
      [() => new OneCycleLR(opt, { maxLr: 1 }), /OneCycleLR: you must define either totalSteps or \(epochs and stepsPerEpoch\)/],
      [() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 10, pctStart: 1.5 }), /OneCycleLR: invalid pctStart: 1.5; expected a number between 0 and 1/],
      [() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 10, annealStrategy: 'exp' as never }), /OneCycleLR: invalid annealStrategy: exp; expected 'cos' or 'linear'/],
      [() => new SequentialLR(opt, { schedulers: [new StepLR(opt, { stepSize: 1 })], milestones: [2] }), /SequentialLR: expects one milestone fewer than schedulers; got 1 scheduler\(s\) and 1 milestone\(s\)/],
      [() => new SequentialLR(opt, { schedulers: [new StepLR(sgd(1), { stepSize: 1 })], milestones: [] }), /SequentialLR: expects all schedulers to belong to the same optimizer/],
      [() => new StepLR({} as never, { stepSize: 1 }), /StepLR: expected an Optimizer; got object/],
      [() => new StepLR(sgd(1), { stepSize: 1, lastEpoch: 3 }), /StepLR: 'initialLr' is not specified in paramGroups\[0\] when resuming an optimizer/],
    ];
    expectDLErrors(cases);
  });
});
