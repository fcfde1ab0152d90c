/**
 * TransformerDecoderLayer, TransformerDecoder and Transformer: against a float64 definition
 * written here with plain arrays, gradcheck, and PyTorch 1.13 itself
 * (fixtures/torch_transformer.py, run here).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, defaultGenerator, manualSeed, randn, tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck, noGrad } from '@dl/autograd';
import { LayerNorm, type Module, Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer, init, utils } from '@dl/nn';
import { type MaskFns, type Mat, type P, add, arr, closeness, gelu, layerNorm, linear, mhaRef, params, relu, sinSeq, sub } from './attention-reference.js';
import { python } from './helpers.js';

/** MultiheadAttention `prefix` of p for one sample, keys and values the same: q [L, E], kv [S, E]. */
const mha = (p: P, prefix: string, h: number, q: Mat, kv: Mat, masks: MaskFns): Mat =>
  mhaRef(sub(p, prefix), h, q, kv, kv, { blocked: masks.blocked && ((_, i, j) => masks.blocked?.(i, j) ?? false), add: masks.add }).out;

interface DecoderRefOptions {
  normFirst?: boolean;
  act?: (x: number) => number;
  tgt?: MaskFns;
  memory?: MaskFns;
}

/** TransformerDecoderLayer (dropout 0) for one sample: x [T, E], memory [S, E]. */
function decoderLayerRef(p: P, h: number, x: Mat, memory: Mat, opts: DecoderRefOptions): Mat {
  const selfAttn = (y: Mat) => mha(p, 'selfAttn', h, y, y, opts.tgt ?? {});
  const memAttn = (y: Mat) => mha(p, 'multiheadAttn', h, y, memory, opts.memory ?? {});
  const ln = (y: Mat, n: string) => layerNorm(y, arr(p[`${n}.weight`]), arr(p[`${n}.bias`]));
  const ff = (y: Mat) => linear(linear(y, arr(p['linear1.weight']), arr(p['linear1.bias'])).map((r) => r.map(opts.act ?? relu)), arr(p['linear2.weight']), arr(p['linear2.bias']));
  if (opts.normFirst) {
    const y = add(x, selfAttn(ln(x, 'norm1')));
    const z = add(y, memAttn(ln(y, 'norm2')));
    return add(z, ff(ln(z, 'norm3')));
  }
  const y = ln(add(x, selfAttn(x)), 'norm1');
  const z = ln(add(y, memAttn(y)), 'norm2');
  return ln(add(z, ff(z)), 'norm3');
}

/** Adds noise to every parameter, so that the LayerNorms (initially weight 1, bias 0) differ from each other. */
const perturb = (m: Module, g: Generator) =>
  noGrad(() => {
    for (const p of m.parameters()) p.add_(randn(p.shape, { dtype: p.dtype, generator: g }).mul(0.2));
  });
/** Sample b of a [L, N, E] (or batchFirst [N, L, E]) tensor, as [L, E]. */
const sample = (t: Tensor, b: number, batchFirst: boolean): Mat => arr(batchFirst ? t.select(0, b) : t.select(1, b));

