/**
 * torch.nn.functional: the stateless forms of the layers and losses. Every
 * function is built from @dl/tensor ops, so @dl/autograd differentiates it.
 * Temporaries are freed on return (each composite runs in its own scope()).
 */
import {
  DLError,
  type Tensor,
  adaptiveAvgPool2d as tAdaptiveAvgPool2d,
  adaptiveMaxPool2d as tAdaptiveMaxPool2d,
  adaptiveMaxPool2dWithIndices as tAdaptiveMaxPool2dWithIndices,
  avgPool2d as tAvgPool2d,
  batchNorm as tBatchNorm,
  bernoulli,
  broadcastShapes,
  conv2d as tConv2d,
  conv2dBackwardInput,
  flatten as tFlatten,
  layerNorm as tLayerNorm,
  maxPool2d as tMaxPool2d,
  maxPool2dBackward,
  maxPool2dWithIndices as tMaxPool2dWithIndices,
  oneHot as tOneHot,
  pad as tPad,
  scope,
  tensor,
  vectorNorm,
  where,
  zeros,
} from '@dl/tensor';
import type { AvgPool2dOptions, Conv2dOptions, Device, Generator, PadMode } from '@dl/tensor';
import { isGradEnabled, noGrad } from '@dl/autograd';
import { checkFloat, checkTensor, fmt, fmtShape, pair, poolOptions, positiveInt, probability } from './internal.js';
import type { IntOrPair } from './internal.js';

export {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  cosineEmbeddingLoss,
  crossEntropy,
  gaussianNllLoss,
  hingeEmbeddingLoss,
  huberLoss,
  klDiv,
  l1Loss,
  marginRankingLoss,
  mseLoss,
  multiMarginLoss,
  multilabelMarginLoss,
  multilabelSoftMarginLoss,
  nllLoss,
  poissonNllLoss,
  smoothL1Loss,
  softMarginLoss,
  tripletMarginLoss,
} from './losses.js';
export type { BCEOptions, BCEWithLogitsOptions, CrossEntropyOptions, GaussianNLLOptions, HuberOptions, KLDivOptions, KLDivReduction, MarginOptions, MultiLabelSoftMarginOptions, MultiMarginOptions, NLLOptions, PoissonNLLOptions, ReductionOptions, SmoothL1Options, TripletMarginOptions } from './losses.js';
export { scaledDotProductAttention } from './layers/attention.js';
export type { ScaledDotProductAttentionOptions } from './layers/attention.js';

// ---------------------------------------------------------------- activations
export function relu(x: Tensor): Tensor {
  checkTensor('relu', 'input', x);
  return x.relu();
}

/** leaky_relu: x where x > 0, else negativeSlope * x. */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  checkTensor('leakyRelu', 'input', x);
  return scope(() => where(x.gt(0), x, x.mul(negativeSlope)));
}

/** GELU: x * Phi(x) exactly ('none'), or PyTorch's tanh approximation ('tanh'). */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  checkTensor('gelu', 'input', x);
  const approximate = opts.approximate ?? 'none';
  if (approximate === 'none') return x.gelu();
  if (approximate !== 'tanh') throw new DLError('ARGUMENT', 'gelu', `approximate must be 'none' or 'tanh'; got ${JSON.stringify(approximate)}`);
  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
  return scope(() => {
    const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(inner.tanh().add(1)).mul(0.5);
  });
}

/** elu: x where x > 0, else alpha * (exp(x) - 1) (exp of min(x, 0): no overflow in the unused branch). */
export function elu(x: Tensor, alpha = 1): Tensor {
  checkTensor('elu', 'input', x);
  checkFloat('elu', 'input', x);
  return scope(() => where(x.gt(0), x, x.clamp(null, 0).exp().sub(1).mul(alpha)));
}

/**
 * softplus: log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as PyTorch),
 * computed as max(bx, 0) + log(1 + exp(-|bx|)) so that no exp overflows.
 */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  checkTensor('softplus', 'input', x);
  checkFloat('softplus', 'input', x);
  return scope(() => {
    const bx = x.mul(beta);
    const smooth = bx.clamp(0).add(bx.abs().neg().exp().add(1).log()).div(beta);
    return where(bx.gt(threshold), x, smooth);
  });
}

/** hardtanh: x clamped to [minVal, maxVal]. */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  checkTensor('hardtanh', 'input', x);
  if (!(minVal < maxVal)) throw new DLError('ARGUMENT', 'hardtanh', `minVal must be below maxVal; got ${minVal} and ${maxVal}`);
  return x.clamp(minVal, maxVal);
}

/** relu6: x clamped to [0, 6]. */
export function relu6(x: Tensor): Tensor {
  return hardtanh(x, 0, 6);
}

/** hardsigmoid: relu6(x + 3) / 6. */
export function hardsigmoid(x: Tensor): Tensor {
  checkTensor('hardsigmoid', 'input', x);
  return scope(() => x.add(3).clamp(0, 6).div(6));
}

/** hardswish: x * relu6(x + 3) / 6. */
export function hardswish(x: Tensor): Tensor {
  checkTensor('hardswish', 'input', x);
  return scope(() => x.mul(x.add(3).clamp(0, 6)).div(6));
}

/** mish: x * tanh(softplus(x)). */
export function mish(x: Tensor): Tensor {
  return scope(() => x.mul(softplus(x).tanh()));
}

/** prelu: x where x >= 0, else weight * x; weight has 1 entry or one per channel (dim 1). */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  checkTensor('prelu', 'input', x);
  checkTensor('prelu', 'weight', weight);
  const c = x.ndim >= 2 ? x.shape[1] : 1;
  if (weight.ndim !== 1 || (weight.shape[0] !== 1 && weight.shape[0] !== c)) {
    throw new DLError('SHAPE', 'prelu', `weight must have 1 entry or one per channel (${c} for input ${fmtShape(x.shape)}); got ${fmtShape(weight.shape)}`);
  }
  return scope(() => {
    const w = weight.shape[0] === 1 || x.ndim < 2 ? weight : weight.reshape(x.shape.map((s, i) => (i === 1 ? s : 1)));
    return where(x.ge(0), x, x.mul(w));
  });
}

/** SiLU (swish): x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  checkTensor('silu', 'input', x);
  return scope(() => x.mul(x.sigmoid()));
}

export function sigmoid(x: Tensor): Tensor {
  checkTensor('sigmoid', 'input', x);
  return x.sigmoid();
}

export function tanh(x: Tensor): Tensor {
  checkTensor('tanh', 'input', x);
  return x.tanh();
}

export function softmax(x: Tensor, dim: number): Tensor {
  checkTensor('softmax', 'input', x);
  return x.softmax(dim);
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  checkTensor('logSoftmax', 'input', x);
  return x.logSoftmax(dim);
}

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** selu: scale * (x where x > 0, else alpha * (exp(x) - 1)), PyTorch's alpha and scale. */
export function selu(x: Tensor): Tensor {
  return scope(() => elu(x, SELU_ALPHA).mul(SELU_SCALE));
}

/** celu: x where x > 0, else alpha * (exp(x / alpha) - 1) (exp of min(x, 0) / alpha: no overflow). */
export function celu(x: Tensor, alpha = 1): Tensor {
  checkTensor('celu', 'input', x);
  checkFloat('celu', 'input', x);
  if (alpha === 0 || !Number.isFinite(alpha)) throw new DLError('ARGUMENT', 'celu', `alpha must be a finite nonzero number; got ${alpha}`, 'the default is alpha = 1');
  return scope(() => where(x.gt(0), x, x.clamp(null, 0).div(alpha).exp().sub(1).mul(alpha)));
}

/** logsigmoid: log(1 / (1 + exp(-x))) = -softplus(-x), as min(x, 0) - log(1 + exp(-|x|)): no exp overflows. */
export function logsigmoid(x: Tensor): Tensor {
  checkTensor('logsigmoid', 'input', x);
  checkFloat('logsigmoid', 'input', x);
  return scope(() => x.clamp(null, 0).sub(x.abs().neg().exp().add(1).log()));
}

/** softsign: x / (1 + |x|). */
export function softsign(x: Tensor): Tensor {
  checkTensor('softsign', 'input', x);
  checkFloat('softsign', 'input', x);
  return scope(() => x.div(x.abs().add(1)));
}

/** tanhshrink: x - tanh(x). */
export function tanhshrink(x: Tensor): Tensor {
  checkTensor('tanhshrink', 'input', x);
  checkFloat('tanhshrink', 'input', x);
  return scope(() => x.sub(x.tanh()));
}

function checkLambd(op: string, lambd: number): void {
  if (!(lambd >= 0) || !Number.isFinite(lambd)) throw new DLError('ARGUMENT', op, `lambd must be a finite number >= 0; got ${lambd}`, 'the default is lambd = 0.5');
}

/** hardshrink: x where |x| > lambd, else 0. */
export function hardshrink(x: Tensor, lambd = 0.5): Tensor {
  checkTensor('hardshrink', 'input', x);
  checkFloat('hardshrink', 'input', x);
  checkLambd('hardshrink', lambd);
  return scope(() => where(x.abs().gt(lambd), x, 0));
}

/** softshrink: x - lambd above lambd, x + lambd below -lambd, else 0 (x - clamp(x, -lambd, lambd)). */
export function softshrink(x: Tensor, lambd = 0.5): Tensor {
  checkTensor('softshrink', 'input', x);
  checkFloat('softshrink', 'input', x);
  checkLambd('softshrink', lambd);
  return scope(() => x.sub(x.clamp(-lambd, lambd)));
}

/** threshold: x where x > threshold, else value. */
export function threshold(x: Tensor, threshold: number, value: number): Tensor {
  checkTensor('threshold', 'input', x);
  return scope(() => where(x.gt(threshold), x, value));
}

