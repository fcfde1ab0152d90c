/**
 * Attention: F.scaledDotProductAttention, MultiheadAttention, TransformerEncoderLayer and
 * TransformerEncoder, against a float64 definition written here with plain arrays, gradcheck,
 * and PyTorch 1.13 itself (fixtures/torch_attention.py, run here).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, defaultGenerator, manualSeed, rand, randn, tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck, noGrad } from '@dl/autograd';
import { F, LayerNorm, type Module, MultiheadAttention, TransformerEncoder, TransformerEncoderLayer, utils } from '@dl/nn';
import { type Mat, type P, add, arr, attention, closeness, gelu, layerNorm, linear, mhaRef, params, relu, sinSeq, sub } from './attention-reference.js';
import { python } from './helpers.js';

/** TransformerEncoderLayer for one sample x [L, E]. */
function encoderLayerRef(p: P, prefix: string, h: number, x: Mat, opts: { normFirst?: boolean; act?: (x: number) => number; blocked?: (i: number, j: number) => boolean }): Mat {
  const attn = (y: Mat) => mhaRef(sub(p, `${prefix}selfAttn`), h, y, y, y, { blocked: opts.blocked && ((_, i, j) => opts.blocked?.(i, j) ?? false) }).out;
  const ln = (y: Mat, n: string) => layerNorm(y, arr(p[`${prefix}${n}.weight`]), arr(p[`${prefix}${n}.bias`]));
  const ff = (y: Mat) => linear(linear(y, arr(p[`${prefix}linear1.weight`]), arr(p[`${prefix}linear1.bias`])).map((r) => r.map(opts.act ?? relu)), arr(p[`${prefix}linear2.weight`]), arr(p[`${prefix}linear2.bias`]));
  if (opts.normFirst) {
    const y = add(x, attn(ln(x, 'norm1')));
    return add(y, ff(ln(y, 'norm2')));
  }
  const y = ln(add(x, attn(x)), 'norm1');
  return ln(add(y, ff(y)), 'norm2');
}

