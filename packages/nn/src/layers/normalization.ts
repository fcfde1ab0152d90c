/** Normalization layers: BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LocalResponseNorm. */
import { DLError, ones, scope, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import * as F from '../functional.js';
import * as init from '../init.js';
import { fmt, fmtShape, positiveInt } from '../internal.js';
import type { FactoryOptions } from '../internal.js';
import { Module } from '../module.js';
import { type Parameter, ownParameter } from '../parameter.js';

export interface BatchNormOptions extends FactoryOptions {
  eps?: number;
  /** Weight of each new batch in the running averages (default 0.1); null: a cumulative average. */
  momentum?: number | null;
  /** Learnable per-channel weight and bias (default true). */
  affine?: boolean;
  /** Keep running statistics for evaluation (default true). */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over dim 1 (channels). Training: normalise with the batch
 * mean and biased variance and update runningMean, runningVar (with the
 * unbiased variance) and numBatchesTracked; evaluation: use the running stats.
 */
export abstract class BatchNormBase extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Parameter | null;
  bias: Parameter | null;
  declare readonly runningMean: Tensor | null;
  declare readonly runningVar: Tensor | null;
  declare readonly numBatchesTracked: Tensor | null;

  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    const op = this.constructor.name;
    this.numFeatures = positiveInt(op, 'numFeatures', numFeatures);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = this.affine ? ownParameter(ones([numFeatures], factory)) : null;
    this.bias = this.affine ? ownParameter(zeros([numFeatures], factory)) : null;
    if (this.trackRunningStats) {
      this.registerBuffer('runningMean', zeros([numFeatures], factory));
      this.registerBuffer('runningVar', ones([numFeatures], factory));
      this.registerBuffer('numBatchesTracked', zeros([], { dtype: 'int32', device: opts.device }));
    } else {
      this.registerBuffer('runningMean', null);
      this.registerBuffer('runningVar', null);
      this.registerBuffer('numBatchesTracked', null);
    }
  }

  /** Reset runningMean to 0, runningVar to 1 and numBatchesTracked to 0. */
  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    init.zeros_(this.runningMean as Tensor);
    init.ones_(this.runningVar as Tensor);
    init.zeros_(this.numBatchesTracked as Tensor);
  }

  /** Running stats reset, weight 1, bias 0 (PyTorch's default). */
  resetParameters(): void {
    this.resetRunningStats();
    if (this.weight) init.ones_(this.weight);
    if (this.bias) init.zeros_(this.bias);
  }

  protected abstract checkInput(input: Tensor): void;

  override forward(input: Tensor): Tensor {
    this.checkInput(input);
    if (input.shape[1] !== this.numFeatures) {
      throw new DLError('SHAPE', this.constructor.name, `expected ${this.numFeatures} channels in dim 1; got input of shape ${fmtShape(input.shape)}`);
    }
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats) {
      const n = this.numBatchesTracked as Tensor;
      noGrad(() => n.add_(1));
      if (this.momentum === null) factor = 1 / n.item();
    }
    // Batch statistics in training, or whenever no running statistics are kept.
    const useBatchStats = this.training || (this.runningMean === null && this.runningVar === null);
    const updateRunning = !this.training || this.trackRunningStats;
    return F.batchNorm(input, updateRunning ? this.runningMean : null, updateRunning ? this.runningVar : null, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: factor,
      eps: this.eps,
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/** BatchNorm1d(numFeatures, { eps, momentum, affine, trackRunningStats }) on (N, C) or (N, C, L). */
export class BatchNorm1d extends BatchNormBase {
  protected override checkInput(input: Tensor): void {
    if (input.ndim !== 2 && input.ndim !== 3) throw new DLError('SHAPE', 'BatchNorm1d', `expected 2D or 3D input (got ${input.ndim}D input of shape ${fmtShape(input.shape)})`);
  }
}

/** BatchNorm2d(numFeatures, { eps, momentum, affine, trackRunningStats }) on (N, C, H, W). */
export class BatchNorm2d extends BatchNormBase {
  protected override checkInput(input: Tensor): void {
    if (input.ndim !== 4) throw new DLError('SHAPE', 'BatchNorm2d', `expected 4D input (got ${input.ndim}D input of shape ${fmtShape(input.shape)})`);
  }
}

/** BatchNorm3d(numFeatures, { eps, momentum, affine, trackRunningStats }) on (N, C, D, H, W). */
export class BatchNorm3d extends BatchNormBase {
  protected override checkInput(input: Tensor): void {
    if (input.ndim !== 5) throw new DLError('SHAPE', 'BatchNorm3d', `expected 5D input (got ${input.ndim}D input of shape ${fmtShape(input.shape)})`);
  }
}

export interface LayerNormOptions extends FactoryOptions {
  eps?: number;
  /** Learnable weight (and bias) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, also learn a bias (default true). */
  bias?: boolean;
}

/** LayerNorm(normalizedShape, { eps = 1e-5, elementwiseAffine = true }): normalise over the trailing dims. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (ns.length === 0) throw new DLError('ARGUMENT', 'LayerNorm', 'normalizedShape must have at least one dim');
    for (const d of ns) positiveInt('LayerNorm', 'normalizedShape entries', d);
    this.normalizedShape = ns;
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = this.elementwiseAffine ? ownParameter(ones(ns, factory)) : null;
    this.bias = this.elementwiseAffine && (opts.bias ?? true) ? ownParameter(zeros(ns, factory)) : null;
  }

  resetParameters(): void {
    if (this.weight) init.ones_(this.weight);
    if (this.bias) init.zeros_(this.bias);
  }

  override forward(input: Tensor): Tensor {
    return F.layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${fmt(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}

export interface GroupNormOptions extends FactoryOptions {
  eps?: number;
  /** Learnable per-channel weight and bias (default true). */
  affine?: boolean;
}

