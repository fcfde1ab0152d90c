/** Matrix products: matmul (PyTorch's rules for 1-D operands and batch broadcasting), mm, bmm. */
import { promoteTypes } from '../dtype.js';
import { dispatch, dispatchView } from '../dispatch.js';
import { fail, fmtShape } from '../errors.js';
import { broadcastShapes, viewStrides } from '../layout.js';
import type { Tensor } from '../tensor.js';
import { cast } from './convert.js';
import { broadcastTo, reshape } from './shape.js';
import { asTensor } from './util.js';

/** A (B, M, K) view of t when its layout allows, else a copy. */
function as3d(t: Tensor, b: number, m: number, k: number): Tensor {
  const shape = [b, m, k];
  return viewStrides(t.shape, t.strides, shape) ? dispatchView('reshape', t, { shape }) : reshape(t, shape);
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  asTensor('matmul', 'input', a);
  asTensor('matmul', 'other', b);
  if (a.ndim === 0 || b.ndim === 0) fail('SHAPE', 'matmul', `both arguments need at least 1 dimension; got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`, 'use mul() for scalars');
  const dtype = promoteTypes(a.dtype, b.dtype);
  if (dtype !== 'float32' && dtype !== 'float64') {
    fail('DTYPE', 'matmul', `expected float32 or float64 tensors; got ${a.dtype} and ${b.dtype}`, "cast with x.to('float32')");
  }
  const k = a.shape[a.ndim - 1];
  const kb = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (k !== kb) {
    fail('SHAPE', 'matmul', `shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (${a.ndim === 1 ? 1 : a.shape[a.ndim - 2]}x${k} and ${kb}x${b.ndim === 1 ? 1 : b.shape[b.ndim - 1]})`, 'the last dim of the first must equal the second-to-last of the second');
  }
  const m = a.ndim === 1 ? 1 : a.shape[a.ndim - 2];
  const n = b.ndim === 1 ? 1 : b.shape[b.ndim - 1];
  const aBatch = a.shape.slice(0, Math.max(0, a.ndim - 2));
  const bBatch = b.shape.slice(0, Math.max(0, b.ndim - 2));
  const batch = broadcastShapes('matmul', aBatch, bBatch);
  const bs = batch.reduce((x, y) => x * y, 1);
  const ca = cast(a, dtype);
  const cb = cast(b, dtype);
  // 1-D operands become a row (a) or a column (b); the extra dim is dropped at the end.
  const a2 = a.ndim === 1 ? dispatchView('reshape', ca, { shape: [1, k] }) : ca;
  const b2 = b.ndim === 1 ? dispatchView('reshape', cb, { shape: [k, 1] }) : cb;
  let a3: Tensor;
  let b3: Tensor;
  if (b2.ndim === 2) {
    // Fold a's batch into its rows: one (1, bs*m, k) @ (1, k, n) product.
    a3 = as3d(a2, 1, bs * m, k);
    b3 = as3d(b2, 1, k, n);
  } else {
    const ea = broadcastTo('matmul', a2, [...batch, m, k]);
    const eb = broadcastTo('matmul', b2, [...batch, k, n]);
    a3 = as3d(ea, bs, m, k);
    b3 = as3d(eb, bs, k, n);
    for (const [e, c] of [[ea, a2], [eb, b2]] as const) if (e !== c) e.dispose();
  }
  const y = dispatch('matmul', [a3, b3], {}, [{ shape: [a3.shape[0], a3.shape[1], n], dtype }])[0];
  const outShape = [...batch, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])];
  const out = dispatchView('reshape', y, { shape: outShape });
  for (const t of new Set([y, a3, b3, a2, b2, ca, cb])) if (t !== a && t !== b) t.dispose();
  return out;
}

/** 2-D matrix product. */
export function mm(a: Tensor, b: Tensor): Tensor {
  asTensor('mm', 'input', a);
  asTensor('mm', 'other', b);
  if (a.ndim !== 2 || b.ndim !== 2) fail('SHAPE', 'mm', `expects 2-D tensors; got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`, 'use matmul() for other ranks');
  return matmul(a, b);
}

/** Batched product of (B, M, K) and (B, K, N) without broadcasting. */
export function bmm(a: Tensor, b: Tensor): Tensor {
  asTensor('bmm', 'input', a);
  asTensor('bmm', 'other', b);
  if (a.ndim !== 3 || b.ndim !== 3 || a.shape[0] !== b.shape[0]) {
    fail('SHAPE', 'bmm', `expects 3-D tensors with equal batch sizes; got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  return matmul(a, b);
}
