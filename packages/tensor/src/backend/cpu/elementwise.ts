/**
 * Elementwise kernels: unary ops, clamp, binary ops and where.
 *
 * Each family has one "row" function: a switch on the op OUTSIDE the loops and
 * one tight loop per op over `n` elements with a stride per operand. The
 * kernel runs that row function once over the whole buffer when every operand
 * is contiguous, else once per row of a `Walker` (stride 0 for broadcast dims,
 * any sign for transposed/flipped views).
 */
import type { TypedArray } from '../../dtype.js';
import type { BinaryOp, Kernel, KernelAttrs, UnaryOp } from '../types.js';
import { ErfMode, erfRow } from './erf.js';
import { Walker, contiguous, normalizeBool, numelOf } from './strided.js';

type NoAttrs = KernelAttrs['neg'];
type K<A> = Kernel<A, TypedArray>;

// ---------------------------------------------------------------- unary

function unaryRow(op: UnaryOp, x: TypedArray, ix: number, sx: number, y: TypedArray, iy: number, sy: number, n: number): void {
  switch (op) {
    case 'neg':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = -x[ix];
      return;
    case 'abs':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.abs(x[ix]);
      return;
    case 'exp':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.exp(x[ix]);
      return;
    case 'log':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.log(x[ix]);
      return;
    case 'sqrt':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.sqrt(x[ix]);
      return;
    case 'rsqrt':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = 1 / Math.sqrt(x[ix]);
      return;
    case 'sin':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.sin(x[ix]);
      return;
    case 'cos':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.cos(x[ix]);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.tanh(x[ix]);
      return;
    case 'sigmoid':
      // exp of a non-positive number only: no overflow for large |x|.
      for (let i = 0; i < n; i++, ix += sx, iy += sy) {
        const v = x[ix];
        if (v >= 0) y[iy] = 1 / (1 + Math.exp(-v));
        else {
          const e = Math.exp(v);
          y[iy] = e / (1 + e);
        }
      }
      return;
    case 'relu':
      // Math.max keeps NaN and turns -0 into 0.
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.max(x[ix], 0);
      return;
    case 'gelu':
      erfRow(ErfMode.Gelu, x, ix, sx, y, iy, sy, n);
      return;
    case 'erf':
      erfRow(ErfMode.Erf, x, ix, sx, y, iy, sy, n);
      return;
    case 'sign':
      // -1, 0 or 1; sign(-0) = 0; NaN stays NaN (as the reference backend).
      for (let i = 0; i < n; i++, ix += sx, iy += sy) {
        const v = x[ix];
        y[iy] = v > 0 ? 1 : v < 0 ? -1 : v === 0 ? 0 : v;
      }
      return;
    case 'floor':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.floor(x[ix]);
      return;
    case 'ceil':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.ceil(x[ix]);
      return;
    case 'round':
      // Math.round breaks ties toward +Infinity and r - v is exact; a tie that
      // went up to an odd integer goes back down (half to even; keeps -0).
      for (let i = 0; i < n; i++, ix += sx, iy += sy) {
        const v = x[ix];
        const r = Math.round(v);
        y[iy] = r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
      }
      return;
    case 'logicalNot':
      for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = x[ix] === 0 ? 1 : 0;
      return;
  }
}

function unaryKernel(op: UnaryOp): K<NoAttrs> {
  return (ins, outs) => {
    const x = ins[0];
    const y = outs[0];
    if (contiguous(x) && contiguous(y)) {
      unaryRow(op, x.buf, x.offset, 1, y.buf, y.offset, 1, numelOf(y.shape));
      return;
    }
    const w = new Walker(y.shape, [y.strides, x.strides], [y.offset, x.offset]);
    const p = w.pos;
    for (let r = 0; r < w.rows; r++, w.next()) unaryRow(op, x.buf, p[1], w.inner[1], y.buf, p[0], w.inner[0], w.n);
  };
}

// ---------------------------------------------------------------- clamp

