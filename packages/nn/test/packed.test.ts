/**
 * Packed sequences (utils.rnn) and the recurrent layers over them, against PyTorch 1.13
 * (test/fixtures/torch_packed.py, run once for all cases: packing, outputs, final states and every
 * gradient), against the same layer run on each sequence alone, and against finite differences
 * (gradcheck); then the padding and packing helpers' round trips, memory and errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, manualSeed, memoryStats, randn, scope, tensor, zeros } from '@dl/tensor';
import type { DType, Tensor } from '@dl/tensor';
import { gradcheck, noGrad } from '@dl/autograd';
import { cudaTestNames } from '@dl/tensor/testing';
import { GRU, LSTM, PackedSequence, RNN, type RNNBase, utils } from '../src/index.js';
import { caught as dlError } from './helpers.js';

const { packPaddedSequence, packSequence, padPackedSequence, padSequence, unpackSequence, unpadSequence } = utils.rnn;

const values = (t: Tensor) => Array.from(t.dataSync());
const fromList = (v: number[], shape: readonly number[], dtype: DType) => tensor(Float64Array.from(v), { shape, dtype });
const int = (v: number[]) => tensor(Int32Array.from(v));

/** Largest |actual - expected| over two lists, after checking that they have the same length. */
function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let m = 0;
  for (let i = 0; i < actual.length; i++) m = Math.max(m, Math.abs(actual[i] - expected[i]));
  return m;
}

/** The states of a layer's result: [hN] or [hN, cN]. */
function finalStates(hidden: Tensor | [Tensor, Tensor]): Tensor[] {
  return Array.isArray(hidden) ? hidden : [hidden];
}

/** The state argument of forward from the given states: none, hx, or [h, c]. */
function hxArg(states: Tensor[]): Tensor | [Tensor, Tensor] | undefined {
  if (states.length === 0) return undefined;
  return states.length === 2 ? [states[0], states[1]] : states[0];
}

/** forward of any of the three layers on a PackedSequence. */
function forwardPacked(m: RNNBase, input: PackedSequence, states: Tensor[]): [PackedSequence, Tensor[]] {
  const [out, hidden] = (m as LSTM).forward(input, hxArg(states) as [Tensor, Tensor] | undefined);
  return [out, finalStates(hidden)];
}

// ---------------------------------------------------------------- PyTorch itself
const script = join(import.meta.dirname, 'fixtures', 'torch_packed.py');

const LAYERS = { RNN, LSTM, GRU };
interface TorchCase {
  name: string;
  module: keyof typeof LAYERS;
  args: [number, number];
  /** Options in camelCase (passed to PyTorch in snake_case); batchFirst also applies to the packing. */
  opts: Record<string, unknown> & { batchFirst?: boolean };
  dtype?: DType;
  seed: number;
  /** The padded input's shape, in the layer's layout. */
  input: number[];
  lengths: number[];
  enforceSorted: boolean;
  hx?: number[][];
  train?: boolean;
}
const TORCH_CASES: TorchCase[] = [
  { name: 'RNN tanh, 2 layers, bidirectional, sorted lengths, padded longer than the longest, given hx', module: 'RNN', args: [3, 4], opts: { numLayers: 2, bidirectional: true }, seed: 1, input: [6, 4, 3], lengths: [5, 3, 3, 1], enforceSorted: true, hx: [[4, 4, 4]] },
  { name: 'RNN tanh, batchFirst, unsorted lengths', module: 'RNN', args: [3, 4], opts: { batchFirst: true }, seed: 2, input: [4, 5, 3], lengths: [2, 5, 1, 4], enforceSorted: false },
  { name: 'LSTM, 2 layers, bidirectional, batchFirst, unsorted lengths with ties, given (h0, c0)', module: 'LSTM', args: [3, 4], opts: { numLayers: 2, bidirectional: true, batchFirst: true }, seed: 3, input: [5, 4, 3], lengths: [3, 1, 4, 4, 2], enforceSorted: false, hx: [[4, 5, 4], [4, 5, 4]] },
  { name: 'LSTM with projSize 2, 2 layers, bidirectional, unsorted lengths, given (h0, c0)', module: 'LSTM', args: [3, 4], opts: { numLayers: 2, bidirectional: true, projSize: 2 }, seed: 4, input: [4, 3, 3], lengths: [2, 4, 1], enforceSorted: false, hx: [[4, 3, 2], [4, 3, 4]] },
  { name: 'LSTM with projSize 2, batchFirst, sorted lengths', module: 'LSTM', args: [3, 4], opts: { projSize: 2, batchFirst: true }, seed: 5, input: [3, 4, 3], lengths: [4, 2, 2], enforceSorted: true },
  { name: 'GRU, 2 layers, bidirectional, sorted lengths, given hx', module: 'GRU', args: [3, 4], opts: { numLayers: 2, bidirectional: true }, seed: 6, input: [4, 4, 3], lengths: [4, 4, 2, 1], enforceSorted: true, hx: [[4, 4, 4]] },
  { name: 'GRU, 2 layers, bidirectional, batchFirst, unsorted lengths, given hx', module: 'GRU', args: [3, 4], opts: { numLayers: 2, bidirectional: true, batchFirst: true }, seed: 7, input: [3, 5, 3], lengths: [1, 5, 3], enforceSorted: false, hx: [[4, 3, 4]] },
  { name: 'LSTM in float64, 2 layers, bidirectional, unsorted lengths, given (h0, c0)', module: 'LSTM', args: [3, 4], opts: { numLayers: 2, bidirectional: true }, dtype: 'float64', seed: 8, input: [5, 3, 3], lengths: [3, 5, 2], enforceSorted: false, hx: [[4, 3, 4], [4, 3, 4]] },
  { name: 'LSTM training with dropout 0.5 between 2 layers, bidirectional, unsorted: the same masks', module: 'LSTM', args: [3, 4], opts: { numLayers: 2, bidirectional: true, dropout: 0.5 }, seed: 9, input: [4, 3, 3], lengths: [2, 4, 3], enforceSorted: false, train: true },
];

