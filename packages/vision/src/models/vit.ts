/** Vision Transformer for CIFAR-sized images (Dosovitskiy et al. 2021; torchvision's VisionTransformer). */
import { DLError, cat, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Conv2d, Dropout, LayerNorm, Linear, Module, ModuleList, Parameter, TransformerEncoderLayer, init } from '@dl/nn';

/** A Parameter over t's storage; the wrapper t is freed. */
function parameter(t: Tensor): Parameter {
  const p = new Parameter(t);
  t.dispose();
  return p;
}

export interface VisionTransformerOptions {
  /** Side of the square input images (default 32). */
  imageSize?: number;
  /** Side of the square patches, one token each (default 4: 64 tokens for 32x32). */
  patchSize?: number;
  /** Encoder layers (default 6). */
  numLayers?: number;
  /** Attention heads per layer (default 3). */
  numHeads?: number;
  /** Token width (default 192, ViT-Tiny's). */
  hiddenDim?: number;
  /** Hidden width of each layer's MLP (default 384). */
  mlpDim?: number;
  /** Dropout after the embedding, in the MLPs and on the attention weights (default 0). */
  dropout?: number;
  numClasses?: number;
}

/**
 * VisionTransformer: patches of the image projected to tokens (a strided convolution, convProj),
 * a learned class token in front, learned position embeddings, pre-norm Transformer encoder
 * layers with GELU MLPs (nn.TransformerEncoderLayer with normFirst), a final LayerNorm, and a
 * linear head on the class token. Defaults: a ViT-Tiny-width model for 32x32 images, 1.8M
 * parameters.
 *
 * Initialised as torchvision: convProj truncated normal (std sqrt(1 / fanIn)) and zero bias,
 * position embeddings N(0, 0.02^2), class token zero, MLP weights xavierUniform_ and biases
 * N(0, 1e-6^2), attention as nn.MultiheadAttention, the head zero. One dropout rate serves
 * everywhere, as in nn.TransformerEncoderLayer (torchvision has a separate one for attention).
 */
export class VisionTransformer extends Module {
  readonly imageSize: number;
  readonly patchSize: number;
  readonly hiddenDim: number;
  convProj: Conv2d;
  classToken: Parameter;
  posEmbedding: Parameter;
  dropout: Dropout;
  layers: ModuleList;
  ln: LayerNorm;
  head: Linear;

  constructor(numClassesOrOptions: number | VisionTransformerOptions = {}) {
    super();
    const o = typeof numClassesOrOptions === 'number' ? { numClasses: numClassesOrOptions } : numClassesOrOptions;
    const { imageSize = 32, patchSize = 4, numLayers = 6, numHeads = 3, hiddenDim = 192, mlpDim = 384, dropout = 0, numClasses = 10 } = o;
    if (!Number.isInteger(imageSize) || !Number.isInteger(patchSize) || patchSize < 1 || imageSize % patchSize !== 0) {
      throw new DLError('VALUE', 'VisionTransformer', `imageSize (${imageSize}) must be a multiple of patchSize (${patchSize})`, 'e.g. patchSize 4 or 8 for 32x32 images');
    }
    this.imageSize = imageSize;
    this.patchSize = patchSize;
    this.hiddenDim = hiddenDim;
    const tokens = (imageSize / patchSize) ** 2 + 1;
    this.convProj = new Conv2d(3, hiddenDim, patchSize, { stride: patchSize });
    init.truncNormal_(this.convProj.weight, 0, Math.sqrt(1 / (3 * patchSize * patchSize)));
    init.zeros_(this.convProj.bias as Parameter);
    this.classToken = parameter(zeros([1, 1, hiddenDim]));
    this.posEmbedding = parameter(init.normal_(zeros([1, tokens, hiddenDim]), 0, 0.02));
    this.dropout = new Dropout(dropout);
    this.layers = new ModuleList(
      Array.from({ length: numLayers }, () => {
        const layer = new TransformerEncoderLayer(hiddenDim, numHeads, { dimFeedforward: mlpDim, dropout, activation: 'gelu', layerNormEps: 1e-6, batchFirst: true, normFirst: true });
        for (const linear of [layer.linear1, layer.linear2]) {
          init.xavierUniform_(linear.weight);
          init.normal_(linear.bias as Parameter, 0, 1e-6);
        }
        return layer;
      }),
    );
    this.ln = new LayerNorm(hiddenDim, { eps: 1e-6 });
    this.head = new Linear(hiddenDim, numClasses);
    init.zeros_(this.head.weight);
    init.zeros_(this.head.bias as Parameter);
  }

  override forward(x: Tensor): Tensor {
    const s = this.imageSize;
    if (x.ndim !== 4 || x.shape[1] !== 3 || x.shape[2] !== s || x.shape[3] !== s) {
      throw new DLError('SHAPE', 'VisionTransformer', `expected images of shape [N, 3, ${s}, ${s}]; got [${x.shape.join(', ')}]`, `resize to ${s}x${s} or build the model with imageSize matching the data`);
    }
    const n = x.shape[0];
    const patches = this.convProj.forward(x).flatten(2).transpose(1, 2); // [N, tokens - 1, D]
    let z = this.dropout.forward(cat([this.classToken.expand([n, 1, this.hiddenDim]), patches], 1).add(this.posEmbedding));
    for (const layer of this.layers) z = layer.forward(z);
    return this.head.forward(this.ln.forward(z).select(1, 0));
  }
}
