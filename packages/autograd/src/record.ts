/** The autograd dispatch layer: records a Node for every op whose inputs require grad. */
import { DLError } from '@dl/tensor';
import type { DispatchLayer, OpCall, Tensor } from '@dl/tensor';
import { makeNode } from './graph.js';
import { GRADS } from './grads/index.js';
import type { GradEntry } from './grads/index.js';
import { isGradEnabled } from './mode.js';

const identity: GradEntry = { backward: (_c, [g]) => [g] };

function recordInplace(call: OpCall, next: (c: OpCall) => Tensor[]): Tensor[] {
  const dst = call.into!;
  const src = call.inputs[0];
  if (dst.requiresGrad && dst.isLeaf) {
    throw new DLError('AUTOGRAD', 'copy_', 'a leaf tensor that requires grad is being used in an in-place operation', 'update parameters inside noGrad(() => ...), or clone() the tensor first');
  }
  if (!dst.requiresGrad && !src.requiresGrad) return next(call);
  if (dst.storage.refs > 1) {
    throw new DLError(
      'AUTOGRAD',
      'copy_',
      `in-place write into a tensor of shape [${dst.shape.join(', ')}] that shares its memory with other tensors (a view, or saved for backward) while recording gradients`,
      'use the out-of-place op instead (e.g. y = y.add(x) rather than y.add_(x))',
    );
  }
  const outs = next(call);
  // The whole of dst was overwritten: its history is now that of src.
  makeNode({ ...call, inputs: [src] }, [dst], identity);
  return outs;
}

export const recordLayer: DispatchLayer = (call, next) => {
  if (!isGradEnabled()) return next(call);
  if (call.into) return recordInplace(call, next);
  const outs = next(call);
  if (!call.inputs.some((t) => t.requiresGrad)) return outs;
  const entry = GRADS[call.op] as GradEntry | null;
  if (entry === null) return outs;
  makeNode(call, outs, entry);
  return outs;
};
