/** Gradient rules of views and data movement. `expand` is the one place where broadcasting is undone. */
import type { KernelAttrs, Tensor, ViewAttrs } from '@dl/tensor';
import { cat, indexAdd, tensor, zeros } from '@dl/tensor';
import type { GradEntry } from './types.js';

type Table<K extends keyof (KernelAttrs & ViewAttrs)> = { [P in K]: GradEntry<(KernelAttrs & ViewAttrs)[P]> | null };

/** Sum a gradient of the expanded shape back to the input's shape. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  const dims = shape.flatMap((d, i) => (d === 1 && g.shape[i] !== 1 ? [i] : []));
  return dims.length ? g.sum(dims, true) : g;
}

export const shapeGrads: Table<'reshape' | 'permute' | 'expand' | 'slice' | 'split' | 'copy' | 'cast' | 'fill' | 'pad' | 'cat'> = {
  reshape: { backward: (c, [g]) => [g!.reshape(c.inputShapes[0] as number[])] },
  permute: {
    backward: (c, [g]) => {
      const inv: number[] = [];
      c.attrs.dims.forEach((d, i) => {
        inv[d] = i;
      });
      return [g!.permute(inv)];
    },
  },
  expand: { backward: (c, [g]) => [sumToShape(g!, c.inputShapes[0])] },
  // The gradient lands in the sliced positions of a zero tensor.
  slice: {
    backward: (c, [g]) => {
      const { dim, start, end, step } = c.attrs;
      const shape = c.inputShapes[0];
      if (step === 1) {
        const pads = new Array<number>(2 * (shape.length - dim)).fill(0);
        pads[2 * (shape.length - 1 - dim)] = start;
        pads[2 * (shape.length - 1 - dim) + 1] = shape[dim] - end;
        return [g!.pad(pads)];
      }
      const idx: number[] = [];
      for (let i = start; i < end; i += step) idx.push(i);
      const index = tensor(Int32Array.from(idx), { device: g!.device });
      return [indexAdd(zeros(shape as number[], { dtype: g!.dtype, device: g!.device }), dim, index, g!)];
    },
  },
  // The pieces' gradients joined (zeros for a piece that got none): one cat over the input.
  split: {
    backward: (c, grads) => {
      const { dim, sizes } = c.attrs;
      const like = grads.find((g) => g !== null)!;
      const shape = c.inputShapes[0];
      const pieces = grads.map((g, i) => g ?? zeros(shape.map((d, k) => (k === dim ? sizes[i] : d)), { dtype: like.dtype, device: like.device }));
      return [pieces.length === 1 ? pieces[0] : cat(pieces, dim)];
    },
  },
  copy: { backward: (_c, [g]) => [g] },
  cast: { backward: (c, [g]) => [c.inputDtypes[0] === 'float32' || c.inputDtypes[0] === 'float64' ? g!.to(c.inputDtypes[0]) : null] },
  fill: null,
  // Constant pad: the gradient is the un-padded window.
  pad: {
    backward: (c, [g]) => {
      let out = g!;
      c.attrs.pads.forEach(([before], d) => {
        out = out.narrow(d, before, c.inputShapes[0][d]);
      });
      return [out];
    },
  },
  cat: {
    backward: (c, [g]) => {
      const sizes = c.inputShapes.map((s) => s[c.attrs.dim]);
      return g!.split(sizes, c.attrs.dim);
    },
  },
};
