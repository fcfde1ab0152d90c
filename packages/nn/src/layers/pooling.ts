/**
 * Pooling layers: MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d and their 2-d
 * siblings MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d.
 */
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import type { AvgPool1dOptions, MaxPool1dOptions } from '../functional.js';
import { fmt, pair, poolOptions, positiveInt } from '../internal.js';
import type { IntOrPair } from '../internal.js';
import { Module } from '../module.js';

export type { AvgPool1dOptions, MaxPool1dOptions } from '../functional.js';

export interface MaxPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  dilation?: IntOrPair;
  ceilMode?: boolean;
}

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
 * MaxPool1d(kernelSize, stride | { stride = kernelSize, padding = 0, dilation = 1, ceilMode = false })
 * on (N, C, L) or (C, L) inputs (see F.maxPool1d).
 */
export class MaxPool1d extends Module {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly ceilMode: boolean;

  constructor(kernelSize: number, strideOrOpts?: number | MaxPool1dOptions) {
    super();
    const op = 'MaxPool1d';
    const opts = poolOptions<MaxPool1dOptions>(strideOrOpts);
    this.kernelSize = positiveInt(op, 'kernelSize', kernelSize);
    this.stride = positiveInt(op, 'stride', opts.stride ?? kernelSize);
    this.padding = positiveInt(op, 'padding', opts.padding ?? 0, 0);
    this.dilation = positiveInt(op, 'dilation', opts.dilation ?? 1);
    this.ceilMode = opts.ceilMode ?? false;
  }

  override forward(input: Tensor): Tensor {
    return F.maxPool1d(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
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

/** MaxPool2d(kernelSize, stride | { stride = kernelSize, padding = 0, dilation = 1, ceilMode = false }). */
export class MaxPool2d extends Module {
  readonly kernelSize: IntOrPair;
  readonly stride: IntOrPair;
  readonly padding: IntOrPair;
  readonly dilation: IntOrPair;
  readonly ceilMode: boolean;

  constructor(kernelSize: IntOrPair, strideOrOpts?: IntOrPair | MaxPool2dOptions) {
    super();
    const opts = poolOptions(strideOrOpts);
    pair('MaxPool2d', 'kernelSize', kernelSize, 1);
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.ceilMode = opts.ceilMode ?? false;
    pair('MaxPool2d', 'stride', this.stride, 1);
    pair('MaxPool2d', 'padding', this.padding, 0);
    pair('MaxPool2d', 'dilation', this.dilation, 1);
  }

  override forward(input: Tensor): Tensor {
    return F.maxPool2d(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
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

/** AdaptiveMaxPool1d(outputSize). */
export class AdaptiveMaxPool1d extends Module {
  readonly outputSize: number;
  constructor(outputSize: number) {
    super();
    this.outputSize = positiveInt('AdaptiveMaxPool1d', 'outputSize', outputSize);
  }
  override forward(input: Tensor): Tensor {
    return F.adaptiveMaxPool1d(input, this.outputSize);
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

/** AdaptiveMaxPool2d(outputSize). */
export class AdaptiveMaxPool2d extends Module {
  readonly outputSize: AdaptiveSize;
  constructor(outputSize: AdaptiveSize) {
    super();
    this.outputSize = outputSize;
  }
  override forward(input: Tensor): Tensor {
    return F.adaptiveMaxPool2d(input, this.outputSize);
  }
  override extraRepr(): string {
    return `outputSize=${fmt(this.outputSize)}`;
  }
}
