/**
 * DataLoader (torch.utils.data.DataLoader): batches of a dataset, in the order its sampler
 * gives, fetched on the main thread or by worker threads.
 *
 * The order of indices is always computed on the main thread, so for a given seed the batches
 * are the same whatever numWorkers is. The random draws are PyTorch's: each iteration (epoch)
 * first draws a 63-bit base seed from the loader's generator, or from the default generator
 * when it has none (worker w seeds its default generator with baseSeed + w); then, with
 * shuffle, the RandomSampler draws its permutation (from the loader's generator, or from a
 * generator seeded by one more draw from the default generator). So after the same
 * manualSeed, `shuffle: true` gives the batches PyTorch's DataLoader gives.
 *
 * Workers: see worker.ts for the worker side and the README for how a dataset reaches a
 * worker (workerSpec()) and how tensors come back (their buffers are transferred, not copied).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Generator, defaultGenerator, scope } from '@dl/tensor';
import { defaultCollate, defaultConvert } from './collate.js';
import type { CollateFn, Collated } from './collate.js';
import { ConcatDataset, Subset, TensorDataset, isIterableDataset, isMapDataset } from './dataset.js';
import type { IterableDatasetLike, MapDataset } from './dataset.js';
import { decodeBatch, importExport, serializeError } from './protocol.js';
import type { FromWorker, ModuleExport, SerializedError, ToWorker, WorkerInit, WorkerSpec, WorkerStats } from './protocol.js';
import { BatchSampler, RandomSampler, SequentialSampler } from './samplers.js';
import type { Sampler } from './samplers.js';

export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1); null: no batching, each sample is yielded on its own (converted with defaultConvert unless collateFn is given, which then gets one sample). */
  batchSize?: number | null;
  /** Reshuffle at every epoch (a RandomSampler on the loader's generator). */
  shuffle?: boolean;
  /** The order of indices (excludes shuffle). */
  sampler?: Sampler;
  /** Lists of indices, one per batch (excludes batchSize, shuffle, sampler and dropLast). */
  batchSampler?: Sampler<readonly number[]>;
  /** Drop the last, incomplete batch. */
  dropLast?: boolean;
  /** Makes a batch of a list of samples (default defaultCollate). With numWorkers > 0 it runs in the workers, so give it as { module, exportName }. */
  collateFn?: CollateFn<T, B> | ModuleExport;
  /** Worker threads fetching batches (default 0: fetch on the main thread, when the consumer asks). */
  numWorkers?: number;
  /** Batches in flight per worker (default 2): up to numWorkers * prefetchFactor are requested ahead. */
  prefetchFactor?: number;
  /** Keep the workers between epochs (until close()). */
  persistentWorkers?: boolean;
  /** Called in each worker, with the worker id, after its dataset is built and its generator seeded. */
  workerInitFn?: ModuleExport;
  /** Generator for shuffling and worker seeds (excludes seed). Default: the default generator, at each iteration. */
  generator?: Generator;
  /** Seed of the loader's own generator, `new Generator(seed)` (excludes generator). */
  seed?: number | bigint;
  /** With workers: fail when a batch takes longer than this many milliseconds (default 0: no limit). */
  timeout?: number;
}

