/**
 * Reductions (sum, prod, max, min, all, any over a dims list), argmax/argmin and
 * softmax/logSoftmax along one dim.
 *
 * sum/prod/max/min/all/any walk x once in its own order, together with a view
 * of the output that has stride 0 on the reduced dims, accumulating in a
 * Float64Array (one cell per output element, JS doubles). When the innermost
 * run is reduced (output stride 0) the row is folded into a local variable and
 * merged once; otherwise the row adds into a run of accumulators. Either way
 * the inner loop is tight, whatever dims are reduced (no permutation needed,
 * and reducing a leading dim stays cache friendly).
 *
 * argmax/argmin/softmax walk the output positions (x with the dim collapsed);
 * for each row of positions they either scan along the dim per position (when
 * the dim is the faster one in memory) or sweep the dim in the outer loop and
 * the positions in the inner loop with per-position scratch.
 */
import type { TypedArray } from '../../dtype.js';
import type { Kernel, KernelAttrs, ReduceOp } from '../types.js';
import { type Arg, Walker, contiguous, numelOf, replaced, rowMajorStrides } from './strided.js';

type K<A> = Kernel<A, TypedArray>;

// ---------------------------------------------------------------- dims reductions

/**
 * Folds x[ix + i*sx] (i < n) into acc[ia + i*sa] (sa = 0: all into acc[ia]).
 * `int`: integer/bool input (prod via Math.imul, exact int32 wrap-around).
 */
function reduceRow(op: ReduceOp, int: boolean, x: TypedArray, ix: number, sx: number, acc: Float64Array, ia: number, sa: number, n: number): void {
  switch (op) {
    case 'sum':
      if (sa === 0) {
        let s = 0;
        for (let i = 0; i < n; i++, ix += sx) s += x[ix];
        acc[ia] += s;
      } else for (let i = 0; i < n; i++, ix += sx, ia += sa) acc[ia] += x[ix];
      return;
    case 'prod':
      if (int) {
        if (sa === 0) {
          let s = 1;
          for (let i = 0; i < n; i++, ix += sx) s = Math.imul(s, x[ix]);
          acc[ia] = Math.imul(acc[ia], s);
        } else for (let i = 0; i < n; i++, ix += sx, ia += sa) acc[ia] = Math.imul(acc[ia], x[ix]);
      } else if (sa === 0) {
        let s = 1;
        for (let i = 0; i < n; i++, ix += sx) s *= x[ix];
        acc[ia] *= s;
      } else for (let i = 0; i < n; i++, ix += sx, ia += sa) acc[ia] *= x[ix];
      return;
    case 'max':
      // NaN propagates: once the running value is NaN no comparison replaces it.
      if (sa === 0) {
        let s = acc[ia];
        for (let i = 0; i < n; i++, ix += sx) {
          const v = x[ix];
          if (v > s || Number.isNaN(v)) s = v;
        }
        acc[ia] = s;
      } else {
        for (let i = 0; i < n; i++, ix += sx, ia += sa) {
          const v = x[ix];
          if (v > acc[ia] || Number.isNaN(v)) acc[ia] = v;
        }
      }
      return;
    case 'min':
      if (sa === 0) {
        let s = acc[ia];
        for (let i = 0; i < n; i++, ix += sx) {
          const v = x[ix];
          if (v < s || Number.isNaN(v)) s = v;
        }
        acc[ia] = s;
      } else {
        for (let i = 0; i < n; i++, ix += sx, ia += sa) {
          const v = x[ix];
          if (v < acc[ia] || Number.isNaN(v)) acc[ia] = v;
        }
      }
      return;
    case 'all':
      if (sa === 0) {
        for (let i = 0; i < n; i++, ix += sx) {
          if (x[ix] === 0) {
            acc[ia] = 0;
            return;
          }
        }
      } else for (let i = 0; i < n; i++, ix += sx, ia += sa) if (x[ix] === 0) acc[ia] = 0;
      return;
    case 'any':
      if (sa === 0) {
        for (let i = 0; i < n; i++, ix += sx) {
          if (x[ix] !== 0) {
            acc[ia] = 1;
            return;
          }
        }
      } else for (let i = 0; i < n; i++, ix += sx, ia += sa) if (x[ix] !== 0) acc[ia] = 1;
      return;
  }
}

