/** Adadelta (torch.optim.Adadelta). */
import { zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBool, checkHyper, resolveOptions } from './optimizer.js';
import type { ParamGroup, Params } from './optimizer.js';

export interface AdadeltaOptions {
  /** Coefficient that scales the delta before it is applied (default 1.0). */
  lr: number;
  /** Coefficient of the running averages of the squared gradient and the squared update (default 0.9). */
  rho: number;
  /** Added inside both square roots for numerical stability (default 1e-6). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

export const ADADELTA_DEFAULTS: Readonly<AdadeltaOptions> = { lr: 1.0, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false };

/**
 * For each parameter with a gradient (PyTorch 1.13's single-tensor algorithm):
 *   g = maximize ? -grad : grad;  g += weightDecay * p
 *   v = rho * v + (1 - rho) * g * g
 *   delta = sqrt(u + eps) / sqrt(v + eps) * g
 *   u = rho * u + (1 - rho) * delta * delta
 *   p -= lr * delta
 * State per parameter: `step` (a number), `squareAvg` (v) and `accDelta` (u).
 */
export class Adadelta extends Optimizer<AdadeltaOptions> {
  constructor(params: Params<AdadeltaOptions>, options?: Partial<AdadeltaOptions>) {
    super(params, resolveOptions('Adadelta', ADADELTA_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<AdadeltaOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'rho value', group.rho, (x) => x >= 0 && x <= 1, '0 <= rho <= 1');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkBool(op, 'maximize', group.maximize);
  }

  protected updateGroup(group: ParamGroup<AdadeltaOptions>): void {
    const { lr, rho, eps, weightDecay, maximize } = group;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = maximize ? p.grad.neg() : p.grad;
      const state = this.stateOf(p);
      if (state.step === undefined) {
        state.step = 0;
        this.setState(state, 'squareAvg', zerosLike(p));
        this.setState(state, 'accDelta', zerosLike(p));
      }
      state.step = (state.step as number) + 1;
      const squareAvg = state.squareAvg as Tensor;
      const accDelta = state.accDelta as Tensor;

      if (weightDecay !== 0) g = g.add(p, weightDecay);
      squareAvg.mul_(rho).add_(g.mul(g), 1 - rho);
      const std = squareAvg.add(eps).sqrt_();
      const delta = accDelta.add(eps).sqrt_().div_(std).mul_(g);
      accDelta.mul_(rho).add_(delta.mul(delta), 1 - rho);
      p.add_(delta, -lr);
    }
  }
}
