/** Gradient rules of the indexing ops. */
import type { KernelAttrs, Shape, Tensor } from '@dl/tensor';
import { zeros } from '@dl/tensor';
import type { GradEntry } from './types.js';

/** src's gradient: gathered at the index (which may cover only a leading block of src), zero elsewhere. */
function srcGrad(g: Tensor, dim: number, index: Tensor, srcShape: Shape): Tensor {
  const picked = g.gather(dim, index);
  // pad takes (before, after) pairs starting from the last dim.
  const pads: number[] = [];
  for (let i = srcShape.length - 1; i >= 0; i--) pads.push(0, srcShape[i] - index.shape[i]);
  return pads.some((p) => p > 0) ? picked.pad(pads) : picked;
}

type Table<K extends keyof KernelAttrs> = { [P in K]: GradEntry<KernelAttrs[P]> | null };

export const indexingGrads: Table<'indexSelect' | 'indexAdd' | 'gather' | 'scatter' | 'scatterAdd'> = {
  // Selected rows' gradients add back into their sources (repeats accumulate).
  indexSelect: {
    saveInputs: [1],
    backward: (c, [g]) => [zeros(c.inputShapes[0] as number[], { dtype: g!.dtype, device: g!.device }).indexAdd(c.attrs.dim, c.inputs[1]!, g!), null],
  },
  indexAdd: {
    saveInputs: [1],
    backward: (c, [g]) => [g, null, c.needsGrad[2] ? g!.indexSelect(c.attrs.dim, c.inputs[1]!) : null],
  },
  gather: {
    saveInputs: [1],
    backward: (c, [g]) => [zeros(c.inputShapes[0] as number[], { dtype: g!.dtype, device: g!.device }).scatterAdd(c.attrs.dim, c.inputs[1]!, g!), null],
  },
  // Overwritten positions get no gradient from self; src gets the gradient of where it landed.
  scatter: {
    saveInputs: [1],
    backward: (c, [g]) => [c.needsGrad[0] ? g!.scatter(c.attrs.dim, c.inputs[1]!, 0) : null, null, c.needsGrad[2] ? srcGrad(g!, c.attrs.dim, c.inputs[1]!, c.inputShapes[2]) : null],
  },
  scatterAdd: {
    saveInputs: [1],
    backward: (c, [g]) => [g, null, c.needsGrad[2] ? srcGrad(g!, c.attrs.dim, c.inputs[1]!, c.inputShapes[2]) : null],
  },
};
