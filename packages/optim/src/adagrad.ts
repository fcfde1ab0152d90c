/** Adagrad (torch.optim.Adagrad). */
import { fullLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBool, checkHyper, resolveOptions } from './optimizer.js';
import type { ParamGroup, ParamGroupInput, ParamState, Params } from './optimizer.js';

export interface AdagradOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** Learning-rate decay: step t uses lr / (1 + (t - 1) * lrDecay) (default 0). */
  lrDecay: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** The value the sum of squared gradients starts from (default 0). */
  initialAccumulatorValue: number;
  /** Added to the denominator for numerical stability (default 1e-10). */
  eps: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

export const ADAGRAD_DEFAULTS: Readonly<AdagradOptions> = { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false };

/**
 * For each parameter with a gradient, at step t (PyTorch 1.13's single-tensor algorithm):
 *   g = maximize ? -grad : grad;  g += weightDecay * p
 *   clr = lr / (1 + (t - 1) * lrDecay)
 *   sum += g * g;  p -= clr * g / (sqrt(sum) + eps)
 * State per parameter: `step` (a number) and `sum`. As in PyTorch, the state is made when a
 * parameter group is added (step 0, sum filled with the group's initialAccumulatorValue), so
 * a state dict saved before the first step already holds it.
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, options?: Partial<AdagradOptions>) {
    super(params, resolveOptions('Adagrad', ADAGRAD_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<AdagradOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'lrDecay value', group.lrDecay, (x) => x >= 0, 'lrDecay >= 0');
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkHyper(op, 'initialAccumulatorValue value', group.initialAccumulatorValue, (x) => x >= 0, 'initialAccumulatorValue >= 0');
    checkHyper(op, 'epsilon value', group.eps, (x) => x >= 0, 'eps >= 0');
    checkBool(op, 'maximize', group.maximize);
  }

  override addParamGroup(group: ParamGroupInput<AdagradOptions>): void {
    super.addParamGroup(group);
    const added = this.paramGroups[this.paramGroups.length - 1];
    for (const p of added.params) this.initState(p, added);
  }

  protected updateGroup(group: ParamGroup<AdagradOptions>): void {
    const { lr, lrDecay, weightDecay, eps, maximize } = group;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = maximize ? p.grad.neg() : p.grad;
      const state = this.initState(p, group);
      const step = (state.step as number) + 1;
      state.step = step;
      if (weightDecay !== 0) g = g.add(p, weightDecay);
      const clr = lr / (1 + (step - 1) * lrDecay);
      const sum = state.sum as Tensor;
      sum.add_(g.mul(g));
      p.add_(g.div(sum.sqrt().add_(eps)), -clr);
    }
  }

  /** p's state, made if missing (a state dict loaded without an entry for p). */
  private initState(p: Tensor, group: ParamGroup<AdagradOptions>): ParamState {
    const state = this.stateOf(p);
    if (state.step === undefined) {
      state.step = 0;
      this.setState(state, 'sum', fullLike(p, group.initialAccumulatorValue));
    }
    return state;
  }
}
