/**
 * The Transformer (torch.nn.Transformer, TransformerEncoderLayer, TransformerEncoder,
 * TransformerDecoderLayer, TransformerDecoder).
 */
import { DLError, defaultGenerator, full, scope } from '@dl/tensor';
import type { DType, Device, Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import * as init from '../init.js';
import { checkFloat, checkTensor, fmtShape, positiveInt, probability } from '../internal.js';
import type { FactoryOptions } from '../internal.js';
import { Module } from '../module.js';
import { ModuleList } from '../containers.js';
import { MultiheadAttention } from './attention.js';
import { Dropout } from './dropout.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';

export type TransformerActivation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

export interface TransformerEncoderLayerOptions extends FactoryOptions {
  /** Hidden width of the feed-forward block (default 2048). */
  dimFeedforward?: number;
  /** Dropout after attention, inside and after the feed-forward block, and on the attention weights (default 0.1). */
  dropout?: number;
  /** Of the feed-forward block (default 'relu'). */
  activation?: TransformerActivation;
  layerNormEps?: number;
  /** Inputs and outputs are [N, L, E] instead of [L, N, E] (default false, as PyTorch). */
  batchFirst?: boolean;
  /** Pre-norm: LayerNorm before attention and feed-forward (as ViT) instead of after (default false). */
  normFirst?: boolean;
  /** Biases of the linear layers and the LayerNorms (default true). */
  bias?: boolean;
}

export interface TransformerForwardOptions {
  /** Attention mask [L, L] or [N * nhead, L, L]: true (bool) marks pairs that may not attend; a float mask is added. */
  srcMask?: Tensor | null;
  /** [N, L] (or [L] unbatched): true (bool) marks padding positions to ignore. */
  srcKeyPaddingMask?: Tensor | null;
  /** Each position attends only to itself and those before (builds the mask; see MultiheadAttention). */
  isCausal?: boolean;
}

/**
 * TransformerEncoderLayer(dModel, nhead, { dimFeedforward = 2048, dropout = 0.1, activation =
 * 'relu', layerNormEps = 1e-5, batchFirst = false, normFirst = false, bias = true }):
 * self-attention then a feed-forward block, each with dropout and a residual connection, and a
 * LayerNorm after each (or before, with normFirst). Submodules and initialisation as PyTorch
 * (selfAttn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2).
 */
export class TransformerEncoderLayer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly normFirst: boolean;
  readonly activation: (x: Tensor) => Tensor;
  /** The constructor's options, which TransformerEncoder uses to make copies. */
  readonly options: Readonly<TransformerEncoderLayerOptions>;
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;

  constructor(dModel: number, nhead: number, opts: TransformerEncoderLayerOptions = {}) {
    super();
    const s = layerSettings('TransformerEncoderLayer', dModel, nhead, opts);
    this.dModel = dModel;
    this.nhead = nhead;
    this.options = { ...opts };
    this.normFirst = s.normFirst;
    this.activation = s.activation;
    this.selfAttn = new MultiheadAttention(dModel, nhead, s.attention);
    this.linear1 = new Linear(dModel, s.dimFeedforward, s.linear);
    this.dropout = new Dropout(s.p);
    this.linear2 = new Linear(s.dimFeedforward, dModel, s.linear);
    this.norm1 = new LayerNorm(dModel, s.norm);
    this.norm2 = new LayerNorm(dModel, s.norm);
    this.dropout1 = new Dropout(s.p);
    this.dropout2 = new Dropout(s.p);
  }

  override forward(src: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    const attention = (x: Tensor) => {
      const [y] = this.selfAttn.forward(x, x, x, { attnMask: opts.srcMask, keyPaddingMask: opts.srcKeyPaddingMask, isCausal: opts.isCausal, needWeights: false });
      return this.dropout1.forward(y);
    };
    const feedForward = (x: Tensor) => this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.activation(this.linear1.forward(x)))));
    if (this.normFirst) {
      const x = src.add(attention(this.norm1.forward(src)));
      return x.add(feedForward(this.norm2.forward(x)));
    }
    const x = this.norm1.forward(src.add(attention(src)));
    return this.norm2.forward(x.add(feedForward(x)));
  }
}

