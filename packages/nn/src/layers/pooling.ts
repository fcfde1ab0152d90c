/**
 * Pooling layers: MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d, MaxUnpool1d and
 * their 2-d siblings MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, MaxUnpool2d.
 */
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import type { AdaptiveMaxPoolOptions, AvgPool1dOptions, MaxPool1dOptions, MaxPool2dOptions, MaxPoolResult, MaxUnpool1dOptions, MaxUnpool2dOptions } from '../functional.js';
import { fmt, pair, poolOptions, positiveInt } from '../internal.js';
import type { IntOrPair } from '../internal.js';
import { Module } from '../module.js';

export type { AdaptiveMaxPoolOptions, AvgPool1dOptions, MaxPool1dOptions, MaxPool2dOptions, MaxPoolResult, MaxUnpool1dOptions, MaxUnpool2dOptions } from '../functional.js';

export interface AvgPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  ceilMode?: boolean;
  /** Count the zero padding in the average (default true). */
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

/**
 * MaxPool1d(kernelSize, stride | { stride = kernelSize, padding = 0, dilation = 1, ceilMode = false,
 * returnIndices = false }) on (N, C, L) or (C, L) inputs (see F.maxPool1d); with returnIndices,
 * forward gives [values, indices] (see MaxPoolResult).
 */
export class MaxPool1d<R extends boolean = false> extends Module {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly ceilMode: boolean;
  readonly returnIndices: R;

  constructor(kernelSize: number, strideOrOpts?: number | MaxPool1dOptions<R>) {
    super();
    const op = 'MaxPool1d';
    const opts = poolOptions<MaxPool1dOptions<R>>(strideOrOpts);
    this.kernelSize = positiveInt(op, 'kernelSize', kernelSize);
    this.stride = positiveInt(op, 'stride', opts.stride ?? kernelSize);
    this.padding = positiveInt(op, 'padding', opts.padding ?? 0, 0);
    this.dilation = positiveInt(op, 'dilation', opts.dilation ?? 1);
    this.ceilMode = opts.ceilMode ?? false;
    this.returnIndices = (opts.returnIndices ?? false) as R;
  }

  override forward(input: Tensor): MaxPoolResult<R> {
    return F.maxPool1d(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode, returnIndices: this.returnIndices });
  }

  override extraRepr(): string {
    return `kernelSize=${this.kernelSize}, stride=${this.stride}, padding=${this.padding}, dilation=${this.dilation}, ceilMode=${this.ceilMode}`;
  }
}

/**
 * AvgPool1d(kernelSize, stride | { stride = kernelSize, padding = 0, ceilMode = false, countIncludePad = true })
 * on (N, C, L) or (C, L) inputs (see F.avgPool1d).
 */
export class AvgPool1d extends Module {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;

  constructor(kernelSize: number, strideOrOpts?: number | AvgPool1dOptions) {
    super();
    const op = 'AvgPool1d';
    const opts = poolOptions<AvgPool1dOptions>(strideOrOpts);
    this.kernelSize = positiveInt(op, 'kernelSize', kernelSize);
    this.stride = positiveInt(op, 'stride', opts.stride ?? kernelSize);
    this.padding = positiveInt(op, 'padding', opts.padding ?? 0, 0);
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
  }

  override forward(input: Tensor): Tensor {
    return F.avgPool1d(input, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad });
  }

  override extraRepr(): string {
    return `kernelSize=${this.kernelSize}, stride=${this.stride}, padding=${this.padding}`;
  }
}

/**
 * MaxPool2d(kernelSize, stride | { stride = kernelSize, padding = 0, dilation = 1, ceilMode = false,
 * returnIndices = false }); with returnIndices, forward gives [values, indices] (see MaxPoolResult).
 */
