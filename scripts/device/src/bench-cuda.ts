/**
 * Our side of the CUDA benchmark, bundled into .device/bundle/bench-cuda.mjs. torch_cuda_bench.py
 * is PyTorch's side: the same cases, protocol and JSON lines (report.mjs puts them side by side).
 *
 *   node .device/bundle/bench-cuda.mjs [--device cuda|cpu] [--quick | --smoke] [--data DIR] [--only CASES]
 *
 * Cases (`--only` takes a comma-separated list of them):
 *   convnet-train  the tutorial ConvNet (TutorialNet), one training step: forward, cross-entropy,
 *                  backward, SGD lr 0.001 momentum 0.9; batch 128; images/s
 *   convnet-eval   the same network in eval mode under noGrad, logits and argmax; batch 1000; images/s
 *   resnet9-train  ResNet-9, one training step, SGD lr 0.01 nesterov momentum 0.9 weight decay 5e-4;
 *                  batch 512, float32; images/s
 *   recipe         the tutorial recipe end to end on CIFAR-10 (--data: the folder holding
 *                  cifar-10-batches-bin, see cifar-cache.ts): images uploaded once and normalised on
 *                  the device (Normalize(0.5, 0.5)), then 10 epochs of SGD lr 0.001 momentum 0.9 over
 *                  shuffled batches of 128 (the last partial batch dropped), then the test accuracy.
 *                  Each epoch shuffles the training set on the device once and slices batches from
 *                  it (indexSelect checks its indices on the host: one check an epoch, not a step).
 *                  Metrics: recipe-upload (s), recipe-wall (s: training and evaluation),
 *                  recipe-epoch (s, median epoch), recipe-test-acc (%)
 * Protocol (the case throughputs): one untimed step, warm-up steps for warmupS (at least warmupSteps),
 * then `repeats` timed runs of `iters` back-to-back steps, each run between two synchronize()
 * calls; the value is the median run's time per step. `iters` makes a run last >= minRunS,
 * `repeats` fits the case's time budget. Inputs are random, made once on the device.
 *
 * Output: JSON lines on stdout, an `env` line first, then one line per metric,
 *   {"suite":"ours","metric":"convnet-train","value":…,"unit":"images/s","batch":128,"peak_bytes":…,"issue_ms":…}
 * where peak_bytes is the device's peak allocated bytes during the case (cuda.memoryStats(); null
 * off CUDA) and issue_ms the host's time to issue one step without waiting (issueMs); a case that throws gives {"suite":"ours","metric":…,"error":…} and the next one runs.
 * --quick: shorter budgets and 1 recipe epoch (the first device try). --smoke: small batches and
 * at most 2,560 training images (the CPU check of this script in `pnpm test`).
 */
import { parseArgs } from 'node:util';
import * as T from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import { F } from '@dl/nn';
import type { Module } from '@dl/nn';
import { SGD } from '@dl/optim';
import { datasets, models } from '@dl/vision';
import { describeEnvironment, disposeModel, selectTarget } from './device.js';
import type { Target } from './device.js';

interface Mode {
  /** Seconds of timed runs per case (before rounding to whole runs). */
  budgetS: number;
  minRunS: number;
  maxRepeats: number;
  warmupS: number;
  /** Warm-up steps at least (after the untimed first one). */
  warmupSteps: number;
  epochs: number;
  /** issueMs: runs of issueSteps steps issued back to back (few enough that a GPU's launch queue never fills); the median run is reported. */
  issueRuns: number;
  issueSteps: number;
  batch: { convnetTrain: number; convnetEval: number; resnet9: number };
  /** Images of each split the recipe uses at most (null: all). */
  recipeLimit: { train: number; test: number } | null;
}

const MODES: Record<'full' | 'quick' | 'smoke', Mode> = {
  full: { budgetS: 6, minRunS: 0.2, maxRepeats: 7, warmupS: 1, warmupSteps: 2, epochs: 10, issueRuns: 5, issueSteps: 4, batch: { convnetTrain: 128, convnetEval: 1000, resnet9: 512 }, recipeLimit: null },
  quick: { budgetS: 2, minRunS: 0.1, maxRepeats: 5, warmupS: 0.3, warmupSteps: 2, epochs: 1, issueRuns: 5, issueSteps: 4, batch: { convnetTrain: 128, convnetEval: 1000, resnet9: 512 }, recipeLimit: null },
  smoke: { budgetS: 0.3, minRunS: 0.02, maxRepeats: 3, warmupS: 0, warmupSteps: 0, epochs: 1, issueRuns: 1, issueSteps: 1, batch: { convnetTrain: 128, convnetEval: 200, resnet9: 2 }, recipeLimit: { train: 2560, test: 1000 } },
};
const CASES = ['convnet-train', 'convnet-eval', 'resnet9-train', 'recipe'] as const;
const RECIPE_BATCH = 128;
const EVAL_BATCH = 1000;

