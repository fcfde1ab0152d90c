/** Gradient rules of reductions, softmax and logSoftmax (reductions run in keepdim form). */
import type { KernelAttrs, Tensor } from '@dl/tensor';
import { div, eq, exp, mul, sub, zerosLike } from '@dl/tensor';
import type { GradEntry } from './types.js';

type Table<K extends keyof KernelAttrs> = { [P in K]: GradEntry<KernelAttrs[P]> | null };

/** The keepdim-shaped gradient spread back over the input. */
const spread = (g: Tensor, shape: readonly number[]) => g.expand(...shape);

/** Max/min: the gradient is shared evenly among the elements equal to the extreme (as PyTorch's amax). */
const extreme: GradEntry<KernelAttrs['max']> = {
  saveInputs: true,
  saveOutputs: true,
  backward: (c, [g]) => {
    const x = c.inputs[0]!;
    const mask = eq(x, c.outputs[0]!).to(x.dtype);
    const count = mask.sum(c.attrs.dims as number[], true);
    return [mul(spread(div(g!, count), x.shape), mask)];
  },
};

export const reduceGrads: Table<'sum' | 'prod' | 'max' | 'min' | 'all' | 'any' | 'argmax' | 'argmin' | 'sort' | 'cumsum' | 'softmax' | 'logSoftmax'> = {
  sum: { backward: (c, [g]) => [spread(g!, c.inputShapes[0])] },
  // d prod / d x_i = prod / x_i (inputs containing zeros give NaN/inf here; see ARCHITECTURE.md)
  prod: { saveInputs: true, saveOutputs: true, backward: (c, [g]) => [div(mul(spread(g!, c.inputShapes[0]), c.outputs[0]!), c.inputs[0]!)] },
  max: extreme,
  min: extreme,
  all: null,
  any: null,
  argmax: null,
  argmin: null,
  // cumsum: y_k = sum_{i <= k} x_i, so dx_i = sum_{k >= i} g_k: a running sum from the end.
  cumsum: { backward: (c, [g]) => [g!.flip(c.attrs.dim).cumsum(c.attrs.dim).flip(c.attrs.dim)] },
  // sort: each value's gradient goes back to the position it came from (indices: none).
  sort: {
    saveOutputs: [1],
    backward: (c, [g]) => [g ? zerosLike(g).scatter(c.attrs.dim, c.outputs[1]!, g) : null],
  },
  // softmax: dx = y * (g - sum(g * y))
  softmax: {
    saveOutputs: true,
    backward: (c, [g]) => {
      const y = c.outputs[0]!;
      return [mul(y, sub(g!, mul(g!, y).sum(c.attrs.dim, true)))];
    },
  },
  // logSoftmax: dx = g - exp(y) * sum(g)
  logSoftmax: {
    saveOutputs: true,
    backward: (c, [g]) => [sub(g!, mul(exp(c.outputs[0]!), g!.sum(c.attrs.dim, true)))],
  },
};
