/** Elementwise kernels: unary, clamp, binary, where. */
import type { DType } from '../../dtype.js';
import type { BinaryOp, Kernel, KernelAttrs, UnaryOp } from '../types.js';
import { erf, gelu, geluDerivative, integerPow, relu, roundHalfEven, sign } from './math.js';
import { type Arg, readAll, wrapMul, writeAll } from './strided.js';

type RefKernel<K extends keyof KernelAttrs> = Kernel<KernelAttrs[K], Float64Array>;

/** The scalar function of each unary op, computed in float64. */
const UNARY: { readonly [K in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  sin: (x) => Math.sin(x),
  cos: (x) => Math.cos(x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu,
  gelu,
  erf,
  sign,
  floor: (x) => Math.floor(x),
  ceil: (x) => Math.ceil(x),
  round: roundHalfEven,
  logicalNot: (x) => (x === 0 ? 1 : 0), // NaN is truthy, so !NaN is false
};

/** ins [x], outs [y]: y = f(x), normalised to y's dtype (integer neg/abs wrap). */
function unary(op: UnaryOp): RefKernel<UnaryOp> {
  const f = UNARY[op];
  return (ins, outs) => {
    writeAll(outs[0], readAll(ins[0]).map(f));
  };
}

export const unaryKernels: { readonly [K in UnaryOp]: RefKernel<K> } = {
  neg: unary('neg'),
  abs: unary('abs'),
  exp: unary('exp'),
  log: unary('log'),
  sqrt: unary('sqrt'),
  rsqrt: unary('rsqrt'),
  sin: unary('sin'),
  cos: unary('cos'),
  tanh: unary('tanh'),
  sigmoid: unary('sigmoid'),
  relu: unary('relu'),
  gelu: unary('gelu'),
  erf: unary('erf'),
  sign: unary('sign'),
  floor: unary('floor'),
  ceil: unary('ceil'),
  round: unary('round'),
  logicalNot: unary('logicalNot'),
};

/** y = min(max(x, min), max); a null bound is absent; NaN stays NaN (as torch.clamp). */
export const clamp: RefKernel<'clamp'> = (ins, outs, { min, max }) => {
  const clampOne = (x: number): number => {
    if (Number.isNaN(x)) return NaN;
    let y = x;
    if (min !== null) y = Math.max(y, min);
    if (max !== null) y = Math.min(y, max);
    return y;
  };
  writeAll(outs[0], readAll(ins[0]).map(clampOne));
};

const isInt = (dtype: DType): boolean => dtype !== 'float32' && dtype !== 'float64';
const truthy = (v: number): boolean => v !== 0; // NaN is truthy

/**
 * The scalar function of each binary op. `dtype` is the inputs' dtype: it only
 * matters for mul and pow, where integer products must wrap at every step
 * (a float64 product of two int32 values may be inexact). Sums and differences
 * of int32 values are exact in float64 and wrap when written.
 */
function binaryFn(op: BinaryOp, dtype: DType): (a: number, b: number) => number {
  switch (op) {
    case 'add':
      return (a, b) => a + b;
    case 'sub':
      return (a, b) => a - b;
    case 'mul':
      return isInt(dtype) ? (a, b) => wrapMul(dtype, a, b) : (a, b) => a * b;
    case 'div':
      return (a, b) => a / b;
    case 'pow':
      return isInt(dtype) ? (a, b) => integerPow(a, b, (p, q) => wrapMul(dtype, p, q)) : floatPow;
    case 'maximum':
      return (a, b) => Math.max(a, b); // propagates NaN
    case 'minimum':
      return (a, b) => Math.min(a, b); // propagates NaN
    case 'reluBackward':
      return (a, b) => (b > 0 ? a : 0);
    case 'geluBackward':
      return (a, b) => a * geluDerivative(b);
    case 'eq':
      return (a, b) => (a === b ? 1 : 0);
    case 'ne':
      return (a, b) => (a !== b ? 1 : 0);
    case 'lt':
      return (a, b) => (a < b ? 1 : 0);
    case 'le':
      return (a, b) => (a <= b ? 1 : 0);
    case 'gt':
      return (a, b) => (a > b ? 1 : 0);
    case 'ge':
      return (a, b) => (a >= b ? 1 : 0);
    case 'logicalAnd':
      return (a, b) => (truthy(a) && truthy(b) ? 1 : 0);
    case 'logicalOr':
      return (a, b) => (truthy(a) || truthy(b) ? 1 : 0);
  }
}

/**
 * C / PyTorch pow. JavaScript's ** differs in two cases: C gives pow(1, y) = 1 for
 * every y (NaN included) and pow(-1, +-Infinity) = 1, where ** gives NaN.
 */
function floatPow(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return a ** b;
}

/** ins [a, b] (already broadcast to y's shape), outs [y]. */
function binary(op: BinaryOp): RefKernel<BinaryOp> {
  return (ins, outs) => {
    const [a, b] = ins;
    const f = binaryFn(op, a.dtype);
    const av = readAll(a);
    const bv = readAll(b);
    writeAll(
      outs[0],
      av.map((x, i) => f(x, bv[i])),
    );
  };
}

export const binaryKernels: { readonly [K in BinaryOp]: RefKernel<K> } = {
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div'),
  pow: binary('pow'),
  maximum: binary('maximum'),
  minimum: binary('minimum'),
  reluBackward: binary('reluBackward'),
  geluBackward: binary('geluBackward'),
  eq: binary('eq'),
  ne: binary('ne'),
  lt: binary('lt'),
  le: binary('le'),
  gt: binary('gt'),
  ge: binary('ge'),
  logicalAnd: binary('logicalAnd'),
  logicalOr: binary('logicalOr'),
};

/** ins [cond, a, b], outs [y]: y = cond ? a : b. */
export const where: RefKernel<'where'> = (ins, outs) => {
  const [cond, a, b]: readonly Arg[] = ins;
  const c = readAll(cond);
  const av = readAll(a);
  const bv = readAll(b);
  writeAll(
    outs[0],
    c.map((ci, i) => (truthy(ci) ? av[i] : bv[i])),
  );
};