interface PackedResult {
  data: number[];
  batchSizes: number[];
  sortedIndices: number[] | null;
  unsortedIndices: number[] | null;
}
interface TorchResult {
  state: Record<string, { shape: number[]; values: number[] }>;
  inputs: number[][];
  packed: PackedResult;
  outputs: { packed: PackedResult; padded: number[]; paddedShape: number[]; lengths: number[]; states: number[][] };
  weights: number[][];
  grads: { inputs: number[][]; params: Record<string, number[]> };
}

/** PyTorch's results for every case from one run of the fixture; null where no python3 has torch. */
function torchReference(): Record<string, TorchResult> | null {
  const snake = (k: string) => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
  const cases = TORCH_CASES.map((c) => ({
    name: c.name,
    module: c.module,
    args: c.args,
    kwargs: Object.fromEntries(Object.entries(c.opts).map(([k, v]) => [snake(k), v])),
    dtype: c.dtype ?? 'float32',
    seed: c.seed,
    input: c.input,
    lengths: c.lengths,
    batch_first: c.opts.batchFirst ?? false,
    enforce_sorted: c.enforceSorted,
    hx: c.hx ?? null,
    train: c.train ?? false,
  }));
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, [script], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status === 0) return JSON.parse(r.stdout) as Record<string, TorchResult>;
    if (!r.error && !r.stderr.includes("No module named 'torch'")) throw new Error(`${script} failed: ${r.stderr}`);
  }
  return null;
}
const torchRef = torchReference();

/** The packing of a PackedSequence, compared exactly (batch sizes and indices) or within tol (data). */
function expectPacked(p: PackedSequence, ref: PackedResult, tol: number): number {
  expect([...p.batchSizesList]).toEqual(ref.batchSizes);
  expect(values(p.batchSizes)).toEqual(ref.batchSizes);
  expect(p.sortedIndices && values(p.sortedIndices)).toEqual(ref.sortedIndices);
  expect(p.unsortedIndices && values(p.unsortedIndices)).toEqual(ref.unsortedIndices);
  const err = maxAbsDiff(values(p.data), ref.data);
  expect(err).toBeLessThanOrEqual(tol);
  return err;
}

/** The largest float32 difference from PyTorch seen over the cases, by quantity (reported at the end). */
const worst = { output: 0, states: 0, grads: 0 };