// ------------------------------------------------------------------ TransformerDecoderLayer
describe('TransformerDecoderLayer', () => {
  it('post-norm (relu) and pre-norm (gelu), batched both ways and unbatched, equal the float64 definition with causal and padding masks', () => {
    const g = new Generator(10);
    const memKpm = tensor([[false, true, false, false, true], [false, false, false, true, false]]);
    const kp = arr(memKpm.to('float64')) as Mat;
    const memAdd = randn([4, 5], { dtype: 'float64', generator: g });
    const ma = arr(memAdd) as Mat;
    const causal = { blocked: (i: number, j: number) => j > i };
    const cases = [
      // A float causal tgtMask (PyTorch's generateSquareSubsequentMask), a float memoryMask and memory padding.
      { normFirst: false, batchFirst: false, opts: { tgtMask: Transformer.generateSquareSubsequentMask(4, { dtype: 'float64' }), memoryMask: memAdd, memoryKeyPaddingMask: memKpm }, memory: (b: number) => ({ blocked: (_: number, j: number) => kp[b][j] === 1, add: (i: number, j: number) => ma[i][j] }) },
      // tgtIsCausal (the mask built for you) and memory padding.
      { normFirst: true, batchFirst: true, opts: { tgtIsCausal: true, memoryKeyPaddingMask: memKpm }, memory: (b: number) => ({ blocked: (_: number, j: number) => kp[b][j] === 1 }) },
    ];
    for (const c of cases) {
      manualSeed(5);
      const act = c.normFirst ? gelu : relu;
      const layer = new TransformerDecoderLayer(6, 2, { dimFeedforward: 10, normFirst: c.normFirst, activation: c.normFirst ? 'gelu' : 'relu', batchFirst: c.batchFirst }).double().eval();
      perturb(layer, g);
      const tgt = randn(c.batchFirst ? [2, 4, 6] : [4, 2, 6], { dtype: 'float64', generator: g });
      const memory = randn(c.batchFirst ? [2, 5, 6] : [5, 2, 6], { dtype: 'float64', generator: g });
      const y = layer.forward(tgt, memory, c.opts);
      expect(y.shape).toEqual(tgt.shape);
      const refs = [0, 1].map((b) => decoderLayerRef(params(layer), 2, sample(tgt, b, c.batchFirst), sample(memory, b, c.batchFirst), { normFirst: c.normFirst, act, tgt: causal, memory: c.memory(b) }));
      expect(closeness([0, 1].map((b) => sample(y, b, c.batchFirst)), refs, 1e-11, 1e-9)).toBeLessThanOrEqual(1);
    }
    // Unbatched [T, E] and [S, E], with memoryIsCausal (target i sees memory 0..i).
    manualSeed(6);
    const layer = new TransformerDecoderLayer(6, 3, { dimFeedforward: 8 }).double().eval();
    perturb(layer, g);
    const tgt = randn([4, 6], { dtype: 'float64', generator: g });
    const memory = randn([5, 6], { dtype: 'float64', generator: g });
    const y = layer.forward(tgt, memory, { memoryIsCausal: true, tgtKeyPaddingMask: tensor([false, false, true, false]) });
    const ref = decoderLayerRef(params(layer), 3, arr(tgt), arr(memory), { tgt: { blocked: (_, j) => j === 2 }, memory: causal });
    expect(closeness(arr(y), ref, 1e-11, 1e-9)).toBeLessThanOrEqual(1);
  });

  it('drops out in training only: in evaluation it equals the same weights with dropout 0', () => {
    manualSeed(7);
    const layer = new TransformerDecoderLayer(4, 2, { dimFeedforward: 8, dropout: 0.5 });
    const plain = new TransformerDecoderLayer(4, 2, { dimFeedforward: 8, dropout: 0 });
    plain.loadStateDict(layer.stateDict());
    const [tgt, memory] = [randn([3, 2, 4]), randn([5, 2, 4])];
    expect(layer.forward(tgt, memory).allclose(layer.forward(tgt, memory))).toBe(false);
    layer.eval();
    expect(layer.forward(tgt, memory).allclose(plain.forward(tgt, memory), { atol: 1e-6 })).toBe(true);
  });

  it('passes gradcheck: tgt, memory and every parameter, with a causal mask and memory padding', () => {
    for (const normFirst of [false, true]) {
      manualSeed(8);
      const layer = new TransformerDecoderLayer(4, 2, { dimFeedforward: 6, dropout: 0, normFirst }).double();
      const names = layer.namedParameters().map(([n]) => n);
      expect(names).toHaveLength(18);
      const tgt = randn([3, 2, 4], { dtype: 'float64' }).requiresGrad_();
      const memory = randn([4, 2, 4], { dtype: 'float64' }).requiresGrad_();
      const memoryKeyPaddingMask = tensor([[false, false, true, false], [false, false, false, false]]);
      const fn = (t: Tensor, m: Tensor, ...ps: Tensor[]) => utils.functionalCall(layer, Object.fromEntries(names.map((n, i) => [n, ps[i]])), t, m, { tgtIsCausal: true, memoryKeyPaddingMask }) as Tensor;
      expect(gradcheck(fn, [tgt, memory, ...layer.parameters()])).toBe(true);
    }
  });

  it('refuses bad input, saying what to pass', () => {
    expect(() => new TransformerDecoderLayer(6, 4)).toThrow(/divisible by numHeads/);
    expect(() => new TransformerDecoderLayer(6, 2, { activation: 'tanh' as never })).toThrow(/TransformerDecoderLayer: activation must be 'relu', 'gelu' or a function/);
    expect(() => new TransformerDecoderLayer(6, 2, { dropout: 2 })).toThrow(/TransformerDecoderLayer: dropout has to be between 0 and 1/);
    const layer = new TransformerDecoderLayer(4, 2, { dimFeedforward: 8 });
    const tgt = randn([3, 2, 4]);
    expect(() => layer.forward(tgt, randn([5, 2, 6]))).toThrow(/TransformerDecoderLayer: memory must have dModel = 4 features \(last dim\); got shape \[5, 2, 6\]\nhint: project it to 4 features/);
    expect(() => layer.forward(randn([3, 2, 5]), randn([5, 2, 4]))).toThrow(/tgt must have dModel = 4 features/);
    expect(() => layer.forward(tgt, randn([5, 3, 4]))).toThrow(/tgt and memory must have the same batch size \(dim 1\); got shapes \[3, 2, 4\] and \[5, 3, 4\]\nhint: inputs are \[L, N, E\] \(batchFirst: false\)/);
    expect(() => layer.forward(tgt, randn([5, 4]))).toThrow(/tgt \[3, 2, 4\] and memory \[5, 4\] must both be batched/);
    expect(() => layer.forward(randn([4]), randn([4]))).toThrow(/tgt must be \[L, N, E\] or unbatched \[L, E\]; got shape \[4\]/);
    expect(() => layer.forward(tgt, tensor([[[1, 2, 3, 4]]], { dtype: 'int32' }))).toThrow(/memory must be a floating point tensor; got int32/);
    expect(() => layer.forward(tgt, null as never)).toThrow(/memory must be a Tensor; got null/);
    expect(() => layer.forward(tgt, randn([5, 2, 4]), { memoryKeyPaddingMask: tensor([[true, false]]) })).toThrow(/keyPaddingMask must have shape \[2, 5\]/);
    expect(() => layer.forward(tgt, randn([5, 2, 4]), { memoryMask: tensor([[true]]) })).toThrow(/attnMask must have shape \[3, 5\] or \[4, 3, 5\]/);
    expect(() => layer.forward(tgt, randn([5, 2, 4]), { tgtMask: Transformer.generateSquareSubsequentMask(3), tgtIsCausal: true })).toThrow(/both given/);
  });
});