export class MaxPool2d<R extends boolean = false> extends Module {
  readonly kernelSize: IntOrPair;
  readonly stride: IntOrPair;
  readonly padding: IntOrPair;
  readonly dilation: IntOrPair;
  readonly ceilMode: boolean;
  readonly returnIndices: R;

  constructor(kernelSize: IntOrPair, strideOrOpts?: IntOrPair | MaxPool2dOptions<R>) {
    super();
    const opts = poolOptions<MaxPool2dOptions<R>>(strideOrOpts);
    pair('MaxPool2d', 'kernelSize', kernelSize, 1);
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.ceilMode = opts.ceilMode ?? false;
    this.returnIndices = (opts.returnIndices ?? false) as R;
    pair('MaxPool2d', 'stride', this.stride, 1);
    pair('MaxPool2d', 'padding', this.padding, 0);
    pair('MaxPool2d', 'dilation', this.dilation, 1);
  }

  override forward(input: Tensor): MaxPoolResult<R> {
    return F.maxPool2d(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode, returnIndices: this.returnIndices });
  }

  override extraRepr(): string {
    return `kernelSize=${fmt(this.kernelSize)}, stride=${fmt(this.stride)}, padding=${fmt(this.padding)}, dilation=${fmt(this.dilation)}, ceilMode=${this.ceilMode}`;
  }
}

/** AvgPool2d(kernelSize, stride | { stride = kernelSize, padding = 0, ceilMode, countIncludePad = true, divisorOverride }). */
export class AvgPool2d extends Module {
  readonly kernelSize: IntOrPair;
  readonly stride: IntOrPair;
  readonly padding: IntOrPair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;

  constructor(kernelSize: IntOrPair, strideOrOpts?: IntOrPair | AvgPool2dOptions) {
    super();
    const opts = poolOptions(strideOrOpts);
    pair('AvgPool2d', 'kernelSize', kernelSize, 1);
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
    this.divisorOverride = opts.divisorOverride ?? null;
    pair('AvgPool2d', 'stride', this.stride, 1);
    pair('AvgPool2d', 'padding', this.padding, 0);
  }

  override forward(input: Tensor): Tensor {
    return F.avgPool2d(input, this.kernelSize, {
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
      divisorOverride: this.divisorOverride,
    });
  }

  override extraRepr(): string {
    return `kernelSize=${fmt(this.kernelSize)}, stride=${fmt(this.stride)}, padding=${fmt(this.padding)}`;
  }
}

/** AdaptiveAvgPool1d(outputSize): average over adaptive windows of (N, C, L) or (C, L) inputs to a fixed length (see F.adaptiveAvgPool1d). */
export class AdaptiveAvgPool1d extends Module {
  readonly outputSize: number;
  constructor(outputSize: number) {
    super();
    this.outputSize = positiveInt('AdaptiveAvgPool1d', 'outputSize', outputSize);
  }
  override forward(input: Tensor): Tensor {
    return F.adaptiveAvgPool1d(input, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${this.outputSize}`;
  }
}

/** AdaptiveMaxPool1d(outputSize, { returnIndices = false }); with returnIndices, forward gives [values, indices]. */
export class AdaptiveMaxPool1d<R extends boolean = false> extends Module {
  readonly outputSize: number;
  readonly returnIndices: R;
  constructor(outputSize: number, opts: AdaptiveMaxPoolOptions<R> = {}) {
    super();
    this.outputSize = positiveInt('AdaptiveMaxPool1d', 'outputSize', outputSize);
    this.returnIndices = (opts.returnIndices ?? false) as R;
  }
  override forward(input: Tensor): MaxPoolResult<R> {
    return F.adaptiveMaxPool1d(input, this.outputSize, { returnIndices: this.returnIndices });
  }
  override extraRepr(): string {
    return `outputSize=${this.outputSize}`;
  }
}

export type AdaptiveSize = IntOrPair | readonly [number | null, number | null];

/** AdaptiveAvgPool2d(outputSize): average over adaptive windows to a fixed output size (null keeps that dim). */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: AdaptiveSize;
  constructor(outputSize: AdaptiveSize) {
    super();
    this.outputSize = outputSize;
  }
  override forward(input: Tensor): Tensor {
    return F.adaptiveAvgPool2d(input, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${fmt(this.outputSize)}`;
  }
}

/** AdaptiveMaxPool2d(outputSize, { returnIndices = false }); with returnIndices, forward gives [values, indices]. */
export class AdaptiveMaxPool2d<R extends boolean = false> extends Module {
  readonly outputSize: AdaptiveSize;
  readonly returnIndices: R;
  constructor(outputSize: AdaptiveSize, opts: AdaptiveMaxPoolOptions<R> = {}) {
    super();
    this.outputSize = outputSize;
    this.returnIndices = (opts.returnIndices ?? false) as R;
  }
  override forward(input: Tensor): MaxPoolResult<R> {
    return F.adaptiveMaxPool2d(input, this.outputSize, { returnIndices: this.returnIndices });
  }
  override extraRepr(): string {
    return `outputSize=${fmt(this.outputSize)}`;
  }
}

/**
 * MaxUnpool1d(kernelSize, stride | { stride = kernelSize, padding = 0 }): forward(input, indices,
 * outputSize?) undoes a MaxPool1d with returnIndices on (N, C, L) or (C, L) inputs (see F.maxUnpool2d).
 */
export class MaxUnpool1d extends Module {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;

