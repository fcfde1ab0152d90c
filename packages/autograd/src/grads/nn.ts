/** Gradient rules of matmul, convolution and pooling (the heavy ones run as backward kernels). */
import type { KernelAttrs, Tensor } from '@dl/tensor';
import { adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d, avgPool2dBackward, conv2d, conv2dBackwardInput, conv2dBackwardWeight, matmul, maxPool2dBackward } from '@dl/tensor';
import type { GradEntry } from './types.js';

type Table<K extends keyof KernelAttrs> = { [P in K]: GradEntry<KernelAttrs[P]> | null };

export const nnGrads: Table<'matmul' | 'conv2d' | 'conv2dBackwardInput' | 'conv2dBackwardWeight' | 'maxPool2d' | 'maxPool2dBackward' | 'avgPool2d' | 'avgPool2dBackward' | 'adaptiveAvgPool2d' | 'adaptiveAvgPool2dBackward' | 'adaptiveMaxPool2d'> = {
  // y = a b: da = g b^T, db = a^T g (per batch)
  matmul: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [a, b] = c.inputs as Tensor[];
      return [c.needsGrad[0] ? matmul(g!, b.transpose(1, 2)) : null, c.needsGrad[1] ? matmul(a.transpose(1, 2), g!) : null];
    },
  },
  conv2d: {
    saveInputs: [0, 1],
    backward: (c, [g]) => {
      const [x, w] = c.inputs as Tensor[];
      return [
        c.needsGrad[0] ? conv2dBackwardInput(g!, w, x.shape, c.attrs) : null,
        c.needsGrad[1] ? conv2dBackwardWeight(g!, x, w.shape, c.attrs) : null,
        c.needsGrad[2] ? g!.sum([0, 2, 3]) : null,
      ];
    },
  },
  // The backward kernels are bilinear in (gradY, w) and (gradY, x), so their gradients are the
  // forward conv and the other backward kernel (double backward through a convnet works).
  conv2dBackwardInput: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [gy, w] = c.inputs as Tensor[];
      return [c.needsGrad[0] ? conv2d(g!, w, null, c.attrs) : null, c.needsGrad[1] ? conv2dBackwardWeight(gy, g!, w.shape, c.attrs) : null];
    },
  },
  conv2dBackwardWeight: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [gy, x] = c.inputs as Tensor[];
      return [c.needsGrad[0] ? conv2d(x, g!, null, c.attrs) : null, c.needsGrad[1] ? conv2dBackwardInput(gy, g!, x.shape, c.attrs) : null];
    },
  },
  // Only the indices: the values are not needed.
  maxPool2d: { saveOutputs: [1], backward: (c, [g]) => [maxPool2dBackward(g!, c.outputs[1]!, c.inputShapes[0])] },
  // Linear in gradY: its gradient reads the routed cells back.
  maxPool2dBackward: {
    saveInputs: [1],
    backward: (c, [g]) => {
      const idx = c.inputs[1]!;
      const [n, ch] = idx.shape;
      const picked = g!.reshape([n, ch, -1]).gather(2, idx.reshape([n, ch, -1]));
      return [picked.reshape(idx.shape as number[]), null];
    },
  },
  avgPool2d: {
    backward: (c, [g]) => {
      const { kernelSize, ...opts } = c.attrs;
      return [avgPool2dBackward(g!, c.inputShapes[0], kernelSize, opts)];
    },
  },
  avgPool2dBackward: {
    backward: (c, [g]) => {
      const { kernelSize, ...opts } = c.attrs;
      return [avgPool2d(g!, kernelSize, opts)];
    },
  },
  adaptiveAvgPool2d: { backward: (c, [g]) => [adaptiveAvgPool2dBackward(g!, c.inputShapes[0])] },
  adaptiveAvgPool2dBackward: {
    backward: (c, [g]) => {
      const s = c.inputShapes[0];
      return [adaptiveAvgPool2d(g!, [s[s.length - 2], s[s.length - 1]])];
    },
  },
  adaptiveMaxPool2d: { saveOutputs: [1], backward: (c, [g]) => [maxPool2dBackward(g!, c.outputs[1]!, c.inputShapes[0])] },
};
