/** OneCycleLR (torch.optim.lr_scheduler.OneCycleLR). */
import { LRScheduler, checkKeys, checkLastEpoch, checkNumber, checkOptimizer, perGroup, schedulerError } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

export interface OneCycleLROptions {
  /** Peak learning rate (one number, or one per parameter group). */
  maxLr: number | readonly number[];
  /** Steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr (default 0.3). */
  pctStart?: number;
  /** 'cos' (default) or 'linear' annealing. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle SGD/RMSprop momentum or Adam's beta1 inversely to the lr (default true). */
  cycleMomentum?: boolean;
  /** Momentum at the peak lr (default 0.85; one number or one per group). */
  baseMomentum?: number | readonly number[];
  /** Momentum at the start and the end (default 0.95; one number or one per group). */
  maxMomentum?: number | readonly number[];
  /** initialLr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, down to initialLr, then down to minLr) instead of two (default false). */
  threePhase?: boolean;
  lastEpoch?: number;
}

/** A phase of the cycle: it ends at step `endStep`, moving between two group entries. */
export interface OneCyclePhase {
  endStep: number;
  startLr: string;
  endLr: string;
  startMomentum: string;
  endMomentum: string;
}

const KEYS = ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum', 'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase', 'lastEpoch'];

/**
 * The 1cycle policy: the lr rises from initialLr = maxLr / divFactor to maxLr over
 * the first pctStart of the steps, then anneals to minLr = initialLr / finalDivFactor;
 * momentum (or beta1) moves the other way between maxMomentum and baseMomentum.
 * As PyTorch, phase one ends at step pctStart * totalSteps - 1 and the last phase
 * at totalSteps - 1; stepping past totalSteps is an error. Writes `initialLr`,
 * `maxLr`, `minLr` (and `maxMomentum`, `baseMomentum`) into each group.
 */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  schedulePhases: OneCyclePhase[];
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  useBeta1: boolean;

  constructor(optimizer: AnyOptimizer, options: OneCycleLROptions) {
    const op = 'OneCycleLR';
    checkOptimizer(op, optimizer);
    checkKeys(op, options, KEYS);
    const {
      maxLr, totalSteps, epochs, stepsPerEpoch, pctStart = 0.3, annealStrategy = 'cos', cycleMomentum = true,
      baseMomentum = 0.85, maxMomentum = 0.95, divFactor = 25, finalDivFactor = 1e4, threePhase = false, lastEpoch = -1,
    } = options;
    const posInt = (x: number) => Number.isInteger(x) && x > 0;
    let total: number;
    if (totalSteps !== undefined) {
      total = checkNumber(op, 'totalSteps', totalSteps, posInt, 'a positive integer');
    } else if (epochs !== undefined && stepsPerEpoch !== undefined) {
      checkNumber(op, 'epochs', epochs, posInt, 'a positive integer');
      checkNumber(op, 'stepsPerEpoch', stepsPerEpoch, posInt, 'a positive integer');
      total = epochs * stepsPerEpoch;
    } else {
      schedulerError(op, 'you must define either totalSteps or (epochs and stepsPerEpoch)');
    }
    checkNumber(op, 'pctStart', pctStart, (x) => x >= 0 && x <= 1, 'a number between 0 and 1');
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') schedulerError(op, `invalid annealStrategy: ${String(annealStrategy)}; expected 'cos' or 'linear'`);
    checkNumber(op, 'divFactor', divFactor, (x) => x > 0, 'a number > 0');
    checkNumber(op, 'finalDivFactor', finalDivFactor, (x) => x > 0, 'a number > 0');
    if (typeof cycleMomentum !== 'boolean') schedulerError(op, `invalid cycleMomentum: ${String(cycleMomentum)}; expected true or false`);
    if (typeof threePhase !== 'boolean') schedulerError(op, `invalid threePhase: ${String(threePhase)}; expected true or false`);
    checkLastEpoch(op, lastEpoch);
    const n = optimizer.paramGroups.length;
    const maxLrs = perGroup(op, 'maxLr', maxLr, n);
    let useBeta1 = false;
    let maxMomenta: number[] = [];
    let baseMomenta: number[] = [];
    if (cycleMomentum) {
      const defaults = optimizer.defaults as Record<string, unknown>;
      if (!('momentum' in defaults) && !('betas' in defaults)) {
        schedulerError(op, 'the optimizer must support momentum or beta1 with the cycleMomentum option enabled', 'pass cycleMomentum: false');
      }
      useBeta1 = 'betas' in defaults;
      maxMomenta = perGroup(op, 'maxMomentum', maxMomentum, n);
      baseMomenta = perGroup(op, 'baseMomentum', baseMomentum, n);
    }

    if (lastEpoch === -1) {
      optimizer.paramGroups.forEach((group, i) => {
        group.initialLr = maxLrs[i] / divFactor;
        group.maxLr = maxLrs[i];
        group.minLr = group.initialLr / finalDivFactor;
        if (cycleMomentum) {
          if (useBeta1) group.betas = [maxMomenta[i], ...(group.betas as number[]).slice(1)];
          else group.momentum = maxMomenta[i];
          group.maxMomentum = maxMomenta[i];
          group.baseMomentum = baseMomenta[i];
        }
      });
    }
    super(optimizer, lastEpoch);
    this.totalSteps = total;
    this.schedulePhases = threePhase
      ? [
          { endStep: pctStart * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pctStart * total - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: total - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
        ]
      : [
          { endStep: pctStart * total - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: total - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        ];
    this.annealStrategy = annealStrategy;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      schedulerError(this.name, `tried to step ${stepNum} times; the specified number of total steps is ${this.totalSteps}`, 'make totalSteps (or epochs * stepsPerEpoch) cover every scheduler.step() call');
    }
    const phases = this.schedulePhases;
    return this.optimizer.paramGroups.map((group) => {
      const value = (key: string) => group[key] as number;
      let startStep = 0;
      let lr = 0;
      let momentum = 0;
      for (let i = 0; i < phases.length; i++) {
        const phase = phases[i];
        const endStep = phase.endStep;
        if (stepNum <= endStep || i === phases.length - 1) {
          // A phase of zero length (pctStart * totalSteps = 1) is at its end at once.
          const pct = endStep === startStep ? 1 : (stepNum - startStep) / (endStep - startStep);
          lr = this.anneal(value(phase.startLr), value(phase.endLr), pct);
          if (this.cycleMomentum) momentum = this.anneal(value(phase.startMomentum), value(phase.endMomentum), pct);
          break;
        }
        startStep = phase.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) group.betas = [momentum, ...(group.betas as number[]).slice(1)];
        else group.momentum = momentum;
      }
      return lr;
    });
  }
}
