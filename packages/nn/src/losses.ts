/**
 * Loss functions (functional forms, also exported from `functional`) and the
 * loss modules. Each follows the formula in PyTorch's documentation and is
 * built from differentiable @dl/tensor ops (logSoftmax, gather, ...).
 *
 * Reductions: 'mean' (default), 'sum' or 'none' (the per-element losses).
 */
import { DLError, type Tensor, crossEntropy as tCrossEntropy, isFloating, scope, where } from '@dl/tensor';
import { Module } from './module.js';
import { checkFloat, checkReduction, checkTensor, fmtShape, probability } from './internal.js';
import type { Reduction } from './internal.js';

export type { Reduction } from './internal.js';

export interface ReductionOptions {
  reduction?: Reduction;
}

export interface NLLOptions extends ReductionOptions {
  /** A manual rescaling weight per class (1-D, C entries). */
  weight?: Tensor | null;
  /** Targets equal to this do not contribute to the loss or its normaliser (default -100). */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends NLLOptions {
  /** In [0, 1]: the target becomes (1 - s) * target + s / C (default 0). */
  labelSmoothing?: number;
}

export interface BCEOptions extends ReductionOptions {
  /** A rescaling weight broadcast to the input's shape. */
  weight?: Tensor | null;
}

export interface BCEWithLogitsOptions extends BCEOptions {
  /** The weight of positive examples, broadcast along the last (class) dim. */
  posWeight?: Tensor | null;
}

export interface SmoothL1Options extends ReductionOptions {
  /** Where the loss turns from quadratic to linear (default 1; 0 gives the L1 loss). */
  beta?: number;
}

export interface HuberOptions extends ReductionOptions {
  /** Where the loss turns from quadratic to linear (default 1; must be > 0). */
  delta?: number;
}

/** klDiv's reductions: PyTorch's, and 'batchmean' (the sum over the batch size). */
export type KLDivReduction = Reduction | 'batchmean';

export interface KLDivOptions {
  /** 'mean' (the default, as PyTorch's; see klDiv), 'batchmean', 'sum' or 'none'. */
  reduction?: KLDivReduction;
  /** The target holds log-probabilities rather than probabilities (default false). */
  logTarget?: boolean;
}

function reduce(l: Tensor, reduction: Reduction): Tensor {
  return reduction === 'none' ? l : reduction === 'sum' ? l.sum() : l.mean();
}

/** The number of classes, read from an (N, C, d1, ...) or unbatched (C) input. */
function classesOf(op: string, input: Tensor): number {
  checkTensor(op, 'input', input);
  checkFloat(op, 'input', input);
  if (input.ndim === 0) throw new DLError('SHAPE', op, 'input must be (C), (N, C) or (N, C, d1, ...); got a 0-dim tensor');
  return input.ndim === 1 ? input.shape[0] : input.shape[1];
}

function checkWeight(op: string, weight: Tensor | null | undefined, c: number): void {
  if (weight == null) return;
  checkTensor(op, 'weight', weight);
  checkFloat(op, 'weight', weight);
  if (weight.ndim !== 1 || weight.shape[0] !== c) throw new DLError('SHAPE', op, `weight must be a 1-D tensor with one entry per class (${c}); got shape ${fmtShape(weight.shape)}`);
}

function checkIgnoreIndex(op: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new DLError('ARGUMENT', op, `ignoreIndex must be an integer; got ${String(v)}`);
  return v;
}

/** Class-index targets: int32, of the input's shape without the class dim (dim 1); () for an unbatched input. */
function checkClassTargetShape(op: string, input: Tensor, target: Tensor): void {
  if (target.dtype !== 'int32') {
    throw new DLError('DTYPE', op, `class-index targets must be int32; got ${target.dtype}`, isFloating(target.dtype) ? undefined : "cast with target.to('int32')");
  }
  const expected = input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
  if (target.ndim !== expected.length || target.shape.some((s, i) => s !== expected[i])) {
    throw new DLError('SHAPE', op, `expected a target of shape ${fmtShape(expected)} for an input of shape ${fmtShape(input.shape)}; got target shape ${fmtShape(target.shape)}`, 'class-index targets have the input\'s shape without the class dim (dim 1)');
  }
}

/** As checkClassTargetShape, and every value in [0, C) or equal to ignoreIndex. */
function checkClassTarget(op: string, input: Tensor, target: Tensor, c: number, ignoreIndex: number): void {
  checkClassTargetShape(op, input, target);
  const data = target.dataSync();
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== ignoreIndex && (v < 0 || v >= c)) {
      throw new DLError(
        'VALUE',
        op,
        `target ${v} is out of bounds: there are ${c} classes, so class indices must lie in [0, ${c - 1}] (or equal ignoreIndex ${ignoreIndex}); got ${v} at flat position ${i} of the target`,
      );
    }
  }
}