/** An error raised in a worker thread (in getItem, the collate function, or iterating the dataset). */
export class DataLoaderWorkerError extends Error {
  /** The worker (0 .. numWorkers-1). */
  readonly workerId: number;
  readonly phase: 'getItem' | 'collate' | 'iterate' | 'send';
  /** The sample index whose getItem threw (phase 'getItem'). */
  readonly index: number | undefined;
  /** The batch's sample indices (map-style datasets). */
  readonly indices: number[] | number | undefined;
  /** The original error's name, message and stack, as in the worker. */
  readonly workerError: SerializedError;
  constructor(workerId: number, msg: Extract<FromWorker, { type: 'error' }>) {
    const e = msg.error;
    const batch = msg.indices === undefined ? '' : typeof msg.indices === 'number' ? ` (sample index ${msg.indices})` : ` (batch of sample indices [${msg.indices.join(', ')}])`;
    const where =
      msg.phase === 'getItem'
        ? `in getItem for sample index ${msg.index}${batch}`
        : msg.phase === 'collate'
          ? `while collating${batch}`
          : msg.phase === 'iterate'
            ? 'while iterating the dataset'
            : `while sending the batch to the main thread${batch}; a batch must be structured-cloneable (tensors, typed arrays, numbers, strings, arrays, plain objects)`;
    super(`DataLoader worker ${workerId} raised ${e.name} ${where}: ${e.message}\n\nWorker stack:\n${e.stack}`);
    this.name = 'DataLoaderWorkerError';
    this.workerId = workerId;
    this.phase = msg.phase;
    this.index = msg.index;
    this.indices = msg.indices;
    this.workerError = e;
  }
}

// ------------------------------------------------------------------------------------------
// Worker threads

const liveThreads = new Set<number>();

/** Thread ids of DataLoader worker threads that have started and not yet exited (all loaders). */
export function activeWorkerThreadIds(): number[] {
  return [...liveThreads];
}

let entryCache: URL | undefined;

/**
 * The worker entry: dist/worker.js next to the built module (ESM and CJS builds alike). From
 * the TypeScript sources (tests), ../dist/worker.js: build @dl/data first. The environment
 * variable DL_DATA_WORKER_ENTRY (a path or file URL) overrides it, e.g. for bundled apps.
 */
export function workerEntry(): URL {
  const override = process.env.DL_DATA_WORKER_ENTRY;
  if (override) return override.startsWith('file:') ? new URL(override) : pathToFileURL(override);
  if (entryCache) return entryCache;
  const here = import.meta.url;
  const candidates = [new URL('./worker.js', here)];
  if (here.endsWith('.ts')) candidates.push(new URL('../dist/worker.js', here));
  const found = candidates.find((u) => existsSync(fileURLToPath(u)));
  if (!found) {
    throw new Error(
      `DataLoader: cannot find the worker entry (looked for ${candidates.map((u) => fileURLToPath(u)).join(' and ')})\nhint: build @dl/data (pnpm --filter @dl/data build, or turbo run build) or set DL_DATA_WORKER_ENTRY`,
    );
  }
  entryCache = found;
  return found;
}

interface PoolWorker {
  id: number;
  worker: Worker;
  threadId: number;
  alive: boolean;
  exited: Promise<void>;
}

type Reply = Exclude<FromWorker, { type: 'initError' } | { type: 'stats' }> & { workerId: number };

/** A set of worker threads serving one loader; one iteration (epoch) at a time. */
class WorkerPool {
  readonly workers: PoolWorker[] = [];
  epoch: number;
  fatal: Error | null = null;
  private readonly results = new Map<number, Reply>();
  /** seq -> [worker, indices] of requests not yet answered (for error messages). */
  private readonly pending = new Map<number, { workerId: number; indices: number[] | number | undefined }>();
  private waiter: (() => void) | null = null;
  private readonly statsWaiters = new Map<number, (s: WorkerStats | null) => void>();
  private closing: Promise<void> | null = null;