const { values: opt } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda' },
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    data: { type: 'string' },
    only: { type: 'string' },
  },
});
const modeName = opt.smoke ? 'smoke' : opt.quick ? 'quick' : 'full';
const mode = MODES[modeName];
const only = opt.only ? opt.only.split(',') : [...CASES];
const unknown = only.filter((c) => !(CASES as readonly string[]).includes(c));
if (unknown.length) throw new Error(`--only: unknown case ${unknown.join(', ')}; cases: ${CASES.join(', ')}`);

const emit = (line: Record<string, unknown>) => console.log(JSON.stringify({ suite: 'ours', ...line }));
const now = () => performance.now() / 1e3;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Times `step` (see the protocol above); returns seconds per step. */
function measure(step: () => void, t: Target): { stepS: number; iters: number; repeats: number; samplesS: number[] } {
  const timed = (n: number) => {
    t.sync();
    const t0 = now();
    for (let i = 0; i < n; i++) step();
    t.sync();
    return (now() - t0) / n;
  };
  let once = timed(1);
  const warmEnd = now() + mode.warmupS;
  for (let n = 0; n < mode.warmupSteps || now() < warmEnd; n++) once = Math.min(once, timed(1));
  const iters = Math.max(1, Math.ceil(mode.minRunS / once));
  const repeats = Math.max(1, Math.min(mode.maxRepeats, Math.floor(mode.budgetS / (iters * once))));
  const samplesS = Array.from({ length: repeats }, () => timed(iters));
  return { stepS: median(samplesS), iters, repeats, samplesS };
}

/**
 * The host's time to issue a step without waiting for it, ms per step (median of mode.issueRuns): below the
 * step time the GPU is the bound, near it the host is. torch_cuda_bench.py measures PyTorch alike.
 */
function issueMs(step: () => void, t: Target): number {
  const samples = Array.from({ length: mode.issueRuns }, () => {
    t.sync();
    const t0 = now();
    for (let i = 0; i < mode.issueSteps; i++) step();
    return ((now() - t0) / mode.issueSteps) * 1e3;
  });
  t.sync();
  return median(samples);
}

/** One SGD training step of `net` on (x, y), in its own scope. */
function trainStep(net: Module, optimizer: SGD): (x: Tensor, y: Tensor) => void {
  return (x, y) =>
    T.scope(() => {
      optimizer.zeroGrad();
      F.crossEntropy(net.forward(x) as Tensor, y).backward();
      optimizer.step();
    });
}

/** A throughput case: `make` builds a model and its step; times the step on random inputs, reports images/s and the peak memory. */
function throughput(t: Target, metric: string, batch: number, make: () => { net: Module; optimizer?: SGD; step: (x: Tensor, y: Tensor) => void }): void {
  t.resetPeak();
  T.manualSeed(0);
  const [x, y] = T.scope(() => [T.randn([batch, 3, 32, 32]).to(t.device), T.randint(0, 10, [batch], { dtype: 'int32' }).to(t.device)]);
  const { net, optimizer, step } = make();
  try {
    const m = measure(() => step(x, y), t);
    emit({
      metric,
      value: batch / m.stepS,
      unit: 'images/s',
      batch,
      step_ms: m.stepS * 1e3,
      iters: m.iters,
      repeats: m.repeats,
      samples_ms: m.samplesS.map((s) => s * 1e3),
      peak_bytes: t.peakBytes(),
      issue_ms: issueMs(() => step(x, y), t),
      params: net.parameters().reduce((sum, p) => sum + p.numel, 0),
    });
  } finally {
    disposeModel(net, optimizer);
    x.dispose();
    y.dispose();
  }
}

/** The split's images as normalised float32 on the device, and its labels; `limit` keeps the first images. */
function toDevice(ds: datasets.CIFAR10, t: Target, limit: number | null): { x: Tensor; y: Tensor } {
  return T.scope(() => {
    const { images, labels } = ds.asTensors({ copy: false });
    const n = limit === null ? ds.length : Math.min(limit, ds.length);
    const x = images.narrow(0, 0, n).to(t.device).to('float32').div(255).sub(0.5).div(0.5);
    return { x, y: labels.narrow(0, 0, n).to(t.device) };
  });
}

