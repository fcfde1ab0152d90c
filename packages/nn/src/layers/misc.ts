/** Shape layers: Flatten, Unflatten, Identity, Upsample, PixelShuffle, PixelUnshuffle. */
import { DLError } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { fmt, positiveInt } from '../internal.js';
import { Module } from '../module.js';

/** Flatten(startDim = 1, endDim = -1): keeps the batch dim by default. */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  override forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/** Unflatten(dim, unflattenedSize): the inverse of Flatten for one dim. */
export class Unflatten extends Module {
  readonly dim: number;
  readonly unflattenedSize: number[];
  constructor(dim: number, unflattenedSize: readonly number[]) {
    super();
    this.dim = dim;
    this.unflattenedSize = [...unflattenedSize];
  }
  override forward(input: Tensor): Tensor {
    const d = this.dim < 0 ? this.dim + input.ndim : this.dim;
    if (d < 0 || d >= input.ndim) throw new DLError('DIM', 'Unflatten', `dim ${this.dim} is out of range for an input of rank ${input.ndim}`);
    return input.reshape([...input.shape.slice(0, d), ...this.unflattenedSize, ...input.shape.slice(d + 1)]);
  }
  override extraRepr(): string {
    return `dim=${this.dim}, unflattenedSize=${fmt(this.unflattenedSize)}`;
  }
}

/** Identity: returns its input (any constructor arguments are ignored, as PyTorch). */
export class Identity extends Module {
  constructor(..._args: unknown[]) {
    super();
  }
  override forward<T>(input: T): T {
    return input;
  }
}

/**
 * Upsample({ size | scaleFactor, mode = 'nearest', alignCorners }) of (N, C, H, W) inputs: the
 * module form of F.interpolate.
 */
export class Upsample extends Module {
  readonly options: F.InterpolateOptions;
  constructor(options: F.InterpolateOptions) {
    super();
    this.options = { ...options };
  }
  override forward(input: Tensor): Tensor {
    return F.interpolate(input, this.options);
  }
  override extraRepr(): string {
    const o = this.options;
    return `${o.size !== undefined ? `size=${fmt(o.size)}` : `scaleFactor=${fmt(o.scaleFactor)}`}, mode=${fmt(o.mode ?? 'nearest')}`;
  }
}

/** PixelShuffle(upscaleFactor): (*, C r^2, H, W) to (*, C, H r, W r). */
export class PixelShuffle extends Module {
  readonly upscaleFactor: number;
  constructor(upscaleFactor: number) {
    super();
    this.upscaleFactor = positiveInt('PixelShuffle', 'upscaleFactor', upscaleFactor);
  }
  override forward(input: Tensor): Tensor {
    return F.pixelShuffle(input, this.upscaleFactor);
  }
  override extraRepr(): string {
    return `upscaleFactor=${this.upscaleFactor}`;
  }
}

/** PixelUnshuffle(downscaleFactor): (*, C, H r, W r) to (*, C r^2, H, W). */
export class PixelUnshuffle extends Module {
  readonly downscaleFactor: number;
  constructor(downscaleFactor: number) {
    super();
    this.downscaleFactor = positiveInt('PixelUnshuffle', 'downscaleFactor', downscaleFactor);
  }
  override forward(input: Tensor): Tensor {
    return F.pixelUnshuffle(input, this.downscaleFactor);
  }
  override extraRepr(): string {
    return `downscaleFactor=${this.downscaleFactor}`;
  }
}