  constructor(kernelSize: number, strideOrOpts?: number | MaxUnpool1dOptions) {
    super();
    const op = 'MaxUnpool1d';
    const opts = poolOptions<MaxUnpool1dOptions>(strideOrOpts);
    this.kernelSize = positiveInt(op, 'kernelSize', kernelSize);
    this.stride = positiveInt(op, 'stride', opts.stride ?? kernelSize);
    this.padding = positiveInt(op, 'padding', opts.padding ?? 0, 0);
  }

  /** outputSize: (L) or the whole output shape; default (L_in - 1) * stride - 2 * padding + kernelSize. */
  override forward(input: Tensor, indices: Tensor, outputSize?: readonly number[] | null): Tensor {
    return F.maxUnpool1d(input, indices, this.kernelSize, { stride: this.stride, padding: this.padding, outputSize });
  }

  override extraRepr(): string {
    return `kernelSize=${this.kernelSize}, stride=${this.stride}, padding=${this.padding}`;
  }
}

/**
 * MaxUnpool2d(kernelSize, stride | { stride = kernelSize, padding = 0 }): forward(input, indices,
 * outputSize?) undoes a MaxPool2d with returnIndices on (N, C, H, W) or (C, H, W) inputs (see
 * F.maxUnpool2d).
 */
export class MaxUnpool2d extends Module {
  readonly kernelSize: IntOrPair;
  readonly stride: IntOrPair;
  readonly padding: IntOrPair;

  constructor(kernelSize: IntOrPair, strideOrOpts?: IntOrPair | MaxUnpool2dOptions) {
    super();
    const op = 'MaxUnpool2d';
    const opts = poolOptions<MaxUnpool2dOptions>(strideOrOpts);
    pair(op, 'kernelSize', kernelSize, 1);
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    pair(op, 'stride', this.stride, 1);
    pair(op, 'padding', this.padding, 0);
  }

  /** outputSize: (H, W) or the whole output shape; default (in - 1) * stride - 2 * padding + kernelSize per dim. */
  override forward(input: Tensor, indices: Tensor, outputSize?: readonly number[] | null): Tensor {
    return F.maxUnpool2d(input, indices, this.kernelSize, { stride: this.stride, padding: this.padding, outputSize });
  }

  override extraRepr(): string {
    return `kernelSize=${fmt(this.kernelSize)}, stride=${fmt(this.stride)}, padding=${fmt(this.padding)}`;
  }
}
