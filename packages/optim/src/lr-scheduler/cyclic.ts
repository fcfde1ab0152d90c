/** CyclicLR (torch.optim.lr_scheduler.CyclicLR). */
import { LRScheduler, checkKeys, checkLastEpoch, checkNumber, checkOptimizer, perGroup, schedulerError } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

export type CyclicLRMode = 'triangular' | 'triangular2' | 'exp_range';

export interface CyclicLROptions {
  /** The lower lr bound of the cycle (one number, or one per parameter group); the groups' lr is set to it. */
  baseLr: number | readonly number[];
  /** The upper lr bound (one number, or one per group); the amplitude is maxLr - baseLr, scaled by the policy. */
  maxLr: number | readonly number[];
  /** Steps (batches) in the increasing half of a cycle (default 2000). */
  stepSizeUp?: number;
  /** Steps in the decreasing half (default stepSizeUp). */
  stepSizeDown?: number;
  /** The amplitude policy (default 'triangular'); ignored when scaleFn is given. */
  mode?: CyclicLRMode;
  /** 'exp_range' scales the amplitude by gamma^(steps so far) (default 1). */
  gamma?: number;
  /** A custom amplitude scale, 0 <= scaleFn(x) <= 1 for x >= 0; replaces mode. */
  scaleFn?: (x: number) => number;
  /** What scaleFn is given: the cycle number ('cycle', default) or the step count ('iterations'). */
  scaleMode?: 'cycle' | 'iterations';
  /** Cycle SGD/RMSprop momentum (or Adam's beta1) inversely to the lr (default true). */
  cycleMomentum?: boolean;
  /** Momentum at the peak lr (default 0.8; one number or one per group). */
  baseMomentum?: number | readonly number[];
  /** Momentum at the cycle's start (default 0.9; one number or one per group). */
  maxMomentum?: number | readonly number[];
  /** The index of the last batch when resuming (default -1). */
  lastEpoch?: number;
}

