/** Data movement: copy, cast, fill, pad, cat and the index ops. Any dtype. */
import { isIntegral } from '../../dtype.js';
import { fail } from '../../errors.js';
import { numel } from '../../layout.js';
import type { Kernel, KernelAttrs } from '../types.js';
import { type Arg, flatIndex, forEachIndex, get, readAll, writeAll } from './strided.js';

type RefKernel<K extends keyof KernelAttrs> = Kernel<KernelAttrs[K], Float64Array>;

/** ins [src] of dst's shape (may be broadcast), outs [dst] of any layout. */
export const copy: RefKernel<'copy'> = (ins, outs) => {
  writeAll(outs[0], readAll(ins[0]));
};

/**
 * ins [x], outs [y] of another dtype. To int32/uint8: truncate toward zero, then
 * wrap (writeAll's normalisation); NaN and +-Infinity are errors. To bool: x != 0.
 */
export const cast: RefKernel<'cast'> = (ins, outs) => {
  const y = outs[0];
  const values = readAll(ins[0]);
  if (isIntegral(y.dtype)) {
    for (const v of values) {
      if (!Number.isFinite(v)) {
        fail(
          'VALUE',
          'cast',
          `cannot convert ${v} from ${ins[0].dtype} to ${y.dtype}; only finite values have an integer value`,
          'replace non-finite values first, e.g. with nan_to_num(x) or where(isfinite(x), x, 0)',
        );
      }
    }
  }
  writeAll(y, values);
};

/** ins [], outs [y]: every element is `value`. */
export const fill: RefKernel<'fill'> = (_ins, outs, { value }) => {
  writeAll(outs[0], new Float64Array(numel(outs[0].shape)).fill(value));
};

/** ins [x], outs [y]: y[i] = x[i - before] where that is inside x, else `value`. */
export const pad: RefKernel<'pad'> = (ins, outs, { pads, value }) => {
  const x = ins[0];
  const y = outs[0];
  const result = new Float64Array(numel(y.shape));
  forEachIndex(y.shape, (idx, i) => {
    const src = idx.map((v, d) => v - pads[d][0]);
    const inside = src.every((v, d) => v >= 0 && v < x.shape[d]);
    result[i] = inside ? get(x, src) : value;
  });
  writeAll(y, result);
};

/** ins [x0, x1, ...], outs [y]: the inputs placed one after another along `dim`. */
export const cat: RefKernel<'cat'> = (ins, outs, { dim }) => {
  const y = outs[0];
  const result = new Float64Array(numel(y.shape));
  let start = 0; // where the current input begins along dim
  for (const x of ins) {
    forEachIndex(x.shape, (idx) => {
      const dst = idx.map((v, d) => (d === dim ? v + start : v));
      result[flatIndex(y.shape, dst)] = get(x, idx);
    });
    start += x.shape[dim];
  }
  writeAll(y, result);
};

/** An index value read from an int32 tensor, checked against the size it indexes. */
function indexValue(op: string, index: Arg, idx: readonly number[], size: number): number {
  const v = get(index, idx);
  if (!Number.isInteger(v) || v < 0 || v >= size) {
    fail('VALUE', op, `index ${v} is out of range for a dimension of size ${size}`);
  }
  return v;
}

/** `idx` with its entry at `dim` replaced by `v`. */
function withDim(idx: readonly number[], dim: number, v: number): number[] {
  return idx.map((u, d) => (d === dim ? v : u));
}

/** ins [x, index (1-D)], outs [y]: y[..i..] = x[..index[i]..] along dim. */
export const indexSelect: RefKernel<'indexSelect'> = (ins, outs, { dim }) => {
  const [x, index] = ins;
  const y = outs[0];
  const result = new Float64Array(numel(y.shape));
  forEachIndex(y.shape, (idx, i) => {
    const j = indexValue('indexSelect', index, [idx[dim]], x.shape[dim]);
    result[i] = get(x, withDim(idx, dim, j));
  });
  writeAll(y, result);
};

/** ins [self, index (1-D), source], outs [y]: y = self; y[..index[i]..] += source[..i..] along dim. */
export const indexAdd: RefKernel<'indexAdd'> = (ins, outs, { dim }) => {
  const [self, index, source] = ins;
  const y = outs[0];
  const result = readAll(self);
  forEachIndex(source.shape, (idx) => {
    const j = indexValue('indexAdd', index, [idx[dim]], self.shape[dim]);
    result[flatIndex(y.shape, withDim(idx, dim, j))] += get(source, idx);
  });
  writeAll(y, result);
};

/** ins [x, index], outs [y of index's shape]: y[idx] = x[idx with dim replaced by index[idx]]. */
export const gather: RefKernel<'gather'> = (ins, outs, { dim }) => {
  const [x, index] = ins;
  const y = outs[0];
  const result = new Float64Array(numel(y.shape));
  forEachIndex(index.shape, (idx, i) => {
    const j = indexValue('gather', index, idx, x.shape[dim]);
    result[i] = get(x, withDim(idx, dim, j));
  });
  writeAll(y, result);
};

/**
 * ins [self, index, src], outs [y of self's shape]: y = self, then for every idx
 * of index (row-major order): y[idx with dim replaced by index[idx]] (+)= src[idx].
 * For scatter, a cell written twice keeps the last value in row-major order.
 */
function scatterInto(op: string, accumulate: boolean): Kernel<{ readonly dim: number }, Float64Array> {
  return (ins, outs, { dim }) => {
    const [self, index, src] = ins;
    const y = outs[0];
    const result = readAll(self);
    forEachIndex(index.shape, (idx) => {
      const j = indexValue(op, index, idx, self.shape[dim]);
      const target = flatIndex(y.shape, withDim(idx, dim, j));
      result[target] = accumulate ? result[target] + get(src, idx) : get(src, idx);
    });
    writeAll(y, result);
  };
}

export const scatter: RefKernel<'scatter'> = scatterInto('scatter', false);
export const scatterAdd: RefKernel<'scatterAdd'> = scatterInto('scatterAdd', true);
