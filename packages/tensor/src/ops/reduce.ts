/** Reductions over one, several or all dims, with keepdim; softmax and logSoftmax. */
import type { ReduceOp } from '../backend/types.js';
import { DEFAULT_FLOAT, isFloating } from '../dtype.js';
import type { DType } from '../dtype.js';
import { dispatch, dispatchView } from '../dispatch.js';
import { fail, fmtShape } from '../errors.js';
import { normalizeDim, normalizeDims } from '../layout.js';
import type { Tensor } from '../tensor.js';
import { cast, clone } from './convert.js';
import { div, exp, log, mul, sub, where, abs, lt, add, isclose, eq, ne, pow, sqrt } from './elementwise.js';
import type { IsCloseOptions, Operand } from './elementwise.js';
import { asTensor } from './util.js';

export type Dims = number | readonly number[] | undefined;

function outDtype(op: ReduceOp, dtype: DType): DType {
  if (op === 'all' || op === 'any') return 'bool';
  if ((op === 'sum' || op === 'prod') && !isFloating(dtype)) return 'int32';
  return dtype;
}

/** Drop the reduced (size-1) dims of a keepdim result unless keepdim. */
function finish(r: Tensor, dims: readonly number[], keepdim: boolean): Tensor {
  if (keepdim) return r;
  const out = dispatchView('reshape', r, { shape: r.shape.filter((_, i) => !dims.includes(i)) });
  r.dispose();
  return out;
}

function reduce(op: ReduceOp, x: Tensor, dim: Dims, keepdim: boolean): Tensor {
  asTensor(op, 'input', x);
  if ((op === 'max' || op === 'min') && x.numel === 0) {
    fail('SHAPE', op, `cannot reduce an empty tensor of shape ${fmtShape(x.shape)}: ${op} has no identity`, 'check the tensor is not empty');
  }
  // A 0-dim tensor reduces as a 1-element vector.
  const input = x.ndim === 0 ? dispatchView('reshape', x, { shape: [1] }) : x;
  const dims = normalizeDims(op, dim, x.ndim === 0 ? 1 : x.ndim);
  const shape = input.shape.map((s, i) => (dims.includes(i) ? 1 : s));
  const r = dispatch(op, [input], { dims }, [{ shape, dtype: outDtype(op, x.dtype) }])[0];
  if (input !== x) {
    input.dispose();
    const out = dispatchView('reshape', r, { shape: [] });
    r.dispose();
    return out;
  }
  return finish(r, dims, keepdim);
}

export const sum = (x: Tensor, dim?: Dims, keepdim = false) => reduce('sum', x, dim, keepdim);
export const prod = (x: Tensor, dim?: Dims, keepdim = false) => reduce('prod', x, dim, keepdim);
export const all = (x: Tensor, dim?: Dims, keepdim = false) => reduce('all', x, dim, keepdim);
export const any = (x: Tensor, dim?: Dims, keepdim = false) => reduce('any', x, dim, keepdim);
/** Maximum over dims (values only; torch.amax). */
export const amax = (x: Tensor, dim?: Dims, keepdim = false) => reduce('max', x, dim, keepdim);
export const amin = (x: Tensor, dim?: Dims, keepdim = false) => reduce('min', x, dim, keepdim);

function countOf(x: Tensor, dim: Dims): number {
  const dims = normalizeDims('mean', dim, x.ndim);
  return dims.reduce((n, d) => n * x.shape[d], 1);
}

export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  asTensor('mean', 'input', x);
  if (!isFloating(x.dtype)) fail('DTYPE', 'mean', `could not infer output dtype: input dtype must be floating point; got ${x.dtype}`, "cast first, e.g. x.to('float32').mean()");
  const s = sum(x, dim, keepdim);
  const out = div(s, countOf(x, dim));
  s.dispose();
  return out;
}

export interface VarOptions {
  /** Subtracted from the count in the divisor (1 = Bessel's correction, PyTorch's default). */
  correction?: number;
  keepdim?: boolean;
}

export function variance(x: Tensor, dim?: Dims, opts: VarOptions = {}): Tensor {
  asTensor('var', 'input', x);
  if (!isFloating(x.dtype)) fail('DTYPE', 'var', `expected a floating point tensor; got ${x.dtype}`, "cast first, e.g. x.to('float32')");
  const correction = opts.correction ?? 1;
  const m = mean(x, dim, true);
  const d = sub(x, m);
  const sq = mul(d, d);
  const s = sum(sq, dim, opts.keepdim ?? false);
  const out = div(s, Math.max(0, countOf(x, dim) - correction));
  for (const t of [m, d, sq, s]) t.dispose();
  return out;
}