// ------------------------------------------------------------------ scaledDotProductAttention
describe('F.scaledDotProductAttention', () => {
  const g = new Generator(1);
  const q = randn([2, 3, 4, 5], { dtype: 'float64', generator: g });
  const k = randn([2, 3, 6, 5], { dtype: 'float64', generator: g });
  const v = randn([2, 3, 6, 7], { dtype: 'float64', generator: g });
  const each = (fn: (q: Mat, k: Mat, v: Mat, b: number, h: number) => Mat) =>
    [0, 1].map((b) => [0, 1, 2].map((h) => fn((arr(q) as Mat[][])[b][h], (arr(k) as Mat[][])[b][h], (arr(v) as Mat[][])[b][h], b, h)));

  it('is softmax(q k^T / sqrt(E)) v, and takes a scale', () => {
    expect(closeness(arr(F.scaledDotProductAttention(q, k, v)), each((a, b, c) => attention(a, b, c).out))).toBeLessThanOrEqual(1);
    expect(closeness(arr(F.scaledDotProductAttention(q, k, v, { scale: 0.3 })), each((a, b, c) => attention(a, b, c, { scale: 0.3 }).out))).toBeLessThanOrEqual(1);
  });

  it('bool masks mark the keys a query may see (broadcast), float masks are added, isCausal is top-left aligned', () => {
    const allowed = rand([4, 6], { generator: g }).gt(0.3);
    const al = arr(allowed.to('float64')) as Mat;
    expect(closeness(arr(F.scaledDotProductAttention(q, k, v, { attnMask: allowed })), each((a, b, c) => attention(a, b, c, { blocked: (i, j) => al[i][j] === 0 }).out))).toBeLessThanOrEqual(1);
    const add = randn([3, 4, 6], { dtype: 'float64', generator: g });
    const ad = arr(add) as Mat[];
    expect(closeness(arr(F.scaledDotProductAttention(q, k, v, { attnMask: add })), each((a, b, c, _, h) => attention(a, b, c, { add: (i, j) => ad[h][i][j] }).out))).toBeLessThanOrEqual(1);
    expect(closeness(arr(F.scaledDotProductAttention(q, k, v, { isCausal: true })), each((a, b, c) => attention(a, b, c, { blocked: (i, j) => j > i }).out))).toBeLessThanOrEqual(1);
  });

  it('a query with every key masked gives 0 and gradient 0 (PyTorch: NaN)', () => {
    const qq = q.detach().requiresGrad_();
    const mask = tensor([[true, true, false, false, true, false], [false, false, false, false, false, false], [true, true, true, true, true, true], [false, true, false, false, false, false]]);
    const y = F.scaledDotProductAttention(qq, k, v, { attnMask: mask });
    const ys = arr(y) as Mat[][];
    for (const b of [0, 1]) for (const h of [0, 1, 2]) expect(ys[b][h][1]).toEqual(new Array(7).fill(0));
    y.sum().backward();
    const gq = arr(qq.grad as Tensor) as Mat[][];
    for (const b of [0, 1]) for (const h of [0, 1, 2]) expect(gq[b][h][1]).toEqual(new Array(5).fill(0));
    expect(Boolean((qq.grad as Tensor).isfinite().all().item())).toBe(true);
  });

  it('passes gradcheck with masks', () => {
    const [a, b, c] = [q, k, v].map((t) => t.narrow(0, 0, 1).detach().requiresGrad_());
    const add = randn([4, 6], { dtype: 'float64', generator: g }).requiresGrad_();
    expect(gradcheck((x, y, z, m) => F.scaledDotProductAttention(x, y, z, { attnMask: m }), [a, b, c, add])).toBe(true);
    expect(gradcheck((x, y, z) => F.scaledDotProductAttention(x, y, z, { isCausal: true, scale: 0.7 }), [a, b, c])).toBe(true);
  });

  it('drops attention weights out with dropoutP (same generator, same mask as F.dropout)', () => {
    const y = F.scaledDotProductAttention(q, k, v, { dropoutP: 0.4, generator: new Generator(9) });
    const w = q.div(Math.sqrt(5)).matmul(k.transpose(-2, -1)).softmax(-1);
    const expected = F.dropout(w, 0.4, true, { generator: new Generator(9) }).matmul(v);
    expect(closeness(arr(y), arr(expected))).toBeLessThanOrEqual(1);
  });

  it('refuses bad input, saying what to pass', () => {
    expect(() => F.scaledDotProductAttention(q, k.narrow(3, 0, 4), v)).toThrow(/same last dim/);
    expect(() => F.scaledDotProductAttention(q, k, v.narrow(2, 0, 5))).toThrow(/same length/);
    expect(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor([1, 2], { dtype: 'int32' }).reshape([1, 2]) })).toThrow(/does not fit/);
    expect(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor([[1, 0, 1, 0, 1, 0]], { dtype: 'int32' }) })).toThrow(/bool or floating point/);
    expect(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor([[true]]), isCausal: true })).toThrow(/both given/);
    expect(() => F.scaledDotProductAttention(q, k, v, { dropoutP: 1.5 })).toThrow(/between 0 and 1/);
  });
});