/** The options of a layer, checked, with PyTorch's defaults, as its submodules take them. */
function layerSettings(op: string, dModel: number, nhead: number, opts: TransformerEncoderLayerOptions) {
  positiveInt(op, 'dModel', dModel);
  positiveInt(op, 'nhead', nhead);
  const dimFeedforward = positiveInt(op, 'dimFeedforward', opts.dimFeedforward ?? 2048);
  const p = probability(op, 'dropout', opts.dropout ?? 0.1);
  const bias = opts.bias ?? true;
  const factory = { dtype: opts.dtype, device: opts.device };
  return {
    dimFeedforward,
    p,
    normFirst: opts.normFirst ?? false,
    activation: activationFn(op, opts.activation ?? 'relu'),
    attention: { dropout: p, bias, batchFirst: opts.batchFirst, ...factory },
    linear: { bias, ...factory },
    norm: { eps: opts.layerNormEps ?? 1e-5, bias, ...factory },
  };
}

function activationFn(op: string, a: TransformerActivation): (x: Tensor) => Tensor {
  if (a === 'relu') return F.relu;
  if (a === 'gelu') return F.gelu;
  if (typeof a === 'function') return a;
  throw new DLError('ARGUMENT', op, `activation must be 'relu', 'gelu' or a function of a Tensor; got ${JSON.stringify(a)}`);
}

export interface TransformerEncoderOptions {
  /** Applied to the output of the last layer (e.g. a LayerNorm, usual with normFirst layers). */
  norm?: Module | null;
}

/**
 * TransformerEncoder(encoderLayer, numLayers, { norm }): numLayers copies of encoderLayer
 * (in `layers`), run in turn, then `norm`. As PyTorch's deepcopy, every copy starts with
 * encoderLayer's weights, and making them draws no random numbers.
 */
export class TransformerEncoder extends Module {
  readonly numLayers: number;
  layers: ModuleList;
  norm: Module | null;

  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, opts: TransformerEncoderOptions = {}) {
    super();
    this.layers = copies('TransformerEncoder', 'encoderLayer', encoderLayer, TransformerEncoderLayer, numLayers);
    this.numLayers = numLayers;
    this.norm = opts.norm ?? null;
  }

  override forward(src: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    let x = src;
    for (const layer of this.layers) x = (layer as TransformerEncoderLayer).forward(x, opts);
    return this.norm ? this.norm.forward(x) : x;
  }
}

/** The options of TransformerDecoderLayer: those of TransformerEncoderLayer. */
export type TransformerDecoderLayerOptions = TransformerEncoderLayerOptions;

export interface TransformerDecoderForwardOptions {
  /** Self-attention mask [T, T] or [N * nhead, T, T]: true (bool) marks pairs that may not attend; a float mask is added. */
  tgtMask?: Tensor | null;
  /** Mask of the attention to the memory, [T, S] or [N * nhead, T, S], as tgtMask. */
  memoryMask?: Tensor | null;
  /** [N, T] (or [T] unbatched): true (bool) marks target padding positions to ignore. */
  tgtKeyPaddingMask?: Tensor | null;
  /** [N, S] (or [S] unbatched): true (bool) marks memory padding positions to ignore. */
  memoryKeyPaddingMask?: Tensor | null;
  /** Each target position attends only to itself and those before (builds the mask; see MultiheadAttention). */
  tgtIsCausal?: boolean;
  /** Target position i attends only to memory positions 0..i (builds the mask, top-left aligned). */
  memoryIsCausal?: boolean;
}

/**
 * TransformerDecoderLayer(dModel, nhead, { dimFeedforward = 2048, dropout = 0.1, activation =
 * 'relu', layerNormEps = 1e-5, batchFirst = false, normFirst = false, bias = true }):
 * forward(tgt, memory, opts) runs self-attention over tgt, attention from tgt to memory (the
 * encoder's output), then a feed-forward block, each with dropout and a residual connection, and a
 * LayerNorm after each (or before, with normFirst). tgt is [T, N, E] (or [N, T, E] with
 * batchFirst, or [T, E] unbatched), memory [S, N, E] in the same layout; the output has tgt's
 * shape. Submodules and initialisation as PyTorch (selfAttn, multiheadAttn, linear1, dropout,
 * linear2, norm1, norm2, norm3, dropout1, dropout2, dropout3).
 */
