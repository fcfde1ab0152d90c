/** RAdam (torch.optim.RAdam): Adam with a rectified adaptive learning rate. */
import { div, zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBetas, checkHyper, resolveOptions } from './optimizer.js';
import type { ParamGroup, Params } from './optimizer.js';

export interface RAdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
}

export const RADAM_DEFAULTS: Readonly<RAdamOptions> = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 };

/**
 * For each parameter with a gradient, at step t (PyTorch 1.13's single-tensor algorithm):
 *   g = grad + weightDecay * p
 *   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
 *   mHat = m / (1 - beta1^t)
 *   rhoInf = 2 / (1 - beta2) - 1;  rhoT = rhoInf - 2 t beta2^t / (1 - beta2^t)
 *   rhoT > 5: rect = sqrt((rhoT - 4)(rhoT - 2) rhoInf / ((rhoInf - 4)(rhoInf - 2) rhoT))
 *             p -= lr * mHat * rect * sqrt(1 - beta2^t) / (sqrt(v) + eps)
 *   else:     p -= lr * mHat
 * State per parameter: `step` (a number), `expAvg` (m) and `expAvgSq` (v).
 */
export class RAdam extends Optimizer<RAdamOptions> {
  constructor(params: Params<RAdamOptions>, options?: Partial<RAdamOptions>) {
    super(params, resolveOptions('RAdam', RADAM_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<RAdamOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    checkBetas(op, group.betas);
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
  }

  protected updateGroup(group: ParamGroup<RAdamOptions>): void {
    const { lr, eps, weightDecay } = group;
    const [beta1, beta2] = group.betas;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = p.grad;
      const state = this.stateOf(p);
      if (state.step === undefined) {
        state.step = 0;
        this.setState(state, 'expAvg', zerosLike(p));
        this.setState(state, 'expAvgSq', zerosLike(p));
      }
      const step = (state.step as number) + 1;
      state.step = step;
      const expAvg = state.expAvg as Tensor;
      const expAvgSq = state.expAvgSq as Tensor;
      const biasCorrection1 = 1 - beta1 ** step;
      const biasCorrection2 = 1 - beta2 ** step;

      if (weightDecay !== 0) g = g.add(p, weightDecay);
      expAvg.mul_(beta1).add_(g, 1 - beta1);
      expAvgSq.mul_(beta2).add_(g.mul(g), 1 - beta2);
      const update = expAvg.div(biasCorrection1).mul_(lr);

      const rhoInf = 2 / (1 - beta2) - 1;
      const rhoT = rhoInf - (2 * step * beta2 ** step) / biasCorrection2;
      if (rhoT > 5) {
        const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        const adaptiveLr = div(Math.sqrt(biasCorrection2), expAvgSq.sqrt().add_(eps));
        update.mul_(adaptiveLr).mul_(rect);
      }
      p.sub_(update);
    }
  }
}