  constructor(entry: URL, base: Omit<WorkerInit, 'id' | 'seed' | 'epoch'>, epoch: number, baseSeed: bigint) {
    this.epoch = epoch;
    try {
      for (let id = 0; id < base.numWorkers; id++) {
        const init: WorkerInit = { ...base, id, epoch, seed: baseSeed + BigInt(id) };
        const worker = new Worker(entry, { workerData: init });
        const pw: PoolWorker = { id, worker, threadId: worker.threadId, alive: true, exited: Promise.resolve() };
        liveThreads.add(pw.threadId);
        pw.exited = new Promise<void>((resolve) => {
          worker.once('exit', (code) => {
            pw.alive = false;
            liveThreads.delete(pw.threadId);
            this.statsWaiters.get(id)?.(null);
            if (!this.closing) this.fail(new Error(`DataLoader worker ${id} (thread ${pw.threadId}) exited unexpectedly with exit code ${code}${this.pendingOf(id)}`));
            resolve();
          });
        });
        worker.on('message', (m: FromWorker) => this.onMessage(pw, m));
        worker.on('error', (e: Error) => {
          const s = serializeError(e);
          this.fail(new Error(`DataLoader worker ${id} (thread ${pw.threadId}) crashed with ${s.name}: ${s.message}${this.pendingOf(id)}\n\nWorker stack:\n${s.stack}`));
        });
        this.workers.push(pw);
      }
      this.setIdle(true);
    } catch (e) {
      void this.close();
      const s = serializeError(e);
      throw new Error(`DataLoader: could not start a worker thread: ${s.message}${s.name === 'DataCloneError' ? '\nhint: workerSpec().args must be structured-cloneable (numbers, strings, arrays, plain objects, typed arrays)' : ''}`);
    }
  }

  private pendingOf(workerId: number): string {
    const mine = [...this.pending.values()].filter((p) => p.workerId === workerId && p.indices !== undefined);
    if (mine.length === 0) return '';
    return ` while fetching sample indices ${mine.map((p) => (typeof p.indices === 'number' ? `${p.indices}` : `[${(p.indices as number[]).join(', ')}]`)).join(', ')}`;
  }

  private onMessage(pw: PoolWorker, m: FromWorker): void {
    if (m.type === 'initError') {
      this.fail(new Error(`DataLoader worker ${pw.id} failed to start: ${m.error.name}: ${m.error.message}\n\nWorker stack:\n${m.error.stack}`));
    } else if (m.type === 'stats') {
      this.statsWaiters.get(pw.id)?.(m.stats);
    } else if (m.epoch === this.epoch) {
      this.pending.delete(m.seq);
      this.results.set(m.seq, { ...m, workerId: pw.id });
      this.wake();
    }
  }