/** glu: a * sigmoid(b), with a and b the two halves of x along dim (whose size must be even). */
export function glu(x: Tensor, dim = -1): Tensor {
  checkTensor('glu', 'input', x);
  checkFloat('glu', 'input', x);
  if (x.ndim === 0) throw new DLError('SHAPE', 'glu', 'glu does not take a 0-dim input', 'give it at least one dim of even size');
  const d = dim < 0 ? dim + x.ndim : dim;
  if (!Number.isInteger(d) || d < 0 || d >= x.ndim) throw new DLError('DIM', 'glu', `dim ${dim} is out of range for an input of rank ${x.ndim}`);
  const size = x.shape[d];
  if (size % 2 !== 0) throw new DLError('SHAPE', 'glu', `halving dimension must be even, but dim ${dim} of input ${fmtShape(x.shape)} has size ${size}`, 'pick a dim of even size');
  return scope(() => x.narrow(d, 0, size / 2).mul(x.narrow(d, size / 2, size / 2).sigmoid()));
}

/** softmin: softmax(-x) along dim. */
export function softmin(x: Tensor, dim: number): Tensor {
  checkTensor('softmin', 'input', x);
  return scope(() => x.neg().softmax(dim));
}

// ---------------------------------------------------------------- linear and convolution
/** y = x W^T + b, with x of shape [*, inFeatures] and W of shape [outFeatures, inFeatures]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = 'linear';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', weight);
  if (bias != null) checkTensor(op, 'bias', bias);
  if (weight.ndim !== 2) throw new DLError('SHAPE', op, `weight must be 2-D [outFeatures, inFeatures]; got shape ${fmtShape(weight.shape)}`);
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new DLError(
      'SHAPE',
      op,
      `input of shape ${fmtShape(x.shape)} has ${x.shape[x.ndim - 1] ?? 0} features in its last dim, but the weight ${fmtShape(weight.shape)} expects ${weight.shape[1]}`,
      'did you forget to flatten the input (e.g. x.flatten(1))?',
    );
  }
  if (bias != null && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new DLError('SHAPE', op, `bias must have shape [${weight.shape[0]}]; got ${fmtShape(bias.shape)}`);
  }
  return scope(() => {
    const y = x.matmul(weight.t());
    return bias != null ? y.add(bias) : y;
  });
}

/**
 * bilinear: y = x1^T A x2 + b for each output feature, with x1 [*, in1], x2 [*, in2] (the same
 * leading dims, no broadcasting, as PyTorch), weight [out, in1, in2] and bias [out]; y is [*, out].
 * Runs as one matmul of x1 with the weight laid out [in1, out * in2], then a batched dot with x2.
 */
export function bilinear(x1: Tensor, x2: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = 'bilinear';
  checkTensor(op, 'input1', x1);
  checkTensor(op, 'input2', x2);
  checkTensor(op, 'weight', weight);
  if (bias != null) checkTensor(op, 'bias', bias);
  for (const [name, t] of [['input1', x1], ['input2', x2], ['weight', weight], ['bias', bias]] as const) if (t != null) checkFloat(op, name, t);
  if (weight.ndim !== 3) throw new DLError('SHAPE', op, `weight must be 3-D [outFeatures, in1Features, in2Features]; got shape ${fmtShape(weight.shape)}`);
  const [out, in1, in2] = weight.shape;
  if (x1.ndim < 1 || x1.ndim !== x2.ndim || x1.shape.some((s, i) => i < x1.ndim - 1 && s !== x2.shape[i])) {
    throw new DLError('SHAPE', op, `input1 ${fmtShape(x1.shape)} and input2 ${fmtShape(x2.shape)} must have the same leading dims (all but the last); they are not broadcast`, 'expand the smaller one explicitly, e.g. x.expand([...])');
  }
  for (const [name, t, want] of [['input1', x1, in1], ['input2', x2, in2]] as const) {
    if (t.shape[t.ndim - 1] !== want) {
      throw new DLError('SHAPE', op, `${name} of shape ${fmtShape(t.shape)} has ${t.shape[t.ndim - 1]} features in its last dim, but the weight ${fmtShape(weight.shape)} expects ${want}`);
    }
  }
  if (bias != null && (bias.ndim !== 1 || bias.shape[0] !== out)) throw new DLError('SHAPE', op, `bias must have shape [${out}] (weight ${fmtShape(weight.shape)}); got ${fmtShape(bias.shape)}`);
  const lead = x1.shape.slice(0, -1);
  const n = product(lead);
  return scope(() => {
    const t = x1.reshape([n, in1]).matmul(weight.permute([1, 0, 2]).reshape([in1, out * in2])).reshape([n, out, in2]);
    let y = t.bmm(x2.reshape([n, in2, 1])).reshape([...lead, out]);
    if (bias != null) y = y.add(bias);
    return y;
  });
}

/** 2-D convolution (cross-correlation) of (N, C, H, W) or (C, H, W) inputs. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return tConv2d(x, weight, bias, opts);
}

export interface ConvTranspose2dOptions {
  stride?: IntOrPair;
  padding?: IntOrPair;
  /** Rows and columns added at the bottom and right of the output (each < its stride). */
  outputPadding?: IntOrPair;
  dilation?: IntOrPair;
  groups?: number;
}

/**
 * 2-D transposed convolution of (N, Cin, H, W) or (Cin, H, W) inputs with weight
 * [Cin, Cout / groups, kh, kw]: the gradient of conv2d with respect to its input, which is how it
 * runs (conv2dBackwardInput), so every backend and autograd have it. Output size
 * (H - 1) * stride - 2 * padding + dilation * (kh - 1) + outputPadding + 1 per spatial dim.
 * outputPadding must be smaller than the stride (PyTorch also allows it below the dilation).
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', weight);
  if (x.ndim === 3) return scope(() => convTranspose2d(x.unsqueeze(0), weight, bias, opts).squeeze(0));
  if (x.ndim !== 4) throw new DLError('SHAPE', op, `expected a (N, C, H, W) or (C, H, W) input; got shape ${fmtShape(x.shape)}`);
  const stride = pair(op, 'stride', opts.stride ?? 1, 1);
  const padding = pair(op, 'padding', opts.padding ?? 0, 0);
  const outputPadding = pair(op, 'outputPadding', opts.outputPadding ?? 0, 0);
  const dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
  const groups = positiveInt(op, 'groups', opts.groups ?? 1);
  if (weight.ndim !== 4 || weight.shape[0] !== x.shape[1] || x.shape[1] % groups !== 0) {
    throw new DLError('SHAPE', op, `weight must be [inChannels, outChannels / groups, kh, kw] with inChannels = the input's ${x.shape[1]} channels (divisible by groups ${groups}); got weight ${fmtShape(weight.shape)}`);
  }
  for (const i of [0, 1]) {
    if (outputPadding[i] >= stride[i]) throw new DLError('ARGUMENT', op, `outputPadding ${fmt(outputPadding)} must be smaller than the stride ${fmt(stride)}`);
  }
  const cout = weight.shape[1] * groups;
  if (bias != null && (bias.ndim !== 1 || bias.shape[0] !== cout)) throw new DLError('SHAPE', op, `bias must have shape [${cout}]; got ${fmtShape(bias.shape)}`);
  const size = [0, 1].map((i) => (x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (weight.shape[2 + i] - 1) + outputPadding[i] + 1);
  if (size.some((s) => s <= 0)) throw new DLError('SHAPE', op, `the output would be ${size.join('x')} for input ${fmtShape(x.shape)}, kernel ${weight.shape[2]}x${weight.shape[3]}, stride ${fmt(stride)}, padding ${fmt(padding)}`);
  return scope(() => {
    const y = conv2dBackwardInput(x, weight, [x.shape[0], cout, size[0], size[1]], { stride, padding, dilation, groups });
    return bias != null ? y.add(bias.reshape([cout, 1, 1])) : y;
  });
}

/**
 * The length L of the (N, C, L) or unbatched (C, L) floating input of a 1-d op (`twoD` is the
 * op to name for 4-D images).
 */
function length1d(op: string, x: Tensor, twoD: string): number {
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim !== 2 && x.ndim !== 3) {
    const hint = x.ndim === 4 ? `for (N, C, H, W) inputs use ${twoD}` : x.ndim === 1 ? 'a single channel is (1, L): x.unsqueeze(0)' : undefined;
    throw new DLError('SHAPE', op, `expected a 3-D (N, C, L) or 2-D unbatched (C, L) input; got shape ${fmtShape(x.shape)}`, hint);
  }
  return x.shape[x.ndim - 1];
}

/**
 * The 2-d op `fn` on x viewed as (N, C, 1, L), the result viewed back as (N, C', L'), as PyTorch
 * runs its 1-d convolutions and pools: every backend and autograd have them.
 */
function on2dView(x: Tensor, fn: (x4: Tensor) => Tensor): Tensor {
  return scope(() => fn(x.unsqueeze(-2)).squeeze(-2));
}

/** A window of `kernelSize` taps `dilation` apart must fit the input length padded on both sides. */
function checkSpan(op: string, length: number, kernelSize: number, padding: number, dilation: number): void {
  const span = dilation * (kernelSize - 1) + 1;
  if (length + 2 * padding < span) {
    throw new DLError(
      'SHAPE',
      op,
      `the input length ${length}${padding ? ` padded to ${length + 2 * padding}` : ''} is shorter than the kernel's span ${span} (kernelSize ${kernelSize}, dilation ${dilation})`,
      'use a longer input, more padding or a smaller kernel',
    );
  }
}

export interface Conv1dOptions {
  stride?: number;
  /** An int, 'valid' (no padding) or 'same' (output length = input length; stride 1 only). */
  padding?: number | 'same' | 'valid';
  dilation?: number;
  groups?: number;
}