describe.skipIf(!torchRef)('packed RNN, LSTM and GRU against PyTorch 1.13 on the CPU (skipped only where python3 with torch is missing)', () => {
  for (const c of TORCH_CASES) {
    it(c.name, () => {
      const ref = (torchRef as Record<string, TorchResult>)[c.name];
      const dtype = c.dtype ?? 'float32';
      const batchFirst = c.opts.batchFirst ?? false;
      // Default initialisation after the same seed: PyTorch's values bit for bit.
      manualSeed(c.seed);
      const m = new LAYERS[c.module](...c.args, { ...c.opts, dtype }) as RNNBase;
      const state = utils.stateDictToPyTorch(m.stateDict());
      expect(Object.keys(state)).toEqual(Object.keys(ref.state));
      for (const [k, t] of Object.entries(state)) expect(values(t)).toEqual(ref.state[k].values);
      const shapes = [c.input, ...(c.hx ?? [])];
      const [x, ...states] = ref.inputs.map((v, i) => fromList(v, shapes[i], dtype).requiresGrad_());
      // Packing moves values: the same rows exactly.
      const packed = packPaddedSequence(x, c.lengths, { batchFirst, enforceSorted: c.enforceSorted });
      expectPacked(packed, ref.packed, 0);
      m.train(c.train ?? false);
      manualSeed(c.seed + 2);
      const [out, finals] = forwardPacked(m, packed, states);
      const tol = dtype === 'float64' ? 1e-12 : 2e-6;
      const outErr = expectPacked(out, ref.outputs.packed, tol);
      const [padded, lengths] = padPackedSequence(out, { batchFirst });
      expect(padded.shape).toEqual(ref.outputs.paddedShape);
      expect(values(lengths)).toEqual(ref.outputs.lengths);
      expect(maxAbsDiff(values(padded), ref.outputs.padded)).toBeLessThanOrEqual(outErr);
      expect(finals.length).toBe(ref.outputs.states.length);
      let statesErr = 0;
      for (const [i, s] of finals.entries()) statesErr = Math.max(statesErr, maxAbsDiff(values(s), ref.outputs.states[i]));
      expect(statesErr).toBeLessThan(tol);
      // Gradients of the input, the given states and every parameter.
      [padded, ...finals]
        .map((t, i) => t.mul(fromList(ref.weights[i], t.shape, dtype)).sum())
        .reduce((a, b) => a.add(b))
        .backward();
      let gradErr = 0;
      for (const [i, t] of [x, ...states].entries()) gradErr = Math.max(gradErr, maxAbsDiff(values(t.grad as Tensor), ref.grads.inputs[i]));
      const grads = utils.stateDictToPyTorch(Object.fromEntries(m.namedParameters().map(([k, p]) => [k, p.grad as Tensor])));
      expect(Object.keys(grads)).toEqual(Object.keys(ref.grads.params));
      for (const [k, g] of Object.entries(grads)) gradErr = Math.max(gradErr, maxAbsDiff(values(g), ref.grads.params[k]));
      expect(gradErr).toBeLessThan(tol);
      if (dtype === 'float32') {
        worst.output = Math.max(worst.output, outErr);
        worst.states = Math.max(worst.states, statesErr);
        worst.grads = Math.max(worst.grads, gradErr);
      }
    });
  }

  it('the largest float32 differences over these cases stay below 2e-6', () => {
    console.log(`packed vs PyTorch, float32 max |diff|: output ${worst.output.toExponential(2)}, final states ${worst.states.toExponential(2)}, gradients ${worst.grads.toExponential(2)}`);
    expect(Math.max(worst.output, worst.states, worst.grads)).toBeLessThan(2e-6);
  });
});

