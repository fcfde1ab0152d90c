/** Indexing: indexSelect/indexAdd, gather/scatter/scatterAdd, boolean masks, oneHot. */
import { backendFor } from '../device.js';
import { dispatch } from '../dispatch.js';
import { fail, fmtShape } from '../errors.js';
import { normalizeDim } from '../layout.js';
import type { Tensor } from '../tensor.js';
import { cast } from './convert.js';
import { fromHost, scalarTensor, valueFor } from './creation.js';
import { mul, eq } from './elementwise.js';
import { broadcastTo, reshape } from './shape.js';
import { asTensor, requireDType } from './util.js';

/**
 * Index values are checked on the host before a kernel sees them: an index out of range is an
 * error here, never a wrong read. A backend whose kernels check them (CUDA) reports a bad one at
 * the next synchronising call instead, as PyTorch's device-side assert does, so indexing does not
 * wait for the device.
 */
function checkRange(op: string, index: Tensor, size: number, dim: number): void {
  if (backendFor(op, index.device).checksIndexValues) return;
  const data = index.dataSync();
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < 0 || v >= size) {
      fail('VALUE', op, `index ${v} is out of bounds for dimension ${dim} with size ${size} (at flat position ${i} of the index)`, 'indices must lie in [0, size); negative indices are not accepted');
    }
  }
}

function index1d(op: string, x: Tensor, dim: number, index: Tensor): number {
  asTensor(op, 'input', x);
  asTensor(op, 'index', index);
  requireDType(op, 'index', index, ['int32']);
  if (index.ndim > 1) fail('SHAPE', op, `index must be 0-D or 1-D; got shape ${fmtShape(index.shape)}`);
  const d = normalizeDim(op, dim, x.ndim);
  checkRange(op, index, x.ndim === 0 ? 1 : x.shape[d], d);
  return d;
}

/** Entries of x at `index` (int32, 1-D) along dim. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = index1d('indexSelect', x, dim, index);
  const idx = index.ndim === 0 ? reshape(index, [1]) : index;
  const shape = x.shape.map((s, i) => (i === d ? idx.shape[0] : s));
  const out = dispatch('indexSelect', [x, idx], { dim: d }, [{ shape, dtype: x.dtype }])[0];
  if (idx !== index) idx.dispose();
  return out;
}

/** x with alpha * source[i] added at index[i] along dim (repeated indices accumulate). */
export function indexAdd(x: Tensor, dim: number, index: Tensor, source: Tensor, alpha = 1): Tensor {
  const op = 'indexAdd';
  const d = index1d(op, x, dim, index);
  asTensor(op, 'source', source);
  const expected = x.shape.map((s, i) => (i === d ? index.numel : s));
  if (source.ndim !== x.ndim || source.shape.some((s, i) => s !== expected[i])) {
    fail('SHAPE', op, `source must have shape ${fmtShape(expected)}; got ${fmtShape(source.shape)}`);
  }
  const scaled = alpha === 1 ? source : mul(source, alpha);
  const src = cast(scaled, x.dtype);
  const idx = index.ndim === 0 ? reshape(index, [1]) : index;
  const out = dispatch(op, [x, idx, src], { dim: d }, [{ shape: x.shape, dtype: x.dtype }])[0];
  for (const t of new Set([scaled, src, idx])) if (t !== source && t !== index) t.dispose();
  return out;
}

function checkGatherShapes(op: string, x: Tensor, d: number, index: Tensor, src?: Tensor): void {
  if (index.ndim !== x.ndim) fail('SHAPE', op, `index must have the same rank as input (${x.ndim}); got shape ${fmtShape(index.shape)}`);
  index.shape.forEach((s, i) => {
    if (i !== d && s > x.shape[i]) fail('SHAPE', op, `index ${fmtShape(index.shape)} is larger than input ${fmtShape(x.shape)} in dimension ${i}`);
    if (src && s > src.shape[i]) fail('SHAPE', op, `index ${fmtShape(index.shape)} is larger than src ${fmtShape(src.shape)} in dimension ${i}`);
  });
}

