/**
 * The parameter arrays of addon.ts as pure functions: an operand's slot, a launch (operands
 * then attributes), each kernel's attributes in CUDA_ATTRS order, the multi-tensor optimizer
 * layouts. No device calls here, so all of it is unit-tested without a GPU.
 */
import { fail, fmtShape } from '../../errors.js';
import type { AdamStepAttrs, AvgPool2dAttrs, Conv2dAttrs, KernelAttrs, OpName, PhiloxStream, Pool2dAttrs, SgdStepAttrs, TensorArg } from '../types.js';
import { CUDA_MAX_RANK, CUDA_OPS, type CudaOp, dtypeCode, MULTI_TENSOR, OPERAND_SLOTS } from './addon.js';

/** A strided operand on the device (a kernel's CudaArg as it is): `buf.ptr` is the address of element 0 of its buffer. */
export type Operand = TensorArg<{ readonly ptr: number }>;

/** The ops with a launch code of their own (cat and pad are composed of fill and copy). */
export type LaunchedOp = Exclude<OpName, 'cat' | 'pad'>;

/** Launch code of every op of the contract: its index in CUDA_OPS. */
export const LAUNCH_CODE = Object.fromEntries(CUDA_OPS.map((op, i) => [op, i])) as Record<CudaOp, number>;

/** Doubles a launch with `operands` operands and `attrs` attributes needs. */
export function launchLength(operands: number, attrs: number): number {
  return 1 + operands * OPERAND_SLOTS + attrs;
}

/** Refuses a rank the kernels do not take, naming the op, the rank and the fix. */
export function checkRank(op: string, x: Operand): void {
  if (x.shape.length > CUDA_MAX_RANK) {
    fail(
      'CUDA',
      op,
      `CUDA kernels take tensors of rank at most ${CUDA_MAX_RANK}; got rank ${x.shape.length} (shape ${fmtShape(x.shape)})`,
      `merge neighbouring dims first (reshape() or flatten()) to at most ${CUDA_MAX_RANK} dims, or run this op on 'cpu'`,
    );
  }
}

/** Writes one operand slot at P[at..at + OPERAND_SLOTS). */
export function encodeOperand(P: Float64Array, at: number, x: Operand): void {
  const rank = x.shape.length;
  P[at] = x.buf.ptr;
  P[at + 1] = dtypeCode(x.dtype);
  P[at + 2] = x.offset;
  P[at + 3] = rank;
  for (let d = 0; d < CUDA_MAX_RANK; d++) {
    P[at + 4 + d] = d < rank ? x.shape[d] : 1;
    P[at + 4 + CUDA_MAX_RANK + d] = d < rank ? x.strides[d] : 0;
  }
}

/** Lays out a launch in P (large enough: see launchLength); returns the doubles used. */
export function encodeLaunch(op: string, P: Float64Array, operands: readonly Operand[], attrs: readonly number[]): number {
  P[0] = operands.length;
  let at = 1;
  for (const x of operands) {
    checkRank(op, x);
    encodeOperand(P, at, x);
    at += OPERAND_SLOTS;
  }
  for (const v of attrs) P[at++] = v;
  return at;
}

// ---------------------------------------------------------------- attributes

const none = (): number[] => [];
const dim = (a: { readonly dim: number }): number[] => [a.dim];
/** Bit d set for every reduced dim d. */
const dimMask = (a: { readonly dims: readonly number[] }): number[] => [a.dims.reduce((m, d) => m + 2 ** d, 0)];
/** A null bound or divisor is NaN. */
const orNaN = (v: number | null): number => (v === null ? Number.NaN : v);
const flag = (b: boolean): number => (b ? 1 : 0);
const conv = (a: Conv2dAttrs): number[] => [a.stride[0], a.stride[1], a.padding[0], a.padding[1], a.dilation[0], a.dilation[1], a.groups];
const maxPool = (a: Pool2dAttrs): number[] => [
  a.kernelSize[0], a.kernelSize[1], a.stride[0], a.stride[1], a.padding[0], a.padding[1], a.dilation[0], a.dilation[1], flag(a.ceilMode),
];
const avgPool = (a: AvgPool2dAttrs): number[] => [
  a.kernelSize[0], a.kernelSize[1], a.stride[0], a.stride[1], a.padding[0], a.padding[1], flag(a.ceilMode), flag(a.countIncludePad), orNaN(a.divisorOverride),
];
const crossEntropy = (a: KernelAttrs['crossEntropy']): number[] => [a.ignoreIndex, a.labelSmoothing];

