/**
 * Datasets (torch.utils.data.Dataset and friends): map-style datasets indexed by integers,
 * iterable datasets, TensorDataset, Subset, ConcatDataset and randomSplit.
 */
import { defaultGenerator, randperm } from '@dl/tensor';
import type { Generator, Tensor } from '@dl/tensor';
import { datasetArg, isTensor, tensorArg } from './protocol.js';
import type { WorkerSpec } from './protocol.js';

/** The module name a WorkerSpec uses for the datasets and collate functions of @dl/data itself. */
export const BUILTIN_MODULE = '@dl/data';

/** What a DataLoader needs of a map-style dataset. */
export interface MapDataset<T> {
  getItem(index: number): T | Promise<T>;
  readonly length: number;
  /** How to rebuild this dataset in a worker thread (needed for numWorkers > 0). */
  workerSpec?(): WorkerSpec;
}

/**
 * A map-style dataset: `getItem(index)` for 0 <= index < length (torch's `__getitem__` and
 * `__len__`). getItem may be async. To be usable with `numWorkers > 0`, implement
 * `workerSpec()`: worker threads import `module` and call `new exports[exportName](...args)`.
 */
export abstract class Dataset<T = unknown> implements MapDataset<T> {
  abstract getItem(index: number): T | Promise<T>;
  abstract readonly length: number;
  // workerSpec() is not declared here, so that subclasses need no `override` to add one.
}

/** What a DataLoader needs of an iterable dataset: a sync or async iterable of samples. */
export type IterableDatasetLike<T> = (Iterable<T> | AsyncIterable<T>) & {
  /** Optional: the number of samples, for DataLoader.length. */
  readonly length?: number;
  workerSpec?(): WorkerSpec;
};

/**
 * An iterable-style dataset (torch.utils.data.IterableDataset): implement
 * `[Symbol.asyncIterator]()` or `[Symbol.iterator]()`, optionally `length` (for
 * DataLoader.length) and `workerSpec()` (for numWorkers > 0). With `numWorkers > 0` every worker
 * iterates its own copy, so shard the stream with `getWorkerInfo()` (id, numWorkers) to avoid
 * duplicate samples.
 */
// biome-ignore lint/correctness/noUnusedVariables: T names the sample type for readers and subclasses
export abstract class IterableDataset<T = unknown> {
  // Nothing is declared here (length, workerSpec, the iterator methods), so that subclasses
  // need no `override` to add them.
}

export function isMapDataset(d: unknown): d is MapDataset<unknown> {
  return typeof d === 'object' && d !== null && typeof (d as MapDataset<unknown>).getItem === 'function';
}

export function isIterableDataset(d: unknown): d is IterableDatasetLike<unknown> {
  if ((typeof d !== 'object' && typeof d !== 'function') || d === null) return false;
  const o = d as Record<symbol, unknown>;
  return typeof o[Symbol.asyncIterator] === 'function' || typeof o[Symbol.iterator] === 'function';
}

function checkLength(what: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new TypeError(`${what}: length must be a non-negative integer; got ${String(n)}`);
  }
  return n;
}

/** A Python-style index into [0, length): negative counts from the end. */
function normIndex(what: string, index: number, length: number): number {
  if (typeof index !== 'number' || !Number.isInteger(index)) throw new TypeError(`${what}: index must be an integer; got ${String(index)}`);
  const i = index < 0 ? index + length : index;
  if (i < 0 || i >= length) throw new RangeError(`${what}: index ${index} is out of range for a dataset of length ${length}`);
  return i;
}

/**
 * Rows of tensors that share their first dimension (torch.utils.data.TensorDataset): item i is
 * `[t0[i], t1[i], ...]`, views of the row i of each tensor.
 */
export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: readonly Tensor[];
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new TypeError('TensorDataset: expected at least one tensor');
    tensors.forEach((t, i) => {
      if (!isTensor(t)) throw new TypeError(`TensorDataset: argument ${i} is not a Tensor`);
      if (t.ndim === 0) throw new TypeError(`TensorDataset: tensor ${i} is 0-dimensional; every tensor needs a first (sample) dimension`);
    });
    const n = tensors[0].shape[0];
    tensors.forEach((t, i) => {
      if (t.shape[0] !== n) throw new TypeError(`TensorDataset: size mismatch between tensors: tensor 0 has ${n} rows, tensor ${i} has ${t.shape[0]}`);
    });
    this.tensors = tensors;
  }
  get length(): number {
    return this.tensors[0].shape[0];
  }
  getItem(index: number): Tensor[] {
    const i = normIndex('TensorDataset.getItem', index, this.length);
    return this.tensors.map((t) => t.select(0, i));
  }
  /** Workers get a copy of the tensors' values. */
  workerSpec(): WorkerSpec {
    return { module: BUILTIN_MODULE, exportName: 'TensorDataset', args: this.tensors.map(tensorArg) };
  }
}

