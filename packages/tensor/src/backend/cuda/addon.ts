/**
 * The JavaScript face of the addon's CUDA part (native/src/cuda/, exported as `addon.cuda`
 * when the addon was compiled with nvcc). This file is the contract between the C++ side and
 * the TypeScript backend (./index.ts): the function list, the operand encoding and the order
 * of every kernel's attributes. Change both sides together and bump `CUDA_ABI` with
 * `kCudaAbi` in native/src/cuda/binding_cuda.cc.
 *
 * Device pointers are plain numbers (CUDA virtual addresses are below 2^53, so a double holds
 * them exactly). All work goes on one stream per device, in order; only `download` and
 * `synchronize` wait for it. Every failing CUDA, cuBLAS or cuDNN call becomes a thrown Error whose
 * message names the call, the CUDA error name and string and the source location; the
 * process never aborts.
 */
import type { DType, TypedArray } from '../../dtype.js';
import { DTYPES } from '../../dtype.js';

export const CUDA_ABI = 4;

/** dtype code = index in DTYPES: 0 bool, 1 uint8, 2 int32, 3 float32, 4 float64. */
export function dtypeCode(dtype: DType): number {
  return DTYPES.indexOf(dtype);
}

/** Highest tensor rank a CUDA kernel takes; the backend reports a clear error above it. */
export const CUDA_MAX_RANK = 8;

/**
 * One operand in the parameter array, OPERAND_SLOTS doubles:
 *   [ptr (device address of element 0 of the buffer), dtype code, offset (elements),
 *    rank, shape[0..7], strides[0..7] (elements; 0 for broadcast dims)]
 * Unused shape/stride entries are 1/0.
 */
export const OPERAND_SLOTS = 4 + 2 * CUDA_MAX_RANK;

/**
 * Launch codes: `launch(code, P)` with code = the index in CUDA_OPS. P is laid out as
 *   P[0] = n (number of operands)
 *   P[1 ..] = n operand slots: the kernel's ins, then its outs, in KernelAttrs order
 *   P[1 + n * OPERAND_SLOTS ..] = the attributes in the order CUDA_ATTRS lists them
 *     (booleans as 0/1; a null bound or divisor as NaN).
 * Semantics are KernelAttrs' (backend/types.ts) exactly: outputs are allocated by the caller,
 * inputs are broadcast views of the output's shape where KernelAttrs says so.
 * `cat` and `pad` have no code: the backend composes them from `fill` and `copy` into views.
 * matmul's operands are rank 3 (B, M, K) x (B, K, N) -> (B, M, N), batch stride possibly 0;
 * the backend merges or loops batch dims before the launch.
 *
 * Fused optimizer codes (sgdStep, adamStep) use their own layout, see MULTI_TENSOR below.
 */
export const CUDA_ATTRS = {
  // elementwise unary
  neg: [], abs: [], exp: [], log: [], sqrt: [], rsqrt: [], sin: [], cos: [], tanh: [], sigmoid: [],
  relu: [], gelu: [], erf: [], sign: [], floor: [], ceil: [], round: [], logicalNot: [],
  clamp: ['min', 'max'],
  // elementwise binary and select
  add: [], sub: [], mul: [], div: [], pow: [], maximum: [], minimum: [], reluBackward: [], geluBackward: [],
  eq: [], ne: [], lt: [], le: [], gt: [], ge: [], logicalAnd: [], logicalOr: [],
  where: [],
  // reductions: dimMask has bit d set for every reduced dim d
  sum: ['dimMask'], prod: ['dimMask'], max: ['dimMask'], min: ['dimMask'], all: ['dimMask'], any: ['dimMask'],
  argmax: ['dim'], argmin: ['dim'],
  sort: ['dim', 'descending'],
  cumsum: ['dim'],
  softmax: ['dim'], logSoftmax: ['dim'],
  // fused cross-entropy over dim 1 of (N, C) logits (see KernelAttrs); target values out of
  // range set the device error flag (reported by the next synchronising call)
  crossEntropy: ['ignoreIndex', 'labelSmoothing'],
  crossEntropyBackward: ['ignoreIndex', 'labelSmoothing'],
  // layer normalization over x's trailing dims, x contiguous as R rows of C (R = mean's numel,
  // C = x's numel / R; backward: gw's numel); weight and bias (0/1) say which optional operands
  // follow x
  layerNorm: ['eps', 'weight', 'bias'],
  layerNormBackward: ['weight'],
  // batch normalization over dim 1 of x (N, C, *), contiguous, seen as N x C x S (S the product
  // of the dims after 1); weight and bias (0/1) say which optional operands follow x (or gy, x,
  // mean, var)
  batchNorm: ['eps', 'weight', 'bias'],
  batchNormBackward: ['eps', 'weight'],
  matmul: [],
  conv2d: ['strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW', 'groups'],
  conv2dBackwardInput: ['strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW', 'groups'],
  conv2dBackwardWeight: ['strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW', 'groups'],
  maxPool2d: ['kernelH', 'kernelW', 'strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW', 'ceilMode'],
  maxPool2dBackward: [],
  avgPool2d: ['kernelH', 'kernelW', 'strideH', 'strideW', 'padH', 'padW', 'ceilMode', 'countIncludePad', 'divisorOverride'],
  avgPool2dBackward: ['kernelH', 'kernelW', 'strideH', 'strideW', 'padH', 'padW', 'ceilMode', 'countIncludePad', 'divisorOverride'],
  adaptiveAvgPool2d: [], adaptiveAvgPool2dBackward: [], adaptiveMaxPool2d: [],
  // data movement
  copy: [], cast: [], fill: ['value'],
  indexSelect: ['dim'], indexAdd: ['dim'], gather: ['dim'], scatter: ['dim'], scatterAdd: ['dim'],
  // counter-based random numbers (Philox4x32-10) into one contiguous float output: element i
  // uses counter (offset + i / 4, key), so values do not depend on the launch shape
  philoxUniform: ['seedLo', 'seedHi', 'offset', 'low', 'high'],
  philoxNormal: ['seedLo', 'seedHi', 'offset', 'mean', 'std'],
  // fused optimizers (MULTI_TENSOR layout)
  sgdStep: [], adamStep: [],
} as const satisfies Record<string, readonly string[]>;