  private fail(e: Error): void {
    this.fatal ??= e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  send(workerId: number, msg: ToWorker): void {
    if (msg.type === 'batch' || msg.type === 'next') this.pending.set(msg.seq, { workerId, indices: msg.type === 'batch' ? msg.indices : undefined });
    this.workers[workerId].worker.postMessage(msg);
  }

  /** Start another epoch on these (persistent) workers: new seeds, forget the previous epoch. */
  nextEpoch(baseSeed: bigint): void {
    this.epoch++;
    this.results.clear();
    this.pending.clear();
    this.wake(); // a superseded iteration still waiting sees the new epoch and stops
    for (const w of this.workers) w.worker.postMessage({ type: 'epoch', epoch: this.epoch, seed: baseSeed + BigInt(w.id) } satisfies ToWorker);
  }

  /**
   * Workers keep the process alive only while the loader waits for them: idle persistent
   * workers, or those of an iterator that was dropped without return(), do not.
   */
  setIdle(idle: boolean): void {
    for (const w of this.workers) {
      if (idle) w.worker.unref();
      else w.worker.ref();
    }
  }

  async waitFor(seq: number, epoch: number, timeoutMs: number): Promise<Reply> {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.epoch !== epoch) throw new Error('DataLoader: this iteration was superseded by a newer one (a loader with persistentWorkers runs one iteration at a time)');
      const r = this.results.get(seq);
      if (r) {
        this.results.delete(seq);
        return r;
      }
      let timer: NodeJS.Timeout | undefined;
      this.setIdle(false);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        if (deadline !== Infinity) {
          timer = setTimeout(() => {
            const p = this.pending.get(seq);
            this.fail(new Error(`DataLoader timed out after ${timeoutMs} ms waiting for a batch from worker ${p?.workerId ?? '?'}${p ? this.pendingOf(p.workerId) : ''}`));
          }, Math.max(0, deadline - Date.now()));
        }
      });
      clearTimeout(timer);
      this.setIdle(true);
    }
  }

  async stats(): Promise<WorkerStats[]> {
    this.setIdle(false);
    const got = await Promise.all(
      this.workers.map((w) => {
        if (!w.alive) return null;
        return new Promise<WorkerStats | null>((resolve) => {
          this.statsWaiters.set(w.id, (s) => {
            this.statsWaiters.delete(w.id);
            resolve(s);
          });
          w.worker.postMessage({ type: 'stats' } satisfies ToWorker);
        });
      }),
    );
    this.setIdle(true);
    return got.filter((s): s is WorkerStats => s !== null);
  }

  /** Terminate the workers; resolves once every thread has exited. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.fail(new Error('DataLoader: the workers were shut down'));
      await Promise.all(
        this.workers.map(async (w) => {
          if (w.alive) await w.worker.terminate();
          await w.exited;
        }),
      );
    })();
    return this.closing;
  }
}

// ------------------------------------------------------------------------------------------
// DataLoader

function isModuleExport(v: unknown): v is ModuleExport {
  return typeof v === 'object' && v !== null && typeof (v as ModuleExport).module === 'string' && typeof (v as ModuleExport).exportName === 'string';
}

function intOption(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new TypeError(`DataLoader: ${name} must be an integer >= ${min}; got ${String(v)}`);
  return v;
}

function lengthOf(what: string, s: { length?: number }): number {
  const n = s.length;
  if (typeof n !== 'number') throw new TypeError(`DataLoader: the ${what} has no length, so the number of batches is unknown`);
  return n;
}

const MAIN_BUILTINS: Record<string, unknown> = { TensorDataset, Subset, ConcatDataset, defaultCollate, defaultConvert };

/**
 * Batches of a dataset: `for await (const batch of loader)`. Each iteration is an epoch.
 *
 * Every batch is a fresh set of tensors the consumer owns: dispose them when done (a batch is
 * made by the loop's next(), so a `scope()` around the training step frees what the step makes
 * but not the batch; a `scope()` around the whole loop frees the batches at its end).
 * Breaking out of the loop early shuts non-persistent workers down (the iterator's return());
 * `close()` (or Symbol.asyncDispose) ends persistent ones.
 */
export class DataLoader<T = unknown, B = Collated<T>> implements AsyncIterable<B> {
  readonly dataset: MapDataset<T> | IterableDatasetLike<T>;
  readonly batchSize: number | null;
  readonly dropLast: boolean;
  readonly numWorkers: number;
  readonly prefetchFactor: number;
  readonly persistentWorkers: boolean;
  readonly timeout: number;
  /** The loader's generator for shuffling and worker seeds; undefined: the default generator (PyTorch's generator=None). */
  readonly generator: Generator | undefined;
  /** The index sampler (undefined for iterable datasets). */
  readonly sampler: Sampler | undefined;
  /** The batch sampler (undefined for iterable datasets and when batchSize is null). */
  readonly batchSampler: Sampler<readonly number[]> | undefined;
  readonly collateFn: CollateFn<T, B> | ModuleExport | undefined;
  readonly workerInitFn: ModuleExport | undefined;
  private readonly iterable: boolean;
  /** The persistent pool, kept between epochs. */
  private pool: WorkerPool | null = null;
  /** Every pool running (one per active iteration without persistentWorkers). */
  private readonly pools = new Set<WorkerPool>();
  private epochs = 0;

