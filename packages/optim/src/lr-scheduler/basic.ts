/** LambdaLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR and LinearLR. */
import { LRScheduler, bisectRight, checkKeys, checkLastEpoch, checkNumber, checkOptimizer, schedulerError } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

const isInt = (x: number) => Number.isInteger(x);

/** Python's modulo (the sign of the divisor). */
function pyMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

export interface LambdaLROptions {
  /** The factor of the initial lr at each epoch: one function, or one per parameter group. */
  lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[];
  lastEpoch?: number;
}

type LrLambda = (epoch: number) => number;

/**
 * LambdaLR and MultiplicativeLR: schedulers driven by one lrLambda per parameter group.
 * stateDict() holds no functions: as PyTorch, which saves only callable objects'
 * attributes (never plain functions or lambdas), the lambdas are not state; a scheduler
 * restored with loadStateDict() keeps its own.
 */
export abstract class LambdaScheduler extends LRScheduler {
  // Private (#), so that stateDict() (the own enumerable fields) leaves the functions out.
  readonly #lrLambdas: LrLambda[];
  readonly #example: string;
  /** `example`: an lrLambda for the error messages' hints. */
  constructor(op: string, optimizer: AnyOptimizer, options: LambdaLROptions, example: string) {
    checkOptimizer(op, optimizer);
    checkKeys(op, options, ['lrLambda', 'lastEpoch']);
    const { lrLambda, lastEpoch = -1 } = options;
    const groups = optimizer.paramGroups.length;
    const lambdas: unknown[] = Array.isArray(lrLambda) ? [...lrLambda] : Array.from({ length: groups }, () => lrLambda);
    if (lambdas.length !== groups) schedulerError(op, `expected ${groups} functions for lrLambda (one per parameter group); got ${lambdas.length}`);
    for (const f of lambdas) {
      if (typeof f !== 'function') schedulerError(op, `invalid lrLambda: ${String(f)}; expected a function of the epoch, or an array of them (one per parameter group)`, `e.g. lrLambda: ${example}`);
    }
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.#lrLambdas = lambdas as LrLambda[];
    this.#example = example;
    this.initialStep();
  }
  /** The functions, one per parameter group. */
  get lrLambdas(): readonly LrLambda[] {
    return this.#lrLambdas;
  }
  /** Group i's lrLambda at the current epoch, checked to be a finite number. */
  protected factor(i: number): number {
    const value = this.#lrLambdas[i](this.lastEpoch);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      schedulerError(this.name, `lrLambda returned ${String(value)} at epoch ${this.lastEpoch} (group ${i}); expected a finite number`, `return the factor, e.g. ${this.#example} (a function with a { body } needs a return)`);
    }
    return value;
  }
}

/** lr = baseLr * lrLambda(epoch) (see LambdaScheduler for what stateDict() holds). */
export class LambdaLR extends LambdaScheduler {
  constructor(optimizer: AnyOptimizer, options: LambdaLROptions) {
    super('LambdaLR', optimizer, options, '(epoch) => 0.95 ** epoch');
  }
  getLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.factor(i));
  }
}

export interface StepLROptions {
  /** Epochs between decays. */
  stepSize: number;
  /** Multiplicative factor of the decay (default 0.1). */
  gamma?: number;
  /** The index of the last epoch when resuming (default -1). */
  lastEpoch?: number;
}

/** lr = baseLr * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: AnyOptimizer, options: StepLROptions) {
    checkOptimizer('StepLR', optimizer);
    checkKeys('StepLR', options, ['stepSize', 'gamma', 'lastEpoch']);
    const { stepSize, gamma = 0.1, lastEpoch = -1 } = options;
    const op = 'StepLR';
    checkNumber(op, 'stepSize', stepSize, (x) => isInt(x) && x >= 1, 'an integer >= 1');
    checkNumber(op, 'gamma', gamma, Number.isFinite, 'a finite number');
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected override getClosedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

export interface MultiStepLROptions {
  /** Epochs at which the lr is multiplied by gamma (a milestone listed twice decays twice). */
  milestones: readonly number[];
  /** Multiplicative factor of the decay (default 0.1). */
  gamma?: number;
  lastEpoch?: number;
}