/** Per-element weighted negative log-likelihood on batched (N, C, ...) log-probabilities. */
function nllCore(logp: Tensor, target: Tensor, weight: Tensor | null | undefined, ignoreIndex: number): { loss: Tensor; weightSum: Tensor } {
  const keptMask = target.ne(ignoreIndex);
  // Ignored targets point at class 0 for the gather; their weight is 0.
  const safe = where(keptMask, target, 0);
  const picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1);
  const kept = keptMask.to(logp.dtype);
  const w = weight ? kept.mul(weight.indexSelect(0, safe.reshape([-1])).reshape(target.shape as number[])) : kept;
  return { loss: picked.mul(w).neg(), weightSum: w.sum() };
}

/**
 * nll_loss on log-probabilities (N, C, d1, ...) or (C) with int32 class-index
 * targets: l_n = -w[y_n] x[n, y_n] (0 where y_n = ignoreIndex); 'mean' divides
 * the sum by the sum of w[y_n] over the items not ignored.
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NLLOptions = {}): Tensor {
  const op = 'nllLoss';
  const c = classesOf(op, input);
  checkTensor(op, 'target', target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const ignoreIndex = checkIgnoreIndex(op, opts.ignoreIndex ?? -100);
  checkWeight(op, opts.weight, c);
  checkClassTarget(op, input, target, c, ignoreIndex);
  const unbatched = input.ndim === 1;
  return scope(() => {
    const x = unbatched ? input.unsqueeze(0) : input;
    const t = unbatched ? target.unsqueeze(0) : target;
    const { loss, weightSum } = nllCore(x, t, opts.weight, ignoreIndex);
    if (reduction === 'none') return unbatched ? loss.squeeze(0) : loss;
    return reduction === 'sum' ? loss.sum() : loss.sum().div(weightSum);
  });
}

/**
 * cross_entropy of unnormalised logits (N, C, d1, ...) or (C) against either
 *  - int32 class indices of shape (N, d1, ...): with p = logSoftmax(input, 1),
 *    l_n = (1 - s) (-w[y_n] p[n, y_n]) + (s / C) sum_c (-w[c] p[n, c]), zero where
 *    y_n = ignoreIndex; 'mean' divides the sum by sum_n w[y_n] over items not ignored;
 *  - class probabilities of the input's shape (floating): with q = (1 - s) y + s / C,
 *    l_n = -sum_c w[c] q[n, c] p[n, c]; 'mean' divides by the number of items (N d1 ...).
 * (s = labelSmoothing, w = weight or all ones.) Class indices run through the fused
 * crossEntropy op of @dl/tensor (one kernel forward, one backward).
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const c = classesOf(op, input);
  checkTensor(op, 'target', target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const ignoreIndex = checkIgnoreIndex(op, opts.ignoreIndex ?? -100);
  const s = probability(op, 'labelSmoothing', opts.labelSmoothing ?? 0);
  const weight = opts.weight ?? null;
  checkWeight(op, weight, c);
  if (!isFloating(target.dtype)) {
    // The target's values are checked by the fused op (same message).
    checkClassTargetShape(op, input, target);
    return classIndexCrossEntropy(input, target, c, weight, ignoreIndex, s, reduction);
  }
  if (target.ndim !== input.ndim || target.shape.some((d, i) => d !== input.shape[i])) {
    throw new DLError(
      'SHAPE',
      op,
      `class-probability targets (floating point) must have the input's shape ${fmtShape(input.shape)}; got ${target.dtype} target of shape ${fmtShape(target.shape)}`,
      "for class indices use an int32 target: target.to('int32')",
    );
  }
  const unbatched = input.ndim === 1;
  return scope(() => {
    const x = unbatched ? input.unsqueeze(0) : input;
    const t = unbatched ? target.unsqueeze(0) : target;
    const logp = x.logSoftmax(1);
    const wshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const weighted = weight ? logp.mul(weight.reshape(wshape)) : logp;
    const q = s > 0 ? t.mul(1 - s).add(s / c) : t;
    const loss = weighted.mul(q).sum(1).neg();
    if (reduction === 'none') return unbatched ? loss.squeeze(0) : loss;
    return reduction === 'sum' ? loss.sum() : loss.mean();
  });
}

/**
 * Class-index cross-entropy through the fused per-row op: the input as rows of C logits
 * ((C) is one row; (N, C, d1, ...) moves the class dim last, giving N d1 ... rows in the
 * target's order), then the reduction.
 */