// ------------------------------------------------------------------ MultiheadAttention
describe('MultiheadAttention', () => {
  const g = new Generator(2);
  const x = (shape: number[], gen = g) => randn(shape, { dtype: 'float64', generator: gen });

  it('equals the float64 definition: [L, N, E] and batchFirst, masks of both kinds, per-head weights', () => {
    manualSeed(0);
    const m = new MultiheadAttention(6, 3).double();
    const [q, k, v] = [x([4, 2, 6]), x([5, 2, 6]), x([5, 2, 6])];
    const kpm = tensor([[false, true, false, false, false], [false, false, false, true, true]]);
    const am = x([4, 5]);
    const [out, w] = m.forward(q, k, v, { keyPaddingMask: kpm, attnMask: am, averageAttnWeights: false });
    const kp = arr(kpm.to('float64')) as Mat;
    const amA = arr(am) as Mat;
    const per = (b: number) =>
      mhaRef(params(m), 3, (arr(q) as Mat[]).map((r) => r[b]), (arr(k) as Mat[]).map((r) => r[b]), (arr(v) as Mat[]).map((r) => r[b]), { blocked: (_, __, j) => kp[b][j] === 1, add: (i, j) => amA[i][j] });
    const refs = [per(0), per(1)];
    expect(closeness(arr(out.transpose(0, 1)), refs.map((r) => r.out))).toBeLessThanOrEqual(1);
    expect(closeness(arr(w as Tensor), refs.map((r) => r.w))).toBeLessThanOrEqual(1);

    const bf = new MultiheadAttention(6, 3, { batchFirst: true }).double();
    bf.loadStateDict(m.stateDict());
    const [out2, w2] = bf.forward(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), { keyPaddingMask: kpm, attnMask: am });
    expect(closeness(arr(out2), arr(out.transpose(0, 1)))).toBeLessThanOrEqual(1);
    expect(closeness(arr(w2 as Tensor), arr((w as Tensor).mean(1)))).toBeLessThanOrEqual(1);
  });

  it('kdim / vdim, addBiasKv, addZeroAttn and a 3-D bool attnMask equal the definition', () => {
    manualSeed(1);
    const m = new MultiheadAttention(4, 2, { kdim: 3, vdim: 5, addBiasKv: true, addZeroAttn: true, batchFirst: true }).double();
    expect(Object.keys(m.stateDict())).toEqual(['qProjWeight', 'kProjWeight', 'vProjWeight', 'inProjBias', 'biasK', 'biasV', 'outProj.weight', 'outProj.bias']);
    const [q, k, v] = [x([2, 3, 4]), x([2, 4, 3]), x([2, 4, 5])];
    const mask = rand([4, 3, 4], { generator: g }).gt(0.6);
    const mk = arr(mask.to('float64')) as Mat[];
    const [out, w] = m.forward(q, k, v, { attnMask: mask, averageAttnWeights: false });
    const refs = [0, 1].map((b) => mhaRef(params(m), 2, (arr(q) as Mat[])[b], (arr(k) as Mat[])[b], (arr(v) as Mat[])[b], { blocked: (h, i, j) => j < 4 && mk[b * 2 + h][i][j] === 1, zeroAttn: true }));
    expect(closeness(arr(out), refs.map((r) => r.out))).toBeLessThanOrEqual(1);
    expect((w as Tensor).shape).toEqual([2, 2, 3, 6]);
    expect(closeness(arr(w as Tensor), refs.map((r) => r.w))).toBeLessThanOrEqual(1);
  });

  it('unbatched input, needWeights false, and isCausal (the mask built for you)', () => {
    manualSeed(2);
    const m = new MultiheadAttention(4, 2).double();
    const q = x([3, 4]);
    const [out, w] = m.forward(q, q, q, { isCausal: true });
    const ref = mhaRef(params(m), 2, arr(q), arr(q), arr(q), { blocked: (_, i, j) => j > i });
    expect(closeness(arr(out), ref.out)).toBeLessThanOrEqual(1);
    expect(closeness(arr(w as Tensor), ref.w[0].map((r, i) => r.map((c, j) => (c + ref.w[1][i][j]) / 2)))).toBeLessThanOrEqual(1);
    expect(m.forward(q, q, q, { needWeights: false })[1]).toBeNull();
  });

  it('passes gradcheck: inputs and every parameter, with addBiasKv and masks', () => {
    manualSeed(3);
    const m = new MultiheadAttention(4, 2, { kdim: 3, addBiasKv: true }).double();
    const names = m.namedParameters().map(([n]) => n);
    const [q, k, v] = [x([3, 2, 4]), x([2, 2, 3]), x([2, 2, 4])].map((t) => t.requiresGrad_());
    const kpm = tensor([[false, true], [false, false]]);
    const fn = (a: Tensor, b: Tensor, c: Tensor, ...ps: Tensor[]) => {
      const [o, w] = utils.functionalCall(m, Object.fromEntries(names.map((n, i) => [n, ps[i]])), a, b, c, { keyPaddingMask: kpm }) as [Tensor, Tensor];
      return [o, w];
    };
    expect(gradcheck(fn, [q, k, v, ...m.parameters()])).toBe(true);
  });

  it('applies dropout to the attention weights in training only', () => {
    manualSeed(4);
    const m = new MultiheadAttention(4, 2, { dropout: 0.5 });
    const q = randn([3, 2, 4]);
    const a = m.forward(q, q, q)[1] as Tensor;
    const b = m.forward(q, q, q)[1] as Tensor;
    expect(a.allclose(b)).toBe(false);
    m.eval();
    const c = m.forward(q, q, q)[1] as Tensor;
    expect(c.sum(-1).allclose(tensor(1).expand([2, 3]), { atol: 1e-6 })).toBe(true);
  });

  it('refuses bad input, saying what to pass', () => {
    expect(() => new MultiheadAttention(6, 4)).toThrow(/divisible by numHeads/);
    const m = new MultiheadAttention(4, 2, { kdim: 3 });
    const q = randn([3, 2, 4]);
    const k = randn([5, 2, 3]);
    expect(() => m.forward(q, q, q)).toThrow(/key must be \[L, N, features\] with 3 features/);
    expect(() => m.forward(q, k, randn([5, 2, 3]))).toThrow(/value .* with 4 features/);
    expect(() => m.forward(q, k, randn([4, 2, 4]))).toThrow(/same length/);
    expect(() => m.forward(q, randn([5, 3, 3]), randn([5, 3, 4]))).toThrow(/same batch size/);
    expect(() => m.forward(q, k, randn([5, 2, 4]), { keyPaddingMask: tensor([[true, false]]) })).toThrow(/keyPaddingMask must have shape \[2, 5\]/);
    expect(() => m.forward(q, k, randn([5, 2, 4]), { attnMask: tensor([[true]]) })).toThrow(/attnMask must have shape \[3, 5\] or \[4, 3, 5\]/);
    expect(() => m.forward(randn([4]), k, k)).toThrow(/query must be/);
  });
});

