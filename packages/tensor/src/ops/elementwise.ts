/** Elementwise ops: unary, binary (with broadcasting and type promotion), where, clamp. */
import type { BinaryOp, UnaryOp } from '../backend/types.js';
import { DEFAULT_FLOAT, isFloating, resultType } from '../dtype.js';
import type { DType } from '../dtype.js';
import { dispatch } from '../dispatch.js';
import { fail, fmtShape } from '../errors.js';
import { broadcastShapes } from '../layout.js';
import { Tensor } from '../tensor.js';
import { cast } from './convert.js';
import { fromHost, full, scalarTensor, valueFor } from './creation.js';
import { broadcastTo } from './shape.js';
import { asTensor, intArg } from './util.js';

export type Operand = Tensor | number | boolean;

const FLOAT_UNARY: ReadonlySet<UnaryOp> = new Set<UnaryOp>(['exp', 'log', 'sqrt', 'rsqrt', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu', 'erf']);

function unary(op: UnaryOp, x: Tensor): Tensor {
  asTensor(op, 'input', x);
  let input = x;
  if (op === 'logicalNot') {
    return dispatch(op, [input], {}, [{ shape: x.shape, dtype: 'bool' }])[0];
  }
  if (FLOAT_UNARY.has(op) && !isFloating(x.dtype)) input = cast(x, DEFAULT_FLOAT);
  else if (x.dtype === 'bool') {
    if (op === 'neg') fail('DTYPE', op, 'negation is not defined for bool tensors', 'use logicalNot() instead');
    input = cast(x, 'uint8');
  }
  const out = dispatch(op, [input], {}, [{ shape: x.shape, dtype: input.dtype }])[0];
  if (input !== x) input.dispose();
  return out;
}

export const neg = (x: Tensor) => unary('neg', x);
export const abs = (x: Tensor) => unary('abs', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const rsqrt = (x: Tensor) => unary('rsqrt', x);
export const sin = (x: Tensor) => unary('sin', x);
export const cos = (x: Tensor) => unary('cos', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const relu = (x: Tensor) => unary('relu', x);
export const gelu = (x: Tensor) => unary('gelu', x);
export const erf = (x: Tensor) => unary('erf', x);
export const sign = (x: Tensor) => unary('sign', x);
export const floor = (x: Tensor) => unary('floor', x);
export const ceil = (x: Tensor) => unary('ceil', x);
export const round = (x: Tensor) => unary('round', x);
export const logicalNot = (x: Tensor) => unary('logicalNot', x);

/** min(max(x, min), max); either bound may be null. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  asTensor('clamp', 'input', x);
  const lo = min ?? null;
  const hi = max ?? null;
  if (lo === null && hi === null) fail('ARGUMENT', 'clamp', 'at least one of min or max must be given');
  for (const b of [lo, hi]) if (b !== null && typeof b !== 'number') fail('ARGUMENT', 'clamp', `bounds must be numbers; got ${typeof b}`);
  const needFloat = !isFloating(x.dtype) && [lo, hi].some((b) => b !== null && !Number.isInteger(b));
  const input = needFloat || x.dtype === 'bool' ? cast(x, needFloat ? DEFAULT_FLOAT : 'uint8') : x;
  const out = dispatch('clamp', [input], { min: lo, max: hi }, [{ shape: x.shape, dtype: input.dtype }])[0];
  if (input !== x) input.dispose();
  return out;
}

type BinaryKind = 'arith' | 'compare' | 'logical';
const KIND: Record<BinaryOp, BinaryKind> = {
  add: 'arith', sub: 'arith', mul: 'arith', div: 'arith', pow: 'arith', maximum: 'arith', minimum: 'arith', reluBackward: 'arith', geluBackward: 'arith',
  eq: 'compare', ne: 'compare', lt: 'compare', le: 'compare', gt: 'compare', ge: 'compare',
  logicalAnd: 'logical', logicalOr: 'logical',
};

function operandTensor(op: string, v: Operand, dtype: DType, device: Tensor['device']): Tensor {
  if (v instanceof Tensor) return cast(v, dtype);
  if (typeof v !== 'number' && typeof v !== 'boolean') {
    fail('ARGUMENT', op, `operands must be Tensors, numbers or booleans; got ${v === null ? 'null' : typeof v}`);
  }
  return scalarTensor(valueFor(op, v, dtype), dtype, device);
}

function binary(op: BinaryOp, a: Operand, b: Operand): Tensor {
  if (typeof a === 'object') asTensor(op, 'input', a);
  if (typeof b === 'object') asTensor(op, 'other', b);
  const ta = a instanceof Tensor ? asTensor(op, 'input', a) : undefined;
  const tb = b instanceof Tensor ? asTensor(op, 'other', b) : undefined;
  if (!ta && !tb) fail('ARGUMENT', op, 'at least one operand must be a Tensor');
  const device = (ta ?? tb)!.device;
  const kind = KIND[op];
  let dtype = kind === 'logical' ? 'bool' : resultType([ta ?? (a as number), tb ?? (b as number)]);
  if ((op === 'div' || op === 'geluBackward') && !isFloating(dtype)) dtype = DEFAULT_FLOAT;
  const boolArith = kind === 'arith' && dtype === 'bool';
  if (boolArith) {
    if (op === 'sub') fail('DTYPE', op, 'subtraction of bool tensors is not supported', 'use logicalXor-style logic or cast to int32 first');
    dtype = 'uint8';
  }
  if (op === 'pow' && !isFloating(dtype) && typeof b === 'number' && b < 0) {
    fail('VALUE', op, `integers to negative integer powers are not allowed; got exponent ${b}`, "cast the base to float first: x.to('float32')");
  }
  const shape = broadcastShapes(op, ta?.shape ?? [], tb?.shape ?? []);
  const ca = operandTensor(op, ta ?? a, dtype, device);
  const cb = operandTensor(op, tb ?? b, dtype, device);
  const ea = broadcastTo(op, ca, shape);
  const eb = broadcastTo(op, cb, shape);
  const outDtype = kind === 'arith' ? dtype : 'bool';
  const out = dispatch(op, [ea, eb], {}, [{ shape, dtype: outDtype }])[0];
  for (const [t, orig] of [[ea, ca], [eb, cb], [ca, ta], [cb, tb]] as const) if (t !== orig) t.dispose();
  // bool arithmetic was done in uint8; the result is bool again (PyTorch).
  if (boolArith) {
    const r = cast(out, 'bool');
    out.dispose();
    return r;
  }
  return out;
}

/** a + alpha * b */
export function add(a: Operand, b: Operand, alpha?: number): Tensor {
  if (alpha === undefined || alpha === 1) return binary('add', a, b);
  const scaled = mul(b, alpha);
  const out = binary('add', a, scaled);
  scaled.dispose();
  return out;
}
/** a - alpha * b */
export function sub(a: Operand, b: Operand, alpha?: number): Tensor {
  if (alpha === undefined || alpha === 1) return binary('sub', a, b);
  const scaled = mul(b, alpha);
  const out = binary('sub', a, scaled);
  scaled.dispose();
  return out;
}
export const mul = (a: Operand, b: Operand) => binary('mul', a, b);
/** True division (integers give float32, as PyTorch). */
export const div = (a: Operand, b: Operand) => binary('div', a, b);
export const pow = (a: Operand, b: Operand) => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand) => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand) => binary('minimum', a, b);
/** relu's gradient: `grad` where `output` (relu's output, or its input) is positive, else 0; one pass (PyTorch's threshold_backward at 0). */
export const reluBackward = (grad: Operand, output: Operand) => binary('reluBackward', grad, output);
/**
 * gelu's gradient in one pass: grad * (Phi(input) + input * phi(input)), Phi and phi the standard
 * normal's distribution and density (PyTorch's gelu_backward, exact form). Integers give float32.
 */
export const geluBackward = (grad: Operand, input: Operand) => binary('geluBackward', grad, input);
export const eq = (a: Operand, b: Operand) => binary('eq', a, b);
export const ne = (a: Operand, b: Operand) => binary('ne', a, b);
export const lt = (a: Operand, b: Operand) => binary('lt', a, b);
export const le = (a: Operand, b: Operand) => binary('le', a, b);
export const gt = (a: Operand, b: Operand) => binary('gt', a, b);
export const ge = (a: Operand, b: Operand) => binary('ge', a, b);
export const logicalAnd = (a: Operand, b: Operand) => binary('logicalAnd', a, b);
export const logicalOr = (a: Operand, b: Operand) => binary('logicalOr', a, b);

/** Elements of a where condition holds, else of b (all broadcast together). */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  const cond = asTensor('where', 'condition', condition);
  if (cond.dtype !== 'bool') fail('DTYPE', 'where', `condition must be a bool tensor; got ${cond.dtype}`, 'compare first, e.g. x.gt(0), or cast with .bool()');
  const ta = a instanceof Tensor ? asTensor('where', 'input', a) : undefined;
  const tb = b instanceof Tensor ? asTensor('where', 'other', b) : undefined;
  const dtype = resultType([ta ?? (a as number), tb ?? (b as number)]);
  const shape = broadcastShapes('where', cond.shape, ta?.shape ?? [], tb?.shape ?? []);
  const ca = operandTensor('where', ta ?? a, dtype, cond.device);
  const cb = operandTensor('where', tb ?? b, dtype, cond.device);
  const ins = [cond, ca, cb].map((t) => broadcastTo('where', t, shape));
  const out = dispatch('where', ins, {}, [{ shape, dtype }])[0];
  const made = new Set([...ins, ca, cb]);
  for (const t of made) if (t !== cond && t !== ta && t !== tb) t.dispose();
  return out;
}

/** x with value where mask holds. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  asTensor('maskedFill', 'input', x);
  return where(mask, valueFor('maskedFill', value, x.dtype), x);
}

/** The lower (tril) or upper (triu) triangle of the last two dims, from `diagonal` on; zeros elsewhere. */
function triangle(op: 'tril' | 'triu', x: Tensor, diagonal: number): Tensor {
  asTensor(op, 'input', x);
  intArg(op, 'diagonal', diagonal);
  if (x.ndim < 2) fail('SHAPE', op, `expects a tensor with at least 2 dimensions; got shape ${fmtShape(x.shape)}`);
  const [r, c] = x.shape.slice(-2);
  const keep = new Uint8Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) keep[i * c + j] = Number(op === 'tril' ? j - i <= diagonal : j - i >= diagonal);
  const mask = fromHost(op, keep, [r, c], 'bool', x.device);
  const zero = scalarTensor(0, x.dtype, x.device);
  const out = where(mask, x, zero);
  mask.dispose();
  zero.dispose();
  return out;
}

