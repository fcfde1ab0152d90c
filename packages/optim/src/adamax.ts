/** Adamax (torch.optim.Adamax): Adam with the infinity norm. */
import { zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBetas, checkBool, checkHyper, resolveOptions } from './optimizer.js';
import type { ParamGroup, Params } from './optimizer.js';

export interface AdamaxOptions {
  /** Learning rate (default 2e-3). */
  lr: number;
  /** Coefficients of the running average of the gradient and of the decaying infinity norm (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** Added to |g| for numerical stability (default 1e-8). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

export const ADAMAX_DEFAULTS: Readonly<AdamaxOptions> = { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false };

/**
 * For each parameter with a gradient, at step t (PyTorch 1.13's single-tensor algorithm):
 *   g = maximize ? -grad : grad;  g += weightDecay * p
 *   m = beta1 * m + (1 - beta1) * g
 *   u = max(beta2 * u, |g| + eps)
 *   p -= (lr / (1 - beta1^t)) * m / u
 * State per parameter: `step` (a number), `expAvg` (m) and `expInf` (u).
 */
export class Adamax extends Optimizer<AdamaxOptions> {
  constructor(params: Params<AdamaxOptions>, options?: Partial<AdamaxOptions>) {
    super(params, resolveOptions('Adamax', ADAMAX_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<AdamaxOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    checkBetas(op, group.betas);
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkBool(op, 'maximize', group.maximize);
  }

  protected updateGroup(group: ParamGroup<AdamaxOptions>): void {
    const { lr, eps, weightDecay, maximize } = group;
    const [beta1, beta2] = group.betas;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = maximize ? p.grad.neg() : p.grad;
      const state = this.stateOf(p);
      if (state.step === undefined) {
        state.step = 0;
        this.setState(state, 'expAvg', zerosLike(p));
        this.setState(state, 'expInf', zerosLike(p));
      }
      const step = (state.step as number) + 1;
      state.step = step;
      const expAvg = state.expAvg as Tensor;
      const expInf = state.expInf as Tensor;

      if (weightDecay !== 0) g = g.add(p, weightDecay);
      expAvg.mul_(beta1).add_(g, 1 - beta1);
      expInf.copy_(expInf.mul_(beta2).maximum(g.abs().add_(eps)));
      p.add_(expAvg.div(expInf), -lr / (1 - beta1 ** step));
    }
  }
}
