/** Gradient rules of the elementwise ops. Inputs of binary ops arrive broadcast (expand views), so no rule here un-broadcasts. */
import type { BinaryOp, KernelAttrs, Tensor, UnaryOp } from '@dl/tensor';
import { exp, geluBackward, logicalAnd, logicalNot, mul, neg, reluBackward, sub, where, zerosLike, div, log, eq, gt, lt, ge, le, sign, cos, sin } from '@dl/tensor';
import type { GradEntry } from './types.js';

type Table<K extends keyof KernelAttrs> = { [P in K]: GradEntry<KernelAttrs[P]> | null };

const x0 = (c: { inputs: readonly (Tensor | null)[] }) => c.inputs[0] as Tensor;
const y0 = (c: { outputs: readonly (Tensor | null)[] }) => c.outputs[0]!;

export const unaryGrads: Table<UnaryOp | 'clamp'> = {
  neg: { backward: (_c, [g]) => [neg(g!)] },
  abs: { saveInputs: true, backward: (c, [g]) => [mul(g!, sign(x0(c)))] },
  exp: { saveOutputs: true, backward: (c, [g]) => [mul(g!, y0(c))] },
  log: { saveInputs: true, backward: (c, [g]) => [div(g!, x0(c))] },
  // d sqrt(x) = 1 / (2 sqrt(x))
  sqrt: { saveOutputs: true, backward: (c, [g]) => [div(g!, mul(y0(c), 2))] },
  // d x^(-1/2) = -1/2 x^(-3/2) = -1/2 y^3
  rsqrt: { saveOutputs: true, backward: (c, [g]) => [mul(mul(g!, -0.5), y0(c).pow(3))] },
  sin: { saveInputs: true, backward: (c, [g]) => [mul(g!, cos(x0(c)))] },
  cos: { saveInputs: true, backward: (c, [g]) => [mul(g!, neg(sin(x0(c))))] },
  tanh: { saveOutputs: true, backward: (c, [g]) => [mul(g!, sub(1, mul(y0(c), y0(c))))] },
  sigmoid: { saveOutputs: true, backward: (c, [g]) => [mul(g!, mul(y0(c), sub(1, y0(c))))] },
  relu: { saveOutputs: true, backward: (c, [g]) => [reluBackward(g!, y0(c))] },
  // gelu(x) = x Phi(x): d = Phi(x) + x phi(x), one fused kernel (geluBackward).
  gelu: { saveInputs: true, backward: (c, [g]) => [geluBackward(g!, x0(c))] },
  // d erf(x) = 2 / sqrt(pi) exp(-x^2)
  erf: { saveInputs: true, backward: (c, [g]) => [mul(g!, mul(exp(neg(mul(x0(c), x0(c)))), 2 / Math.sqrt(Math.PI)))] },
  // Piecewise constant: zero gradient (as PyTorch).
  sign: { backward: (_c, [g]) => [zerosLike(g!)] },
  floor: { backward: (_c, [g]) => [zerosLike(g!)] },
  ceil: { backward: (_c, [g]) => [zerosLike(g!)] },
  round: { backward: (_c, [g]) => [zerosLike(g!)] },
  logicalNot: null,
  // Gradient passes where min <= x <= max (PyTorch).
  clamp: {
    saveInputs: true,
    backward: (c, [g]) => {
      const x = x0(c);
      const { min, max } = c.attrs;
      let mask: Tensor | null = null;
      if (min !== null) mask = ge(x, min);
      if (max !== null) mask = mask ? logicalAnd(mask, le(x, max)) : le(x, max);
      return [where(mask!, g!, 0)];
    },
  },
};

export const binaryGrads: Table<BinaryOp | 'where'> = {
  add: { backward: (_c, [g]) => [g, g] },
  sub: { backward: (c, [g]) => [g, c.needsGrad[1] ? neg(g!) : null] },
  mul: { saveInputs: true, backward: (c, [g]) => [c.needsGrad[0] ? mul(g!, c.inputs[1]!) : null, c.needsGrad[1] ? mul(g!, c.inputs[0]!) : null] },
  // d(a/b) = da / b - a db / b^2
  div: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [a, b] = c.inputs as Tensor[];
      return [c.needsGrad[0] ? div(g!, b) : null, c.needsGrad[1] ? neg(div(mul(g!, a), mul(b, b))) : null];
    },
  },
  // d(a^b) = b a^(b-1) da + a^b log(a) db (the db term is 0 where a = 0 and b >= 0, as PyTorch)
  pow: {
    saveInputs: true,
    saveOutputs: true,
    backward: (c, [g]) => {
      const [a, b] = c.inputs as Tensor[];
      const y = c.outputs[0]!;
      const ga = c.needsGrad[0] ? mul(g!, mul(b, a.pow(sub(b, 1)))) : null;
      const gb = c.needsGrad[1] ? where(logicalAnd(eq(a, 0), ge(b, 0)), 0, mul(g!, mul(y, log(a)))) : null;
      return [ga, gb];
    },
  },
  // Ties split the gradient evenly (as PyTorch).
  maximum: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [a, b] = c.inputs as Tensor[];
      const w = where(eq(a, b), 0.5, where(gt(a, b), 1, 0));
      return [mul(g!, w), mul(g!, sub(1, w))];
    },
  },
  minimum: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [a, b] = c.inputs as Tensor[];
      const w = where(eq(a, b), 0.5, where(lt(a, b), 1, 0));
      return [mul(g!, w), mul(g!, sub(1, w))];
    },
  },
  // Linear in the gradient; piecewise constant in the output (its derivative is 0 a.e.).
  reluBackward: { saveInputs: [1], backward: (c, [g]) => [c.needsGrad[0] ? reluBackward(g!, c.inputs[1]!) : null, null] },
  // y = a gelu'(x): dy/da = gelu'(x); dy/dx = a gelu''(x), gelu''(x) = phi(x) (2 - x^2), phi = exp(-x^2 / 2) / sqrt(2 pi).
  geluBackward: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [a, x] = c.inputs as Tensor[];
      const second = () => mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI)).mul(sub(2, mul(x, x)));
      return [c.needsGrad[0] ? geluBackward(g!, x) : null, c.needsGrad[1] ? mul(mul(g!, a), second()) : null];
    },
  },
  eq: null, ne: null, lt: null, le: null, gt: null, ge: null, logicalAnd: null, logicalOr: null,
  where: {
    saveInputs: [0],
    backward: (c, [g]) => {
      const cond = c.inputs[0]!;
      return [null, c.needsGrad[1] ? where(cond, g!, 0) : null, c.needsGrad[2] ? where(logicalNot(cond), g!, 0) : null];
    },
  },
};
