/** Conv1d, Conv2d and ConvTranspose2d (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose2d). */
import { DLError, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import * as init from '../init.js';
import { calculateFanInAndFanOut } from '../init.js';
import { fmt, fmtShape, pair, positiveInt } from '../internal.js';
import type { FactoryOptions, IntOrPair } from '../internal.js';
import { Module } from '../module.js';
import { type Parameter, ownParameter } from '../parameter.js';

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

/** PyTorch's reset_parameters of its convolutions: kaiming_uniform(a = sqrt(5)), bias U(+-1/sqrt(fanIn)). */
function resetConvParameters(weight: Parameter, bias: Parameter | null): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    init.uniform_(bias, -bound, bound);
  }
}

function checkGroups(op: string, inChannels: number, outChannels: number, groups: number): void {
  if (inChannels % groups !== 0) throw new DLError('ARGUMENT', op, `inChannels (${inChannels}) must be divisible by groups (${groups})`);
  if (outChannels % groups !== 0) throw new DLError('ARGUMENT', op, `outChannels (${outChannels}) must be divisible by groups (${groups})`);
}

/** Conv1d's and Conv2d's checks of paddingMode and of padding='same' (stride 1 only); returns the mode. */
function checkPadding(op: string, padding: unknown, stride: readonly number[], paddingMode: PaddingMode): PaddingMode {
  if (!['zeros', 'reflect', 'replicate', 'circular'].includes(paddingMode)) {
    throw new DLError('ARGUMENT', op, `paddingMode must be 'zeros', 'reflect', 'replicate' or 'circular'; got ${JSON.stringify(paddingMode)}`);
  }
  if (padding === 'same' && stride.some((s) => s !== 1)) {
    throw new DLError('ARGUMENT', op, "padding='same' is not supported for strided convolutions", 'use stride 1 or explicit padding');
  }
  return paddingMode;
}

/**
 * The padding per spatial dim as F.pad takes it: (before, after) pairs from the last dim back;
 * 'same' puts the odd one after (as PyTorch).
 */
function borderPads(padding: readonly number[] | 'same' | 'valid', kernelSize: readonly number[], dilation: readonly number[]): number[] {
  const pads: number[] = [];
  for (let i = kernelSize.length - 1; i >= 0; i--) {
    if (padding === 'valid') pads.push(0, 0);
    else if (padding === 'same') {
      const total = dilation[i] * (kernelSize[i] - 1);
      const before = Math.floor(total / 2);
      pads.push(before, total - before);
    } else pads.push(padding[i], padding[i]);
  }
  return pads;
}

/**
 * A convolution with PyTorch's padding modes: 'zeros' hands `padding` to `conv`; the others pad
 * the border by `pads` (see borderPads) first, then convolve unpadded.
 */
function convolvePadded<P>(input: Tensor, mode: PaddingMode, padding: P, pads: number[], conv: (x: Tensor, padding: P | 0) => Tensor): Tensor {
  if (mode === 'zeros') return conv(input, padding);
  const padded = F.pad(input, pads, mode);
  const y = conv(padded, 0);
  if (padded !== input) padded.dispose();
  return y;
}

/** The repr of Conv1d and Conv2d: the sizes, then the options that differ from their defaults (as PyTorch's). */
function convRepr(c: Conv1d | Conv2d): string {
  const all = (v: number | readonly number[], d: number) => (typeof v === 'number' ? [v] : v).every((x) => x === d);
  let s = `${c.inChannels}, ${c.outChannels}, kernelSize=${fmt(c.kernelSize)}, stride=${fmt(c.stride)}`;
  if (typeof c.padding === 'string' || !all(c.padding, 0)) s += `, padding=${fmt(c.padding)}`;
  if (!all(c.dilation, 1)) s += `, dilation=${fmt(c.dilation)}`;
  if (c.groups !== 1) s += `, groups=${c.groups}`;
  if (c.bias === null) s += ', bias=false';
  if (c.paddingMode !== 'zeros') s += `, paddingMode=${fmt(c.paddingMode)}`;
  return s;
}

export interface Conv1dOptions extends F.Conv1dOptions, FactoryOptions {
  bias?: boolean;
  /** How the border is padded (default 'zeros'). */
  paddingMode?: PaddingMode;
}