/** torch.tril: entries on and below the `diagonal`-th diagonal of the last two dims (above it for diagonal > 0). */
export const tril = (x: Tensor, diagonal = 0) => triangle('tril', x, diagonal);
/** torch.triu: entries on and above the `diagonal`-th diagonal of the last two dims. */
export const triu = (x: Tensor, diagonal = 0) => triangle('triu', x, diagonal);

/** A bool tensor of x's shape: where x is NaN. */
export function isnan(x: Tensor): Tensor {
  asTensor('isnan', 'input', x);
  return isFloating(x.dtype) ? ne(x, x) : full(x.shape, false, { dtype: 'bool', device: x.device });
}

/** A bool tensor of x's shape: where x is +Infinity or -Infinity. */
export function isinf(x: Tensor): Tensor {
  asTensor('isinf', 'input', x);
  if (!isFloating(x.dtype)) return full(x.shape, false, { dtype: 'bool', device: x.device });
  const a = abs(x);
  const out = eq(a, Number.POSITIVE_INFINITY);
  a.dispose();
  return out;
}

/** A bool tensor of x's shape: where x is neither NaN nor infinite. */
export function isfinite(x: Tensor): Tensor {
  asTensor('isfinite', 'input', x);
  if (!isFloating(x.dtype)) return full(x.shape, true, { dtype: 'bool', device: x.device });
  const a = abs(x);
  const out = lt(a, Number.POSITIVE_INFINITY);
  a.dispose();
  return out;
}

