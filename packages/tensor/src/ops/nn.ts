/** Convolution and pooling over (N, C, H, W) tensors, with their gradient kernels. */
import type { AvgPool2dAttrs, Conv2dAttrs, Pair, Pool2dAttrs } from '../backend/types.js';
import { promoteTypes } from '../dtype.js';
import { dispatch, dispatchView } from '../dispatch.js';
import { fail, fmtShape } from '../errors.js';
import type { Shape } from '../layout.js';
import type { Tensor } from '../tensor.js';
import { cast } from './convert.js';
import { pad } from './shape.js';
import { asTensor, requireDType, requireFloat } from './util.js';

export type IntOrPair = number | readonly [number, number];

function pair(op: string, name: string, v: IntOrPair, min: number): Pair {
  const p: readonly number[] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) && typeof v !== 'number') fail('ARGUMENT', op, `${name} must be an integer or a pair of integers; got ${JSON.stringify(v)}`);
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min)) {
    fail('ARGUMENT', op, `${name} must be an integer >= ${min} or a pair of them; got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

function outSize(op: string, inp: number, k: number, s: number, p: number, d: number, ceil = false): number {
  const span = inp + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= inp + p) o--;
  if (o <= 0 || span < 0) {
    fail('SHAPE', op, `the input of spatial size ${inp} is too small for kernel ${k} (dilation ${d}, padding ${p}, stride ${s}): the output would be ${o}`, 'use a larger input, more padding or a smaller kernel');
  }
  return o;
}

/** With a 3-D (C, H, W) input PyTorch treats it as one unbatched image. */
function batched(op: string, x: Tensor): { x4: Tensor; unbatched: boolean } {
  if (x.ndim === 4) return { x4: x, unbatched: false };
  if (x.ndim === 3) return { x4: dispatchView('reshape', x, { shape: [1, ...x.shape] }), unbatched: true };
  return fail('SHAPE', op, `expected a 3-D (C, H, W) or 4-D (N, C, H, W) input; got shape ${fmtShape(x.shape)}`);
}
function unbatch(y: Tensor, unbatched: boolean): Tensor {
  if (!unbatched) return y;
  const out = dispatchView('reshape', y, { shape: y.shape.slice(1) });
  y.dispose();
  return out;
}

export interface Conv2dOptions {
  stride?: IntOrPair;
  /** An int, a pair, 'valid' (0) or 'same' (output size = input size; stride 1 only). */
  padding?: IntOrPair | 'same' | 'valid';
  dilation?: IntOrPair;
  groups?: number;
}

function convAttrs(op: string, opts: Conv2dOptions, padding: Pair): Conv2dAttrs {
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) fail('ARGUMENT', op, `groups must be a positive integer; got ${groups}`);
  return { stride: pair(op, 'stride', opts.stride ?? 1, 1), padding, dilation: pair(op, 'dilation', opts.dilation ?? 1, 1), groups };
}

/** 2-D convolution (cross-correlation, as PyTorch) of x (N, C, H, W) with w (O, C/groups, kh, kw). */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  asTensor(op, 'input', x);
  asTensor(op, 'weight', weight);
  if (bias != null) asTensor(op, 'bias', bias);
  requireFloat(op, x);
  const { x4, unbatched } = batched(op, x);
  if (weight.ndim !== 4) fail('SHAPE', op, `weight must be 4-D (out_channels, in_channels/groups, kh, kw); got shape ${fmtShape(weight.shape)}`);
  const [n, c] = x4.shape;
  const [o, cg, kh, kw] = weight.shape;
  const dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
  let padding: Pair;
  let input = x4;
  if (opts.padding === 'same') {
    if (pair(op, 'stride', opts.stride ?? 1, 1).some((s) => s !== 1)) fail('ARGUMENT', op, "padding='same' is not supported for strided convolutions", 'use stride 1 or explicit padding');
    const th = dilation[0] * (kh - 1);
    const tw = dilation[1] * (kw - 1);
    padding = [Math.floor(th / 2), Math.floor(tw / 2)];
    if (th % 2 === 1 || tw % 2 === 1) {
      // Even kernels: the extra row/column goes at the bottom/right (as PyTorch).
      input = pad(x4, [0, tw % 2, 0, th % 2]);
    }
  } else padding = opts.padding === 'valid' || opts.padding === undefined ? [0, 0] : pair(op, 'padding', opts.padding, 0);
  const attrs = convAttrs(op, opts, padding);
  const g = attrs.groups;
  if (c !== cg * g) fail('SHAPE', op, `expected input with ${cg * g} channels (weight ${fmtShape(weight.shape)}, groups ${g}); got ${c} channels in input of shape ${fmtShape(x.shape)}`);
  if (o % g !== 0) fail('SHAPE', op, `out_channels (${o}) must be divisible by groups (${g})`);
  if (bias != null && (bias.ndim !== 1 || bias.shape[0] !== o)) fail('SHAPE', op, `bias must have shape [${o}]; got ${fmtShape(bias.shape)}`);
  const dtype = promoteTypes(x.dtype, weight.dtype);
  const ih = input.shape[2];
  const iw = input.shape[3];
  const oh = outSize(op, ih, kh, attrs.stride[0], padding[0], attrs.dilation[0]);
  const ow = outSize(op, iw, kw, attrs.stride[1], padding[1], attrs.dilation[1]);
  const ins = [cast(input, dtype), cast(weight, dtype), ...(bias != null ? [cast(bias, dtype)] : [])];
  const y = dispatch(op, ins, attrs, [{ shape: [n, o, oh, ow], dtype }])[0];
  for (const t of new Set([...ins, input])) if (t !== x && t !== x4 && t !== weight && t !== bias) t.dispose();
  if (x4 !== x) x4.dispose();
  return unbatch(y, unbatched);
}

/** The shapes of a conv2d gradient call must be those of one convolution: x [N, C, H, W], w [O, C/g, kh, kw], gradY [N, O, oh, ow]. */
function checkConvGradShapes(op: string, gy: Shape, x: Shape, w: Shape, a: Conv2dAttrs): void {
  const bad = (what: string) => fail('SHAPE', op, `${what}; got gradOutput ${fmtShape(gy)}, input ${fmtShape(x)}, weight ${fmtShape(w)}`);
  if (gy.length !== 4 || x.length !== 4 || w.length !== 4) bad('expected 4-D gradOutput, input and weight');
  if (gy[0] !== x[0]) bad('gradOutput and input must have the same batch size');
  if (w[0] !== gy[1] || w[0] % a.groups !== 0) bad('weight must have gradOutput\'s channels as its first dim (divisible by groups)');
  if (w[1] * a.groups !== x[1]) bad(`input channels must equal weight.shape[1] * groups (${w[1]} * ${a.groups})`);
  const oh = Math.floor((x[2] + 2 * a.padding[0] - a.dilation[0] * (w[2] - 1) - 1) / a.stride[0]) + 1;
  const ow = Math.floor((x[3] + 2 * a.padding[1] - a.dilation[1] * (w[3] - 1) - 1) / a.stride[1]) + 1;
  if (gy[2] !== oh || gy[3] !== ow) bad(`gradOutput's spatial size must be the convolution's output size [${oh}, ${ow}]`);
}

/** Gradient of conv2d with respect to its input (explicit padding only). */
export function conv2dBackwardInput(gradOutput: Tensor, weight: Tensor, inputShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dBackwardInput';
  asTensor(op, 'gradOutput', gradOutput);
  asTensor(op, 'weight', weight);
  if (typeof opts.padding === 'string') fail('ARGUMENT', op, 'expects numeric padding');
  const attrs = convAttrs(op, opts, pair(op, 'padding', opts.padding ?? 0, 0));
  checkConvGradShapes(op, gradOutput.shape, inputShape, weight.shape, attrs);
  return dispatch(op, [gradOutput, weight], attrs, [{ shape: inputShape, dtype: gradOutput.dtype }])[0];
}

/** Gradient of conv2d with respect to its weight (explicit padding only). */
export function conv2dBackwardWeight(gradOutput: Tensor, input: Tensor, weightShape: Shape, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dBackwardWeight';
  asTensor(op, 'gradOutput', gradOutput);
  asTensor(op, 'input', input);
  if (typeof opts.padding === 'string') fail('ARGUMENT', op, 'expects numeric padding');
  const attrs = convAttrs(op, opts, pair(op, 'padding', opts.padding ?? 0, 0));
  checkConvGradShapes(op, gradOutput.shape, input.shape, weightShape, attrs);
  return dispatch(op, [gradOutput, input], attrs, [{ shape: weightShape, dtype: gradOutput.dtype }])[0];
}

export interface MaxPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  dilation?: IntOrPair;
  ceilMode?: boolean;
}

function poolAttrs(op: string, inShape: Shape, kernelSize: IntOrPair, opts: MaxPool2dOptions): { attrs: Pool2dAttrs; oh: number; ow: number } {
  const k = pair(op, 'kernelSize', kernelSize, 1);
  const stride = pair(op, 'stride', opts.stride ?? k, 1);
  const padding = pair(op, 'padding', opts.padding ?? 0, 0);
  const dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
  const ceilMode = opts.ceilMode ?? false;
  for (let i = 0; i < 2; i++) {
    if (padding[i] > Math.floor(k[i] / 2)) fail('ARGUMENT', op, `padding should be at most half of the kernel size; got padding ${padding[i]} for kernel ${k[i]}`);
  }
  const oh = outSize(op, inShape[inShape.length - 2], k[0], stride[0], padding[0], dilation[0], ceilMode);
  const ow = outSize(op, inShape[inShape.length - 1], k[1], stride[1], padding[1], dilation[1], ceilMode);
  return { attrs: { kernelSize: k, stride, padding, dilation, ceilMode }, oh, ow };
}

/** Max pooling; the indices (flat positions h * W + w in each input plane) come too. */
export function maxPool2dWithIndices(x: Tensor, kernelSize: IntOrPair, opts: MaxPool2dOptions = {}): { values: Tensor; indices: Tensor } {
  const op = 'maxPool2d';
  asTensor(op, 'input', x);
  requireFloat(op, x);
  const { x4, unbatched } = batched(op, x);
  const { attrs, oh, ow } = poolAttrs(op, x4.shape, kernelSize, opts);
  const shape = [x4.shape[0], x4.shape[1], oh, ow];
  const [values, indices] = dispatch(op, [x4], attrs, [{ shape, dtype: x.dtype }, { shape, dtype: 'int32' }]);
  if (x4 !== x) x4.dispose();
  return { values: unbatch(values, unbatched), indices: unbatch(indices, unbatched) };
}

export function maxPool2d(x: Tensor, kernelSize: IntOrPair, opts: MaxPool2dOptions = {}): Tensor {
  const { values, indices } = maxPool2dWithIndices(x, kernelSize, opts);
  indices.dispose();
  return values;
}

/** Gradient of max pooling: each output's gradient goes to the input cell its index names. */
export function maxPool2dBackward(gradOutput: Tensor, indices: Tensor, inputShape: Shape): Tensor {
  const op = 'maxPool2dBackward';
  asTensor(op, 'gradOutput', gradOutput);
  asTensor(op, 'indices', indices);
  requireDType(op, 'indices', indices, ['int32']);
  return dispatch(op, [gradOutput, indices], {}, [{ shape: inputShape, dtype: gradOutput.dtype }])[0];
}

export interface AvgPool2dOptions {
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

function avgAttrs(op: string, inShape: Shape, kernelSize: IntOrPair, opts: AvgPool2dOptions): { attrs: AvgPool2dAttrs; oh: number; ow: number } {
  const { attrs, oh, ow } = poolAttrs(op, inShape, kernelSize, { ...opts, dilation: 1 });
  const divisorOverride = opts.divisorOverride ?? null;
  if (divisorOverride !== null && (!Number.isInteger(divisorOverride) || divisorOverride <= 0)) fail('ARGUMENT', op, `divisorOverride must be a positive integer; got ${divisorOverride}`);
  const { dilation: _dilation, ...rest } = attrs;
  return { attrs: { ...rest, countIncludePad: opts.countIncludePad ?? true, divisorOverride }, oh, ow };
}

export function avgPool2d(x: Tensor, kernelSize: IntOrPair, opts: AvgPool2dOptions = {}): Tensor {
  const op = 'avgPool2d';
  asTensor(op, 'input', x);
  requireFloat(op, x);
  const { x4, unbatched } = batched(op, x);
  const { attrs, oh, ow } = avgAttrs(op, x4.shape, kernelSize, opts);
  const y = dispatch(op, [x4], attrs, [{ shape: [x4.shape[0], x4.shape[1], oh, ow], dtype: x.dtype }])[0];
  if (x4 !== x) x4.dispose();
  return unbatch(y, unbatched);
}

export function avgPool2dBackward(gradOutput: Tensor, inputShape: Shape, kernelSize: IntOrPair, opts: AvgPool2dOptions = {}): Tensor {
  const op = 'avgPool2dBackward';
  asTensor(op, 'gradOutput', gradOutput);
  const { attrs } = avgAttrs(op, inputShape, kernelSize, opts);
  return dispatch(op, [gradOutput], attrs, [{ shape: inputShape, dtype: gradOutput.dtype }])[0];
}

function adaptiveSize(op: string, x: Tensor, outputSize: IntOrPair | readonly [number | null, number | null]): Pair {
  const raw = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  const size = raw.map((v, i) => v ?? x.shape[x.ndim - 2 + i]);
  return pair(op, 'outputSize', size as unknown as Pair, 1);
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: IntOrPair | readonly [number | null, number | null]): Tensor {
  const op = 'adaptiveAvgPool2d';
  asTensor(op, 'input', x);
  requireFloat(op, x);
  const { x4, unbatched } = batched(op, x);
  const [oh, ow] = adaptiveSize(op, x4, outputSize);
  const y = dispatch(op, [x4], {}, [{ shape: [x4.shape[0], x4.shape[1], oh, ow], dtype: x.dtype }])[0];
  if (x4 !== x) x4.dispose();
  return unbatch(y, unbatched);
}

export function adaptiveAvgPool2dBackward(gradOutput: Tensor, inputShape: Shape): Tensor {
  asTensor('adaptiveAvgPool2dBackward', 'gradOutput', gradOutput);
  return dispatch('adaptiveAvgPool2dBackward', [gradOutput], {}, [{ shape: inputShape, dtype: gradOutput.dtype }])[0];
}

export function adaptiveMaxPool2dWithIndices(x: Tensor, outputSize: IntOrPair | readonly [number | null, number | null]): { values: Tensor; indices: Tensor } {
  const op = 'adaptiveMaxPool2d';
  asTensor(op, 'input', x);
  requireFloat(op, x);
  const { x4, unbatched } = batched(op, x);
  const [oh, ow] = adaptiveSize(op, x4, outputSize);
  const shape = [x4.shape[0], x4.shape[1], oh, ow];
  const [values, indices] = dispatch(op, [x4], {}, [{ shape, dtype: x.dtype }, { shape, dtype: 'int32' }]);
  if (x4 !== x) x4.dispose();
  return { values: unbatch(values, unbatched), indices: unbatch(indices, unbatched) };
}

export function adaptiveMaxPool2d(x: Tensor, outputSize: IntOrPair | readonly [number | null, number | null]): Tensor {
  const { values, indices } = adaptiveMaxPool2dWithIndices(x, outputSize);
  indices.dispose();
  return values;
}

/**
 * Layer normalization over the last `normalizedDims` dims of x, in one kernel: each row of those
 * dims becomes (x - mean) / sqrt(var + eps) (biased variance), times weight, plus bias (either
 * may be null; both have the normalized dims' shape). F.layerNorm of @dl/nn is built on it; its
 * gradient is one kernel too (layerNormBackward).
 */
export function layerNorm(x: Tensor, normalizedDims: number, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const op = 'layerNorm';
  asTensor(op, 'input', x);
  requireFloat(op, x);
  if (!Number.isInteger(normalizedDims) || normalizedDims < 1 || normalizedDims > x.ndim) {
    fail('ARGUMENT', op, `normalizedDims must be an integer in [1, ${x.ndim}] for an input of shape ${fmtShape(x.shape)}; got ${normalizedDims}`);
  }
  if (typeof eps !== 'number' || !(eps >= 0)) fail('ARGUMENT', op, `eps must be a number >= 0; got ${eps}`);
  const trailing = x.shape.slice(x.ndim - normalizedDims);
  const C = trailing.reduce((a, s) => a * s, 1);
  const R = x.shape.slice(0, x.ndim - normalizedDims).reduce((a, s) => a * s, 1);
  const params: Tensor[] = [];
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t === null) continue;
    asTensor(op, name, t);
    if (t.ndim !== trailing.length || t.shape.some((s, i) => s !== trailing[i])) {
      fail('SHAPE', op, `${name} must have the normalized dims' shape ${fmtShape(trailing)}; got ${fmtShape(t.shape)}`);
    }
    requireDType(op, name, t, [x.dtype]);
    const tc = contiguousOf(t);
    params.push(dispatchView('reshape', tc, { shape: [C] }));
    if (tc !== t) tc.dispose(); // the view keeps the copy's storage
  }
  const xc = contiguousOf(x);
  const [y, mean, rstd] = dispatch(op, [xc, ...params], { eps, weight: weight !== null, bias: bias !== null }, [
    { shape: x.shape, dtype: x.dtype },
    { shape: [R], dtype: x.dtype },
    { shape: [R], dtype: x.dtype },
  ]);
  // The gradient rule keeps what it needs (its own views of x, the parameters, mean and rstd).
  for (const t of [mean, rstd, ...params]) t.dispose();
  if (xc !== x) xc.dispose();
  return y;
}

