/** Linear (torch.nn.Linear): y = x W^T + b. */
import { zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import * as init from '../init.js';
import { calculateFanInAndFanOut } from '../init.js';
import { positiveInt } from '../internal.js';
import type { FactoryOptions } from '../internal.js';
import { Module } from '../module.js';
import { type Parameter, ownParameter } from '../parameter.js';

export interface LinearOptions extends FactoryOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * Linear(inFeatures, outFeatures, { bias = true }): input [*, inFeatures] to
 * output [*, outFeatures]. weight [outFeatures, inFeatures] and bias
 * [outFeatures] start as U(-1/sqrt(inFeatures), 1/sqrt(inFeatures)), PyTorch's
 * default (kaiming_uniform with a = sqrt(5)).
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = positiveInt('Linear', 'inFeatures', inFeatures, 0);
    this.outFeatures = positiveInt('Linear', 'outFeatures', outFeatures, 0);
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = ownParameter(zeros([outFeatures, inFeatures], factory));
    this.bias = (opts.bias ?? true) ? ownParameter(zeros([outFeatures], factory)) : null;
    this.resetParameters();
  }

  /** PyTorch's default initialisation (see the class comment). */
  resetParameters(): void {
    if (this.weight.numel > 0) init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const { fanIn } = calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform_(this.bias, -bound, bound);
    }
  }

  override forward(input: Tensor): Tensor {
    return F.linear(input, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
