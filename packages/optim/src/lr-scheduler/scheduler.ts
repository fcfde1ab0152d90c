/** The LRScheduler base class (torch.optim.lr_scheduler.LRScheduler). */
import { DLError } from '@dl/tensor';
import { Optimizer, copyPlain } from '../optimizer.js';

/** Any optimizer a scheduler can drive. */
export type AnyOptimizer = Optimizer;

export function schedulerError(op: string, message: string, hint?: string): never {
  throw new DLError('VALUE', op, message, hint);
}

/** Check the lastEpoch option (-1 for a fresh start) and return it. */
export function checkLastEpoch(op: string, lastEpoch: unknown): number {
  if (typeof lastEpoch !== 'number' || !Number.isInteger(lastEpoch) || lastEpoch < -1) {
    schedulerError(op, `invalid lastEpoch: ${String(lastEpoch)}; expected an integer >= -1`);
  }
  return lastEpoch;
}

/** Check that options is an object whose keys are all known. */
export function checkKeys(op: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new DLError('ARGUMENT', op, `options must be an object; got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) {
      const camel = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      throw new DLError('ARGUMENT', op, `unknown option '${k}'; expected one of ${known.join(', ')}`, camel !== k && known.includes(camel) ? `options are camelCase: use '${camel}'` : undefined);
    }
  }
}

/** Check that a scheduler was given an optimizer. */
export function checkOptimizer(op: string, optimizer: unknown): void {
  if (!(optimizer instanceof Optimizer)) {
    throw new DLError('ARGUMENT', op, `expected an Optimizer; got ${optimizer === null ? 'null' : typeof optimizer}`, `pass the optimizer first: new ${op}(optimizer, { ... })`);
  }
}

/** Check a number option with a condition. */
export function checkNumber(op: string, key: string, v: unknown, ok: (x: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) schedulerError(op, `invalid ${key}: ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}; expected ${expected}`);
  return v;
}

/** Check an option given as one number or one per parameter group; return one per group. */
export function perGroup(op: string, name: string, v: number | readonly number[], n: number, ok: (x: number) => boolean = Number.isFinite, expected = 'a finite number'): number[] {
  if (Array.isArray(v)) {
    if (v.length !== n) schedulerError(op, `expected ${n} values for ${name} (one per parameter group); got ${v.length}`);
    for (const [i, x] of v.entries()) checkNumber(op, `${name}[${i}]`, x, ok, expected);
    return [...v];
  }
  checkNumber(op, name, v, ok, expected);
  return Array.from({ length: n }, () => v as number);
}

/** Number of entries of a sorted array that are <= x (Python's bisect_right). */
export function bisectRight(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < sorted[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Adjusts the learning rate of each parameter group of an optimizer at every
 * step(), as PyTorch's LRScheduler:
 *
 * - On construction with lastEpoch -1, each group gets `initialLr` (its lr, unless
 *   already set); `baseLrs` are the groups' `initialLr`; then one step() is taken,
 *   so lastEpoch becomes 0 and the groups' lr the schedule's first value.
 * - step() advances lastEpoch and writes getLr() into the groups. getLr() is
 *   PyTorch's chainable form: it derives the new lr from the group's current lr,
 *   so schedulers on one optimizer compose ("chaining schedulers"). step(epoch)
 *   jumps to an epoch with the closed form where the scheduler has one.
 *
 * Subclasses set their fields and then call `this.initialStep()` at the end of
 * their constructor (TypeScript runs a subclass's constructor body after the base's).
 */
export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** The groups' initial learning rates. */
  baseLrs: number[];
  /** The epoch (step count) of the schedule; 0 after construction. */
  lastEpoch: number;
  /** Calls to step() since the initial step (PyTorch's _step_count). */
  stepCount = 0;
  /** The learning rates written by the last step(). */
  lastLr: number[] = [];

  constructor(optimizer: AnyOptimizer, lastEpoch = -1) {
    const op = new.target.name;
    checkOptimizer(op, optimizer);
    checkLastEpoch(op, lastEpoch);
    if (lastEpoch === -1) {
      for (const group of optimizer.paramGroups) if (group.initialLr === undefined) group.initialLr = group.lr;
    } else {
      optimizer.paramGroups.forEach((group, i) => {
        if (group.initialLr === undefined) {
          schedulerError(op, `'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer (lastEpoch ${lastEpoch})`, "load the optimizer's state dict first, or start with lastEpoch -1");
        }
      });
    }
    this.optimizer = optimizer;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** The name used in error messages. */
  protected get name(): string {
    return this.constructor.name;
  }

  /** Reset the step count and take the first step (called at the end of subclass constructors). */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The learning rates for the current lastEpoch, from the groups' current ones (the chainable form). */
  abstract getLr(): number[];

  /** The learning rates for lastEpoch from baseLrs alone, where the schedule has a closed form. */
  protected getClosedFormLr?(): number[];

  /**
   * Advance the schedule one step (call after optimizer.step()) and write the
   * new learning rates into the optimizer's groups. With `epoch`, jump to that
   * epoch instead (closed form; PyTorch deprecates this use outside SequentialLR).
   */
  step(epoch?: number): void {
    this.stepCount++;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch++;
      values = this.getLr();
    } else {
      if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0) schedulerError(this.name, `invalid epoch: ${String(epoch)}; expected an integer >= 0`);
      this.lastEpoch = epoch;
      values = this.getClosedFormLr ? this.getClosedFormLr() : this.getLr();
    }
    const groups = this.optimizer.paramGroups;
    groups.forEach((g, i) => {
      g.lr = values[i];
    });
    this.lastLr = groups.map((g) => g.lr);
  }

  /** The learning rates computed by the last step() (a copy). */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's own state (everything but the optimizer), as plain data. */
  stateDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) if (k !== 'optimizer') out[k] = copyPlain(v);
    return out;
  }

  /** Restore a state made by stateDict() of a scheduler of the same kind. */
  loadStateDict(stateDict: Record<string, unknown>): void {
    if (typeof stateDict !== 'object' || stateDict === null || Array.isArray(stateDict)) {
      throw new DLError('ARGUMENT', this.name, `loadStateDict: expected an object made by stateDict(); got ${stateDict === null ? 'null' : Array.isArray(stateDict) ? 'an array' : typeof stateDict}`);
    }
    const own = new Set(Object.keys(this));
    for (const k of Object.keys(stateDict)) {
      if (k === 'optimizer' || !own.has(k)) {
        throw new DLError('ARGUMENT', this.name, `loadStateDict: unknown entry '${k}' for a ${this.name}`, 'load a state dict saved from a scheduler of the same kind');
      }
    }
    for (const [k, v] of Object.entries(stateDict)) (this as unknown as Record<string, unknown>)[k] = copyPlain(v);
  }
}
