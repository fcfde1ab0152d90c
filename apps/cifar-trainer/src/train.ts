/**
 * The training run: epochs of shuffled batches, per-epoch validation, metrics lines, an
 * atomic checkpoint after every epoch, `--resume` that continues bit for bit, and Ctrl-C
 * that saves a checkpoint at the current batch and exits.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '@dl/nn';
import { CrossEntropyLoss } from '@dl/nn';
import type { LRScheduler, Optimizer, OptimizerStateDict, lrScheduler } from '@dl/optim';
import { DLError, Generator, defaultGenerator, loadState, manualSeed, saveState, scope } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { FILES, saveModel } from './artifacts.js';
import type { ModelDescription } from './artifacts.js';
import { UsageError } from './config.js';
import type { TrainConfig } from './config.js';
import type { Split } from './data.js';
import { epochOrder, loadCifar, trainBatch, trainDataset } from './data.js';
import { DataLoader } from '@dl/data';
import type { EvalResult } from './evaluate.js';
import { evaluate } from './evaluate.js';
import { PendingMetrics } from './pending-metrics.js';
import { progress } from './progress.js';
import { writeReport } from './report.js';
import { buildModel, buildOptimizer, buildScheduler } from './setup.js';
import { TrainingLog } from './tensorboard.js';

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainOptions {
  dataDir: string;
  outDir: string;
  resume: boolean;
  log: (line: string) => void;
  /** Also write TensorBoard event files to this directory (see tensorboard.ts). */
  tensorboard?: string;
  /** Stop (as on Ctrl-C) once this many batches ran in this process: for tests of interruption. */
  stopAfterBatches?: number;
}

export interface TrainResult {
  history: EpochMetrics[];
  final: EvalResult | null;
  interrupted: boolean;
}

/** Everything needed to continue a run exactly where it stopped. */
interface Checkpoint {
  format: 'dl-cifar-trainer-checkpoint/2';
  config: TrainConfig;
  model: Record<string, Tensor>;
  optimizer: OptimizerStateDict;
  scheduler: Record<string, unknown> | null;
  /** The next batch to run: epoch (0-based) and batch within it. */
  epoch: number;
  batch: number;
  /** The default generator's state at the start of `epoch`: the epoch's order is drawn from it. */
  orderState: Uint32Array;
  augmentState: Uint32Array;
  /** The default generator's state when the checkpoint was written. */
  globalState: Uint32Array;
  /** Running sums of the interrupted epoch. */
  partial: { lossSum: number; correct: number; seen: number; seconds: number };
  history: EpochMetrics[];
}

/** Settings that must match for --resume to continue the same run. */
const RUN_KEYS: (keyof TrainConfig)[] = ['model', 'epochs', 'batchSize', 'dropLast', 'optimizer', 'scheduler', 'augment', 'seed', 'limitTrain'];

function readCheckpoint(path: string, cfg: TrainConfig): Checkpoint {
  let ck: Checkpoint;
  try {
    ck = loadState(path) as Checkpoint;
  } catch (e) {
    const why = e instanceof DLError ? e.message.split('\n')[0] : String(e);
    throw new UsageError(`cannot resume: checkpoint ${path} is unreadable or corrupt (${why}); it was left untouched`);
  }
  if ((ck as { format?: unknown })?.format === 'dl-cifar-trainer-checkpoint/1') {
    throw new UsageError(`cannot resume: ${path} was written by an earlier cifar-trainer, whose random generator this one no longer has, so the run cannot continue the same way; it was left untouched: start a new run with another --out-dir`);
  }
  if (ck?.format !== 'dl-cifar-trainer-checkpoint/2') throw new UsageError(`cannot resume: ${path} is not a cifar-trainer checkpoint; it was left untouched`);
  const diff = RUN_KEYS.filter((k) => JSON.stringify(ck.config[k]) !== JSON.stringify(cfg[k]));
  if (diff.length) {
    throw new UsageError(`cannot resume: the checkpoint was made with different settings (${diff.map((k) => `${k}: ${JSON.stringify(ck.config[k])} vs ${JSON.stringify(cfg[k])}`).join(', ')}); rerun with the same flags or a new --out-dir`);
  }
  return ck;
}

