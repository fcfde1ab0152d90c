/**
 * The fused cross-entropy over rows of (N, C) logits with class-index targets (one kernel for
 * log-softmax + negative log-likelihood + label smoothing, another for its gradient). @dl/nn's
 * F.crossEntropy reduces these per-row losses; @dl/autograd differentiates them.
 */
import { backendFor } from '../device.js';
import { dispatch } from '../dispatch.js';
import { fail, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { cast } from './convert.js';
import { asTensor, requireDType, requireFloat } from './util.js';

export interface CrossEntropyOptions {
  /** A rescaling weight per class (1-D, C entries, floating point). */
  weight?: Tensor | null;
  /** Rows whose target equals this get loss 0 and gradient 0 (default -100). */
  ignoreIndex?: number;
  /** ε in [0, 1]: the target becomes (1 - ε)·onehot + ε / C (default 0). */
  labelSmoothing?: number;
}

interface Checked {
  weight: Tensor | null;
  attrs: { ignoreIndex: number; labelSmoothing: number };
}

/** The checks shared by the forward and the gradient: x (N, C) float, target (N) int32 in range, weight (C). */
function checkArgs(op: string, x: Tensor, target: Tensor, opts: CrossEntropyOptions): Checked {
  asTensor(op, 'input', x);
  asTensor(op, 'target', target);
  requireFloat(op, x);
  if (x.ndim !== 2) {
    fail('SHAPE', op, `expected a 2-D (N, C) input; got shape ${fmtShape(x.shape)}`, 'reshape (N, C, d1, ...) inputs to (N * d1 * ..., C) first, or use F.crossEntropy of @dl/nn, which does');
  }
  const [n, c] = x.shape;
  requireDType(op, 'target', target, ['int32']);
  if (target.ndim !== 1 || target.shape[0] !== n) {
    fail('SHAPE', op, `expected a target of shape [${n}] (one class index per row of the input ${fmtShape(x.shape)}); got target shape ${fmtShape(target.shape)}`);
  }
  const ignoreIndex = opts.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) fail('ARGUMENT', op, `ignoreIndex must be an integer; got ${String(ignoreIndex)}`);
  const labelSmoothing = opts.labelSmoothing ?? 0;
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    fail('VALUE', op, `labelSmoothing has to be between 0 and 1; got ${String(labelSmoothing)}`);
  }
  const weight = opts.weight ?? null;
  if (weight !== null) {
    asTensor(op, 'weight', weight);
    requireFloat(op, weight);
    if (weight.ndim !== 1 || weight.shape[0] !== c) fail('SHAPE', op, `weight must be a 1-D tensor with one entry per class (${c}); got shape ${fmtShape(weight.shape)}`);
  }
  // Checked on the host before a kernel reads x[n, target[n]] and weight[target[n]]. On CUDA
  // that read would stall the stream every step: the kernel checks instead, and a bad target is
  // reported (op and value) by the next call that synchronises (Backend.checksIndexValues).
  if (backendFor(op, target.device).checksIndexValues) return { weight, attrs: { ignoreIndex, labelSmoothing } };
  const data = target.dataSync();
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v !== ignoreIndex && (v < 0 || v >= c)) {
      fail(
        'VALUE',
        op,
        `target ${v} is out of bounds: there are ${c} classes, so class indices must lie in [0, ${c - 1}] (or equal ignoreIndex ${ignoreIndex}); got ${v} at flat position ${i} of the target`,
        `map labels to 0..${c - 1}, or pass the value that marks unlabelled items as ignoreIndex`,
      );
    }
  }
  return { weight, attrs: { ignoreIndex, labelSmoothing } };
}

/**
 * Per-row cross-entropy of logits x (N, C) against int32 class indices (N), and the rows'
 * logsumexp: with logp = x - lse, t = target[n], w = weight (or all ones), ε = labelSmoothing,
 *   loss[n] = -(1 - ε)·w[t]·logp[n, t] - (ε / C)·Σ_c w[c]·logp[n, c]   (0 where t = ignoreIndex).
 * No reduction: F.crossEntropy of @dl/nn sums or averages these.
 */
export function crossEntropyWithLse(x: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): { loss: Tensor; lse: Tensor } {
  const op = 'crossEntropy';
  const { weight, attrs } = checkArgs(op, x, target, opts);
  const w = weight && cast(weight, x.dtype);
  const meta = { shape: [x.shape[0]], dtype: x.dtype };
  const [loss, lse] = dispatch(op, w ? [x, target, w] : [x, target], attrs, [meta, meta]);
  if (w && w !== weight) w.dispose();
  return { loss, lse };
}

/** The per-row losses of crossEntropyWithLse (N). */
export function crossEntropy(x: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const { loss, lse } = crossEntropyWithLse(x, target, opts);
  lse.dispose();
  return loss;
}

/**
 * Gradient of crossEntropy with respect to x, given the gradient of the per-row losses (N) and
 * the rows' logsumexp (N): gx[n, c] = gradLoss[n]·((Σ_k a_k)·softmax[n, c] - a_c) with
 * a_c = (1 - ε)·w[t]·[c = t] + (ε / C)·w[c]; zero rows for ignored targets.
 */
export function crossEntropyBackward(gradLoss: Tensor, x: Tensor, target: Tensor, lse: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropyBackward';
  asTensor(op, 'gradLoss', gradLoss);
  asTensor(op, 'lse', lse);
  const { weight, attrs } = checkArgs(op, x, target, opts);
  const n = x.shape[0];
  for (const [name, t] of [['gradLoss', gradLoss], ['lse', lse]] as const) {
    requireFloat(op, t);
    if (t.ndim !== 1 || t.shape[0] !== n) fail('SHAPE', op, `${name} must have shape [${n}] (one value per row of the input ${fmtShape(x.shape)}); got ${fmtShape(t.shape)}`);
  }
  const ins = [cast(gradLoss, x.dtype), x, target, cast(lse, x.dtype), ...(weight ? [cast(weight, x.dtype)] : [])];
  const gx = dispatch(op, ins, attrs, [{ shape: x.shape, dtype: x.dtype }])[0];
  for (const t of ins) if (t !== gradLoss && t !== x && t !== target && t !== lse && t !== weight) t.dispose();
  return gx;
}
