/**
 * What crosses the thread boundary between the DataLoader and its worker threads (specs,
 * messages, tensor descriptors, errors), module loading, and the worker information a dataset
 * can read inside a worker. Shared by the main entry and the worker entry (worker.ts).
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Tensor, tensor } from '@dl/tensor';
import type { DType, TypedArray } from '@dl/tensor';

/** A named export of an ES module: how functions and classes reach worker threads. */
export interface ModuleExport {
  /** Absolute path or file URL of an ES module (a bare specifier such as '@dl/data' also works when the worker can resolve it). */
  module: string;
  /** Name of the export. */
  exportName: string;
}

/**
 * How a worker thread rebuilds a dataset: it imports `module` and calls
 * `new exports[exportName](...args)`. `args` must be structured-cloneable; an argument of
 * the form `{ $dlDataset: WorkerSpec }` is itself rebuilt as a dataset and one of the form
 * `{ $dlTensor: { dtype, shape, data } }` as a tensor (see `datasetArg` and `tensorArg`).
 */
export interface WorkerSpec extends ModuleExport {
  args: unknown[];
}

/** What `getWorkerInfo()` returns inside a DataLoader worker thread. */
export interface WorkerInfo<D = unknown> {
  /** 0 .. numWorkers-1 */
  id: number;
  numWorkers: number;
  /** This worker's seed for the current epoch: baseSeed + id, where baseSeed is below 2^63; the worker's default generator is seeded with it. */
  seed: bigint;
  /** The worker's own copy of the dataset. */
  dataset: D;
}

// Kept on globalThis so that every copy of this module in a thread (ESM and CJS builds, a
// bundled copy in worker.js) sees the same value.
const INFO_KEY = Symbol.for('@dl/data.workerInfo');

/**
 * Inside a DataLoader worker thread: its id, the number of workers, its seed and its copy of
 * the dataset (torch.utils.data.get_worker_info). On the main thread: null.
 */
export function getWorkerInfo<D = unknown>(): WorkerInfo<D> | null {
  return ((globalThis as Record<symbol, unknown>)[INFO_KEY] as WorkerInfo<D> | undefined) ?? null;
}

/** @internal Set by the worker entry. */
export function setWorkerInfo(info: WorkerInfo | null): void {
  (globalThis as Record<symbol, unknown>)[INFO_KEY] = info ?? undefined;
}

/** A dataset argument of a WorkerSpec (the worker rebuilds it from its own spec). */
export function datasetArg(dataset: { workerSpec?(): WorkerSpec }, what = 'dataset'): { $dlDataset: WorkerSpec } {
  if (typeof dataset.workerSpec !== 'function') {
    throw new TypeError(`${what} has no workerSpec() method, so it cannot be rebuilt in a worker thread`);
  }
  return { $dlDataset: dataset.workerSpec() };
}

/** A tensor argument of a WorkerSpec (its values are copied to the worker). */
export function tensorArg(t: Tensor): { $dlTensor: { dtype: DType; shape: number[]; data: TypedArray } } {
  return { $dlTensor: { dtype: t.dtype, shape: [...t.shape], data: t.dataSync() } };
}

/** A tensor as sent back by a worker: the ArrayBuffer travels in the transfer list. */
export interface TensorDescriptor {
  $dlTensor: 1;
  dtype: DType;
  shape: number[];
  buffer: ArrayBuffer;
}

export function isTensorDescriptor(v: unknown): v is TensorDescriptor {
  return typeof v === 'object' && v !== null && (v as TensorDescriptor).$dlTensor === 1;
}

const CTORS: Record<DType, new (b: ArrayBuffer) => TypedArray> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

export function typedArrayFor(dtype: DType, buffer: ArrayBuffer): TypedArray {
  return new CTORS[dtype](buffer);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Rebuild tensors from descriptors (main thread); adopts the transferred buffers without copying. */
export function decodeBatch(v: unknown): unknown {
  if (isTensorDescriptor(v)) {
    return tensor(typedArrayFor(v.dtype, v.buffer), { shape: v.shape, dtype: v.dtype, copy: false });
  }
  if (Array.isArray(v)) return v.map(decodeBatch);
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = decodeBatch(x);
    return out;
  }
  return v;
}

