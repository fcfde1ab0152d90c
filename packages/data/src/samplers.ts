/**
 * Samplers (torch.utils.data.Sampler and friends): iterables of dataset indices, or of lists
 * of indices for BatchSampler. Random samplers draw from a seeded Generator of @dl/tensor;
 * without one they draw as PyTorch's do: RandomSampler seeds a fresh generator from the
 * default generator at each iteration, SubsetRandomSampler and WeightedRandomSampler draw
 * from the default generator itself. With PyTorch's sampling formulas (randperm, randint,
 * multinomial) the same manualSeed gives PyTorch's indices.
 *
 * Draws happen lazily, on the first `next()` of an iteration: a RandomSampler draws its whole
 * permutation then; each iteration (epoch) draws a new one from the same stream.
 */
import { Generator, defaultGenerator, randperm } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { isTensor } from './protocol.js';

/** An iterable of indices; `length` (when known) is the number of indices per iteration. */
export type Sampler<T = number> = Iterable<T> & { readonly length?: number };

function positiveInt(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new TypeError(`${what} should be a positive integer; got ${String(v)}`);
  return v;
}

function sizedLength(what: string, data: { readonly length: number }): number {
  const n = data?.length;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new TypeError(`${what}: data must have a non-negative integer length; got ${String(n)}`);
  return n;
}

/** A generator seeded from the default generator's next 63-bit value (torch: a fresh seed per iteration). */
function freshGenerator(): Generator {
  return new Generator(defaultGenerator.nextInt64());
}

/** A permutation of 0..n-1 drawn from g (randperm, Fisher-Yates). */
function permutation(n: number, g: Generator): Int32Array {
  const t = randperm(n, { generator: g });
  const out = t.dataSync() as Int32Array;
  t.dispose();
  return out;
}

/** 0, 1, ..., length-1. */
export class SequentialSampler implements Sampler {
  constructor(readonly dataSource: { readonly length: number }) {
    sizedLength('SequentialSampler', dataSource);
  }
  get length(): number {
    return this.dataSource.length;
  }
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    for (let i = 0; i < n; i++) yield i;
  }
}

export interface RandomSamplerOptions {
  /** Draw with replacement (default false). */
  replacement?: boolean;
  /** Indices per iteration (default: the dataset's length). Without replacement it may exceed the length: whole permutations follow one another. */
  numSamples?: number;
  generator?: Generator;
}

/**
 * Random indices: a permutation of the dataset (torch.utils.data.RandomSampler), or with
 * `replacement` `numSamples` independent uniform draws.
 */
export class RandomSampler implements Sampler {
  readonly replacement: boolean;
  readonly generator: Generator | undefined;
  private readonly fixedNumSamples: number | undefined;
  constructor(
    readonly dataSource: { readonly length: number },
    opts: RandomSamplerOptions = {},
  ) {
    sizedLength('RandomSampler', dataSource);
    if (opts.replacement !== undefined && typeof opts.replacement !== 'boolean') {
      throw new TypeError(`RandomSampler: replacement should be a boolean; got ${String(opts.replacement)}`);
    }
    this.replacement = opts.replacement ?? false;
    this.fixedNumSamples = opts.numSamples === undefined ? undefined : positiveInt('RandomSampler: numSamples', opts.numSamples);
    this.generator = opts.generator;
  }
  get numSamples(): number {
    return this.fixedNumSamples ?? this.dataSource.length;
  }
  get length(): number {
    return this.numSamples;
  }
  *[Symbol.iterator](): Iterator<number> {
    const n = this.dataSource.length;
    const count = this.numSamples;
    if (n === 0 || count === 0) {
      if (count > 0) throw new RangeError('RandomSampler: cannot draw samples from an empty dataset');
      return;
    }
    const g = this.generator ?? freshGenerator();
    if (this.replacement) {
      for (let k = 0; k < count; k++) yield g.nextBelow(n);
      return;
    }
    for (let k = 0; k < Math.floor(count / n); k++) yield* permutation(n, g);
    // PyTorch then draws one more permutation and keeps its first count % n indices, even
    // when that is none; drawing it too keeps a given generator's stream the same as PyTorch's.
    yield* permutation(n, g).subarray(0, count % n);
  }
}

/** The given indices in a random order, a new one per iteration (torch.utils.data.SubsetRandomSampler). */
export class SubsetRandomSampler implements Sampler {
  readonly indices: readonly number[];
  readonly generator: Generator | undefined;
  constructor(indices: ArrayLike<number> | Iterable<number>, opts: { generator?: Generator } = {}) {
    this.indices = Array.from(indices as ArrayLike<number>);
    this.generator = opts.generator;
  }
  get length(): number {
    return this.indices.length;
  }
  *[Symbol.iterator](): Iterator<number> {
    if (this.indices.length === 0) return;
    const perm = permutation(this.indices.length, this.generator ?? defaultGenerator);
    for (const i of perm) yield this.indices[i];
  }
}