/** out[i][j] = x[index[i][j]][j] (dim 0; likewise for other dims). */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'gather';
  asTensor(op, 'input', x);
  asTensor(op, 'index', index);
  requireDType(op, 'index', index, ['int32']);
  const d = normalizeDim(op, dim, x.ndim);
  checkGatherShapes(op, x, d, index);
  checkRange(op, index, x.shape[d], d);
  return dispatch(op, [x, index], { dim: d }, [{ shape: index.shape, dtype: x.dtype }])[0];
}

function scatterLike(op: 'scatter' | 'scatterAdd', x: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
  asTensor(op, 'input', x);
  asTensor(op, 'index', index);
  requireDType(op, 'index', index, ['int32']);
  const d = normalizeDim(op, dim, x.ndim);
  const s = typeof src === 'number' ? broadcastTo(op, scalarTensor(valueFor(op, src, x.dtype), x.dtype, x.device), index.shape) : asTensor(op, 'src', src);
  checkGatherShapes(op, x, d, index, s);
  checkRange(op, index, x.shape[d], d);
  const cs = cast(s, x.dtype);
  const out = dispatch(op, [x, index, cs], { dim: d }, [{ shape: x.shape, dtype: x.dtype }])[0];
  for (const t of new Set([s, cs])) if (t !== src) t.dispose();
  return out;
}

/** A copy of x with src written at index along dim (out[index[i][j]][j] = src[i][j] for dim 0). */
export const scatter = (x: Tensor, dim: number, index: Tensor, src: Tensor | number) => scatterLike('scatter', x, dim, index, src);
/** As scatter, adding (repeated indices accumulate). */
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor) => scatterLike('scatterAdd', x, dim, index, src);

/** Indices of non-zero elements as an (n, rank) int32 tensor (reads the data: synchronises). */
export function nonzero(x: Tensor): Tensor {
  asTensor('nonzero', 'input', x);
  const data = x.dataSync();
  const rows: number[] = [];
  const nd = x.ndim;
  const idx = new Array<number>(nd).fill(0);
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0) rows.push(...idx);
    for (let k = nd - 1; k >= 0; k--) {
      if (++idx[k] < x.shape[k]) break;
      idx[k] = 0;
    }
  }
  return fromHost('nonzero', Int32Array.from(rows), [rows.length / Math.max(nd, 1), nd], 'int32', x.device);
}

/** The elements of x where mask (bool, broadcast with x) holds, as a 1-D tensor. */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  const op = 'maskedSelect';
  asTensor(op, 'input', x);
  asTensor(op, 'mask', mask);
  requireDType(op, 'mask', mask, ['bool']);
  const shape = x.ndim >= mask.ndim ? x.shape : mask.shape;
  const bx = broadcastTo(op, x, shape);
  const bm = broadcastTo(op, mask, shape);
  const flatX = reshape(bx, [-1]);
  const flatM = reshape(bm, [-1]);
  const nz = nonzero(flatM);
  const positions = reshape(nz, [-1]);
  const out = indexSelect(flatX, 0, positions);
  for (const t of new Set([bx, bm, flatX, flatM, nz, positions])) if (t !== x && t !== mask) t.dispose();
  return out;
}

/** One-hot encoding of int32 class indices: shape [...index.shape, numClasses], int32 (PyTorch: int64). */
export function oneHot(index: Tensor, numClasses = -1): Tensor {
  const op = 'oneHot';
  asTensor(op, 'index', index);
  requireDType(op, 'index', index, ['int32']);
  const data = index.dataSync();
  let max = -1;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0) fail('VALUE', op, `class values must be non-negative; got ${data[i]}`);
    max = Math.max(max, data[i]);
  }
  const n = numClasses === -1 ? max + 1 : numClasses;
  if (max >= n) fail('VALUE', op, `class value ${max} is out of range for numClasses ${n}`, 'numClasses must exceed every class value');
  const classes = fromHost(op, Int32Array.from({ length: n }, (_, i) => i), [n], 'int32', index.device);
  const col = reshape(index, [...index.shape, 1]);
  const hot = eq(col, classes);
  const out = cast(hot, 'int32');
  for (const t of [classes, col, hot]) if (t !== index) t.dispose();
  return out;
}