export type CudaOp = keyof typeof CUDA_ATTRS;
export const CUDA_OPS = Object.keys(CUDA_ATTRS) as CudaOp[];

/**
 * Multi-tensor layout of sgdStep / adamStep (all tensors contiguous float32; pointers already
 * include the element offset; one launch updates every parameter):
 *   sgdStep:  P = [count, lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep,
 *                  then per tensor: param, grad, momentumBuf (0 when momentum == 0), numel]
 *   adamStep: P = [count, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, amsgrad,
 *                  maximize, step, then per tensor: param, grad, expAvg, expAvgSq,
 *                  maxExpAvgSq (0 unless amsgrad), numel]
 * Semantics are torch.optim.SGD / Adam / AdamW (foreach=False) step for step.
 */
export const MULTI_TENSOR = {
  sgdStep: { header: 7, perTensor: 4 },
  adamStep: { header: 9, perTensor: 6 },
} as const;

export interface CudaDeviceInfo {
  name: string;
  totalMemory: number;
  computeCapability: [number, number];
  multiProcessors: number;
}

export interface CudaLibraryInfo {
  found: boolean;
  /** The file that loaded, or null. */
  path: string | null;
  /** Why it did not load (every name tried), or null. */
  error: string | null;
  version: number | null;
  /** Operations the library has run in this process (GEMMs for cuBLAS, convolution passes for cuDNN). */
  calls: number;
}

export interface CudaProbe {
  /** A device can be used (driver loaded, at least one GPU). */
  available: boolean;
  /** Why not, with the CUDA error name; null when available. */
  reason: string | null;
  deviceCount: number;
  /** cudaDriverGetVersion / cudaRuntimeGetVersion (e.g. 13000), 0 when unknown. */
  driverVersion: number;
  runtimeVersion: number;
  devices: CudaDeviceInfo[];
  /** cuBLAS loaded with dlopen (libcublas.so.13, .12, libcublas.so); matmul and conv use our own kernels without it. */
  cublas: CudaLibraryInfo;
  /**
   * cuDNN loaded with dlopen ($DL_CUDNN_PATH, a file or its folder, then libcudnn.so.9, .8,
   * libcudnn.so); conv2d and its gradients use our own kernels without it. DL_CUDNN=0 turns it off.
   */
  cudnn: CudaLibraryInfo;
  /** The SM architectures compiled into the addon, e.g. ['sm_80', 'sm_90'] (none in an emulated build). */
  archs: string[];
  /**
   * A DL_CUDA=emulate build: the device is the host CPU running the CUDA kernels one thread at a
   * time (native/src/cuda/emu), for testing the CUDA path without a GPU. Never fast.
   */
  emulated: boolean;
}

export interface CudaMemoryStats {
  /** Bytes in live blocks handed out by malloc (block sizes, after rounding to the size class). */
  allocatedBytes: number;
  /** Bytes held from cudaMalloc: allocated plus cached. */
  reservedBytes: number;
  /** Bytes cached (free blocks kept for reuse). */
  cachedBytes: number;
  peakAllocatedBytes: number;
  peakReservedBytes: number;
  /** malloc calls, how many were served from the cache, and cudaMalloc calls. */
  allocations: number;
  cacheHits: number;
  deviceAllocations: number;
  /** Out-of-memory retries (cache emptied and cudaMalloc tried again). */
  oomRetries: number;
}

export interface CudaAddon {
  readonly abi: number;
  /** Never throws; says whether CUDA can be used and why not. */
  probe(): CudaProbe;
  /** Makes `index` the current device (creates its stream, pinned staging and cuBLAS handle on first use). */
  setDevice(index: number): void;
  /** Waits for the current device's stream; reports a pending device error (e.g. a bad target index). */
  synchronize(): void;
  /**
   * A device block of at least `bytes` (caching allocator: size classes, blocks reused in
   * stream order). On cudaErrorMemoryAllocation it empties the cache and retries once, then
   * throws an Error saying what was asked, what is allocated and what was cached.
   */
  malloc(bytes: number): number;
  /** Returns a block to the cache (reusable by later work on the same stream). */
  free(ptr: number): void;
  memoryStats(): CudaMemoryStats;
  resetPeakMemoryStats(): void;
  /** Releases every cached block to the driver (cudaFree), after synchronising. */
  emptyCache(): void;
  /** Enqueues a fill of `bytes` at `ptr` with the byte `value` (0 to 255). */
  memset(ptr: number, bytes: number, value: number): void;
  /** Host to device through pinned staging; `src` may be reused as soon as this returns. */
  upload(dst: number, src: TypedArray): void;
  /** Device to host; waits for the stream (and reports a pending device error). */
  download(dst: TypedArray, src: number): void;
  /** Enqueues one kernel, see CUDA_ATTRS. */
  launch(code: number, P: Float64Array): void;
  /** The launch codes' names in order; must equal CUDA_OPS (the loader checks). */
  ops(): string[];
}
