import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeState, encodeState, tensor } from '@dl/tensor';
import { LRScheduler, ReduceLROnPlateau, SGD, lrScheduler } from '../src/index.js';
import type { ReduceLROnPlateauOptions } from '../src/index.js';
import { expectDLErrors } from './helpers.js';

/** An SGD optimizer with one parameter group per lr. */
const sgd = (...lrs: number[]) => new SGD(lrs.map((lr) => ({ params: [tensor([1], { requiresGrad: true })], lr })), { lr: lrs[0] });

/** The lrs of every group after construction, then after step(m) for each metric. */
function run(lrs: number[], metrics: number[], options: ReduceLROnPlateauOptions): number[][] {
  const opt = sgd(...lrs);
  const s = new ReduceLROnPlateau(opt, options);
  const out = [s.getLastLr()];
  for (const m of metrics) {
    s.step(m);
    out.push(s.getLastLr());
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(out[out.length - 1]);
  }
  expect(s.lastEpoch).toBe(metrics.length);
  return out;
}

function expectLrs(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  for (const [i, row] of actual.entries()) {
    expect(row.length).toBe(expected[i].length);
    for (const [j, v] of row.entries()) expect(v, `step ${i}, group ${j}: ${JSON.stringify(actual)}`).toBeCloseTo(expected[i][j], 15);
  }
}

// Hand-worked from PyTorch's algorithm: better -> best = m, bad = 0, else bad++; in cooldown:
// counter--, bad = 0; bad > patience -> lr = max(lr * factor, minLr) if that lowers it by > eps,
// counter = cooldown, bad = 0.
const SEQUENCES: [string, number[], number[], ReduceLROnPlateauOptions, number[][]][] = [
  [
    // best 10, 9; 9 and 8.9995 are not < 9 * (1 - 1e-4) = 8.9991 (bad 1, 2); 9.5: bad 3 > 2, halve;
    // 8.99 < 8.9991 is the new best; then three 9s (bad 1, 2, 3) halve again.
    "mode 'min', threshold 'rel' 1e-4, patience 2, factor 0.5",
    [1],
    [10, 9, 9, 8.9995, 9.5, 8.99, 9, 9, 9, 9],
    { patience: 2, factor: 0.5 },
    [[1], [1], [1], [1], [1], [0.5], [0.5], [0.5], [0.5], [0.25], [0.25]],
  ],
  [
    // best 5; 4.95 is not < 5 - 0.1 (bad 1, 2 > 1): lr 0.1, cooldown 2; the two 6s fall in the cooldown
    // (not counted); then 6, 6: bad 1, 2: lr 0.01, cooldown 2; 4.8 < 4.9 is better, 4.85 in the cooldown.
    "threshold 'abs' 0.1, patience 1, cooldown 2",
    [1],
    [5, 4.95, 4.95, 6, 6, 6, 6, 4.8, 4.85],
    { thresholdMode: 'abs', threshold: 0.1, patience: 1, cooldown: 2 },
    [[1], [1], [1], [0.1], [0.1], [0.1], [0.1], [0.01], [0.01], [0.01]],
  ],
  [
    // best 1; 1.05 is not > 1 * 1.1: reduce (patience 0), group 0 to max(0.5, 0.3); 1.2 better; 1.3 not > 1.32:
    // group 0 to max(0.25, 0.3) = 0.3; then it stays at 0.3 (0.3 - 0.3 = 0 is not > eps), group 1 keeps halving;
    // NaN is never better.
    "mode 'max', threshold 'rel' 0.1, patience 0, minLr per group [0.3, 0]",
    [1, 0.1],
    [1, 1.05, 1.2, 1.3, 1.0, Number.NaN],
    { mode: 'max', threshold: 0.1, factor: 0.5, patience: 0, minLr: [0.3, 0] },
    [[1, 0.1], [1, 0.1], [0.5, 0.05], [0.5, 0.05], [0.3, 0.025], [0.3, 0.0125], [0.3, 0.00625]],
  ],
  [
    // 1.4 is not > 1 + 0.5: every step after the first is bad; halving lowers the lr by 0.005, 0.0025,
    // 0.00125, then 0.000625 <= eps 1e-3: skipped from then on.
    "mode 'max', threshold 'abs' 0.5, eps 1e-3",
    [0.01],
    [1, 1.4, 1.4, 1.4, 1.4, 1.4],
    { mode: 'max', thresholdMode: 'abs', threshold: 0.5, factor: 0.5, patience: 0, eps: 1e-3 },
    [[0.01], [0.01], [0.005], [0.0025], [0.00125], [0.00125], [0.00125]],
  ],
  [
    // NaN, NaN: bad 1, 2 > 1: lr 0.1; Infinity is not < 1 (bad 1); 0.5 is the new best.
    "NaN and Infinity in 'min' mode are bad epochs",
    [1],
    [1, Number.NaN, Number.NaN, Number.POSITIVE_INFINITY, 0.5],
    { patience: 1 },
    [[1], [1], [1], [0.1], [0.1], [0.1]],
  ],
];

