/**
 * The float64 reference backend: the specification the fast kernels are tested
 * against. Simple and obviously correct, not fast.
 *
 * - Every dtype is stored in a Float64Array.
 * - Everything is computed in float64; float32 results are NOT rounded to
 *   float32 (the reference keeps the exact-math answer). int32 / uint8 / bool
 *   results are normalised to their dtype's value set (C-like wrap; bool 0/1).
 * - Kernels read strided inputs through one helper (strided.ts: readAll) and
 *   write outputs through another (writeAll), so each kernel works on plain
 *   row-major arrays.
 */
import type { DType, TypedArray } from '../../dtype.js';
import type { Backend, KernelTable } from '../types.js';
import { binaryKernels, clamp, unaryKernels, where } from './elementwise.js';
import {
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  adaptiveMaxPool2d,
  avgPool2d,
  avgPool2dBackward,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  matmul,
  maxPool2d,
  maxPool2dBackward,
} from './nn.js';
import { crossEntropy, crossEntropyBackward } from './loss.js';
import { batchNorm, batchNormBackward, layerNorm, layerNormBackward } from './norm.js';
import { cast, cat, copy, fill, gather, indexAdd, indexSelect, pad, scatter, scatterAdd } from './movement.js';
import { all, any, argmax, argmin, cumsum, logSoftmax, max, min, prod, softmax, sort, sum } from './reduce.js';

const kernels: KernelTable<Float64Array> = {
  ...unaryKernels,
  clamp,
  ...binaryKernels,
  where,
  sum,
  prod,
  max,
  min,
  all,
  any,
  argmax,
  sort,
  cumsum,
  argmin,
  softmax,
  logSoftmax,
  crossEntropy,
  crossEntropyBackward,
  layerNorm,
  layerNormBackward,
  batchNorm,
  batchNormBackward,
  matmul,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  adaptiveMaxPool2d,
  copy,
  cast,
  fill,
  pad,
  cat,
  indexSelect,
  indexAdd,
  gather,
  scatter,
  scatterAdd,
};

export const referenceBackend: Backend<Float64Array> = {
  name: 'reference',
  deviceType: 'reference',
  /** Zero-filled; the dtype only documents what the buffer will hold. */
  alloc(_dtype: DType, numel: number): Float64Array {
    return new Float64Array(numel);
  },
  free(): void {
    // Garbage-collected memory: nothing to do.
  },
  write(buf: Float64Array, _dtype: DType, offset: number, src: TypedArray): void {
    buf.set(src, offset);
  },
  /** A Float64Array copy of the range (holding the exact float64 values). */
  read(buf: Float64Array, _dtype: DType, offset: number, numel: number): TypedArray {
    return buf.slice(offset, offset + numel);
  },
  kernels,
};
