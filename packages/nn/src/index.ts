/**
 * @dl/nn: torch.nn for dl. Modules (registration by assignment), containers,
 * layers with PyTorch's default initialisation, losses, `functional` (also
 * exported as `F`), `init` and `utils`. Importing it installs @dl/autograd.
 *
 * JavaScript objects cannot be called: PyTorch's `net(x)` is `net.forward(x)`.
 */
import '@dl/autograd';

export { Parameter } from './parameter.js';
export { Module } from './module.js';
export type { ForwardHook, ForwardPreHook, LoadStateDictResult, NamedOptions, RemovableHandle, StateDict } from './module.js';
export { ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential } from './containers.js';

export { Bilinear, Linear } from './layers/linear.js';
export type { BilinearOptions, LinearOptions } from './layers/linear.js';
export { Conv1d, Conv2d, ConvTranspose2d } from './layers/conv.js';
export type { Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, PaddingMode } from './layers/conv.js';
export { AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, MaxUnpool1d, MaxUnpool2d } from './layers/pooling.js';
export type { AdaptiveMaxPoolOptions, AdaptiveSize, AvgPool1dOptions, AvgPool2dOptions, MaxPool1dOptions, MaxPool2dOptions, MaxPoolResult, MaxUnpool1dOptions, MaxUnpool2dOptions } from './layers/pooling.js';
export { BatchNorm1d, BatchNorm2d, BatchNorm3d, BatchNormBase, GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, InstanceNormBase, LayerNorm, LocalResponseNorm } from './layers/normalization.js';
export type { BatchNormOptions, GroupNormOptions, LayerNormOptions, LocalResponseNormOptions } from './layers/normalization.js';
export { CELU, ELU, GELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, SELU, SiLU, Sigmoid, Softmax, Softmax2d, Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink, Threshold } from './layers/activation.js';
export { AlphaDropout, Dropout, Dropout1d, Dropout2d, FeatureAlphaDropout } from './layers/dropout.js';
export { Embedding, EmbeddingBag } from './layers/embedding.js';
export type { EmbeddingBagOptions, EmbeddingOptions } from './layers/embedding.js';
export type { EmbeddingBagMode, UnfoldOptions } from './functional.js';
export { Fold, Unfold } from './layers/fold.js';
export { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase } from './layers/recurrent.js';
export type { GRUCellOptions, GRUOptions, LSTMCellOptions, LSTMOptions, RNNBaseOptions, RNNCellBaseOptions, RNNCellOptions, RNNMode, RNNNonlinearity, RNNOptions } from './layers/recurrent.js';
export { PackedSequence } from './rnn-utils.js';
export type { PackOptions, PackPaddedOptions, PadPackedOptions, PadSequenceOptions } from './rnn-utils.js';
export { Flatten, Identity, PixelShuffle, PixelUnshuffle, Unflatten, Upsample } from './layers/misc.js';
export { CircularPad2d, ConstantPad1d, ConstantPad2d, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, ZeroPad2d } from './layers/padding.js';
export { CosineSimilarity, PairwiseDistance } from './layers/distance.js';
export { MultiheadAttention } from './layers/attention.js';
export type { MultiheadAttentionForwardOptions, MultiheadAttentionOptions } from './layers/attention.js';
export { Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer } from './layers/transformer.js';
export type { TransformerActivation, TransformerDecoderForwardOptions, TransformerDecoderLayerOptions, TransformerDecoderLike, TransformerDecoderOptions, TransformerEncoderLayerOptions, TransformerEncoderLike, TransformerEncoderOptions, TransformerForwardOptions, TransformerModelForwardOptions, TransformerOptions } from './layers/transformer.js';

export { BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, GaussianNLLLoss, HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, MarginRankingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss, TripletMarginLoss } from './losses.js';
export type { BCEOptions, BCEWithLogitsOptions, CrossEntropyOptions, GaussianNLLOptions, HuberOptions, KLDivOptions, KLDivReduction, MarginOptions, MultiLabelSoftMarginOptions, MultiMarginOptions, NLLOptions, PoissonNLLOptions, Reduction, ReductionOptions, SmoothL1Options, TripletMarginOptions } from './losses.js';

export * as functional from './functional.js';
export * as F from './functional.js';
export * as init from './init.js';
export * as utils from './utils.js';
export type { FactoryOptions, IntOrPair } from './internal.js';
