/**
 * The backend interface: an allocator plus a kernel table keyed by op name.
 *
 * Every primitive op of @dl/tensor is listed once in `KernelAttrs` (its name and
 * its attributes). A backend's `kernels` must implement all of them (a missing
 * kernel is a type error). The front end validates arguments, computes output
 * shapes and dtypes, allocates outputs and hands kernels inputs that are already
 * broadcast (expanded views) and cast to the compute dtype; kernels trust them.
 */
import type { DType, TypedArray } from '../dtype.js';

/** A tensor as a kernel sees it: a buffer of the backend plus a strided layout. */
export interface TensorArg<B = unknown> {
  readonly buf: B;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Element strides (not bytes); 0 for broadcast dims. */
  readonly strides: readonly number[];
  /** Element offset into `buf`. */
  readonly offset: number;
}

export type Pair = readonly [number, number];

export interface Conv2dAttrs {
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;
}

export interface Pool2dAttrs {
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly ceilMode: boolean;
}

export interface AvgPool2dAttrs extends Omit<Pool2dAttrs, 'dilation'> {
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;
}

type NoAttrs = Record<string, never>;
export type UnaryOp =
  | 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'sin' | 'cos' | 'tanh' | 'sigmoid'
  | 'relu' | 'gelu' | 'erf' | 'sign' | 'floor' | 'ceil' | 'round' | 'logicalNot';
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'reluBackward' | 'geluBackward'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'logicalAnd' | 'logicalOr';
export type ReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'all' | 'any';

/**
 * Inputs (ins) and outputs (outs) of each kernel, in order. Outputs are freshly
 * allocated and contiguous (offset 0) unless stated otherwise.
 */
export interface KernelAttrs {
  // ---- elementwise unary: ins [x], outs [y] of x's shape.
  // y.dtype === x.dtype, except logicalNot (y bool). Float-only ops (exp, log, ...
  // sigmoid, gelu, erf) receive float inputs. round: half to even (as PyTorch).
  // gelu: exact erf form x * 0.5 * (1 + erf(x / sqrt(2))).
  neg: NoAttrs; abs: NoAttrs; exp: NoAttrs; log: NoAttrs; sqrt: NoAttrs; rsqrt: NoAttrs;
  sin: NoAttrs; cos: NoAttrs; tanh: NoAttrs; sigmoid: NoAttrs; relu: NoAttrs; gelu: NoAttrs;
  erf: NoAttrs; sign: NoAttrs; floor: NoAttrs; ceil: NoAttrs; round: NoAttrs; logicalNot: NoAttrs;
  /** ins [x], outs [y]; y = min(max(x, min), max); a null bound is absent. */
  clamp: { readonly min: number | null; readonly max: number | null };

  // ---- elementwise binary: ins [a, b] of the output's shape (broadcast dims have
  // stride 0) and of the same dtype; outs [y]. Arithmetic: y.dtype === a.dtype.
  // Comparisons and logical ops: y bool. div is true division (float inputs).
  // pow on integers is integer power. Integer results wrap like int32/uint8 in C.
  // reluBackward: y = b > 0 ? a : 0 (a: the gradient, b: relu's output; NaN in b gives 0).
  // geluBackward (float): y = a * gelu'(b), gelu'(x) = Phi(x) + x phi(x) (a: the gradient, b: gelu's
  // input); the x phi(x) term is 0 where phi underflows, so gelu'(+-inf) = 1, 0 (not NaN).
  add: NoAttrs; sub: NoAttrs; mul: NoAttrs; div: NoAttrs; pow: NoAttrs; maximum: NoAttrs; minimum: NoAttrs;
  reluBackward: NoAttrs; geluBackward: NoAttrs;
  eq: NoAttrs; ne: NoAttrs; lt: NoAttrs; le: NoAttrs; gt: NoAttrs; ge: NoAttrs;
  logicalAnd: NoAttrs; logicalOr: NoAttrs;
  /** ins [cond (bool), a, b] all of the output's shape; outs [y] of a's dtype. */
  where: NoAttrs;

