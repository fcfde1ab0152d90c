/** RMSprop (torch.optim.RMSprop). */
import { zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBool, checkHyper, resolveOptions } from './optimizer.js';
import type { ParamGroup, Params } from './optimizer.js';

export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Normalize by an estimate of the gradient's variance instead of its second moment (default false). */
  centered: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

export const RMSPROP_DEFAULTS: Readonly<RMSpropOptions> = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false };

/**
 * For each parameter with a gradient (PyTorch's documented algorithm):
 *   g = grad + weightDecay * p
 *   v = alpha * v + (1 - alpha) * g * g
 *   centered: gAvg = alpha * gAvg + (1 - alpha) * g; avg = sqrt(v - gAvg^2) + eps; else avg = sqrt(v) + eps
 *   momentum > 0: buf = momentum * buf + g / avg; p -= lr * buf;  else p -= lr * g / avg
 * State per parameter: `step`, `squareAvg`, `momentumBuffer` (momentum > 0), `gradAvg` (centered).
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, options?: Partial<RMSpropOptions>) {
    super(params, resolveOptions('RMSprop', RMSPROP_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<RMSpropOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    checkHyper(op, 'momentum value', group.momentum, (x) => x >= 0, 'momentum >= 0');
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkHyper(op, 'alpha value', group.alpha, (x) => x >= 0, 'alpha >= 0');
    checkBool(op, 'centered', group.centered);
    checkBool(op, 'maximize', group.maximize);
  }

  protected updateGroup(group: ParamGroup<RMSpropOptions>): void {
    const { lr, alpha, eps, weightDecay, momentum, centered, maximize } = group;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = maximize ? p.grad.neg() : p.grad;
      const state = this.stateOf(p);
      if (state.step === undefined) {
        state.step = 0;
        this.setState(state, 'squareAvg', zerosLike(p));
      }
      // Created on first need, so a momentum or centering turned on later (e.g. by OneCycleLR) works.
      if (momentum > 0 && state.momentumBuffer === undefined) this.setState(state, 'momentumBuffer', zerosLike(p));
      if (centered && state.gradAvg === undefined) this.setState(state, 'gradAvg', zerosLike(p));
      state.step = (state.step as number) + 1;
      const squareAvg = state.squareAvg as Tensor;

      if (weightDecay !== 0) g = g.add(p, weightDecay);
      squareAvg.mul_(alpha).add_(g.mul(g), 1 - alpha);
      let avg: Tensor;
      if (centered) {
        const gradAvg = state.gradAvg as Tensor;
        gradAvg.mul_(alpha).add_(g, 1 - alpha);
        avg = squareAvg.sub(gradAvg.mul(gradAvg)).sqrt_();
      } else {
        avg = squareAvg.sqrt();
      }
      avg.add_(eps);
      if (momentum > 0) {
        const buf = state.momentumBuffer as Tensor;
        buf.mul_(momentum).add_(g.div(avg));
        p.add_(buf, -lr);
      } else {
        p.add_(g.div(avg), -lr);
      }
    }
  }
}