  constructor(dataset: MapDataset<T> | IterableDatasetLike<T>, opts: DataLoaderOptions<T, B> = {}) {
    const o = opts;
    if (isMapDataset(dataset)) this.iterable = false;
    else if (isIterableDataset(dataset)) this.iterable = true;
    else throw new TypeError('DataLoader: dataset must be a map-style dataset (getItem and length) or an iterable dataset');
    this.dataset = dataset;

    this.numWorkers = intOption('numWorkers', o.numWorkers ?? 0, 0);
    this.prefetchFactor = intOption('prefetchFactor', o.prefetchFactor ?? 2, 1);
    this.timeout = o.timeout === undefined ? 0 : intOption('timeout', o.timeout, 0);
    this.persistentWorkers = o.persistentWorkers ?? false;
    if (this.persistentWorkers && this.numWorkers === 0) throw new TypeError('DataLoader: persistentWorkers needs numWorkers > 0');
    if (o.generator !== undefined && o.seed !== undefined) throw new TypeError('DataLoader: give generator or seed, not both');
    if (o.generator !== undefined && !(o.generator instanceof Generator)) throw new TypeError('DataLoader: generator must be a Generator of @dl/tensor');
    this.generator = o.generator ?? (o.seed === undefined ? undefined : new Generator(o.seed));

    if (o.batchSampler !== undefined && (o.batchSize !== undefined || o.shuffle || o.sampler !== undefined || o.dropLast)) {
      throw new TypeError('DataLoader: batchSampler is mutually exclusive with batchSize, shuffle, sampler and dropLast');
    }
    if (o.sampler !== undefined && o.shuffle) throw new TypeError('DataLoader: sampler is mutually exclusive with shuffle');
    const batchSize = o.batchSampler !== undefined ? null : o.batchSize === undefined ? 1 : o.batchSize;
    if (batchSize !== null) intOption('batchSize', batchSize, 1);
    if (o.batchSize === null && o.dropLast) throw new TypeError('DataLoader: dropLast needs a batchSize (batchSize is null)');
    this.batchSize = o.batchSampler !== undefined ? null : batchSize;
    this.dropLast = o.dropLast ?? false;

    if (this.iterable) {
      if (o.shuffle) throw new TypeError('DataLoader: shuffle is not supported with an iterable dataset (shuffle inside the dataset)');
      if (o.sampler !== undefined || o.batchSampler !== undefined) throw new TypeError('DataLoader: an iterable dataset takes no sampler or batchSampler');
      this.sampler = undefined;
      this.batchSampler = undefined;
    } else {
      const ds = dataset as MapDataset<T>;
      this.sampler = o.sampler ?? (o.shuffle ? new RandomSampler(ds, { generator: this.generator }) : new SequentialSampler(ds));
      this.batchSampler = o.batchSampler ?? (batchSize === null ? undefined : new BatchSampler(this.sampler, batchSize, this.dropLast));
    }

    if (o.collateFn !== undefined && typeof o.collateFn !== 'function' && !isModuleExport(o.collateFn)) {
      throw new TypeError('DataLoader: collateFn must be a function or { module, exportName }');
    }
    this.collateFn = o.collateFn;
    if (o.workerInitFn !== undefined && !isModuleExport(o.workerInitFn)) {
      throw new TypeError('DataLoader: workerInitFn must be { module, exportName } (it runs in the worker threads)');
    }
    this.workerInitFn = o.workerInitFn;

    if (this.numWorkers > 0) {
      if (typeof dataset.workerSpec !== 'function') {
        const name = (dataset as object).constructor?.name ?? 'the dataset';
        throw new TypeError(
          `DataLoader: numWorkers is ${this.numWorkers} but the dataset (${name}) has no workerSpec() method. A JS object cannot cross threads: each worker thread rebuilds the dataset from an ES module.` +
            `\nhint: add to ${name}: workerSpec() { return { module: import.meta.url /* the ES module that exports the class */, exportName: '${name}', args: [/* structured-cloneable constructor arguments */] }; }, or use numWorkers: 0`,
        );
      }
      if (typeof o.collateFn === 'function') {
        throw new TypeError(
          'DataLoader: with numWorkers > 0 the collate function runs in the worker threads, and a function cannot cross threads\nhint: export it from an ES module and pass collateFn: { module: <absolute path or file URL>, exportName: <its name> }',
        );
      }
    }
  }