function classIndexCrossEntropy(input: Tensor, target: Tensor, c: number, weight: Tensor | null, ignoreIndex: number, s: number, reduction: Reduction): Tensor {
  return scope(() => {
    const nd = input.ndim;
    const x = nd === 1 ? input.unsqueeze(0) : nd === 2 ? input : input.permute([0, ...Array.from({ length: nd - 2 }, (_, i) => i + 2), 1]).reshape([-1, c]);
    const t = target.reshape([-1]);
    const w = weight?.to(input.dtype) ?? null;
    const loss = tCrossEntropy(x, t, { weight: w, ignoreIndex, labelSmoothing: s });
    if (reduction === 'none') return loss.reshape(target.shape as number[]);
    if (reduction === 'sum') return loss.sum();
    // 'mean': over the weights of the targets not ignored (their count without a weight).
    const kept = t.ne(ignoreIndex);
    const total = w ? where(kept, w.indexSelect(0, where(kept, t, 0)), 0).sum() : kept.to(loss.dtype).sum();
    return loss.sum().div(total);
  });
}

function checkSameShape(op: string, input: Tensor, target: Tensor): void {
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  checkFloat(op, 'input', input);
  checkFloat(op, 'target', target);
  if (input.ndim !== target.ndim || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new DLError(
      'SHAPE',
      op,
      `target shape ${fmtShape(target.shape)} must equal input shape ${fmtShape(input.shape)}`,
      'PyTorch would broadcast (with a warning), which is almost always a bug (e.g. [N, 1] against [N]); reshape one of them',
    );
  }
}

/** mse_loss: (input - target)^2, reduced. Shapes must be equal. */
export function mseLoss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  const op = 'mseLoss';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  return scope(() => {
    const d = input.sub(target);
    return reduce(d.mul(d), reduction);
  });
}

/** l1_loss: |input - target|, reduced. Shapes must be equal. */
export function l1Loss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  const op = 'l1Loss';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  return scope(() => reduce(input.sub(target).abs(), reduction));
}

/** A threshold option: a number >= 0 (> 0 where `positive`); Infinity is allowed, as PyTorch. */
function threshold(op: string, name: string, v: unknown, positive: boolean, hint?: string): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (positive && v === 0)) {
    throw new DLError('ARGUMENT', op, `${name} must be a number ${positive ? '> 0' : '>= 0'}; got ${typeof v === 'number' ? v : JSON.stringify(v)}`, hint);
  }
  return v;
}

