/** CosineAnnealingWarmRestarts (torch.optim.lr_scheduler.CosineAnnealingWarmRestarts). */
import { DLError } from '@dl/tensor';
import { LRScheduler, checkKeys, checkLastEpoch, checkNumber, checkOptimizer, schedulerError } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

export interface CosineAnnealingWarmRestartsOptions {
  /** Epochs until the first restart (PyTorch's T_0). */
  t0: number;
  /** Factor by which the period grows after each restart (PyTorch's T_mult; default 1). */
  tMult?: number;
  /** Minimum learning rate (default 0). */
  etaMin?: number;
  lastEpoch?: number;
}

const KEYS = ['t0', 'tMult', 'etaMin', 'lastEpoch'];
/** PyTorch's spellings, which checkKeys' snake_case hint does not map. */
const PYTORCH_NAMES: Record<string, string> = { T_0: 't0', T0: 't0', T_mult: 'tMult', TMult: 'tMult' };

/**
 * SGDR: lr = etaMin + (baseLr - etaMin) * (1 + cos(pi * tCur / tI)) / 2, where tCur
 * counts the epochs since the last restart and tI is the current period (t0, then
 * multiplied by tMult at each restart). step() advances tCur by one; step(epoch)
 * accepts a fractional epoch (e.g. epoch + batch / batches, to anneal within an epoch)
 * and places tCur and tI for it; lastEpoch is floor(epoch). Unlike the other
 * schedulers, every step computes the lr from baseLrs, so it does not chain.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  t0: number;
  /** The current period. */
  tI: number;
  tMult: number;
  etaMin: number;
  /** Epochs since the last restart (fractional after step(epoch) with a fractional epoch). */
  tCur: number;

  constructor(optimizer: AnyOptimizer, options: CosineAnnealingWarmRestartsOptions) {
    const op = 'CosineAnnealingWarmRestarts';
    checkOptimizer(op, optimizer);
    for (const k of Object.keys(options ?? {})) {
      if (k in PYTORCH_NAMES) throw new DLError('ARGUMENT', op, `unknown option '${k}'; expected one of ${KEYS.join(', ')}`, `use '${PYTORCH_NAMES[k]}'`);
    }
    checkKeys(op, options, KEYS);
    const { t0, tMult = 1, etaMin = 0, lastEpoch = -1 } = options;
    checkNumber(op, 't0', t0, (x) => Number.isInteger(x) && x > 0, 'a positive integer');
    checkNumber(op, 'tMult', tMult, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
    checkNumber(op, 'etaMin', etaMin, Number.isFinite, 'a finite number');
    super(optimizer, checkLastEpoch(op, lastEpoch));
    this.t0 = t0;
    this.tI = t0;
    this.tMult = tMult;
    this.etaMin = etaMin;
    // As PyTorch: resuming at lastEpoch k continues with tCur k + 1 in the first period (less tI once).
    this.tCur = lastEpoch;
    this.initialStep();
  }

  getLr(): number[] {
    const { etaMin } = this;
    return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2);
  }

  /** Advance one epoch, or go to `epoch` (a number >= 0, fractional allowed). */
  override step(epoch?: number): void {
    this.stepCount++;
    let e = epoch;
    if (e === undefined && this.lastEpoch < 0) e = 0;
    if (e === undefined) {
      e = this.lastEpoch + 1;
      this.tCur += 1;
      if (this.tCur >= this.tI) {
        this.tCur -= this.tI;
        this.tI *= this.tMult;
      }
    } else {
      if (typeof e !== 'number' || !Number.isFinite(e) || e < 0) schedulerError(this.name, `invalid epoch: ${String(e)}; expected a non-negative number`);
      this.placeEpoch(e);
    }
    this.lastEpoch = Math.floor(e);
    const values = this.getLr();
    const groups = this.optimizer.paramGroups;
    groups.forEach((g, i) => {
      g.lr = values[i];
    });
    this.lastLr = groups.map((g) => g.lr);
  }

  /** Set tCur and tI for an epoch counted from the start: the restarts fall at t0 * (1 + tMult + ... + tMult^(n-1)). */
  private placeEpoch(epoch: number): void {
    const { t0, tMult } = this;
    if (epoch < t0) {
      this.tI = t0;
      this.tCur = epoch;
    } else if (tMult === 1) {
      this.tCur = epoch % t0;
    } else {
      // Python's int(math.log(x, base)): log(x) / log(base), truncated.
      const n = Math.trunc(Math.log((epoch / t0) * (tMult - 1) + 1) / Math.log(tMult));
      this.tCur = epoch - (t0 * (tMult ** n - 1)) / (tMult - 1);
      this.tI = t0 * tMult ** n;
    }
  }
}