export class TransformerDecoderLayer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly normFirst: boolean;
  readonly activation: (x: Tensor) => Tensor;
  /** The constructor's options, which TransformerDecoder uses to make copies. */
  readonly options: Readonly<TransformerDecoderLayerOptions>;
  selfAttn: MultiheadAttention;
  multiheadAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;

  constructor(dModel: number, nhead: number, opts: TransformerDecoderLayerOptions = {}) {
    super();
    const s = layerSettings('TransformerDecoderLayer', dModel, nhead, opts);
    this.dModel = dModel;
    this.nhead = nhead;
    this.options = { ...opts };
    this.normFirst = s.normFirst;
    this.activation = s.activation;
    this.selfAttn = new MultiheadAttention(dModel, nhead, s.attention);
    this.multiheadAttn = new MultiheadAttention(dModel, nhead, s.attention);
    this.linear1 = new Linear(dModel, s.dimFeedforward, s.linear);
    this.dropout = new Dropout(s.p);
    this.linear2 = new Linear(s.dimFeedforward, dModel, s.linear);
    this.norm1 = new LayerNorm(dModel, s.norm);
    this.norm2 = new LayerNorm(dModel, s.norm);
    this.norm3 = new LayerNorm(dModel, s.norm);
    this.dropout1 = new Dropout(s.p);
    this.dropout2 = new Dropout(s.p);
    this.dropout3 = new Dropout(s.p);
  }

  override forward(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    checkSequences('TransformerDecoderLayer', this.dModel, this.selfAttn.batchFirst, [['tgt', tgt], ['memory', memory]]);
    const selfAttention = (x: Tensor) => {
      const [y] = this.selfAttn.forward(x, x, x, { attnMask: opts.tgtMask, keyPaddingMask: opts.tgtKeyPaddingMask, isCausal: opts.tgtIsCausal, needWeights: false });
      return this.dropout1.forward(y);
    };
    const memoryAttention = (x: Tensor) => {
      const [y] = this.multiheadAttn.forward(x, memory, memory, { attnMask: opts.memoryMask, keyPaddingMask: opts.memoryKeyPaddingMask, isCausal: opts.memoryIsCausal, needWeights: false });
      return this.dropout2.forward(y);
    };
    const feedForward = (x: Tensor) => this.dropout3.forward(this.linear2.forward(this.dropout.forward(this.activation(this.linear1.forward(x)))));
    if (this.normFirst) {
      const x = tgt.add(selfAttention(this.norm1.forward(tgt)));
      const y = x.add(memoryAttention(this.norm2.forward(x)));
      return y.add(feedForward(this.norm3.forward(y)));
    }
    const x = this.norm1.forward(tgt.add(selfAttention(tgt)));
    const y = this.norm2.forward(x.add(memoryAttention(x)));
    return this.norm3.forward(y.add(feedForward(y)));
  }
}

/**
 * Checks that the inputs are all batched ([L, N, dModel], or [N, L, dModel] with batchFirst) with
 * one batch size, or all unbatched [L, dModel]; their lengths may differ.
 */
function checkSequences(op: string, dModel: number, batchFirst: boolean, inputs: readonly (readonly [string, Tensor])[]): void {
  for (const [name, t] of inputs) {
    checkTensor(op, name, t);
    checkFloat(op, name, t);
  }
  const [firstName, first] = inputs[0];
  const batchDim = batchFirst ? 0 : 1;
  for (const [name, t] of inputs) {
    if (t.ndim !== 2 && t.ndim !== 3) throw new DLError('SHAPE', op, `${name} must be ${batchFirst ? '[N, L, E]' : '[L, N, E]'} or unbatched [L, E]; got shape ${fmtShape(t.shape)}`);
    if (t.ndim !== first.ndim) throw new DLError('SHAPE', op, `${firstName} ${fmtShape(first.shape)} and ${name} ${fmtShape(t.shape)} must both be batched (3 dims) or both unbatched (2 dims)`);
    const e = t.shape[t.ndim - 1];
    if (e !== dModel) throw new DLError('SHAPE', op, `${name} must have dModel = ${dModel} features (last dim); got shape ${fmtShape(t.shape)}`, `project it to ${dModel} features first (e.g. with a Linear), or build the module with dModel = ${e}`);
    if (t.ndim === 3 && t.shape[batchDim] !== first.shape[batchDim]) {
      const layout = batchFirst ? '[N, L, E] (batchFirst: true)' : '[L, N, E] (batchFirst: false)';
      throw new DLError('SHAPE', op, `${firstName} and ${name} must have the same batch size (dim ${batchDim}); got shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)}`, `inputs are ${layout}: check batchFirst and the order of the dims`);
    }
  }
}

export interface TransformerDecoderOptions {
  /** Applied to the output of the last layer (e.g. a LayerNorm, usual with normFirst layers). */
  norm?: Module | null;
}

/**
 * TransformerDecoder(decoderLayer, numLayers, { norm }): numLayers copies of decoderLayer (in
 * `layers`), run in turn on the target, each attending to the same memory, then `norm`. Copies as
 * TransformerEncoder's: every copy starts with decoderLayer's weights, and making them draws no
 * random numbers.
 */