// ------------------------------------------------------------------ TransformerDecoder
describe('TransformerDecoder', () => {
  it('copies that start as the given layer (dtype and mode too), draw no random numbers, and train apart; forward runs them in turn, then the norm', () => {
    manualSeed(9);
    const layer = new TransformerDecoderLayer(4, 2, { dimFeedforward: 8, dropout: 0 }).double().eval();
    const after = defaultGenerator.getState();
    const dec = new TransformerDecoder(layer, 3, { norm: new LayerNorm(4).double() });
    expect(defaultGenerator.getState()).toEqual(after);
    expect(dec.layers.length).toBe(3);
    expect(dec.numLayers).toBe(3);
    const sd = layer.stateDict();
    for (const [name, t] of Object.entries(dec.stateDict())) {
      expect(t.dtype).toBe('float64');
      const m = /^layers\.\d\.(.*)$/.exec(name);
      if (m) expect(Array.from(t.dataSync())).toEqual(Array.from(sd[m[1]].dataSync()));
    }
    for (const l of dec.layers) expect(l.training).toBe(false);
    const first = dec.layers.get(0) as TransformerDecoderLayer;
    expect(first).toBeInstanceOf(TransformerDecoderLayer);
    expect(first).not.toBe(layer);
    noGrad(() => first.multiheadAttn.inProjWeight?.add_(1));
    expect((dec.layers.get(1) as TransformerDecoderLayer).multiheadAttn.inProjWeight?.allclose(layer.multiheadAttn.inProjWeight as Tensor)).toBe(true);
    const tgt = randn([3, 2, 4], { dtype: 'float64' });
    const memory = randn([5, 2, 4], { dtype: 'float64' });
    const opts = { tgtIsCausal: true, memoryKeyPaddingMask: tensor([[false, false, false, true, true], [false, false, false, false, false]]) };
    let expected = tgt;
    for (const l of dec.layers) expected = (l as TransformerDecoderLayer).forward(expected, memory, opts);
    expected = (dec.norm as Module).forward(expected);
    expect(dec.forward(tgt, memory, opts).allclose(expected)).toBe(true);
    expect(new TransformerDecoder(layer, 1).forward(tgt, memory).allclose(layer.forward(tgt, memory))).toBe(true);
  });

  it('refuses a layer of another kind and a bad numLayers', () => {
    expect(() => new TransformerDecoder(new TransformerEncoderLayer(4, 2) as never, 2)).toThrow(/TransformerDecoder: decoderLayer must be a TransformerDecoderLayer; got TransformerEncoderLayer/);
    expect(() => new TransformerEncoder(new TransformerDecoderLayer(4, 2) as never, 2)).toThrow(/TransformerEncoder: encoderLayer must be a TransformerEncoderLayer; got TransformerDecoderLayer/);
    expect(() => new TransformerDecoder(new TransformerDecoderLayer(4, 2), 0)).toThrow(/numLayers must be an integer >= 1; got 0/);
  });
});

