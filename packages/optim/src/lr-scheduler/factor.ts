/** ConstantLR, MultiplicativeLR and PolynomialLR. */
import { LambdaScheduler } from './basic.js';
import type { LambdaLROptions } from './basic.js';
import { LRScheduler, checkKeys, checkLastEpoch, checkNumber, checkOptimizer } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

const isInt = (x: number) => Number.isInteger(x);

export interface ConstantLROptions {
  /** The factor of the lr until totalIters (default 1/3; 0 < factor <= 1). */
  factor?: number;
  /** The epoch at which the lr returns to its initial value (default 5). */
  totalIters?: number;
  lastEpoch?: number;
}

/**
 * lr = baseLr * factor for epochs below totalIters, baseLr from then on. The chainable
 * form multiplies by factor at epoch 0 and divides by it at totalIters, so other
 * schedulers' changes in between are kept.
 */
export class ConstantLR extends LRScheduler {
  factor: number;
  totalIters: number;
  constructor(optimizer: AnyOptimizer, options: ConstantLROptions = {}) {
    const op = 'ConstantLR';
    checkOptimizer(op, optimizer);
    checkKeys(op, options, ['factor', 'totalIters', 'lastEpoch']);
    const { factor = 1 / 3, totalIters = 5, lastEpoch = -1 } = options;
    // PyTorch accepts factor 0 and then divides by it at totalIters (ZeroDivisionError): refused here.
    checkNumber(op, 'factor', factor, (x) => x > 0 && x <= 1, 'a constant multiplicative factor with 0 < factor <= 1');
    checkNumber(op, 'totalIters', totalIters, (x) => isInt(x) && x >= 0, 'an integer >= 0');
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.factor = factor;
    this.totalIters = totalIters;
    this.initialStep();
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr * this.factor);
    if (this.lastEpoch !== this.totalIters) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 / this.factor));
  }
  protected override getClosedFormLr(): number[] {
    const reached = this.lastEpoch >= this.totalIters ? 1 : 0;
    return this.baseLrs.map((b) => b * (this.factor + reached * (1 - this.factor)));
  }
}

export type MultiplicativeLROptions = LambdaLROptions;

/**
 * lr(epoch) = lr(epoch - 1) * lrLambda(epoch) for epoch > 0; the lr is left alone at
 * epoch 0. Has no closed form: step(epoch) also multiplies the current lr. As LambdaLR,
 * stateDict() holds no functions.
 */
export class MultiplicativeLR extends LambdaScheduler {
  constructor(optimizer: AnyOptimizer, options: MultiplicativeLROptions) {
    super('MultiplicativeLR', optimizer, options, '(epoch) => 0.95');
  }
  getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch <= 0) return groups.map((g) => g.lr);
    return groups.map((g, i) => g.lr * this.factor(i));
  }
}

export interface PolynomialLROptions {
  /** Epochs of the decay, after which the lr stays 0 (default 5). */
  totalIters?: number;
  /** The power of the polynomial (default 1). */
  power?: number;
  lastEpoch?: number;
}

/** lr = baseLr * (1 - min(epoch, totalIters) / totalIters)^power: down to 0 at totalIters. */
export class PolynomialLR extends LRScheduler {
  totalIters: number;
  power: number;
  constructor(optimizer: AnyOptimizer, options: PolynomialLROptions = {}) {
    const op = 'PolynomialLR';
    checkOptimizer(op, optimizer);
    checkKeys(op, options, ['totalIters', 'power', 'lastEpoch']);
    const { totalIters = 5, power = 1, lastEpoch = -1 } = options;
    // PyTorch does not check these; totalIters 0 would divide by zero and a negative power blow up at totalIters.
    checkNumber(op, 'totalIters', totalIters, (x) => isInt(x) && x >= 1, 'an integer >= 1');
    checkNumber(op, 'power', power, (x) => Number.isFinite(x) && x >= 0, 'a finite number >= 0');
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.totalIters = totalIters;
    this.power = power;
    this.initialStep();
  }
  getLr(): number[] {
    const { lastEpoch: e, totalIters: n } = this;
    const groups = this.optimizer.paramGroups;
    if (e === 0 || e > n) return groups.map((g) => g.lr);
    const decay = ((1 - e / n) / (1 - (e - 1) / n)) ** this.power;
    return groups.map((g) => g.lr * decay);
  }
  protected override getClosedFormLr(): number[] {
    const { lastEpoch: e, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (1 - Math.min(n, e) / n) ** this.power);
  }
}
