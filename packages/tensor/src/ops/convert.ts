/** Dtype casts, device moves, copies and the in-place write every `op_` ends in. */
import { DTYPES, category, isDType } from '../dtype.js';
import type { DType } from '../dtype.js';
import { allocTensor, dispatch, dispatchCopyInto } from '../dispatch.js';
import { backendFor, canonicalDevice } from '../device.js';
import type { Device } from '../device.js';
import { fail, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import { assertAlive } from './util.js';
import { broadcastTo } from './shape.js';
import { scalarTensor } from './creation.js';

/** Cast to a dtype (a new tensor; returns x itself when the dtype is unchanged). */
export function cast(x: Tensor, dtype: DType): Tensor {
  assertAlive('to', x);
  if (!isDType(dtype)) fail('DTYPE', 'to', `unknown dtype '${String(dtype)}'`, `use one of ${DTYPES.join(', ')}`);
  if (x.dtype === dtype) return x;
  return dispatch('cast', [x], {}, [{ shape: x.shape, dtype }])[0];
}

/** Move to another device: read on the source backend, write on the target. */
function moveTo(x: Tensor, device: Device): Tensor {
  const src = x.contiguous();
  const data = src.storage.backend.read(src.storage.buf, src.dtype, src.offset, src.numel);
  if (src !== x) src.dispose();
  const out = allocTensor(device, x.shape, x.dtype);
  out.storage.backend.write(out.storage.buf, out.dtype, 0, data);
  return out;
}

export function to(x: Tensor, target: Device | DType): Tensor {
  assertAlive('to', x);
  if (isDType(target)) return cast(x, target);
  if (typeof target !== 'string') fail('ARGUMENT', 'to', `expected a device or dtype string; got ${typeof target}`);
  if (/^[a-z]+\d+$/.test(target)) fail('DTYPE', 'to', `unknown dtype '${target}'`, `use one of ${DTYPES.join(', ')} (int64 is represented as int32)`);
  const device = canonicalDevice('to', target);
  backendFor('to', device);
  return device === x.device ? x : moveTo(x, device);
}

/** A contiguous copy, or x itself when already contiguous. */
export function contiguous(x: Tensor): Tensor {
  assertAlive('contiguous', x);
  return x.isContiguous() ? x : clone(x);
}

export function clone(x: Tensor): Tensor {
  assertAlive('clone', x);
  return dispatch('copy', [x], {}, [{ shape: x.shape, dtype: x.dtype }])[0];
}

/** Write src into dst (broadcasting src and casting it to dst's dtype). */
export function copy_<T extends Tensor>(dst: T, src: Tensor): T {
  assertAlive('copy_', dst);
  assertAlive('copy_', src);
  let s = broadcastTo('copy_', src, dst.shape);
  s = cast(s, dst.dtype);
  dispatchCopyInto(dst, s);
  return dst;
}

/** The end of every in-place op: store `result` (computed out of place) into self. */
export function inplace<T extends Tensor>(self: T, op: string, result: Tensor): T {
  if (category(result.dtype) > category(self.dtype)) {
    fail('DTYPE', op, `result type ${result.dtype} can't be cast to the desired output type ${self.dtype}`, `use the out-of-place ${op.slice(0, -1)}() instead`);
  }
  if (result.ndim > self.ndim || result.shape.some((d, i) => d !== self.shape[self.ndim - result.ndim + i])) {
    fail('SHAPE', op, `the result of shape ${fmtShape(result.shape)} does not fit in place into shape ${fmtShape(self.shape)}`);
  }
  copy_(self, result);
  if (result !== self) result.dispose();
  return self;
}

export function fill_<T extends Tensor>(self: T, value: number | boolean): T {
  assertAlive('fill_', self);
  const v = scalarTensor(value, self.dtype, self.device);
  copy_(self, v);
  v.dispose();
  return self;
}

export function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}
