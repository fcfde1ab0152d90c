/**
 * Custom differentiable functions (torch.autograd.Function): the user writes
 * forward and backward; the forward's ops are not recorded, the whole call is
 * one node whose rule is the user's backward.
 */
import { DLError, Tensor } from '@dl/tensor';
import type { OpCall } from '@dl/tensor';
import { isDifferentiable, makeNode } from './graph.js';
import { isGradEnabled, noGrad } from './mode.js';

export interface FunctionCtx {
  /** Tensors the backward needs (kept with the graph, checked for in-place changes). */
  saveForBackward(...tensors: Tensor[]): void;
  readonly savedTensors: readonly Tensor[];
  /** Whether each input needs a gradient. */
  readonly needsInputGrad: readonly boolean[];
}

export interface FunctionDef<I extends Tensor[]> {
  /** Optional name shown in gradFn (e.g. 'MyReLU'). */
  name?: string;
  forward(ctx: FunctionCtx, ...inputs: I): Tensor;
  /** Gradients of the inputs (null where none) from the output's gradient. */
  backward(ctx: FunctionCtx, gradOutput: Tensor): (Tensor | null)[];
}

/** Make a callable differentiable function from forward and backward. */
export function defineFunction<I extends Tensor[]>(def: FunctionDef<I>): (...inputs: I) => Tensor {
  const name = def.name ?? 'Custom';
  return (...inputs: I) => {
    let saved: Tensor[] = [];
    const ctx: FunctionCtx = {
      saveForBackward: (...ts) => {
        saved = ts;
      },
      get savedTensors() {
        return saved;
      },
      needsInputGrad: inputs.map((t) => t.requiresGrad),
    };
    const out = noGrad(() => def.forward(ctx, ...inputs));
    if (!(out instanceof Tensor)) throw new DLError('ARGUMENT', name, `forward must return a Tensor; got ${typeof out}`);
    if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad) || !isDifferentiable(out)) return out;
    const call = { op: name, inputs: [...inputs, ...saved], attrs: {}, outs: [], device: out.device } as unknown as OpCall;
    makeNode(call, [out], {
      saveInputs: saved.map((_, i) => inputs.length + i),
      backward: (c, [g]) => {
        const view = c.inputs.slice(inputs.length) as Tensor[];
        const grads = def.backward({ ...ctx, savedTensors: view }, g!);
        if (grads.length !== inputs.length) {
          throw new DLError('AUTOGRAD', name, `backward returned ${grads.length} gradients, expected ${inputs.length} (one per input, null where none)`);
        }
        return [...grads, ...saved.map(() => null)];
      },
    });
    return out;
  };
}
