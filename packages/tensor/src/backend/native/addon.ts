/**
 * The JavaScript face of the native addon (native/src/binding.cc), ABI `NATIVE_ABI`.
 *
 * Buffers are the CPU backend's typed arrays, passed as they are (zero copy); every size,
 * offset and stride goes in one Float64Array `P` (element units), laid out per function as
 * commented in binding.cc. The addon checks that each operand's extent lies inside its
 * array (a RangeError otherwise), so a wrong layout can never write out of bounds.
 */
import type { TypedArray } from '../../dtype.js';
import type { CudaAddon } from '../cuda/addon.js';

/** Bumped with binding.cc's kDlAbi whenever a function's arguments or op codes change. */
export const NATIVE_ABI = 7;

export interface NativeInfo {
  abi: number;
  version: string;
  build: { compiler: string; flags: string; date: string; napiVersion: number; cuda: boolean };
  cpu: {
    vendor: string;
    brand: string;
    sse2: boolean;
    avx: boolean;
    fma: boolean;
    avx2: boolean;
    avx512f: boolean;
    avx512bw: boolean;
    avx512vl: boolean;
  };
  /** The GEMM micro-kernels in use: 'avx512' (float32; float64 stays AVX2), 'avx2+fma' or 'portable'. */
  gemmKernel: string;
  /** The direct-convolution kernels in use: 'avx512', 'avx2+fma' or 'portable'. */
  convKernel: string;
  threads: number;
  /** 'DL_NUM_THREADS' or 'affinity' (the CPUs this process may run on). */
  threadsSource: string;
}

export interface SystemBlasInfo {
  found: boolean;
  path: string | null;
  error: string | null;
  /** DL_BLAS=openblas asked for it and it loaded. */
  inUse: boolean;
}

export interface NativeAddon {
  readonly abi: number;
  /** The CUDA part (backend/cuda/addon.ts), present when the addon was compiled with nvcc. */
  readonly cuda?: CudaAddon;
  info(): NativeInfo;
  /** Loads the system BLAS (dlopen) if not yet and says what was found. */
  probeBlas(): SystemBlasInfo;
  /** 'auto' | 'portable' | 'avx2' | 'avx512': forces the kernel family (tests); false if unsupported. */
  setGemmKernel(name: string): boolean;
  gemm(a: TypedArray, b: TypedArray, c: TypedArray, P: Float64Array): void;
  conv2d(x: TypedArray, w: TypedArray, bias: TypedArray | undefined, y: TypedArray, P: Float64Array): void;
  conv2dBackwardInput(gy: TypedArray, w: TypedArray, gx: TypedArray, P: Float64Array): void;
  conv2dBackwardWeight(gy: TypedArray, x: TypedArray, gw: TypedArray, P: Float64Array): void;
  maxPool2d(x: TypedArray, y: TypedArray, indices: TypedArray, P: Float64Array): void;
  maxPool2dBackward(gy: TypedArray, indices: TypedArray, gx: TypedArray, P: Float64Array): void;
  avgPool2d(x: TypedArray, y: TypedArray, P: Float64Array): void;
  avgPool2dBackward(gy: TypedArray, gx: TypedArray, P: Float64Array): void;
  binary(op: number, a: TypedArray, b: TypedArray, y: TypedArray, P: Float64Array): void;
  compare(op: number, a: TypedArray, b: TypedArray, y: TypedArray, P: Float64Array): void;
  where(c: TypedArray, a: TypedArray, b: TypedArray, y: TypedArray, P: Float64Array): void;
  /** The unary ops of native/src/elementwise.h's UnaryOp (relu ... round, codes 0-16) over the strided layout of binary(). */
  unary(op: number, x: TypedArray, y: TypedArray, P: Float64Array): void;
  sum(x: TypedArray, y: TypedArray, P: Float64Array): void;
  softmax(x: TypedArray, y: TypedArray, P: Float64Array, log: boolean): void;
  crossEntropy(x: TypedArray, target: TypedArray, weight: TypedArray | undefined, loss: TypedArray, lse: TypedArray, P: Float64Array): void;
  crossEntropyBackward(gy: TypedArray, x: TypedArray, target: TypedArray, lse: TypedArray, weight: TypedArray | undefined, gx: TypedArray, P: Float64Array): void;
  /** P = R, C, eps, xOff, wOff, bOff, yOff, meanOff, rstdOff (every operand contiguous). */
  layerNorm(x: TypedArray, weight: TypedArray | undefined, bias: TypedArray | undefined, y: TypedArray, mean: TypedArray, rstd: TypedArray, P: Float64Array): void;
  /** P = R, C, gyOff, xOff, meanOff, rstdOff, wOff, gxOff, gwOff, gbOff (every operand contiguous). */
  layerNormBackward(gy: TypedArray, x: TypedArray, mean: TypedArray, rstd: TypedArray, weight: TypedArray | undefined, gx: TypedArray, gw: TypedArray, gb: TypedArray, P: Float64Array): void;
  /** x seen as [N, C, S]; P = N, C, S, eps, xOff, wOff, bOff, yOff, meanOff, varOff. */
  batchNorm(x: TypedArray, weight: TypedArray | undefined, bias: TypedArray | undefined, y: TypedArray, mean: TypedArray, variance: TypedArray, P: Float64Array): void;
  /** P = N, C, S, eps, gyOff, xOff, meanOff, varOff, wOff, gxOff, gwOff, gbOff. */
  batchNormBackward(gy: TypedArray, x: TypedArray, mean: TypedArray, variance: TypedArray, weight: TypedArray | undefined, gx: TypedArray, gw: TypedArray, gb: TypedArray, P: Float64Array): void;
  /** Fused SGD over every parameter of the lists (one typed array per parameter). */
  sgdStep(params: TypedArray[], grads: TypedArray[], momentumBufs: TypedArray[] | undefined, P: Float64Array): void;
  /** Fused Adam/AdamW over every parameter of the lists. */
  adamStep(params: TypedArray[], grads: TypedArray[], expAvgs: TypedArray[], expAvgSqs: TypedArray[], maxExpAvgSqs: TypedArray[] | undefined, P: Float64Array): void;
}

/** The functions a loaded binary must export (checked by the loader). */
export const NATIVE_FUNCTIONS = [
  'info', 'probeBlas', 'setGemmKernel', 'gemm', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight',
  'maxPool2d', 'maxPool2dBackward', 'avgPool2d', 'avgPool2dBackward', 'binary', 'compare', 'where', 'unary', 'sum', 'softmax',
  'crossEntropy', 'crossEntropyBackward', 'layerNorm', 'layerNormBackward', 'batchNorm', 'batchNormBackward', 'sgdStep', 'adamStep',
] as const;