/**
 * Conv1d(inChannels, outChannels, kernelSize, { stride = 1, padding = 0, dilation = 1,
 * groups = 1, bias = true, paddingMode = 'zeros' }) on (N, C, L) or (C, L) inputs (see
 * F.conv1d). weight [outChannels, inChannels / groups, kernelSize] and bias start as PyTorch's:
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn = inChannels / groups * kernelSize. The sizes are plain
 * numbers (PyTorch also takes 1-tuples).
 */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | 'same' | 'valid';
  readonly dilation: number;
  readonly groups: number;
  readonly paddingMode: PaddingMode;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: Conv1dOptions = {}) {
    super();
    const op = 'Conv1d';
    this.inChannels = positiveInt(op, 'inChannels', inChannels);
    this.outChannels = positiveInt(op, 'outChannels', outChannels);
    this.kernelSize = positiveInt(op, 'kernelSize', kernelSize);
    this.stride = positiveInt(op, 'stride', opts.stride ?? 1);
    const padding = opts.padding ?? 0;
    this.padding = padding === 'same' || padding === 'valid' ? padding : positiveInt(op, 'padding', padding, 0);
    this.dilation = positiveInt(op, 'dilation', opts.dilation ?? 1);
    this.groups = positiveInt(op, 'groups', opts.groups ?? 1);
    this.paddingMode = checkPadding(op, this.padding, [this.stride], opts.paddingMode ?? 'zeros');
    checkGroups(op, inChannels, outChannels, this.groups);
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = ownParameter(zeros([outChannels, inChannels / this.groups, this.kernelSize], factory));
    this.bias = (opts.bias ?? true) ? ownParameter(zeros([outChannels], factory)) : null;
    this.resetParameters();
  }

  /** PyTorch's default initialisation (see the class comment). */
  resetParameters(): void {
    resetConvParameters(this.weight, this.bias);
  }

  override forward(input: Tensor): Tensor {
    const opts = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    const pads = borderPads(typeof this.padding === 'number' ? [this.padding] : this.padding, [this.kernelSize], [this.dilation]);
    return convolvePadded(input, this.paddingMode, this.padding, pads, (x, padding) => F.conv1d(x, this.weight, this.bias, { ...opts, padding }));
  }

  override extraRepr(): string {
    return convRepr(this);
  }
}

export interface Conv2dOptions extends FactoryOptions {
  stride?: IntOrPair;
  /** An int, a pair, 'valid' (no padding) or 'same' (output size = input size; stride 1 only). */
  padding?: IntOrPair | 'same' | 'valid';
  dilation?: IntOrPair;
  groups?: number;
  bias?: boolean;
  /** How the border is padded (default 'zeros'). */
  paddingMode?: PaddingMode;
}

/**
 * Conv2d(inChannels, outChannels, kernelSize, { stride = 1, padding = 0,
 * dilation = 1, groups = 1, bias = true, paddingMode = 'zeros' }) on (N, C, H, W)
 * or (C, H, W) inputs. weight [outChannels, inChannels / groups, kh, kw] and
 * bias start as U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn = inChannels / groups * kh * kw.
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'same' | 'valid';
  readonly dilation: [number, number];
  readonly groups: number;
  readonly paddingMode: PaddingMode;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: IntOrPair, opts: Conv2dOptions = {}) {
    super();
    const op = 'Conv2d';
    this.inChannels = positiveInt(op, 'inChannels', inChannels);
    this.outChannels = positiveInt(op, 'outChannels', outChannels);
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = pair(op, 'stride', opts.stride ?? 1, 1);
    const padding = opts.padding ?? 0;
    this.padding = padding === 'same' || padding === 'valid' ? padding : pair(op, 'padding', padding, 0);
    this.dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
    this.groups = positiveInt(op, 'groups', opts.groups ?? 1);
    this.paddingMode = checkPadding(op, this.padding, this.stride, opts.paddingMode ?? 'zeros');
    checkGroups(op, inChannels, outChannels, this.groups);
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = ownParameter(zeros([outChannels, inChannels / this.groups, ...this.kernelSize], factory));
    this.bias = (opts.bias ?? true) ? ownParameter(zeros([outChannels], factory)) : null;
    this.resetParameters();
  }

  /** PyTorch's default initialisation (see the class comment). */
  resetParameters(): void {
    resetConvParameters(this.weight, this.bias);
  }

  override forward(input: Tensor): Tensor {
    const opts = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    const pads = borderPads(this.padding, this.kernelSize, this.dilation);
    return convolvePadded(input, this.paddingMode, this.padding, pads, (x, padding) => F.conv2d(x, this.weight, this.bias, { ...opts, padding }));
  }

  override extraRepr(): string {
    return convRepr(this);
  }
}