export interface IsCloseOptions {
  /** Relative tolerance (default 1e-5). */
  rtol?: number;
  /** Absolute tolerance (default 1e-8). */
  atol?: number;
  /** Whether NaN equals NaN (default false). */
  equalNan?: boolean;
}

/**
 * torch.isclose: |a - b| <= atol + rtol * |b| elementwise (broadcast), infinities close only to
 * themselves, NaN close to nothing unless equalNan.
 */
export function isclose(a: Tensor, b: Operand, opts: IsCloseOptions = {}): Tensor {
  asTensor('isclose', 'input', a);
  const { rtol = 1e-5, atol = 1e-8, equalNan = false } = opts;
  for (const [name, v] of [['rtol', rtol], ['atol', atol]] as const) {
    if (typeof v !== 'number' || !(v >= 0)) fail('ARGUMENT', 'isclose', `${name} must be a non-negative number; got ${String(v)}`);
  }
  const made: Tensor[] = [];
  const keep = (t: Tensor) => {
    made.push(t);
    return t;
  };
  let close = keep(eq(a, b));
  if (equalNan) {
    const nb = b instanceof Tensor ? keep(isnan(b)) : Number.isNaN(b);
    close = keep(logicalOr(close, keep(logicalAnd(keep(isnan(a)), nb))));
  }
  const error = keep(abs(keep(sub(a, b))));
  const allowed = b instanceof Tensor ? keep(add(keep(abs(keep(mul(b, rtol)))), atol)) : atol + Math.abs(rtol * Number(b));
  const within = keep(logicalAnd(keep(isfinite(error)), keep(le(error, allowed))));
  const out = logicalOr(close, within);
  for (const t of made) t.dispose();
  return out;
}
