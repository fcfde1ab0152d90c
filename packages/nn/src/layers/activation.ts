/**
 * Activation layers: ReLU, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, Softmax, LogSoftmax, ELU,
 * Softplus, Hardtanh, ReLU6, Hardsigmoid, Hardswish, Mish, PReLU, SELU, CELU, LogSigmoid, Softsign,
 * Tanhshrink, Hardshrink, Softshrink, Threshold, GLU, Softmin, Softmax2d.
 */
import { DLError, full } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { fmt, fmtShape, positiveInt } from '../internal.js';
import type { FactoryOptions } from '../internal.js';
import { Module } from '../module.js';
import { type Parameter, ownParameter } from '../parameter.js';

export class ReLU extends Module {
  override forward(input: Tensor): Tensor {
    return F.relu(input);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return F.leakyRelu(input, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/** GELU({ approximate: 'none' | 'tanh' }) (default 'none': x * Phi(x) exactly). */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(opts: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    this.approximate = opts.approximate ?? 'none';
    if (this.approximate !== 'none' && this.approximate !== 'tanh') {
      throw new DLError('ARGUMENT', 'GELU', `approximate must be 'none' or 'tanh'; got ${JSON.stringify(this.approximate)}`);
    }
  }
  override forward(input: Tensor): Tensor {
    return F.gelu(input, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return `approximate=${fmt(this.approximate)}`;
  }
}

export class SiLU extends Module {
  override forward(input: Tensor): Tensor {
    return F.silu(input);
  }
}

export class Sigmoid extends Module {
  override forward(input: Tensor): Tensor {
    return F.sigmoid(input);
  }
}

export class Tanh extends Module {
  override forward(input: Tensor): Tensor {
    return F.tanh(input);
  }
}

function checkDim(op: string, dim: unknown): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim)) {
    throw new DLError('ARGUMENT', op, `dim must be an integer; got ${String(dim)}`, 'name the class dim explicitly, e.g. new Softmax(1) for (N, C) inputs');
  }
  return dim;
}

/** A function applied along one dim (Softmax, LogSoftmax, Softmin): the dim is required, as PyTorch recommends. */
abstract class AlongDim extends Module {
  readonly dim: number;
  protected constructor(op: string, dim: number, private readonly fn: (x: Tensor, dim: number) => Tensor) {
    super();
    this.dim = checkDim(op, dim);
  }
  override forward(input: Tensor): Tensor {
    return this.fn(input, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Softmax(dim): exp(x) / sum(exp(x)) along dim. */
export class Softmax extends AlongDim {
  constructor(dim: number) {
    super('Softmax', dim, F.softmax);
  }
}

/** LogSoftmax(dim). */
export class LogSoftmax extends AlongDim {
  constructor(dim: number) {
    super('LogSoftmax', dim, F.logSoftmax);
  }
}

export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return F.elu(input, this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

export class Softplus extends Module {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return F.softplus(input, this.beta, this.threshold);
  }
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

export class Hardtanh extends Module {
  constructor(
    readonly minVal = -1,
    readonly maxVal = 1,
  ) {
    super();
    if (!(minVal < maxVal)) throw new DLError('ARGUMENT', 'Hardtanh', `minVal must be below maxVal; got ${minVal} and ${maxVal}`);
  }
  override forward(input: Tensor): Tensor {
    return F.hardtanh(input, this.minVal, this.maxVal);
  }
  override extraRepr(): string {
    return `minVal=${this.minVal}, maxVal=${this.maxVal}`;
  }
}

export class ReLU6 extends Module {
  override forward(input: Tensor): Tensor {
    return F.relu6(input);
  }
}

export class Hardsigmoid extends Module {
  override forward(input: Tensor): Tensor {
    return F.hardsigmoid(input);
  }
}

export class Hardswish extends Module {
  override forward(input: Tensor): Tensor {
    return F.hardswish(input);
  }
}

export class Mish extends Module {
  override forward(input: Tensor): Tensor {
    return F.mish(input);
  }
}

/** PReLU(numParameters = 1, { init = 0.25 }): a learnt slope for x < 0, one or one per channel. */
export class PReLU extends Module {
  readonly numParameters: number;
  weight: Parameter;
  constructor(numParameters = 1, opts: FactoryOptions & { init?: number } = {}) {
    super();
    this.numParameters = positiveInt('PReLU', 'numParameters', numParameters);
    this.weight = ownParameter(full([numParameters], opts.init ?? 0.25, { dtype: opts.dtype, device: opts.device }));
  }
  override forward(input: Tensor): Tensor {
    return F.prelu(input, this.weight);
  }
  override extraRepr(): string {
    return `numParameters=${this.numParameters}`;
  }
}

export class SELU extends Module {
  override forward(input: Tensor): Tensor {
    return F.selu(input);
  }
}

/** CELU(alpha = 1): x where x > 0, else alpha * (exp(x / alpha) - 1). */
export class CELU extends Module {
  constructor(readonly alpha = 1) {
    super();
    if (alpha === 0 || !Number.isFinite(alpha)) throw new DLError('ARGUMENT', 'CELU', `alpha must be a finite nonzero number; got ${alpha}`, 'the default is alpha = 1');
  }
  override forward(input: Tensor): Tensor {
    return F.celu(input, this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

export class LogSigmoid extends Module {
  override forward(input: Tensor): Tensor {
    return F.logsigmoid(input);
  }
}

export class Softsign extends Module {
  override forward(input: Tensor): Tensor {
    return F.softsign(input);
  }
}

export class Tanhshrink extends Module {
  override forward(input: Tensor): Tensor {
    return F.tanhshrink(input);
  }
}

/** Hardshrink(lambd = 0.5): x where |x| > lambd, else 0. */
export class Hardshrink extends Module {
  constructor(readonly lambd = 0.5) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return F.hardshrink(input, this.lambd);
  }
  override extraRepr(): string {
    return `${this.lambd}`;
  }
}

/** Softshrink(lambd = 0.5): x - lambd above lambd, x + lambd below -lambd, else 0. */
export class Softshrink extends Module {
  constructor(readonly lambd = 0.5) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return F.softshrink(input, this.lambd);
  }
  override extraRepr(): string {
    return `${this.lambd}`;
  }
}

/** Threshold(threshold, value): x where x > threshold, else value. */
export class Threshold extends Module {
  constructor(
    readonly threshold: number,
    readonly value: number,
  ) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return F.threshold(input, this.threshold, this.value);
  }
  override extraRepr(): string {
    return `threshold=${this.threshold}, value=${this.value}`;
  }
}

/** GLU(dim = -1): a * sigmoid(b) with a, b the halves of the input along dim. */
export class GLU extends Module {
  constructor(readonly dim = -1) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return F.glu(input, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Softmin(dim): softmax(-x) along dim. */
export class Softmin extends AlongDim {
  constructor(dim: number) {
    super('Softmin', dim, F.softmin);
  }
}

/** Softmax2d: softmax over the channels of a (N, C, H, W) or (C, H, W) input, at each position. */
export class Softmax2d extends Module {
  override forward(input: Tensor): Tensor {
    if (input.ndim !== 3 && input.ndim !== 4) {
      throw new DLError('SHAPE', 'Softmax2d', `expected a (N, C, H, W) or (C, H, W) input; got shape ${fmtShape(input.shape)}`, 'for other shapes use Softmax(dim)');
    }
    return F.softmax(input, -3);
  }
}