/**
 * Indices 0..weights.length-1 drawn with probabilities proportional to `weights` (which need
 * not sum to 1): torch.utils.data.WeightedRandomSampler, i.e. torch.multinomial. Without
 * replacement, each index appears at most once (successive draws without replacement), so
 * numSamples may not exceed the number of non-zero weights.
 */
export class WeightedRandomSampler implements Sampler {
  readonly weights: Float64Array;
  readonly numSamples: number;
  readonly replacement: boolean;
  readonly generator: Generator | undefined;
  private readonly cumulative: Float64Array;
  constructor(weights: ArrayLike<number> | Iterable<number> | Tensor, numSamples: number, opts: { replacement?: boolean; generator?: Generator } = {}) {
    const w = isTensor(weights) ? Float64Array.from(weights.dataSync()) : Float64Array.from(weights as ArrayLike<number>);
    if (isTensor(weights) && weights.ndim !== 1) throw new TypeError(`WeightedRandomSampler: weights must be 1-dimensional; got shape [${weights.shape.join(', ')}]`);
    if (w.length === 0) throw new TypeError('WeightedRandomSampler: weights must not be empty');
    let total = 0;
    let nonZero = 0;
    this.cumulative = new Float64Array(w.length);
    w.forEach((x, i) => {
      if (!(x >= 0) || !Number.isFinite(x)) throw new RangeError(`WeightedRandomSampler: weights must be finite and non-negative; got ${x} at index ${i}`);
      total += x;
      if (x > 0) nonZero++;
      this.cumulative[i] = total;
    });
    if (!(total > 0)) throw new RangeError('WeightedRandomSampler: the weights sum to 0');
    for (let i = 0; i < w.length; i++) this.cumulative[i] /= total;
    this.cumulative[w.length - 1] = 1;
    this.numSamples = positiveInt('WeightedRandomSampler: numSamples', numSamples);
    if (opts.replacement !== undefined && typeof opts.replacement !== 'boolean') {
      throw new TypeError(`WeightedRandomSampler: replacement should be a boolean; got ${String(opts.replacement)}`);
    }
    this.replacement = opts.replacement ?? true;
    if (!this.replacement && numSamples > nonZero) {
      throw new RangeError(`WeightedRandomSampler: cannot draw ${numSamples} samples without replacement from ${nonZero} indices with non-zero weight`);
    }
    this.weights = w;
    this.generator = opts.generator;
  }
  get length(): number {
    return this.numSamples;
  }
  *[Symbol.iterator](): Iterator<number> {
    // torch.multinomial's CPU draws, from the default generator itself when none is given.
    const g = this.generator ?? defaultGenerator;
    const w = this.weights;
    if (this.replacement && this.numSamples > 1) {
      // Inverse CDF over the normalised running totals (the last set to 1): the first index
      // whose total reaches u, one float64 uniform per sample. PyTorch can return a
      // zero-weight first index when u is exactly 0; here that moves on to the first non-zero one.
      const cum = this.cumulative;
      for (let k = 0; k < this.numSamples; k++) {
        const u = g.nextDouble();
        let lo = 0;
        let hi = cum.length;
        while (hi > lo) {
          const mid = lo + ((hi - lo) >> 1);
          if (cum[mid] < u) lo = mid + 1;
          else hi = mid;
        }
        while (w[lo] === 0) lo++;
        yield lo;
      }
      return;
    }
    // Without replacement (or one sample): the exponential race, w_i / E_i with E_i ~ Exp(1)
    // drawn for every index in order; the largest keys first. Its order of arrival has the
    // distribution of successive draws without replacement.
    const keys = Array.from(w, (wi, i) => {
      const e = -Math.log1p(-g.nextDouble());
      return { i, key: wi === 0 ? 0 : wi / e };
    });
    keys.sort((x, y) => y.key - x.key || x.i - y.i);
    for (let k = 0; k < this.numSamples; k++) yield keys[k].i;
  }
}

/** Groups the indices of a sampler into lists of batchSize (torch.utils.data.BatchSampler). */
export class BatchSampler implements Sampler<number[]> {
  readonly batchSize: number;
  readonly dropLast: boolean;
  constructor(
    readonly sampler: Sampler,
    batchSize: number,
    dropLast: boolean,
  ) {
    if (sampler === null || typeof (sampler as Iterable<number>)?.[Symbol.iterator] !== 'function') throw new TypeError('BatchSampler: sampler must be an iterable of indices');
    this.batchSize = positiveInt('BatchSampler: batchSize', batchSize);
    if (typeof dropLast !== 'boolean') throw new TypeError(`BatchSampler: dropLast should be a boolean; got ${String(dropLast)}`);
    this.dropLast = dropLast;
  }
  /** Batches per iteration (needs the sampler's length). */
  get length(): number {
    const n = this.sampler.length;
    if (typeof n !== 'number') throw new TypeError('BatchSampler: the sampler has no length');
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }
  *[Symbol.iterator](): Iterator<number[]> {
    let batch: number[] = [];
    for (const i of this.sampler) {
      batch.push(i);
      if (batch.length === this.batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield batch;
  }
}