const INIT: Record<ReduceOp, number> = { sum: 0, prod: 1, max: -Infinity, min: Infinity, all: 1, any: 0 };

/** Writes row-major `values` into y (converting to y's dtype by typed-array assignment). */
function store(y: Arg, values: Float64Array): void {
  if (contiguous(y)) {
    y.buf.set(values, y.offset);
    return;
  }
  const w = new Walker(y.shape, [y.strides, rowMajorStrides(y.shape)], [y.offset, 0]);
  const buf = y.buf;
  for (let r = 0; r < w.rows; r++, w.next()) {
    const sy = w.inner[0];
    const sv = w.inner[1];
    for (let i = 0, iy = w.pos[0], iv = w.pos[1]; i < w.n; i++, iy += sy, iv += sv) buf[iy] = values[iv];
  }
}

function reduceKernel(op: ReduceOp): K<{ readonly dims: readonly number[] }> {
  return (ins, outs, attrs) => {
    const x = ins[0];
    const y = outs[0];
    const shape = x.shape;
    const nd = shape.length;
    // The output as a view over x's shape: row-major keepdim strides, 0 on reduced dims.
    const outShape = shape.slice();
    for (const d of attrs.dims) if (d < nd) outShape[d] = 1;
    const accStrides = rowMajorStrides(outShape);
    for (const d of attrs.dims) if (d < nd) accStrides[d] = 0;
    const acc = new Float64Array(numelOf(outShape)).fill(INIT[op]);
    const int = x.dtype !== 'float32' && x.dtype !== 'float64';
    const w = new Walker(shape, [x.strides, accStrides], [x.offset, 0]);
    const p = w.pos;
    const s = w.inner;
    for (let r = 0; r < w.rows; r++, w.next()) reduceRow(op, int, x.buf, p[0], s[0], acc, p[1], s[1], w.n);
    store(y, acc);
  };
}

// ---------------------------------------------------------------- along one dim

/** Shared set-up of argmax/argmin/softmax: positions walker and the dim's length/stride. */
function alongDim(x: Arg, y: Arg, dim: number): { w: Walker; len: number; sd: number; yd: number; vectorize: boolean } {
  const nd = x.shape.length;
  const len = nd === 0 ? 1 : x.shape[dim];
  const sd = nd === 0 ? 0 : x.strides[dim];
  const yd = nd === 0 || y.shape.length === 0 ? 0 : y.strides[dim];
  const posShape = nd === 0 ? [] : replaced(x.shape, dim, 1);
  const w = new Walker(posShape, [x.strides, y.strides], [x.offset, y.offset]);
  // Sweep the dim in the outer loop when the positions are closer in memory than the dim's steps.
  const vectorize = w.n > 1 && Math.abs(w.inner[0]) < Math.abs(sd);
  return { w, len, sd, yd, vectorize };
}