export class TransformerDecoder extends Module {
  readonly numLayers: number;
  layers: ModuleList;
  norm: Module | null;

  constructor(decoderLayer: TransformerDecoderLayer, numLayers: number, opts: TransformerDecoderOptions = {}) {
    super();
    this.layers = copies('TransformerDecoder', 'decoderLayer', decoderLayer, TransformerDecoderLayer, numLayers);
    this.numLayers = numLayers;
    this.norm = opts.norm ?? null;
  }

  override forward(tgt: Tensor, memory: Tensor, opts: TransformerDecoderForwardOptions = {}): Tensor {
    let x = tgt;
    for (const layer of this.layers) x = (layer as TransformerDecoderLayer).forward(x, memory, opts);
    return this.norm ? this.norm.forward(x) : x;
  }
}

/** A module Transformer can use as its encoder: forward(src, { srcMask, srcKeyPaddingMask, isCausal }) gives the memory, as TransformerEncoder's. */
export interface TransformerEncoderLike extends Module {
  forward(src: Tensor, opts?: TransformerForwardOptions): Tensor;
}

/** A module Transformer can use as its decoder: forward(tgt, memory, opts) as TransformerDecoder's. */
export interface TransformerDecoderLike extends Module {
  forward(tgt: Tensor, memory: Tensor, opts?: TransformerDecoderForwardOptions): Tensor;
}

export interface TransformerOptions<E extends TransformerEncoderLike = TransformerEncoder, D extends TransformerDecoderLike = TransformerDecoder> extends TransformerEncoderLayerOptions {
  /** Features of the encoder's and the decoder's inputs and outputs (default 512). */
  dModel?: number;
  /** Attention heads (default 8). */
  nhead?: number;
  /** Layers of the encoder (default 6; unused with customEncoder). */
  numEncoderLayers?: number;
  /** Layers of the decoder (default 6; unused with customDecoder). */
  numDecoderLayers?: number;
  /** A module to use as the encoder instead of building one, kept as given (weights included). */
  customEncoder?: E | null;
  /** A module to use as the decoder instead of building one, kept as given (weights included). */
  customDecoder?: D | null;
}

/** The options of Transformer.forward: the encoder's (src*) and the decoder's (tgt*, memory*). */
export interface TransformerModelForwardOptions extends TransformerDecoderForwardOptions {
  /** Encoder self-attention mask [S, S] or [N * nhead, S, S]: true (bool) marks pairs that may not attend; a float mask is added. */
  srcMask?: Tensor | null;
  /** [N, S] (or [S] unbatched): true (bool) marks source padding positions to ignore. Not applied to memory: pass memoryKeyPaddingMask too. */
  srcKeyPaddingMask?: Tensor | null;
  /** Each source position attends only to itself and those before (builds the mask). */
  srcIsCausal?: boolean;
}

/**
 * Transformer({ dModel = 512, nhead = 8, numEncoderLayers = 6, numDecoderLayers = 6,
 * dimFeedforward = 2048, dropout = 0.1, activation = 'relu', layerNormEps = 1e-5, batchFirst =
 * false, normFirst = false, bias = true, customEncoder, customDecoder }): `encoder`, a
 * TransformerEncoder with a final LayerNorm, and `decoder`, a TransformerDecoder with a final
 * LayerNorm, as PyTorch's, or the custom modules given instead (any Module with their forward
 * signature: TransformerEncoderLike, TransformerDecoderLike). forward(src, tgt, opts) is
 * decoder(tgt, encoder(src)), of tgt's shape: src [S, N, E] and tgt [T, N, E] (or [N, *, E] with
 * batchFirst, or [*, E] unbatched).
 *
 * Initialised as PyTorch: the layers are made (drawing in PyTorch's order), then every parameter
 * with more than one dim, in parameter order, gets xavierUniform_; so the same seed gives
 * PyTorch's weights. A custom encoder or decoder keeps its weights: PyTorch 1.13 re-initialises
 * them too, silently overwriting e.g. a pretrained encoder (so with custom modules the draws,
 * and the built part's weights, differ from PyTorch's).
 */
