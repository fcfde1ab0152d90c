/** The Transformer encoder (torch.nn.TransformerEncoderLayer, torch.nn.TransformerEncoder). */
import { DLError, defaultGenerator } from '@dl/tensor';
import type { DType, Device, Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import { positiveInt, probability } from '../internal.js';
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
    const op = 'TransformerEncoderLayer';
    this.dModel = positiveInt(op, 'dModel', dModel);
    this.nhead = positiveInt(op, 'nhead', nhead);
    this.options = { ...opts };
    const dimFeedforward = positiveInt(op, 'dimFeedforward', opts.dimFeedforward ?? 2048);
    const p = probability(op, 'dropout', opts.dropout ?? 0.1);
    const bias = opts.bias ?? true;
    const factory = { dtype: opts.dtype, device: opts.device };
    this.normFirst = opts.normFirst ?? false;
    this.activation = activationFn(op, opts.activation ?? 'relu');
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst: opts.batchFirst, ...factory });
    this.linear1 = new Linear(dModel, dimFeedforward, { bias, ...factory });
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(dimFeedforward, dModel, { bias, ...factory });
    const eps = opts.layerNormEps ?? 1e-5;
    this.norm1 = new LayerNorm(dModel, { eps, bias, ...factory });
    this.norm2 = new LayerNorm(dModel, { eps, bias, ...factory });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
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
    const op = 'TransformerEncoder';
    if (!(encoderLayer instanceof TransformerEncoderLayer)) {
      throw new DLError('ARGUMENT', op, `encoderLayer must be a TransformerEncoderLayer; got ${encoderLayer === null ? 'null' : typeof encoderLayer === 'object' ? (encoderLayer as object).constructor.name : typeof encoderLayer}`, 'for other layers, put copies of them in a ModuleList');
    }
    this.numLayers = positiveInt(op, 'numLayers', numLayers);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => copyLayer(encoderLayer)));
    this.norm = opts.norm ?? null;
  }

  override forward(src: Tensor, opts: TransformerForwardOptions = {}): Tensor {
    let x = src;
    for (const layer of this.layers) x = (layer as TransformerEncoderLayer).forward(x, opts);
    return this.norm ? this.norm.forward(x) : x;
  }
}

/** A copy of `layer`: same options, weights, device and mode; the CPU generator is left as it was. */
function copyLayer(layer: TransformerEncoderLayer): TransformerEncoderLayer {
  const [first] = layer.parameters();
  const dtype: DType | undefined = first?.dtype;
  const device: Device | undefined = first?.device;
  const state = defaultGenerator.getState();
  let copy: TransformerEncoderLayer;
  try {
    copy = new TransformerEncoderLayer(layer.dModel, layer.nhead, { ...layer.options, dtype, device: 'cpu' });
  } finally {
    defaultGenerator.setState(state);
  }
  if (device !== undefined && device !== 'cpu') copy.to(device);
  copy.loadStateDict(layer.stateDict());
  copy.train(layer.training);
  return copy;
}