const checkBeta = (op: string, v: unknown) => threshold(op, 'beta', v, false, 'beta = 0 is the L1 loss');
const checkDelta = (op: string, v: unknown) => threshold(op, 'delta', v, true, 'for delta -> 0, huberLoss / delta tends to the L1 loss: use l1Loss');

/**
 * smooth_l1_loss: with d = input - target, 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta.
 * Its gradient, d / beta inside and sign(d) outside, is +-1 at |d| = beta from both sides (as
 * PyTorch's), and 0 at d = 0. beta = 0 is l1Loss, gradient 0 at d = 0 included, as PyTorch since
 * pytorch/pytorch#97022 (1.13 gave -1 there, to the input and the target alike). Shapes must be equal.
 */
export function smoothL1Loss(input: Tensor, target: Tensor, opts: SmoothL1Options = {}): Tensor {
  const op = 'smoothL1Loss';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const beta = checkBeta(op, opts.beta ?? 1);
  if (beta === 0) return l1Loss(input, target, { reduction });
  return scope(() => {
    const d = input.sub(target);
    const a = d.abs();
    return reduce(where(a.lt(beta), d.mul(d).mul(0.5).div(beta), a.sub(0.5 * beta)), reduction);
  });
}

/**
 * huber_loss: with d = input - target, 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta):
 * delta times smoothL1Loss with beta = delta. Its gradient, d inside and delta sign(d) outside,
 * is +-delta at |d| = delta from both sides (as PyTorch's). Shapes must be equal.
 */
export function huberLoss(input: Tensor, target: Tensor, opts: HuberOptions = {}): Tensor {
  const op = 'huberLoss';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const delta = checkDelta(op, opts.delta ?? 1);
  return scope(() => {
    const d = input.sub(target);
    const a = d.abs();
    return reduce(where(a.lt(delta), d.mul(d).mul(0.5), a.sub(0.5 * delta).mul(delta)), reduction);
  });
}

function checkKLDivOptions(op: string, opts: KLDivOptions): { reduction: KLDivReduction; logTarget: boolean } {
  const reduction = opts.reduction ?? 'mean';
  if (!['mean', 'batchmean', 'sum', 'none'].includes(reduction)) {
    throw new DLError('ARGUMENT', op, `reduction must be 'mean', 'batchmean', 'sum' or 'none'; got ${JSON.stringify(reduction)}`);
  }
  const logTarget = opts.logTarget ?? false;
  if (typeof logTarget !== 'boolean') throw new DLError('ARGUMENT', op, `logTarget must be true or false; got ${JSON.stringify(logTarget)}`);
  return { reduction, logTarget };
}

/**
 * kl_div(input, target): the input holds log-probabilities log q, the target probabilities p
 * (log-probabilities with logTarget). Pointwise p (log p - log q), computed as PyTorch's
 * xlogy(p, p) - p input, which is 0 where p = 0 (0 log 0 = 0, so no NaN; the input's gradient
 * there is 0 too); with logTarget, exp(t) (t - input). Shapes must be equal.
 *
 * The reductions give PyTorch's values: 'batchmean' (the sum over input.shape[0]) is the
 * mathematically right one, the KL divergence averaged over the batch; 'mean', the default as in
 * PyTorch (which warns about it), divides by every element, so by the support size too, and is
 * not the KL divergence; 'sum'; 'none'.
 */
export function klDiv(input: Tensor, target: Tensor, opts: KLDivOptions = {}): Tensor {
  const op = 'klDiv';
  checkSameShape(op, input, target);
  const { reduction, logTarget } = checkKLDivOptions(op, opts);
  return scope(() => {
    let l: Tensor;
    if (logTarget) l = target.exp().mul(target.sub(input));
    else {
      const zero = target.eq(0);
      // log 1 in place of log 0, so that the unused branch has no 0 * -inf gradient.
      l = where(zero, 0, target.mul(where(zero, 1, target).log())).sub(target.mul(input));
    }
    if (reduction !== 'batchmean') return reduce(l, reduction);
    return input.ndim === 0 ? l.sum() : l.sum().div(input.shape[0]);
  });
}

