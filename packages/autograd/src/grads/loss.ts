/**
 * Gradient rules of the fused cross-entropy. Targets and class weights get no gradient (as in
 * PyTorch). The gradient kernel has its own rule, so createGraph gives higher derivatives.
 */
import type { CrossEntropyOptions, KernelAttrs, Tensor } from '@dl/tensor';
import { crossEntropyBackward, exp, mul, neg, ones, sub, where } from '@dl/tensor';
import type { GradEntry } from './types.js';

type Table<K extends keyof KernelAttrs> = { [P in K]: GradEntry<KernelAttrs[P]> | null };

/** softmax of x's rows from their logsumexp: exp(x - lse). */
const softmaxOf = (x: Tensor, lse: Tensor) => exp(sub(x, lse.unsqueeze(1)));

/**
 * Σ_c a_c per row, for a_c = (1 - ε)·w[t]·[c = t] + (ε / C)·w[c]: (1 - ε)·w[t] + (ε / C)·Σ_c w[c]
 * (1 without a weight), 0 for ignored targets. The gradient kernel is gy·(Σ_c a_c·softmax - a).
 */
function rowTotals(target: Tensor, weight: Tensor | null, c: number, dtype: Tensor['dtype'], attrs: KernelAttrs['crossEntropy']): Tensor {
  const kept = target.ne(attrs.ignoreIndex);
  if (!weight) return kept.to(dtype);
  const eps = attrs.labelSmoothing;
  const picked = weight.indexSelect(0, where(kept, target, 0));
  return where(kept, picked.mul(1 - eps).add(weight.sum().mul(eps / c)), 0);
}

export const lossGrads: Table<'crossEntropy' | 'crossEntropyBackward'> = {
  // loss: the gradient kernel; lse: d logsumexp(x) / dx = softmax(x).
  crossEntropy: {
    saveInputs: true,
    saveOutputs: [1],
    backward: (c, [gLoss, gLse]) => {
      const [x, target, weight] = c.inputs as Tensor[];
      const lse = c.outputs[1]!;
      const opts: CrossEntropyOptions = { ...c.attrs, weight };
      const fromLoss = gLoss ? crossEntropyBackward(gLoss, x, target, lse, opts) : null;
      const fromLse = gLse ? mul(softmaxOf(x, lse), gLse.unsqueeze(1)) : null;
      return [fromLoss && fromLse ? fromLoss.add(fromLse) : (fromLoss ?? fromLse), null, null];
    },
  },
  // gx = gy·(A·s - a) with s = exp(x - lse), A and a constants of the targets and weights:
  // d/dgy = Σ_c G·(A·s - a) (the kernel with gy = 1), d/dx = G·gy·A·s, d/dlse = -Σ_c G·gy·A·s.
  crossEntropyBackward: {
    saveInputs: true,
    backward: (c, [g]) => {
      const [gy, x, target, lse, weight] = c.inputs as Tensor[];
      const opts: CrossEntropyOptions = { ...c.attrs, weight };
      const gGy = c.needsGrad[0] ? mul(g!, crossEntropyBackward(ones([gy.shape[0]], { dtype: x.dtype, device: x.device }), x, target, lse, opts)).sum(1) : null;
      if (!c.needsGrad[1] && !c.needsGrad[3]) return [gGy, null, null, null, null];
      const scale = mul(gy, rowTotals(target, weight ?? null, x.shape[1], x.dtype, c.attrs));
      const gX = mul(mul(g!, softmaxOf(x, lse)), scale.unsqueeze(1));
      return [gGy, gX, null, c.needsGrad[3] ? neg(gX.sum(1)) : null, null];
    },
  },
};