/**
 * 1-D convolution (cross-correlation) of (N, Cin, L) or (Cin, L) inputs with weight
 * [Cout, Cin / groups, k]: output length floor((L + 2 padding - dilation (k - 1) - 1) / stride) + 1.
 * Runs as conv2d of the (N, Cin, 1, L) view with a [Cout, Cin / groups, 1, k] kernel.
 */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv1dOptions = {}): Tensor {
  const op = 'conv1d';
  const length = length1d(op, x, 'conv2d');
  checkTensor(op, 'weight', weight);
  if (bias != null) checkTensor(op, 'bias', bias);
  const stride = positiveInt(op, 'stride', opts.stride ?? 1);
  const dilation = positiveInt(op, 'dilation', opts.dilation ?? 1);
  const groups = positiveInt(op, 'groups', opts.groups ?? 1);
  const padding = opts.padding ?? 0;
  if (padding !== 'same' && padding !== 'valid' && !(Number.isInteger(padding) && padding >= 0)) {
    throw new DLError('ARGUMENT', op, `padding must be an integer >= 0, 'same' or 'valid'; got ${JSON.stringify(padding)}`);
  }
  if (padding === 'same' && stride !== 1) throw new DLError('ARGUMENT', op, "padding='same' is not supported for strided convolutions", 'use stride 1 or explicit padding');
  if (weight.ndim !== 3) {
    throw new DLError('SHAPE', op, `weight must be 3-D [outChannels, inChannels / groups, kernelSize]; got shape ${fmtShape(weight.shape)}`, weight.ndim === 4 ? 'a 4-D weight is a conv2d kernel' : undefined);
  }
  const [cout, cinPerGroup, k] = weight.shape;
  const cin = x.shape[x.ndim - 2];
  if (cin !== cinPerGroup * groups) {
    throw new DLError('SHAPE', op, `expected an input with ${cinPerGroup * groups} channels (weight ${fmtShape(weight.shape)}, groups ${groups}); got ${cin} channels in input of shape ${fmtShape(x.shape)}`);
  }
  if (cout % groups !== 0) throw new DLError('SHAPE', op, `outChannels (weight.shape[0] = ${cout}) must be divisible by groups (${groups})`);
  if (bias != null && (bias.ndim !== 1 || bias.shape[0] !== cout)) throw new DLError('SHAPE', op, `bias must have shape [${cout}]; got ${fmtShape(bias.shape)}`);
  if (padding !== 'same') checkSpan(op, length, k, padding === 'valid' ? 0 : padding, dilation);
  return on2dView(x, (x4) =>
    tConv2d(x4, weight.unsqueeze(2), bias, { stride: [1, stride], padding: typeof padding === 'number' ? [0, padding] : padding, dilation: [1, dilation], groups }),
  );
}

// ---------------------------------------------------------------- pooling
/**
 * What a max pool returns: the values, or with `returnIndices: true` PyTorch's tuple [values,
 * indices], the indices int32 (PyTorch: int64) flat positions h * W + w of each maximum within its
 * input plane (the position in L for 1-d pools), which maxUnpool1d / 2d take. The values get
 * gradients, the indices none.
 */
export type MaxPoolResult<R extends boolean> = R extends true ? [values: Tensor, indices: Tensor] : Tensor;

export interface MaxPool2dOptions<R extends boolean = false> {
  /** Defaults to kernelSize. */
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  dilation?: IntOrPair;
  ceilMode?: boolean;
  /** Also return the indices of the maxima (see MaxPoolResult); default false. */
  returnIndices?: R;
}

/** max_pool2d(x, kernelSize, stride | { stride, padding, dilation, ceilMode, returnIndices }). */
export function maxPool2d<R extends boolean = false>(x: Tensor, kernelSize: IntOrPair, strideOrOpts?: IntOrPair | MaxPool2dOptions<R>): MaxPoolResult<R> {
  const { returnIndices, ...opts } = poolOptions<MaxPool2dOptions<R>>(strideOrOpts);
  if (!returnIndices) return tMaxPool2d(x, kernelSize, opts) as MaxPoolResult<R>;
  const { values, indices } = tMaxPool2dWithIndices(x, kernelSize, opts);
  return [values, indices] as MaxPoolResult<R>;
}

/** avg_pool2d(x, kernelSize, stride | { stride, padding, ceilMode, countIncludePad, divisorOverride }). */
export function avgPool2d(x: Tensor, kernelSize: IntOrPair, strideOrOpts?: IntOrPair | AvgPool2dOptions): Tensor {
  return tAvgPool2d(x, kernelSize, poolOptions(strideOrOpts));
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: IntOrPair | readonly [number | null, number | null]): Tensor {
  return tAdaptiveAvgPool2d(x, outputSize);
}

export interface AdaptiveMaxPoolOptions<R extends boolean = false> {
  /** Also return the indices of the maxima (see MaxPoolResult); default false. */
  returnIndices?: R;
}

/**
 * adaptive_max_pool2d(x, outputSize, { returnIndices }): the maxima over adaptiveAvgPool2d's
 * windows (null in outputSize keeps that dim).
 */
export function adaptiveMaxPool2d<R extends boolean = false>(x: Tensor, outputSize: IntOrPair | readonly [number | null, number | null], opts: AdaptiveMaxPoolOptions<R> = {}): MaxPoolResult<R> {
  if (!opts.returnIndices) return tAdaptiveMaxPool2d(x, outputSize) as MaxPoolResult<R>;
  const { values, indices } = tAdaptiveMaxPool2dWithIndices(x, outputSize);
  return [values, indices] as MaxPoolResult<R>;
}

export interface MaxPool1dOptions<R extends boolean = false> {
  /** Defaults to kernelSize. */
  stride?: number | null;
  /** Implicit -infinity on both sides; at most half the kernel size. */
  padding?: number;
  dilation?: number;
  /** Round the output length up, not down: a last, partial window, where it starts inside the input or its left padding. */
  ceilMode?: boolean;
  /** Also return the indices of the maxima (positions in L; see MaxPoolResult); default false. */
  returnIndices?: R;
}

export interface AvgPool1dOptions {
  /** Defaults to kernelSize. */
  stride?: number | null;
  /** Implicit zeros on both sides; at most half the kernel size. */
  padding?: number;
  /** As MaxPool1dOptions.ceilMode. */
  ceilMode?: boolean;
  /** Count the zero padding in the average (default true). */
  countIncludePad?: boolean;
}

/** The checked kernelSize, stride, padding and dilation of a 1-d pool over inputs of this length. */
function poolWindow(op: string, length: number, kernelSize: number, opts: MaxPool1dOptions<boolean>): { k: number; s: number; p: number; d: number } {
  const k = positiveInt(op, 'kernelSize', kernelSize);
  const s = positiveInt(op, 'stride', opts.stride ?? k);
  const p = positiveInt(op, 'padding', opts.padding ?? 0, 0);
  const d = positiveInt(op, 'dilation', opts.dilation ?? 1);
  if (p > Math.floor(k / 2)) throw new DLError('ARGUMENT', op, `padding should be at most half of the kernel size; got padding ${p} for kernelSize ${k}`, `use padding <= ${Math.floor(k / 2)}`);
  checkSpan(op, length, k, p, d);
  return { k, s, p, d };
}

/**
 * A max pool of x viewed as (N, C, 1, L), as on2dView: its values viewed back as (N, C, L'), and
 * with returnIndices its indices too (positions in L, since the view has one row).
 */
function maxPoolOn2dView<R extends boolean>(x: Tensor, returnIndices: R | undefined, pool: (x4: Tensor) => { values: Tensor; indices: Tensor }): MaxPoolResult<R> {
  return scope(() => {
    const { values, indices } = pool(x.unsqueeze(-2));
    return (returnIndices ? [values.squeeze(-2), indices.squeeze(-2)] : values.squeeze(-2)) as MaxPoolResult<R>;
  });
}

/**
 * max_pool1d(x, kernelSize, stride | { stride = kernelSize, padding, dilation, ceilMode, returnIndices })
 * of (N, C, L) or (C, L) inputs, as maxPool2d of the (N, C, 1, L) view.
 */
export function maxPool1d<R extends boolean = false>(x: Tensor, kernelSize: number, strideOrOpts?: number | MaxPool1dOptions<R>): MaxPoolResult<R> {
  const op = 'maxPool1d';
  const opts = poolOptions<MaxPool1dOptions<R>>(strideOrOpts);
  const { k, s, p, d } = poolWindow(op, length1d(op, x, 'maxPool2d'), kernelSize, opts);
  return maxPoolOn2dView(x, opts.returnIndices, (x4) => tMaxPool2dWithIndices(x4, [1, k], { stride: [1, s], padding: [0, p], dilation: [1, d], ceilMode: opts.ceilMode ?? false }));
}

/**
 * avg_pool1d(x, kernelSize, stride | { stride = kernelSize, padding, ceilMode, countIncludePad = true })
 * of (N, C, L) or (C, L) inputs, as avgPool2d of the (N, C, 1, L) view.
 */
export function avgPool1d(x: Tensor, kernelSize: number, strideOrOpts?: number | AvgPool1dOptions): Tensor {
  const op = 'avgPool1d';
  const opts = poolOptions<AvgPool1dOptions>(strideOrOpts);
  const { k, s, p } = poolWindow(op, length1d(op, x, 'avgPool2d'), kernelSize, opts);
  return on2dView(x, (x4) => tAvgPool2d(x4, [1, k], { stride: [1, s], padding: [0, p], ceilMode: opts.ceilMode ?? false, countIncludePad: opts.countIncludePad ?? true }));
}

/** adaptive_avg_pool1d: output i averages input [floor(i L / n), ceil((i + 1) L / n)) of each (N, C, L) or (C, L) row. */
export function adaptiveAvgPool1d(x: Tensor, outputSize: number): Tensor {
  const op = 'adaptiveAvgPool1d';
  length1d(op, x, 'adaptiveAvgPool2d');
  const n = positiveInt(op, 'outputSize', outputSize);
  return on2dView(x, (x4) => tAdaptiveAvgPool2d(x4, [1, n]));
}

/** adaptive_max_pool1d(x, outputSize, { returnIndices }): the maxima over adaptiveAvgPool1d's windows. */
export function adaptiveMaxPool1d<R extends boolean = false>(x: Tensor, outputSize: number, opts: AdaptiveMaxPoolOptions<R> = {}): MaxPoolResult<R> {
  const op = 'adaptiveMaxPool1d';
  length1d(op, x, 'adaptiveMaxPool2d');
  const n = positiveInt(op, 'outputSize', outputSize);
  return maxPoolOn2dView(x, opts.returnIndices, (x4) => tAdaptiveMaxPool2dWithIndices(x4, [1, n]));
}

