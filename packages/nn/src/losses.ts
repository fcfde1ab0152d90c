/**
 * Loss functions (functional forms, also exported from `functional`) and the
 * loss modules. Each follows the formula in PyTorch's documentation and is
 * built from differentiable @dl/tensor ops (logSoftmax, gather, ...).
 *
 * Reductions: 'mean' (default), 'sum' or 'none' (the per-element losses).
 */
import { DLError, type Tensor, arange, broadcastShapes, crossEntropy as tCrossEntropy, isFloating, scope, tensor, where } from '@dl/tensor';
import { pairwiseDistance } from './functional.js';
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

/** As checkClassTargetShape, and every value in [0, C) or equal to ignoreIndex (when not null). */
function checkClassTarget(op: string, input: Tensor, target: Tensor, c: number, ignoreIndex: number | null): void {
  checkClassTargetShape(op, input, target);
  const data = target.dataSync();
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== ignoreIndex && (v < 0 || v >= c)) {
      throw new DLError(
        'VALUE',
        op,
        `target ${v} is out of bounds: there are ${c} classes, so class indices must lie in [0, ${c - 1}]${ignoreIndex === null ? '' : ` (or equal ignoreIndex ${ignoreIndex})`}; got ${v} at flat position ${i} of the target`,
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


// ---------------------------------------------------------------- margin, embedding and likelihood losses
export interface MarginOptions extends ReductionOptions {
  /** The margin (default 0; see each loss). */
  margin?: number;
}

export interface TripletMarginOptions extends MarginOptions {
  /** The norm of the pairwise distance (default 2). */
  p?: number;
  /** Added to each difference before the norm, as pairwiseDistance (default 1e-6). */
  eps?: number;
  /** Use the positive-negative distance where it is smaller than the anchor-negative one (default false). */
  swap?: boolean;
}

export interface MultiLabelSoftMarginOptions extends ReductionOptions {
  /** A rescaling weight broadcast to the input's shape, usually one entry per class (C). */
  weight?: Tensor | null;
}

export interface MultiMarginOptions extends MarginOptions {
  /** 1 (default): the hinge; 2: its square. */
  p?: 1 | 2;
  /** A rescaling weight per class (1-D, C entries), taken at each sample's target class. */
  weight?: Tensor | null;
}

export interface GaussianNLLOptions extends ReductionOptions {
  /** Add the constant 0.5 log(2 pi) (default false). */
  full?: boolean;
  /** var is clamped below at eps, without a gradient through the clamp (default 1e-6). */
  eps?: number;
}

export interface PoissonNLLOptions extends ReductionOptions {
  /** The input is log(rate) (default true); otherwise the rate itself. */
  logInput?: boolean;
  /** Add the Stirling approximation of log(target!) where target > 1 (default false). */
  full?: boolean;
  /** Added to the rate before its log when logInput is false (default 1e-8). */
  eps?: number;
}

function checkMargin(op: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new DLError('ARGUMENT', op, `margin must be a number; got ${JSON.stringify(v)}`);
  return v;
}

function checkBool(op: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new DLError('ARGUMENT', op, `${name} must be true or false; got ${JSON.stringify(v)}`);
  return v;
}

const checkEps = (op: string, v: unknown) => threshold(op, 'eps', v, false);

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Labels y in {1, -1} of the given shape (any dtype). PyTorch gives a silent 0 loss for other values; here they are an error. */
function checkLabels(op: string, y: Tensor, shape: readonly number[], what: string): void {
  if (!sameShape(y.shape, shape)) throw new DLError('SHAPE', op, `target must have shape ${fmtShape(shape)} (${what}); got ${fmtShape(y.shape)}`);
  const bad = scope(() => y.ne(1).logicalAnd(y.ne(-1)).any().item());
  if (bad) throw new DLError('VALUE', op, 'target values must be 1 or -1', 'for 0/1 labels use target.mul(2).sub(1)');
}

/**
 * cosine_embedding_loss: 1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1.
 * x1 and x2 are (N, D) with y (N), or (D) with a 0-dim y. The cosine is PyTorch 1.13's own,
 * sum(x1 x2) / sqrt((sum(x1^2) + 1e-12) (sum(x2^2) + 1e-12)), not cosineSimilarity's.
 */
export function cosineEmbeddingLoss(x1: Tensor, x2: Tensor, target: Tensor, opts: MarginOptions = {}): Tensor {
  const op = 'cosineEmbeddingLoss';
  for (const [name, t] of [['x1', x1], ['x2', x2]] as const) {
    checkTensor(op, name, t);
    checkFloat(op, name, t);
  }
  checkTensor(op, 'target', target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const margin = checkMargin(op, opts.margin ?? 0);
  if ((x1.ndim !== 1 && x1.ndim !== 2) || !sameShape(x1.shape, x2.shape)) {
    throw new DLError('SHAPE', op, `x1 and x2 must have the same shape, (N, D) or (D); got ${fmtShape(x1.shape)} and ${fmtShape(x2.shape)}`);
  }
  const batched = x1.ndim === 2;
  checkLabels(op, target, batched ? [x1.shape[0]] : [], batched ? 'one label per row of x1' : 'a 0-dim label for 1-D inputs');
  const d = x1.ndim - 1;
  return scope(() => {
    const eps = 1e-12;
    const cos = x1.mul(x2).sum(d).div(x1.mul(x1).sum(d).add(eps).mul(x2.mul(x2).sum(d).add(eps)).sqrt());
    return reduce(where(target.eq(1), cos.neg().add(1), cos.sub(margin).clamp(0, null)), reduction);
  });
}

/** margin_ranking_loss: max(0, -y (x1 - x2) + margin), y = 1 meaning x1 should rank higher. All three shapes must be equal. */
export function marginRankingLoss(x1: Tensor, x2: Tensor, target: Tensor, opts: MarginOptions = {}): Tensor {
  const op = 'marginRankingLoss';
  for (const [name, t] of [['x1', x1], ['x2', x2], ['target', target]] as const) {
    checkTensor(op, name, t);
    checkFloat(op, name, t);
  }
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const margin = checkMargin(op, opts.margin ?? 0);
  if (!sameShape(x1.shape, x2.shape) || !sameShape(x1.shape, target.shape)) {
    throw new DLError('SHAPE', op, `x1, x2 and target must have the same shape; got ${fmtShape(x1.shape)}, ${fmtShape(x2.shape)} and ${fmtShape(target.shape)}`);
  }
  return scope(() => reduce(target.neg().mul(x1.sub(x2)).add(margin).clamp(0, null), reduction));
}

/**
 * triplet_margin_loss: max(0, margin + d(a, p) - d(a, n)) with d = pairwiseDistance (p-norm over the
 * last dim, eps added to each difference); with swap, d(a, n) is replaced by min(d(a, n), d(p, n)).
 * The three inputs have the same number of dims (>= 1) and broadcast together.
 */
export function tripletMarginLoss(anchor: Tensor, positive: Tensor, negative: Tensor, opts: TripletMarginOptions = {}): Tensor {
  const op = 'tripletMarginLoss';
  for (const [name, t] of [['anchor', anchor], ['positive', positive], ['negative', negative]] as const) {
    checkTensor(op, name, t);
    checkFloat(op, name, t);
  }
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const margin = checkMargin(op, opts.margin ?? 1);
  const p = threshold(op, 'p', opts.p ?? 2, false, 'p = 2 is the Euclidean distance');
  const eps = checkEps(op, opts.eps ?? 1e-6);
  const swap = checkBool(op, 'swap', opts.swap ?? false);
  if (anchor.ndim === 0 || anchor.ndim !== positive.ndim || anchor.ndim !== negative.ndim) {
    throw new DLError('SHAPE', op, `anchor, positive and negative must have the same number of dims (>= 1); got ${fmtShape(anchor.shape)}, ${fmtShape(positive.shape)} and ${fmtShape(negative.shape)}`);
  }
  broadcastShapes(op, anchor.shape, positive.shape, negative.shape);
  return scope(() => {
    const dPos = pairwiseDistance(anchor, positive, p, eps);
    const dAN = pairwiseDistance(anchor, negative, p, eps);
    const dNeg = swap ? dAN.minimum(pairwiseDistance(positive, negative, p, eps)) : dAN;
    return reduce(dPos.add(margin).sub(dNeg).clamp(0, null), reduction);
  });
}

/** soft_margin_loss: log(1 + exp(-y x)), computed without overflow. Shapes must be equal. */
export function softMarginLoss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  const op = 'softMarginLoss';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  return scope(() => reduce(softplus(input.mul(target).neg()), reduction));
}

/**
 * multilabel_soft_margin_loss: per sample, the mean over the C classes (the last dim) of
 * w [y softplus(-x) + (1 - y) softplus(x)] (= -w [y log sigmoid(x) + (1 - y) log sigmoid(-x)]),
 * then reduced over the samples. Input and target are (N, C) or (C), of equal shapes.
 */
export function multilabelSoftMarginLoss(input: Tensor, target: Tensor, opts: MultiLabelSoftMarginOptions = {}): Tensor {
  const op = 'multilabelSoftMarginLoss';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  if (input.ndim === 0) throw new DLError('SHAPE', op, 'input must be (N, C) or (C); got a 0-dim tensor');
  const weight = opts.weight ?? null;
  if (weight != null) {
    checkTensor(op, 'weight', weight);
    checkFloat(op, 'weight', weight);
    if (!sameShape(broadcastShapes(op, input.shape, weight.shape), input.shape)) {
      throw new DLError('SHAPE', op, `weight of shape ${fmtShape(weight.shape)} does not broadcast to the input's shape ${fmtShape(input.shape)}`, 'give one weight per class: a 1-D tensor of the last dim of the input');
    }
  }
  return scope(() => {
    const l = target.mul(softplus(input.neg())).add(target.neg().add(1).mul(softplus(input)));
    const c = input.shape[input.ndim - 1];
    return reduce((weight != null ? l.mul(weight) : l).sum(-1).div(c), reduction);
  });
}

/**
 * gaussian_nll_loss: 0.5 (log v + (input - target)^2 / v) (+ 0.5 log(2 pi) with full), where
 * v = max(var, eps) with the gradient of var passed through the clamp unchanged (PyTorch clamps
 * under no_grad). var has the input's shape, or (homoscedastic) the input's shape without its
 * last dim, or with a last dim of 1. Input and target shapes must be equal; var must be >= 0.
 */
export function gaussianNllLoss(input: Tensor, target: Tensor, variance: Tensor, opts: GaussianNLLOptions = {}): Tensor {
  const op = 'gaussianNllLoss';
  checkSameShape(op, input, target);
  checkTensor(op, 'var', variance);
  checkFloat(op, 'var', variance);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const full = checkBool(op, 'full', opts.full ?? false);
  const eps = checkEps(op, opts.eps ?? 1e-6);
  const lead = input.shape.slice(0, -1);
  const oneFewer = !sameShape(variance.shape, input.shape) && sameShape(variance.shape, lead);
  if (!sameShape(variance.shape, input.shape) && !oneFewer && !(sameShape(variance.shape.slice(0, -1), lead) && variance.shape[variance.ndim - 1] === 1)) {
    throw new DLError(
      'SHAPE',
      op,
      `var of shape ${fmtShape(variance.shape)} does not fit the input's shape ${fmtShape(input.shape)}`,
      `var must have the input's shape, or ${fmtShape(lead)} or ${fmtShape([...lead, 1])} (one variance for the last dim)`,
    );
  }
  const negative = scope(() => variance.lt(0).any().item());
  if (negative) throw new DLError('VALUE', op, 'var has negative entries', 'var is a variance: pass e.g. softplus(raw) or raw.exp()');
  return scope(() => {
    const v = oneFewer ? variance.unsqueeze(-1) : variance;
    // The clamped value with var's gradient unchanged: v - v.detach() is 0.
    const clamped = v.detach().clamp(eps, null).add(v.sub(v.detach()));
    const d = input.sub(target);
    const l = clamped.log().add(d.mul(d).div(clamped)).mul(0.5);
    return reduce(full ? l.add(0.5 * Math.log(2 * Math.PI)) : l, reduction);
  });
}

/**
 * poisson_nll_loss: exp(input) - target input (logInput), or input - target log(input + eps).
 * With full, the Stirling term target log(target) - target + 0.5 log(2 pi target) is added where
 * target > 1 (0 elsewhere, with no NaN in the target's gradient). Shapes must be equal.
 */
export function poissonNllLoss(input: Tensor, target: Tensor, opts: PoissonNLLOptions = {}): Tensor {
  const op = 'poissonNllLoss';
  checkSameShape(op, input, target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const logInput = checkBool(op, 'logInput', opts.logInput ?? true);
  const full = checkBool(op, 'full', opts.full ?? false);
  const eps = checkEps(op, opts.eps ?? 1e-8);
  return scope(() => {
    const l = logInput ? input.exp().sub(target.mul(input)) : input.sub(target.mul(input.add(eps).log()));
    if (!full) return reduce(l, reduction);
    const big = target.gt(1);
    // 1 in place of target <= 1, so that the unused branch has no NaN gradient.
    const t = where(big, target, 1);
    const stirling = t.mul(t.log()).sub(t).add(t.mul(2 * Math.PI).log().mul(0.5));
    return reduce(l.add(where(big, stirling, 0)), reduction);
  });
}

/** hinge_embedding_loss: x where y = 1, max(0, margin - x) where y = -1. y has the input's shape. */
export function hingeEmbeddingLoss(input: Tensor, target: Tensor, opts: MarginOptions = {}): Tensor {
  const op = 'hingeEmbeddingLoss';
  checkTensor(op, 'input', input);
  checkFloat(op, 'input', input);
  checkTensor(op, 'target', target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const margin = checkMargin(op, opts.margin ?? 1);
  checkLabels(op, target, input.shape, "the input's");
  return scope(() => reduce(where(target.eq(1), input, input.neg().add(margin).clamp(0, null)), reduction));
}

function checkP(op: string, p: unknown): 1 | 2 {
  if (p !== 1 && p !== 2) throw new DLError('ARGUMENT', op, `p must be 1 or 2; got ${JSON.stringify(p)}`, 'p = 1 is the hinge and p = 2 its square; PyTorch defines no other');
  return p;
}

/** The class count of an (N, C) or (C) input of the multi-class margin losses (C >= 1). */
function marginClasses(op: string, input: Tensor): number {
  const c = classesOf(op, input);
  if (input.ndim > 2 || c === 0) {
    throw new DLError('SHAPE', op, `input must be (N, C) or (C) with C >= 1; got shape ${fmtShape(input.shape)}`, input.ndim > 2 ? 'move the class dim last and flatten the rest: (N * d1 * ..., C)' : undefined);
  }
  return c;
}

/**
 * multi_margin_loss: for a sample x with target class y, the mean over the C classes i != y of
 * w[y] max(0, margin - x[y] + x[i])^p (w = weight, or 1); input (N, C) with int32 class indices
 * (N), or (C) with a 0-dim target; 'mean' averages over the samples. The gradient at a zero hinge
 * is 0, as PyTorch's.
 */
export function multiMarginLoss(input: Tensor, target: Tensor, opts: MultiMarginOptions = {}): Tensor {
  const op = 'multiMarginLoss';
  const c = marginClasses(op, input);
  checkTensor(op, 'target', target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const margin = checkMargin(op, opts.margin ?? 1);
  const p = checkP(op, opts.p ?? 1);
  const weight = opts.weight ?? null;
  checkWeight(op, weight, c);
  checkClassTarget(op, input, target, c, null);
  return scope(() => {
    const x = input.ndim === 1 ? input.unsqueeze(0) : input;
    const y = target.reshape([-1, 1]);
    const z = x.sub(x.gather(1, y)).add(margin);
    const counted = arange(c, undefined, 1, { dtype: 'int32', device: input.device }).unsqueeze(0).ne(y).logicalAnd(z.gt(0));
    let h = where(counted, z, 0);
    if (p === 2) h = h.mul(h);
    if (weight) h = h.mul(weight.indexSelect(0, y.reshape([-1])).unsqueeze(1));
    const loss = h.sum(1).div(c);
    return reduce(input.ndim === 1 ? loss.squeeze(0) : loss, reduction);
  });
}

/**
 * multilabel_margin_loss: each sample's target lists its classes and is padded with -1: the
 * classes before the first -1 are its targets j, every other class i a non-target. The loss is
 * the sum over the listed j (a class listed twice counts twice, as PyTorch's) and the non-targets
 * i of max(0, 1 - (x[j] - x[i])), divided by C; a sample without targets has loss 0. input (N, C)
 * or (C), the int32 target of its shape with every value in [-1, C) (PyTorch's check, padding
 * included); 'mean' averages over the samples. The gradient at a zero hinge is 0, as PyTorch's.
 */
export function multilabelMarginLoss(input: Tensor, target: Tensor, opts: ReductionOptions = {}): Tensor {
  const op = 'multilabelMarginLoss';
  const c = marginClasses(op, input);
  checkTensor(op, 'target', target);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  if (target.dtype !== 'int32') {
    throw new DLError('DTYPE', op, `target must hold int32 class indices; got ${target.dtype}`, isFloating(target.dtype) ? 'for 0/1 labels of every class use multilabelSoftMarginLoss' : "cast with target.to('int32')");
  }
  if (!sameShape(target.shape, input.shape)) {
    throw new DLError('SHAPE', op, `target must have the input's shape ${fmtShape(input.shape)}; got ${fmtShape(target.shape)}`, 'list each sample\'s target classes first, then pad with -1');
  }
  const data = target.dataSync();
  for (let i = 0; i < data.length; i++) {
    if (data[i] < -1 || data[i] >= c) {
      throw new DLError('VALUE', op, `target ${data[i]} is out of range: with ${c} classes, target values must lie in [-1, ${c - 1}] (-1 ends a sample's list); got ${data[i]} at flat position ${i} of the target`);
    }
  }
  // The listed targets of each row (k of the widest list's length), whether each slot is one, and
  // which classes are non-targets.
  const rows = data.length / c;
  const lengths = Array.from({ length: rows }, (_, r) => {
    const end = data.subarray(r * c, (r + 1) * c).indexOf(-1);
    return end < 0 ? c : end;
  });
  const k = lengths.reduce((m, n) => Math.max(m, n), 1);
  const listed = new Int32Array(rows * k);
  const isListed = new Uint8Array(rows * k);
  const nonTarget = new Uint8Array(rows * c).fill(1);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < lengths[r]; j++) {
      listed[r * k + j] = data[r * c + j];
      isListed[r * k + j] = 1;
      nonTarget[r * c + data[r * c + j]] = 0;
    }
  }
  return scope(() => {
    const device = input.device;
    const x = input.reshape([rows, c]);
    const xj = x.gather(1, tensor(listed, { shape: [rows, k], device }));
    const z = x.unsqueeze(1).sub(xj.unsqueeze(2)).add(1);
    const pairs = tensor(isListed, { dtype: 'bool', shape: [rows, k, 1], device }).logicalAnd(tensor(nonTarget, { dtype: 'bool', shape: [rows, 1, c], device }));
    const loss = where(pairs.logicalAnd(z.gt(0)), z, 0).sum([1, 2]).div(c);
    return reduce(input.ndim === 1 ? loss.squeeze(0) : loss, reduction);
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

/** CosineEmbeddingLoss({ margin = 0, reduction = 'mean' }); forward(x1, x2, y) with y in {1, -1}; see cosineEmbeddingLoss. */
export class CosineEmbeddingLoss extends Module {
  readonly margin: number;
  readonly reduction: Reduction;
  constructor(opts: MarginOptions = {}) {
    super();
    this.margin = checkMargin('CosineEmbeddingLoss', opts.margin ?? 0);
    this.reduction = checkReduction('CosineEmbeddingLoss', opts.reduction ?? 'mean');
  }
  override forward(x1: Tensor, x2: Tensor, target: Tensor): Tensor {
    return cosineEmbeddingLoss(x1, x2, target, { margin: this.margin, reduction: this.reduction });
  }
}

/** MarginRankingLoss({ margin = 0, reduction = 'mean' }); forward(x1, x2, y); see marginRankingLoss. */
export class MarginRankingLoss extends Module {
  readonly margin: number;
  readonly reduction: Reduction;
  constructor(opts: MarginOptions = {}) {
    super();
    this.margin = checkMargin('MarginRankingLoss', opts.margin ?? 0);
    this.reduction = checkReduction('MarginRankingLoss', opts.reduction ?? 'mean');
  }
  override forward(x1: Tensor, x2: Tensor, target: Tensor): Tensor {
    return marginRankingLoss(x1, x2, target, { margin: this.margin, reduction: this.reduction });
  }
}

/** TripletMarginLoss({ margin = 1, p = 2, eps = 1e-6, swap = false, reduction = 'mean' }); forward(anchor, positive, negative). */
export class TripletMarginLoss extends Module {
  readonly margin: number;
  readonly p: number;
  readonly eps: number;
  readonly swap: boolean;
  readonly reduction: Reduction;
  constructor(opts: TripletMarginOptions = {}) {
    super();
    const op = 'TripletMarginLoss';
    this.margin = checkMargin(op, opts.margin ?? 1);
    this.p = threshold(op, 'p', opts.p ?? 2, false, 'p = 2 is the Euclidean distance');
    this.eps = checkEps(op, opts.eps ?? 1e-6);
    this.swap = checkBool(op, 'swap', opts.swap ?? false);
    this.reduction = checkReduction(op, opts.reduction ?? 'mean');
  }
  override forward(anchor: Tensor, positive: Tensor, negative: Tensor): Tensor {
    return tripletMarginLoss(anchor, positive, negative, { margin: this.margin, p: this.p, eps: this.eps, swap: this.swap, reduction: this.reduction });
  }
}

/** SoftMarginLoss({ reduction = 'mean' }); see softMarginLoss. */
export class SoftMarginLoss extends Module {
  readonly reduction: Reduction;
  constructor(opts: ReductionOptions = {}) {
    super();
    this.reduction = checkReduction('SoftMarginLoss', opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return softMarginLoss(input, target, { reduction: this.reduction });
  }
}

/** MultiLabelSoftMarginLoss({ weight, reduction = 'mean' }); see multilabelSoftMarginLoss. */
export class MultiLabelSoftMarginLoss extends Module {
  declare readonly weight: Tensor | null;
  readonly reduction: Reduction;
  constructor(opts: MultiLabelSoftMarginOptions = {}) {
    super();
    if (opts.weight != null) checkTensor('MultiLabelSoftMarginLoss', 'weight', opts.weight);
    this.registerBuffer('weight', opts.weight ?? null);
    this.reduction = checkReduction('MultiLabelSoftMarginLoss', opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return multilabelSoftMarginLoss(input, target, { weight: this.weight, reduction: this.reduction });
  }
}

/** GaussianNLLLoss({ full = false, eps = 1e-6, reduction = 'mean' }); forward(input, target, var); see gaussianNllLoss. */
export class GaussianNLLLoss extends Module {
  readonly full: boolean;
  readonly eps: number;
  readonly reduction: Reduction;
  constructor(opts: GaussianNLLOptions = {}) {
    super();
    const op = 'GaussianNLLLoss';
    this.full = checkBool(op, 'full', opts.full ?? false);
    this.eps = checkEps(op, opts.eps ?? 1e-6);
    this.reduction = checkReduction(op, opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor, variance: Tensor): Tensor {
    return gaussianNllLoss(input, target, variance, { full: this.full, eps: this.eps, reduction: this.reduction });
  }
}

/** PoissonNLLLoss({ logInput = true, full = false, eps = 1e-8, reduction = 'mean' }); see poissonNllLoss. */
export class PoissonNLLLoss extends Module {
  readonly logInput: boolean;
  readonly full: boolean;
  readonly eps: number;
  readonly reduction: Reduction;
  constructor(opts: PoissonNLLOptions = {}) {
    super();
    const op = 'PoissonNLLLoss';
    this.logInput = checkBool(op, 'logInput', opts.logInput ?? true);
    this.full = checkBool(op, 'full', opts.full ?? false);
    this.eps = checkEps(op, opts.eps ?? 1e-8);
    this.reduction = checkReduction(op, opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return poissonNllLoss(input, target, { logInput: this.logInput, full: this.full, eps: this.eps, reduction: this.reduction });
  }
}

/** HingeEmbeddingLoss({ margin = 1, reduction = 'mean' }); forward(input, y) with y in {1, -1}; see hingeEmbeddingLoss. */
export class HingeEmbeddingLoss extends Module {
  readonly margin: number;
  readonly reduction: Reduction;
  constructor(opts: MarginOptions = {}) {
    super();
    this.margin = checkMargin('HingeEmbeddingLoss', opts.margin ?? 1);
    this.reduction = checkReduction('HingeEmbeddingLoss', opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return hingeEmbeddingLoss(input, target, { margin: this.margin, reduction: this.reduction });
  }
}

/** MultiMarginLoss({ p = 1, margin = 1, weight, reduction = 'mean' }); forward(input, target) with int32 class indices; see multiMarginLoss. */
export class MultiMarginLoss extends Module {
  readonly p: 1 | 2;
  readonly margin: number;
  declare readonly weight: Tensor | null;
  readonly reduction: Reduction;
  constructor(opts: MultiMarginOptions = {}) {
    super();
    const op = 'MultiMarginLoss';
    this.p = checkP(op, opts.p ?? 1);
    this.margin = checkMargin(op, opts.margin ?? 1);
    if (opts.weight != null) checkTensor(op, 'weight', opts.weight);
    this.registerBuffer('weight', opts.weight ?? null);
    this.reduction = checkReduction(op, opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return multiMarginLoss(input, target, { p: this.p, margin: this.margin, weight: this.weight, reduction: this.reduction });
  }
}

/** MultiLabelMarginLoss({ reduction = 'mean' }); forward(input, target) with int32 class lists padded with -1; see multilabelMarginLoss. */
export class MultiLabelMarginLoss extends Module {
  readonly reduction: Reduction;
  constructor(opts: ReductionOptions = {}) {
    super();
    this.reduction = checkReduction('MultiLabelMarginLoss', opts.reduction ?? 'mean');
  }
  override forward(input: Tensor, target: Tensor): Tensor {
    return multilabelMarginLoss(input, target, { reduction: this.reduction });
  }
}
