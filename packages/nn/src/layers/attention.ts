/**
 * Attention: F.scaledDotProductAttention and MultiheadAttention (torch.nn.MultiheadAttention).
 *
 * Both run one core, `attend`, over [..., L, E] queries and [..., S, E] keys: scores
 * q k^T * scale, masks, softmax over the keys, dropout, times v. Masks reach it already
 * split in two: `blocked` (bool, true = this query may not see this key) and `additive`
 * (float, added to the scores).
 *
 * Better than PyTorch, on purpose: a query whose every key is masked gets weights 0 and output
 * 0 (PyTorch gives NaN, which then spreads through the loss); its gradient is 0 too.
 */
import { DLError, arange, cat, scope, where, zeros } from '@dl/tensor';
import type { Generator, Tensor } from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import * as F from '../functional.js';
import * as init from '../init.js';
import { checkFloat, checkTensor, fmtShape, positiveInt, probability } from '../internal.js';
import type { FactoryOptions } from '../internal.js';
import { Module } from '../module.js';
import { type Parameter, ownParameter } from '../parameter.js';
import { Linear } from './linear.js';

interface Masks {
  blocked: Tensor | null;
  additive: Tensor | null;
}

/** softmax(q k^T * scale + masks) (dropped out) times v; returns [output, weights]. */
function attend(q: Tensor, k: Tensor, v: Tensor, masks: Masks, dropoutP: number, scale: number | null, generator?: Generator): [Tensor, Tensor] {
  const qs = scale === null ? q.div(Math.sqrt(q.shape[q.ndim - 1])) : q.mul(scale);
  let scores = qs.matmul(k.transpose(-2, -1));
  if (masks.additive) scores = scores.add(masks.additive);
  if (masks.blocked) scores = scores.maskedFill(masks.blocked, Number.NEGATIVE_INFINITY);
  let weights: Tensor;
  if (masks.additive || masks.blocked) {
    // Rows with no key left: softmax of all -inf is NaN. Give them weights 0 instead.
    const dead = noGrad(() => scores.amax(-1, true).eq(Number.NEGATIVE_INFINITY));
    weights = where(dead, 0, where(dead, 0, scores).softmax(-1));
  } else {
    weights = scores.softmax(-1);
  }
  if (dropoutP > 0) weights = F.dropout(weights, dropoutP, true, { generator });
  return [weights.matmul(v), weights];
}

/** The keys after each query (top-left aligned, PyTorch's tril), as a blocked mask [L, S]. */
function causalBlocked(l: number, s: number, q: Tensor): Tensor {
  return scope(() => arange(l, undefined, 1, { device: q.device }).unsqueeze(1).lt(arange(s, undefined, 1, { device: q.device }).unsqueeze(0)));
}

/** Splits a mask into the bool or float part of Masks; `allowed`: true marks the keys a query may see. */
function splitMask(op: string, name: string, mask: Tensor, dtype: Tensor['dtype'], allowed: boolean): Masks {
  if (mask.dtype === 'bool') return { blocked: allowed ? mask.logicalNot() : mask, additive: null };
  if (mask.dtype === 'float32' || mask.dtype === 'float64') return { blocked: null, additive: mask.dtype === dtype ? mask : mask.to(dtype) };
  throw new DLError('DTYPE', op, `${name} must be a bool or floating point tensor; got ${mask.dtype}`, `${allowed ? 'true' : 'false'} marks the keys a query may attend to: compare first (e.g. m.${allowed ? 'ne' : 'eq'}(0)) or cast with .to('float32') for an additive mask`);
}

function merge(a: Masks, b: Masks): Masks {
  const both = (x: Tensor | null, y: Tensor | null, f: (x: Tensor, y: Tensor) => Tensor) => (x && y ? f(x, y) : (x ?? y));
  return { blocked: both(a.blocked, b.blocked, (x, y) => x.logicalOr(y)), additive: both(a.additive, b.additive, (x, y) => x.add(y)) };
}