export interface MaxUnpool1dOptions {
  /** Defaults to kernelSize. */
  stride?: number | null;
  padding?: number;
}

export interface MaxUnpool2dOptions {
  /** Defaults to kernelSize. */
  stride?: IntOrPair | null;
  padding?: IntOrPair;
}

export interface MaxUnpoolSize {
  /**
   * The output's spatial size ((L) or (H, W)) or its whole shape; default
   * (in - 1) * stride - 2 * padding + kernelSize per dim. See maxUnpool2d.
   */
  outputSize?: readonly number[] | null;
}

/**
 * max_unpool1d(input, indices, kernelSize, stride | { stride = kernelSize, padding = 0, outputSize }):
 * the partial inverse of maxPool1d on (N, C, L) or (C, L) inputs; see maxUnpool2d.
 */
export function maxUnpool1d(input: Tensor, indices: Tensor, kernelSize: number, strideOrOpts?: number | (MaxUnpool1dOptions & MaxUnpoolSize)): Tensor {
  const op = 'maxUnpool1d';
  const opts = poolOptions<MaxUnpool1dOptions & MaxUnpoolSize>(strideOrOpts);
  const k = positiveInt(op, 'kernelSize', kernelSize);
  return maxUnpool(op, input, indices, [k], [positiveInt(op, 'stride', opts.stride ?? k)], [positiveInt(op, 'padding', opts.padding ?? 0, 0)], opts.outputSize);
}

/**
 * max_unpool2d(input, indices, kernelSize, stride | { stride = kernelSize, padding = 0, outputSize }):
 * the partial inverse of maxPool2d on (N, C, H, W) or (C, H, W) inputs: each plane of the output is
 * zero except input[i] at the flat position indices[i] (the int32 indices of maxPool2d with
 * returnIndices, of the input's shape). Since pooling loses the input's size, outputSize can give it;
 * it must lie within stride - 1 of the default (in - 1) * stride - 2 * padding + kernelSize per
 * dim, as PyTorch's rule (a whole-shape outputSize must also keep the input's leading dims, where
 * PyTorch ignores them, and may be the unbatched (C, H, W) too). Indices are checked on the host:
 * one outside the output plane is an error. Where an index repeats within a plane (overlapping
 * windows that found the same maximum), the last one in the input's order is written, as PyTorch's
 * CPU kernel, and only it gets a gradient (PyTorch's CUDA kernel leaves the winner to chance, and
 * its backward gives every repeat the written cell's gradient, which is not its forward's
 * derivative). Differentiable with respect to input; runs as maxPool2dBackward, the scatter into
 * zeros that max pooling's gradient is.
 */
export function maxUnpool2d(input: Tensor, indices: Tensor, kernelSize: IntOrPair, strideOrOpts?: IntOrPair | (MaxUnpool2dOptions & MaxUnpoolSize)): Tensor {
  const op = 'maxUnpool2d';
  const opts = poolOptions<MaxUnpool2dOptions & MaxUnpoolSize>(strideOrOpts);
  const k = pair(op, 'kernelSize', kernelSize, 1);
  return maxUnpool(op, input, indices, k, pair(op, 'stride', opts.stride ?? k, 1), pair(op, 'padding', opts.padding ?? 0, 0), opts.outputSize);
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** maxUnpool1d / 2d over the trailing kernel.length dims of input (one or two). */
function maxUnpool(op: string, input: Tensor, indices: Tensor, kernel: number[], stride: number[], padding: number[], outputSize: readonly number[] | null | undefined): Tensor {
  checkTensor(op, 'input', input);
  checkTensor(op, 'indices', indices);
  checkFloat(op, 'input', input);
  const nd = kernel.length;
  if (input.ndim !== nd + 1 && input.ndim !== nd + 2) {
    throw new DLError('SHAPE', op, `expected a ${nd === 2 ? '(N, C, H, W) or unbatched (C, H, W)' : '(N, C, L) or unbatched (C, L)'} input; got shape ${fmtShape(input.shape)}`);
  }
  if (indices.dtype !== 'int32') {
    throw new DLError('DTYPE', op, `indices must be int32; got ${indices.dtype}`, `take them from maxPool${nd}d(x, kernelSize, { returnIndices: true }), or cast with indices.to('int32')`);
  }
  if (indices.ndim !== input.ndim || indices.shape.some((s, i) => s !== input.shape[i])) {
    throw new DLError('SHAPE', op, `indices must have the input's shape ${fmtShape(input.shape)}; got ${fmtShape(indices.shape)}`, 'pass the values and the indices of one max pool');
  }
  const lead = input.shape.slice(0, -nd);
  const inSize = input.shape.slice(-nd);
  const size = unpoolSize(op, lead, inSize, kernel, stride, padding, outputSize);
  const written = unpoolWrites(op, indices, product(inSize), size);
  const planes = product(lead);
  return scope(() => {
    const src = written ? where(tensor(written, { dtype: 'bool', shape: input.shape, device: input.device }), input, 0) : input;
    const view = [1, planes, 1, product(inSize)];
    return maxPool2dBackward(src.reshape(view), indices.reshape(view), [1, planes, 1, product(size)]).reshape([...lead, ...size]);
  });
}

/**
 * The spatial output size of a max unpool: the default (in - 1) * stride - 2 * padding +
 * kernelSize per dim, or outputSize (checked as maxUnpool2d says).
 */
function unpoolSize(op: string, lead: number[], inSize: number[], kernel: number[], stride: number[], padding: number[], outputSize: readonly number[] | null | undefined): number[] {
  const nd = kernel.length;
  const names = nd === 2 ? ['H', 'W'] : ['L'];
  const base = inSize.map((n, d) => (n - 1) * stride[d] - 2 * padding[d] + kernel[d]);
  const f = (v: number[]) => (nd === 1 ? String(v[0]) : fmt(v));
  const of = `input ${fmtShape([...lead, ...inSize])}, kernelSize ${f(kernel)}, stride ${f(stride)}, padding ${f(padding)}`;
  if (outputSize == null) {
    if (base.some((s) => s < 1)) throw new DLError('SHAPE', op, `the default output size ${fmtShape(base)} of ${of} is empty`, 'use less padding, or give outputSize');
    return base;
  }
  const full = lead.length + nd;
  if (!Array.isArray(outputSize) || (outputSize.length !== nd && outputSize.length !== full) || !outputSize.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new DLError('ARGUMENT', op, `outputSize must be ${nd} positive integers (${names.join(', ')}) or the whole output shape (${full}); got ${JSON.stringify(outputSize)}`);
  }
  if (outputSize.length === full && lead.some((v, i) => outputSize[i] !== v)) {
    throw new DLError('SHAPE', op, `outputSize ${fmtShape(outputSize)} must keep the input's leading dims ${fmtShape(lead)}`, `give the spatial size only: ${fmtShape(outputSize.slice(-nd))}`);
  }
  const size = outputSize.slice(-nd);
  for (let d = 0; d < nd; d++) {
    const lo = Math.max(1, base[d] - stride[d] + 1);
    const hi = base[d] + stride[d] - 1;
    if (size[d] < lo || size[d] > hi) {
      throw new DLError(
        'SHAPE',
        op,
        `outputSize ${fmtShape(size)} does not fit ${of}: ${names[d]} must be in [${lo}, ${hi}] (within stride - 1 of the default ${base[d]}); got ${size[d]}`,
        "give the size of the max pool's input, the sizes its pool maps to the input's",
      );
    }
  }
  return size;
}

/**
 * Checks every index against the output plane, on the host before the kernel runs, and finds
 * which inputs are written where an index repeats within a plane: the last of each repeat (null:
 * no repeats, every input is written).
 */
function unpoolWrites(op: string, indices: Tensor, inPlane: number, size: number[]): Uint8Array | null {
  const outPlane = product(size);
  const data = indices.dataSync();
  // The plane and the input that last wrote each output cell.
  const lastPlane = new Int32Array(outPlane).fill(-1);
  const lastWriter = new Int32Array(outPlane);
  let written: Uint8Array | null = null;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(v >= 0 && v < outPlane)) {
      throw new DLError(
        'VALUE',
        op,
        `index ${v} at flat position ${i} of indices is out of range for an output plane of ${size.join('x')} = ${outPlane} cells; expected indices in [0, ${outPlane})`,
        `pass the indices of maxPool${size.length}d(x, ..., { returnIndices: true }) with the same kernelSize, stride and padding, and x's size as outputSize`,
      );
    }
    const p = Math.floor(i / inPlane);
    if (lastPlane[v] === p) {
      written ??= new Uint8Array(data.length).fill(1);
      written[lastWriter[v]] = 0;
    }
    lastPlane[v] = p;
    lastWriter[v] = i;
  }
  return written;
}

// ---------------------------------------------------------------- dropout
/**
 * Inverted dropout: in training, zero each element with probability p (drawn
 * from the default generator unless one is given, so manualSeed makes it
 * repeatable) and scale the rest by 1 / (1 - p); otherwise return x itself.
 */
export function dropout(x: Tensor, p = 0.5, training = true, opts: { generator?: Generator } = {}): Tensor {
  checkTensor('dropout', 'input', x);
  probability('dropout', 'dropout probability', p);
  if (!training || p === 0) return x;
  checkFloat('dropout', 'input', x);
  return maskedDropout(x, p, [...x.shape], opts.generator);
}

/**
 * x times a keep-mask of maskShape (broadcast over x) drawn with probability 1 - p, scaled by
 * 1 / (1 - p): what the dropouts share (p = 1 gives zeros).
 */
function maskedDropout(x: Tensor, p: number, maskShape: number[], generator: Generator | undefined): Tensor {
  if (p === 1) return x.mul(0);
  return scope(() => {
    const mask = bernoulli(1 - p, { shape: maskShape, dtype: x.dtype, device: x.device, generator });
    return x.mul(mask.mul(1 / (1 - p)));
  });
}

/**
 * dropout1d: zeroes whole channels of an (N, C, L) or (C, L) input, each with probability p, and
 * scales the kept ones by 1 / (1 - p) (torch.nn.functional.dropout1d).
 */
