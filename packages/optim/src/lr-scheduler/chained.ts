/** ChainedScheduler (torch.optim.lr_scheduler.ChainedScheduler). */
import { checkInnerSchedulers, composedStateDict, loadInnerStates } from './composed.js';
import { LRScheduler } from './scheduler.js';

/**
 * Steps several schedulers of one optimizer with one step() call, in order; since
 * each uses the chainable form, their effects compose (ConstantLR warm-up times
 * ExponentialLR decay, say). As PyTorch, construction steps nothing (the schedulers
 * have taken their own initial steps) and getLastLr() is the groups' lr after the
 * last scheduler. lastEpoch counts this scheduler's steps.
 */
export class ChainedScheduler extends LRScheduler {
  schedulers: LRScheduler[];

  constructor(schedulers: readonly LRScheduler[]) {
    const op = 'ChainedScheduler';
    checkInnerSchedulers(op, schedulers, undefined);
    super(schedulers[0].optimizer, -1);
    this.schedulers = [...schedulers];
    this.lastEpoch = 0;
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Step every scheduler once, in order. */
  override step(): void {
    this.stepCount++;
    this.lastEpoch++;
    for (const s of this.schedulers) s.step();
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Its own state and, under `schedulers`, each scheduler's state dict. */
  override stateDict(): Record<string, unknown> {
    return composedStateDict(this, this.schedulers);
  }

  override loadStateDict(stateDict: Record<string, unknown>): void {
    super.loadStateDict(loadInnerStates(this.name, this.schedulers, stateDict));
  }
}