/**
 * The gradients of layerNorm from the gradient of its output gy, its input x, the row means and
 * reciprocal standard deviations it computed, and its weight (or null): [gx, gw, gb], gw and gb
 * flat (C). What layerNorm's gradient rule runs.
 */
export function layerNormBackward(gy: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, weight: Tensor | null): [Tensor, Tensor, Tensor] {
  const op = 'layerNormBackward';
  for (const [name, t] of [['gy', gy], ['x', x], ['mean', mean], ['rstd', rstd]] as const) asTensor(op, name, t);
  const R = mean.numel;
  const C = R === 0 ? 0 : x.numel / R;
  const ins = [gy, x, mean, rstd, ...(weight ? [weight] : [])].map((t) => contiguousOf(t));
  const [gx, gw, gb] = dispatch(op, ins, { weight: weight !== null }, [
    { shape: x.shape, dtype: x.dtype },
    { shape: [C], dtype: x.dtype },
    { shape: [C], dtype: x.dtype },
  ]);
  [gy, x, mean, rstd, ...(weight ? [weight] : [])].forEach((t, i) => {
    if (ins[i] !== t) ins[i].dispose();
  });
  return [gx, gw, gb];
}

/**
 * Batch normalization with the batch's statistics (training mode) over dim 1 of x (N, C, *), in
 * one kernel: [y, mean, var], where mean and var (C) are each channel's mean and biased variance
 * over its N * (product of the dims after 1) numbers and y = (x - mean) / sqrt(var + eps) * weight
 * + bias (weight and bias (C) may be null). F.batchNorm of @dl/nn is built on it and updates the
 * running statistics from mean and var. Its gradient is one kernel too (batchNormBackward);
 * gradients reaching mean and var flow back to x as well.
 */