export function dropout1d(x: Tensor, p = 0.5, training = true, opts: { generator?: Generator } = {}): Tensor {
  checkTensor('dropout1d', 'input', x);
  probability('dropout1d', 'dropout probability', p);
  if (x.ndim !== 2 && x.ndim !== 3) {
    throw new DLError('SHAPE', 'dropout1d', `expected an (N, C, L) or unbatched (C, L) input; got shape ${fmtShape(x.shape)}`, x.ndim === 4 ? 'for (N, C, H, W) inputs use dropout2d' : 'dropout1d drops whole channels of 1-d signals');
  }
  if (!training || p === 0) return x;
  checkFloat('dropout1d', 'input', x);
  return maskedDropout(x, p, x.shape.map((s, i) => (i < x.ndim - 1 ? s : 1)), opts.generator);
}

/**
 * dropout2d: zeroes whole channels of an (N, C, H, W) or (C, H, W) input, each with probability
 * p, and scales the kept ones by 1 / (1 - p) (torch.nn.functional.dropout2d).
 */
export function dropout2d(x: Tensor, p = 0.5, training = true, opts: { generator?: Generator } = {}): Tensor {
  checkTensor('dropout2d', 'input', x);
  probability('dropout2d', 'dropout probability', p);
  if (x.ndim !== 3 && x.ndim !== 4) throw new DLError('SHAPE', 'dropout2d', `expected an (N, C, H, W) or (C, H, W) input; got shape ${fmtShape(x.shape)}`);
  if (!training || p === 0) return x;
  checkFloat('dropout2d', 'input', x);
  return maskedDropout(x, p, x.shape.map((s, i) => (i < x.ndim - 2 ? s : 1)), opts.generator);
}

/** SELU's scale times its alpha: -ALPHA_PRIME is the value SELU saturates to for large negative inputs. */
const ALPHA_PRIME = SELU_SCALE * SELU_ALPHA;

/**
 * Alpha dropout with a keep-mask of maskShape (broadcast over x): kept entries become a (x + alpha' p),
 * dropped ones -a alpha' (1 - p), with alpha' = SELU's scale * alpha and
 * a = 1 / sqrt((alpha'^2 p + 1) (1 - p)), PyTorch's affine correction, so that inputs of mean 0 and
 * variance 1 keep them. Identity outside training or for p = 0; zeros for p = 1.
 */
function alphaDropoutWith(op: string, x: Tensor, p: number, training: boolean, maskShape: (x: Tensor) => number[], generator: Generator | undefined): Tensor {
  checkTensor(op, 'input', x);
  probability(op, 'dropout probability', p);
  const shape = maskShape(x);
  if (!training || p === 0) return x;
  checkFloat(op, 'input', x);
  if (p === 1) return x.mul(0);
  const a = 1 / Math.sqrt((ALPHA_PRIME * ALPHA_PRIME * p + 1) * (1 - p));
  return scope(() => {
    const keep = bernoulli(1 - p, { shape, dtype: x.dtype, device: x.device, generator });
    return x.mul(keep.mul(a)).add(keep.sub(1 - p).mul(ALPHA_PRIME * a));
  });
}

/**
 * alpha_dropout (for SELU networks): in training, each element is dropped with probability p to
 * SELU's negative saturation value and the result moved back to the input's mean and variance
 * (see alphaDropoutWith); otherwise the identity. `training` defaults to false, as PyTorch's
 * F.alpha_dropout (unlike F.dropout).
 */
export function alphaDropout(x: Tensor, p = 0.5, training = false, opts: { generator?: Generator } = {}): Tensor {
  return alphaDropoutWith('alphaDropout', x, p, training, (t) => [...t.shape], opts.generator);
}

/**
 * feature_alpha_dropout: alphaDropout of whole channels: the mask is drawn per (dim 0, dim 1) pair
 * of an input with at least 2 dims, (N, C, *), and broadcast over the rest. An unbatched
 * (C, D, H, W) input is x.unsqueeze(0) (PyTorch's docs list it, but its mask then treats C as
 * the batch and D as the channels). `training` defaults to false, as PyTorch's.
 */
export function featureAlphaDropout(x: Tensor, p = 0.5, training = false, opts: { generator?: Generator } = {}): Tensor {
  const op = 'featureAlphaDropout';
  return alphaDropoutWith(
    op,
    x,
    p,
    training,
    (t) => {
      if (t.ndim < 2) throw new DLError('SHAPE', op, `feature dropout requires at least 2 dims (N, C, *); got shape ${fmtShape(t.shape)}`, 'for element-wise dropout use alphaDropout');
      return t.shape.map((s, i) => (i < 2 ? s : 1));
    },
    opts.generator,
  );
}

// ---------------------------------------------------------------- normalization
export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalise with the batch statistics (and update the running ones, if given). Default false. */
  training?: boolean;
  /** Weight of the new batch in the running averages (default 0.1). */
  momentum?: number;
  eps?: number;
}