/** The samples of a dataset at the given indices, in that order (torch.utils.data.Subset). */
export class Subset<T = unknown> extends Dataset<T> {
  readonly dataset: MapDataset<T>;
  readonly indices: readonly number[];
  constructor(dataset: MapDataset<T>, indices: ArrayLike<number> | Iterable<number>) {
    super();
    if (!isMapDataset(dataset)) throw new TypeError('Subset: dataset must be a map-style dataset (with getItem and length)');
    this.dataset = dataset;
    this.indices = Array.from(indices as ArrayLike<number>);
    this.indices.forEach((v, k) => {
      if (!Number.isInteger(v)) throw new TypeError(`Subset: indices must be integers; got ${String(v)} at position ${k}`);
    });
  }
  get length(): number {
    return this.indices.length;
  }
  getItem(index: number): T | Promise<T> {
    return this.dataset.getItem(this.indices[normIndex('Subset.getItem', index, this.indices.length)]);
  }
  workerSpec(): WorkerSpec {
    return { module: BUILTIN_MODULE, exportName: 'Subset', args: [datasetArg(this.dataset, 'Subset: the wrapped dataset'), [...this.indices]] };
  }
}

/** Datasets one after another (torch.utils.data.ConcatDataset). */
export class ConcatDataset<T = unknown> extends Dataset<T> {
  readonly datasets: readonly MapDataset<T>[];
  /** Running totals of the datasets' lengths. */
  readonly cumulativeSizes: readonly number[];
  constructor(datasets: Iterable<MapDataset<T>>) {
    super();
    this.datasets = [...datasets];
    if (this.datasets.length === 0) throw new TypeError('ConcatDataset: datasets should not be an empty iterable');
    let total = 0;
    this.cumulativeSizes = this.datasets.map((d, i) => {
      if (!isMapDataset(d)) throw new TypeError(`ConcatDataset: dataset ${i} is not a map-style dataset (ConcatDataset does not support iterable datasets)`);
      total += checkLength(`ConcatDataset: dataset ${i}`, d.length);
      return total;
    });
  }
  get length(): number {
    return this.cumulativeSizes[this.cumulativeSizes.length - 1];
  }
  getItem(index: number): T | Promise<T> {
    const i = normIndex('ConcatDataset.getItem', index, this.length);
    // First dataset whose running total exceeds i.
    let lo = 0;
    let hi = this.cumulativeSizes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulativeSizes[mid] > i) hi = mid;
      else lo = mid + 1;
    }
    return this.datasets[lo].getItem(lo === 0 ? i : i - this.cumulativeSizes[lo - 1]);
  }
  workerSpec(): WorkerSpec {
    return { module: BUILTIN_MODULE, exportName: 'ConcatDataset', args: [this.datasets.map((d, i) => datasetArg(d, `ConcatDataset: dataset ${i}`))] };
  }
}

/**
 * Split a dataset into non-overlapping random subsets (torch.utils.data.random_split).
 * `lengths` are sizes summing to the dataset's length, or fractions summing to 1: then each
 * gets floor(length * fraction) and the remainder is handed out one by one, round-robin,
 * from the first split on. The permutation comes from `generator` (default: the default
 * generator of @dl/tensor).
 */
export function randomSplit<T>(dataset: MapDataset<T>, lengths: readonly number[], opts: { generator?: Generator } = {}): Subset<T>[] {
  if (!isMapDataset(dataset)) throw new TypeError('randomSplit: dataset must be a map-style dataset (with getItem and length)');
  const n = checkLength('randomSplit: dataset', dataset.length);
  if (!Array.isArray(lengths) || lengths.length === 0) throw new TypeError('randomSplit: lengths must be a non-empty array');
  let sizes = [...lengths];
  const sum = sizes.reduce((a, b) => a + b, 0);
  // math.isclose(sum, 1) (rel_tol 1e-9) and sum <= 1: fractions.
  if (Math.abs(sum - 1) <= 1e-9 * Math.max(Math.abs(sum), 1) && sum <= 1) {
    sizes = sizes.map((frac, i) => {
      if (!(frac >= 0 && frac <= 1)) throw new RangeError(`randomSplit: fraction at index ${i} is not between 0 and 1; got ${frac}`);
      return Math.floor(n * frac);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) sizes[i % sizes.length] += 1;
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== n) throw new RangeError(`randomSplit: sum of input lengths (${total}) does not equal the length of the input dataset (${n})`);
  sizes.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 0) throw new RangeError(`randomSplit: lengths must be non-negative integers (or fractions summing to 1); got ${lengths[i]} at index ${i}`);
  });
  const perm = randperm(n, { generator: opts.generator ?? defaultGenerator });
  const order = Array.from(perm.dataSync());
  perm.dispose();
  let offset = 0;
  return sizes.map((s) => {
    const sub = new Subset(dataset, order.slice(offset, offset + s));
    offset += s;
    return sub;
  });
}