// ---------------------------------------------------------------- each sequence alone
describe('a packed batch equals each sequence run alone (float64, unbatched, its own length)', () => {
  const cases: { name: string; make: () => RNNBase; lengths: number[]; enforceSorted: boolean; states: number }[] = [
    { name: 'LSTM with projSize 2, 2 layers, bidirectional, batchFirst, unsorted, given (h0, c0)', make: () => new LSTM(3, 4, { numLayers: 2, bidirectional: true, projSize: 2, batchFirst: true }), lengths: [2, 5, 1, 5, 3], enforceSorted: false, states: 2 },
    { name: 'GRU, 2 layers, bidirectional, sorted, given hx', make: () => new GRU(3, 4, { numLayers: 2, bidirectional: true }), lengths: [4, 3, 3, 1], enforceSorted: true, states: 1 },
    { name: 'RNN relu, bidirectional, unsorted, no hx', make: () => new RNN(3, 4, { nonlinearity: 'relu', bidirectional: true }), lengths: [1, 3, 2], enforceSorted: false, states: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      manualSeed(40);
      const m = c.make().double();
      const g = new Generator(41);
      const batch = c.lengths.length;
      const steps = Math.max(...c.lengths);
      const x = randn(m.batchFirst ? [batch, steps, 3] : [steps, batch, 3], { dtype: 'float64', generator: g });
      const layers = m.numLayers * m.numDirections;
      const sizes = [m.projSize || m.hiddenSize, m.hiddenSize];
      const states = Array.from({ length: c.states }, (_, i) => randn([layers, batch, sizes[i]], { dtype: 'float64', generator: g }));
      const packed = packPaddedSequence(x, c.lengths, { batchFirst: m.batchFirst, enforceSorted: c.enforceSorted });
      const [out, finals] = noGrad(() => forwardPacked(m, packed, states));
      const [padded] = padPackedSequence(out, { batchFirst: m.batchFirst });
      const alone = unpadSequence(x, c.lengths, { batchFirst: m.batchFirst });
      for (const [j, seq] of alone.entries()) {
        const [y, hidden] = noGrad(() => (m as LSTM).forward(seq, hxArg(states.map((s) => s.select(1, j))) as [Tensor, Tensor] | undefined));
        const got = padded.select(m.batchFirst ? 0 : 1, j);
        expect(maxAbsDiff(values(got.narrow(0, 0, c.lengths[j])), values(y))).toBeLessThan(1e-12);
        // The padding after the sequence's end is 0.
        expect(values(got.narrow(0, c.lengths[j], steps - c.lengths[j])).every((v) => v === 0)).toBe(true);
        for (const [i, s] of finalStates(hidden).entries()) expect(maxAbsDiff(values(finals[i].select(1, j)), values(s))).toBeLessThan(1e-12);
      }
    });
  }
});

// ---------------------------------------------------------------- finite differences
describe('gradcheck (float64)', () => {
  it('a packed bidirectional LSTM: input, (h0, c0) and every parameter, through packing and padding', () => {
    manualSeed(50);
    const m = new LSTM(2, 2, { bidirectional: true }).double();
    const g = new Generator(51);
    const [x, h0, c0] = [[3, 3, 2], [2, 3, 2], [2, 3, 2]].map((s) => randn(s, { dtype: 'float64', generator: g }).requiresGrad_());
    const names = m.namedParameters().map(([k]) => k);
    const fn = (xi: Tensor, h: Tensor, c: Tensor, ...ps: Tensor[]) => {
      const packed = packPaddedSequence(xi, [2, 3, 1], { enforceSorted: false });
      const [out, [hN, cN]] = utils.functionalCall(m, Object.fromEntries(names.map((k, i) => [k, ps[i]])), packed, [h, c]) as [PackedSequence, [Tensor, Tensor]];
      return [padPackedSequence(out)[0], hN, cN];
    };
    expect(gradcheck(fn, [x, h0, c0, ...m.parameters()])).toBe(true);
  });
});