export interface ConvTranspose2dOptions extends FactoryOptions {
  stride?: IntOrPair;
  padding?: IntOrPair;
  /** Added to the bottom and right of the output (each < its stride). */
  outputPadding?: IntOrPair;
  dilation?: IntOrPair;
  groups?: number;
  bias?: boolean;
}

/**
 * ConvTranspose2d(inChannels, outChannels, kernelSize, { stride = 1, padding = 0,
 * outputPadding = 0, groups = 1, bias = true, dilation = 1 }) on (N, C, H, W) or (C, H, W)
 * inputs (see F.convTranspose2d). weight [inChannels, outChannels / groups, kh, kw] and bias
 * start as PyTorch's: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = outChannels / groups * kh * kw
 * (the weight's dim 1, as PyTorch computes it).
 */
export class ConvTranspose2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: IntOrPair, opts: ConvTranspose2dOptions = {}) {
    super();
    const op = 'ConvTranspose2d';
    this.inChannels = positiveInt(op, 'inChannels', inChannels);
    this.outChannels = positiveInt(op, 'outChannels', outChannels);
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = pair(op, 'stride', opts.stride ?? 1, 1);
    this.padding = pair(op, 'padding', opts.padding ?? 0, 0);
    this.outputPadding = pair(op, 'outputPadding', opts.outputPadding ?? 0, 0);
    this.dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
    this.groups = positiveInt(op, 'groups', opts.groups ?? 1);
    checkGroups(op, inChannels, outChannels, this.groups);
    if (this.outputPadding.some((p, i) => p >= this.stride[i])) {
      throw new DLError('ARGUMENT', op, `outputPadding ${fmt(this.outputPadding)} must be smaller than the stride ${fmt(this.stride)}`);
    }
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weight = ownParameter(zeros([inChannels, outChannels / this.groups, ...this.kernelSize], factory));
    this.bias = (opts.bias ?? true) ? ownParameter(zeros([outChannels], factory)) : null;
    this.resetParameters();
  }

  /** PyTorch's default initialisation (see the class comment). */
  resetParameters(): void {
    resetConvParameters(this.weight, this.bias);
  }

  /**
   * outputSize ([H, W], or the whole [N, C, H, W] / [C, H, W] shape) picks the output size among
   * those a strided convolution could have come from, as PyTorch's output_size: it sets the
   * output padding for this call (otherwise outputPadding).
   */
  override forward(input: Tensor, outputSize?: readonly number[]): Tensor {
    const outputPadding = outputSize === undefined ? this.outputPadding : this.#paddingFor(input, outputSize);
    return F.convTranspose2d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, outputPadding, dilation: this.dilation, groups: this.groups });
  }

  #paddingFor(input: Tensor, outputSize: readonly number[]): [number, number] {
    const op = 'ConvTranspose2d';
    const hw = Array.isArray(outputSize) && (outputSize.length === 2 || outputSize.length === input.ndim) ? outputSize.slice(-2) : null;
    if (!hw?.every((v) => Number.isInteger(v))) {
      throw new DLError('ARGUMENT', op, `outputSize must be [H, W] or the full output shape (${input.ndim} numbers); got ${JSON.stringify(outputSize)}`);
    }
    const pad = [0, 1].map((i) => {
      const smallest = (input.shape[input.ndim - 2 + i] - 1) * this.stride[i] - 2 * this.padding[i] + this.dilation[i] * (this.kernelSize[i] - 1) + 1;
      const largest = smallest + this.stride[i] - 1;
      if (hw[i] < smallest || hw[i] > largest) {
        throw new DLError('VALUE', op, `requested an output ${i === 0 ? 'height' : 'width'} of ${hw[i]}, but for an input of shape ${fmtShape(input.shape)} it can only be ${smallest === largest ? smallest : `${smallest} to ${largest}`}`, 'pass a size in that range, or change stride, padding or the input size');
      }
      return hw[i] - smallest;
    });
    return [pad[0], pad[1]];
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${fmt(this.kernelSize)}, stride=${fmt(this.stride)}`;
    if (this.padding.some((p) => p !== 0)) s += `, padding=${fmt(this.padding)}`;
    if (this.outputPadding.some((p) => p !== 0)) s += `, outputPadding=${fmt(this.outputPadding)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${fmt(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ', bias=false';
    return s;
  }
}