/**
 * batch_norm over dim 1 of an (N, C, *) input. Training: normalise with the
 * batch mean and biased variance; the running mean and the running (unbiased)
 * variance, when given, are updated in place without recording gradients.
 * Otherwise: normalise with the running statistics.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, opts: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim < 2) throw new DLError('SHAPE', op, `expected an input of shape (N, C, *) with at least 2 dims; got shape ${fmtShape(x.shape)}`);
  const c = x.shape[1];
  const { weight = null, bias = null } = opts;
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t === null || t === undefined) continue;
    checkTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== c) throw new DLError('SHAPE', op, `${name} should have shape [${c}] (the ${c} channels of input ${fmtShape(x.shape)}); got ${fmtShape(t.shape)}`);
  }
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  if (!training && (!runningMean || !runningVar)) {
    throw new DLError('ARGUMENT', op, 'runningMean and runningVar are required when not training', 'pass { training: true } to normalise with the batch statistics');
  }
  const bshape = x.shape.map((s, i) => (i === 1 ? s : 1));
  return scope(() => {
    if (training) {
      const n = x.numel / c;
      if (n <= 1) throw new DLError('VALUE', op, `expected more than 1 value per channel when training; got input of shape ${fmtShape(x.shape)}`, 'use a batch of more than one sample, or eval() mode');
      // One kernel forward and one backward (@dl/tensor's batchNorm), which also gives the
      // batch's mean and biased variance for the running statistics.
      const [y, mean, variance] = tBatchNorm(x, weight, bias, eps);
      noGrad(() => {
        if (runningMean) runningMean.mul_(1 - momentum).add_(mean, momentum);
        if (runningVar) runningVar.mul_(1 - momentum).add_(variance, (momentum * n) / (n - 1));
      });
      return y;
    }
    // The running statistics, weight and bias folded into a per-channel scale and shift first:
    // two passes over x.
    let scale = (runningVar as Tensor).add(eps).rsqrt();
    if (weight) scale = scale.mul(weight);
    let shift = (runningMean as Tensor).mul(scale).neg();
    if (bias) shift = shift.add(bias);
    return x.mul(scale.reshape(bshape)).add(shift.reshape(bshape));
  });
}

/** layer_norm over the trailing dims given by normalizedShape (biased variance). */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = ns.length;
  if (k === 0 || k > x.ndim || ns.some((s, i) => x.shape[x.ndim - k + i] !== s)) {
    throw new DLError('SHAPE', op, `expected an input of shape [*, ${ns.join(', ')}] (normalizedShape ${fmtShape(ns)}); got ${fmtShape(x.shape)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t == null) continue;
    checkTensor(op, name, t);
    if (t.ndim !== k || t.shape.some((s, i) => s !== ns[i])) throw new DLError('SHAPE', op, `${name} must have shape ${fmtShape(ns)}; got ${fmtShape(t.shape)}`);
  }
  // One kernel forward and one backward (@dl/tensor's layerNorm).
  return tLayerNorm(x, k, weight ?? null, bias ?? null, eps);
}

/**
 * group_norm: the C channels of an (N, C, *) input in `numGroups` groups, each normalised over
 * its channels and positions per sample (biased variance), then the per-channel affine.
 */
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  positiveInt(op, 'numGroups', numGroups);
  if (x.ndim < 2 || x.shape[1] % numGroups !== 0) {
    throw new DLError('SHAPE', op, `expected an input of shape (N, C, *) with C divisible by numGroups ${numGroups}; got ${fmtShape(x.shape)}`);
  }
  const c = x.shape[1];
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t == null) continue;
    checkTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== c) throw new DLError('SHAPE', op, `${name} must have shape [${c}]; got ${fmtShape(t.shape)}`);
  }
  const bshape = x.shape.map((s, i) => (i === 1 ? s : 1));
  return scope(() => {
    // Each sample's groups are rows for the fused layer norm (one kernel each way), then the per-channel affine.
    const groupSize = (c / numGroups) * x.shape.slice(2).reduce((a, s) => a * s, 1);
    let y = tLayerNorm(x.reshape([x.shape[0], numGroups, groupSize]), 1, null, null, eps).reshape(x.shape as number[]);
    if (weight != null) y = y.mul(weight.reshape(bshape));
    if (bias != null) y = y.add(bias.reshape(bshape));
    return y;
  });
}

export interface InstanceNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Normalise with each instance's own statistics (default true); false: with the running ones. */
  useInputStats?: boolean;
  /** Weight of the new statistics in the running averages (default 0.1). */
  momentum?: number;
  eps?: number;
}

/**
 * instance_norm: each (sample, channel) slice of an (N, C, *) input normalised over its positions
 * (biased variance), then the per-channel affine. With useInputStats, the running mean and
 * variance, when given, move towards the batch averages of the instance means and unbiased
 * variances, in place and without gradient (PyTorch's); without it they normalise.
 */
export function instanceNorm(x: Tensor, runningMean: Tensor | null = null, runningVar: Tensor | null = null, opts: InstanceNormOptions = {}): Tensor {
  const op = 'instanceNorm';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim < 3) throw new DLError('SHAPE', op, `expected an input of shape (N, C, *) with at least 3 dims; got shape ${fmtShape(x.shape)}`, 'an unbatched (C, L) input is x.unsqueeze(0)');
  const c = x.shape[1];
  const { weight = null, bias = null } = opts;
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t == null) continue;
    checkTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== c) throw new DLError('SHAPE', op, `${name} should have shape [${c}] (the ${c} channels of input ${fmtShape(x.shape)}); got ${fmtShape(t.shape)}`);
  }
  const useInputStats = opts.useInputStats ?? true;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  if (!useInputStats && (!runningMean || !runningVar)) {
    throw new DLError('ARGUMENT', op, 'runningMean and runningVar are required when useInputStats is false', 'pass { useInputStats: true } to normalise with each instance\'s statistics');
  }
  const bshape = x.shape.map((s, i) => (i === 1 ? s : 1));
  return scope(() => {
    if (useInputStats) {
      const [nb] = x.shape;
      const n = x.numel / (nb * c);
      if (n <= 1) throw new DLError('VALUE', op, `expected more than 1 spatial element per instance; got input of shape ${fmtShape(x.shape)}`, 'instance statistics need at least 2 positions');
      // Each instance's channels as the channels of a batch of one: one batch-norm kernel each way,
      // the affine parameters repeated per instance.
      const [y, mean, variance] = tBatchNorm(x.reshape([1, nb * c, n]), weight?.repeat([nb]) ?? null, bias?.repeat([nb]) ?? null, eps);
      noGrad(() => {
        if (runningMean) runningMean.mul_(1 - momentum).add_(mean.reshape([nb, c]).mean(0), momentum);
        if (runningVar) runningVar.mul_(1 - momentum).add_(variance.reshape([nb, c]).mean(0), (momentum * n) / (n - 1));
      });
      return y.reshape(x.shape as number[]);
    }
    let y = x.sub((runningMean as Tensor).reshape(bshape)).mul((runningVar as Tensor).reshape(bshape).add(eps).rsqrt());
    if (weight) y = y.mul(weight.reshape(bshape));
    if (bias) y = y.add(bias.reshape(bshape));
    return y;
  });
}

/**
 * local_response_norm over the channels (dim 1) of an (N, C, *) input:
 * x / (k + alpha / size * sum of x^2 over the `size` channels around each one)^beta, the window
 * zero-padded by floor(size / 2) before and floor((size - 1) / 2) after (PyTorch's).
 */
export function localResponseNorm(x: Tensor, size: number, alpha = 1e-4, beta = 0.75, k = 1): Tensor {
  const op = 'localResponseNorm';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  positiveInt(op, 'size', size);
  if (x.ndim < 3) throw new DLError('SHAPE', op, `expected an input of shape (N, C, *) with at least 3 dims; got shape ${fmtShape(x.shape)}`, 'a (N, C) input is x.unsqueeze(-1)');
  const c = x.shape[1];
  return scope(() => {
    const pads = x.shape.slice(2).flatMap(() => [0, 0]);
    const sq = tPad(x.mul(x), [...pads, Math.floor(size / 2), Math.floor((size - 1) / 2)]);
    let acc = sq.narrow(1, 0, c);
    for (let i = 1; i < size; i++) acc = acc.add(sq.narrow(1, i, c));
    return x.div(acc.mul(alpha / size).add(k).pow(beta));
  });
}

// ---------------------------------------------------------------- resampling
export interface InterpolateOptions {
  /** The output's spatial size (H, W); or give scaleFactor. */
  size?: IntOrPair;
  /** Integer or fractional scale per spatial dim; the size is floor(input size * factor). */
  scaleFactor?: number | readonly [number, number];
  /** 'nearest' (default) or 'bilinear'. */
  mode?: 'nearest' | 'bilinear';
  /** bilinear: align the corner pixels' centres (default false, as PyTorch). */
  alignCorners?: boolean;
}

/**
 * interpolate (torch.nn.functional.interpolate) of (N, C, H, W) inputs, 'nearest' or
 * 'bilinear', written with indexSelect and elementwise ops (separable: rows, then columns), so
 * its gradient and every backend come for free. Sizes and source coordinates follow PyTorch:
 * nearest takes floor(dst * in / out); bilinear samples (dst + 0.5) * in / out - 0.5 clamped at 0,
 * or dst * (in - 1) / (out - 1) with alignCorners.
 */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const op = 'interpolate';
  checkTensor(op, 'input', x);
  if (x.ndim !== 4) throw new DLError('SHAPE', op, `expected an (N, C, H, W) input; got shape ${fmtShape(x.shape)}`);
  const mode = opts.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear') throw new DLError('ARGUMENT', op, `mode must be 'nearest' or 'bilinear'; got ${JSON.stringify(mode)}`);
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) throw new DLError('ARGUMENT', op, 'give exactly one of size and scaleFactor');
  let size: [number, number];
  let scales: [number, number] | null = null;
  if (opts.size !== undefined) size = pair(op, 'size', opts.size, 1);
  else {
    const f = opts.scaleFactor as number | readonly [number, number];
    scales = typeof f === 'number' ? [f, f] : [f[0], f[1]];
    if (!scales.every((v) => typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new DLError('ARGUMENT', op, `scaleFactor must be positive; got ${JSON.stringify(f)}`);
    size = [Math.floor(x.shape[2] * scales[0]), Math.floor(x.shape[3] * scales[1])];
    if (size.some((s) => s < 1)) throw new DLError('SHAPE', op, `scaleFactor ${JSON.stringify(f)} gives an empty output for input ${fmtShape(x.shape)}`);
  }
  const align = opts.alignCorners ?? false;
  if (align && mode === 'nearest') throw new DLError('ARGUMENT', op, "alignCorners only applies to mode 'bilinear'");
  if (mode === 'bilinear') checkFloat(op, 'input', x);
  return scope(() => {
    let y = x;
    for (const dim of [2, 3]) {
      const inSize = x.shape[dim];
      const outSize = size[dim - 2];
      // PyTorch's source scale: in / out, or 1 / scaleFactor when one was given.
      const ratio = scales ? 1 / scales[dim - 2] : inSize / outSize;
      const device = x.device;
      if (mode === 'nearest') {
        const idx = Int32Array.from({ length: outSize }, (_, o) => Math.min(Math.floor(o * ratio), inSize - 1));
        y = y.indexSelect(dim, tensor(idx, { dtype: 'int32', device }));
        continue;
      }
      const lo = new Int32Array(outSize);
      const hi = new Int32Array(outSize);
      const frac = new Float64Array(outSize);
      for (let o = 0; o < outSize; o++) {
        const src = align ? (outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0) : Math.max(0, (o + 0.5) * ratio - 0.5);
        lo[o] = Math.min(Math.floor(src), inSize - 1);
        hi[o] = Math.min(lo[o] + 1, inSize - 1);
        frac[o] = src - lo[o];
      }
      const shape = y.shape.map((_, i) => (i === dim ? outSize : 1));
      const w = tensor(frac, { dtype: x.dtype, device }).reshape(shape);
      const a = y.indexSelect(dim, tensor(lo, { dtype: 'int32', device }));
      const b = y.indexSelect(dim, tensor(hi, { dtype: 'int32', device }));
      y = a.add(b.sub(a).mul(w));
    }
    return y === x ? x.clone() : y;
  });
}

/** The factor r and the input of a pixel (un)shuffle: at least 3 dims (*, C, H, W). */
function shuffleArgs(op: string, x: Tensor, name: string, r: number): void {
  checkTensor(op, 'input', x);
  positiveInt(op, name, r);
  if (x.ndim < 3) throw new DLError('SHAPE', op, `expected an input of shape (*, C, H, W) with at least 3 dims; got shape ${fmtShape(x.shape)}`);
}

/** pixel_shuffle: (*, C r^2, H, W) to (*, C, H r, W r), out[c, h r + i, w r + j] = in[c r^2 + i r + j, h, w]. */
export function pixelShuffle(x: Tensor, upscaleFactor: number): Tensor {
  const op = 'pixelShuffle';
  const r = upscaleFactor;
  shuffleArgs(op, x, 'upscaleFactor', r);
  const lead = x.shape.slice(0, -3);
  const [c, h, w] = x.shape.slice(-3);
  if (c % (r * r) !== 0) throw new DLError('SHAPE', op, `the ${c} channels of input ${fmtShape(x.shape)} are not divisible by upscaleFactor^2 = ${r * r}`, `give C a multiple of ${r * r}`);
  const k = lead.length;
  return scope(() =>
    x
      .reshape([...lead, c / (r * r), r, r, h, w])
      .permute([...lead.keys(), k, k + 3, k + 1, k + 4, k + 2])
      .reshape([...lead, c / (r * r), h * r, w * r]),
  );
}

/** pixel_unshuffle, the inverse of pixelShuffle: (*, C, H r, W r) to (*, C r^2, H, W). */
export function pixelUnshuffle(x: Tensor, downscaleFactor: number): Tensor {
  const op = 'pixelUnshuffle';
  const r = downscaleFactor;
  shuffleArgs(op, x, 'downscaleFactor', r);
  const lead = x.shape.slice(0, -3);
  const [c, h, w] = x.shape.slice(-3);
  if (h % r !== 0 || w % r !== 0) throw new DLError('SHAPE', op, `the height ${h} and width ${w} of input ${fmtShape(x.shape)} must both be divisible by downscaleFactor ${r}`, 'crop or pad the input first');
  const k = lead.length;
  return scope(() =>
    x
      .reshape([...lead, c, h / r, r, w / r, r])
      .permute([...lead.keys(), k, k + 2, k + 4, k + 1, k + 3])
      .reshape([...lead, c * r * r, h / r, w / r]),
  );
}

// ---------------------------------------------------------------- sliding blocks
export interface UnfoldOptions {
  dilation?: IntOrPair;
  /** Zeros added on both sides of each spatial dim. */
  padding?: IntOrPair;
  stride?: IntOrPair;
}

/** The checked settings of unfold / fold and the number of blocks along each spatial dim of a (H, W) plane. */
function blockGrid(op: string, size: readonly number[], kernelSize: IntOrPair, opts: UnfoldOptions) {
  const k = pair(op, 'kernelSize', kernelSize, 1);
  const d = pair(op, 'dilation', opts.dilation ?? 1, 1);
  const p = pair(op, 'padding', opts.padding ?? 0, 0);
  const s = pair(op, 'stride', opts.stride ?? 1, 1);
  const blocks = [0, 1].map((i) => Math.floor((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) / s[i]) + 1);
  if (blocks.some((b) => b < 1)) {
    throw new DLError(
      'SHAPE',
      op,
      `a ${size[0]}x${size[1]} plane with padding ${fmt(p)} has no room for a block of kernelSize ${fmt(k)} with dilation ${fmt(d)} (the number of blocks would be ${blocks[0]}x${blocks[1]})`,
      'use a larger input, more padding, a smaller kernel or dilation',
    );
  }
  return { k, d, p, s, blocks };
}

/**
 * For every (kernel tap, block) pair in unfold's column order (tap i * kw + j, then block y * bw + x),
 * the flat position it reads in the padded (H + 2 ph) x (W + 2 pw) plane. unfold gathers these
 * positions (indexSelect) and fold adds into them (indexAdd): each is the other's gradient.
 */
function blockPositions(grid: ReturnType<typeof blockGrid>, paddedWidth: number, device: Device): Tensor {
  const { k, d, s, blocks } = grid;
  const pos = new Int32Array(k[0] * k[1] * blocks[0] * blocks[1]);
  let n = 0;
  for (let i = 0; i < k[0]; i++) {
    for (let j = 0; j < k[1]; j++) {
      for (let y = 0; y < blocks[0]; y++) {
        for (let x = 0; x < blocks[1]; x++) pos[n++] = (i * d[0] + y * s[0]) * paddedWidth + j * d[1] + x * s[1];
      }
    }
  }
  return tensor(pos, { dtype: 'int32', device });
}

/**
 * unfold (im2col): the sliding kh x kw blocks of an (N, C, H, W) or unbatched (C, H, W) input as
 * columns: (N, C kh kw, L) with L the number of blocks, row c kh kw + i kw + j holding tap (i, j) of
 * channel c. A zero pad, then one indexSelect of every block's positions, so its gradient (an
 * indexAdd: fold) and every backend come for free.
 */
export function unfold(x: Tensor, kernelSize: IntOrPair, opts: UnfoldOptions = {}): Tensor {
  const op = 'unfold';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim !== 3 && x.ndim !== 4) throw new DLError('SHAPE', op, `expected an (N, C, H, W) or unbatched (C, H, W) input; got shape ${fmtShape(x.shape)}`, x.ndim === 2 ? 'a single channel is (1, H, W): x.unsqueeze(0)' : undefined);
  const size = x.shape.slice(-2);
  const grid = blockGrid(op, size, kernelSize, opts);
  const [ph, pw] = grid.p;
  const lead = x.shape.slice(0, -2);
  const c = lead[lead.length - 1];
  const taps = grid.k[0] * grid.k[1];
  const blocks = grid.blocks[0] * grid.blocks[1];
  return scope(() => {
    const padded = ph || pw ? tPad(x, [pw, pw, ph, ph]) : x;
    const planes = padded.reshape([...lead, (size[0] + 2 * ph) * (size[1] + 2 * pw)]);
    return planes.indexSelect(lead.length, blockPositions(grid, size[1] + 2 * pw, x.device)).reshape([...lead.slice(0, -1), c * taps, blocks]);
  });
}

/**
 * fold (col2im), the adjoint of unfold: columns (N, C kh kw, L) or unbatched (C kh kw, L) summed
 * back into an (N, C, H, W) (or (C, H, W)) image of outputSize (H, W), overlapping blocks adding up;
 * L must be the number of blocks unfold finds in that image. One indexAdd into the zero padded
 * image, whose border is then cut off.
 */
export function fold(x: Tensor, outputSize: IntOrPair, kernelSize: IntOrPair, opts: UnfoldOptions = {}): Tensor {
  const op = 'fold';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.ndim !== 2 && x.ndim !== 3) throw new DLError('SHAPE', op, `expected an (N, C * kh * kw, L) or unbatched (C * kh * kw, L) input; got shape ${fmtShape(x.shape)}`);
  const size = pair(op, 'outputSize', outputSize, 1);
  const grid = blockGrid(op, size, kernelSize, opts);
  const [ph, pw] = grid.p;
  const taps = grid.k[0] * grid.k[1];
  const blocks = grid.blocks[0] * grid.blocks[1];
  const [rows, len] = x.shape.slice(-2);
  if (rows % taps !== 0) {
    throw new DLError('SHAPE', op, `the ${rows} rows (dim ${x.ndim - 2}) of input ${fmtShape(x.shape)} are not divisible by the ${taps} taps of kernelSize ${fmt(grid.k)}`, 'the rows are C * kh * kw, as unfold makes them');
  }
  if (len !== blocks) {
    throw new DLError(
      'SHAPE',
      op,
      `input ${fmtShape(x.shape)} has ${len} blocks in its last dim, but outputSize ${fmt(size)} with kernelSize ${fmt(grid.k)}, dilation ${fmt(grid.d)}, padding ${fmt(grid.p)}, stride ${fmt(grid.s)} has ${grid.blocks[0]} * ${grid.blocks[1]} = ${blocks}`,
      'give the outputSize and settings of the unfold that made the columns',
    );
  }
  const lead = [...x.shape.slice(0, -2), rows / taps];
  const padded = [size[0] + 2 * ph, size[1] + 2 * pw];
  return scope(() => {
    const image = zeros([...lead, padded[0] * padded[1]], { dtype: x.dtype, device: x.device })
      .indexAdd(lead.length, blockPositions(grid, padded[1], x.device), x.reshape([...lead, taps * blocks]))
      .reshape([...lead, ...padded]);
    return ph || pw ? image.narrow(-2, ph, size[0]).narrow(-1, pw, size[1]) : image;
  });
}

// ---------------------------------------------------------------- embedding
/**
 * Rows of `weight` at int32 indices of any shape: output shape [...input.shape, embeddingDim].
 * Its gradient (through indexSelect) adds into the selected rows, except the
 * paddingIdx row, which gets none.
 */
export function embedding(input: Tensor, weight: Tensor, opts: { paddingIdx?: number | null } = {}): Tensor {
  const op = 'embedding';
  checkTensor(op, 'input', input);
  checkTensor(op, 'weight', weight);
  if (input.dtype !== 'int32') throw new DLError('DTYPE', op, `indices must be int32; got ${input.dtype}`, "cast with input.to('int32')");
  if (weight.ndim !== 2) throw new DLError('SHAPE', op, `weight must be 2-D [numEmbeddings, embeddingDim]; got shape ${fmtShape(weight.shape)}`);
  const [n, d] = weight.shape;
  const data = input.dataSync();
  for (let i = 0; i < data.length; i++) {
    if (data[i] < 0 || data[i] >= n) {
      throw new DLError('VALUE', op, `index ${data[i]} is out of range for an embedding of ${n} rows (at flat position ${i} of the input)`, `indices must lie in [0, ${n})`);
    }
  }
  let pad = opts.paddingIdx ?? null;
  if (pad !== null) {
    if (!Number.isInteger(pad) || pad < -n || pad >= n) throw new DLError('ARGUMENT', op, `paddingIdx must be an integer in [${-n}, ${n}); got ${pad}`);
    if (pad < 0) pad += n;
  }
  return scope(() => {
    const flat = input.reshape([-1]);
    let rows = weight.indexSelect(0, flat);
    if (pad !== null && weight.requiresGrad && isGradEnabled()) {
      // Same values; the padding positions take theirs from a detached copy, so that row gets no gradient.
      rows = where(flat.eq(pad).unsqueeze(1), rows.detach(), rows);
    }
    return rows.reshape([...input.shape, d]);
  });
}

export type EmbeddingBagMode = 'sum' | 'mean' | 'max';

export interface EmbeddingBagOptions {
  /** How each bag's rows are reduced (default 'mean', as PyTorch). */
  mode?: EmbeddingBagMode;
  /** A weight per index, the input's shape and the weight's dtype: rows are scaled by it before the sum ('sum' only). */
  perSampleWeights?: Tensor | null;
  /** offsets has one more entry, the end of the last bag, which must be the number of indices (CSR layout). */
  includeLastOffset?: boolean;
  /** Indices equal to this one are left out of their bag (not counted by 'mean'; negative counts from the end). */
  paddingIdx?: number | null;
}

/**
 * embedding_bag: the rows of `weight` at int32 indices, reduced per bag by sum, mean or max. Bags
 * are the rows of a 2-D input (B, n), or the spans of a 1-D input that `offsets` (int32, the start
 * of each bag) cut it into. Output [B, embeddingDim]; an empty bag (or one of padding only) gives
 * zeros. 'sum' and 'mean' gather the kept rows (one indexSelect) and add them into their bags (one
 * indexAdd); 'max' lays each bag's rows out in a (B, longest bag, embeddingDim) block and takes each
 * feature's first maximum, which alone gets its gradient (as PyTorch's CPU kernel). Indices and
 * offsets are checked on the host: offsets must start at 0 and not decrease, and with
 * includeLastOffset end at the number of indices (PyTorch 1.13 takes decreasing offsets, and a
 * shorter last offset, and then reads and writes out of bounds), and a 2-D input may have no
 * columns (PyTorch fails).
 */
export function embeddingBag(input: Tensor, weight: Tensor, offsets: Tensor | null = null, opts: EmbeddingBagOptions = {}): Tensor {
  const op = 'embeddingBag';
  checkTensor(op, 'input', input);
  checkTensor(op, 'weight', weight);
  if (input.dtype !== 'int32') throw new DLError('DTYPE', op, `indices must be int32; got ${input.dtype}`, "cast with input.to('int32')");
  if (weight.ndim !== 2) throw new DLError('SHAPE', op, `weight must be 2-D [numEmbeddings, embeddingDim]; got shape ${fmtShape(weight.shape)}`);
  checkFloat(op, 'weight', weight);
  const mode = opts.mode ?? 'mean';
  if (mode !== 'sum' && mode !== 'mean' && mode !== 'max') throw new DLError('ARGUMENT', op, `mode must be 'sum', 'mean' or 'max'; got ${JSON.stringify(mode)}`);
  const [rows, dim] = weight.shape;
  const idx = input.dataSync();
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= rows) throw new DLError('VALUE', op, `index ${idx[i]} is out of range for an embedding of ${rows} rows (at flat position ${i} of the input)`, `indices must lie in [0, ${rows})`);
  }
  const starts = bagStarts(op, input, offsets, opts.includeLastOffset ?? false);
  const bags = starts.length - 1;
  const psw = opts.perSampleWeights ?? null;
  if (psw !== null) {
    checkTensor(op, 'perSampleWeights', psw);
    if (mode !== 'sum') throw new DLError('ARGUMENT', op, `perSampleWeights is only supported for mode 'sum'; got mode '${mode}'`, "use mode: 'sum' (a weighted mean is the weighted sum over weights that sum to 1)");
    if (psw.ndim !== input.ndim || psw.shape.some((s, i) => s !== input.shape[i])) throw new DLError('SHAPE', op, `perSampleWeights must have the input's shape ${fmtShape(input.shape)}; got ${fmtShape(psw.shape)}`);
    if (psw.dtype !== weight.dtype) throw new DLError('DTYPE', op, `perSampleWeights must have the weight's dtype ${weight.dtype}; got ${psw.dtype}`, `cast with perSampleWeights.to('${weight.dtype}')`);
  }
  let pad = opts.paddingIdx ?? null;
  if (pad !== null) {
    if (!Number.isInteger(pad) || pad < -rows || pad >= rows) throw new DLError('ARGUMENT', op, `paddingIdx must be an integer in [${-rows}, ${rows}); got ${pad}`);
    if (pad < 0) pad += rows;
  }
  // The kept positions of the flat input (padding left out), the bag of each, and each bag's size.
  const kept: number[] = [];
  const bagOf: number[] = [];
  const sizes = new Array<number>(bags).fill(0);
  for (let b = 0; b < bags; b++) {
    for (let k = starts[b]; k < starts[b + 1]; k++) {
      if (idx[k] === pad) continue;
      kept.push(k);
      bagOf.push(b);
      sizes[b] += 1;
    }
  }
  const device = weight.device;
  const ints = (v: number[], shape = [v.length]) => tensor(Int32Array.from(v), { dtype: 'int32', shape, device });
  return scope(() => {
    if (kept.length === 0) return zeros([bags, dim], { dtype: weight.dtype, device });
    if (mode === 'max') {
      // Each bag's rows in a (bags, longest, dim) block, the unused slots -inf; the first maximum's value.
      const longest = Math.max(...sizes);
      const slot = new Array<number>(bags * longest).fill(0);
      const used = new Uint8Array(bags * longest);
      const fill = new Array<number>(bags).fill(0);
      kept.forEach((k, j) => {
        const at = bagOf[j] * longest + fill[bagOf[j]]++;
        slot[at] = idx[k];
        used[at] = 1;
      });
      const block = where(tensor(used, { dtype: 'bool', shape: [bags, longest, 1], device }), weight.indexSelect(0, ints(slot)).reshape([bags, longest, dim]), Number.NEGATIVE_INFINITY);
      const maxima = block.gather(1, block.argmax(1, true)).reshape([bags, dim]);
      return sizes.every((n) => n > 0) ? maxima : where(ints(sizes, [bags, 1]).gt(0), maxima, 0);
    }
    let picked = weight.indexSelect(0, ints(kept.map((k) => idx[k])));
    if (psw !== null) picked = picked.mul(psw.reshape([-1]).indexSelect(0, ints(kept)).unsqueeze(1));
    const sums = zeros([bags, dim], { dtype: weight.dtype, device }).indexAdd(0, ints(bagOf), picked);
    return mode === 'sum' ? sums : sums.div(tensor(Float64Array.from(sizes, (n) => Math.max(n, 1)), { dtype: weight.dtype, shape: [bags, 1], device }));
  });
}