// ---------------------------------------------------------------- the helpers
describe('padSequence, packing and unpacking', () => {
  it("PyTorch's documented example: data, batch sizes and both index orders", () => {
    const seq = tensor([[1, 2, 0], [3, 0, 0], [4, 5, 6]]);
    const packed = packPaddedSequence(seq, [2, 1, 3], { batchFirst: true, enforceSorted: false });
    expect(values(packed.data)).toEqual([4, 1, 3, 5, 2, 6]);
    expect(values(packed.batchSizes)).toEqual([3, 2, 1]);
    expect(packed.batchSizes.dtype).toBe('int32');
    expect(values(packed.sortedIndices as Tensor)).toEqual([2, 0, 1]);
    expect(values(packed.unsortedIndices as Tensor)).toEqual([1, 2, 0]);
    // A namedtuple: destructuring gives the four fields.
    const [data, batchSizes, sortedIndices, unsortedIndices] = packed;
    expect([data, batchSizes, sortedIndices, unsortedIndices]).toEqual([packed.data, packed.batchSizes, packed.sortedIndices, packed.unsortedIndices]);
    // Constructed from sortedIndices alone, unsortedIndices is its inverse.
    expect(values(new PackedSequence(data, batchSizes, sortedIndices).unsortedIndices as Tensor)).toEqual([1, 2, 0]);
    const [padded, lengths] = padPackedSequence(packed, { batchFirst: true });
    expect(padded.toArray()).toEqual([[1, 2, 0], [3, 0, 0], [4, 5, 6]]);
    expect(values(lengths)).toEqual([2, 1, 3]);
    expect(String(packPaddedSequence(tensor([[1], [2]]), [2]))).toContain('batchSizes=[1, 1], sortedIndices=null');
  });

  it('padSequence: time-major or batch-first, any padding value, trailing dims, the first dtype', () => {
    const a = tensor([[1, 2], [3, 4], [5, 6]]);
    const b = tensor([[7, 8]]);
    const c = tensor([[9, 10], [11, 12]], { dtype: 'float64' });
    const p = padSequence([a, b, c], { paddingValue: -1 });
    expect(p.shape).toEqual([3, 3, 2]);
    expect(p.dtype).toBe('float32');
    expect(p.toArray()).toEqual([
      [[1, 2], [7, 8], [9, 10]],
      [[3, 4], [-1, -1], [11, 12]],
      [[5, 6], [-1, -1], [-1, -1]],
    ]);
    expect(padSequence([a, b], { batchFirst: true }).toArray()).toEqual([
      [[1, 2], [3, 4], [5, 6]],
      [[7, 8], [0, 0], [0, 0]],
    ]);
    expect(padSequence([tensor([1, 2]), zeros([0])]).toArray()).toEqual([[1, 0], [2, 0]]);
  });

  it('round trips: packSequence/unpackSequence, packPaddedSequence/padPackedSequence (totalLength), padSequence/unpadSequence', () => {
    const g = new Generator(60);
    const seqs = [3, 1, 4, 2].map((l) => randn([l, 2, 3], { generator: g }));
    for (const enforceSorted of [false, true]) {
      const list = enforceSorted ? [...seqs].sort((p, q) => q.shape[0] - p.shape[0]) : seqs;
      const back = unpackSequence(packSequence(list, { enforceSorted }));
      expect(back.map((t) => t.shape)).toEqual(list.map((t) => t.shape));
      for (const [i, t] of back.entries()) expect(values(t)).toEqual(values(list[i]));
    }
    for (const batchFirst of [false, true]) {
      const padded = padSequence(seqs, { batchFirst, paddingValue: 7 });
      const lengths = int([3, 1, 4, 2]);
      const [again, lens] = padPackedSequence(packPaddedSequence(padded, lengths, { batchFirst, enforceSorted: false }), { batchFirst, paddingValue: 7 });
      expect(values(again)).toEqual(values(padded));
      expect(values(lens)).toEqual([3, 1, 4, 2]);
      const [longer] = padPackedSequence(packPaddedSequence(padded, lengths, { batchFirst, enforceSorted: false }), { batchFirst, totalLength: 6 });
      expect(longer.shape).toEqual(batchFirst ? [4, 6, 2, 3] : [6, 4, 2, 3]);
      const unpadded = unpadSequence(padded, lengths, { batchFirst });
      for (const [i, t] of unpadded.entries()) expect(values(t)).toEqual(values(seqs[i]));
    }
  });

  it('gradients flow through packing and padding to the padded input, zero on the padding', () => {
    const x = randn([3, 2, 2], { generator: new Generator(61) }).requiresGrad_();
    const [padded] = padPackedSequence(packPaddedSequence(x, [3, 1]), { paddingValue: 5 });
    padded.mul(tensor([1, 2])).sum().backward();
    expect((x.grad as Tensor).toArray()).toEqual([
      [[1, 2], [1, 2]],
      [[1, 2], [0, 0]],
      [[1, 2], [0, 0]],
    ]);
  });

  it("to() moves the data and indices (batchSizes stays on the CPU), or returns the same PackedSequence; a layer's output matches on 'reference'", () => {
    manualSeed(62);
    const m = new GRU(3, 4, { bidirectional: true });
    const packed = packSequence([randn([2, 3]), randn([4, 3]), randn([1, 3])], { enforceSorted: false });
    expect(packed.to('cpu')).toBe(packed);
    expect(packed.to('float32')).toBe(packed);
    const double = packed.to('float64');
    expect([double.data.dtype, double.batchSizes.device, values(double.unsortedIndices as Tensor)]).toEqual(['float64', 'cpu', values(packed.unsortedIndices as Tensor)]);
    const moved = packed.to('reference');
    expect([moved.data.device, moved.batchSizes.device, moved.sortedIndices?.device, moved.unsortedIndices?.device]).toEqual(['reference', 'cpu', 'reference', 'reference']);
    const [expected, hExpected] = noGrad(() => m.forward(packed));
    const [out, hN] = noGrad(() => m.to('reference').forward(moved));
    expect(out.data.device).toBe('reference');
    expect(maxAbsDiff(values(out.data), values(expected.data))).toBeLessThan(1e-5);
    expect(maxAbsDiff(values(hN), values(hExpected))).toBeLessThan(1e-5);
  });

  const cudaNames = cudaTestNames();
  it.skipIf(!cudaNames.gpu)(cudaNames.needsGpu('a packed LSTM on CUDA equals the CPU, gradients included'), () => {
    manualSeed(63);
    const m = new LSTM(3, 4, { numLayers: 2, bidirectional: true, projSize: 2 });
    const x = randn([4, 3, 3]).requiresGrad_();
    const run = (mod: LSTM, input: Tensor) => {
      const [out, [hN, cN]] = mod.forward(packPaddedSequence(input, [2, 4, 1], { enforceSorted: false }));
      const [padded] = padPackedSequence(out);
      padded.sum().add(hN.sum()).add(cN.mul(2).sum()).backward();
      return [padded, hN, cN].map((t) => values(t.to('cpu')));
    };
    const cpu = run(m, x);
    const cpuGrads = [x, ...m.parameters()].map((t) => values(t.grad as Tensor));
    m.zeroGrad();
    const xc = x.detach().to('cuda').requiresGrad_();
    const gpu = run(m.to('cuda'), xc);
    for (const [i, v] of gpu.entries()) expect(maxAbsDiff(v, cpu[i])).toBeLessThan(1e-5);
    for (const [i, t] of [xc, ...m.parameters()].entries()) expect(maxAbsDiff(values((t.grad as Tensor).to('cpu')), cpuGrads[i])).toBeLessThan(1e-5);
  });

  it('scope() keeps a PackedSequence it returns, frees the rest; dispose() frees it', () => {
    manualSeed(64);
    const m = new LSTM(3, 4, { bidirectional: true });
    const x = randn([4, 3, 3]);
    const live = memoryStats().liveTensors;
    const out = noGrad(() => scope(() => m.forward(packPaddedSequence(x, [4, 2, 1]))[0]));
    expect(out.data.isDisposed).toBe(false);
    expect(out.batchSizes.isDisposed).toBe(false);
    out.dispose();
    expect(memoryStats().liveTensors).toBe(live);
    scope(() => {
      const [packed, [hN, cN]] = m.forward(packPaddedSequence(x, [1, 4, 2], { enforceSorted: false }));
      padPackedSequence(packed)[0].sum().add(hN.sum()).add(cN.sum()).backward();
    });
    m.zeroGrad();
    expect(memoryStats().liveTensors).toBe(live);
    // Disposing a layer's input leaves its output whole (it holds views of the indices of its own).
    const input = packPaddedSequence(x, [1, 4, 2], { enforceSorted: false });
    const [output] = noGrad(() => m.forward(input));
    input.dispose();
    expect(values(padPackedSequence(output)[1])).toEqual([1, 4, 2]);
  });
});