function argKernel(isMax: boolean): K<{ readonly dim: number }> {
  return (ins, outs, attrs) => {
    const xa = ins[0];
    const ya = outs[0];
    const { w, len, sd, vectorize } = alongDim(xa, ya, attrs.dim);
    if (len === 0) return;
    const x = xa.buf;
    const y = ya.buf;
    const n = w.n;
    const best = vectorize ? new Float64Array(n) : undefined;
    for (let r = 0; r < w.rows; r++, w.next()) {
      const ix = w.inner[0];
      const iy = w.inner[1];
      const px0 = w.pos[0];
      const py0 = w.pos[1];
      // First extreme wins (strict comparison); the first NaN wins over everything.
      if (best !== undefined) {
        for (let j = 0, px = px0, py = py0; j < n; j++, px += ix, py += iy) {
          best[j] = x[px];
          y[py] = 0;
        }
        for (let k = 1, base = px0 + sd; k < len; k++, base += sd) {
          if (isMax) {
            for (let j = 0, px = base, py = py0; j < n; j++, px += ix, py += iy) {
              const v = x[px];
              const b = best[j];
              if (v > b || (Number.isNaN(v) && !Number.isNaN(b))) {
                best[j] = v;
                y[py] = k;
              }
            }
          } else {
            for (let j = 0, px = base, py = py0; j < n; j++, px += ix, py += iy) {
              const v = x[px];
              const b = best[j];
              if (v < b || (Number.isNaN(v) && !Number.isNaN(b))) {
                best[j] = v;
                y[py] = k;
              }
            }
          }
        }
      } else if (isMax) {
        for (let j = 0, px = px0, py = py0; j < n; j++, px += ix, py += iy) {
          let b = x[px];
          let bi = 0;
          for (let k = 1, q = px + sd; k < len && !Number.isNaN(b); k++, q += sd) {
            const v = x[q];
            if (v > b || Number.isNaN(v)) {
              b = v;
              bi = k;
            }
          }
          y[py] = bi;
        }
      } else {
        for (let j = 0, px = px0, py = py0; j < n; j++, px += ix, py += iy) {
          let b = x[px];
          let bi = 0;
          for (let k = 1, q = px + sd; k < len && !Number.isNaN(b); k++, q += sd) {
            const v = x[q];
            if (v < b || Number.isNaN(v)) {
              b = v;
              bi = k;
            }
          }
          y[py] = bi;
        }
      }
    }
  };
}

/** Doubles of exp scratch for the blocked softmax path. */
const SOFTMAX_SCRATCH = 1 << 15;

function softmaxKernel(log: boolean): K<{ readonly dim: number }> {
  return (ins, outs, attrs) => {
    const xa = ins[0];
    const ya = outs[0];
    const { w, len, sd, yd, vectorize } = alongDim(xa, ya, attrs.dim);
    if (len === 0) return;
    const x = xa.buf;
    const y = ya.buf;
    const n = w.n;
    if (vectorize) {
      // Dim in the outer loop, a block of positions inner: max, then exp (kept in
      // double scratch) and its sum, then the output. Blocks bound the scratch.
      const bs = Math.min(n, Math.max(1, Math.floor(SOFTMAX_SCRATCH / len)));
      const m = new Float64Array(bs);
      const s = new Float64Array(bs);
      const e = log ? undefined : new Float64Array(bs * len);
      for (let r = 0; r < w.rows; r++, w.next()) {
        const ix = w.inner[0];
        const iy = w.inner[1];
        for (let j0 = 0; j0 < n; j0 += bs) {
          const nb = Math.min(bs, n - j0);
          const px0 = w.pos[0] + j0 * ix;
          const py0 = w.pos[1] + j0 * iy;
          m.fill(-Infinity);
          s.fill(0);
          for (let k = 0, base = px0; k < len; k++, base += sd) {
            for (let j = 0, px = base; j < nb; j++, px += ix) {
              const v = x[px];
              if (v > m[j] || Number.isNaN(v)) m[j] = v;
            }
          }
          if (e === undefined) {
            for (let k = 0, base = px0; k < len; k++, base += sd) {
              for (let j = 0, px = base; j < nb; j++, px += ix) s[j] += Math.exp(x[px] - m[j]);
            }
            for (let j = 0; j < nb; j++) s[j] = Math.log(s[j]);
            for (let k = 0, bx = px0, by = py0; k < len; k++, bx += sd, by += yd) {
              for (let j = 0, px = bx, py = by; j < nb; j++, px += ix, py += iy) y[py] = x[px] - m[j] - s[j];
            }
          } else {
            for (let k = 0, base = px0, q = 0; k < len; k++, base += sd) {
              for (let j = 0, px = base; j < nb; j++, px += ix, q++) {
                const t = Math.exp(x[px] - m[j]);
                e[q] = t;
                s[j] += t;
              }
            }
            for (let k = 0, by = py0, q = 0; k < len; k++, by += yd) {
              for (let j = 0, py = by; j < nb; j++, py += iy, q++) y[py] = e[q] / s[j];
            }
          }
        }
      }
      return;
    }
    // One position at a time, scanning along the dim; exp values kept in double scratch.
    const e = new Float64Array(len);
    for (let r = 0; r < w.rows; r++, w.next()) {
      const ix = w.inner[0];
      const iy = w.inner[1];
      for (let j = 0, px = w.pos[0], py = w.pos[1]; j < n; j++, px += ix, py += iy) {
        let m = -Infinity;
        for (let k = 0, q = px; k < len; k++, q += sd) {
          const v = x[q];
          if (v > m || Number.isNaN(v)) m = v;
        }
        let s = 0;
        for (let k = 0, q = px; k < len; k++, q += sd) {
          const t = Math.exp(x[q] - m);
          e[k] = t;
          s += t;
        }
        if (log) {
          const ls = Math.log(s);
          for (let k = 0, q = px, o = py; k < len; k++, q += sd, o += yd) y[o] = x[q] - m - ls;
        } else {
          for (let k = 0, o = py; k < len; k++, o += yd) y[o] = e[k] / s;
        }
      }
    }
  };
}