/**
 * GroupNorm(numGroups, numChannels, { eps = 1e-5, affine = true }): per sample, normalise each
 * group of numChannels / numGroups channels over its channels and positions, then a per-channel
 * weight (ones) and bias (zeros). No running statistics: the same in training and eval.
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    this.numGroups = positiveInt('GroupNorm', 'numGroups', numGroups);
    this.numChannels = positiveInt('GroupNorm', 'numChannels', numChannels);
    if (numChannels % numGroups !== 0) throw new DLError('ARGUMENT', 'GroupNorm', `numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.affine ?? true;
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = this.affine ? ownParameter(ones([numChannels], factory)) : null;
    this.bias = this.affine ? ownParameter(zeros([numChannels], factory)) : null;
  }

  resetParameters(): void {
    if (this.weight) init.ones_(this.weight);
    if (this.bias) init.zeros_(this.bias);
  }

  override forward(input: Tensor): Tensor {
    if (input.ndim < 2 || input.shape[1] !== this.numChannels) {
      throw new DLError('SHAPE', 'GroupNorm', `expected an input of shape (N, ${this.numChannels}, *); got ${fmtShape(input.shape)}`);
    }
    return F.groupNorm(input, this.numGroups, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine}`;
  }
}

/**
 * Instance normalisation: each (sample, channel) slice normalised over its positions. Options as
 * BatchNorm's, but affine and trackRunningStats default to false and momentum must be a number.
 * With trackRunningStats, training updates runningMean and runningVar with the batch averages of
 * the instance statistics and evaluation normalises with them; numBatchesTracked stays 0, as
 * PyTorch's. An unbatched (C, *) input is run as a batch of one.
 */
export abstract class InstanceNormBase extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super(numFeatures, { ...opts, affine: opts.affine ?? false, trackRunningStats: opts.trackRunningStats ?? false });
    if (typeof this.momentum !== 'number') {
      throw new DLError('ARGUMENT', this.constructor.name, `momentum must be a number; got ${this.momentum}`, 'instance norm keeps no cumulative average: use e.g. momentum 0.1');
    }
  }

  /** The number of dims of a batched input (3 for 1d, 4 for 2d, 5 for 3d). */
  protected abstract readonly batchedDims: number;

  protected override checkInput(input: Tensor): void {
    const nd = this.batchedDims;
    if (input.ndim !== nd && input.ndim !== nd - 1) {
      throw new DLError('SHAPE', this.constructor.name, `expected ${nd - 1}D (unbatched) or ${nd}D (batched) input; got ${input.ndim}D input of shape ${fmtShape(input.shape)}`);
    }
  }

  override forward(input: Tensor): Tensor {
    this.checkInput(input);
    if (input.ndim === this.batchedDims - 1) return scope(() => this.forward(input.unsqueeze(0)).squeeze(0));
    // Without weights or running statistics any channel count works (PyTorch only warns).
    if (input.shape[1] !== this.numFeatures && (this.affine || this.trackRunningStats)) {
      throw new DLError('SHAPE', this.constructor.name, `expected ${this.numFeatures} channels in dim 1 (numFeatures); got input of shape ${fmtShape(input.shape)}`);
    }
    return F.instanceNorm(input, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      useInputStats: this.training || !this.trackRunningStats,
      momentum: this.momentum as number,
      eps: this.eps,
    });
  }

}

/** InstanceNorm1d(numFeatures, { eps, momentum, affine = false, trackRunningStats = false }) on (N, C, L) or (C, L). */
export class InstanceNorm1d extends InstanceNormBase {
  protected readonly batchedDims = 3;
}

/** InstanceNorm2d(numFeatures, { eps, momentum, affine = false, trackRunningStats = false }) on (N, C, H, W) or (C, H, W). */
export class InstanceNorm2d extends InstanceNormBase {
  protected readonly batchedDims = 4;
}

/** InstanceNorm3d(numFeatures, { eps, momentum, affine = false, trackRunningStats = false }) on (N, C, D, H, W) or (C, D, H, W). */
export class InstanceNorm3d extends InstanceNormBase {
  protected readonly batchedDims = 5;
}

export interface LocalResponseNormOptions {
  alpha?: number;
  beta?: number;
  k?: number;
}

/** LocalResponseNorm(size, { alpha = 1e-4, beta = 0.75, k = 1 }): see F.localResponseNorm. */
export class LocalResponseNorm extends Module {
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly k: number;
  constructor(size: number, opts: LocalResponseNormOptions = {}) {
    super();
    this.size = positiveInt('LocalResponseNorm', 'size', size);
    this.alpha = opts.alpha ?? 1e-4;
    this.beta = opts.beta ?? 0.75;
    this.k = opts.k ?? 1;
  }
  override forward(input: Tensor): Tensor {
    return F.localResponseNorm(input, this.size, this.alpha, this.beta, this.k);
  }
  override extraRepr(): string {
    return `${this.size}, alpha=${this.alpha}, beta=${this.beta}, k=${this.k}`;
  }
}