export function batchNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): [Tensor, Tensor, Tensor] {
  const op = 'batchNorm';
  asTensor(op, 'input', x);
  requireFloat(op, x);
  if (x.ndim < 2) fail('SHAPE', op, `expected an input of shape (N, C, *) with at least 2 dims; got ${fmtShape(x.shape)}`);
  if (typeof eps !== 'number' || !(eps >= 0)) fail('ARGUMENT', op, `eps must be a number >= 0; got ${eps}`);
  const C = x.shape[1];
  if (x.numel === 0 && C > 0) {
    fail('VALUE', op, `expected at least one value per channel; got an input of shape ${fmtShape(x.shape)}`, 'pass a batch with at least one sample');
  }
  const params: Tensor[] = [];
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t === null) continue;
    asTensor(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== C) fail('SHAPE', op, `${name} must have shape [${C}] (the channels of input ${fmtShape(x.shape)}); got ${fmtShape(t.shape)}`);
    requireDType(op, name, t, [x.dtype]);
    params.push(contiguousOf(t));
  }
  const xc = contiguousOf(x);
  const outs = dispatch(op, [xc, ...params], { eps, weight: weight !== null, bias: bias !== null }, [
    { shape: x.shape, dtype: x.dtype },
    { shape: [C], dtype: x.dtype },
    { shape: [C], dtype: x.dtype },
  ]);
  for (const t of [xc, ...params]) if (t !== x && t !== weight && t !== bias) t.dispose();
  return outs as [Tensor, Tensor, Tensor];
}

