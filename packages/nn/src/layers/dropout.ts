/** Dropout, Dropout1d, Dropout2d, AlphaDropout and FeatureAlphaDropout (torch.nn's). */
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { probability } from '../internal.js';
import { Module } from '../module.js';

/**
 * Dropout(p = 0.5): in training, zero each element with probability p (from the
 * default generator, so manualSeed makes it repeatable) and scale the others by
 * 1 / (1 - p); in eval mode, the identity (returns its input).
 */
export class Dropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = probability('Dropout', 'dropout probability', p);
  }
  override forward(input: Tensor): Tensor {
    return F.dropout(input, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * Dropout1d(p = 0.5): in training, zero whole channels of (N, C, L) or (C, L) inputs with
 * probability p and scale the others by 1 / (1 - p); in eval mode, the identity.
 */
export class Dropout1d extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = probability('Dropout1d', 'dropout probability', p);
  }
  override forward(input: Tensor): Tensor {
    return F.dropout1d(input, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * Dropout2d(p = 0.5): in training, zero whole channels of (N, C, H, W) or (C, H, W) inputs with
 * probability p and scale the others by 1 / (1 - p); in eval mode, the identity.
 */
export class Dropout2d extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = probability('Dropout2d', 'dropout probability', p);
  }
  override forward(input: Tensor): Tensor {
    return F.dropout2d(input, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * AlphaDropout(p = 0.5), for SELU networks: in training, drop each element with probability p to
 * SELU's negative saturation value and restore the input's mean and variance by an affine map
 * (F.alphaDropout); in eval mode, the identity.
 */
export class AlphaDropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = probability('AlphaDropout', 'dropout probability', p);
  }
  override forward(input: Tensor): Tensor {
    return F.alphaDropout(input, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * FeatureAlphaDropout(p = 0.5): AlphaDropout of whole channels of (N, C, *) inputs (one draw per
 * sample and channel, F.featureAlphaDropout); in eval mode, the identity.
 */
export class FeatureAlphaDropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    this.p = probability('FeatureAlphaDropout', 'dropout probability', p);
  }
  override forward(input: Tensor): Tensor {
    return F.featureAlphaDropout(input, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
