/**
 * What a training run leaves in its output directory:
 * - checkpoint.safetensors: model, optimizer, scheduler, position and RNG state (every epoch);
 * - model.safetensors + model.json: the final weights and what `predict`/`eval` need to use them;
 * - metrics.jsonl, report.html.
 * Every file is written atomically (temp file + rename).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Module } from '@dl/nn';
import { DLError, loadSafetensors, saveSafetensors } from '@dl/tensor';
import type { ModelName } from './config.js';
import { MODEL_NAMES, UsageError } from './config.js';
import { buildModel } from './setup.js';

export const FILES = {
  checkpoint: 'checkpoint.safetensors',
  weights: 'model.safetensors',
  description: 'model.json',
  metrics: 'metrics.jsonl',
  report: 'report.html',
} as const;

export interface ModelDescription {
  format: 'dl-cifar-trainer/1';
  architecture: ModelName;
  numClasses: number;
  classes: string[];
  /** Per-channel normalisation of images in [0, 1]. */
  mean: number[];
  std: number[];
  inputShape: [number, number, number];
  epochs: number;
  testAccuracy: number | null;
}

export function writeTextAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function saveModel(dir: string, model: Module, desc: ModelDescription): void {
  saveSafetensors(join(dir, FILES.weights), model.stateDict(), { format: desc.format, architecture: desc.architecture });
  writeTextAtomic(join(dir, FILES.description), `${JSON.stringify(desc, null, 2)}\n`);
}

function readDescription(dir: string): ModelDescription {
  const path = join(dir, FILES.description);
  if (!existsSync(path)) throw new UsageError(`no trained model in '${dir}': ${FILES.description} is missing (train one with: cifar-trainer train --out-dir ${dir})`);
  let d: Partial<ModelDescription>;
  try {
    d = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  const ok =
    d.format === 'dl-cifar-trainer/1' &&
    (MODEL_NAMES as readonly string[]).includes(String(d.architecture)) &&
    Number.isInteger(d.numClasses) &&
    Array.isArray(d.classes) &&
    d.classes.length === d.numClasses &&
    Array.isArray(d.mean) &&
    d.mean.length === 3 &&
    Array.isArray(d.std) &&
    d.std.length === 3;
  if (!ok) throw new UsageError(`${path} is not a model description written by cifar-trainer (format, architecture, classes, mean or std missing or invalid)`);
  return d as ModelDescription;
}

/** The trained model of an output directory, ready for eval/predict. */
export function loadModel(dir: string): { model: Module; desc: ModelDescription } {
  const desc = readDescription(dir);
  const model = buildModel(desc.architecture, desc.numClasses);
  const path = join(dir, FILES.weights);
  if (!existsSync(path)) throw new UsageError(`${path} is missing next to ${FILES.description}`);
  try {
    const { tensors } = loadSafetensors(path);
    model.loadStateDict(tensors);
  } catch (e) {
    if (e instanceof DLError) throw new UsageError(`cannot load ${path} into a ${desc.architecture} model: ${e.message.split('\n')[0]}`);
    throw e;
  }
  model.eval();
  return { model, desc };
}
