/** What SequentialLR and ChainedScheduler, the schedulers made of schedulers, share. */
import { DLError } from '@dl/tensor';
import { copyPlain } from '../optimizer.js';
import { ReduceLROnPlateau } from './plateau.js';
import { LRScheduler, schedulerError } from './scheduler.js';
import type { AnyOptimizer } from './scheduler.js';

/** Check the inner schedulers: at least one, each an LRScheduler stepped without a metric, all of `optimizer`. */
export function checkInnerSchedulers(op: string, schedulers: unknown, optimizer: AnyOptimizer | undefined): asserts schedulers is readonly LRScheduler[] {
  if (!Array.isArray(schedulers) || schedulers.length < 1) {
    throw new DLError('ARGUMENT', op, `expected an array of at least one scheduler; got ${Array.isArray(schedulers) ? 'an empty array' : String(schedulers)}`, `pass the schedulers: [scheduler1, scheduler2]`);
  }
  schedulers.forEach((s, i) => {
    if (!(s instanceof LRScheduler)) throw new DLError('ARGUMENT', op, `schedulers[${i}] is not an LRScheduler`);
    if (s instanceof ReduceLROnPlateau) {
      throw new DLError('ARGUMENT', op, `schedulers[${i}] is a ReduceLROnPlateau, whose step() needs a metric; ${op} cannot drive it (as PyTorch 2.x)`, 'step it yourself: scheduler.step(valLoss) each epoch');
    }
    if (s.optimizer !== (optimizer ?? schedulers[0].optimizer)) schedulerError(op, `expects all schedulers to belong to the same optimizer, but scheduler ${i} has a different one`);
  });
}

/** The state dict of a scheduler made of others: its own fields, and theirs under `schedulers`. */
export function composedStateDict(self: LRScheduler, schedulers: readonly LRScheduler[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(self)) if (k !== 'optimizer' && k !== 'schedulers') out[k] = copyPlain(v);
  out.schedulers = schedulers.map((s) => s.stateDict());
  return out;
}

/** Load the inner schedulers' states from a composedStateDict; returns the outer scheduler's own part. */
export function loadInnerStates(op: string, schedulers: readonly LRScheduler[], stateDict: Record<string, unknown>): Record<string, unknown> {
  const { schedulers: inner, ...rest } = stateDict ?? {};
  if (!Array.isArray(inner) || inner.length !== schedulers.length) {
    throw new DLError('ARGUMENT', op, `loadStateDict: expected 'schedulers' with ${schedulers.length} state dict(s); got ${Array.isArray(inner) ? inner.length : String(inner)}`);
  }
  for (const [i, s] of inner.entries()) schedulers[i].loadStateDict(s as Record<string, unknown>);
  return rest;
}
