/** Evaluation: accuracy, per-class accuracy, confusion matrix and mean loss over a split. */
import { noGrad } from '@dl/autograd';
import type { Module } from '@dl/nn';
import { F } from '@dl/nn';
import { cat, scope, stack } from '@dl/tensor';
import type { Device, Tensor } from '@dl/tensor';
import type { Split } from './data.js';
import { normalizeBatch } from './data.js';

export interface EvalResult {
  loss: number;
  accuracy: number;
  perClass: number[];
  /** confusion[true][predicted] */
  confusion: number[][];
  count: number;
}

export interface EvalOptions {
  batchSize: number;
  mean: readonly number[];
  std: readonly number[];
  device: Device;
  /** Called with each batch's predictions (int32 [B]) and its first index. */
  onPredictions?: (start: number, predicted: Int32Array) => void;
}

export function evaluate(model: Module, split: Split, opts: EvalOptions): EvalResult {
  const k = split.classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const n = split.labels.shape[0];
  model.eval();
  // Each batch's loss sum and predictions stay on the device until the end, then come back in
  // two transfers: reading them per batch would make the device wait for the host each time.
  const losses: Tensor[] = [];
  const predictions: Tensor[] = [];
  noGrad(() => {
    for (let start = 0; start < n; start += opts.batchSize) {
      const [loss, predicted] = scope(() => {
        const size = Math.min(opts.batchSize, n - start);
        const x: Tensor = normalizeBatch(split.images.narrow(0, start, size), opts.mean, opts.std).to(opts.device);
        const logits = model.forward(x);
        const y = split.labels.narrow(0, start, size).to(opts.device);
        return [F.crossEntropy(logits, y, { reduction: 'sum' }).to('float64'), logits.argmax(1)];
      });
      losses.push(loss);
      predictions.push(predicted);
    }
  });
  const [batchLosses, predicted] =
    n === 0 ? [new Float64Array(0), new Int32Array(0)] : scope(() => [stack(losses).cpu().dataSync(), cat(predictions).cpu().dataSync() as Int32Array]);
  for (const t of [...losses, ...predictions]) t.dispose();
  let lossSum = 0;
  for (const l of batchLosses) lossSum += l;
  const truth = split.labels.dataSync() as Int32Array;
  for (let i = 0; i < n; i++) confusion[truth[i]][predicted[i]]++;
  if (opts.onPredictions) for (let start = 0; start < n; start += opts.batchSize) opts.onPredictions(start, predicted.slice(start, start + opts.batchSize));
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  const perClass = confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[i] / total : 0;
  });
  return { loss: lossSum / n, accuracy: correct / n, perClass, confusion, count: n };
}

/** A fixed-width text table of the confusion matrix (rows: true class, columns: predicted). */
export function formatConfusion(classes: readonly string[], confusion: number[][]): string {
  const w = Math.max(5, ...confusion.flat().map((v) => String(v).length)) + 1;
  const label = Math.max(...classes.map((c) => c.length)) + 1;
  const head = `${'true \\ pred'.padEnd(label)}${classes.map((c) => c.slice(0, w - 1).padStart(w)).join('')}`;
  const rows = confusion.map((row, i) => `${classes[i].padEnd(label)}${row.map((v) => String(v).padStart(w)).join('')}`);
  return [head, ...rows].join('\n');
}
