/** NAdam (torch.optim.NAdam): Adam with Nesterov momentum. */
import { zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBetas, checkHyper, resolveOptions } from './optimizer.js';
import type { ParamGroup, Params } from './optimizer.js';

export interface NAdamOptions {
  /** Learning rate (default 2e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Momentum decay psi of the momentum schedule mu_t (default 4e-3). */
  momentumDecay: number;
}

export const NADAM_DEFAULTS: Readonly<NAdamOptions> = { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3 };

/**
 * For each parameter with a gradient, at step t (Dozat's NAdam, as PyTorch computes it):
 *   g = grad + weightDecay * p
 *   mu = beta1 * (1 - 0.5 * 0.96^(t * momentumDecay));  muNext = the same at t + 1
 *   muProduct *= mu;  muProductNext = muProduct * muNext
 *   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
 *   denom = sqrt(v / (1 - beta2^t)) + eps
 *   p -= lr * (1 - mu) / (1 - muProduct) * g / denom
 *   p -= lr * muNext / (1 - muProductNext) * m / denom
 * PyTorch 1.13's default single-tensor path multiplies mu in twice (muProduct * mu * muNext), a
 * bug fixed in later releases; its foreach path, and this, use the product of the mus up to t + 1.
 * State per parameter: `step` and `muProduct` (numbers; PyTorch keeps muProduct in a float32
 * scalar tensor, here it is a float64 number), `expAvg` (m) and `expAvgSq` (v).
 */
export class NAdam extends Optimizer<NAdamOptions> {
  constructor(params: Params<NAdamOptions>, options?: Partial<NAdamOptions>) {
    super(params, resolveOptions('NAdam', NADAM_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<NAdamOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    checkBetas(op, group.betas);
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkHyper(op, 'momentumDecay value', group.momentumDecay, (x) => x >= 0, 'momentumDecay >= 0');
  }

  protected updateGroup(group: ParamGroup<NAdamOptions>): void {
    const { lr, eps, weightDecay, momentumDecay } = group;
    const [beta1, beta2] = group.betas;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = p.grad;
      const state = this.stateOf(p);
      if (state.step === undefined) {
        state.step = 0;
        state.muProduct = 1;
        this.setState(state, 'expAvg', zerosLike(p));
        this.setState(state, 'expAvgSq', zerosLike(p));
      }
      const step = (state.step as number) + 1;
      state.step = step;
      const expAvg = state.expAvg as Tensor;
      const expAvgSq = state.expAvgSq as Tensor;

      if (weightDecay !== 0) g = g.add(p, weightDecay);
      const mu = beta1 * (1 - 0.5 * 0.96 ** (step * momentumDecay));
      const muNext = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * momentumDecay));
      const muProduct = (state.muProduct as number) * mu;
      state.muProduct = muProduct;
      const muProductNext = muProduct * muNext;

      expAvg.mul_(beta1).add_(g, 1 - beta1);
      expAvgSq.mul_(beta2).add_(g.mul(g), 1 - beta2);
      const denom = expAvgSq.div(1 - beta2 ** step).sqrt_().add_(eps);
      p.add_(g.div(denom), (-lr * (1 - mu)) / (1 - muProduct));
      p.add_(expAvg.div(denom), (-lr * muNext) / (1 - muProductNext));
    }
  }
}