/** A vector norm's order: a number (Infinity: max |x|, -Infinity: min |x|, 0: count of non-zeros) or 'fro' (2). */
export type NormOrd = number | 'fro';

/**
 * torch.linalg.vector_norm: (sum |x|^ord)^(1/ord) over `dim` (every dim by default). At a zero
 * vector the gradient is 0, as PyTorch's, not the NaN of a plain sqrt(sum(x * x)): the root
 * is taken of the sum with 0 replaced by 1 and the sum divided by it.
 */
export function vectorNorm(x: Tensor, ord: NormOrd = 2, dim?: Dims, keepdim = false): Tensor {
  asTensor('vectorNorm', 'input', x);
  if (!isFloating(x.dtype)) fail('DTYPE', 'vectorNorm', `expected a floating point tensor; got ${x.dtype}`, "cast first, e.g. x.to('float32')");
  const p = ord === 'fro' ? 2 : ord;
  if (typeof p !== 'number' || Number.isNaN(p)) fail('ARGUMENT', 'vectorNorm', `ord must be a number or 'fro'; got ${String(ord)}`);
  const made: Tensor[] = [];
  const keep = (t: Tensor) => {
    made.push(t);
    return t;
  };
  let out: Tensor;
  if (p === 0) out = sum(keep(cast(keep(ne(x, 0)), x.dtype)), dim, keepdim);
  else if (p === Number.POSITIVE_INFINITY) out = amax(keep(abs(x)), dim, keepdim);
  else if (p === Number.NEGATIVE_INFINITY) out = amin(keep(abs(x)), dim, keepdim);
  else if (p === 1) out = sum(keep(abs(x)), dim, keepdim);
  else {
    const s = keep(sum(keep(p === 2 ? mul(x, x) : pow(keep(abs(x)), p)), dim, keepdim));
    // s^(1/p) = s / s^(1 - 1/p) for s > 0, and 0 (with gradient 0) at s = 0.
    const safe = keep(where(keep(eq(s, 0)), 1, s));
    out = div(s, keep(p === 2 ? sqrt(safe) : pow(safe, 1 - 1 / p)));
  }
  for (const t of made) t.dispose();
  return out;
}

export function std(x: Tensor, dim?: Dims, opts: VarOptions = {}): Tensor {
  const v = variance(x, dim, opts);
  const out = v.sqrt();
  v.dispose();
  return out;
}

/** log(sum(exp(x))) over dims, stable: the max is subtracted (treated as 0 where infinite). */
export function logsumexp(x: Tensor, dim: Dims, keepdim = false): Tensor {
  asTensor('logsumexp', 'input', x);
  const input = isFloating(x.dtype) ? x : cast(x, DEFAULT_FLOAT);
  const m0 = amax(input, dim, true);
  const am = abs(m0);
  const finite = lt(am, Infinity);
  const m = where(finite, m0, 0);
  const shifted = sub(input, m);
  const e = exp(shifted);
  const s = sum(e, dim, true);
  const l = log(s);
  const r = add(l, m);
  const out = keepdim ? r : finish(r, normalizeDims('logsumexp', dim, x.ndim), false);
  for (const t of [m0, am, finite, m, shifted, e, s, l]) t.dispose();
  if (input !== x) input.dispose();
  return out;
}

/**
 * torch.sort: the values along `dim` (default the last) in ascending or descending order, and
 * the int32 positions they came from. Always stable (PyTorch's stable=True): equal values keep
 * their order, so the result does not depend on the device. NaN sorts above every number.
 */
export function sort(x: Tensor, dim = -1, descending = false): ValuesIndices {
  asTensor('sort', 'input', x);
  if (typeof descending !== 'boolean') fail('ARGUMENT', 'sort', `descending must be true or false; got ${String(descending)}`);
  if (x.ndim === 0) {
    normalizeDim('sort', dim, 1);
    const line = dispatchView('reshape', x, { shape: [1] });
    const r = sort(line, 0, descending);
    line.dispose();
    const out = { values: dispatchView('reshape', r.values, { shape: [] }), indices: dispatchView('reshape', r.indices, { shape: [] }) };
    r.values.dispose();
    r.indices.dispose();
    return out;
  }
  const d = normalizeDim('sort', dim, x.ndim);
  const [values, indices] = dispatch('sort', [x], { dim: d, descending }, [
    { shape: x.shape, dtype: x.dtype },
    { shape: x.shape, dtype: 'int32' },
  ]);
  return { values, indices };
}

/**
 * torch.cumsum: running sums along `dim`. Float tensors keep their dtype (sums accumulated in
 * float64); bool, uint8 and int32 ones give int32 (PyTorch: int64), wrapping past 2^31.
 */
