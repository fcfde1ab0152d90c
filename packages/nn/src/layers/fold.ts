/** Unfold and Fold (torch.nn.Unfold, torch.nn.Fold): sliding blocks to columns and back. */
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { fmt, pair } from '../internal.js';
import type { IntOrPair } from '../internal.js';
import { Module } from '../module.js';

/** Checks the settings when the layer is made, not at its first forward. */
function checkSettings(op: string, kernelSize: IntOrPair, opts: F.UnfoldOptions): void {
  pair(op, 'kernelSize', kernelSize, 1);
  pair(op, 'dilation', opts.dilation ?? 1, 1);
  pair(op, 'padding', opts.padding ?? 0, 0);
  pair(op, 'stride', opts.stride ?? 1, 1);
}

/** The settings line both layers print (PyTorch's order). */
function settings(kernelSize: IntOrPair, opts: F.UnfoldOptions): string {
  return `kernelSize=${fmt(kernelSize)}, dilation=${fmt(opts.dilation ?? 1)}, padding=${fmt(opts.padding ?? 0)}, stride=${fmt(opts.stride ?? 1)}`;
}

/**
 * Unfold(kernelSize, { dilation, padding, stride }): (N, C, H, W) or (C, H, W) to the columns
 * (N, C kh kw, L) of its sliding blocks (F.unfold, im2col).
 */
export class Unfold extends Module {
  readonly kernelSize: IntOrPair;
  readonly options: F.UnfoldOptions;
  constructor(kernelSize: IntOrPair, options: F.UnfoldOptions = {}) {
    super();
    checkSettings('Unfold', kernelSize, options);
    this.kernelSize = kernelSize;
    this.options = { ...options };
  }
  override forward(input: Tensor): Tensor {
    return F.unfold(input, this.kernelSize, this.options);
  }
  override extraRepr(): string {
    return settings(this.kernelSize, this.options);
  }
}

/**
 * Fold(outputSize, kernelSize, { dilation, padding, stride }): columns (N, C kh kw, L) or
 * (C kh kw, L) summed back into an image of outputSize (F.fold, col2im), the adjoint of Unfold.
 */
export class Fold extends Module {
  readonly outputSize: IntOrPair;
  readonly kernelSize: IntOrPair;
  readonly options: F.UnfoldOptions;
  constructor(outputSize: IntOrPair, kernelSize: IntOrPair, options: F.UnfoldOptions = {}) {
    super();
    pair('Fold', 'outputSize', outputSize, 1);
    checkSettings('Fold', kernelSize, options);
    this.outputSize = outputSize;
    this.kernelSize = kernelSize;
    this.options = { ...options };
  }
  override forward(input: Tensor): Tensor {
    return F.fold(input, this.outputSize, this.kernelSize, this.options);
  }
  override extraRepr(): string {
    return `outputSize=${fmt(this.outputSize)}, ${settings(this.kernelSize, this.options)}`;
  }
}