function recipe(t: Target, dataDir: string): void {
  const train = new datasets.CIFAR10(dataDir, { train: true });
  const test = new datasets.CIFAR10(dataDir, { train: false });
  t.resetPeak();
  let t0 = now();
  const tr = toDevice(train, t, mode.recipeLimit?.train ?? null);
  const te = toDevice(test, t, mode.recipeLimit?.test ?? null);
  t.sync();
  const upload = now() - t0;
  T.manualSeed(0);
  const net = new models.TutorialNet().to(t.device);
  const optimizer = new SGD(net.parameters(), { lr: 0.001, momentum: 0.9 });
  const g = new T.Generator(0);
  const n = tr.x.shape[0];
  const steps = Math.floor(n / RECIPE_BATCH);
  const epochS: number[] = [];
  try {
    t0 = now();
    for (let epoch = 0; epoch < mode.epochs; epoch++) {
      const e0 = now();
      const loss = T.scope(() => {
        const perm = T.randperm(n, { generator: g }).to(t.device);
        const [xs, ys] = [tr.x.indexSelect(0, perm), tr.y.indexSelect(0, perm)];
        let last: Tensor | null = null;
        for (let b = 0; b < steps; b++) {
          last?.dispose();
          last = T.scope(() => {
            optimizer.zeroGrad();
            const l = F.crossEntropy(net.forward(xs.narrow(0, b * RECIPE_BATCH, RECIPE_BATCH)) as Tensor, ys.narrow(0, b * RECIPE_BATCH, RECIPE_BATCH));
            l.backward();
            optimizer.step();
            return l.detach();
          });
        }
        return last;
      });
      t.sync();
      epochS.push(now() - e0);
      console.error(`ours recipe: epoch ${epoch + 1}/${mode.epochs} ${epochS.at(-1)?.toFixed(2)} s, last loss ${loss?.item().toFixed(3)}`);
      loss?.dispose();
    }
    net.eval();
    let correct = 0;
    noGrad(() => {
      for (let s = 0; s < te.x.shape[0]; s += EVAL_BATCH) {
        const len = Math.min(EVAL_BATCH, te.x.shape[0] - s);
        correct += T.scope(() => net.forward(te.x.narrow(0, s, len)).argmax(1).eq(te.y.narrow(0, s, len)).sum().item());
      }
    });
    const wall = now() - t0;
    const common = { epochs: mode.epochs, train_images: n, steps_per_epoch: steps, test_images: te.x.shape[0], peak_bytes: t.peakBytes() };
    emit({ metric: 'recipe-upload', value: upload, unit: 's', ...common });
    emit({ metric: 'recipe-wall', value: wall, unit: 's', epoch_s: epochS, ...common });
    emit({ metric: 'recipe-epoch', value: median(epochS), unit: 's', ...common });
    emit({ metric: 'recipe-test-acc', value: (100 * correct) / te.x.shape[0], unit: '%', ...common });
  } finally {
    disposeModel(net, optimizer);
    for (const x of [tr.x, tr.y, te.x, te.y]) x.dispose();
  }
}

const RECIPE_METRICS = ['recipe-upload', 'recipe-wall', 'recipe-epoch', 'recipe-test-acc'];

function main(): void {
  let t: Target;
  try {
    t = selectTarget(opt.device);
  } catch (e) {
    emit({ kind: 'env', mode: modeName, error: e instanceof Error ? e.message : String(e), ...describeEnvironment() });
    process.exit(1);
  }
  emit({ kind: 'env', device: t.device, mode: modeName, ...describeEnvironment() });
  const cases: Record<(typeof CASES)[number], () => void> = {
    'convnet-train': () =>
      throughput(t, 'convnet-train', mode.batch.convnetTrain, () => {
        const net = new models.TutorialNet().to(t.device);
        const optimizer = new SGD(net.parameters(), { lr: 0.001, momentum: 0.9 });
        return { net, optimizer, step: trainStep(net, optimizer) };
      }),
    'convnet-eval': () =>
      throughput(t, 'convnet-eval', mode.batch.convnetEval, () => {
        const net = new models.TutorialNet().to(t.device).eval();
        return { net, step: (x) => noGrad(() => T.scope(() => void net.forward(x).argmax(1))) };
      }),
    'resnet9-train': () =>
      throughput(t, 'resnet9-train', mode.batch.resnet9, () => {
        const net = new models.ResNet9().to(t.device);
        const optimizer = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
        return { net, optimizer, step: trainStep(net, optimizer) };
      }),
    recipe: () => {
      if (!opt.data) throw new Error('no --data folder (the CIFAR-10 cache made by cifar-cache.mjs)');
      recipe(t, opt.data);
    },
  };
  for (const name of only) {
    console.error(`ours: ${name}`);
    try {
      cases[name as (typeof CASES)[number]]();
    } catch (e) {
      const error = e instanceof Error ? e.message.split('\n')[0] : String(e);
      for (const metric of name === 'recipe' ? RECIPE_METRICS : [name]) emit({ metric, error });
    }
  }
}

main();
