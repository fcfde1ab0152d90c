/**
 * Histograms as torch.utils.tensorboard makes them: numpy.histogram over the values (as
 * float64) with the given bins, then only the part of the bins from the first to the last
 * non-empty one is kept, with one empty bin in front so that TensorBoard, which stores only
 * right edges, also sees the left edge of the first non-empty bin.
 */
import { DLError } from '@dl/tensor';
import type { HistogramProto } from './proto.js';

/**
 * TensorBoard's default bucket edges ('tensorflow'): ±1e-12 · 1.1^k for every k with
 * 1e-12 · 1.1^k < 1e20 (k = 0..773, the powers built by repeated multiplication), negative ones
 * descending, then 0, then the positive ones: 1549 edges, 1548 bins.
 */
export const DEFAULT_BIN_EDGES: readonly number[] = (() => {
  const pos: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  return [...pos.map((v) => -v).reverse(), 0, ...pos];
})();

/** 'tensorflow' (TensorBoard's default edges), 'auto' (numpy's), a number of equal-width bins, or explicit ascending edges. */
export type HistogramBins = 'tensorflow' | 'auto' | number | readonly number[];

/** Largest i with edges[i] <= x (edges ascending), or -1. */
function upperIndex(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * numpy.histogram with explicit edges: bin i holds edges[i] <= x < edges[i + 1], the last bin
 * also x == its right edge; values outside [edges[0], edges[n]] are not counted.
 */
function countEdges(values: Float64Array, edges: readonly number[]): number[] {
  const nb = edges.length - 1;
  const counts = new Array<number>(nb).fill(0);
  const last = edges[nb];
  for (const x of values) {
    if (!(x >= edges[0] && x <= last)) continue;
    let i = upperIndex(edges, x);
    if (i >= nb) i = nb - 1; // x == the last edge (or repeated last edges)
    counts[i]++;
  }
  return counts;
}

/** numpy.linspace(start, stop, num) with the endpoint. */
function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const step = delta / div;
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * numpy.histogram with `n` equal-width bins over [first, last] (its fast path: an index from
 * the position in the range, then corrected by one where rounding put it across an edge).
 */
function countUniform(values: Float64Array, n: number, first: number, last: number): { counts: number[]; edges: number[] } {
  const edges = linspace(first, last, n + 1);
  const counts = new Array<number>(n).fill(0);
  const denom = last - first;
  for (const x of values) {
    if (!(x >= first && x <= last)) continue;
    let i = Math.trunc(((x - first) / denom) * n);
    if (i === n) i--;
    if (x < edges[i]) i--;
    else if (i !== n - 1 && x >= edges[i + 1]) i++;
    counts[i]++;
  }
  return { counts, edges };
}

/** numpy.percentile with the default 'linear' method, on sorted values. */
function percentile(sorted: Float64Array, q: number): number {
  const index = (sorted.length - 1) * (q / 100);
  const below = Math.floor(index);
  const above = Math.min(below + 1, sorted.length - 1);
  const t = index - below;
  const a = sorted[below];
  const b = sorted[above];
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** The bin width numpy's 'auto' picks: the smaller of Freedman-Diaconis and Sturges (Sturges when FD gives 0). */
function autoWidth(values: Float64Array, min: number, max: number): number {
  const sorted = Float64Array.from(values).sort();
  const iqr = percentile(sorted, 75) - percentile(sorted, 25);
  const fd = 2 * iqr * values.length ** (-1 / 3);
  const sturges = (max - min) / (Math.log2(values.length) + 1);
  return fd ? Math.min(fd, sturges) : sturges;
}

/**
 * The HistogramProto PyTorch writes for `values` (flattened, float64, at least one, all finite)
 * and `bins`; with `maxBins`, adjacent bins are first summed in groups of floor(bins / maxBins)
 * (the last group padded with empty bins).
 */
export function makeHistogram(op: string, values: Float64Array, bins: HistogramBins, maxBins?: number): HistogramProto {
  if (values.length === 0) throw new DLError('VALUE', op, 'the values are empty; got 0 elements', 'a histogram needs at least one value');
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sumSquares = 0;
  for (const x of values) {
    if (!Number.isFinite(x)) {
      throw new DLError('VALUE', op, `the values must be finite; got ${x}`, 'filter out NaN and ±Infinity first, or log them with addScalar (e.g. a count of non-finite values)');
    }
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sumSquares += x * x;
  }

  let counts: number[];
  let limits: number[];
  if (bins === 'tensorflow' || Array.isArray(bins)) {
    const edges = bins === 'tensorflow' ? DEFAULT_BIN_EDGES : (bins as readonly number[]);
    if (edges.length < 2 || edges.some((e, i) => !Number.isFinite(e) || (i > 0 && e < edges[i - 1]))) {
      throw new DLError('ARGUMENT', op, `bins as edges must be at least 2 finite, ascending numbers; got ${JSON.stringify(edges.slice(0, 8))}${edges.length > 8 ? '...' : ''}`);
    }
    counts = countEdges(values, edges);
    limits = [...edges];
  } else {
    let first = min;
    let last = max;
    if (first === last) {
      first -= 0.5;
      last += 0.5;
    }
    let n: number;
    if (bins === 'auto') {
      const width = autoWidth(values, min, max);
      n = width ? Math.ceil((last - first) / width) : 1;
    } else if (typeof bins === 'number' && Number.isInteger(bins) && bins >= 1) {
      n = bins;
    } else {
      throw new DLError('ARGUMENT', op, `bins must be 'tensorflow', 'auto', a positive integer or an array of edges; got ${JSON.stringify(bins)}`, "the default is 'tensorflow' (TensorBoard's exponential buckets)");
    }
    ({ counts, edges: limits } = countUniform(values, n, first, last));
  }

  if (maxBins !== undefined) {
    if (!Number.isInteger(maxBins) || maxBins < 1) throw new DLError('ARGUMENT', op, `maxBins must be a positive integer; got ${maxBins}`);
    if (counts.length > maxBins) {
      const group = Math.floor(counts.length / maxBins);
      const padded = counts.length % group ? counts.length + group - (counts.length % group) : counts.length;
      const merged: number[] = [];
      const mergedLimits: number[] = [];
      for (let i = 0; i < padded; i += group) {
        let c = 0;
        for (let j = i; j < i + group && j < counts.length; j++) c += counts[j];
        merged.push(c);
        mergedLimits.push(limits[i]);
      }
      mergedLimits.push(limits[limits.length - 1]);
      counts = merged;
      limits = mergedLimits;
    }
  }

  // Keep the bins from the first to the last non-empty one, plus one empty bin in front (the
  // bin before the first non-empty one, or a new one at the left edge when that is bin 0).
  const start = counts.findIndex((c) => c > 0);
  if (start < 0) {
    throw new DLError('VALUE', op, `no value falls inside the bins (values in [${min}, ${max}], bins from ${limits[0]} to ${limits[limits.length - 1]})`, 'widen the bins');
  }
  let end = counts.length - 1;
  while (counts[end] === 0) end--;
  end++;
  let bucket: number[];
  if (start > 0) bucket = counts.slice(start - 1, end);
  else bucket = [0, ...counts.slice(0, end)];
  const bucketLimit = limits.slice(start, end + 1);
  return { min, max, num: values.length, sum, sumSquares, bucketLimit, bucket };
}