function clampRow(lo: number, hi: number, x: TypedArray, ix: number, sx: number, y: TypedArray, iy: number, sy: number, n: number): void {
  // min(max(x, lo), hi): NaN passes through; lo > hi gives hi (as PyTorch).
  for (let i = 0; i < n; i++, ix += sx, iy += sy) y[iy] = Math.min(Math.max(x[ix], lo), hi);
}

const clamp: K<KernelAttrs['clamp']> = (ins, outs, attrs) => {
  const x = ins[0];
  const y = outs[0];
  const lo = attrs.min ?? -Infinity;
  const hi = attrs.max ?? Infinity;
  if (contiguous(x) && contiguous(y)) {
    clampRow(lo, hi, x.buf, x.offset, 1, y.buf, y.offset, 1, numelOf(y.shape));
    return;
  }
  const w = new Walker(y.shape, [y.strides, x.strides], [y.offset, x.offset]);
  const p = w.pos;
  for (let r = 0; r < w.rows; r++, w.next()) clampRow(lo, hi, x.buf, p[1], w.inner[1], y.buf, p[0], w.inner[0], w.n);
};

// ---------------------------------------------------------------- binary

/**
 * `int`: the operands are int32/uint8/bool (products via Math.imul so that they
 * wrap exactly; pow by repeated squaring).
 */
function binaryRow(
  op: BinaryOp,
  int: boolean,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  y: TypedArray,
  iy: number,
  sy: number,
  n: number,
): void {
  switch (op) {
    case 'add':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] + b[ib];
      return;
    case 'sub':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] - b[ib];
      return;
    case 'mul':
      if (int) for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = Math.imul(a[ia], b[ib]);
      else for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] * b[ib];
      return;
    case 'div':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] / b[ib];
      return;
    case 'pow':
      if (int) {
        for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) {
          let base = a[ia];
          let e = b[ib];
          let r = 1;
          if (e < 0) {
            // PyTorch's integer pow: 1 for base 1, +-1 for base -1, else 0.
            r = base === 1 ? 1 : base === -1 ? (e & 1 ? -1 : 1) : 0;
          } else {
            while (e > 0) {
              if (e & 1) r = Math.imul(r, base);
              base = Math.imul(base, base);
              e >>>= 1;
            }
          }
          y[iy] = r;
        }
      } else {
        for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) {
          const av = a[ia];
          const bv = b[ib];
          const r = av ** bv;
          // C's pow (and PyTorch): pow(1, y) = 1 and pow(-1, +-inf) = 1, where JS gives NaN.
          y[iy] = !Number.isNaN(r) || !(av === 1 || (av === -1 && (bv === Infinity || bv === -Infinity))) ? r : 1;
        }
      }
      return;
    case 'maximum':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) {
        const av = a[ia];
        const bv = b[ib];
        y[iy] = av > bv || Number.isNaN(av) ? av : bv; // NaN in either wins
      }
      return;
    case 'minimum':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) {
        const av = a[ia];
        const bv = b[ib];
        y[iy] = av < bv || Number.isNaN(av) ? av : bv;
      }
      return;
    case 'reluBackward':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = b[ib] > 0 ? a[ia] : 0;
      return;
    case 'geluBackward':
      erfRow(ErfMode.GeluBackward, b, ib, sb, y, iy, sy, n, a, ia, sa);
      return;
    case 'eq':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] === b[ib] ? 1 : 0;
      return;
    case 'ne':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] !== b[ib] ? 1 : 0;
      return;
    case 'lt':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] < b[ib] ? 1 : 0;
      return;
    case 'le':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] <= b[ib] ? 1 : 0;
      return;
    case 'gt':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] > b[ib] ? 1 : 0;
      return;
    case 'ge':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] >= b[ib] ? 1 : 0;
      return;
    case 'logicalAnd':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] !== 0 && b[ib] !== 0 ? 1 : 0;
      return;
    case 'logicalOr':
      for (let i = 0; i < n; i++, ia += sa, ib += sb, iy += sy) y[iy] = a[ia] !== 0 || b[ib] !== 0 ? 1 : 0;
      return;
  }
}