/** Each line along dim sorted stably (Array.prototype.sort is stable) with NaN above every number. */
const sortKernel: K<KernelAttrs['sort']> = (ins, outs, { dim, descending }) => {
  const xa = ins[0];
  const [va, ia] = outs;
  const { w, len, sd, yd } = alongDim(xa, va, dim);
  const x = xa.buf;
  const order = Array.from({ length: len }, (_, k) => k);
  const line = new Float64Array(len);
  // NaN compares as the largest value; equal values keep their positions (stability).
  const ascending = (a: number, b: number) => {
    const u = line[a];
    const v = line[b];
    if (Number.isNaN(u) || Number.isNaN(v)) return Number(Number.isNaN(u)) - Number(Number.isNaN(v));
    return u - v;
  };
  const compare = descending ? (a: number, b: number) => ascending(b, a) : ascending;
  for (let r = 0; r < w.rows; r++, w.next()) {
    for (let j = 0, px = w.pos[0], py = w.pos[1]; j < w.n; j++, px += w.inner[0], py += w.inner[1]) {
      for (let k = 0, q = px; k < len; k++, q += sd) {
        line[k] = x[q];
        order[k] = k;
      }
      order.sort(compare);
      for (let k = 0, o = py; k < len; k++, o += yd) {
        va.buf[o] = line[order[k]];
        ia.buf[o] = order[k];
      }
    }
  }
};

/** Running sums along the dim, accumulated in float64 (int32 outputs wrap as stores into an Int32Array do). */
const cumsumKernel: K<KernelAttrs['cumsum']> = (ins, outs, { dim }) => {
  const xa = ins[0];
  const ya = outs[0];
  const { w, len, sd, yd } = alongDim(xa, ya, dim);
  const x = xa.buf;
  const y = ya.buf;
  for (let r = 0; r < w.rows; r++, w.next()) {
    for (let j = 0, px = w.pos[0], py = w.pos[1]; j < w.n; j++, px += w.inner[0], py += w.inner[1]) {
      let total = 0;
      for (let k = 0, q = px, o = py; k < len; k++, q += sd, o += yd) {
        total += x[q];
        y[o] = total;
      }
    }
  }
};

export const reduceKernels = {
  sum: reduceKernel('sum'),
  prod: reduceKernel('prod'),
  max: reduceKernel('max'),
  min: reduceKernel('min'),
  all: reduceKernel('all'),
  any: reduceKernel('any'),
  argmax: argKernel(true) as K<KernelAttrs['argmax']>,
  argmin: argKernel(false) as K<KernelAttrs['argmin']>,
  sort: sortKernel,
  cumsum: cumsumKernel,
  softmax: softmaxKernel(false) as K<KernelAttrs['softmax']>,
  logSoftmax: softmaxKernel(true) as K<KernelAttrs['logSoftmax']>,
};
