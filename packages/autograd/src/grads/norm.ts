/**
 * Gradient rules of the fused layer and batch normalizations. A plain backward runs the fused backward
 * kernel (layerNormBackward); under createGraph (grad mode on during backward) the same formulas
 * are written with differentiable ops, the statistics recomputed from x, so higher derivatives
 * flow to x and the weight. layerNormBackward itself is never recorded (only that plain path
 * calls it), hence its null entry.
 */
import type { KernelAttrs, Tensor } from '@dl/tensor';
import { batchNormBackward, layerNormBackward } from '@dl/tensor';
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

/** x of shape (N, C, *): the dims other than the channels', and the shape a (C) tensor broadcasts from. */
function channelDims(x: Tensor): [number[], number[]] {
  return [x.shape.map((_, i) => i).filter((i) => i !== 1), x.shape.map((s, i) => (i === 1 ? s : 1))];
}

/**
 * Batch normalization's gradients [gx, gw, gb] with differentiable ops, the statistics
 * recomputed from x: xhat = (x - mean) rstd, gx = w rstd (gy - mean(gy) - xhat mean(gy xhat)).
 */
function batchNormGradsRecorded(gy: Tensor, x: Tensor, w: Tensor | null, eps: number): [Tensor, Tensor, Tensor] {
  const [dims, bshape] = channelDims(x);
  const centred = x.sub(x.mean(dims, true));
  const rstd = centred.mul(centred).mean(dims, true).add(eps).rsqrt();
  const xhat = centred.mul(rstd);
  const k = w ? rstd.mul(w.reshape(bshape)) : rstd;
  const gx = k.mul(gy.sub(gy.mean(dims, true)).sub(xhat.mul(gy.mul(xhat).mean(dims, true))));
  return [gx, gy.mul(xhat).sum(dims), gy.sum(dims)];
}

/** What the gradients of the batch statistics give x: gmean / M + gvar * 2 (x - mean) / M per channel. */
function batchStatsGrad(gmean: Tensor | null, gvar: Tensor | null, x: Tensor, mean: Tensor): Tensor {
  const [, bshape] = channelDims(x);
  const M = x.numel / x.shape[1];
  let g: Tensor | null = gmean ? gmean.reshape(bshape).div(M).expand(x.shape as number[]) : null;
  if (gvar) {
    const fromVar = x.sub(mean.reshape(bshape)).mul(gvar.reshape(bshape).mul(2 / M));
    g = g ? g.add(fromVar) : fromVar;
  }
  return g!;
}

export const normGrads: Table<'layerNorm' | 'layerNormBackward' | 'batchNorm' | 'batchNormBackward'> = {
  // The statistics, not y: y's memory goes with the next op's.
  layerNorm: {
    saveInputs: [0, 1],
    saveOutputs: [1, 2],
    backward: (c, [gy]) => {
      // Only y's gradient can arrive: layerNorm() hands out neither mean nor rstd.
      const [x, w] = c.inputs as Tensor[];
      const weight = c.attrs.weight ? w : null;
      const [, mean, rstd] = c.outputs as Tensor[];
      const R = mean.numel;
      const C = R === 0 ? 0 : x.numel / R;
      const [gx, gw, gb] = isGradEnabled()
        ? layerNormGradsRecorded(gy!, x, weight, R, C, c.attrs.eps)
        : layerNormBackward(gy!, x, mean, rstd, weight);
      return [gx, ...(c.attrs.weight ? [gw] : []), ...(c.attrs.bias ? [gb] : [])];
    },
  },
  layerNormBackward: null,
  batchNorm: {
    saveInputs: [0, 1],
    saveOutputs: [1, 2],
    backward: (c, [gy, gmean, gvar]) => {
      const [x, w] = c.inputs as Tensor[];
      const weight = c.attrs.weight ? w : null;
      const [, mean, variance] = c.outputs as Tensor[];
      let [gx, gw, gb]: (Tensor | null)[] = [null, null, null];
      if (gy) {
        [gx, gw, gb] = isGradEnabled() ? batchNormGradsRecorded(gy, x, weight, c.attrs.eps) : batchNormBackward(gy, x, mean, variance, weight, c.attrs.eps);
      }
      if (gmean || gvar) {
        const fromStats = batchStatsGrad(gmean, gvar, x, mean);
        gx = gx ? gx.add(fromStats) : fromStats;
      }
      return [gx, ...(c.attrs.weight ? [gw] : []), ...(c.attrs.bias ? [gb] : [])];
    },
  },
  batchNormBackward: null,
};