function binaryKernel(op: BinaryOp): K<NoAttrs> {
  return (ins, outs) => {
    const a = ins[0];
    const b = ins[1];
    const y = outs[0];
    const int = a.dtype !== 'float32' && a.dtype !== 'float64';
    if (contiguous(a) && contiguous(b) && contiguous(y)) {
      binaryRow(op, int, a.buf, a.offset, 1, b.buf, b.offset, 1, y.buf, y.offset, 1, numelOf(y.shape));
    } else {
      const w = new Walker(y.shape, [y.strides, a.strides, b.strides], [y.offset, a.offset, b.offset]);
      const p = w.pos;
      const s = w.inner;
      for (let r = 0; r < w.rows; r++, w.next()) binaryRow(op, int, a.buf, p[1], s[1], b.buf, p[2], s[2], y.buf, p[0], s[0], w.n);
    }
    // bool + bool is logical or (and bool - bool, which PyTorch rejects, is xor).
    if (y.dtype === 'bool' && (op === 'add' || op === 'sub')) normalizeBool(y);
  };
}

// ---------------------------------------------------------------- where

function whereRow(
  c: TypedArray,
  ic: number,
  sc: number,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  y: TypedArray,
  iy: number,
  sy: number,
  n: number,
): void {
  for (let i = 0; i < n; i++, ic += sc, ia += sa, ib += sb, iy += sy) y[iy] = c[ic] !== 0 ? a[ia] : b[ib];
}

const where: K<NoAttrs> = (ins, outs) => {
  const c = ins[0];
  const a = ins[1];
  const b = ins[2];
  const y = outs[0];
  if (contiguous(c) && contiguous(a) && contiguous(b) && contiguous(y)) {
    whereRow(c.buf, c.offset, 1, a.buf, a.offset, 1, b.buf, b.offset, 1, y.buf, y.offset, 1, numelOf(y.shape));
    return;
  }
  const w = new Walker(y.shape, [y.strides, c.strides, a.strides, b.strides], [y.offset, c.offset, a.offset, b.offset]);
  const p = w.pos;
  const s = w.inner;
  for (let r = 0; r < w.rows; r++, w.next()) whereRow(c.buf, p[1], s[1], a.buf, p[2], s[2], b.buf, p[3], s[3], y.buf, p[0], s[0], w.n);
};

// ---------------------------------------------------------------- table

export const elementwiseKernels = {
  neg: unaryKernel('neg'),
  abs: unaryKernel('abs'),
  exp: unaryKernel('exp'),
  log: unaryKernel('log'),
  sqrt: unaryKernel('sqrt'),
  rsqrt: unaryKernel('rsqrt'),
  sin: unaryKernel('sin'),
  cos: unaryKernel('cos'),
  tanh: unaryKernel('tanh'),
  sigmoid: unaryKernel('sigmoid'),
  relu: unaryKernel('relu'),
  gelu: unaryKernel('gelu'),
  erf: unaryKernel('erf'),
  sign: unaryKernel('sign'),
  floor: unaryKernel('floor'),
  ceil: unaryKernel('ceil'),
  round: unaryKernel('round'),
  logicalNot: unaryKernel('logicalNot'),
  clamp,
  add: binaryKernel('add'),
  sub: binaryKernel('sub'),
  mul: binaryKernel('mul'),
  div: binaryKernel('div'),
  pow: binaryKernel('pow'),
  maximum: binaryKernel('maximum'),
  minimum: binaryKernel('minimum'),
  reluBackward: binaryKernel('reluBackward'),
  geluBackward: binaryKernel('geluBackward'),
  eq: binaryKernel('eq'),
  ne: binaryKernel('ne'),
  lt: binaryKernel('lt'),
  le: binaryKernel('le'),
  gt: binaryKernel('gt'),
  ge: binaryKernel('ge'),
  logicalAnd: binaryKernel('logicalAnd'),
  logicalOr: binaryKernel('logicalOr'),
  where,
};
