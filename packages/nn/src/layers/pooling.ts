/** Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d. */
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { fmt, pair, poolOptions } from '../internal.js';
import type { IntOrPair } from '../internal.js';
import { Module } from '../module.js';

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
