/**
 * The native kernel table: each kernel checks dtypes and layouts it handles, fills the shared
 * parameter array `P` and calls the addon; anything else (integer dtypes a kernel lacks,
 * layouts it does not take) goes to the TypeScript kernel of the same op, so the table
 * honours every contract of `KernelAttrs` exactly as the TypeScript backend does.
 */
import type { TypedArray } from '../../dtype.js';
import { isContiguous } from '../../layout.js';
import { coalesce } from '../cpu/strided.js';
import { forEachBatch, matmulBatch } from '../matmul-batch.js';
import type { AvgPool2dAttrs, BinaryOp, Conv2dAttrs, Kernel, KernelAttrs, KernelTable, OpName, Pool2dAttrs, TensorArg, UnaryOp } from '../types.js';
import type { NativeAddon } from './addon.js';

type Arg = TensorArg<TypedArray>;
type K<A> = Kernel<A, TypedArray>;
type NoAttrs = KernelAttrs['add'];

/** One parameter array for every call (the addon reads it synchronously). */
const P = new Float64Array(128);

const isFloat = (a: Arg) => a.dtype === 'float32' || a.dtype === 'float64';

function numel(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/** 1: contiguous; 0: one value broadcast everywhere (all strides 0); -1: anything else. */
function runStride(a: Arg): 0 | 1 | -1 {
  if (isContiguous(a)) return 1;
  for (let i = 0; i < a.strides.length; i++) if (a.strides[i] !== 0 && a.shape[i] !== 1) return -1;
  return 0;
}

/** The most dims binding.cc's strided elementwise layout takes (dl::kMaxDims). */
const MAX_DIMS = 16;

/**
 * Writes the strided elementwise layout of binding.cc (`strided_params`) for operands `ops`
 * (y first, y.shape the iteration shape): rank, offsets, sizes innermost first, each operand's
 * strides. Flat runs (contiguous or single-value operands, contiguous y) skip the coalescing.
 * False when the layout has more dims than the addon takes or y repeats elements.
 */
function putStrided(ops: readonly Arg[]): boolean {
  const y = ops[0];
  const k = ops.length;
  for (let o = 0; o < k; o++) P[1 + o] = ops[o].offset;
  const base = 1 + k;
  let flat = isContiguous(y);
  for (let o = 1; flat && o < k; o++) {
    const r = runStride(ops[o]);
    flat = r >= 0;
    P[base + 1 + o] = r;
  }
  if (flat) {
    // rank 1: the size, then the strides of y (1) and of each input (1 or 0)
    P[0] = 1;
    P[base] = numel(y.shape);
    P[base + 1] = 1;
    return true;
  }
  const strides: (readonly number[])[] = [];
  for (let o = 0; o < k; o++) strides.push(ops[o].strides);
  const c = coalesce(y.shape, strides);
  const rank = Math.max(1, c.sizes.length);
  if (rank > MAX_DIMS) return false;
  P[0] = rank;
  for (let d = 0; d < rank; d++) {
    const size = c.sizes[d] ?? 1;
    P[base + d] = size;
    if (size > 1 && c.strides[d * k] === 0) return false;
    for (let o = 0; o < k; o++) P[base + rank * (1 + o) + d] = c.strides[d * k + o] ?? 0;
  }
  return true;
}

/** Writes a 4-D layout's offset and strides at P[k..k+4]. */
function put4(k: number, a: Arg): void {
  P[k] = a.offset;
  P[k + 1] = a.strides[0];
  P[k + 2] = a.strides[1];
  P[k + 3] = a.strides[2];
  P[k + 4] = a.strides[3];
}

export function nativeKernels(addon: NativeAddon, ts: KernelTable<TypedArray>): Partial<KernelTable<TypedArray>> {
  // ---------------------------------------------------------------- matmul

  const matmul: K<NoAttrs> = (ins, outs, attrs) => {
    const a = ins[0];
    const b = ins[1];
    const y = outs[0];
    if (!isFloat(y) || a.dtype !== y.dtype || b.dtype !== y.dtype) return ts.matmul(ins, outs, attrs);
    // Batch dims merged (or folded into one tall GEMM's rows when b is shared by the whole
    // batch); the innermost is the addon's batch, any outer ones (rare: more than one
    // unmergeable batch dim) are walked here.
    const g = matmulBatch(a, b, y);
    const last = g.size.length - 1;
    P[0] = last >= 0 ? g.size[last] : 1;
    P[1] = g.rows;
    P[2] = g.N;
    P[3] = g.K;
    P[5] = last >= 0 ? g.sa[last] : 0;
    P[6] = g.rsA;
    P[7] = g.csA;
    P[9] = last >= 0 ? g.sb[last] : 0;
    P[10] = g.rsB;
    P[11] = g.csB;
    P[13] = last >= 0 ? g.sy[last] : 0;
    P[14] = g.rsY;
    P[15] = g.csY;
    P[16] = 1;
    P[17] = 0;
    forEachBatch(g, last, a.offset, b.offset, y.offset, (oa, ob, oy) => {
      P[4] = oa;
      P[8] = ob;
      P[12] = oy;
      addon.gemm(a.buf, b.buf, y.buf, P);
    });
  };

  // ---------------------------------------------------------------- convolution

  /** Geometry at P[0..15]: N, C, H, W, O, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups. */
  function convGeometry(x: readonly number[], w: readonly number[], y: readonly number[], at: Conv2dAttrs): void {
    P[0] = x[0];
    P[1] = x[1];
    P[2] = x[2];
    P[3] = x[3];
    P[4] = w[0];
    P[5] = w[2];
    P[6] = w[3];
    P[7] = y[2];
    P[8] = y[3];
    P[9] = at.stride[0];
    P[10] = at.stride[1];
    P[11] = at.padding[0];
    P[12] = at.padding[1];
    P[13] = at.dilation[0];
    P[14] = at.dilation[1];
    P[15] = at.groups;
  }

  const conv2d: K<Conv2dAttrs> = (ins, outs, at) => {
    const [x, w, bias] = ins;
    const y = outs[0];
    if (!isFloat(y) || !isContiguous(y)) return ts.conv2d(ins, outs, at);
    convGeometry(x.shape, w.shape, y.shape, at);
    put4(16, x);
    put4(21, w);
    P[26] = bias ? bias.offset : 0;
    P[27] = bias ? bias.strides[0] : 0;
    P[28] = y.offset;
    addon.conv2d(x.buf, w.buf, bias?.buf, y.buf, P);
  };

  const conv2dBackwardInput: K<Conv2dAttrs> = (ins, outs, at) => {
    const [gy, w] = ins;
    const gx = outs[0];
    if (!isFloat(gx) || !isContiguous(gx)) return ts.conv2dBackwardInput(ins, outs, at);
    convGeometry(gx.shape, w.shape, gy.shape, at);
    put4(16, gy);
    put4(21, w);
    P[28] = gx.offset;
    addon.conv2dBackwardInput(gy.buf, w.buf, gx.buf, P);
  };

  const conv2dBackwardWeight: K<Conv2dAttrs> = (ins, outs, at) => {
    const [gy, x] = ins;
    const gw = outs[0];
    if (!isFloat(gw) || !isContiguous(gw)) return ts.conv2dBackwardWeight(ins, outs, at);
    convGeometry(x.shape, gw.shape, gy.shape, at);
    put4(16, gy);
    put4(21, x);
    P[28] = gw.offset;
    addon.conv2dBackwardWeight(gy.buf, x.buf, gw.buf, P);
  };

  // ---------------------------------------------------------------- pooling

  const maxPool2d: K<Pool2dAttrs> = (ins, outs, at) => {
    const x = ins[0];
    const [y, ind] = outs;
    if (!isFloat(x) || !isContiguous(y) || !isContiguous(ind)) return ts.maxPool2d(ins, outs, at);
    P[0] = x.shape[0];
    P[1] = x.shape[1];
    P[2] = x.shape[2];
    P[3] = x.shape[3];
    P[4] = y.shape[2];
    P[5] = y.shape[3];
    P[6] = at.kernelSize[0];
    P[7] = at.kernelSize[1];
    P[8] = at.stride[0];
    P[9] = at.stride[1];
    P[10] = at.padding[0];
    P[11] = at.padding[1];
    P[12] = at.dilation[0];
    P[13] = at.dilation[1];
    put4(14, x);
    P[19] = y.offset;
    P[20] = ind.offset;
    addon.maxPool2d(x.buf, y.buf, ind.buf, P);
  };

  const maxPool2dBackward: K<NoAttrs> = (ins, outs, at) => {
    const [gy, ind] = ins;
    const gx = outs[0];
    if (!isFloat(gx) || !isContiguous(gx)) return ts.maxPool2dBackward(ins, outs, at);
    P[0] = gx.shape[0];
    P[1] = gx.shape[1];
    P[2] = gx.shape[2];
    P[3] = gx.shape[3];
    P[4] = gy.shape[2];
    P[5] = gy.shape[3];
    put4(6, gy);
    put4(11, ind);
    P[16] = gx.offset;
    addon.maxPool2dBackward(gy.buf, ind.buf, gx.buf, P);
  };

  function avgParams(H: number, W: number, inner: Arg, big: Arg, small: Arg, at: AvgPool2dAttrs): void {
    P[0] = big.shape[0];
    P[1] = big.shape[1];
    P[2] = H;
    P[3] = W;
    P[4] = small.shape[2];
    P[5] = small.shape[3];
    P[6] = at.kernelSize[0];
    P[7] = at.kernelSize[1];
    P[8] = at.stride[0];
    P[9] = at.stride[1];
    P[10] = at.padding[0];
    P[11] = at.padding[1];
    P[12] = at.countIncludePad ? 1 : 0;
    P[13] = at.divisorOverride ?? 0;
    put4(14, inner);
  }

  const avgPool2d: K<AvgPool2dAttrs> = (ins, outs, at) => {
    const x = ins[0];
    const y = outs[0];
    if (!isFloat(x) || !isContiguous(y) || (at.divisorOverride !== null && !(at.divisorOverride > 0))) return ts.avgPool2d(ins, outs, at);
    avgParams(x.shape[2], x.shape[3], x, x, y, at);
    P[19] = y.offset;
    addon.avgPool2d(x.buf, y.buf, P);
  };

  const avgPool2dBackward: K<AvgPool2dAttrs> = (ins, outs, at) => {
    const gy = ins[0];
    const gx = outs[0];
    if (!isFloat(gx) || !isContiguous(gx) || (at.divisorOverride !== null && !(at.divisorOverride > 0))) return ts.avgPool2dBackward(ins, outs, at);
    avgParams(gx.shape[2], gx.shape[3], gy, gx, gy, at);
    P[19] = gx.offset;
    addon.avgPool2dBackward(gy.buf, gx.buf, P);
  };

  // ---------------------------------------------------------------- elementwise

  const ARITH: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, reluBackward: 6, geluBackward: 7 };
  const COMPARE: Partial<Record<BinaryOp, number>> = { eq: 0, ne: 1, lt: 2, le: 3, gt: 4, ge: 5 };

  function binaryKernel(op: BinaryOp): K<NoAttrs> {
    const fallback = ts[op] as K<NoAttrs>;
    const code = ARITH[op] ?? COMPARE[op] ?? -1;
    const compare = op in COMPARE;
    return (ins, outs, attrs) => {
      const [a, b] = ins;
      const y = outs[0];
      const dt = a.dtype;
      // Comparisons take every dtype (bool and uint8 are bytes); arithmetic float and int32.
      if (!compare && !(dt === 'float32' || dt === 'float64' || (dt === 'int32' && op !== 'div' && op !== 'geluBackward'))) return fallback(ins, outs, attrs);
      if (!putStrided([y, a, b])) return fallback(ins, outs, attrs);
      if (compare) addon.compare(code, a.buf, b.buf, y.buf, P);
      else addon.binary(code, a.buf, b.buf, y.buf, P);
    };
  }

  const where: K<NoAttrs> = (ins, outs, attrs) => {
    const [c, a, b] = ins;
    const y = outs[0];
    if (!putStrided([y, c, a, b])) return ts.where(ins, outs, attrs);
    addon.where(c.buf, a.buf, b.buf, y.buf, P);
  };

  // dl::UnaryOp of elementwise.h. Every unary op but logicalNot; uint8 and bool inputs go to the TypeScript kernels.
  const UNARY: Partial<Record<UnaryOp, number>> = {
    relu: 0, neg: 1, abs: 2, sqrt: 3, rsqrt: 4, exp: 5, log: 6, sin: 7, cos: 8, tanh: 9, sigmoid: 10, gelu: 11, erf: 12,
    sign: 13, floor: 14, ceil: 15, round: 16,
  };
  const INT_UNARY: ReadonlySet<UnaryOp> = new Set<UnaryOp>(['relu', 'neg', 'abs', 'sign', 'floor', 'ceil', 'round']);

  function unaryKernel(op: UnaryOp): K<NoAttrs> {
    const fallback = ts[op] as K<NoAttrs>;
    const code = UNARY[op] as number;
    const takesInt = INT_UNARY.has(op);
    return (ins, outs, attrs) => {
      const x = ins[0];
      const y = outs[0];
      if (!(isFloat(x) || (takesInt && x.dtype === 'int32')) || !putStrided([y, x])) return fallback(ins, outs, attrs);
      addon.unary(code, x.buf, y.buf, P);
    };
  }

  // ---------------------------------------------------------------- data movement

  // dl::kCopy: a strided layout into another of the same dtype, threaded over the pool.
  const COPY = 17;
  /** dst = src (same shape) natively; false where the addon does not take it (other dtypes, casts). */
  function copyArg(dst: Arg, src: Arg): boolean {
    if (dst.dtype !== src.dtype || !(isFloat(src) || src.dtype === 'int32') || !putStrided([dst, src])) return false;
    addon.unary(COPY, src.buf, dst.buf, P);
    return true;
  }

  const copy: K<NoAttrs> = (ins, outs, attrs) => {
    if (!copyArg(outs[0], ins[0])) ts.copy(ins, outs, attrs);
  };

  // Each input into its slice of the output.
  const cat: K<KernelAttrs['cat']> = (ins, outs, attrs) => {
    const y = outs[0];
    const step = y.strides[attrs.dim];
    let at = 0;
    for (const x of ins) {
      const slice = { buf: y.buf, dtype: y.dtype, shape: x.shape, strides: y.strides, offset: y.offset + at * step };
      if (!copyArg(slice, x)) ts.copy([x], [slice], {});
      at += x.shape[attrs.dim];
    }
  };

  // ---------------------------------------------------------------- reductions

  const sum: K<KernelAttrs['sum']> = (ins, outs, attrs) => {
    const x = ins[0];
    const y = outs[0];
    const nd = x.shape.length;
    // An empty input (sums of nothing are 0) goes to the TypeScript kernel: the addon writes
    // only the outputs it reduces into.
    if (!isFloat(x) || x.dtype !== y.dtype || nd > 16 || !isContiguous(y) || numel(x.shape) === 0) return ts.sum(ins, outs, attrs);
    P[0] = nd;
    P[1] = x.offset;
    P[2] = y.offset;
    for (let d = 0; d < nd; d++) {
      P[3 + d] = x.shape[d];
      P[3 + nd + d] = x.strides[d];
      P[3 + 2 * nd + d] = y.shape[d] === 1 ? 0 : y.strides[d];
    }
    addon.sum(x.buf, y.buf, P);
  };

  function softmaxKernel(log: boolean): K<{ readonly dim: number }> {
    const fallback = log ? ts.logSoftmax : ts.softmax;
    return (ins, outs, attrs) => {
      const x = ins[0];
      const y = outs[0];
      if (!isFloat(x) || !isContiguous(x) || !isContiguous(y)) return fallback(ins, outs, attrs);
      const d = attrs.dim;
      P[0] = numel(x.shape.slice(0, d));
      P[1] = x.shape[d];
      P[2] = numel(x.shape.slice(d + 1));
      P[3] = x.offset;
      P[4] = y.offset;
      addon.softmax(x.buf, y.buf, P, log);
    };
  }

  // ---------------------------------------------------------------- cross-entropy

  /** Offset and stride of a 1-D operand at P[k], P[k + 1] (0, 0 when absent). */
  function put1(k: number, a: Arg | undefined): void {
    P[k] = a ? a.offset : 0;
    P[k + 1] = a ? a.strides[0] : 0;
  }

  // Any strides for the inputs (the C++ kernels index them); loss, lse and gx as allocated.
  const crossEntropy: K<KernelAttrs['crossEntropy']> = (ins, outs, at) => {
    const [x, target, weight] = ins;
    const [loss, lse] = outs;
    if (!isContiguous(loss) || !isContiguous(lse)) return ts.crossEntropy(ins, outs, at);
    P[0] = x.shape[0];
    P[1] = x.shape[1];
    P[2] = x.offset;
    P[3] = x.strides[0];
    P[4] = x.strides[1];
    put1(5, target);
    put1(7, weight);
    P[9] = loss.offset;
    P[10] = lse.offset;
    P[11] = at.ignoreIndex;
    P[12] = at.labelSmoothing;
    addon.crossEntropy(x.buf, target.buf, weight?.buf, loss.buf, lse.buf, P);
  };

  const crossEntropyBackward: K<KernelAttrs['crossEntropyBackward']> = (ins, outs, at) => {
    const [gy, x, target, lse, weight] = ins;
    const gx = outs[0];
    if (!isContiguous(gx)) return ts.crossEntropyBackward(ins, outs, at);
    P[0] = x.shape[0];
    P[1] = x.shape[1];
    put1(2, gy);
    P[4] = x.offset;
    P[5] = x.strides[0];
    P[6] = x.strides[1];
    put1(7, target);
    put1(9, lse);
    put1(11, weight);
    P[13] = gx.offset;
    P[14] = at.ignoreIndex;
    P[15] = at.labelSmoothing;
    addon.crossEntropyBackward(gy.buf, x.buf, target.buf, lse.buf, weight?.buf, gx.buf, P);
  };

  // ---------------------------------------------------------------- normalization

  const layerNorm: K<KernelAttrs['layerNorm']> = (ins, outs, attrs) => {
    const [x] = ins;
    const w = attrs.weight ? ins[1] : undefined;
    const b = attrs.bias ? ins[attrs.weight ? 2 : 1] : undefined;
    const [y, mean, rstd] = outs;
    if (!isFloat(x)) return ts.layerNorm(ins, outs, attrs);
    const R = numel(mean.shape);
    P[0] = R;
    P[1] = R === 0 ? 0 : numel(x.shape) / R;
    P[2] = attrs.eps;
    P[3] = x.offset;
    P[4] = w?.offset ?? 0;
    P[5] = b?.offset ?? 0;
    P[6] = y.offset;
    P[7] = mean.offset;
    P[8] = rstd.offset;
    addon.layerNorm(x.buf, w?.buf, b?.buf, y.buf, mean.buf, rstd.buf, P);
  };

  const layerNormBackward: K<KernelAttrs['layerNormBackward']> = (ins, outs, attrs) => {
    const [gy, x, mean, rstd] = ins;
    const w = attrs.weight ? ins[4] : undefined;
    const [gx, gw, gb] = outs;
    if (!isFloat(x)) return ts.layerNormBackward(ins, outs, attrs);
    P[0] = numel(mean.shape);
    P[1] = gw.shape[0];
    P[2] = gy.offset;
    P[3] = x.offset;
    P[4] = mean.offset;
    P[5] = rstd.offset;
    P[6] = w?.offset ?? 0;
    P[7] = gx.offset;
    P[8] = gw.offset;
    P[9] = gb.offset;
    addon.layerNormBackward(gy.buf, x.buf, mean.buf, rstd.buf, w?.buf, gx.buf, gw.buf, gb.buf, P);
  };

  /** x seen as [N, C, S]: the leading P slots of both batch-norm kernels. */
  const putChannels = (x: Arg, C: number, eps: number) => {
    const N = x.shape[0];
    P[0] = N;
    P[1] = C;
    P[2] = N * C === 0 ? 0 : numel(x.shape) / (N * C);
    P[3] = eps;
  };

  const batchNorm: K<KernelAttrs['batchNorm']> = (ins, outs, attrs) => {
    const [x] = ins;
    const w = attrs.weight ? ins[1] : undefined;
    const b = attrs.bias ? ins[attrs.weight ? 2 : 1] : undefined;
    const [y, mean, variance] = outs;
    if (!isFloat(x)) return ts.batchNorm(ins, outs, attrs);
    putChannels(x, mean.shape[0], attrs.eps);
    P[4] = x.offset;
    P[5] = w?.offset ?? 0;
    P[6] = b?.offset ?? 0;
    P[7] = y.offset;
    P[8] = mean.offset;
    P[9] = variance.offset;
    addon.batchNorm(x.buf, w?.buf, b?.buf, y.buf, mean.buf, variance.buf, P);
  };

  const batchNormBackward: K<KernelAttrs['batchNormBackward']> = (ins, outs, attrs) => {
    const [gy, x, mean, variance] = ins;
    const w = attrs.weight ? ins[4] : undefined;
    const [gx, gw, gb] = outs;
    if (!isFloat(x)) return ts.batchNormBackward(ins, outs, attrs);
    putChannels(x, mean.shape[0], attrs.eps);
    P[4] = gy.offset;
    P[5] = x.offset;
    P[6] = mean.offset;
    P[7] = variance.offset;
    P[8] = w?.offset ?? 0;
    P[9] = gx.offset;
    P[10] = gw.offset;
    P[11] = gb.offset;
    addon.batchNormBackward(gy.buf, x.buf, mean.buf, variance.buf, w?.buf, gx.buf, gw.buf, gb.buf, P);
  };

  const table: Partial<KernelTable<TypedArray>> = {
    matmul,
    conv2d,
    conv2dBackwardInput,
    conv2dBackwardWeight,
    maxPool2d,
    maxPool2dBackward,
    avgPool2d,
    avgPool2dBackward,
    where,
    copy,
    cat,
    sum,
    softmax: softmaxKernel(false),
    logSoftmax: softmaxKernel(true),
    crossEntropy,
    crossEntropyBackward,
    layerNorm,
    layerNormBackward,
    batchNorm,
    batchNormBackward,
  };
  for (const op of [...Object.keys(ARITH), ...Object.keys(COMPARE)] as BinaryOp[]) {
    (table as Record<OpName, unknown>)[op] = binaryKernel(op);
  }
  for (const op of Object.keys(UNARY) as UnaryOp[]) (table as Record<OpName, unknown>)[op] = unaryKernel(op);
  return table;
}

/** The ops that have native kernels (for doctor and tests). */
export const NATIVE_OPS: readonly OpName[] = [
  'matmul', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight', 'maxPool2d', 'maxPool2dBackward', 'avgPool2d', 'avgPool2dBackward',
  'add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'reluBackward', 'geluBackward', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where',
  'relu', 'neg', 'abs', 'sqrt', 'rsqrt', 'exp', 'log', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu', 'erf', 'sign', 'floor', 'ceil', 'round',
  'sum', 'softmax', 'logSoftmax',
  'crossEntropy', 'crossEntropyBackward',
  'copy', 'cat', 'layerNorm', 'layerNormBackward', 'batchNorm', 'batchNormBackward',
];