/** log(1 + exp(z)) without overflow: max(z, 0) + log(1 + exp(-|z|)); its derivative at 0 is 1/2. */
function softplus(z: Tensor): Tensor {
  return z.maximum(0).add(z.abs().neg().exp().add(1).log());
}

/**
 * binary_cross_entropy_with_logits: with pw = posWeight (1 if none) and w = weight (1 if none),
 * l = -w [pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]
 *   =  w [(1 - y) x + (1 + (pw - 1) y) softplus(-x)], computed stably.
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts: BCEWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const { weight = null, posWeight = null } = opts;
  if (weight != null) checkTensor(op, 'weight', weight);
  if (posWeight != null) {
    checkTensor(op, 'posWeight', posWeight);
    const last = input.shape[input.ndim - 1];
    if (posWeight.ndim > 1 || (posWeight.ndim === 1 && posWeight.shape[0] !== last && posWeight.shape[0] !== 1)) {
      throw new DLError('SHAPE', op, `posWeight must be a scalar or a 1-D tensor with one entry per class (the last dim of the input, ${last}); got shape ${fmtShape(posWeight.shape)}`);
    }
  }
  return scope(() => {
    const sp = softplus(input.neg());
    const negPart = input.mul(target.neg().add(1));
    const logWeight = posWeight != null ? posWeight.sub(1).mul(target).add(1) : null;
    let l = negPart.add(logWeight ? logWeight.mul(sp) : sp);
    if (weight != null) l = l.mul(weight);
    return reduce(l, reduction);
  });
}

/** log x clamped below at -100 (as PyTorch's BCE), with a finite zero gradient where x = 0. */
function clampedLog(x: Tensor): Tensor {
  const pos = x.gt(0);
  return where(pos, where(pos, x, 1).log().clamp(-100, null), -100);
}

/** binary_cross_entropy on probabilities in [0, 1]: l = -w [y log x + (1 - y) log(1 - x)], logs clamped at -100. */
export function binaryCrossEntropy(input: Tensor, target: Tensor, opts: BCEOptions = {}): Tensor {
  const op = 'binaryCrossEntropy';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const weight = opts.weight ?? null;
  if (weight != null) checkTensor(op, 'weight', weight);
  const outside = scope(() => input.lt(0).logicalOr(input.gt(1)).any().item());
  if (outside) throw new DLError('VALUE', op, 'all elements of input should be between 0 and 1', 'apply sigmoid first, or use binaryCrossEntropyWithLogits on the logits (more stable)');
  return scope(() => {
    const l = target.mul(clampedLog(input)).add(target.neg().add(1).mul(clampedLog(input.neg().add(1)))).neg();
    return reduce(weight != null ? l.mul(weight) : l, reduction);
  });
}

// ---------------------------------------------------------------- modules
/** CrossEntropyLoss({ weight, ignoreIndex = -100, reduction = 'mean', labelSmoothing = 0 }); see crossEntropy. */
export class CrossEntropyLoss extends Module {
  declare readonly weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  readonly labelSmoothing: number;

  constructor(opts: CrossEntropyOptions = {}) {
    super();
    const op = 'CrossEntropyLoss';
    if (opts.weight != null) checkTensor(op, 'weight', opts.weight);
    this.registerBuffer('weight', opts.weight ?? null);
    this.ignoreIndex = checkIgnoreIndex(op, opts.ignoreIndex ?? -100);
    this.reduction = checkReduction(op, opts.reduction ?? 'mean');
    this.labelSmoothing = probability(op, 'labelSmoothing', opts.labelSmoothing ?? 0);
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction, labelSmoothing: this.labelSmoothing });
  }
}

