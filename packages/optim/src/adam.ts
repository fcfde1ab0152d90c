/** Adam and AdamW (torch.optim.Adam, torch.optim.AdamW). */
import { fusedAdamStep, zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBetas, checkBool, checkHyper, fitsFused, fusableParams, resolveOptions } from './optimizer.js';
import type { ParamState } from './optimizer.js';
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
 *
 * When the whole group qualifies (see fusableParams) and its parameters are at the same step,
 * one fused call updates every parameter (fusedAdamStep of @dl/tensor), with the same
 * arithmetic as the per-tensor ops below.
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options?: Partial<AdamOptions>) {
    super(params, resolveOptions('Adam', ADAM_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<AdamOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    checkBetas(op, group.betas);
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkBool(op, 'amsgrad', group.amsgrad);
    checkBool(op, 'maximize', group.maximize);
    checkBool(op, 'decoupledWeightDecay', group.decoupledWeightDecay);
  }

  protected updateGroup(group: ParamGroup<AdamOptions>): void {
    if (this.fusedUpdate(group)) return;
    const { lr, eps, weightDecay, amsgrad, maximize, decoupledWeightDecay } = group;
    const [beta1, beta2] = group.betas;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = maximize ? p.grad.neg() : p.grad;
      const state = this.initState(p, amsgrad);
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

  /** p's state, created as on its first update (and maxExpAvgSq when amsgrad is turned on later). */
  private initState(p: Tensor, amsgrad: boolean): ParamState {
    const state = this.stateOf(p);
    if (state.step === undefined) {
      state.step = 0;
      this.setState(state, 'expAvg', zerosLike(p));
      this.setState(state, 'expAvgSq', zerosLike(p));
    }
    if (amsgrad && state.maxExpAvgSq === undefined) this.setState(state, 'maxExpAvgSq', zerosLike(p));
    return state;
  }

  /** The whole group in one fused call; false (nothing done) when it does not qualify. */
  private fusedUpdate(group: ParamGroup<AdamOptions>): boolean {
    const params = fusableParams(group.params);
    if (!params) return false;
    // One step number for the call: parameters at different steps go through the per-tensor path.
    const steps = new Set(params.map((p) => this.state.get(p)?.step));
    if (steps.size !== 1) return false;
    const fits = (p: Tensor, key: string) => {
      const t = this.state.get(p)?.[key];
      return t === undefined || fitsFused(t, p);
    };
    if (!params.every((p) => fits(p, 'expAvg') && fits(p, 'expAvgSq') && fits(p, 'maxExpAvgSq'))) return false;
    const { lr, eps, weightDecay, amsgrad, maximize, decoupledWeightDecay } = group;
    const [beta1, beta2] = group.betas;
    const states = params.map((p) => this.initState(p, amsgrad));
    const step = (states[0].step as number) + 1;
    for (const state of states) state.step = step;
    const list = (key: string) => states.map((state) => state[key] as Tensor);
    // fusableParams checked that the backend has the fused kernels: this call runs them.
    fusedAdamStep(
      params,
      params.map((p) => p.grad as Tensor),
      list('expAvg'),
      list('expAvgSq'),
      amsgrad ? list('maxExpAvgSq') : null,
      { lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, amsgrad, maximize, step },
    );
    return true;
  }
}

/** Adam with decoupled weight decay (default weightDecay 1e-2): p *= 1 - lr * weightDecay before the Adam update. */
export class AdamW extends Adam {
  constructor(params: Params<AdamOptions>, options?: Partial<AdamWOptions>) {
    super(params, { ...resolveOptions('AdamW', ADAMW_DEFAULTS, options), decoupledWeightDecay: true });
  }
}