  /** Batches per epoch (samples, when batchSize is null). */
  get length(): number {
    if (this.iterable) {
      const n = lengthOf('iterable dataset', this.dataset as { length?: number });
      if (this.batchSize === null) return n;
      return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
    }
    if (this.batchSampler) return lengthOf('batchSampler', this.batchSampler);
    return lengthOf('sampler', this.sampler as Sampler);
  }

  /** One epoch: a new order of indices (when shuffling) and new worker seeds. */
  [Symbol.asyncIterator](): AsyncGenerator<B, void, undefined> {
    return this.iterate();
  }

  /**
   * Terminate the worker threads: the persistent ones, and those of iterations still running
   * (which then fail). Resolves once every thread has exited.
   */
  async close(): Promise<void> {
    this.pool = null;
    const pools = [...this.pools];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Counters of the persistent workers (none when no workers are running): batches sent,
   * buffers transferred and found detached right after postMessage (zero-copy), and copies.
   */
  async workerStats(): Promise<WorkerStats[]> {
    return this.pool ? this.pool.stats() : [];
  }

  private async *iterate(): AsyncGenerator<B, void, undefined> {
    // Drawn whatever numWorkers is, so that the sampler's draws that follow are the same.
    const baseSeed = (this.generator ?? defaultGenerator).nextInt64();
    this.epochs++;
    if (this.numWorkers === 0) yield* this.mainEpoch();
    else yield* this.workerEpoch(baseSeed);
  }

  /** Sample indices per request: lists of indices, or single indices when batchSize is null. */
  private requests(): Iterator<readonly number[] | number> {
    return (this.batchSampler ?? (this.sampler as Sampler))[Symbol.iterator]();
  }

  private async mainCollate(): Promise<(x: unknown) => unknown> {
    const single = this.batchSize === null && this.batchSampler === undefined;
    const c = this.collateFn;
    if (c === undefined) return single ? defaultConvert : (defaultCollate as (x: unknown) => unknown);
    if (typeof c === 'function') return c as (x: unknown) => unknown;
    const fn = await importExport(c, MAIN_BUILTINS, 'collateFn');
    if (typeof fn !== 'function') throw new TypeError(`DataLoader: collateFn: the export '${c.exportName}' of ${c.module} is not a function`);
    return fn as (x: unknown) => unknown;
  }

  private async *mainEpoch(): AsyncGenerator<B, void, undefined> {
    const collate = await this.mainCollate();
    if (this.iterable) {
      yield* this.mainIterable(collate);
      return;
    }
    const ds = this.dataset as MapDataset<T>;
    const it = this.requests();
    try {
      for (;;) {
        const r = it.next();
        if (r.done) return;
        const req = r.value;
        // scope(): tensors made by getItem and collate that are not in the batch are freed.
        yield await scope(async () => {
          if (typeof req === 'number') return (await collate(await ds.getItem(req))) as B;
          const pending = req.map((i) => ds.getItem(i));
          return (await collate(await Promise.all(pending))) as B;
        });
      }
    } finally {
      it.return?.();
    }
  }

  private async *mainIterable(collate: (x: unknown) => unknown): AsyncGenerator<B, void, undefined> {
    const ds = this.dataset as unknown as Record<symbol, () => Iterator<T> | AsyncIterator<T>>;
    const it = typeof ds[Symbol.asyncIterator] === 'function' ? ds[Symbol.asyncIterator]() : ds[Symbol.iterator]();
    const want = this.batchSize ?? 1;
    let done = false;
    try {
      while (!done) {
        const batch = await scope(async () => {
          const samples: T[] = [];
          while (samples.length < want) {
            const r = await it.next();
            if (r.done) {
              done = true;
              break;
            }
            samples.push(r.value);
          }
          if (samples.length === 0 || (this.batchSize !== null && this.dropLast && samples.length < this.batchSize)) return undefined;
          return { batch: (await collate(this.batchSize === null ? samples[0] : samples)) as B };
        });
        if (batch === undefined) return;
        yield batch.batch;
      }
    } finally {
      if (!done) await it.return?.();
    }
  }

  private createPool(baseSeed: bigint): WorkerPool {
    let spec: WorkerSpec;
    try {
      spec = (this.dataset.workerSpec as () => WorkerSpec).call(this.dataset);
    } catch (e) {
      const s = serializeError(e);
      throw new TypeError(`DataLoader: numWorkers > 0 needs a dataset that worker threads can rebuild, but its workerSpec() failed: ${s.message}`);
    }
    const entry = workerEntry();
    return new WorkerPool(
      entry,
      {
        $dlDataWorker: 1,
        numWorkers: this.numWorkers,
        mode: this.iterable ? 'iterable' : 'map',
        dataset: spec,
        collate: (this.collateFn as ModuleExport | undefined) ?? null,
        workerInitFn: this.workerInitFn ?? null,
        batchSize: this.batchSize,
        dropLast: this.dropLast,
      },
      this.epochs,
      baseSeed,
    );
  }

  private async *workerEpoch(baseSeed: bigint): AsyncGenerator<B, void, undefined> {
    let pool = this.pool;
    if (pool && !pool.fatal) {
      pool.nextEpoch(baseSeed);
    } else {
      if (pool) {
        this.pool = null;
        this.pools.delete(pool);
        await pool.close();
      }
      pool = this.createPool(baseSeed);
      this.pools.add(pool);
      if (this.persistentWorkers) this.pool = pool;
    }
    const epoch = pool.epoch;
    try {
      if (this.iterable) yield* this.iterableRequests(pool, epoch);
      else yield* this.mapRequests(pool, epoch);
    } finally {
      if (!this.persistentWorkers || pool.fatal) {
        if (this.pool === pool) this.pool = null;
        this.pools.delete(pool);
        await pool.close();
      }
    }
  }

  private async *mapRequests(pool: WorkerPool, epoch: number): AsyncGenerator<B, void, undefined> {
    const source = this.requests();
    const maxInFlight = this.numWorkers * this.prefetchFactor;
    let sent = 0;
    let next = 0;
    let exhausted = false;
    const fill = (): void => {
      while (!exhausted && sent - next < maxInFlight) {
        const r = source.next();
        if (r.done) {
          exhausted = true;
          return;
        }
        const indices = typeof r.value === 'number' ? r.value : [...r.value];
        pool.send(sent % this.numWorkers, { type: 'batch', epoch, seq: sent, indices });
        sent++;
      }
    };
    try {
      fill();
      while (next < sent) {
        const reply = await pool.waitFor(next, epoch, this.timeout);
        next++;
        if (reply.type === 'error') throw new DataLoaderWorkerError(reply.workerId, reply);
        fill();
        if (reply.type === 'batch') yield decodeBatch(reply.data) as B;
      }
    } finally {
      source.return?.();
    }
  }

  private async *iterableRequests(pool: WorkerPool, epoch: number): AsyncGenerator<B, void, undefined> {
    const n = this.numWorkers;
    const maxInFlight = n * this.prefetchFactor;
    const active = new Set(Array.from({ length: n }, (_, i) => i));
    let cycle = 0;
    let sent = 0;
    let next = 0;
    const fill = (): void => {
      while (active.size > 0 && sent - next < maxInFlight) {
        // The next active worker in round-robin order.
        let w = -1;
        for (let k = 0; k < n && w < 0; k++) {
          const c = cycle++ % n;
          if (active.has(c)) w = c;
        }
        pool.send(w, { type: 'next', epoch, seq: sent });
        sent++;
      }
    };
    for (;;) {
      fill();
      if (next === sent) return;
      const reply = await pool.waitFor(next, epoch, this.timeout);
      next++;
      if (reply.type === 'error') throw new DataLoaderWorkerError(reply.workerId, reply);
      if (reply.type === 'done') {
        active.delete(reply.workerId);
        continue;
      }
      yield decodeBatch(reply.data) as B;
    }
  }
}
