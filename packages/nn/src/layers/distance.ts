/** Distance layers: CosineSimilarity, PairwiseDistance. */
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { Module } from '../module.js';

/** CosineSimilarity({ dim = 1, eps = 1e-8 }): see F.cosineSimilarity. */
export class CosineSimilarity extends Module {
  readonly dim: number;
  readonly eps: number;
  constructor(opts: { dim?: number; eps?: number } = {}) {
    super();
    this.dim = opts.dim ?? 1;
    this.eps = opts.eps ?? 1e-8;
  }
  override forward(x1: Tensor, x2: Tensor): Tensor {
    return F.cosineSimilarity(x1, x2, this.dim, this.eps);
  }
  override extraRepr(): string {
    return `dim=${this.dim}, eps=${this.eps}`;
  }
}

/** PairwiseDistance({ p = 2, eps = 1e-6, keepdim = false }): see F.pairwiseDistance. */
export class PairwiseDistance extends Module {
  readonly p: number;
  readonly eps: number;
  readonly keepdim: boolean;
  constructor(opts: { p?: number; eps?: number; keepdim?: boolean } = {}) {
    super();
    this.p = opts.p ?? 2;
    this.eps = opts.eps ?? 1e-6;
    this.keepdim = opts.keepdim ?? false;
  }
  override forward(x1: Tensor, x2: Tensor): Tensor {
    return F.pairwiseDistance(x1, x2, this.p, this.eps, this.keepdim);
  }
  override extraRepr(): string {
    return `p=${this.p}, eps=${this.eps}, keepdim=${this.keepdim}`;
  }
}