  // ---- reductions: ins [x], outs [y] with x's shape where each dim in `dims` is 1
  // (keepdim form). `dims` is sorted, unique, non-empty. sum/prod of bool or
  // integer x give int32; all/any give bool; max/min keep x's dtype. NaN
  // propagates through max/min (as PyTorch).
  sum: { readonly dims: readonly number[] };
  prod: { readonly dims: readonly number[] };
  max: { readonly dims: readonly number[] };
  min: { readonly dims: readonly number[] };
  all: { readonly dims: readonly number[] };
  any: { readonly dims: readonly number[] };
  /** ins [x], outs [indices int32] in keepdim form over one dim; first index of the extreme wins. */
  argmax: { readonly dim: number };
  argmin: { readonly dim: number };
  /**
   * ins [x], outs [values (x's dtype), indices (int32)] both x's shape: each line along `dim`
   * sorted, ascending or descending, stably (equal values keep their order); NaN counts as
   * larger than every number (last ascending, first descending), as PyTorch sorts.
   */
  sort: { readonly dim: number; readonly descending: boolean };
  /** ins [x float or int32], outs [y] x's shape and dtype: running sums along `dim` (int32 wraps). */
  cumsum: { readonly dim: number };
  /** ins [x float], outs [y] same shape; numerically stable (subtract the max). */
  softmax: { readonly dim: number };
  logSoftmax: { readonly dim: number };
  /** Fused log-softmax + negative log-likelihood over dim 1 of x (N, C) float with class-index
   *  targets. ins [x, target (int32, N)] or [x, target, weight (C, x's dtype)];
   *  outs [loss (N), lse (N)] both x's dtype: lse[n] = logsumexp(x[n, :]);
   *  loss[n] = 0 if target[n] == ignoreIndex, else
   *    -(1-ε)·w[t]·logp[n,t] - (ε/C)·Σ_c w[c]·logp[n,c],  logp = x - lse, t = target[n], w ≡ 1 without weight. */
  crossEntropy: { readonly ignoreIndex: number; readonly labelSmoothing: number };
  /** ins [gy (N), x, target, lse] or [gy, x, target, lse, weight]; outs [gx (N, C)]:
   *  gx[n,c] = gy[n]·((Σ_k a_k)·softmax[n,c] - a_c), a_c = (1-ε)·w[t]·[c==t] + (ε/C)·w[c]; rows with ignored targets are 0. */
  crossEntropyBackward: { readonly ignoreIndex: number; readonly labelSmoothing: number };

  // ---- layer normalization over the last dims, x seen as R rows of C (float; every operand contiguous).
  /** ins [x] + [weight (C)] if weight + [bias (C)] if bias; outs [y (x's shape), mean (R), rstd (R)]
   *  all x's dtype: per row, mean = sum(x) / C, var = sum((x - mean)^2) / C (biased),
   *  rstd = 1 / sqrt(var + eps), y = (x - mean) * rstd * weight + bias (each factor where given). */
  layerNorm: { readonly eps: number; readonly weight: boolean; readonly bias: boolean };
  /** ins [gy, x, mean, rstd] + [weight (C)] if weight; outs [gx (x's shape), gw (C), gb (C)]:
   *  xhat = (x - mean) * rstd, g = gy * weight (or gy), gx = rstd * (g - mean_C(g) - xhat * mean_C(g * xhat)),
   *  gw = sum over rows of gy * xhat, gb = sum over rows of gy. */
  layerNormBackward: { readonly weight: boolean };

  // ---- batch normalization with the batch's statistics (training), over dim 1 of x (N, C, *) seen as
  // N x C x S, S the product of the dims after 1 (float; every operand contiguous). Channel c's
  // M = N * S numbers are its S-runs x[n, c, :] for n in order.
  /** ins [x] + [weight (C)] if weight + [bias (C)] if bias; outs [y (x's shape), mean (C), var (C)]
   *  all x's dtype: per channel, mean = sum(x) / M, var = sum((x - mean)^2) / M (biased),
   *  y = (x - mean) / sqrt(var + eps) * weight + bias (each factor where given). */
  batchNorm: { readonly eps: number; readonly weight: boolean; readonly bias: boolean };
  /** ins [gy, x, mean, var] + [weight (C)] if weight; outs [gx (x's shape), gw (C), gb (C)]:
   *  rstd = 1 / sqrt(var + eps), xhat = (x - mean) * rstd, per channel gb = sum(gy), gw = sum(gy * xhat),
   *  gx = weight * rstd * (gy - gb / M - xhat * gw / M) (weight 1 without one). */
  batchNormBackward: { readonly eps: number; readonly weight: boolean };

  // ---- linear algebra: ins [a (B, M, K), b (B, K, N)] strided (batch stride may be
  // 0), float; outs [y (B, M, N)].
  matmul: NoAttrs;

  // ---- convolution (float): x (N, C, H, W), w (O, C/groups, kh, kw), optional
  // bias (O). Output size: floor((H + 2p - d(k-1) - 1) / s) + 1.
  /** ins [x, w] or [x, w, bias], outs [y (N, O, oh, ow)]. */
  conv2d: Conv2dAttrs;
  /** ins [gradY (N, O, oh, ow), w], outs [gradX (N, C, H, W)] (shape from the output arg). */
  conv2dBackwardInput: Conv2dAttrs;
  /** ins [gradY (N, O, oh, ow), x], outs [gradW (O, C/groups, kh, kw)]. */
  conv2dBackwardWeight: Conv2dAttrs;

