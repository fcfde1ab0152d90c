/** Linear (torch.nn.Linear): y = x W^T + b; Bilinear (torch.nn.Bilinear): y = x1^T A x2 + b. */
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

export interface BilinearOptions extends FactoryOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * Bilinear(in1Features, in2Features, outFeatures, { bias = true }): y = x1^T A x2 + b for each
 * output feature, inputs [*, in1Features] and [*, in2Features] (the same leading dims) to
 * [*, outFeatures]. weight [outFeatures, in1Features, in2Features] and bias [outFeatures] start as
 * U(-1/sqrt(in1Features), 1/sqrt(in1Features)), drawn weight first, as PyTorch.
 */
export class Bilinear extends Module {
  readonly in1Features: number;
  readonly in2Features: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(in1Features: number, in2Features: number, outFeatures: number, opts: BilinearOptions = {}) {
    super();
    this.in1Features = positiveInt('Bilinear', 'in1Features', in1Features);
    this.in2Features = positiveInt('Bilinear', 'in2Features', in2Features);
    this.outFeatures = positiveInt('Bilinear', 'outFeatures', outFeatures);
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = ownParameter(zeros([outFeatures, in1Features, in2Features], factory));
    this.bias = (opts.bias ?? true) ? ownParameter(zeros([outFeatures], factory)) : null;
    this.resetParameters();
  }

  /** PyTorch's initialisation (see the class comment). */
  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.in1Features);
    init.uniform_(this.weight, -bound, bound);
    if (this.bias) init.uniform_(this.bias, -bound, bound);
  }

  override forward(input1: Tensor, input2: Tensor): Tensor {
    return F.bilinear(input1, input2, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in1Features=${this.in1Features}, in2Features=${this.in2Features}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