/** NLLLoss({ weight, ignoreIndex = -100, reduction = 'mean' }) on log-probabilities; see nllLoss. */
export class NLLLoss extends Module {
  declare readonly weight: Tensor | null;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;

  constructor(opts: NLLOptions = {}) {
    super();
    const op = 'NLLLoss';
    if (opts.weight != null) checkTensor(op, 'weight', opts.weight);
    this.registerBuffer('weight', opts.weight ?? null);
    this.ignoreIndex = checkIgnoreIndex(op, opts.ignoreIndex ?? -100);
    this.reduction = checkReduction(op, opts.reduction ?? 'mean');
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}

/** MSELoss({ reduction = 'mean' }). */
export class MSELoss extends Module {
  readonly reduction: Reduction;
  constructor(opts: ReductionOptions = {}) {
    super();
    this.reduction = checkReduction('MSELoss', opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/** L1Loss({ reduction = 'mean' }). */
export class L1Loss extends Module {
  readonly reduction: Reduction;
  constructor(opts: ReductionOptions = {}) {
    super();
    this.reduction = checkReduction('L1Loss', opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

/** BCEWithLogitsLoss({ weight, posWeight, reduction = 'mean' }); see binaryCrossEntropyWithLogits. */
export class BCEWithLogitsLoss extends Module {
  declare readonly weight: Tensor | null;
  declare readonly posWeight: Tensor | null;
  readonly reduction: Reduction;

  constructor(opts: BCEWithLogitsOptions = {}) {
    super();
    const op = 'BCEWithLogitsLoss';
    if (opts.weight != null) checkTensor(op, 'weight', opts.weight);
    if (opts.posWeight != null) checkTensor(op, 'posWeight', opts.posWeight);
    this.registerBuffer('weight', opts.weight ?? null);
    this.registerBuffer('posWeight', opts.posWeight ?? null);
    this.reduction = checkReduction(op, opts.reduction ?? 'mean');
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction });
  }
}

/** SmoothL1Loss({ reduction = 'mean', beta = 1 }); see smoothL1Loss. */
export class SmoothL1Loss extends Module {
  readonly reduction: Reduction;
  readonly beta: number;
  constructor(opts: SmoothL1Options = {}) {
    super();
    this.reduction = checkReduction('SmoothL1Loss', opts.reduction ?? 'mean');
    this.beta = checkBeta('SmoothL1Loss', opts.beta ?? 1);
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}

/** HuberLoss({ reduction = 'mean', delta = 1 }); see huberLoss. */
export class HuberLoss extends Module {
  readonly reduction: Reduction;
  readonly delta: number;
  constructor(opts: HuberOptions = {}) {
    super();
    this.reduction = checkReduction('HuberLoss', opts.reduction ?? 'mean');
    this.delta = checkDelta('HuberLoss', opts.delta ?? 1);
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

/**
 * KLDivLoss({ reduction = 'mean', logTarget = false }) of log-probabilities against a target
 * distribution; see klDiv ('batchmean' is the KL divergence; 'mean', the default as in PyTorch,
 * also divides by the support size).
 */
export class KLDivLoss extends Module {
  readonly reduction: KLDivReduction;
  readonly logTarget: boolean;
  constructor(opts: KLDivOptions = {}) {
    super();
    const { reduction, logTarget } = checkKLDivOptions('KLDivLoss', opts);
    this.reduction = reduction;
    this.logTarget = logTarget;
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
}

/** BCELoss({ weight, reduction = 'mean' }) on probabilities; see binaryCrossEntropy. */
export class BCELoss extends Module {
  declare readonly weight: Tensor | null;
  readonly reduction: Reduction;

  constructor(opts: BCEOptions = {}) {
    super();
    if (opts.weight != null) checkTensor('BCELoss', 'weight', opts.weight);
    this.registerBuffer('weight', opts.weight ?? null);
    this.reduction = checkReduction('BCELoss', opts.reduction ?? 'mean');
  }

  override forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction });
  }
}
