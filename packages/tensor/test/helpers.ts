/** Shared by the tensor package's tests. */
import { cpuBackend } from '../src/backend/cpu/index.js';
import type { TensorArg } from '../src/backend/types.js';
import { backendFor } from '../src/device.js';
import type { DType, TypedArray } from '../src/dtype.js';
import type { Backend } from '../src/index.js';
import { registerBackend } from '../src/index.js';
import { contiguousStrides } from '../src/layout.js';

export type Arg = TensorArg<TypedArray>;

/** Runs `fn` with `backend` registered, then restores the backend that served 'cpu' before. */
export function withBackend<R>(backend: Backend, fn: () => R): R {
  const original = backendFor('test', 'cpu');
  registerBackend(backend);
  try {
    return fn();
  } finally {
    registerBackend(original);
  }
}

// ---------------------------------------------------------------- kernel arguments

function arrayOf(dtype: DType, values: readonly number[]): TypedArray {
  const buf = cpuBackend.alloc(dtype, values.length);
  buf.set(values);
  return buf;
}

/** A tensor argument over `values`, row-major unless strides/offset are given. */
export function arg(dtype: DType, values: readonly number[], shape: readonly number[], strides?: readonly number[], offset = 0): Arg {
  return { buf: arrayOf(dtype, values), dtype, shape, strides: strides ?? contiguousStrides(shape), offset };
}

/** A fresh contiguous output. */
export function out(dtype: DType, shape: readonly number[]): Arg {
  let n = 1;
  for (const d of shape) n *= d;
  return { buf: cpuBackend.alloc(dtype, n), dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

/** Logical values of a strided argument, row-major. */
export function values(a: Arg): number[] {
  const res: number[] = [];
  const idx = new Array<number>(a.shape.length).fill(0);
  let n = 1;
  for (const d of a.shape) n *= d;
  for (let i = 0; i < n; i++) {
    let off = a.offset;
    for (let d = 0; d < idx.length; d++) off += idx[d] * a.strides[d];
    res.push(a.buf[off]);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < a.shape[d]) break;
      idx[d] = 0;
    }
  }
  return res;
}

/**
 * Deterministic pseudo-random strided views over fresh buffers (seeded): each view's dims are
 * permuted in storage, stepped by 1 or 2, maybe flipped (negative stride) and, for a dim above
 * size 1, broadcast (stride 0) one time in four. `rnd(n)` draws from the same sequence.
 */
export function randomViews(seed: number): { rnd: (n: number) => number; randomView: (shape: number[], dtype: DType) => Arg } {
  let state = seed;
  const rnd = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  function randomView(shape: number[], dtype: DType): Arg {
    const nd = shape.length;
    const perm = Array.from({ length: nd }, (_, i) => i);
    for (let i = nd - 1; i > 0; i--) {
      const j = rnd(i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    // Storage shape: the view's dims in `perm` order, with step 1 or 2 and maybe flipped.
    const steps = shape.map(() => 1 + rnd(2));
    const storeShape = perm.map((d) => shape[d] * steps[d]);
    const storeStrides = contiguousStrides(storeShape);
    const n = storeShape.reduce((a, b) => a * b, 1) + 3;
    const vals = Array.from({ length: n }, (_, i) => (i * 7) % 23);
    const strides = new Array<number>(nd);
    let offset = 3;
    perm.forEach((d, k) => {
      const broadcast = shape[d] > 1 && rnd(4) === 0;
      strides[d] = broadcast ? 0 : storeStrides[k] * steps[d];
      if (!broadcast && rnd(3) === 0) {
        offset += (shape[d] - 1) * strides[d];
        strides[d] = -strides[d];
      }
    });
    return arg(dtype, vals, shape, strides, offset);
  }
  return { rnd, randomView };
}