// ---------------------------------------------------------------- errors

describe('bad lengths and arguments are DLErrors naming the op, the values and the fix', () => {
  const x = zeros([5, 3, 2]);
  it('lengths: unsorted, 0, too long, the wrong count, not integers', () => {
    let e = dlError(() => packPaddedSequence(x, [2, 5, 3]));
    expect([e.code, e.message]).toEqual([
      'VALUE',
      'packPaddedSequence: lengths must be sorted in decreasing order when enforceSorted is true; got [2, 5, 3] (5 at position 1 follows 2)\nhint: pass { enforceSorted: false } to have the batch sorted for you (padPackedSequence and the layers restore your order), or sort it by decreasing length',
    ]);
    expect(dlError(() => packSequence([zeros([1, 2]), zeros([3, 2])])).message).toContain('packSequence: lengths must be sorted in decreasing order when enforceSorted is true; got [1, 3]');
    e = dlError(() => packPaddedSequence(x, [4, 0, 2], { enforceSorted: false }));
    expect([e.code, e.message]).toEqual(['VALUE', 'packPaddedSequence: every length must be >= 1; got lengths [4, 0, 2] (0 at position 1)\nhint: leave empty sequences out of the batch: a recurrent layer has no state to return for them']);
    e = dlError(() => packPaddedSequence(x, [7, 2, 1]));
    expect(e.message).toBe('packPaddedSequence: lengths [7, 2, 1] exceed the 5 time steps of input of shape [5, 3, 2] [T, B, *] (7 at position 0)\nhint: every length must be at most 5; is the input [B, T, *]? then pass { batchFirst: true }');
    e = dlError(() => packPaddedSequence(x, int([5, 2])));
    expect([e.code, e.message]).toEqual(['SHAPE', 'packPaddedSequence: expected one length per sequence: 3 for input of shape [5, 3, 2] [T, B, *]; got 2 lengths [5, 2]\nhint: is the input [B, T, *]? then pass { batchFirst: true }']);
    expect(dlError(() => packPaddedSequence(x, [3, 3, 4, 1, 1], { batchFirst: true })).message).toBe('packPaddedSequence: lengths [3, 3, 4, 1, 1] exceed the 3 time steps of input of shape [5, 3, 2] [B, T, *] (batchFirst) (4 at position 2)\nhint: every length must be at most 3');
    expect(dlError(() => packPaddedSequence(x, [2.5, 2, 1])).message).toBe('packPaddedSequence: lengths must be integers; got [2.5, 2, 1]');
    expect(dlError(() => unpadSequence(x, [6, 1, 1])).message).toBe('unpadSequence: every length must be in [0, 5] (the padded length); got lengths [6, 1, 1] (6 at position 0)');
  });

  it('padding, totalLength, PackedSequence fields and layer inputs', () => {
    expect(dlError(() => padSequence([zeros([2, 3]), zeros([2, 4])])).message).toBe('padSequence: every sequence must have the trailing dims of sequences[0] ([L, 3]); got sequences[1] of shape [2, 4]');
    expect(dlError(() => padSequence([])).message).toBe('padSequence: expected a non-empty array of tensors [L_i, *]');
    const packed = packPaddedSequence(x, [5, 3, 1]);
    expect(dlError(() => padPackedSequence(packed, { totalLength: 4 })).message).toBe('padPackedSequence: totalLength must be an integer at least the length of the longest sequence (5); got 4\nhint: pass totalLength >= 5, or leave it out to pad to the longest sequence');
    expect(dlError(() => padPackedSequence(x as unknown as PackedSequence)).message).toContain('padPackedSequence: sequence must be a PackedSequence; got a Tensor');
    expect(dlError(() => new PackedSequence(zeros([4, 2]), [2, 3])).message).toBe(
      'PackedSequence: batchSizes must be positive integers in non-increasing order summing to the rows of data (4); got [2, 3]\nhint: make PackedSequences with packPaddedSequence or packSequence',
    );
    expect(dlError(() => new PackedSequence(zeros([3, 2]), [2, 1], int([0, 1, 2]))).message).toContain("PackedSequence: sortedIndices must be a 1-D int32 tensor of 2 indices (batchSizes[0]) on the data's device 'cpu'; got int32 of shape [3]");
    expect(dlError(() => new LSTM(3, 4).forward(packed)).message).toBe('LSTM.forward: expected the data of a PackedSequence of shape [sum of lengths, inputSize 3]; got shape [9, 2]');
    expect(dlError(() => new GRU(2, 4).forward(packed, zeros([1, 2, 4]))).message).toBe('GRU.forward: expected hx of shape [1, 3, 4] ([numLayers * numDirections, N, hiddenSize]) for a PackedSequence of 3 sequences; got [1, 2, 4]');
    expect(dlError(() => new GRU(2, 4).forward(packed.to('float64'))).message).toContain('GRU.forward: input.data is float64 but the parameters are float32');
  });
});