describe('ReduceLROnPlateau: hand-worked sequences', () => {
  for (const [name, lrs, metrics, options, expected] of SEQUENCES) {
    it(name, () => expectLrs(run(lrs, metrics, options), expected));
  }

  it('construction: no step taken, lastEpoch 0, the lr unchanged; an LRScheduler', () => {
    const opt = sgd(0.3);
    const s = new ReduceLROnPlateau(opt);
    expect([s.lastEpoch, s.best, s.numBadEpochs, s.cooldownCounter]).toEqual([0, Number.POSITIVE_INFINITY, 0, 0]);
    expect(s.getLastLr()).toEqual([0.3]);
    expect(opt.paramGroups[0].initialLr).toBe(0.3);
    expect(new ReduceLROnPlateau(opt, { mode: 'max' }).best).toBe(Number.NEGATIVE_INFINITY);
    expect(s).toBeInstanceOf(LRScheduler);
    expect(lrScheduler.ReduceLROnPlateau).toBe(ReduceLROnPlateau);
  });

  it('the counters: a NaN leaves best alone; the default patience 10 reduces on the 11th bad epoch', () => {
    const s = new ReduceLROnPlateau(sgd(1));
    s.step(Number.NaN);
    expect([s.best, s.numBadEpochs]).toEqual([Number.POSITIVE_INFINITY, 1]);
    s.step(2);
    expect([s.best, s.numBadEpochs]).toEqual([2, 0]);
    for (let i = 1; i <= 10; i++) {
      s.step(2);
      expect(s.numBadEpochs).toBe(i);
    }
    expect(s.getLastLr()).toEqual([1]);
    s.step(Number.NaN);
    expect(s.getLastLr()).toEqual([0.1]);
    expect(s.numBadEpochs).toBe(0);
  });

  it('isBetter for the four mode / thresholdMode pairs', () => {
    const opt = sgd(1);
    const better = (mode: 'min' | 'max', thresholdMode: 'rel' | 'abs', a: number, best: number) => new ReduceLROnPlateau(opt, { mode, thresholdMode, threshold: 0.1 }).isBetter(a, best);
    expect([better('min', 'rel', 8.99, 10), better('min', 'rel', 9.01, 10)]).toEqual([true, false]); // < 9
    expect([better('min', 'abs', 9.89, 10), better('min', 'abs', 9.91, 10)]).toEqual([true, false]); // < 9.9
    expect([better('max', 'rel', 11.01, 10), better('max', 'rel', 10.99, 10)]).toEqual([true, false]); // > 11
    expect([better('max', 'abs', 10.11, 10), better('max', 'abs', 10.09, 10)]).toEqual([true, false]); // > 10.1
    expect(better('min', 'rel', -9.5, -10)).toBe(true); // as PyTorch: 'rel' on a negative best, < -9 counts (a worse -9.5 too)
    // strictly: the bound itself is no improvement
    expect([better('min', 'rel', 9, 10), better('min', 'abs', 9.9, 10), better('max', 'rel', 11, 10), better('max', 'abs', 10.1, 10)]).toEqual([false, false, false, false]);
    expect([better('min', 'abs', Number.NaN, 10), better('max', 'abs', Number.NaN, -10)]).toEqual([false, false]);
  });

  it('groups added after construction get a scalar minLr; a per-group minLr must then be extended by hand', () => {
    const opt = sgd(1);
    const s = new ReduceLROnPlateau(opt, { patience: 0, minLr: 0.5 });
    opt.addParamGroup({ params: [tensor([1], { requiresGrad: true })], lr: 0.8 });
    s.step(1);
    s.step(1);
    expect(s.getLastLr()).toEqual([0.5, 0.5]);
    expect(s.minLrs).toEqual([0.5, 0.5]);
    const opt2 = sgd(1);
    const s2 = new ReduceLROnPlateau(opt2, { patience: 0, minLr: [0.5] });
    opt2.addParamGroup({ params: [tensor([1], { requiresGrad: true })] });
    s2.step(1);
    expect(() => s2.step(1)).toThrowError(/^ReduceLROnPlateau: the optimizer has 2 parameter groups, but minLr has 1 values\nhint: set scheduler.minLrs/);
  });
});

