/** The functional API (torch.autograd.grad), hooks and the install step. */
import { DLError, Tensor, keep, onesLike, registerDispatchLayer, setAutogradImpl } from '@dl/tensor';
import { backward, runBackward } from './engine.js';
import type { BackwardOptions } from './engine.js';
import { OutputRef, leafHooks } from './graph.js';
import type { Hook } from './graph.js';
import { recordLayer } from './record.js';

export interface GradOptions extends BackwardOptions {
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/** Gradients of outputs with respect to inputs, without touching `.grad`. */
export function grad(outputs: readonly Tensor[], inputs: readonly Tensor[], gradOutputs?: readonly (Tensor | null)[], opts: GradOptions = {}): (Tensor | null)[] {
  outputs.forEach((o, i) => {
    if (!o.requiresGrad) throw new DLError('AUTOGRAD', 'grad', `output ${i} does not require grad and does not have a gradFn`, 'make sure the inputs require grad and the computation is not inside noGrad()');
  });
  inputs.forEach((x, i) => {
    if (!x.requiresGrad) throw new DLError('AUTOGRAD', 'grad', `input ${i} does not require grad`, 'call x.requiresGrad_() before computing the outputs');
  });
  const seeds = outputs.map((o, i) => {
    const g = gradOutputs?.[i];
    if (g) return g;
    if (o.numel !== 1) throw new DLError('AUTOGRAD', 'grad', `grad can be implicitly created only for scalar outputs; got shape [${o.shape.join(', ')}] for output ${i}`, 'pass gradOutputs');
    return onesLike(o);
  });
  const result = runBackward(outputs, seeds, opts, inputs);
  seeds.forEach((s, i) => {
    // A seed is the result itself where an output is an input (grad([x], [x])).
    if (s !== gradOutputs?.[i] && !result.includes(s)) s.dispose();
  });
  result.forEach((g, i) => {
    if (!g && !opts.allowUnused) {
      throw new DLError('AUTOGRAD', 'grad', `input ${i} was not used in the graph of the outputs`, 'pass { allowUnused: true } to get null for it');
    }
  });
  return result;
}

/**
 * Register a hook called with the gradient of `t` when it is computed; the hook
 * may return a replacement. Returns a function that removes the hook.
 */
export function registerHook(t: Tensor, hook: Hook): () => void {
  if (!t.requiresGrad) throw new DLError('AUTOGRAD', 'registerHook', "cannot register a hook on a tensor that doesn't require gradient");
  let list: Hook[];
  if (t.gradFn instanceof OutputRef) list = t.gradFn.hooks;
  else {
    list = leafHooks.get(t) ?? [];
    leafHooks.set(t, list);
  }
  list.push(hook);
  return () => {
    const i = list.indexOf(hook);
    if (i >= 0) list.splice(i, 1);
  };
}

declare module '@dl/tensor' {
  interface Tensor {
    /** See registerHook from @dl/autograd. */
    registerHook(hook: Hook): () => void;
    /** Keep the gradient of a non-leaf tensor in `.grad` after backward. */
    retainGrad(): void;
  }
}

let installed = false;
/** Install autograd into @dl/tensor's dispatch (done on import). */
export function install(): void {
  if (installed) return;
  installed = true;
  registerDispatchLayer(recordLayer);
  setAutogradImpl({ backward });
  Tensor.prototype.registerHook = function (this: Tensor, hook: Hook) {
    return registerHook(this, hook);
  };
  Tensor.prototype.retainGrad = function (this: Tensor) {
    if (this.isLeaf) return;
    registerHook(this, (g) => {
      this.grad = keep(this.grad ? this.grad.add(g) : g.clone());
    });
  };
}
