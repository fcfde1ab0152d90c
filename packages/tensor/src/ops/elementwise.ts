/** Elementwise ops: unary, binary (with broadcasting and type promotion), where, clamp. */
import type { BinaryOp, UnaryOp } from '../backend/types.js';
import { DEFAULT_FLOAT, isFloating, resultType } from '../dtype.js';
import type { DType } from '../dtype.js';
import { dispatch } from '../dispatch.js';
import { fail } from '../errors.js';
import { broadcastShapes } from '../layout.js';
import { Tensor } from '../tensor.js';
import { cast } from './convert.js';
import { scalarTensor, valueFor } from './creation.js';
import { broadcastTo } from './shape.js';
import { asTensor } from './util.js';

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
  add: 'arith', sub: 'arith', mul: 'arith', div: 'arith', pow: 'arith', maximum: 'arith', minimum: 'arith', reluBackward: 'arith',
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
  if (op === 'div' && !isFloating(dtype)) dtype = DEFAULT_FLOAT;
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
