/** Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD). */
import { fusedSgdStep, zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Optimizer, checkBool, checkHyper, fitsFused, fusableParams, resolveOptions } from './optimizer.js';
import type { ParamGroup, Params } from './optimizer.js';

export interface SGDOptions {
  /** Learning rate (default 1e-3, as PyTorch). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Dampening for momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0 (default false). */
  nesterov: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

export const SGD_DEFAULTS: Readonly<SGDOptions> = { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };

/**
 * For each parameter with a gradient (PyTorch's documented algorithm):
 *   g = grad + weightDecay * p
 *   if momentum: buf = g on the first step, else buf = momentum * buf + (1 - dampening) * g
 *                g = nesterov ? g + momentum * buf : buf
 *   p -= lr * g
 * State per parameter: `momentumBuffer` (only with momentum).
 *
 * When the whole group qualifies (see fusableParams) one fused call updates every parameter
 * (fusedSgdStep of @dl/tensor), with the same arithmetic as the per-tensor ops below.
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options?: Partial<SGDOptions>) {
    super(params, resolveOptions('SGD', SGD_DEFAULTS, options));
  }

  protected override validateGroup(group: ParamGroup<SGDOptions>): void {
    const op = this.name;
    checkHyper(op, 'learning rate', group.lr, (x) => x >= 0, 'lr >= 0');
    checkHyper(op, 'momentum value', group.momentum, (x) => x >= 0, 'momentum >= 0');
    checkHyper(op, 'dampening value', group.dampening, (x) => Number.isFinite(x), 'a finite number');
    checkHyper(op, 'weightDecay value', group.weightDecay, (x) => x >= 0, 'weightDecay >= 0');
    checkBool(op, 'nesterov', group.nesterov);
    checkBool(op, 'maximize', group.maximize);
    if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
      this.fail('VALUE', `nesterov momentum requires a momentum and zero dampening; got momentum ${group.momentum}, dampening ${group.dampening}`, 'use momentum > 0 and dampening 0 with nesterov: true');
    }
  }

  protected updateGroup(group: ParamGroup<SGDOptions>): void {
    if (this.fusedUpdate(group)) return;
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    for (const p of group.params) {
      if (p.grad === null) continue;
      let g: Tensor = maximize ? p.grad.neg() : p.grad;
      if (weightDecay !== 0) g = g.add(p, weightDecay);
      if (momentum !== 0) {
        const state = this.stateOf(p);
        let buf = state.momentumBuffer as Tensor | undefined;
        if (buf === undefined) buf = this.setState(state, 'momentumBuffer', g.clone());
        else buf.mul_(momentum).add_(g, 1 - dampening);
        g = nesterov ? g.add(buf, momentum) : buf;
      }
      p.add_(g, -lr);
    }
  }

  /** The whole group in one fused call; false (nothing done) when it does not qualify. */
  private fusedUpdate(group: ParamGroup<SGDOptions>): boolean {
    const params = fusableParams(group.params);
    if (!params) return false;
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    let bufs: Tensor[] | null = null;
    let firstStep = false;
    if (momentum !== 0) {
      const existing = params.map((p) => this.state.get(p)?.momentumBuffer);
      firstStep = existing.every((b) => b === undefined);
      // Buffers for some parameters only (one got its first gradient later), or buffers of another layout.
      if (!firstStep && !existing.every((b, i) => fitsFused(b, params[i]))) return false;
      // New buffers are written with the gradient by the kernel (PyTorch's buf = grad on the first step).
      bufs = firstStep ? params.map((p) => this.setState(this.stateOf(p), 'momentumBuffer', zerosLike(p))) : (existing as Tensor[]);
    }
    // fusableParams checked that the backend has the fused kernels: this call runs them.
    fusedSgdStep(
      params,
      params.map((p) => p.grad as Tensor),
      bufs,
      { lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep },
    );
    return true;
  }
}