// ------------------------------------------------------------------ Transformer
describe('Transformer', () => {
  it("is PyTorch's encoder and decoder with final LayerNorms, xavierUniform_ drawn in parameter order, and forward is decoder(tgt, encoder(src))", () => {
    const opts = { dimFeedforward: 12, dropout: 0, batchFirst: true, normFirst: true, activation: 'gelu' as const, layerNormEps: 1e-6 };
    manualSeed(11);
    const model = new Transformer({ dModel: 4, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 3, ...opts });
    const afterModel = defaultGenerator.getState();
    manualSeed(11);
    const encoder = new TransformerEncoder(new TransformerEncoderLayer(4, 2, opts), 2, { norm: new LayerNorm(4, { eps: 1e-6 }) });
    const decoder = new TransformerDecoder(new TransformerDecoderLayer(4, 2, opts), 3, { norm: new LayerNorm(4, { eps: 1e-6 }) });
    for (const p of [...encoder.parameters(), ...decoder.parameters()]) if (p.ndim > 1) init.xavierUniform_(p);
    expect(defaultGenerator.getState()).toEqual(afterModel);
    const expectedState = { ...Object.fromEntries(Object.entries(encoder.stateDict()).map(([k, t]) => [`encoder.${k}`, t])), ...Object.fromEntries(Object.entries(decoder.stateDict()).map(([k, t]) => [`decoder.${k}`, t])) };
    const state = model.stateDict();
    expect(Object.keys(state)).toEqual(Object.keys(expectedState));
    for (const [k, t] of Object.entries(state)) expect(Array.from(t.dataSync()), k).toEqual(Array.from(expectedState[k].dataSync()));
    // The copies are independent draws after _reset_parameters, not copies of each other.
    expect(state['decoder.layers.0.linear1.weight'].allclose(state['decoder.layers.1.linear1.weight'])).toBe(false);
    expect([model.dModel, model.nhead, model.batchFirst, (model.encoder.norm as LayerNorm).eps]).toEqual([4, 2, true, 1e-6]);

    const src = randn([2, 5, 4]);
    const tgt = randn([2, 3, 4]);
    const srcKeyPaddingMask = tensor([[false, false, false, true, true], [false, false, false, false, false]]);
    const fwd = { srcKeyPaddingMask, memoryKeyPaddingMask: srcKeyPaddingMask, srcIsCausal: true, tgtMask: Transformer.generateSquareSubsequentMask(3) };
    const memory = encoder.forward(src, { srcKeyPaddingMask, isCausal: true });
    const expected = decoder.forward(tgt, memory, fwd);
    const y = model.forward(src, tgt, fwd);
    expect(y.shape).toEqual([2, 3, 4]);
    expect(y.allclose(expected)).toBe(true);
  });

  it("generateSquareSubsequentMask is PyTorch's float mask: 0 on and below the diagonal, -inf above", () => {
    const m = Transformer.generateSquareSubsequentMask(3);
    expect(m.dtype).toBe('float32');
    expect(m.toArray()).toEqual([
      [0, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
      [0, 0, Number.NEGATIVE_INFINITY],
      [0, 0, 0],
    ]);
    expect(Transformer.generateSquareSubsequentMask(2, { dtype: 'float64' }).dtype).toBe('float64');
    expect(Transformer.generateSquareSubsequentMask(1).toArray()).toEqual([[0]]);
    expect(() => Transformer.generateSquareSubsequentMask(2, { dtype: 'bool' })).toThrow(/dtype must be float32 or float64/);
    expect(() => Transformer.generateSquareSubsequentMask(-1)).toThrow(/size must be an integer >= 0/);
  });

  it('refuses bad input, saying what to pass', () => {
    const model = new Transformer({ dModel: 4, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 8 });
    expect(() => model.forward(randn([5, 2, 4]), randn([3, 3, 4]))).toThrow(/Transformer: src and tgt must have the same batch size \(dim 1\)/);
    expect(() => model.forward(randn([5, 2, 4]), randn([3, 2, 6]))).toThrow(/Transformer: tgt must have dModel = 4 features/);
    expect(() => model.forward(randn([5, 2, 6]), randn([3, 2, 4]))).toThrow(/Transformer: src must have dModel = 4 features/);
    expect(() => new Transformer({ dModel: 6, nhead: 4 })).toThrow(/divisible by numHeads/);
    expect(() => new Transformer({ dModel: 4, nhead: 2, numDecoderLayers: 0 })).toThrow(/Transformer: numDecoderLayers must be an integer >= 1/);
  });
});

// ------------------------------------------------------------------ PyTorch 1.13
type Case = { output: number[]; inputGrads: number[][]; paramGrads: Record<string, number[]> };
const ref: Record<string, unknown> = python
  ? JSON.parse(spawnSync(python, [join(import.meta.dirname, 'fixtures', 'torch_transformer.py')], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout)
  : {};

/** Our state dict under PyTorch's names (multihead_attn.in_proj_weight for multiheadAttn.inProjWeight) equals PyTorch's, in its order. */
function expectState(m: Module, torchState: unknown): void {
  const ours = Object.entries(utils.stateDictToPyTorch(m.stateDict())).map(([k, t]) => [k, Array.from(t.dataSync())]);
  expect(ours).toEqual(Object.entries(torchState as object));
}

/** Forward and backward as the fixture's run(): loss = sum(out * seq). */
function runCase(m: Module, inputs: Tensor[], call: (...xs: Tensor[]) => Tensor, expected: Case): void {
  for (const t of inputs) t.requiresGrad_();
  const out = call(...inputs);
  out.mul(sinSeq(out.shape, 0.7, 0.2)).sum().backward();
  const near = (a: Tensor, b: number[], what: string) => expect(closeness(Array.from(a.dataSync()), b, 2e-6, 2e-5), what).toBeLessThanOrEqual(1);
  near(out, expected.output, 'output');
  for (const [i, t] of inputs.entries()) near(t.grad as Tensor, expected.inputGrads[i], `input ${i} gradient`);
  const grads = utils.stateDictToPyTorch(Object.fromEntries(m.namedParameters().map(([n, p]) => [n, p.grad as Tensor])));
  expect(Object.keys(grads)).toEqual(Object.keys(expected.paramGrads));
  for (const [name, g] of Object.entries(expected.paramGrads)) near(grads[name], g, `${name} gradient`);
}

describe.skipIf(!python)('the same as PyTorch 1.13 (skipped only where python3 with torch is missing)', () => {
  const causal4 = Transformer.generateSquareSubsequentMask(4);
  const tgtKpm = tensor([[false, false, false, true], [false, false, false, false]]);

  it('generateSquareSubsequentMask', () => {
    const ours = (causal4.toArray() as Mat).map((r) => r.map((v) => (v === Number.NEGATIVE_INFINITY ? '-inf' : v)));
    expect(ours).toEqual(ref.squareMask);
  });

  it('TransformerDecoderLayer (post-norm): initial weights from the same seed, output and gradients with float tgt and memory masks and both padding masks', () => {
    manualSeed(0);
    const layer = new TransformerDecoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
    expectState(layer, ref.layerInit);
    const memKpm = tensor([[false, false, true, false, true], [false, false, false, false, false]]);
    const opts = { tgtMask: causal4, memoryMask: sinSeq([4, 5], 0.9, 0.3).mul(0.5), tgtKeyPaddingMask: tgtKpm, memoryKeyPaddingMask: memKpm };
    runCase(layer, [sinSeq([4, 2, 8]), sinSeq([5, 2, 8], 0.21, 0.4)], (t, mem) => layer.forward(t, mem, opts), ref.layer as Case);
  });

  it('TransformerDecoder of 2 pre-norm gelu batchFirst layers and a final LayerNorm, causal (our tgtIsCausal, their bool mask), memory padding', () => {
    manualSeed(1);
    const pre = new TransformerDecoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: 'gelu', batchFirst: true, normFirst: true });
    const decoder = new TransformerDecoder(pre, 2, { norm: new LayerNorm(8) });
    expectState(decoder, ref.decoderInit);
    const memKpm = tensor([[false, false, false, true, true], [false, false, false, false, false]]);
    runCase(decoder, [sinSeq([2, 4, 8]), sinSeq([2, 5, 8], 0.21, 0.4)], (t, mem) => decoder.forward(t, mem, { tgtIsCausal: true, memoryKeyPaddingMask: memKpm }), ref.decoder as Case);
  });

  it('Transformer (dModel 8, nhead 2, 2 + 2 layers, dimFeedforward 16, dropout 0): initial weights after _reset_parameters, output and gradients with masks', () => {
    manualSeed(2);
    const model = new Transformer({ dModel: 8, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 16, dropout: 0 });
    expectState(model, ref.transformerInit);
    const srcKpm = tensor([[false, false, false, false, true], [false, false, false, false, false]]);
    const opts = { tgtMask: causal4, srcKeyPaddingMask: srcKpm, memoryKeyPaddingMask: srcKpm, tgtKeyPaddingMask: tgtKpm };
    runCase(model, [sinSeq([5, 2, 8]), sinSeq([4, 2, 8], 0.21, 0.4)], (s, t) => model.forward(s, t, opts), ref.transformer as Case);
  });
});
