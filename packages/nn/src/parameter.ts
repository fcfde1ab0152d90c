/**
 * Parameter (torch.nn.Parameter): a tensor that a Module owns and trains. It
 * shares the storage of the tensor it wraps, is taken out of every `scope()`
 * (a module's parameters outlive the step that made them) and requires grad by
 * default. Assigning one to a field of a Module registers it.
 */
import { DLError, Tensor, keep } from '@dl/tensor';

export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) {
      throw new DLError('ARGUMENT', 'Parameter', `data must be a Tensor; got ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}`, 'wrap arrays with tensor(...)');
    }
    super(data.storage, data.shape, data.strides, data.offset);
    keep(this);
    if (requiresGrad) this.requiresGrad_(true);
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}

/** Wrap `data` in a Parameter and free the wrapper's source tensor (the storage stays with the Parameter). */
export function ownParameter(data: Tensor, requiresGrad = true): Parameter {
  const p = new Parameter(data, requiresGrad);
  data.dispose();
  return p;
}