const KEYS = ['baseLr', 'maxLr', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma', 'scaleFn', 'scaleMode', 'cycleMomentum', 'baseMomentum', 'maxMomentum', 'lastEpoch'];
const MODES: readonly string[] = ['triangular', 'triangular2', 'exp_range'];

/**
 * The cyclical learning rate policy (Smith, 2017): step() once per batch. Each cycle
 * has stepSizeUp + stepSizeDown steps; the lr rises linearly from baseLr towards maxLr
 * for stepSizeUp steps and falls back for stepSizeDown, its amplitude scaled by
 * 'triangular' (1), 'triangular2' (halved each cycle: 1 / 2^(cycle - 1)), 'exp_range'
 * (gamma^step) or scaleFn. With cycleMomentum the momentum goes the other way, from
 * maxMomentum down to baseMomentum at the peak.
 *
 * The lr is computed from baseLrs at every step (no chainable form). As PyTorch, the
 * initial step uses the groups' `initialLr` as the base (baseLr unless another scheduler
 * set it first), and baseLr is the base from then on. Like PyTorch 2.x (1.13 refuses
 * optimizers without a `momentum` option), an optimizer with `betas` has its beta1
 * cycled. A custom scaleFn is not in stateDict() (PyTorch saves no plain functions).
 */
export class CyclicLR extends LRScheduler {
  maxLrs: number[];
  /** Steps per cycle. */
  totalSize: number;
  /** The increasing fraction of a cycle. */
  stepRatio: number;
  mode: CyclicLRMode;
  gamma: number;
  scaleMode: 'cycle' | 'iterations';
  cycleMomentum: boolean;
  /** Whether beta1 (Adam's betas[0]) is cycled rather than momentum. */
  useBeta1: boolean;
  baseMomentums: number[];
  maxMomentums: number[];
  // Private (#), so that stateDict() (the own enumerable fields) leaves the function out.
  readonly #scaleFn: ((x: number) => number) | null;

  constructor(optimizer: AnyOptimizer, options: CyclicLROptions) {
    const op = 'CyclicLR';
    checkOptimizer(op, optimizer);
    checkKeys(op, options, KEYS);
    const {
      baseLr, maxLr, stepSizeUp = 2000, stepSizeDown, mode = 'triangular', gamma = 1, scaleFn, scaleMode = 'cycle',
      cycleMomentum = true, baseMomentum = 0.8, maxMomentum = 0.9, lastEpoch = -1,
    } = options;
    checkLastEpoch(op, lastEpoch);
    const n = optimizer.paramGroups.length;
    const baseLrs = perGroup(op, 'baseLr', baseLr, n);
    const maxLrs = perGroup(op, 'maxLr', maxLr, n);
    // PyTorch does not check the step sizes; stepSizeUp 0 makes every lr NaN.
    checkNumber(op, 'stepSizeUp', stepSizeUp, (x) => Number.isFinite(x) && x > 0, 'a number of steps > 0');
    const down = stepSizeDown ?? stepSizeUp;
    checkNumber(op, 'stepSizeDown', down, (x) => Number.isFinite(x) && x >= 0, 'a number of steps >= 0');
    if (scaleFn === undefined && !MODES.includes(mode)) {
      schedulerError(op, `invalid mode: ${String(mode)}; expected 'triangular', 'triangular2' or 'exp_range'`, 'or give your own scaleFn (mode is then ignored)');
    }
    if (scaleFn !== undefined && typeof scaleFn !== 'function') schedulerError(op, `invalid scaleFn: ${String(scaleFn)}; expected a function`, 'e.g. scaleFn: (x) => 1 / x with scaleMode: \'cycle\'');
    if (scaleMode !== 'cycle' && scaleMode !== 'iterations') schedulerError(op, `invalid scaleMode: ${String(scaleMode)}; expected 'cycle' or 'iterations'`);
    checkNumber(op, 'gamma', gamma, Number.isFinite, 'a finite number');
    if (typeof cycleMomentum !== 'boolean') schedulerError(op, `invalid cycleMomentum: ${String(cycleMomentum)}; expected true or false`);
    let useBeta1 = false;
    let baseMomentums: number[] = [];
    let maxMomentums: number[] = [];
    if (cycleMomentum) {
      const defaults = optimizer.defaults as Record<string, unknown>;
      if (!('momentum' in defaults) && !('betas' in defaults)) {
        schedulerError(op, `the optimizer must support momentum or beta1 with the cycleMomentum option enabled; ${optimizer.constructor.name} has neither`, 'pass cycleMomentum: false');
      }
      useBeta1 = !('momentum' in defaults);
      baseMomentums = perGroup(op, 'baseMomentum', baseMomentum, n);
      maxMomentums = perGroup(op, 'maxMomentum', maxMomentum, n);
    }
    if (lastEpoch === -1) {
      optimizer.paramGroups.forEach((g, i) => {
        g.lr = baseLrs[i];
      });
    }
    super(optimizer, lastEpoch);
    this.maxLrs = maxLrs;
    this.totalSize = stepSizeUp + down;
    this.stepRatio = stepSizeUp / this.totalSize;
    this.mode = mode;
    this.gamma = gamma;
    this.#scaleFn = scaleFn ?? null;
    // The built-in policies fix what they scale by: the cycle for the triangles, the step for exp_range.
    this.scaleMode = scaleFn !== undefined ? scaleMode : mode === 'exp_range' ? 'iterations' : 'cycle';
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.baseMomentums = baseMomentums;
    this.maxMomentums = maxMomentums;
    this.initialStep();
    this.baseLrs = baseLrs;
  }

  /** The amplitude's scale at x (the cycle number or the step count, by scaleMode). */
  scale(x: number): number {
    if (this.#scaleFn !== null) {
      const s = this.#scaleFn(x);
      if (typeof s !== 'number' || !Number.isFinite(s)) schedulerError(this.name, `scaleFn returned ${String(s)} for ${x}; expected a finite number`, 'return the scale, 0 <= scaleFn(x) <= 1');
      return s;
    }
    if (this.mode === 'triangular2') return 1 / 2 ** (x - 1);
    if (this.mode === 'exp_range') return this.gamma ** x;
    return 1;
  }

  getLr(): number[] {
    const e = this.lastEpoch;
    const cycle = Math.floor(1 + e / this.totalSize);
    const x = 1 + e / this.totalSize - cycle;
    const factor = x <= this.stepRatio ? x / this.stepRatio : (x - 1) / (this.stepRatio - 1);
    const scale = this.scale(this.scaleMode === 'cycle' ? cycle : e);
    const lrs = this.baseLrs.map((b, i) => b + (this.maxLrs[i] - b) * factor * scale);
    if (this.cycleMomentum) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const [lo, hi] = [this.baseMomentums[i], this.maxMomentums[i]];
        const momentum = hi - (hi - lo) * factor * scale;
        if (this.useBeta1) g.betas = [momentum, ...(g.betas as number[]).slice(1)];
        else g.momentum = momentum;
      });
    }
    return lrs;
  }
}
