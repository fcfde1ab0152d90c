/**
 * The entry of a DataLoader worker thread (built as dist/worker.js; the main entry never
 * imports it). The worker rebuilds the dataset from its WorkerSpec, seeds the default
 * generator of @dl/tensor with its seed, runs workerInitFn, then serves requests one at a
 * time, in the order they arrive: fetch the samples, collate them, and post the batch back
 * with the tensors' buffers in the transfer list.
 */
import { isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { manualSeed, scope, tensor } from '@dl/tensor';
import type { DType, Tensor, TypedArray } from '@dl/tensor';
import { defaultCollate, defaultConvert } from './collate.js';
import { ConcatDataset, Subset, TensorDataset } from './dataset.js';
import type { MapDataset } from './dataset.js';
import { collectTensors, importExport, isPlainObject, isTensor, serializeError, setWorkerInfo } from './protocol.js';
import type { FromWorker, TensorDescriptor, ToWorker, WorkerInfo, WorkerInit, WorkerSpec, WorkerStats } from './protocol.js';

/** What the module name '@dl/data' gives a worker (its own bundled copies). */
const BUILTINS: Record<string, unknown> = { TensorDataset, Subset, ConcatDataset, defaultCollate, defaultConvert };

async function rebuildArg(v: unknown): Promise<unknown> {
  if (Array.isArray(v)) return Promise.all(v.map(rebuildArg));
  if (!isPlainObject(v)) return v;
  if ('$dlDataset' in v) return buildDataset(v.$dlDataset as WorkerSpec);
  if ('$dlTensor' in v) {
    const { dtype, shape, data } = v.$dlTensor as { dtype: DType; shape: number[]; data: TypedArray };
    return tensor(data, { shape, dtype, copy: false });
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = await rebuildArg(x);
  return out;
}

async function buildDataset(spec: WorkerSpec): Promise<unknown> {
  if (!isPlainObject(spec) || typeof spec.module !== 'string' || typeof spec.exportName !== 'string' || !Array.isArray(spec.args)) {
    throw new TypeError(`workerSpec() must return { module, exportName, args: [] }; got ${JSON.stringify(spec)}`);
  }
  const Ctor = await importExport(spec, BUILTINS, 'workerSpec()');
  if (typeof Ctor !== 'function') throw new TypeError(`workerSpec(): the export '${spec.exportName}' of ${spec.module} is not a class (got ${typeof Ctor})`);
  const args = (await rebuildArg(spec.args)) as unknown[];
  return new (Ctor as new (...a: unknown[]) => unknown)(...args);
}

/** Errors that say which part of a request failed. */
class RequestFailure {
  constructor(
    readonly phase: 'getItem' | 'collate' | 'iterate',
    readonly cause: unknown,
    readonly index?: number,
  ) {}
}

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

/**
 * A collated batch and the buffers its samples hold: those may belong to the dataset, so a
 * batch tensor on one of them is copied rather than moved. (A Set, which scope() does not
 * search for tensors to keep: the samples themselves are freed with the scope.)
 */
interface Fetched {
  data: unknown;
  sampleBuffers: Set<ArrayBufferLike>;
}

function fetched(data: unknown, samples: unknown[]): Fetched {
  const sampleBuffers = new Set<ArrayBufferLike>();
  collectBuffers(samples, sampleBuffers);
  return { data, sampleBuffers };
}

class WorkerLoop {
  private dataset: unknown = null;
  private collate: ((x: unknown) => unknown) | null = null;
  private info: WorkerInfo;
  private ok = false;
  private iter: AnyIterator | null = null;
  private iterDone = false;
  private readonly stats: WorkerStats;

  constructor(
    private readonly init: WorkerInit,
    private readonly port: MessagePort,
  ) {
    this.info = { id: init.id, numWorkers: init.numWorkers, seed: init.seed, dataset: null };
    this.stats = { id: init.id, threadId, batches: 0, transferredBuffers: 0, transferredBytes: 0, detachedAfterPost: 0, copiedBuffers: 0 };
  }

  private post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(msg, transfer);
  }

  async setup(): Promise<void> {
    const init = this.init;
    try {
      setWorkerInfo(this.info);
      manualSeed(init.seed);
      this.dataset = await buildDataset(init.dataset);
      this.info.dataset = this.dataset;
      const d = this.dataset as Record<string | symbol, unknown>;
      if (init.mode === 'map' && typeof d.getItem !== 'function') {
        throw new TypeError(`the dataset built from ${init.dataset.module} (${init.dataset.exportName}) has no getItem method`);
      }
      if (init.mode === 'iterable' && typeof d[Symbol.asyncIterator] !== 'function' && typeof d[Symbol.iterator] !== 'function') {
        throw new TypeError(`the dataset built from ${init.dataset.module} (${init.dataset.exportName}) is not iterable`);
      }
      if (init.collate) {
        const fn = await importExport(init.collate, BUILTINS, 'collateFn');
        if (typeof fn !== 'function') throw new TypeError(`collateFn: the export '${init.collate.exportName}' of ${init.collate.module} is not a function`);
        this.collate = fn as (x: unknown) => unknown;
      }
      if (init.workerInitFn) {
        const fn = await importExport(init.workerInitFn, BUILTINS, 'workerInitFn');
        if (typeof fn !== 'function') throw new TypeError(`workerInitFn: the export '${init.workerInitFn.exportName}' of ${init.workerInitFn.module} is not a function`);
        await fn(init.id);
      }
      this.ok = true;
    } catch (e) {
      this.post({ type: 'initError', error: serializeError(e) });
    }
  }

  async handle(msg: ToWorker): Promise<void> {
    if (!this.ok) return; // the main thread already got an initError and stops
    switch (msg.type) {
      case 'epoch':
        this.info.seed = msg.seed;
        manualSeed(msg.seed);
        if (this.iter) {
          const old = this.iter;
          this.iter = null;
          try {
            await old.return?.();
          } catch {
            // a failing cleanup of the previous epoch's iterator does not stop the new epoch
          }
        }
        this.iterDone = false;
        return;
      case 'batch':
        return this.serve(msg.epoch, msg.seq, msg.indices, () => this.fetchMap(msg.indices));
      case 'next':
        return this.serve(msg.epoch, msg.seq, undefined, () => this.fetchNext());
      case 'stats':
        this.post({ type: 'stats', stats: { ...this.stats } });
        return;
    }
  }

  private async serve(epoch: number, seq: number, indices: number[] | number | undefined, fetch: () => Promise<Fetched | null>): Promise<void> {
    // Inside scope(): tensors made while fetching and collating that are not in the batch are freed.
    let got: Fetched | null;
    try {
      got = await scope(fetch);
    } catch (e) {
      const f = e instanceof RequestFailure ? e : new RequestFailure('collate', e);
      this.post({ type: 'error', epoch, seq, phase: f.phase, error: serializeError(f.cause), index: f.index, indices });
      return;
    }
    if (got === null) {
      this.post({ type: 'done', epoch, seq });
      return;
    }
    const transfer: ArrayBuffer[] = [];
    const moved: Tensor[] = [];
    let data: unknown;
    try {
      data = this.encode(got.data, transfer, got.sampleBuffers, moved);
      const sizes = transfer.map((b) => b.byteLength);
      this.post({ type: 'batch', epoch, seq, data }, transfer);
      this.stats.batches++;
      transfer.forEach((b, i) => {
        this.stats.transferredBuffers++;
        this.stats.transferredBytes += sizes[i];
        if (isDetached(b, sizes[i])) this.stats.detachedAfterPost++;
      });
    } catch (e) {
      this.post({ type: 'error', epoch, seq, phase: 'send', error: serializeError(e), indices });
      return;
    }
    // The moved tensors' buffers now belong to the main thread.
    for (const t of moved) t.dispose();
  }

  private async fetchMap(indices: number[] | number): Promise<Fetched> {
    const ds = this.dataset as MapDataset<unknown>;
    const list = typeof indices === 'number' ? [indices] : indices;
    const pending = list.map((i) => {
      try {
        return ds.getItem(i);
      } catch (e) {
        throw new RequestFailure('getItem', e, i);
      }
    });
    const samples = await Promise.all(
      pending.map((p, k) =>
        Promise.resolve(p).catch((e: unknown) => {
          throw new RequestFailure('getItem', e, list[k]);
        }),
      ),
    );
    return fetched(await this.collateSamples(samples, typeof indices === 'number'), samples);
  }

  private async fetchNext(): Promise<Fetched | null> {
    const { batchSize, dropLast } = this.init;
    const want = batchSize ?? 1;
    const samples: unknown[] = [];
    try {
      if (!this.iter) {
        const d = this.dataset as Record<symbol, () => AnyIterator>;
        this.iter = typeof d[Symbol.asyncIterator] === 'function' ? d[Symbol.asyncIterator]() : d[Symbol.iterator]();
        this.iterDone = false;
      }
      while (!this.iterDone && samples.length < want) {
        const r = await this.iter.next();
        if (r.done) this.iterDone = true;
        else samples.push(r.value);
      }
    } catch (e) {
      throw new RequestFailure('iterate', e);
    }
    if (samples.length === 0 || (batchSize !== null && dropLast && samples.length < batchSize)) return null;
    return fetched(await this.collateSamples(samples, batchSize === null), samples);
  }

  private async collateSamples(samples: unknown[], single: boolean): Promise<unknown> {
    try {
      if (single) return this.collate ? await this.collate(samples[0]) : defaultConvert(samples[0]);
      return this.collate ? await this.collate(samples) : defaultCollate(samples);
    } catch (e) {
      throw new RequestFailure('collate', e);
    }
  }

  /** Tensors -> descriptors whose buffers go in the transfer list (moved when the tensor owns its buffer, else copied first). */
  private encode(v: unknown, transfer: ArrayBuffer[], sampleBuffers: Set<ArrayBufferLike>, moved: Tensor[]): unknown {
    if (isTensor(v)) {
      const buf = v.storage.buf;
      const own =
        ArrayBuffer.isView(buf) &&
        buf.buffer instanceof ArrayBuffer &&
        v.isContiguous() &&
        v.offset === 0 &&
        v.storage.numel === v.numel &&
        buf.byteOffset === 0 &&
        buf.byteLength === buf.buffer.byteLength &&
        !sampleBuffers.has(buf.buffer) &&
        !transfer.includes(buf.buffer);
      let buffer: ArrayBuffer;
      if (own) {
        buffer = (buf as TypedArray).buffer as ArrayBuffer;
        moved.push(v);
      } else {
        buffer = v.dataSync().buffer as ArrayBuffer;
        this.stats.copiedBuffers++;
      }
      transfer.push(buffer);
      const d: TensorDescriptor = { $dlTensor: 1, dtype: v.dtype, shape: [...v.shape], buffer };
      return d;
    }
    if (Array.isArray(v)) return v.map((x) => this.encode(x, transfer, sampleBuffers, moved));
    if (isPlainObject(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.encode(x, transfer, sampleBuffers, moved);
      return out;
    }
    return v;
  }
}

function collectBuffers(v: unknown, out: Set<ArrayBufferLike>): void {
  for (const t of collectTensors(v, new Set())) {
    const buf = t.storage.buf;
    if (ArrayBuffer.isView(buf)) out.add(buf.buffer);
  }
  const walk = (x: unknown): void => {
    if (ArrayBuffer.isView(x)) out.add(x.buffer);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (isPlainObject(x)) Object.values(x).forEach(walk);
  };
  walk(v);
}

function isDetached(b: ArrayBuffer, sizeBefore: number): boolean {
  const detached = (b as { detached?: boolean }).detached;
  if (typeof detached === 'boolean') return detached;
  return sizeBefore === 0 || b.byteLength === 0;
}

const init = workerData as WorkerInit | undefined;
if (!isMainThread && parentPort && init?.$dlDataWorker === 1) {
  const port = parentPort;
  const loop = new WorkerLoop(init, port);
  // One request at a time, in arrival order: random draws in getItem happen in a fixed order.
  let chain: Promise<void> = loop.setup();
  port.on('message', (msg: ToWorker) => {
    chain = chain
      .then(() => loop.handle(msg))
      .catch((e: unknown) => port.postMessage({ type: 'initError', error: serializeError(e) } satisfies FromWorker));
  });
}