export function cumsum(x: Tensor, dim: number): Tensor {
  asTensor('cumsum', 'input', x);
  if (typeof dim !== 'number') fail('ARGUMENT', 'cumsum', `dim must be given (an integer); got ${String(dim)}`, 'e.g. x.cumsum(0)');
  const input = isFloating(x.dtype) ? x : cast(x, 'int32');
  if (x.ndim === 0) {
    normalizeDim('cumsum', dim, 1);
    return input === x ? clone(x) : input;
  }
  const d = normalizeDim('cumsum', dim, x.ndim);
  const out = dispatch('cumsum', [input], { dim: d }, [{ shape: x.shape, dtype: input.dtype }])[0];
  if (input !== x) input.dispose();
  return out;
}

/** torch.argsort: the int32 positions that sort x along `dim` (stable; see sort). */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  const { values, indices } = sort(x, dim, descending);
  values.dispose();
  return indices;
}

/**
 * torch.topk: the k largest (or smallest) values along `dim` and their int32 positions, largest
 * first (smallest first when largest is false); equal values in their original order.
 */
export function topk(x: Tensor, k: number, dim = -1, largest = true): ValuesIndices {
  asTensor('topk', 'input', x);
  const d = normalizeDim('topk', dim, Math.max(x.ndim, 1));
  const size = x.ndim === 0 ? 1 : x.shape[d];
  if (!Number.isInteger(k) || k < 0 || k > size) fail('ARGUMENT', 'topk', `k must be an integer in [0, ${size}] (the size of dim ${d}); got ${String(k)}`);
  const all = sort(x, d, largest);
  if (k === size) return all;
  const cut = (t: Tensor) => {
    const v = dispatchView('slice', t, { dim: d, start: 0, end: k, step: 1 });
    const c = clone(v);
    v.dispose();
    t.dispose();
    return c;
  };
  return { values: cut(all.values), indices: cut(all.indices) };
}

/** torch.allclose: whether isclose holds everywhere (a and b broadcast). */
export function allclose(a: Tensor, b: Operand, opts: IsCloseOptions = {}): boolean {
  const close = isclose(a, b, opts);
  const every = all(close);
  const out = every.item() !== 0;
  close.dispose();
  every.dispose();
  return out;
}

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

function argReduce(op: 'argmax' | 'argmin', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  asTensor(op, 'input', x);
  if (x.numel === 0) fail('SHAPE', op, `cannot ${op} an empty tensor of shape ${fmtShape(x.shape)}`);
  if (dim === undefined) {
    // Over all elements: the index into the flattened tensor.
    const flat = x.reshape([-1]);
    const r = dispatch(op, [flat], { dim: 0 }, [{ shape: [1], dtype: 'int32' }])[0];
    if (flat !== x) flat.dispose();
    const out = dispatchView('reshape', r, { shape: keepdim ? x.shape.map(() => 1) : [] });
    r.dispose();
    return out;
  }
  const d = normalizeDim(op, dim, x.ndim);
  const shape = x.shape.map((s, i) => (i === d ? 1 : s));
  return finish(dispatch(op, [x], { dim: d }, [{ shape, dtype: 'int32' }])[0], [d], keepdim);
}

/** Index of the maximum (first one on ties; NaN counts as the maximum). int32 (PyTorch: int64). */
export const argmax = (x: Tensor, dim?: number, keepdim = false) => argReduce('argmax', x, dim, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false) => argReduce('argmin', x, dim, keepdim);

/** Values and indices of the maximum along one dim (torch.max(x, dim)). */
export function maxDim(x: Tensor, dim: number, keepdim = false): ValuesIndices {
  return { values: amax(x, dim, keepdim), indices: argmax(x, dim, keepdim) };
}
export function minDim(x: Tensor, dim: number, keepdim = false): ValuesIndices {
  return { values: amin(x, dim, keepdim), indices: argmin(x, dim, keepdim) };
}

function softmaxLike(op: 'softmax' | 'logSoftmax', x: Tensor, dim: number): Tensor {
  asTensor(op, 'input', x);
  if (dim === undefined) fail('ARGUMENT', op, 'dim is required', 'softmax over classes of a batch is usually dim 1 (or -1)');
  const input = isFloating(x.dtype) ? x : cast(x, DEFAULT_FLOAT);
  const out = dispatch(op, [input], { dim: normalizeDim(op, dim, x.ndim) }, [{ shape: x.shape, dtype: input.dtype }])[0];
  if (input !== x) input.dispose();
  return out;
}

export const softmax = (x: Tensor, dim: number) => softmaxLike('softmax', x, dim);
export const logSoftmax = (x: Tensor, dim: number) => softmaxLike('logSoftmax', x, dim);