export class Transformer<E extends TransformerEncoderLike = TransformerEncoder, D extends TransformerDecoderLike = TransformerDecoder> extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;
  encoder: E;
  decoder: D;

  constructor(opts: TransformerOptions<E, D> = {}) {
    super();
    const op = 'Transformer';
    const { dModel = 512, nhead = 8, numEncoderLayers = 6, numDecoderLayers = 6, customEncoder = null, customDecoder = null, ...layerOptions } = opts;
    this.dModel = positiveInt(op, 'dModel', dModel);
    this.nhead = positiveInt(op, 'nhead', nhead);
    positiveInt(op, 'numEncoderLayers', numEncoderLayers);
    positiveInt(op, 'numDecoderLayers', numDecoderLayers);
    for (const [name, m] of [['customEncoder', customEncoder], ['customDecoder', customDecoder]] as const) {
      if (m !== null && !(m instanceof Module)) {
        throw new DLError('ARGUMENT', op, `${name} must be a Module; got ${typeof m === 'object' ? (m as object).constructor.name : typeof m}`, 'wrap it in a Module subclass whose forward calls it');
      }
    }
    this.batchFirst = layerOptions.batchFirst ?? false;
    const norm = () => new LayerNorm(dModel, { eps: layerOptions.layerNormEps ?? 1e-5, bias: layerOptions.bias ?? true, dtype: layerOptions.dtype, device: layerOptions.device });
    this.encoder = customEncoder ?? (new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, layerOptions), numEncoderLayers, { norm: norm() }) as TransformerEncoderLike as E);
    this.decoder = customDecoder ?? (new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, layerOptions), numDecoderLayers, { norm: norm() }) as TransformerDecoderLike as D);
    const built = [customEncoder ? null : this.encoder, customDecoder ? null : this.decoder];
    for (const m of built) for (const p of m?.parameters() ?? []) if (p.ndim > 1) init.xavierUniform_(p);
  }

  override forward(src: Tensor, tgt: Tensor, opts: TransformerModelForwardOptions = {}): Tensor {
    checkSequences('Transformer', this.dModel, this.batchFirst, [['src', src], ['tgt', tgt]]);
    const memory = this.encoder.forward(src, { srcMask: opts.srcMask, srcKeyPaddingMask: opts.srcKeyPaddingMask, isCausal: opts.srcIsCausal });
    return this.decoder.forward(tgt, memory, opts);
  }

  /**
   * PyTorch's causal float mask [size, size]: 0 on and below the diagonal, -inf above, to pass as
   * tgtMask (or srcMask). dtype float32 (default) or float64.
   */
  static generateSquareSubsequentMask(size: number, opts: FactoryOptions = {}): Tensor {
    const op = 'Transformer.generateSquareSubsequentMask';
    positiveInt(op, 'size', size, 0);
    const dtype = opts.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw new DLError('DTYPE', op, `dtype must be float32 or float64 (the mask holds -inf); got ${dtype}`, 'for a bool mask (true = may not attend), use generateSquareSubsequentMask(size).isinf() or pass tgtIsCausal: true');
    return scope(() => full([size, size], Number.NEGATIVE_INFINITY, { dtype, device: opts.device }).triu(1));
  }
}

type LayerClass<T> = new (dModel: number, nhead: number, opts: TransformerEncoderLayerOptions) => T;

/** numLayers copies of `layer`, which must be a `Layer` (named `name` in the errors of `op`). */
function copies<T extends TransformerEncoderLayer | TransformerDecoderLayer>(op: string, name: string, layer: T, Layer: LayerClass<T>, numLayers: number): ModuleList {
  if (!(layer instanceof Layer)) {
    const got = layer === null ? 'null' : typeof layer === 'object' ? (layer as object).constructor.name : typeof layer;
    throw new DLError('ARGUMENT', op, `${name} must be a ${Layer.name}; got ${got}`, 'for other layers, put copies of them in a ModuleList');
  }
  positiveInt(op, 'numLayers', numLayers);
  return new ModuleList(Array.from({ length: numLayers }, () => copyLayer(layer, Layer)));
}

/** A copy of `layer`: same options, weights, device and mode; the CPU generator is left as it was. */
function copyLayer<T extends TransformerEncoderLayer | TransformerDecoderLayer>(layer: T, Layer: LayerClass<T>): T {
  const [first] = layer.parameters();
  const dtype: DType | undefined = first?.dtype;
  const device: Device | undefined = first?.device;
  const state = defaultGenerator.getState();
  let copy: T;
  try {
    copy = new Layer(layer.dModel, layer.nhead, { ...layer.options, dtype, device: 'cpu' });
  } finally {
    defaultGenerator.setState(state);
  }
  if (device !== undefined && device !== 'cpu') copy.to(device);
  copy.loadStateDict(layer.stateDict());
  copy.train(layer.training);
  return copy;
}