/** Each launched kernel's attributes, in the order CUDA_ATTRS names them. */
export const ATTR_ENCODERS: { readonly [K in LaunchedOp]: (attrs: KernelAttrs[K]) => number[] } = {
  neg: none, abs: none, exp: none, log: none, sqrt: none, rsqrt: none, sin: none, cos: none, tanh: none, sigmoid: none,
  relu: none, gelu: none, erf: none, sign: none, floor: none, ceil: none, round: none, logicalNot: none,
  clamp: (a) => [orNaN(a.min), orNaN(a.max)],
  add: none, sub: none, mul: none, div: none, pow: none, maximum: none, minimum: none, reluBackward: none, geluBackward: none,
  eq: none, ne: none, lt: none, le: none, gt: none, ge: none, logicalAnd: none, logicalOr: none,
  where: none,
  sum: dimMask, prod: dimMask, max: dimMask, min: dimMask, all: dimMask, any: dimMask,
  argmax: dim, argmin: dim,
  sort: (a) => [a.dim, flag(a.descending)],
  cumsum: dim,
  softmax: dim, logSoftmax: dim,
  crossEntropy, crossEntropyBackward: crossEntropy,
  layerNorm: (a) => [a.eps, flag(a.weight), flag(a.bias)],
  layerNormBackward: (a) => [flag(a.weight)],
  batchNorm: (a) => [a.eps, flag(a.weight), flag(a.bias)],
  batchNormBackward: (a) => [a.eps, flag(a.weight)],
  matmul: none,
  conv2d: conv, conv2dBackwardInput: conv, conv2dBackwardWeight: conv,
  maxPool2d: maxPool, maxPool2dBackward: none,
  avgPool2d: avgPool, avgPool2dBackward: avgPool,
  adaptiveAvgPool2d: none, adaptiveAvgPool2dBackward: none, adaptiveMaxPool2d: none,
  copy: none, cast: none,
  fill: (a) => [a.value],
  indexSelect: dim, indexAdd: dim, gather: dim, scatter: dim, scatterAdd: dim,
};

/** philoxUniform / philoxNormal attributes: the key split in 32-bit words, the counter offset, the two parameters. */
export function philoxAttrs(stream: PhiloxStream, a: number, b: number): number[] {
  return [stream.seed % 2 ** 32, Math.floor(stream.seed / 2 ** 32), stream.offset, a, b];
}

// ---------------------------------------------------------------- multi-tensor optimizer steps

/** One parameter of a fused step: device addresses of its element 0 (offset included) and its size. */
export interface SgdTensor {
  readonly param: number;
  readonly grad: number;
  /** 0 without momentum. */
  readonly momentumBuf: number;
  readonly numel: number;
}

export interface AdamTensor {
  readonly param: number;
  readonly grad: number;
  readonly expAvg: number;
  readonly expAvgSq: number;
  /** 0 unless amsgrad. */
  readonly maxExpAvgSq: number;
  readonly numel: number;
}

export function sgdLength(count: number): number {
  return 1 + MULTI_TENSOR.sgdStep.header + count * MULTI_TENSOR.sgdStep.perTensor;
}

export function adamLength(count: number): number {
  return 1 + MULTI_TENSOR.adamStep.header + count * MULTI_TENSOR.adamStep.perTensor;
}

/** The sgdStep layout of MULTI_TENSOR; returns the doubles used. */
export function encodeSgd(P: Float64Array, tensors: readonly SgdTensor[], a: SgdStepAttrs): number {
  const head = [tensors.length, a.lr, a.momentum, a.dampening, a.weightDecay, flag(a.nesterov), flag(a.maximize), flag(a.firstStep)];
  P.set(head, 0);
  let at = head.length;
  for (const t of tensors) {
    P[at++] = t.param;
    P[at++] = t.grad;
    P[at++] = t.momentumBuf;
    P[at++] = t.numel;
  }
  return at;
}

/** The adamStep layout of MULTI_TENSOR; returns the doubles used. */
export function encodeAdam(P: Float64Array, tensors: readonly AdamTensor[], a: AdamStepAttrs): number {
  const head = [tensors.length, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay, flag(a.decoupledWeightDecay), flag(a.amsgrad), flag(a.maximize), a.step];
  P.set(head, 0);
  let at = head.length;
  for (const t of tensors) {
    P[at++] = t.param;
    P[at++] = t.grad;
    P[at++] = t.expAvg;
    P[at++] = t.expAvgSq;
    P[at++] = t.maxExpAvgSq;
    P[at++] = t.numel;
  }
  return at;
}