export async function train(cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const { outDir, log } = opts;
  mkdirSync(outDir, { recursive: true });
  const ckPath = join(outDir, FILES.checkpoint);
  const resumeFrom = opts.resume ? (existsSync(ckPath) ? readCheckpoint(ckPath, cfg) : null) : null;
  if (opts.resume && !resumeFrom) throw new UsageError(`cannot resume: no checkpoint at ${ckPath}`);
  if (!opts.resume && existsSync(ckPath)) throw new UsageError(`${ckPath} exists: pass --resume to continue that run, or choose another --out-dir`);

  const trainSet = trainDataset(opts.dataDir);
  const testSet: Split = loadCifar(opts.dataDir, false, cfg.limitTest);
  const n = cfg.limitTrain > 0 ? Math.min(cfg.limitTrain, trainSet.length) : trainSet.length;
  const stepsPerEpoch = cfg.dropLast ? Math.floor(n / cfg.batchSize) || 1 : Math.ceil(n / cfg.batchSize);
  const classes = [...trainSet.classes];

  manualSeed(cfg.seed);
  const model: Module = buildModel(cfg.model, classes.length).to(cfg.device);
  const optimizer: Optimizer = buildOptimizer(cfg, model);
  const { scheduler, stepsOn } = buildScheduler(cfg, optimizer, stepsPerEpoch);
  const criterion = new CrossEntropyLoss({ labelSmoothing: cfg.labelSmoothing });
  const augment = new Generator(cfg.seed + 2);

  let epoch = 0;
  let batch = 0;
  let history: EpochMetrics[] = [];
  let partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
  if (resumeFrom) {
    model.loadStateDict(resumeFrom.model);
    optimizer.loadStateDict(resumeFrom.optimizer);
    if (scheduler && resumeFrom.scheduler) (scheduler as LRScheduler).loadStateDict(resumeFrom.scheduler as never);
    ({ epoch, batch, history, partial } = resumeFrom);
    augment.setState(resumeFrom.augmentState);
    defaultGenerator.setState(resumeFrom.orderState);
    log(`resuming from ${ckPath} at epoch ${epoch + 1}, batch ${batch}`);
  }

  const tb = opts.tensorboard ? new TrainingLog(opts.tensorboard, stepsPerEpoch, resumeFrom ? epoch * stepsPerEpoch + batch : undefined) : null;
  const pending = new PendingMetrics(cfg.device === 'cpu' ? 1 : 20);
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  let batchesRun = 0;
  // Batches come from a DataLoader (worker threads with --workers) in the epoch's order;
  // augmentation runs on the main thread from a generator the checkpoint records.
  const loader = (batches: number[][], baseSeed: bigint) => new DataLoader(trainSet, { batchSampler: batches, numWorkers: cfg.workers, seed: baseSeed });

  /** Save the state needed to continue at (nextEpoch, nextBatch). */
  const checkpoint = (nextEpoch: number, nextBatch: number, orderState: Uint32Array) => {
    const state: Checkpoint = {
      format: 'dl-cifar-trainer-checkpoint/2',
      config: cfg,
      model: model.stateDict(),
      optimizer: optimizer.stateDict(),
      scheduler: scheduler ? (scheduler.stateDict() as Record<string, unknown>) : null,
      epoch: nextEpoch,
      batch: nextBatch,
      orderState,
      augmentState: augment.getState(),
      globalState: defaultGenerator.getState(),
      partial,
      history,
    };
    saveState(ckPath, state);
  };

  try {
    for (; epoch < cfg.epochs; epoch++) {
      const orderState = defaultGenerator.getState();
      const { order, baseSeed } = epochOrder(n, defaultGenerator);
      // Resuming inside an epoch: the order is redrawn from the epoch's start, and the default
      // generator then continues from where the interrupted run left it.
      if (resumeFrom && epoch === resumeFrom.epoch) defaultGenerator.setState(resumeFrom.globalState);
      const bar = progress(`epoch ${epoch + 1}/${cfg.epochs}`, stepsPerEpoch);
      model.train();
      const indices = Array.from(order);
      const batches = Array.from({ length: stepsPerEpoch - batch }, (_, i) => indices.slice((batch + i) * cfg.batchSize, (batch + i + 1) * cfg.batchSize));
      let t0 = performance.now();
      for await (const [images, labels] of loader(batches, baseSeed)) {
        if (tb && epoch === 0 && batch === 0) tb.start(cfg, images);
        scope(() => {
          const x = trainBatch(images, cfg, augment).to(cfg.device);
          const y = labels.to(cfg.device);
          const logits = model.forward(x);
          const loss = criterion.forward(logits, y);
          optimizer.zeroGrad();
          loss.backward();
          optimizer.step();
          if (stepsOn === 'batch') scheduler?.step();
          pending.push(loss, logits, y);
          partial.seen += y.shape[0];
        });
        pending.flush(partial);
        images.dispose();
        labels.dispose();
        const t1 = performance.now();
        partial.seconds += (t1 - t0) / 1000;
        t0 = t1;
        // The running figures cover the batches read back so far (NaN, shown as '-', before the first read).
        const read = partial.seen - pending.unread;
        bar.update(batch + 1, { loss: partial.lossSum / read, accuracy: partial.correct / read, imagesPerSecond: partial.seen / partial.seconds });
        tb?.running(epoch, batch + 1, partial.lossSum / read, partial.correct / read);
        batchesRun++;
        if (opts.stopAfterBatches !== undefined && batchesRun >= opts.stopAfterBatches) interrupted = true;
        batch++;
        // Let the event loop run between batches (signals such as Ctrl-C are delivered there;
        // without workers the loader's promises resolve without ever leaving the microtask queue).
        await new Promise<void>((r) => setImmediate(r));
        if (interrupted) {
          bar.stop();
          pending.flush(partial, true);
          checkpoint(epoch, batch, orderState);
          log(`interrupted: checkpoint saved after epoch ${epoch + 1}, batch ${batch} (${ckPath}); continue with --resume`);
          return { history, final: null, interrupted: true };
        }
      }
      bar.stop();
      pending.flush(partial, true);
      if (stepsOn === 'epoch') scheduler?.step();
      const test = evaluate(model, testSet, { batchSize: cfg.testBatchSize, mean: cfg.mean, std: cfg.std, device: cfg.device });
      if (stepsOn === 'metric') (scheduler as lrScheduler.ReduceLROnPlateau).step(test.loss);
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: partial.lossSum / partial.seen,
        trainAccuracy: partial.correct / partial.seen,
        testLoss: test.loss,
        testAccuracy: test.accuracy,
        lr: optimizer.paramGroups[0].lr as number,
        seconds: partial.seconds,
        imagesPerSecond: partial.seen / partial.seconds,
      };
      history = [...history, m];
      appendFileSync(join(outDir, FILES.metrics), `${JSON.stringify(m)}\n`);
      tb?.epoch(m, model);
      log(`epoch ${m.epoch}/${cfg.epochs}: train loss ${m.trainLoss.toFixed(4)} acc ${(100 * m.trainAccuracy).toFixed(2)}% | test loss ${m.testLoss.toFixed(4)} acc ${(100 * m.testAccuracy).toFixed(2)}% | ${Math.round(m.imagesPerSecond)} img/s, ${m.seconds.toFixed(1)} s`);
      batch = 0;
      partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0 };
      checkpoint(epoch + 1, 0, defaultGenerator.getState());
    }
  } finally {
    process.off('SIGINT', onSigint);
    tb?.close();
  }

  let lastPredictions = new Int32Array(0);
  const final = evaluate(model, testSet, {
    batchSize: cfg.testBatchSize,
    mean: cfg.mean,
    std: cfg.std,
    device: cfg.device,
    onPredictions: (start, p) => {
      if (start === 0) lastPredictions = p.slice(0, 64);
    },
  });
  const desc: ModelDescription = {
    format: 'dl-cifar-trainer/1',
    architecture: cfg.model,
    numClasses: classes.length,
    classes,
    mean: [...cfg.mean],
    std: [...cfg.std],
    inputShape: [3, 32, 32],
    epochs: cfg.epochs,
    testAccuracy: final.accuracy,
  };
  saveModel(outDir, model.to('cpu'), desc);
  writeReport(join(outDir, FILES.report), { config: cfg, history, final, classes, images: testSet.images.narrow(0, 0, Math.min(64, testSet.labels.shape[0])), labels: testSet.labels, predictions: lastPredictions });
  log(`done: test accuracy ${(100 * final.accuracy).toFixed(2)}%; model in ${join(outDir, FILES.weights)}, report in ${join(outDir, FILES.report)}`);
  return { history, final, interrupted: false };
}
