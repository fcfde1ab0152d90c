/** Adam and AdamW (torch.optim.Adam, torch.optim.AdamW). */
import { zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBool, checkHyper, resolveOptions } from './optimizer.js';
import type { ParamGroup, Params } from './optimizer.js';

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and its square (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay: an L2 penalty added to the gradient, or decoupled (AdamW) (default 0; AdamW 1e-2). */
  weightDecay: number;
  /** Use the maximum of the past squared-gradient averages (AMSGrad) (default false). */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
  /** Decay the weights directly (p *= 1 - lr * weightDecay) instead of adding an L2 term (default false; AdamW: true). */
  decoupledWeightDecay: boolean;
}

export type AdamWOptions = Omit<AdamOptions, 'decoupledWeightDecay'>;

export const ADAM_DEFAULTS: Readonly<AdamOptions> = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupledWeightDecay: false };
export const ADAMW_DEFAULTS: Readonly<AdamWOptions> = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false };

/**
 * For each parameter with a gradient, at step t (PyTorch's documented algorithm):
 *   decoupled: p *= 1 - lr * weightDecay; else g = grad + weightDecay * p
 *   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
 *   amsgrad: vmax = max(vmax, v) and vmax replaces v below
 *   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * State per parameter: `step` (a number), `expAvg`, `expAvgSq`, and `maxExpAvgSq` with amsgrad.
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options?: Partial<AdamOptions>) {
    super(params, resolveOptions('Adam', ADAM_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<AdamOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    const betas = group.betas as unknown;
    if (!Array.isArray(betas) || betas.length !== 2) {
      this.fail('VALUE', `invalid betas: ${Array.isArray(betas) ? `[${betas.join(', ')}]` : String(betas)}; expected two numbers [beta1, beta2]`);
    }
    checkHyper(op, 'beta parameter at index 0', betas[0], (x) => x >= 0 && x < 1, '0 <= betas[0] < 1');
    checkHyper(op, 'beta parameter at index 1', betas[1], (x) => x >= 0 && x < 1, '0 <= betas[1] < 1');
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkBool(op, 'amsgrad', group.amsgrad);
    checkBool(op, 'maximize', group.maximize);
    checkBool(op, 'decoupledWeightDecay', group.decoupledWeightDecay);
  }

  protected updateGroup(group: ParamGroup<AdamOptions>): void {
    const { lr, eps, weightDecay, amsgrad, maximize, decoupledWeightDecay } = group;
    const [beta1, beta2] = group.betas;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = maximize ? p.grad.neg() : p.grad;
      const state = this.stateOf(p);
      if (state.step === undefined) {
        state.step = 0;
        this.setState(state, 'expAvg', zerosLike(p));
        this.setState(state, 'expAvgSq', zerosLike(p));
      }
      if (amsgrad && state.maxExpAvgSq === undefined) this.setState(state, 'maxExpAvgSq', zerosLike(p));
      const step = (state.step as number) + 1;
      state.step = step;
      const expAvg = state.expAvg as Tensor;
      const expAvgSq = state.expAvgSq as Tensor;

      if (weightDecay !== 0) {
        if (decoupledWeightDecay) p.mul_(1 - lr * weightDecay);
        else g = g.add(p, weightDecay);
      }
      expAvg.mul_(beta1).add_(g, 1 - beta1);
      expAvgSq.mul_(beta2).add_(g.mul(g), 1 - beta2);

      const biasCorrection1 = 1 - beta1 ** step;
      const biasCorrection2 = 1 - beta2 ** step;
      const stepSize = lr / biasCorrection1;
      const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
      let second = expAvgSq;
      if (amsgrad) {
        const maxExpAvgSq = state.maxExpAvgSq as Tensor;
        maxExpAvgSq.copy_(maxExpAvgSq.maximum(expAvgSq));
        second = maxExpAvgSq;
      }
      const denom = second.sqrt().div(biasCorrection2Sqrt).add_(eps);
      p.add_(expAvg.div(denom), -stepSize);
    }
  }
}

/** Adam with decoupled weight decay (default weightDecay 1e-2): p *= 1 - lr * weightDecay before the Adam update. */
export class AdamW extends Adam {
  constructor(params: Params<AdamOptions>, options?: Partial<AdamWOptions>) {
    super(params, { ...resolveOptions('AdamW', ADAMW_DEFAULTS, options), decoupledWeightDecay: true });
  }
}