/** Checks that a mask broadcasts to `target` (the shape attention scores have). */
function checkMaskShape(op: string, name: string, mask: Tensor, target: readonly number[], expected: string): void {
  const ok = mask.ndim <= target.length && mask.shape.every((s, i) => s === 1 || s === target[target.length - mask.ndim + i]);
  if (!ok) throw new DLError('SHAPE', op, `${name} of shape ${fmtShape(mask.shape)} does not fit attention scores of shape ${fmtShape(target)}`, `give it the shape ${expected}`);
}

export interface ScaledDotProductAttentionOptions {
  /**
   * Broadcastable to the scores [..., L, S]. bool: true where a query may attend to a key
   * (PyTorch's convention for this function, the opposite of MultiheadAttention's attnMask);
   * float: added to the scores.
   */
  attnMask?: Tensor | null;
  /** Dropout probability on the attention weights, applied whenever > 0 as in PyTorch (pass 0 in evaluation). */
  dropoutP?: number;
  /** Each query sees only the keys up to its own position (top-left aligned, as PyTorch). */
  isCausal?: boolean;
  /** Multiplies q k^T; default 1 / sqrt(E). */
  scale?: number | null;
  generator?: Generator;
}

/**
 * scaled_dot_product_attention(q [..., L, E], k [..., S, E], v [..., S, Ev]) ->
 * softmax(q k^T * scale + mask) v, of shape [..., L, Ev]. The leading dims broadcast.
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, opts: ScaledDotProductAttentionOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
    checkTensor(op, name, t);
    checkFloat(op, name, t);
    if (t.ndim < 2) throw new DLError('SHAPE', op, `${name} must have at least 2 dims [..., length, features]; got shape ${fmtShape(t.shape)}`);
  }
  const e = query.shape[query.ndim - 1];
  const l = query.shape[query.ndim - 2];
  const s = key.shape[key.ndim - 2];
  if (key.shape[key.ndim - 1] !== e) throw new DLError('SHAPE', op, `query ${fmtShape(query.shape)} and key ${fmtShape(key.shape)} must have the same last dim (features)`);
  if (value.shape[value.ndim - 2] !== s) throw new DLError('SHAPE', op, `key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must have the same length (dim -2)`);
  const dropoutP = probability(op, 'dropoutP', opts.dropoutP ?? 0);
  const scale = opts.scale ?? null;
  if (scale !== null && !(typeof scale === 'number' && Number.isFinite(scale))) throw new DLError('VALUE', op, `scale must be a finite number; got ${String(scale)}`);
  const mask = opts.attnMask ?? null;
  if (mask !== null) {
    checkTensor(op, 'attnMask', mask);
    if (opts.isCausal) throw new DLError('ARGUMENT', op, 'attnMask and isCausal were both given', 'pass one: isCausal builds the causal mask itself');
    checkMaskShape(op, 'attnMask', mask, [...(query.ndim >= key.ndim ? query : key).shape.slice(0, -2), l, s], `[..., ${l}, ${s}] (or one that broadcasts to it)`);
  }
  return scope(() => {
    const masks: Masks = opts.isCausal ? { blocked: causalBlocked(l, s, query), additive: null } : mask ? splitMask(op, 'attnMask', mask, query.dtype, true) : { blocked: null, additive: null };
    return attend(query, key, value, masks, dropoutP, scale, opts.generator)[0];
  });
}

export interface MultiheadAttentionOptions extends FactoryOptions {
  /** Dropout probability on the attention weights in training (default 0). */
  dropout?: number;
  /** Biases of the input and output projections (default true). */
  bias?: boolean;
  /** Learn a key and a value appended to every sequence (biasK, biasV; default false). */
  addBiasKv?: boolean;
  /** Append a key and a value of zeros to every sequence (default false). */
  addZeroAttn?: boolean;
  /** Features of the keys (default embedDim). */
  kdim?: number;
  /** Features of the values (default embedDim). */
  vdim?: number;
  /** Inputs and outputs are [N, L, E] instead of [L, N, E] (default false, as PyTorch). */
  batchFirst?: boolean;
}