describe('ReduceLROnPlateau: state dict', () => {
  // The cooldown sequence, with a bad epoch counted before the first reduction and two cooldowns.
  const options: ReduceLROnPlateauOptions = { thresholdMode: 'abs', threshold: 0.1, patience: 1, cooldown: 2 };
  const metrics = [5, 4.95, 4.95, 6, 6, 6, 6, 4.8, 4.85, 5, 5, 5];

  it('saved after each step (through encodeState, which keeps ±Infinity) and restored, it continues exactly as the original', () => {
    for (let k = 0; k <= metrics.length; k++) {
      const opt = sgd(1);
      const s = new ReduceLROnPlateau(opt, options);
      for (const m of metrics.slice(0, k)) s.step(m);
      const sd = decodeState(encodeState(s.stateDict())) as Record<string, unknown>;
      const optSd = opt.stateDict();
      const opt2 = sgd(1);
      const s2 = new ReduceLROnPlateau(opt2, { patience: 5 }); // settings are state too
      opt2.loadStateDict(optSd);
      s2.loadStateDict(sd);
      expect(s2.stateDict(), `after ${k} steps`).toEqual(s.stateDict());
      for (const m of metrics.slice(k)) {
        s.step(m);
        s2.step(m);
        expect(s2.getLastLr(), `restored after ${k} steps`).toEqual(s.getLastLr());
        expect([s2.best, s2.numBadEpochs, s2.cooldownCounter, s2.lastEpoch]).toEqual([s.best, s.numBadEpochs, s.cooldownCounter, s.lastEpoch]);
      }
    }
  });

  it('holds the counters and settings as plain data', () => {
    const s = new ReduceLROnPlateau(sgd(1), options);
    for (const m of metrics.slice(0, 4)) s.step(m); // the 4th step is in the cooldown
    const sd = s.stateDict();
    expect(sd).toMatchObject({ best: 5, numBadEpochs: 0, cooldownCounter: 1, lastEpoch: 4, lastLr: [0.1], minLrs: [0], defaultMinLr: 0, mode: 'min', thresholdMode: 'abs', cooldown: 2 });
  });

  it('refuses a best that JSON turned into null', () => {
    const sd = JSON.parse(JSON.stringify(new ReduceLROnPlateau(sgd(1)).stateDict()));
    expect(sd.best).toBe(null);
    expect(() => new ReduceLROnPlateau(sgd(1)).loadStateDict(sd)).toThrowError(/^ReduceLROnPlateau: loadStateDict: invalid best: null; expected a number\nhint: JSON turns ±Infinity into null/);
  });
});