/**
 * Where each bag of embeddingBag starts in the flat input, and after the last one its end: the
 * rows of a 2-D input, or the checked offsets of a 1-D one.
 */
function bagStarts(op: string, input: Tensor, offsets: Tensor | null, includeLastOffset: boolean): number[] {
  const n = input.numel;
  if (input.ndim === 2) {
    if (offsets !== null) throw new DLError('ARGUMENT', op, `offsets must be null for a 2-D input ${fmtShape(input.shape)}: each row is a bag`, 'flatten the input to 1-D to cut it into bags by offsets');
    const [bags, len] = input.shape;
    return Array.from({ length: bags + 1 }, (_, b) => b * len);
  }
  if (input.ndim !== 1) throw new DLError('SHAPE', op, `input must be 1-D (with offsets) or 2-D (one bag per row); got shape ${fmtShape(input.shape)}`);
  if (offsets === null) throw new DLError('ARGUMENT', op, `a 1-D input ${fmtShape(input.shape)} needs offsets: the start of each bag`, 'pass offsets, e.g. tensor([0], { dtype: "int32" }) for one bag, or give a 2-D input');
  checkTensor(op, 'offsets', offsets);
  if (offsets.dtype !== 'int32' || offsets.ndim !== 1) throw new DLError('ARGUMENT', op, `offsets must be a 1-D int32 tensor; got ${offsets.dtype} of shape ${fmtShape(offsets.shape)}`, "cast with offsets.to('int32')");
  const o = Array.from(offsets.dataSync());
  if (includeLastOffset && o.length === 0) throw new DLError('SHAPE', op, 'with includeLastOffset, offsets needs at least one entry (the end of the last bag)');
  if (o.length > 0 && o[0] !== 0) throw new DLError('VALUE', op, `offsets[0] must be 0 (the first bag starts at the first index); got ${o[0]}`);
  for (let b = 1; b < o.length; b++) {
    if (o[b] < o[b - 1]) throw new DLError('VALUE', op, `offsets must not decrease; got offsets[${b - 1}] = ${o[b - 1]} then offsets[${b}] = ${o[b]}`, 'each bag starts where the previous one ends or later');
  }
  const last = o[o.length - 1] ?? 0;
  if (last > n) throw new DLError('VALUE', op, `offsets[-1] = ${last} is beyond the input's ${n} indices`);
  if (includeLastOffset && last !== n) throw new DLError('VALUE', op, `with includeLastOffset the last offset is the end of the last bag and must be the number of indices ${n}; got ${last}`, `append ${n} to offsets`);
  return includeLastOffset ? o : [...o, n];
}

