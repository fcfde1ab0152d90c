/** ReduceLROnPlateau (torch.optim.lr_scheduler.ReduceLROnPlateau). */
import { DLError } from '@dl/tensor';
import { LRScheduler, checkKeys, checkNumber, checkOptimizer, perGroup, schedulerError } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

export interface ReduceLROnPlateauOptions {
  /** 'min' (default): reduce when the metric stops decreasing; 'max': when it stops increasing. */
  mode?: 'min' | 'max';
  /** new lr = lr * factor (default 0.1; 0 <= factor < 1). */
  factor?: number;
  /** Epochs without improvement tolerated; the next one reduces the lr (default 10). */
  patience?: number;
  /** How much better than the best a metric must be to count (default 1e-4). */
  threshold?: number;
  /** 'rel' (default): better than best * (1 -/+ threshold); 'abs': than best -/+ threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs after a reduction during which bad epochs are not counted (default 0). */
  cooldown?: number;
  /** Lower bound of the lr (default 0): one number, or one per parameter group. */
  minLr?: number | readonly number[];
  /** A reduction smaller than eps is skipped (default 1e-8). */
  eps?: number;
}

const KEYS = ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'];
const nonNegInt = (x: number) => Number.isInteger(x) && x >= 0;
const nonNeg = (x: number) => Number.isFinite(x) && x >= 0;

/**
 * Reduces the lr when a metric has stopped improving: step(metric) once per epoch
 * (after validation). As PyTorch: a metric better than `best` (see isBetter)
 * becomes the best and clears `numBadEpochs`, any other adds one; during the
 * cooldown after a reduction bad epochs are not counted; when numBadEpochs exceeds
 * patience each group's lr becomes max(lr * factor, minLr), unless that lowers it by
 * eps or less. The lr starts from the groups' own and is never raised.
 *
 * A NaN metric compares false with everything, so, as in PyTorch, it is never
 * better: it counts as a bad epoch (as +Infinity does in 'min' mode) and leaves
 * `best` alone; after more than patience of them the lr is reduced. That is kept, not
 * "fixed": a loss gone NaN is no progress, and lowering the lr is this scheduler's
 * one response to no progress; ignoring such epochs would hide a diverging run.
 *
 * An LRScheduler, as in PyTorch 2.x (1.13's is a plain object): it shares lastEpoch,
 * getLastLr() and the state dicts, and `instanceof LRScheduler` holds. But it has no
 * schedule: the constructor takes no initial step (lastEpoch is 0, the lr unchanged),
 * step() needs the metric, and SequentialLR refuses it. Like every scheduler here the
 * base constructor records `initialLr` in each group (PyTorch 2.x's skips that).
 */
export class ReduceLROnPlateau extends LRScheduler {
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  /** The lower bound of each group's lr. */
  minLrs: number[];
  /** minLr when given as one number (it extends to groups added later); null when per group. */
  defaultMinLr: number | null;
  eps: number;
  /** The best metric so far (Infinity in 'min' mode, -Infinity in 'max' mode before any). */
  best: number;
  /** Consecutive epochs without improvement (outside cooldowns). */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;

  constructor(optimizer: AnyOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const op = 'ReduceLROnPlateau';
    checkOptimizer(op, optimizer);
    checkKeys(op, options, KEYS);
    const { mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = 'rel', cooldown = 0, minLr = 0, eps = 1e-8 } = options;
    if (mode !== 'min' && mode !== 'max') schedulerError(op, `invalid mode: ${String(mode)}; expected 'min' or 'max'`);
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') schedulerError(op, `invalid thresholdMode: ${String(thresholdMode)}; expected 'rel' or 'abs'`);
    checkNumber(op, 'factor', factor, (x) => x >= 0 && x < 1, '0 <= factor < 1 (new lr = lr * factor)');
    checkNumber(op, 'patience', patience, nonNegInt, 'an integer >= 0');
    checkNumber(op, 'threshold', threshold, nonNeg, 'a finite number >= 0');
    checkNumber(op, 'cooldown', cooldown, nonNegInt, 'an integer >= 0');
    checkNumber(op, 'eps', eps, nonNeg, 'a finite number >= 0');
    const minLrs = perGroup(op, 'minLr', minLr, optimizer.paramGroups.length, nonNeg, 'a finite number >= 0');
    super(optimizer);
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.minLrs = minLrs;
    this.defaultMinLr = Array.isArray(minLr) ? null : (minLr as number);
    this.eps = eps;
    this.best = mode === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    this.lastEpoch = 0;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Whether the cooldown after a reduction is still running. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /**
   * Whether metric `a` improves on `best`: 'min' + 'rel': a < best * (1 - threshold);
   * 'min' + 'abs': a < best - threshold; 'max' + 'rel': a > best * (1 + threshold);
   * 'max' + 'abs': a > best + threshold. As in PyTorch, 'rel' assumes a positive
   * metric (with a negative best it accepts a slightly worse value): use 'abs' there.
   */
  isBetter(a: number, best: number): boolean {
    const t = this.threshold;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === 'rel' ? a > best * (1 + t) : a > best + t;
  }

  /** The groups' current learning rates (there is no schedule: only step(metric) lowers them). */
  getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Record the epoch's metric (e.g. the validation loss) and reduce the lr if it has plateaued. */
  override step(metric: number): void {
    if (typeof metric !== 'number') {
      throw new DLError('ARGUMENT', this.name, `step: expected the metric as a number; got ${metric === null ? 'null' : typeof metric}`, 'pass the monitored value each epoch, e.g. scheduler.step(valLoss) (of a Tensor: loss.item())');
    }
    this.stepCount++;
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.inCooldown) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs in the cooldown are ignored
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.getLr();
  }

  private reduceLr(): void {
    const groups = this.optimizer.paramGroups;
    if (groups.length !== this.minLrs.length) {
      if (this.defaultMinLr === null) {
        schedulerError(this.name, `the optimizer has ${groups.length} parameter groups, but minLr has ${this.minLrs.length} values`, 'set scheduler.minLrs to one value per group after addParamGroup(), or give minLr as one number');
      }
      this.minLrs = groups.map(() => this.defaultMinLr as number);
    }
    groups.forEach((g, i) => {
      const newLr = Math.max(g.lr * this.factor, this.minLrs[i]);
      if (g.lr - newLr > this.eps) g.lr = newLr;
    });
  }

  /** As LRScheduler's; `best` must be a number (JSON turns ±Infinity into null). */
  override loadStateDict(stateDict: Record<string, unknown>): void {
    if (stateDict !== null && typeof stateDict === 'object' && 'best' in stateDict && typeof stateDict.best !== 'number') {
      schedulerError(this.name, `loadStateDict: invalid best: ${String(stateDict.best)}; expected a number`, "JSON turns ±Infinity into null: save with saveState()/encodeState() from '@dl/tensor', which keep it");
    }
    super.loadStateDict(stateDict);
  }
}