describe('ReduceLROnPlateau: errors', () => {
  it('clear messages for bad options and a step() without a metric', () => {
    const opt = sgd(1);
    const s = new ReduceLROnPlateau(opt);
    const cases: [() => unknown, RegExp][] = [
      [() => new ReduceLROnPlateau(opt, { factor: 1 }), /^ReduceLROnPlateau: invalid factor: 1; expected 0 <= factor < 1 \(new lr = lr \* factor\)$/],
      [() => new ReduceLROnPlateau(opt, { factor: -0.5 }), /^ReduceLROnPlateau: invalid factor: -0.5; expected 0 <= factor < 1/],
      [() => new ReduceLROnPlateau(opt, { patience: -1 }), /^ReduceLROnPlateau: invalid patience: -1; expected an integer >= 0$/],
      [() => new ReduceLROnPlateau(opt, { cooldown: 1.5 }), /^ReduceLROnPlateau: invalid cooldown: 1.5; expected an integer >= 0$/],
      [() => new ReduceLROnPlateau(opt, { threshold: -1e-4 }), /^ReduceLROnPlateau: invalid threshold: -0.0001; expected a finite number >= 0$/],
      [() => new ReduceLROnPlateau(opt, { eps: Number.NaN }), /^ReduceLROnPlateau: invalid eps: NaN; expected a finite number >= 0$/],
      [() => new ReduceLROnPlateau(opt, { mode: 'minimum' as never }), /^ReduceLROnPlateau: invalid mode: minimum; expected 'min' or 'max'$/],
      [() => new ReduceLROnPlateau(opt, { thresholdMode: 'relative' as never }), /^ReduceLROnPlateau: invalid thresholdMode: relative; expected 'rel' or 'abs'$/],
      [() => new ReduceLROnPlateau(opt, { minLr: [0.1, 0.2] }), /^ReduceLROnPlateau: expected 1 values for minLr \(one per parameter group\); got 2$/],
      [() => new ReduceLROnPlateau(sgd(1, 1), { minLr: [0.1, -1] }), /^ReduceLROnPlateau: invalid minLr\[1\]: -1; expected a finite number >= 0$/],
      [() => new ReduceLROnPlateau(opt, { min_lr: 0.1 } as never), /ReduceLROnPlateau: unknown option 'min_lr'.*\nhint: options are camelCase: use 'minLr'/],
      [() => new ReduceLROnPlateau({} as never), /^ReduceLROnPlateau: expected an Optimizer; got object/],
      [() => (s as unknown as { step(): void }).step(), /^ReduceLROnPlateau: step: expected the metric as a number; got undefined\nhint: pass the monitored value each epoch, e.g. scheduler.step\(valLoss\)/],
      [() => s.step(tensor(0.5) as never), /^ReduceLROnPlateau: step: expected the metric as a number; got object\nhint: .*loss.item\(\)/],
      [() => new lrScheduler.SequentialLR(opt, { schedulers: [new lrScheduler.StepLR(opt, { stepSize: 1 }), s], milestones: [2] }), /^SequentialLR: schedulers\[1\] is a ReduceLROnPlateau, whose step\(\) needs a metric/],
    ];
    expectDLErrors(cases);
    expect(s.lastEpoch).toBe(0); // the refused steps did not count
  });
});

// Debian's python3-torch (1.13) or any python3 with torch; the same sequences, run by PyTorch.
const python = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);

describe.skipIf(!python)('ReduceLROnPlateau: the hand-worked sequences agree with PyTorch (skipped only where no python3 imports torch)', () => {
  const py = (x: number) => (Number.isNaN(x) ? "float('nan')" : x === Number.POSITIVE_INFINITY ? "float('inf')" : String(x));
  const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const kwargs = (o: ReduceLROnPlateauOptions) => Object.entries(o).map(([k, v]) => `${snake(k)}=${Array.isArray(v) ? `[${v.join(', ')}]` : typeof v === 'string' ? `'${v}'` : String(v)}`).join(', ');
  let torchRuns: number[][][] | undefined;
  /** The lrs PyTorch sets for every sequence (one python3 process for all). */
  function torchLrs(): number[][][] {
    if (torchRuns) return torchRuns;
    const script = [
      'import json, torch',
      'def run(lrs, metrics, **kw):',
      "    opt = torch.optim.SGD([{'params': [torch.zeros(1, requires_grad=True)], 'lr': lr} for lr in lrs], lr=1)",
      '    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)',
      "    out = [[g['lr'] for g in opt.param_groups]]",
      '    for m in metrics:',
      '        s.step(m)',
      "        out.append([g['lr'] for g in opt.param_groups])",
      '    return out',
      `print(json.dumps([${SEQUENCES.map(([, lrs, metrics, options]) => `run([${lrs.join(', ')}], [${metrics.map(py).join(', ')}], ${kwargs(options)})`).join(', ')}]))`,
    ].join('\n');
    const r = spawnSync(python as string, ['-c', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
    torchRuns = JSON.parse(r.stdout) as number[][][];
    return torchRuns;
  }

  SEQUENCES.forEach(([name, lrs, metrics, options, expected], i) => {
    it(name, () => {
      const torch = torchLrs()[i];
      expect(run(lrs, metrics, options)).toEqual(torch); // bit for bit
      expectLrs(torch, expected);
    });
  });
});