// ------------------------------------------------------------------ Transformer encoder
describe('TransformerEncoderLayer and TransformerEncoder', () => {
  it('post-norm (relu) and pre-norm (gelu) layers equal the float64 definition', () => {
    for (const normFirst of [false, true]) {
      manualSeed(5);
      const layer = new TransformerEncoderLayer(6, 2, { dimFeedforward: 10, normFirst, activation: normFirst ? 'gelu' : 'relu', batchFirst: true }).double().eval();
      const xs = randn([2, 4, 6], { dtype: 'float64', generator: new Generator(6) });
      const y = layer.forward(xs, { isCausal: true });
      const ref = (arr(xs) as Mat[]).map((s) => encoderLayerRef(params(layer), '', 2, s, { normFirst, act: normFirst ? gelu : relu, blocked: (i, j) => j > i }));
      expect(closeness(arr(y), ref, 1e-11, 1e-9)).toBeLessThanOrEqual(1);
    }
  });

  it('TransformerEncoder: copies that start as the given layer, draw no random numbers, and train apart', () => {
    manualSeed(7);
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 8, dropout: 0 });
    const after = defaultGenerator.getState();
    const enc = new TransformerEncoder(layer, 3, { norm: new LayerNorm(4) });
    expect(defaultGenerator.getState()).toEqual(after);
    expect(enc.layers.length).toBe(3);
    const sd = layer.stateDict();
    for (const [name, t] of Object.entries(enc.stateDict())) {
      const m = /^layers\.\d\.(.*)$/.exec(name);
      if (m) expect(Array.from(t.dataSync())).toEqual(Array.from(sd[m[1]].dataSync()));
    }
    const first = enc.layers.get(0) as TransformerEncoderLayer;
    noGrad(() => first.linear1.weight.add_(1));
    expect((enc.layers.get(1) as TransformerEncoderLayer).linear1.weight.allclose(layer.linear1.weight)).toBe(true);
    // Forward: the layers in turn, then the norm.
    const x = randn([5, 2, 4]);
    const kpm = tensor([[false, false, false, true, true], [false, false, false, false, false]]);
    let expected = x;
    for (const l of enc.layers) expected = (l as TransformerEncoderLayer).forward(expected, { srcKeyPaddingMask: kpm });
    expected = (enc.norm as Module).forward(expected);
    expect(enc.forward(x, { srcKeyPaddingMask: kpm }).allclose(expected)).toBe(true);
  });

  it('passes gradcheck (input and parameters)', () => {
    manualSeed(8);
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, normFirst: true }).double();
    const names = layer.namedParameters().map(([n]) => n);
    const x = randn([3, 2, 4], { dtype: 'float64' }).requiresGrad_();
    const fn = (inp: Tensor, ...ps: Tensor[]) => utils.functionalCall(layer, Object.fromEntries(names.map((n, i) => [n, ps[i]])), inp, { isCausal: true }) as Tensor;
    expect(gradcheck(fn, [x, ...layer.parameters()])).toBe(true);
  });

  it('refuses bad options', () => {
    expect(() => new TransformerEncoderLayer(6, 4)).toThrow(/divisible by numHeads/);
    expect(() => new TransformerEncoderLayer(6, 2, { activation: 'tanh' as never })).toThrow(/activation must be 'relu', 'gelu' or a function/);
    expect(() => new TransformerEncoder(new LayerNorm(4) as never, 2)).toThrow(/encoderLayer must be a TransformerEncoderLayer; got LayerNorm/);
  });
});