/** lr = baseLr * gamma^(number of milestones <= epoch). */
export class MultiStepLR extends LRScheduler {
  /** The milestones, sorted (duplicates kept: they count twice, as PyTorch's Counter). */
  milestones: number[];
  gamma: number;
  constructor(optimizer: AnyOptimizer, options: MultiStepLROptions) {
    checkOptimizer('MultiStepLR', optimizer);
    checkKeys('MultiStepLR', options, ['milestones', 'gamma', 'lastEpoch']);
    const { milestones, gamma = 0.1, lastEpoch = -1 } = options;
    const op = 'MultiStepLR';
    if (!Array.isArray(milestones) || !milestones.every((m) => typeof m === 'number' && isInt(m) && m >= 0)) {
      schedulerError(op, `invalid milestones: ${JSON.stringify(milestones)}; expected an array of integers >= 0`);
    }
    checkNumber(op, 'gamma', gamma, Number.isFinite, 'a finite number');
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.gamma = gamma;
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma ** count);
  }
  protected override getClosedFormLr(): number[] {
    const n = bisectRight(this.milestones, this.lastEpoch);
    return this.baseLrs.map((b) => b * this.gamma ** n);
  }
}

export interface ExponentialLROptions {
  /** Multiplicative factor of the decay, every epoch. */
  gamma: number;
  lastEpoch?: number;
}

/** lr = baseLr * gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  gamma: number;
  constructor(optimizer: AnyOptimizer, options: ExponentialLROptions) {
    checkOptimizer('ExponentialLR', optimizer);
    checkKeys('ExponentialLR', options, ['gamma', 'lastEpoch']);
    const { gamma, lastEpoch = -1 } = options;
    checkNumber('ExponentialLR', 'gamma', gamma, Number.isFinite, 'a finite number');
    super(optimizer, checkLastEpoch('ExponentialLR', lastEpoch));
    this.gamma = gamma;
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected override getClosedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

export interface CosineAnnealingLROptions {
  /** Half period of the cosine, in epochs. */
  tMax: number;
  /** Minimum learning rate (default 0). */
  etaMin?: number;
  lastEpoch?: number;
}

/** lr = etaMin + (baseLr - etaMin) * (1 + cos(pi * epoch / tMax)) / 2 (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  constructor(optimizer: AnyOptimizer, options: CosineAnnealingLROptions) {
    checkOptimizer('CosineAnnealingLR', optimizer);
    checkKeys('CosineAnnealingLR', options, ['tMax', 'etaMin', 'lastEpoch']);
    const { tMax, etaMin = 0, lastEpoch = -1 } = options;
    const op = 'CosineAnnealingLR';
    checkNumber(op, 'tMax', tMax, (x) => isInt(x) && x >= 1, 'an integer >= 1');
    checkNumber(op, 'etaMin', etaMin, Number.isFinite, 'a finite number');
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.initialStep();
  }
  getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    const groups = this.optimizer.paramGroups;
    if (e === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    }
    if (pyMod(e - 1 - T, 2 * T) === 0) {
      return groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return groups.map((g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - etaMin) + etaMin);
  }
  protected override getClosedFormLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((Math.PI * e) / T))) / 2);
  }
}

export interface LinearLROptions {
  /** Factor of the first epoch's lr (default 1/3; 0 < startFactor <= 1). */
  startFactor?: number;
  /** Factor reached after totalIters epochs (default 1; 0 <= endFactor <= 1). */
  endFactor?: number;
  /** Epochs of the linear change (default 5). */
  totalIters?: number;
  lastEpoch?: number;
}

/** lr = baseLr * (startFactor + (endFactor - startFactor) * min(epoch, totalIters) / totalIters). */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  constructor(optimizer: AnyOptimizer, options: LinearLROptions = {}) {
    checkOptimizer('LinearLR', optimizer);
    checkKeys('LinearLR', options, ['startFactor', 'endFactor', 'totalIters', 'lastEpoch']);
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5, lastEpoch = -1 } = options;
    const op = 'LinearLR';
    checkNumber(op, 'startFactor', startFactor, (x) => x > 0 && x <= 1, '0 < startFactor <= 1');
    checkNumber(op, 'endFactor', endFactor, (x) => x >= 0 && x <= 1, '0 <= endFactor <= 1');
    checkNumber(op, 'totalIters', totalIters, (x) => isInt(x) && x >= 1, 'an integer >= 1');
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.initialStep();
  }
  getLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    const groups = this.optimizer.paramGroups;
    if (e === 0) return groups.map((g) => g.lr * s);
    if (e > n) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  protected override getClosedFormLr(): number[] {
    const { lastEpoch: e, startFactor: s, endFactor: f, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((f - s) * Math.min(n, e)) / n));
  }
}
