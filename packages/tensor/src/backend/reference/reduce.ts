/** Reductions (keepdim form), argmax/argmin, softmax/logSoftmax. */
import type { Kernel, KernelAttrs } from '../types.js';
import { type Arg, readAll, reduceGroups, writeAll } from './strided.js';

type RefKernel<K extends keyof KernelAttrs> = Kernel<KernelAttrs[K], Float64Array>;

/**
 * ins [x], outs [y] (keepdim form over `dims`): y[j] = combine of the x values in
 * group j. `combine` gets the values in row-major order and y's dtype.
 */
function reduction(combine: (values: number[], outIsInt: boolean) => number): Kernel<{ readonly dims: readonly number[] }, Float64Array> {
  return (ins, outs, { dims }) => {
    const x = ins[0];
    const y = outs[0];
    const values = readAll(x);
    const outIsInt = y.dtype === 'int32';
    const result = reduceGroups(x.shape, dims).map((group) =>
      combine(
        group.map((i) => values[i]),
        outIsInt,
      ),
    );
    writeAll(y, result);
  };
}

/** Integer sums wrap like C int32 at every step; float sums are plain float64 sums. */
export const sum: RefKernel<'sum'> = reduction((values, outIsInt) => {
  let acc = 0;
  for (const v of values) acc = outIsInt ? (acc + v) | 0 : acc + v;
  return acc;
});

/** Integer products wrap like C int32 at every step (Math.imul keeps them exact). */
export const prod: RefKernel<'prod'> = reduction((values, outIsInt) => {
  let acc = 1;
  for (const v of values) acc = outIsInt ? Math.imul(acc, v) : acc * v;
  return acc;
});

/** NaN propagates (Math.max/min do that). An empty group gives -Infinity / Infinity. */
export const max: RefKernel<'max'> = reduction((values) => values.reduce((m, v) => Math.max(m, v), -Infinity));
export const min: RefKernel<'min'> = reduction((values) => values.reduce((m, v) => Math.min(m, v), Infinity));

/** Non-zero (NaN included) counts as true. */
export const all: RefKernel<'all'> = reduction((values) => (values.every((v) => v !== 0) ? 1 : 0));
export const any: RefKernel<'any'> = reduction((values) => (values.some((v) => v !== 0) ? 1 : 0));

/**
 * ins [x], outs [indices] over one dim: the index along `dim` of the first
 * extreme value; a NaN counts as more extreme than anything (the first NaN wins).
 */
function argExtreme(better: (v: number, best: number) => boolean): Kernel<{ readonly dim: number }, Float64Array> {
  return (ins, outs, { dim }) => {
    const x = ins[0];
    const values = readAll(x);
    const result = reduceGroups(x.shape, [dim]).map((group) => {
      let bestK = 0;
      for (let k = 1; k < group.length; k++) {
        const best = values[group[bestK]];
        if (Number.isNaN(best)) break;
        const v = values[group[k]];
        if (Number.isNaN(v) || better(v, best)) bestK = k;
      }
      return bestK;
    });
    writeAll(outs[0], result);
  };
}

export const argmax: RefKernel<'argmax'> = argExtreme((v, best) => v > best);
export const argmin: RefKernel<'argmin'> = argExtreme((v, best) => v < best);

/** Each line's positions by value (NaN above everything), ties by position: a stable sort by insertion. */
export const sort: RefKernel<'sort'> = (ins, outs, { dim, descending }) => {
  const values = readAll(ins[0]);
  const sortedValues = new Float64Array(values.length);
  const sortedIndices = new Float64Array(values.length);
  // a before b in ascending order (NaN is the largest).
  const below = (a: number, b: number) => (Number.isNaN(a) ? false : Number.isNaN(b) ? true : a < b);
  for (const group of reduceGroups(ins[0].shape, [dim])) {
    const order: number[] = [];
    for (let k = 0; k < group.length; k++) {
      const v = values[group[k]];
      let at = order.length;
      while (at > 0 && (descending ? below(values[group[order[at - 1]]], v) : below(v, values[group[order[at - 1]]]))) at--;
      order.splice(at, 0, k);
    }
    group.forEach((i, k) => {
      sortedValues[i] = values[group[order[k]]];
      sortedIndices[i] = order[k];
    });
  }
  writeAll(outs[0], sortedValues);
  writeAll(outs[1], sortedIndices);
};

/**
 * Calls `fn(line)` for every line of x along `dim` (the values, in order) and
 * writes the returned values back to the same positions of the output.
 */
function mapLinesAlong(x: Arg, y: Arg, dim: number, fn: (line: number[]) => number[]): void {
  const values = readAll(x);
  const result = new Float64Array(values.length);
  for (const group of reduceGroups(x.shape, [dim])) {
    const mapped = fn(group.map((i) => values[i]));
    group.forEach((i, k) => {
      result[i] = mapped[k];
    });
  }
  writeAll(y, result);
}

/** Running sums along the dim. */
export const cumsum: RefKernel<'cumsum'> = (ins, outs, { dim }) => {
  mapLinesAlong(ins[0], outs[0], dim, (line) => {
    let total = 0;
    return line.map((v) => {
      total += v;
      return total;
    });
  });
};

/** Max-subtracted softmax: exp(x - m) / sum(exp(x - m)). */
export const softmax: RefKernel<'softmax'> = (ins, outs, { dim }) => {
  mapLinesAlong(ins[0], outs[0], dim, (line) => {
    const m = line.reduce((a, v) => Math.max(a, v), -Infinity);
    const e = line.map((v) => Math.exp(v - m));
    const total = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / total);
  });
};

/** Max-subtracted log-softmax: x - m - log(sum(exp(x - m))). */
export const logSoftmax: RefKernel<'logSoftmax'> = (ins, outs, { dim }) => {
  mapLinesAlong(ins[0], outs[0], dim, (line) => {
    const m = line.reduce((a, v) => Math.max(a, v), -Infinity);
    const logTotal = Math.log(line.reduce((a, v) => a + Math.exp(v - m), 0));
    return line.map((v) => v - m - logTotal);
  });
};
