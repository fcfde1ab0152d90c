/** Embedding and EmbeddingBag (torch.nn.Embedding, torch.nn.EmbeddingBag). */
import { DLError, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import * as F from '../functional.js';
import * as init from '../init.js';
import { fmt, fmtShape, positiveInt } from '../internal.js';
import type { FactoryOptions } from '../internal.js';
import { Module } from '../module.js';
import { Parameter, ownParameter } from '../parameter.js';

export interface EmbeddingOptions extends FactoryOptions {
  /** This row gets no gradient and starts as zeros (negative counts from the end). */
  paddingIdx?: number | null;
}

/** paddingIdx in [-numEmbeddings, numEmbeddings), negative counted from the end (PyTorch's), as an index; null stays null. */
function paddingIndex(op: string, pad: number | null, numEmbeddings: number): number | null {
  if (pad === null) return null;
  if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
    throw new DLError('ARGUMENT', op, `paddingIdx must be within [${-numEmbeddings}, ${numEmbeddings}); got ${pad}`);
  }
  return pad < 0 ? pad + numEmbeddings : pad;
}

/**
 * Embedding(numEmbeddings, embeddingDim, { paddingIdx }): a lookup table; an
 * int32 index tensor of any shape gives [...shape, embeddingDim]. weight starts
 * as N(0, 1) with the paddingIdx row zeroed.
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions & { _weight?: Tensor } = {}) {
    super();
    this.numEmbeddings = positiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    this.embeddingDim = positiveInt('Embedding', 'embeddingDim', embeddingDim);
    this.paddingIdx = paddingIndex('Embedding', opts.paddingIdx ?? null, numEmbeddings);
    if (opts._weight) {
      const w = opts._weight;
      if (w.ndim !== 2 || w.shape[0] !== numEmbeddings || w.shape[1] !== embeddingDim) {
        throw new DLError('SHAPE', 'Embedding', `weight must have shape [${numEmbeddings}, ${embeddingDim}]; got ${fmtShape(w.shape)}`);
      }
      this.weight = new Parameter(w);
    } else {
      this.weight = ownParameter(zeros([numEmbeddings, embeddingDim], { dtype: opts.dtype, device: opts.device }));
      this.resetParameters();
    }
  }

  /** An Embedding whose weight is (a copy of) the given 2-D tensor; frozen (no gradient) by default. */
  static fromPretrained(embeddings: Tensor, opts: { freeze?: boolean; paddingIdx?: number | null } = {}): Embedding {
    if (embeddings.ndim !== 2) throw new DLError('SHAPE', 'Embedding.fromPretrained', `embeddings must be 2-D; got shape ${fmtShape(embeddings.shape)}`);
    const copy = noGrad(() => embeddings.detach().clone());
    const e = new Embedding(embeddings.shape[0], embeddings.shape[1], { paddingIdx: opts.paddingIdx, _weight: copy });
    copy.dispose();
    e.weight.requiresGrad_(!(opts.freeze ?? true));
    return e;
  }

  /** N(0, 1), padding row zeroed. */
  resetParameters(): void {
    init.normal_(this.weight);
    if (this.paddingIdx !== null) {
      const row = this.weight.select(0, this.paddingIdx);
      init.zeros_(row);
      row.dispose();
    }
  }

  override forward(input: Tensor): Tensor {
    return F.embedding(input, this.weight, { paddingIdx: this.paddingIdx });
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}

export interface EmbeddingBagOptions extends FactoryOptions {
  /** How each bag's rows are reduced (default 'mean', as PyTorch). */
  mode?: F.EmbeddingBagMode;
  /** Indices equal to this one are left out of their bag; the row starts as zeros (negative counts from the end). */
  paddingIdx?: number | null;
  /** offsets given to forward have one more entry, the end of the last bag (CSR layout). */
  includeLastOffset?: boolean;
}

/**
 * EmbeddingBag(numEmbeddings, embeddingDim, { mode = 'mean', paddingIdx, includeLastOffset }): sums,
 * means or maxima of bags of embedding rows (see F.embeddingBag). forward(input, offsets, perSampleWeights): a 2-D int32 input (B, n) is B bags
 * of n; a 1-D one is cut into bags at offsets. weight starts as N(0, 1) with the paddingIdx row
 * zeroed, as Embedding.
 */
export class EmbeddingBag extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly mode: F.EmbeddingBagMode;
  readonly paddingIdx: number | null;
  readonly includeLastOffset: boolean;
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingBagOptions = {}) {
    super();
    this.numEmbeddings = positiveInt('EmbeddingBag', 'numEmbeddings', numEmbeddings);
    this.embeddingDim = positiveInt('EmbeddingBag', 'embeddingDim', embeddingDim);
    const mode = opts.mode ?? 'mean';
    if (mode !== 'sum' && mode !== 'mean' && mode !== 'max') throw new DLError('ARGUMENT', 'EmbeddingBag', `mode must be 'sum', 'mean' or 'max'; got ${JSON.stringify(mode)}`);
    this.mode = mode;
    this.paddingIdx = paddingIndex('EmbeddingBag', opts.paddingIdx ?? null, numEmbeddings);
    this.includeLastOffset = opts.includeLastOffset ?? false;
    this.weight = ownParameter(zeros([numEmbeddings, embeddingDim], { dtype: opts.dtype, device: opts.device }));
    this.resetParameters();
  }

  /** N(0, 1), padding row zeroed. */
  resetParameters(): void {
    init.normal_(this.weight);
    if (this.paddingIdx !== null) {
      const row = this.weight.select(0, this.paddingIdx);
      init.zeros_(row);
      row.dispose();
    }
  }

  override forward(input: Tensor, offsets: Tensor | null = null, perSampleWeights: Tensor | null = null): Tensor {
    return F.embeddingBag(input, this.weight, offsets, { mode: this.mode, perSampleWeights, includeLastOffset: this.includeLastOffset, paddingIdx: this.paddingIdx });
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}, mode=${fmt(this.mode)}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}${this.includeLastOffset ? ', includeLastOffset=true' : ''}`;
  }
}
