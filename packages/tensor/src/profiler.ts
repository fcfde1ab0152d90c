/**
 * profile (torch.profiler.profile): times every op that goes through the dispatch point while a
 * function runs, the ops of backward() and of optimizer steps included, and sums them per op
 * (keyAverages / table, as PyTorch's prof.key_averages().table()).
 *
 * It is a dispatch layer: installed on the first profile(), it only counts a call while a profile
 * is active. An op's time runs from dispatch to its outputs: the kernel, allocating the outputs
 * and recording the autograd graph. Ops that an op runs inside itself count toward the outer op.
 * On CUDA, kernels run asynchronously, so an op's time is the host's cost of issuing it unless
 * `synchronize: true` waits for each op to finish (which removes the overlap it measures).
 */
import { cuda } from './backend/cuda/runtime.js';
import { type Next, type OpCall, registerDispatchLayer } from './dispatch.js';
import { fail, fmtShape } from './errors.js';

export interface ProfileEvent {
  readonly op: string;
  /** The input shapes, e.g. '[32, 65, 192], [192]'. */
  readonly inputShapes: string;
  readonly device: string;
  readonly ms: number;
}

export interface ProfileRow {
  readonly op: string;
  /** Set when grouped by input shape. */
  readonly inputShapes?: string;
  readonly calls: number;
  readonly totalMs: number;
  readonly meanMs: number;
  /** Share of the summed op time. */
  readonly percent: number;
}

export interface ProfileOptions {
  /** Wait for each CUDA op to finish before timing it (default false). */
  synchronize?: boolean;
}

export type ProfileSortKey = 'totalMs' | 'calls' | 'meanMs';

export interface ProfileTableOptions {
  sortBy?: ProfileSortKey;
  /** Rows shown (default 20; Infinity for all). */
  rowLimit?: number;
  /** One row per op and input shapes (PyTorch's group_by_input_shape). */
  groupByInputShape?: boolean;
}

/** What profile() returns: the events, the function's result and its wall time. */
export class Profile<T = unknown> {
  constructor(
    readonly result: T,
    readonly events: readonly ProfileEvent[],
    /** Wall time of the whole function. */
    readonly wallMs: number,
  ) {}

  /** The summed time of every op (less than wallMs by the host time between ops). */
  get opMs(): number {
    return this.events.reduce((a, e) => a + e.ms, 0);
  }

  /** Per op (and input shapes, if asked): calls, total and mean time, sorted by total time. */
  keyAverages(opts: { groupByInputShape?: boolean } = {}): ProfileRow[] {
    const groups = new Map<string, { op: string; inputShapes?: string; calls: number; totalMs: number }>();
    for (const e of this.events) {
      const key = opts.groupByInputShape ? `${e.op}\u0000${e.inputShapes}` : e.op;
      let g = groups.get(key);
      if (!g) {
        g = { op: e.op, inputShapes: opts.groupByInputShape ? e.inputShapes : undefined, calls: 0, totalMs: 0 };
        groups.set(key, g);
      }
      g.calls++;
      g.totalMs += e.ms;
    }
    const total = this.opMs;
    return [...groups.values()]
      .map((g) => ({ ...g, meanMs: g.totalMs / g.calls, percent: total > 0 ? (100 * g.totalMs) / total : 0 }))
      .sort((a, b) => b.totalMs - a.totalMs);
  }

  /** keyAverages() as a text table, with the totals underneath. */
  table(opts: ProfileTableOptions = {}): string {
    const sortBy = opts.sortBy ?? 'totalMs';
    if (!['totalMs', 'calls', 'meanMs'].includes(sortBy)) fail('ARGUMENT', 'Profile.table', `sortBy must be 'totalMs', 'calls' or 'meanMs'; got ${JSON.stringify(sortBy)}`);
    const rows = this.keyAverages(opts)
      .sort((a, b) => b[sortBy] - a[sortBy])
      .slice(0, opts.rowLimit ?? 20);
    const head = ['op', ...(opts.groupByInputShape ? ['input shapes'] : []), 'calls', 'total ms', 'mean ms', '% of ops'];
    const body = rows.map((r) => [r.op, ...(opts.groupByInputShape ? [r.inputShapes ?? ''] : []), String(r.calls), r.totalMs.toFixed(3), r.meanMs.toFixed(4), r.percent.toFixed(1)]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
    const textCols = opts.groupByInputShape ? 2 : 1;
    const line = (cells: string[]) => cells.map((c, i) => (i < textCols ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    return [line(head), ...body.map(line), `${this.events.length} ops in ${this.opMs.toFixed(3)} ms; ${this.wallMs.toFixed(3)} ms wall`].join('\n');
  }
}

const active = new Set<ProfileEvent[]>();
let synchronizing = 0;
let depth = 0;
let installed = false;

function profileLayer(call: OpCall, next: Next) {
  if (active.size === 0 || depth > 0) return next(call);
  depth++;
  const t0 = performance.now();
  try {
    const outs = next(call);
    if (synchronizing > 0 && call.device.startsWith('cuda')) cuda.synchronize();
    const event: ProfileEvent = { op: call.op, inputShapes: call.inputs.map((t) => fmtShape(t.shape)).join(', '), device: call.device, ms: performance.now() - t0 };
    for (const events of active) events.push(event);
    return outs;
  } finally {
    depth--;
  }
}

/**
 * Run `fn` and time the ops it dispatches (see the file comment). An async `fn` is profiled until
 * its promise settles; ops of other code running meanwhile count too. Profiles may nest.
 */
export function profile<T>(fn: () => Promise<T>, opts?: ProfileOptions): Promise<Profile<T>>;
export function profile<T>(fn: () => T, opts?: ProfileOptions): Profile<T>;
export function profile<T>(fn: () => T | Promise<T>, opts: ProfileOptions = {}): Profile<T> | Promise<Profile<T>> {
  if (typeof fn !== 'function') fail('ARGUMENT', 'profile', `expected a function to run; got ${typeof fn}`);
  if (!installed) {
    registerDispatchLayer(profileLayer);
    installed = true;
  }
  const events: ProfileEvent[] = [];
  const sync = opts.synchronize === true;
  active.add(events);
  if (sync) synchronizing++;
  const t0 = performance.now();
  const end = () => {
    active.delete(events);
    if (sync) synchronizing--;
    return performance.now() - t0;
  };
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (e) {
    end();
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => new Profile(r, events, end()),
      (e) => {
        end();
        throw e;
      },
    );
  }
  return new Profile(result, events, end());
}