// ---------------------------------------------------------------- shape helpers
/** pad with PyTorch's order: (before, after) pairs from the last dim backwards. */
export function pad(x: Tensor, pads: readonly number[], mode: PadMode = 'constant', value = 0): Tensor {
  return tPad(x, pads, mode, value);
}

/** One-hot encoding of int32 class indices (int32 result; PyTorch: int64). */
export function oneHot(x: Tensor, numClasses = -1): Tensor {
  return tOneHot(x, numClasses);
}

/**
 * torch.nn.functional.normalize: x / max(||x||_p, eps) along `dim`, each slice scaled to unit
 * p-norm; a zero slice stays zero (its gradient is 1 / eps, as PyTorch's).
 */
export function normalize(x: Tensor, p: number = 2, dim = 1, eps = 1e-12): Tensor {
  checkTensor('normalize', 'input', x);
  checkFloat('normalize', 'input', x);
  return scope(() => x.div(vectorNorm(x, p, dim, true).clamp(eps)));
}

/**
 * cosine_similarity along dim: sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)), x1 and x2
 * broadcast together (PyTorch 1.13's: each norm clamped on its own). Where a norm is below eps,
 * the gradient is that of this formula with the clamp constant (PyTorch's differs there).
 */
export function cosineSimilarity(x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor {
  const op = 'cosineSimilarity';
  checkTensor(op, 'x1', x1);
  checkTensor(op, 'x2', x2);
  checkFloat(op, 'x1', x1);
  checkFloat(op, 'x2', x2);
  if (!(eps >= 0)) throw new DLError('ARGUMENT', op, `eps must be >= 0; got ${eps}`, 'the default is eps = 1e-8');
  const shape = broadcastShapes(op, x1.shape, x2.shape);
  if (!Number.isInteger(dim) || dim < -shape.length || dim >= shape.length) {
    throw new DLError('DIM', op, `dim ${dim} is out of range for inputs broadcast to ${fmtShape(shape)}`, `use a dim in [${-shape.length}, ${shape.length})`);
  }
  return scope(() => {
    const a = x1.expand(shape);
    const b = x2.expand(shape);
    const an = a.div(vectorNorm(a, 2, dim, true).clamp(eps));
    const bn = b.div(vectorNorm(b, 2, dim, true).clamp(eps));
    return an.mul(bn).sum(dim);
  });
}

/** pairwise_distance: ||x1 - x2 + eps||_p over the last dim (PyTorch's: eps added to each difference). */
export function pairwiseDistance(x1: Tensor, x2: Tensor, p = 2, eps = 1e-6, keepdim = false): Tensor {
  const op = 'pairwiseDistance';
  checkTensor(op, 'x1', x1);
  checkTensor(op, 'x2', x2);
  checkFloat(op, 'x1', x1);
  checkFloat(op, 'x2', x2);
  if (typeof p !== 'number' || Number.isNaN(p) || p < 0) throw new DLError('ARGUMENT', op, `p must be a number >= 0; got ${p}`, 'p = 2 is the Euclidean distance');
  const shape = broadcastShapes(op, x1.shape, x2.shape);
  if (shape.length === 0) throw new DLError('SHAPE', op, 'x1 and x2 are both 0-dim; the distance is taken over the last dim', 'give vectors, e.g. x.reshape([1])');
  return scope(() => vectorNorm(x1.sub(x2).add(eps), p, -1, keepdim));
}

/** torch.flatten (startDim defaults to 0 here; the Flatten layer's to 1). */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  return tFlatten(x, startDim, endDim);
}
