/** SequentialLR (torch.optim.lr_scheduler.SequentialLR). */
import { checkInnerSchedulers, composedStateDict, loadInnerStates } from './composed.js';
import { LRScheduler, bisectRight, checkKeys, checkLastEpoch, checkOptimizer, schedulerError } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

export interface SequentialLROptions {
  /** The schedulers, all on this optimizer, used one after the other. */
  schedulers: readonly LRScheduler[];
  /** The epochs at which the next scheduler takes over (one fewer than schedulers, increasing). */
  milestones: readonly number[];
  lastEpoch?: number;
}

/**
 * Runs schedulers one after another: schedulers[i] is used from milestones[i-1]
 * on, and restarted there with step(0) (its closed form at epoch 0). As PyTorch,
 * construction resets the groups' lr to initialLr, undoes the initial step of every
 * scheduler and redoes the first scheduler's.
 */
export class SequentialLR extends LRScheduler {
  schedulers: LRScheduler[];
  milestones: number[];

  constructor(optimizer: AnyOptimizer, options: SequentialLROptions) {
    const op = 'SequentialLR';
    checkOptimizer(op, optimizer);
    checkKeys(op, options, ['schedulers', 'milestones', 'lastEpoch']);
    const { schedulers, milestones, lastEpoch = -1 } = options;
    checkInnerSchedulers(op, schedulers, optimizer);
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      schedulerError(op, `expects one milestone fewer than schedulers; got ${schedulers.length} scheduler(s) and ${Array.isArray(milestones) ? milestones.length : String(milestones)} milestone(s)`);
    }
    milestones.forEach((m, i) => {
      if (!Number.isInteger(m) || m < 0 || (i > 0 && m <= milestones[i - 1])) {
        schedulerError(op, `invalid milestones: [${milestones.join(', ')}]; expected increasing integers >= 0`);
      }
    });
    checkLastEpoch(op, lastEpoch);
    super(optimizer, -1);
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = lastEpoch + 1;
    // Reset the learning rates to their initial values.
    for (const group of optimizer.paramGroups) group.lr = group.initialLr as number;
    // "Undo" the initial steps of the schedulers, and redo the first one's.
    for (const s of this.schedulers) s.lastEpoch -= 1;
    (this.schedulers[0] as unknown as { initialStep(): void }).initialStep();
    this.lastLr = this.schedulers[0].getLastLr();
  }

  getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  override step(): void {
    this.lastEpoch++;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const scheduler = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) scheduler.step(0);
    else scheduler.step();
    this.lastLr = scheduler.getLastLr();
  }

  /** Its own state and, under `schedulers`, each scheduler's state dict. */
  override stateDict(): Record<string, unknown> {
    return composedStateDict(this, this.schedulers);
  }

  override loadStateDict(stateDict: Record<string, unknown>): void {
    super.loadStateDict(loadInnerStates(this.name, this.schedulers, stateDict));
  }
}
