import type { Shape, Tensor, DType } from '@dl/tensor';

/** What a gradient rule sees of the forward call. */
export interface GradCtx<A = unknown> {
  readonly attrs: A;
  /** Saved inputs (null where not saved). */
  readonly inputs: readonly (Tensor | null)[];
  /** Saved outputs (empty unless the rule saves them; null where not saved). */
  readonly outputs: readonly (Tensor | null)[];
  readonly inputShapes: readonly Shape[];
  readonly inputDtypes: readonly DType[];
  /** Whether each input needs a gradient (rules may skip the others). */
  readonly needsGrad: readonly boolean[];
}

/**
 * A gradient rule: from the gradients of the outputs (null where an output got
 * none) to the gradients of the inputs (null where none), each of its input's shape.
 */
export interface GradEntry<A = unknown> {
  /** Save all inputs (true) or those at the listed positions. */
  saveInputs?: boolean | readonly number[];
  /** Save all outputs (true) or those at the listed positions (a saved output the rule does not read keeps its memory alive for nothing). */
  saveOutputs?: boolean | readonly number[];
  backward(ctx: GradCtx<A>, grads: readonly (Tensor | null)[]): readonly (Tensor | null)[];
}
