/**
 * Gradient rule of the fused layer normalization. A plain backward runs the fused backward
 * kernel (layerNormBackward); under createGraph (grad mode on during backward) the same formulas
 * are written with differentiable ops, the statistics recomputed from x, so higher derivatives
 * flow to x and the weight. layerNormBackward itself is never recorded (only that plain path
 * calls it), hence its null entry.
 */
import type { KernelAttrs, Tensor } from '@dl/tensor';
import { layerNormBackward } from '@dl/tensor';
import { isGradEnabled } from '../mode.js';
import type { GradEntry } from './types.js';

type Table<K extends keyof KernelAttrs> = { [P in K]: GradEntry<KernelAttrs[P]> | null };

/**
 * xhat = (x - mean) rstd, g = gy w: gx = rstd (g - mean(g) - xhat mean(g xhat)), gw = sum_rows gy xhat,
 * gb = sum_rows gy, over x seen as [R, C], with differentiable ops.
 */
function layerNormGradsRecorded(gy: Tensor, x: Tensor, w: Tensor | null, R: number, C: number, eps: number): [Tensor, Tensor, Tensor] {
  const x2 = x.reshape([R, C]);
  const gy2 = gy.reshape([R, C]);
  const centred = x2.sub(x2.mean(1, true));
  const rstd = centred.mul(centred).mean(1, true).add(eps).rsqrt();
  const xhat = centred.mul(rstd);
  const g = w ? gy2.mul(w.reshape([C])) : gy2;
  const gx = rstd.mul(g.sub(g.mean(1, true)).sub(xhat.mul(g.mul(xhat).mean(1, true))));
  return [gx.reshape(x.shape as number[]), gy2.mul(xhat).sum(0), gy2.sum(0)];
}

export const normGrads: Table<'layerNorm' | 'layerNormBackward'> = {
  layerNorm: {
    saveInputs: [0, 1],
    saveOutputs: true,
    backward: (c, [gy]) => {
      // Only y's gradient can arrive: layerNorm() hands out neither mean nor rstd.
      const [x, w] = c.inputs as Tensor[];
      const weight = c.attrs.weight ? w : null;
      const R = c.outputs[1].numel;
      const C = R === 0 ? 0 : x.numel / R;
      const [gx, gw, gb] = isGradEnabled()
        ? layerNormGradsRecorded(gy!, x, weight, R, C, c.attrs.eps)
        : layerNormBackward(gy!, x, c.outputs[1], c.outputs[2], weight);
      return [gx, ...(c.attrs.weight ? [gw] : []), ...(c.attrs.bias ? [gb] : [])];
    },
  },
  layerNormBackward: null,
};