// ------------------------------------------------------------------ PyTorch 1.13
type Case = { output: number[]; weights: number[] | null; inputGrads: number[][]; paramGrads: Record<string, number[]> };
const ref: Record<string, unknown> = python
  ? JSON.parse(spawnSync(python, [join(import.meta.dirname, 'fixtures', 'torch_attention.py')], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout)
  : {};
/** Our state dict under PyTorch's names (in_proj_weight for inProjWeight) equals PyTorch's. */
function expectState(m: Module, torchState: unknown): void {
  const ours = Object.fromEntries(Object.entries(utils.stateDictToPyTorch(m.stateDict())).map(([k, t]) => [k, Array.from(t.dataSync())]));
  expect(ours).toEqual(torchState);
}

/** Forward and backward as the fixture's run(): loss = sum(out * seq) (+ sum(weights * seq)). */
function runCase(m: Module, inputs: Tensor[], call: (...xs: Tensor[]) => Tensor | [Tensor, Tensor | null], expected: Case): void {
  for (const t of inputs) t.requiresGrad_();
  const r = call(...inputs);
  const [out, w] = Array.isArray(r) ? r : [r, null];
  let loss = out.mul(sinSeq(out.shape, 0.7, 0.2)).sum();
  if (w) loss = loss.add(w.mul(sinSeq(w.shape, 0.3, 0.5)).sum());
  loss.backward();
  const near = (a: Tensor, b: number[], what: string) => expect(closeness(Array.from(a.dataSync()), b, 2e-6, 2e-5), what).toBeLessThanOrEqual(1);
  near(out, expected.output, 'output');
  if (w) near(w, expected.weights as number[], 'weights');
  for (const [i, t] of inputs.entries()) near(t.grad as Tensor, expected.inputGrads[i], `input ${i} gradient`);
  const grads = utils.stateDictToPyTorch(Object.fromEntries(m.namedParameters().map(([n, p]) => [n, p.grad as Tensor])));
  expect(Object.keys(grads)).toEqual(Object.keys(expected.paramGrads));
  for (const [name, g] of Object.entries(expected.paramGrads)) near(grads[name], g, `${name} gradient`);
}

describe.skipIf(!python)('the same as PyTorch 1.13 (skipped only where python3 with torch is missing)', () => {
  it('MultiheadAttention: initial weights from the same seed, outputs, weights and gradients with masks', () => {
    manualSeed(0);
    const m = new MultiheadAttention(8, 2);
    expectState(m, ref.mhaInit);
    const kpm = tensor([[false, false, true, false], [true, false, false, false]]);
    runCase(m, [sinSeq([3, 2, 8]), sinSeq([4, 2, 8], 0.21, 0.4), sinSeq([4, 2, 8], 0.53, 1.0)], (q, k, v) => m.forward(q, k, v, { keyPaddingMask: kpm, attnMask: sinSeq([3, 4], 0.9, 0.3).mul(0.5) }), ref.mha as Case);
  });

  it('MultiheadAttention with kdim, vdim, addBiasKv, addZeroAttn, batchFirst and a bool mask', () => {
    manualSeed(1);
    const m = new MultiheadAttention(8, 2, { kdim: 5, vdim: 3, addBiasKv: true, addZeroAttn: true, batchFirst: true });
    expectState(m, ref.mhaKvInit);
    const blocked = sinSeq([4, 3, 4], 1.3, 0.2).gt(0.6);
    runCase(m, [sinSeq([2, 3, 8]), sinSeq([2, 4, 5], 0.21, 0.4), sinSeq([2, 4, 3], 0.53, 1.0)], (q, k, v) => m.forward(q, k, v, { attnMask: blocked, averageAttnWeights: false }), ref.mhaKv as Case);
  });

  it('TransformerEncoderLayer (post-norm, padding mask)', () => {
    manualSeed(2);
    const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
    expectState(layer, ref.layerInit);
    const kpm = tensor([[false, false, false, false, true], [false, false, false, false, false]]);
    runCase(layer, [sinSeq([5, 2, 8])], (x) => layer.forward(x, { srcKeyPaddingMask: kpm }), ref.layer as Case);
  });

  it('TransformerEncoder of pre-norm gelu layers with a final LayerNorm, causal (our isCausal, their explicit mask)', () => {
    manualSeed(3);
    const pre = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: 'gelu', batchFirst: true, normFirst: true });
    const enc = new TransformerEncoder(pre, 2, { norm: new LayerNorm(8) });
    expectState(enc, ref.encoderInit);
    runCase(enc, [sinSeq([2, 5, 8])], (x) => enc.forward(x, { isCausal: true }), ref.encoder as Case);
  });
});