  // ---- pooling over the last two dims of x (N, C, H, W), float.
  // Output size: floor or ceil((H + 2p - d(k-1) - 1) / s) + 1; with ceilMode the
  // last window must start inside the input or the left padding (PyTorch).
  /** ins [x], outs [y, indices int32]; index = h * W + w within the plane; padding is -inf. */
  maxPool2d: Pool2dAttrs;
  /** ins [gradY, indices], outs [gradX (N, C, H, W)]: gradX[plane][idx] += gradY. Serves adaptive max pool too. */
  maxPool2dBackward: NoAttrs;
  /** ins [x], outs [y]. Divisor: divisorOverride, else window size incl. padding (countIncludePad) or not. */
  avgPool2d: AvgPool2dAttrs;
  /** ins [gradY], outs [gradX]. */
  avgPool2dBackward: AvgPool2dAttrs;
  /** ins [x], outs [y (N, C, oh, ow)]: window i covers [floor(i*H/oh), ceil((i+1)*H/oh)). */
  adaptiveAvgPool2d: NoAttrs;
  /** ins [gradY], outs [gradX]. */
  adaptiveAvgPool2dBackward: NoAttrs;
  /** ins [x], outs [y, indices int32] (same windows as adaptiveAvgPool2d). */
  adaptiveMaxPool2d: NoAttrs;

  // ---- data movement (any dtype).
  /** ins [src] of dst's shape (may be an expanded view), outs [dst] which MAY BE STRIDED (any layout). */
  copy: NoAttrs;
  /** ins [x], outs [y] of another dtype. Float to integer truncates toward zero then wraps;
   *  NaN or +-Infinity to an integer dtype throws a DLError (code VALUE); to bool: x != 0. */
  cast: NoAttrs;
  /** ins [], outs [y]; y[...] = value (already representable in y's dtype). */
  fill: { readonly value: number };
  /** ins [x], outs [y]; pads[d] = [before, after] for every dim of x (>= 0); new cells get value. */
  pad: { readonly pads: readonly Pair[]; readonly value: number };
  /** ins [x0, x1, ...] same dtype, equal shapes except along dim; outs [y]. */
  cat: { readonly dim: number };
  /** ins [x, index (int32, 1-D, in range)], outs [y]: y[..i..] = x[..index[i]..] along dim. */
  indexSelect: { readonly dim: number };
  /** ins [self, index (int32 1-D), source], outs [y]: y = self; y[..index[i]..] += source[..i..] along dim. */
  indexAdd: { readonly dim: number };
  /** ins [x, index (int32, same rank as x, in range)], outs [y of index's shape]: y[i][j] = x[index[i][j]][j] (dim 0). */
  gather: { readonly dim: number };
  /** ins [self, index (int32), src], outs [y of self's shape]: y = self; y[index[i][j]][j] = src[i][j] (dim 0).
   *  index has src's rank, each of its dims <= src's and (except dim) <= self's. */
  scatter: { readonly dim: number };
  /** As scatter, accumulating: y[index[i][j]][j] += src[i][j]. */
  scatterAdd: { readonly dim: number };
}

export type OpName = keyof KernelAttrs;

/**
 * Ops whose kernels need their outputs zero-filled (they accumulate into them or write only
 * part of them); every other kernel writes each output element, so its outputs are allocated
 * without the fill (one pass over memory, or one device launch, less per op).
 */
export const ZEROED_OUTPUTS: ReadonlySet<OpName> = new Set<OpName>(['maxPool2dBackward', 'pad']);

/** DL_POISON_ALLOC=1: buffers allocated without `zeroed` are filled with garbage (tests). */
export const POISON_ALLOC = process.env.DL_POISON_ALLOC === '1';

/** Fills a host buffer allocated without `zeroed` under DL_POISON_ALLOC (NaN for floats). */
export function poison<T extends { fill(v: number): unknown }>(buf: T, dtype: DType): T {
  buf.fill(dtype === 'float32' || dtype === 'float64' ? Number.NaN : 0xa5);
  return buf;
}

export type Kernel<A, B> = (ins: readonly TensorArg<B>[], outs: readonly TensorArg<B>[], attrs: A) => void;

export type KernelTable<B> = { readonly [K in OpName]: Kernel<KernelAttrs[K], B> };

export type DeviceType = 'cpu' | 'cuda' | 'reference';

/** One SGD step (torch.optim.SGD, foreach=False) over a list of parameters. */
export interface SgdStepAttrs {
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly maximize: boolean;
  /** The momentum buffers are new: buf = grad (PyTorch), not buf = momentum * buf + (1 - dampening) * grad. */
  readonly firstStep: boolean;
}