/**
 * The gradients of batchNorm (training mode) from the gradient of its output gy, its input x, the
 * channel means and biased variances it computed, its weight (or null) and eps: [gx, gw, gb], gw
 * and gb of shape (C). What batchNorm's gradient rule runs.
 */
export function batchNormBackward(gy: Tensor, x: Tensor, mean: Tensor, variance: Tensor, weight: Tensor | null, eps: number): [Tensor, Tensor, Tensor] {
  const op = 'batchNormBackward';
  for (const [name, t] of [['gy', gy], ['x', x], ['mean', mean], ['var', variance]] as const) asTensor(op, name, t);
  requireFloat(op, x);
  if (x.ndim < 2) fail('SHAPE', op, `expected x of shape (N, C, *) with at least 2 dims; got ${fmtShape(x.shape)}`);
  const C = x.shape[1];
  const originals = [gy, x, mean, variance, ...(weight ? [weight] : [])];
  for (const [name, t] of [['gy', gy], ['mean', mean], ['var', variance], ['weight', weight]] as const) {
    if (t === null) continue;
    const expected = name === 'gy' ? x.shape : [C];
    if (t.ndim !== expected.length || t.shape.some((s, i) => s !== expected[i])) fail('SHAPE', op, `${name} must have shape ${fmtShape(expected)}; got ${fmtShape(t.shape)}`);
    requireDType(op, name, t, [x.dtype]);
  }
  const ins = originals.map((t) => contiguousOf(t));
  const [gx, gw, gb] = dispatch(op, ins, { eps, weight: weight !== null }, [
    { shape: x.shape, dtype: x.dtype },
    { shape: [C], dtype: x.dtype },
    { shape: [C], dtype: x.dtype },
  ]);
  originals.forEach((t, i) => {
    if (ins[i] !== t) ins[i].dispose();
  });
  return [gx, gw, gb];
}

function contiguousOf(t: Tensor): Tensor {
  return t.isContiguous() ? t : t.contiguous();
}
