/**
 * The TypeScript CPU backend ('cpu-ts'): each dtype lives in its own typed array
 * (float32 -> Float32Array, float64 -> Float64Array, int32 -> Int32Array,
 * uint8 and bool -> Uint8Array) and a buffer IS that typed array.
 *
 * It is the fallback wherever native code is absent, so its kernels are written
 * for speed: flat loops for contiguous operands, otherwise a coalesced strided
 * walk with a tight innermost loop (see strided.ts).
 */
import { type DType, type TypedArray, arrayCtor } from '../../dtype.js';
import { type Backend, type KernelTable, POISON_ALLOC, poison } from '../types.js';
import { elementwiseKernels } from './elementwise.js';
import { linalgKernels } from './linalg.js';
import { lossKernels } from './loss.js';
import { normKernels } from './norm.js';
import { movementKernels } from './movement.js';
import { cpuOptim } from './optim.js';
import { poolKernels } from './pool.js';
import { reduceKernels } from './reduce.js';

function alloc(dtype: DType, numel: number, zeroed = true): TypedArray {
  const buf = new (arrayCtor(dtype))(numel);
  return !zeroed && POISON_ALLOC ? poison(buf, dtype) : buf;
}

function write(buf: TypedArray, dtype: DType, offset: number, src: TypedArray): void {
  if (dtype === 'bool') {
    for (let i = 0; i < src.length; i++) buf[offset + i] = src[i] !== 0 ? 1 : 0; // NaN -> 1
    return;
  }
  buf.set(src, offset); // converts when src's type differs (rounding / integer wrap-around)
}

function read(buf: TypedArray, _dtype: DType, offset: number, numel: number): TypedArray {
  return buf.slice(offset, offset + numel);
}

function adopt(dtype: DType, data: TypedArray): TypedArray | undefined {
  return data instanceof arrayCtor(dtype) && dtype !== 'bool' ? data : undefined;
}

export const cpuBackend: Backend<TypedArray> = {
  name: 'cpu-ts',
  deviceType: 'cpu',
  alloc,
  free: () => {},
  write,
  read,
  adopt,
  kernels: {
    ...linalgKernels,
    ...poolKernels,
    ...elementwiseKernels,
    ...reduceKernels,
    ...lossKernels,
    ...normKernels,
    ...movementKernels,
  } satisfies KernelTable<TypedArray>,
  optim: cpuOptim,
};