/** One Adam/AdamW step (torch.optim.Adam / AdamW, foreach=False) over a list of parameters. */
export interface AdamStepAttrs {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** AdamW: param *= 1 - lr * weightDecay, instead of grad += weightDecay * param. */
  readonly decoupledWeightDecay: boolean;
  readonly amsgrad: boolean;
  readonly maximize: boolean;
  /** The step number after incrementing (1 on the first step); bias corrections use it. */
  readonly step: number;
}

/**
 * Fused optimizer updates: every parameter of a group in one call, in place. All tensors are
 * contiguous float32 or float64, each grad/state tensor of its parameter's shape and dtype.
 * Optional for a backend; the optimizers fall back to tensor ops without it.
 */
export interface OptimizerKernels<B = unknown> {
  /** The parameter dtypes the kernels take when not both float dtypes (CUDA: float32); the caller falls back to tensor ops for others. */
  readonly dtypes?: readonly DType[];
  /** momentumBufs: one per parameter when momentum != 0, else null. */
  sgd(params: readonly TensorArg<B>[], grads: readonly TensorArg<B>[], momentumBufs: readonly TensorArg<B>[] | null, attrs: SgdStepAttrs): void;
  /** maxExpAvgSqs: one per parameter when amsgrad, else null. */
  adam(
    params: readonly TensorArg<B>[],
    grads: readonly TensorArg<B>[],
    expAvgs: readonly TensorArg<B>[],
    expAvgSqs: readonly TensorArg<B>[],
    maxExpAvgSqs: readonly TensorArg<B>[] | null,
    attrs: AdamStepAttrs,
  ): void;
}

/** Where a counter-based (Philox4x32-10) sample starts: the key and the counter offset. */
export interface PhiloxStream {
  /** The key (a non-negative integer below 2^53). */
  readonly seed: number;
  /** The first counter; element i of the output uses counter offset + floor(i / 4). */
  readonly offset: number;
}

/**
 * Random sampling on the device, for backends whose memory the host cannot fill cheaply
 * (CUDA). Outputs are contiguous float32 or float64; a value depends only on the stream and
 * its element index, never on how the work is split. Optional: without it, samples are drawn
 * on the host from the Generator's own stream and written.
 */
export interface RandomKernels<B = unknown> {
  /** out = low + (high - low) * u, u uniform in [0, 1). */
  uniform(out: TensorArg<B>, stream: PhiloxStream, low: number, high: number): void;
  /** out = mean + std * n, n standard normal. */
  normal(out: TensorArg<B>, stream: PhiloxStream, mean: number, std: number): void;
}

/** An allocator plus a kernel table; one per device type. */
export interface Backend<B = unknown> {
  /** e.g. 'cpu-ts', 'reference', 'cpu-native', 'cuda'. */
  readonly name: string;
  readonly deviceType: DeviceType;
  /**
   * A buffer for `numel` elements of `dtype`, zero-filled; with `zeroed` false its contents are
   * unspecified (a kernel output the kernel writes in full: see ZEROED_OUTPUTS). Under
   * DL_POISON_ALLOC=1 such buffers are filled with NaN / 0xA5 bytes, so tests catch a kernel
   * that reads what it did not write.
   */
  alloc(dtype: DType, numel: number, zeroed?: boolean): B;
  /** Release a buffer (a no-op for garbage-collected memory). */
  free(buf: B): void;
  /** Copy host values into buf starting at element `offset`. */
  write(buf: B, dtype: DType, offset: number, src: TypedArray): void;
  /**
   * Read `numel` elements from element `offset`. Returns an array of the dtype's
   * type, except that a backend may return a Float64Array holding more precise
   * values (the reference backend does).
   */
  read(buf: B, dtype: DType, offset: number, numel: number): TypedArray;
  /**
   * Optional: use host memory as a buffer without copying (backends whose
   * buffers are host typed arrays). Returns undefined when it cannot.
   */
  adopt?(dtype: DType, data: TypedArray): B | undefined;
  readonly kernels: KernelTable<B>;
  /**
   * The kernels check index and class-target values themselves and report a bad one (the op, the
   * value, the valid range) at the next call that synchronises (CUDA's device error flag), so the
   * front ends skip their host check, which would wait for the device on every call. Otherwise
   * the front ends check on the host first and the kernels may trust the values.
   */
  readonly checksIndexValues?: boolean;
  /** Fused optimizer updates (see OptimizerKernels), when the backend has them. */
  readonly optim?: OptimizerKernels<B>;
  /** Random sampling on the device (see RandomKernels), when the backend has it. */
  readonly random?: RandomKernels<B>;
}