export interface MultiheadAttentionForwardOptions {
  /** [N, S] (or [S] unbatched): true (bool) marks padding keys to ignore; a float mask is added. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights too (default true). */
  needWeights?: boolean;
  /** [L, S] or [N * numHeads, L, S]: true (bool) marks pairs that may not attend; a float mask is added. */
  attnMask?: Tensor | null;
  /** Average the returned weights over the heads (default true): [N, L, S], else [N, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** Each query sees only the keys up to its own position. Unlike PyTorch's hint, this builds the mask itself. */
  isCausal?: boolean;
}

/**
 * MultiheadAttention(embedDim, numHeads, { dropout, bias, addBiasKv, addZeroAttn, kdim, vdim,
 * batchFirst }): forward(query, key, value, opts) -> [output, weights | null], with query
 * [L, N, E] (or [N, L, E] with batchFirst, or [L, E] unbatched) and key, value [S, N, kdim / vdim].
 *
 * Parameters as PyTorch (camelCase): inProjWeight [3E, E] (or qProjWeight, kProjWeight,
 * vProjWeight when kdim or vdim differ from E), inProjBias [3E], outProj (a Linear), biasK and
 * biasV [1, 1, E]. Initialised as PyTorch, drawing in its order: outProj's default Linear
 * initialisation, then xavierUniform_ of the input projections, biases zero, xavierNormal_ of
 * biasK and biasV; so the same seed gives PyTorch's weights.
 *
 * Masks keep PyTorch's conventions: for this module true means "may not attend", for
 * F.scaledDotProductAttention true means "may attend". Where every key of a query is masked,
 * PyTorch returns NaN; this returns 0.
 */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly addZeroAttn: boolean;
  inProjWeight: Parameter | null;
  qProjWeight: Parameter | null;
  kProjWeight: Parameter | null;
  vProjWeight: Parameter | null;
  inProjBias: Parameter | null;
  biasK: Parameter | null;
  biasV: Parameter | null;
  outProj: Linear;

  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    const op = 'MultiheadAttention';
    this.embedDim = positiveInt(op, 'embedDim', embedDim);
    this.numHeads = positiveInt(op, 'numHeads', numHeads);
    if (embedDim % numHeads !== 0) throw new DLError('VALUE', op, `embedDim (${embedDim}) must be divisible by numHeads (${numHeads})`, 'pick numHeads among the divisors of embedDim');
    this.headDim = embedDim / numHeads;
    this.kdim = positiveInt(op, 'kdim', opts.kdim ?? embedDim);
    this.vdim = positiveInt(op, 'vdim', opts.vdim ?? embedDim);
    this.dropout = probability(op, 'dropout', opts.dropout ?? 0);
    this.batchFirst = opts.batchFirst ?? false;
    this.addZeroAttn = opts.addZeroAttn ?? false;
    const factory = { dtype: opts.dtype, device: opts.device };
    const e = embedDim;
    const packed = this.kdim === e && this.vdim === e;
    this.inProjWeight = packed ? ownParameter(zeros([3 * e, e], factory)) : null;
    this.qProjWeight = packed ? null : ownParameter(zeros([e, e], factory));
    this.kProjWeight = packed ? null : ownParameter(zeros([e, this.kdim], factory));
    this.vProjWeight = packed ? null : ownParameter(zeros([e, this.vdim], factory));
    const bias = opts.bias ?? true;
    this.inProjBias = bias ? ownParameter(zeros([3 * e], factory)) : null;
    this.biasK = opts.addBiasKv ? ownParameter(zeros([1, 1, e], factory)) : null;
    this.biasV = opts.addBiasKv ? ownParameter(zeros([1, 1, e], factory)) : null;
    this.outProj = new Linear(e, e, { bias, ...factory });
    this.#initProjections();
  }

  #initProjections(): void {
    for (const w of [this.inProjWeight, this.qProjWeight, this.kProjWeight, this.vProjWeight]) if (w) init.xavierUniform_(w);
    if (this.inProjBias) init.zeros_(this.inProjBias);
    if (this.outProj.bias) init.zeros_(this.outProj.bias);
    for (const b of [this.biasK, this.biasV]) if (b) init.xavierNormal_(b);
  }

  /** PyTorch's initialisation (see the class comment). */
  resetParameters(): void {
    this.outProj.resetParameters();
    this.#initProjections();
  }

  override forward(query: Tensor, key: Tensor, value: Tensor, opts: MultiheadAttentionForwardOptions = {}): [Tensor, Tensor | null] {
    const op = 'MultiheadAttention';
    const batched = this.#checkInputs(op, query, key, value);
    const n = batched ? query.shape[this.batchFirst ? 0 : 1] : 1;
    const l = query.shape[batched && !this.batchFirst ? 0 : query.ndim - 2];
    const s = key.shape[batched && !this.batchFirst ? 0 : key.ndim - 2];
    const h = this.numHeads;
    const { keyPaddingMask = null, attnMask = null } = opts;
    if (keyPaddingMask !== null) {
      checkTensor(op, 'keyPaddingMask', keyPaddingMask);
      const want = batched ? [n, s] : [s];
      if (fmtShape(keyPaddingMask.shape) !== fmtShape(want)) throw new DLError('SHAPE', op, `keyPaddingMask must have shape ${fmtShape(want)} (${batched ? 'batch, ' : ''}keys); got ${fmtShape(keyPaddingMask.shape)}`);
    }
    if (attnMask !== null) {
      checkTensor(op, 'attnMask', attnMask);
      if (opts.isCausal) throw new DLError('ARGUMENT', op, 'attnMask and isCausal were both given', 'pass one: isCausal builds the causal mask itself');
      const ok = (attnMask.ndim === 2 && attnMask.shape[0] === l && attnMask.shape[1] === s) || (attnMask.ndim === 3 && attnMask.shape[0] === n * h && attnMask.shape[1] === l && attnMask.shape[2] === s);
      if (!ok) throw new DLError('SHAPE', op, `attnMask must have shape [${l}, ${s}] or [${n * h}, ${l}, ${s}] (batch * numHeads, queries, keys); got ${fmtShape(attnMask.shape)}`);
    }
    return scope(() => {
      // Work in [N, L, E].
      const toNle = (t: Tensor) => (!batched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
      let [q, k, v] = this.#project(toNle(query), query === key && key === value ? null : toNle(key), key === value ? null : toNle(value));
      let masks: Masks = { blocked: null, additive: null };
      if (opts.isCausal) masks.blocked = causalBlocked(l, s, query);
      if (attnMask) masks = splitMask(op, 'attnMask', attnMask.ndim === 3 ? attnMask.reshape([n, h, l, s]) : attnMask, q.dtype, false);
      if (keyPaddingMask) masks = merge(masks, splitMask(op, 'keyPaddingMask', keyPaddingMask.reshape([n, 1, 1, s]), q.dtype, false));
      if (this.biasK && this.biasV) {
        k = cat([k, this.biasK.expand([n, 1, this.embedDim])], 1);
        v = cat([v, this.biasV.expand([n, 1, this.embedDim])], 1);
        masks = padKeys(masks);
      }
      const heads = (t: Tensor) => t.reshape([n, t.shape[1], h, this.headDim]).transpose(1, 2);
      [q, k, v] = [heads(q), heads(k), heads(v)];
      if (this.addZeroAttn) {
        k = cat([k, zeros([n, h, 1, this.headDim], { dtype: k.dtype, device: k.device })], 2);
        v = cat([v, zeros([n, h, 1, this.headDim], { dtype: v.dtype, device: v.device })], 2);
        masks = padKeys(masks);
      }
      const [o, w] = attend(q, k, v, masks, this.training ? this.dropout : 0, null);
      const out = this.outProj.forward(o.transpose(1, 2).reshape([n, l, this.embedDim]));
      const output = !batched ? out.squeeze(0) : this.batchFirst ? out : out.transpose(0, 1);
      if (!(opts.needWeights ?? true)) return [output, null] as [Tensor, Tensor | null];
      const weights = (opts.averageAttnWeights ?? true) ? w.mean(1) : w;
      return [output, batched ? weights : weights.squeeze(0)] as [Tensor, Tensor | null];
    });
  }

  #checkInputs(op: string, query: Tensor, key: Tensor, value: Tensor): boolean {
    for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
      checkTensor(op, name, t);
      checkFloat(op, name, t);
    }
    const batched = query.ndim === 3;
    const layout = batched ? (this.batchFirst ? '[N, L, features] (batchFirst)' : '[L, N, features]') : '[L, features]';
    if (query.ndim !== 2 && query.ndim !== 3) throw new DLError('SHAPE', op, `query must be ${this.batchFirst ? '[N, L, E]' : '[L, N, E]'} or unbatched [L, E]; got shape ${fmtShape(query.shape)}`);
    for (const [name, t, dim] of [['query', query, this.embedDim], ['key', key, this.kdim], ['value', value, this.vdim]] as const) {
      if (t.ndim !== query.ndim || t.shape[t.ndim - 1] !== dim) {
        throw new DLError('SHAPE', op, `${name} must be ${layout} with ${dim} features, like the query ${fmtShape(query.shape)}; got shape ${fmtShape(t.shape)}`, name === 'query' ? `embedDim is ${this.embedDim}` : `the module was built with ${name === 'key' ? 'kdim' : 'vdim'} = ${dim}`);
      }
    }
    const batchDim = this.batchFirst ? 0 : 1;
    if (batched && (key.shape[batchDim] !== query.shape[batchDim] || value.shape[batchDim] !== query.shape[batchDim])) {
      throw new DLError('SHAPE', op, `query, key and value must have the same batch size (dim ${batchDim}); got shapes ${fmtShape(query.shape)}, ${fmtShape(key.shape)} and ${fmtShape(value.shape)}`);
    }
    const seqDim = batched && !this.batchFirst ? 0 : key.ndim - 2;
    if (key.shape[seqDim] !== value.shape[seqDim]) throw new DLError('SHAPE', op, `key ${fmtShape(key.shape)} and value ${fmtShape(value.shape)} must have the same length (dim ${seqDim})`);
    return batched;
  }

  /** The input projections of [N, *, features] inputs; key or value null: the same tensor as the one before. */
  #project(query: Tensor, key: Tensor | null, value: Tensor | null): [Tensor, Tensor, Tensor] {
    if (this.inProjWeight && key === null && value === null) {
      const [q, k, v] = F.linear(query, this.inProjWeight, this.inProjBias).chunk(3, -1);
      return [q, k, v];
    }
    const [wq, wk, wv] = this.inProjWeight ? this.inProjWeight.chunk(3) : [this.qProjWeight, this.kProjWeight, this.vProjWeight];
    const [bq, bk, bv] = this.inProjBias ? this.inProjBias.chunk(3) : [null, null, null];
    const k = key ?? query;
    return [F.linear(query, wq as Tensor, bq), F.linear(k, wk as Tensor, bk), F.linear(value ?? k, wv as Tensor, bv)];
  }

  override extraRepr(): string {
    const extra = [this.kdim !== this.embedDim && `kdim=${this.kdim}`, this.vdim !== this.embedDim && `vdim=${this.vdim}`, this.biasK && 'addBiasKv=true', this.addZeroAttn && 'addZeroAttn=true', this.batchFirst && 'batchFirst=true'];
    return [`embedDim=${this.embedDim}`, `numHeads=${this.numHeads}`, `dropout=${this.dropout}`, `bias=${this.inProjBias !== null}`, ...extra.filter(Boolean)].join(', ');
  }
}

/** Masks for keys with one more key appended (a learned bias or zeros), which every query may see. */
function padKeys(masks: Masks): Masks {
  const pad = (t: Tensor | null) => (t ? cat([t, zeros([...t.shape.slice(0, -1), 1], { dtype: t.dtype, device: t.device })], -1) : null);
  return { blocked: pad(masks.blocked), additive: pad(masks.additive) };
}