/** Counters a worker keeps about what it sent (see DataLoader.workerStats()). */
export interface WorkerStats {
  id: number;
  threadId: number;
  /** Batches (or samples, with batchSize null) sent. */
  batches: number;
  /** Tensor buffers moved through the transfer list without a copy. */
  transferredBuffers: number;
  transferredBytes: number;
  /** Of those, how many were found detached in the worker right after postMessage (all, when zero-copy works). */
  detachedAfterPost: number;
  /** Tensors that had to be copied first (views, non-contiguous, or sharing memory with a sample). */
  copiedBuffers: number;
}

/**
 * A Tensor of @dl/tensor; also accepts one made by another copy of @dl/tensor (a dataset
 * module loaded through CJS, say), which `instanceof` alone would miss.
 */
export function isTensor(v: unknown): v is Tensor {
  if (v instanceof Tensor) return true;
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Partial<Tensor>;
  return typeof t.dataSync === 'function' && typeof t.dispose === 'function' && Array.isArray(t.shape) && typeof t.storage === 'object';
}

/** Tensors found in a value (arrays, plain objects). */
export function collectTensors(v: unknown, out: Set<Tensor>): Set<Tensor> {
  if (isTensor(v)) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collectTensors(x, out);
  else if (isPlainObject(v)) for (const x of Object.values(v)) collectTensors(x, out);
  return out;
}

/** An error as it crosses threads. */
export interface SerializedError {
  name: string;
  message: string;
  stack: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack ?? `${e.name}: ${e.message}` };
  const message = typeof e === 'string' ? e : (() => {
    try {
      return JSON.stringify(e) ?? String(e);
    } catch {
      return String(e);
    }
  })();
  return { name: 'Error', message: `a non-Error value was thrown: ${message}`, stack: `(no stack: a non-Error value was thrown: ${message})` };
}

/** A worker's start-up data (workerData). */
export interface WorkerInit {
  $dlDataWorker: 1;
  id: number;
  numWorkers: number;
  /** The first epoch and its seed (baseSeed + id). */
  epoch: number;
  seed: bigint;
  mode: 'map' | 'iterable';
  dataset: WorkerSpec;
  collate: ModuleExport | null;
  workerInitFn: ModuleExport | null;
  /** null: no batching (each request is one sample, converted with defaultConvert unless a collate is given). */
  batchSize: number | null;
  dropLast: boolean;
}

/** Main thread -> worker. */
export type ToWorker =
  | { type: 'epoch'; epoch: number; seed: bigint }
  | { type: 'batch'; epoch: number; seq: number; indices: number[] | number }
  | { type: 'next'; epoch: number; seq: number }
  | { type: 'stats' };

/** Worker -> main thread. */
export type FromWorker =
  | { type: 'batch'; epoch: number; seq: number; data: unknown }
  | { type: 'done'; epoch: number; seq: number }
  | {
      type: 'error';
      epoch: number;
      seq: number;
      error: SerializedError;
      /** What failed: getItem of `index`, the collate function, or the iterable dataset. */
      phase: 'getItem' | 'collate' | 'iterate' | 'send';
      index?: number;
      indices?: number[] | number;
    }
  | { type: 'initError'; error: SerializedError }
  | { type: 'stats'; stats: WorkerStats };

/** A module path as an import() specifier: absolute paths become file URLs. */
export function moduleSpecifier(module: string): string {
  if (typeof module !== 'string' || module === '') throw new TypeError(`expected a module path or file URL; got ${String(module)}`);
  if (/^(file|data|node):/.test(module)) return module;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith('.')) {
    throw new TypeError(`the module '${module}' is a relative path, which a worker thread cannot resolve\nhint: use an absolute path or a file URL, e.g. import.meta.url of the module that exports it`);
  }
  return module; // a bare package specifier
}

/** Import a named export; `builtins` answers for the module name '@dl/data'. */
export async function importExport(spec: ModuleExport, builtins: Record<string, unknown>, what: string): Promise<unknown> {
  if (typeof spec !== 'object' || spec === null || typeof spec.exportName !== 'string') {
    throw new TypeError(`${what} must be { module, exportName }; got ${String(spec)}`);
  }
  let value: unknown;
  if (spec.module === '@dl/data' && spec.exportName in builtins) {
    value = builtins[spec.exportName];
  } else {
    const mod = (await import(moduleSpecifier(spec.module))) as Record<string, unknown>;
    value = mod[spec.exportName];
  }
  if (value === undefined) throw new TypeError(`${what}: the module ${spec.module} has no export named '${spec.exportName}'`);
  return value;
}
