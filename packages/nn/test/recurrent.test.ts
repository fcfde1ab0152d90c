/**
 * RNN, LSTM, GRU and their cells against three references: a float64 definition written here
 * with plain loops over arrays (the gate equations of PyTorch's documentation), PyTorch 1.13
 * itself (test/fixtures/torch_recurrent.py, run here: default initialisation, outputs and every
 * gradient), and finite differences (gradcheck).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, manualSeed, memoryStats, ones, randn, scope, tensor, zeros } from '@dl/tensor';
import type { DType, Tensor } from '@dl/tensor';
import { gradcheck, noGrad } from '@dl/autograd';
import { GRU, GRUCell, LSTM, LSTMCell, type Module, RNN, type RNNBase, RNNCell, utils } from '../src/index.js';
import { caught as dlError, python } from './helpers.js';

const values = (t: Tensor) => Array.from(t.dataSync());
const fromList = (v: number[], shape: readonly number[], dtype: DType) => tensor(Float64Array.from(v), { shape, dtype });

/** The tensors of a layer's output, nested arrays flattened in order. */
function outputs(out: unknown): Tensor[] {
  return Array.isArray(out) ? out.flatMap(outputs) : [out as Tensor];
}

/** The state argument of forward from the given states: none, hx, or [h, c]. */
function hxArg(states: Tensor[]): Tensor | [Tensor, Tensor] | undefined {
  if (states.length === 0) return undefined;
  return states.length === 2 ? [states[0], states[1]] : states[0];
}

/** Largest |actual - expected| over two lists, after checking that they have the same length. */
function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let m = 0;
  for (let i = 0; i < actual.length; i++) m = Math.max(m, Math.abs(actual[i] - expected[i]));
  return m;
}

// ---------------------------------------------------------------- a float64 definition
type Mode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';
type Params = Record<string, number[]>;
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** w (rows x v.length, row-major) times v, plus b. */
function affine(w: number[], b: number[] | undefined, v: number[]): number[] {
  const rows = w.length / v.length;
  return Array.from({ length: rows }, (_, r) => {
    let s = b ? b[r] : 0;
    for (let k = 0; k < v.length; k++) s += w[r * v.length + k] * v[k];
    return s;
  });
}

/**
 * One step of one sample, from PyTorch's documentation:
 *   RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)
 *   LSTM  i, f, g, o = sigma, sigma, tanh, sigma of the four row blocks of W_ih x + b_ih + W_hh h + b_hh
 *         c' = f c + i g,  h' = o tanh(c'),  then h' = W_hr h' with a projection
 *   GRU   r, z = sigma(W_ir x + b_ir + W_hr h + b_hr), sigma(W_iz x + b_iz + W_hz h + b_hz)
 *         n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (1 - z) n + z h
 */
function refCell(mode: Mode, p: { ih: number[]; hh: number[]; bih?: number[]; bhh?: number[]; hr?: number[] }, x: number[], h: number[], c: number[]): [number[], number[]] {
  const gi = affine(p.ih, p.bih, x);
  const gh = affine(p.hh, p.bhh, h);
  const hs = gi.length / { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 }[mode];
  const at = (k: number, j: number) => gi[k * hs + j] + gh[k * hs + j];
  const each = (f: (j: number) => number) => Array.from({ length: hs }, (_, j) => f(j));
  switch (mode) {
    case 'RNN_TANH':
      return [each((j) => Math.tanh(at(0, j))), []];
    case 'RNN_RELU':
      return [each((j) => Math.max(0, at(0, j))), []];
    case 'LSTM': {
      const c2 = each((j) => sigmoid(at(1, j)) * c[j] + sigmoid(at(0, j)) * Math.tanh(at(2, j)));
      const h2 = each((j) => sigmoid(at(3, j)) * Math.tanh(c2[j]));
      return [p.hr ? affine(p.hr, undefined, h2) : h2, c2];
    }
    case 'GRU': {
      const n = each((j) => Math.tanh(gi[2 * hs + j] + sigmoid(at(0, j)) * gh[2 * hs + j]));
      return [each((j) => (1 - sigmoid(at(1, j))) * n[j] + sigmoid(at(1, j)) * h[j]), []];
    }
  }
}

interface RefConfig {
  mode: Mode;
  numLayers: number;
  directions: number;
}

/**
 * The stacked layers over x [L][N][Hin] from h0, c0 [layers * directions][N][*]: returns the
 * output [L][N][directions * Hout] and the final states, as PyTorch documents them (each layer
 * reads the concatenated outputs of both directions of the previous one).
 */
function refLayers(cfg: RefConfig, params: Params, x: number[][][], h0: number[][][], c0: number[][][]) {
  let input = x;
  const hN: number[][][] = [];
  const cN: number[][][] = [];
  for (let layer = 0; layer < cfg.numLayers; layer++) {
    const out: number[][][] = input.map((step) => step.map(() => []));
    for (let dir = 0; dir < cfg.directions; dir++) {
      const sfx = `L${layer}${dir ? 'Reverse' : ''}`;
      const p = { ih: params[`weightIh${sfx}`], hh: params[`weightHh${sfx}`], bih: params[`biasIh${sfx}`], bhh: params[`biasHh${sfx}`], hr: params[`weightHr${sfx}`] };
      const k = layer * cfg.directions + dir;
      const hk: number[][] = [];
      const ck: number[][] = [];
      for (let n = 0; n < x[0].length; n++) {
        let h = h0[k][n];
        let c = c0[k]?.[n] ?? [];
        for (let s = 0; s < input.length; s++) {
          const t = dir ? input.length - 1 - s : s;
          [h, c] = refCell(cfg.mode, p, input[t][n], h, c);
          out[t][n].push(...h);
        }
        hk.push(h);
        ck.push(c);
      }
      hN.push(hk);
      cN.push(ck);
    }
    input = out;
  }
  return { output: input, hN, cN };
}

/** Nested arrays of the given shape from flat values. */
function nest(flat: number[], shape: number[]): number[][][] {
  const [a, b, c] = shape;
  return Array.from({ length: a }, (_, i) => Array.from({ length: b }, (_, j) => flat.slice((i * b + j) * c, (i * b + j + 1) * c)));
}
const swap01 = <T>(x: T[][]): T[][] => x[0].map((_, j) => x.map((row) => row[j]));

interface RefCase {
  name: string;
  make: () => RNNBase;
  /** Input shape as the module takes it. */
  input: number[];
  /** Shapes of the given states, as the module takes them (none: zeros). */
  hx?: number[][];
}

const REF_CASES: RefCase[] = [
  { name: 'RNN tanh', make: () => new RNN(3, 4), input: [5, 2, 3] },
  { name: 'RNN relu, 2 layers, bidirectional, batchFirst, given hx', make: () => new RNN(3, 4, { nonlinearity: 'relu', numLayers: 2, bidirectional: true, batchFirst: true }), input: [2, 5, 3], hx: [[4, 2, 4]] },
  { name: 'RNN tanh without bias, unbatched', make: () => new RNN(3, 4, { bias: false }), input: [4, 3] },
  { name: 'LSTM', make: () => new LSTM(3, 4), input: [5, 2, 3] },
  { name: 'LSTM, 2 layers, bidirectional, batchFirst, given (h0, c0)', make: () => new LSTM(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true }), input: [3, 4, 3], hx: [[4, 3, 4], [4, 3, 4]] },
  { name: 'LSTM with projSize 2, 2 layers, bidirectional, given (h0, c0)', make: () => new LSTM(3, 4, { numLayers: 2, bidirectional: true, projSize: 2 }), input: [4, 2, 3], hx: [[4, 2, 2], [4, 2, 4]] },
  { name: 'LSTM unbatched, 2 layers, bidirectional, given (h0, c0)', make: () => new LSTM(3, 4, { numLayers: 2, bidirectional: true }), input: [5, 3], hx: [[4, 4], [4, 4]] },
  { name: 'GRU', make: () => new GRU(3, 4), input: [5, 2, 3] },
  { name: 'GRU, 2 layers, bidirectional, batchFirst, given hx, no bias', make: () => new GRU(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true, bias: false }), input: [2, 4, 3], hx: [[4, 2, 4]] },
  { name: 'GRU unbatched, given hx', make: () => new GRU(3, 4), input: [6, 3], hx: [[1, 4]] },
];

describe('RNN, LSTM and GRU against a float64 definition written with loops', () => {
  for (const c of REF_CASES) {
    it(c.name, () => {
      manualSeed(1);
      const m = c.make().double();
      const g = new Generator(2);
      const x = randn(c.input, { dtype: 'float64', generator: g });
      const states = (c.hx ?? []).map((s) => randn(s, { dtype: 'float64', generator: g }));
      const [out, ...finals] = noGrad(() => outputs(m.forward(x, hxArg(states))));
      // The definition's layout: time-major, batched.
      const unbatched = c.input.length === 2;
      const batch = unbatched ? 1 : c.input[m.batchFirst ? 0 : 1];
      const asBatched = (v: number[], shape: number[]) => (unbatched ? nest(v, [shape[0], 1, shape[1]]) : nest(v, shape));
      let xs = asBatched(values(x), c.input);
      if (m.batchFirst) xs = swap01(xs);
      const { mode, numLayers, numDirections: directions } = m;
      const params: Params = Object.fromEntries(m.namedParameters().map(([k, p]) => [k, values(p)]));
      const zerosFor = (size: number) => Array.from({ length: numLayers * directions }, () => Array.from({ length: batch }, () => new Array<number>(size).fill(0)));
      const hSize = m.projSize || m.hiddenSize;
      const cSize = m.hiddenSize;
      const h0 = states[0] ? asBatched(values(states[0]), c.hx![0]) : zerosFor(hSize);
      const c0 = states[1] ? asBatched(values(states[1]), c.hx![1]) : zerosFor(cSize);
      const ref = refLayers({ mode, numLayers, directions }, params, xs, h0, c0);
      let expectedOut = ref.output;
      if (m.batchFirst) expectedOut = swap01(expectedOut);
      expect(maxAbsDiff(values(out), expectedOut.flat(2))).toBeLessThan(1e-12);
      const expectedStates = mode === 'LSTM' ? [ref.hN, ref.cN] : [ref.hN];
      expect(finals.length).toBe(expectedStates.length);
      for (const [i, s] of finals.entries()) expect(maxAbsDiff(values(s), expectedStates[i].flat(2))).toBeLessThan(1e-12);
      // Shapes as PyTorch: output in the input's layout, states [layers * directions, (N,) H].
      const outFeatures = directions * hSize;
      expect(out.shape).toEqual(unbatched ? [c.input[0], outFeatures] : m.batchFirst ? [batch, c.input[1], outFeatures] : [c.input[0], batch, outFeatures]);
      expect(finals[0].shape).toEqual(unbatched ? [numLayers * directions, hSize] : [numLayers * directions, batch, hSize]);
    });
  }
});

describe('RNNCell, LSTMCell and GRUCell against the float64 definition', () => {
  const cases: { name: string; make: () => Module; mode: Mode; input: number[]; states: number }[] = [
    { name: 'RNNCell tanh, batched, given hx', make: () => new RNNCell(3, 4), mode: 'RNN_TANH', input: [2, 3], states: 1 },
    { name: 'RNNCell relu, unbatched, no hx', make: () => new RNNCell(3, 4, { nonlinearity: 'relu' }), mode: 'RNN_RELU', input: [3], states: 0 },
    { name: 'LSTMCell, batched, given (h, c)', make: () => new LSTMCell(3, 4), mode: 'LSTM', input: [2, 3], states: 2 },
    { name: 'LSTMCell without bias, unbatched, no state', make: () => new LSTMCell(3, 4, { bias: false }), mode: 'LSTM', input: [3], states: 0 },
    { name: 'GRUCell, batched, given hx', make: () => new GRUCell(3, 4), mode: 'GRU', input: [3, 3], states: 1 },
    { name: 'GRUCell without bias, unbatched, given hx', make: () => new GRUCell(3, 4, { bias: false }), mode: 'GRU', input: [3], states: 1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      manualSeed(5);
      const m = c.make().double();
      const g = new Generator(6);
      const x = randn(c.input, { dtype: 'float64', generator: g });
      const stateShape = c.input.length === 2 ? [c.input[0], 4] : [4];
      const states = Array.from({ length: c.states }, () => randn(stateShape, { dtype: 'float64', generator: g }));
      const got = noGrad(() => outputs(m.forward(x, hxArg(states))));
      const p = Object.fromEntries(m.namedParameters().map(([k, t]) => [k, values(t)]));
      const rows = c.input.length === 2 ? c.input[0] : 1;
      const expected: number[][] = c.mode === 'LSTM' ? [[], []] : [[]];
      for (let n = 0; n < rows; n++) {
        const row = (t: Tensor | undefined, size: number) => (t ? values(t).slice(n * size, (n + 1) * size) : new Array<number>(size).fill(0));
        const [h, cell] = refCell(c.mode, { ih: p.weightIh, hh: p.weightHh, bih: p.biasIh, bhh: p.biasHh }, row(x, 3), row(states[0], 4), row(states[1], 4));
        expected[0].push(...h);
        if (c.mode === 'LSTM') expected[1].push(...cell);
      }
      expect(got.length).toBe(expected.length);
      for (const [i, t] of got.entries()) {
        expect(t.shape).toEqual(stateShape);
        expect(maxAbsDiff(values(t), expected[i])).toBeLessThan(1e-12);
      }
    });
  }
});

// ---------------------------------------------------------------- PyTorch itself
const script = join(import.meta.dirname, 'fixtures', 'torch_recurrent.py');

const LAYERS = { RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell };
interface TorchCase {
  name: string;
  module: keyof typeof LAYERS;
  args: [number, number];
  /** Options in camelCase (passed to PyTorch in snake_case). */
  opts?: Record<string, unknown>;
  dtype?: DType;
  seed: number;
  input: number[];
  hx?: number[][];
  /** Training mode (dropout on); default evaluation. */
  train?: boolean;
}
const TORCH_CASES: TorchCase[] = [
  { name: 'RNN tanh', module: 'RNN', args: [5, 7], seed: 1, input: [6, 3, 5] },
  { name: 'RNN relu, 2 layers, bidirectional, batchFirst, no bias, given hx', module: 'RNN', args: [4, 6], opts: { nonlinearity: 'relu', numLayers: 2, bidirectional: true, batchFirst: true, bias: false }, seed: 2, input: [3, 5, 4], hx: [[4, 3, 6]] },
  { name: 'LSTM, 2 layers, bidirectional, batchFirst, given (h0, c0)', module: 'LSTM', args: [5, 6], opts: { numLayers: 2, bidirectional: true, batchFirst: true }, seed: 3, input: [2, 7, 5], hx: [[4, 2, 6], [4, 2, 6]] },
  { name: 'LSTM with projSize 3, 2 layers, bidirectional, given (h0, c0)', module: 'LSTM', args: [4, 6], opts: { numLayers: 2, bidirectional: true, projSize: 3 }, seed: 4, input: [5, 2, 4], hx: [[4, 2, 3], [4, 2, 6]] },
  { name: 'LSTM unbatched, 3 layers', module: 'LSTM', args: [3, 5], opts: { numLayers: 3 }, seed: 5, input: [6, 3] },
  { name: 'GRU, 2 layers, bidirectional, batchFirst, given hx', module: 'GRU', args: [5, 6], opts: { numLayers: 2, bidirectional: true, batchFirst: true }, seed: 6, input: [3, 6, 5], hx: [[4, 3, 6]] },
  { name: 'GRU unbatched, bidirectional, given hx', module: 'GRU', args: [4, 5], opts: { bidirectional: true }, seed: 7, input: [5, 4], hx: [[2, 5]] },
  { name: 'LSTM in float64, 2 layers, bidirectional', module: 'LSTM', args: [3, 4], opts: { numLayers: 2, bidirectional: true }, dtype: 'float64', seed: 8, input: [4, 2, 3] },
  { name: 'LSTM training with dropout 0.4 between 3 layers, bidirectional: the same masks', module: 'LSTM', args: [4, 5], opts: { numLayers: 3, dropout: 0.4, bidirectional: true }, seed: 9, input: [5, 3, 4], train: true },
  { name: 'GRU training with dropout 0.5, unbatched: the same masks', module: 'GRU', args: [4, 5], opts: { numLayers: 2, dropout: 0.5 }, seed: 10, input: [6, 4], train: true },
  { name: 'RNNCell relu, given hx', module: 'RNNCell', args: [5, 6], opts: { nonlinearity: 'relu' }, seed: 11, input: [3, 5], hx: [[3, 6]] },
  { name: 'LSTMCell unbatched, given (h, c)', module: 'LSTMCell', args: [5, 6], seed: 12, input: [5], hx: [[6], [6]] },
  { name: 'GRUCell without bias', module: 'GRUCell', args: [5, 6], opts: { bias: false }, seed: 13, input: [4, 5] },
];

interface TorchResult {
  state: Record<string, { shape: number[]; values: number[] }>;
  inputs: number[][];
  outputs: number[][];
  weights: number[][];
  grads: { inputs: number[][]; params: Record<string, number[]> };
}

function torchReference(): Record<string, TorchResult> {
  const snake = (k: string) => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
  const cases = TORCH_CASES.map((c) => ({
    name: c.name,
    module: c.module,
    args: c.args,
    kwargs: Object.fromEntries(Object.entries(c.opts ?? {}).map(([k, v]) => [snake(k), v])),
    dtype: c.dtype ?? 'float32',
    seed: c.seed,
    input: c.input,
    hx: c.hx ?? null,
    train: c.train ?? false,
  }));
  const r = spawnSync(python as string, [script], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, TorchResult>;
}
const torchRef = python ? torchReference() : {};

describe.skipIf(!python)('against PyTorch 1.13 on the CPU (skipped only where python3 with torch is missing)', () => {
  for (const c of TORCH_CASES) {
    it(c.name, () => {
      const ref = torchRef[c.name];
      const dtype = c.dtype ?? 'float32';
      // Default initialisation after the same seed: PyTorch's keys, shapes and values, bit for bit.
      manualSeed(c.seed);
      const m = new LAYERS[c.module](...c.args, { ...c.opts, dtype }) as Module;
      // PyTorch's keys and dl's: weight_ih_l0_reverse is weightIhL0Reverse.
      const state = utils.stateDictToPyTorch(m.stateDict());
      expect(Object.keys(state)).toEqual(Object.keys(ref.state));
      for (const [k, t] of Object.entries(state)) {
        expect(t.shape).toEqual(ref.state[k].shape);
        expect(values(t)).toEqual(ref.state[k].values);
      }
      // A PyTorch state dict loads (strict) once its keys are converted.
      m.loadStateDict(utils.stateDictFromPyTorch(Object.fromEntries(Object.entries(ref.state).map(([k, v]) => [k, fromList(v.values, v.shape, dtype)]))));
      // Outputs and gradients for PyTorch's inputs and output weights.
      const shapes = [c.input, ...(c.hx ?? [])];
      const [x, ...states] = ref.inputs.map((v, i) => fromList(v, shapes[i], dtype).requiresGrad_());
      m.train(c.train ?? false);
      manualSeed(c.seed + 2);
      const outs = outputs(m.forward(x, hxArg(states)));
      const tol = dtype === 'float64' ? 1e-12 : 1e-5;
      expect(outs.length).toBe(ref.outputs.length);
      for (const [i, o] of outs.entries()) expect(maxAbsDiff(values(o), ref.outputs[i])).toBeLessThan(tol);
      outs
        .map((o, i) => o.mul(fromList(ref.weights[i], o.shape, dtype)).sum())
        .reduce((a, b) => a.add(b))
        .backward();
      for (const [i, t] of [x, ...states].entries()) expect(maxAbsDiff(values(t.grad as Tensor), ref.grads.inputs[i])).toBeLessThan(tol);
      const grads = utils.stateDictToPyTorch(Object.fromEntries(m.namedParameters().map(([k, p]) => [k, p.grad as Tensor])));
      expect(Object.keys(grads)).toEqual(Object.keys(ref.grads.params));
      for (const [k, g] of Object.entries(grads)) expect(maxAbsDiff(values(g), ref.grads.params[k])).toBeLessThan(tol);
    });
  }
});

// ---------------------------------------------------------------- finite differences
/** gradcheck in float64 of every output with respect to the input, the given states and every parameter. */
function gradcheckRecurrent(m: Module, input: number[], stateShapes: number[][] = []): boolean {
  m.double();
  const g = new Generator(21);
  const [x, ...states] = [input, ...stateShapes].map((s) => randn(s, { dtype: 'float64', generator: g }).requiresGrad_());
  const names = m.namedParameters().map(([k]) => k);
  const fn = (xi: Tensor, ...rest: Tensor[]) => {
    const ps = rest.slice(states.length);
    return outputs(utils.functionalCall(m, Object.fromEntries(names.map((k, i) => [k, ps[i]])), xi, hxArg(rest.slice(0, states.length))));
  };
  return gradcheck(fn, [x, ...states, ...m.parameters()]);
}

describe('gradcheck (float64) of input, states and every parameter', () => {
  it('RNN tanh and relu, 2 layers, bidirectional', () => {
    manualSeed(20);
    expect(gradcheckRecurrent(new RNN(2, 3, { numLayers: 2, bidirectional: true }), [3, 2, 2], [[4, 2, 3]])).toBe(true);
    expect(gradcheckRecurrent(new RNN(2, 3, { nonlinearity: 'relu', batchFirst: true }), [2, 3, 2])).toBe(true);
  });

  it('LSTM, 2 layers, bidirectional, given (h0, c0); and with projSize, unbatched', () => {
    manualSeed(21);
    expect(gradcheckRecurrent(new LSTM(2, 3, { numLayers: 2, bidirectional: true }), [3, 2, 2], [[4, 2, 3], [4, 2, 3]])).toBe(true);
    expect(gradcheckRecurrent(new LSTM(2, 3, { projSize: 2, bidirectional: true }), [3, 2], [[2, 2], [2, 3]])).toBe(true);
  });

  it('GRU, 2 layers, bidirectional, batchFirst, given hx', () => {
    manualSeed(22);
    expect(gradcheckRecurrent(new GRU(2, 3, { numLayers: 2, bidirectional: true, batchFirst: true }), [2, 3, 2], [[4, 2, 3]])).toBe(true);
  });

  it('RNNCell, LSTMCell, GRUCell', () => {
    manualSeed(23);
    expect(gradcheckRecurrent(new RNNCell(2, 3), [2, 2], [[2, 3]])).toBe(true);
    expect(gradcheckRecurrent(new LSTMCell(2, 3), [2, 2], [[2, 3], [2, 3]])).toBe(true);
    expect(gradcheckRecurrent(new GRUCell(2, 3), [2], [[3]])).toBe(true);
  });
});

// ---------------------------------------------------------------- the module
describe('parameters, printing, modes and memory', () => {
  it("has PyTorch's parameter names and shapes, in PyTorch's order", () => {
    const m = new LSTM(3, 6, { numLayers: 2, bidirectional: true, projSize: 2 });
    expect(m.namedParameters().map(([k, p]) => `${k} ${p.shape.join('x')}`)).toEqual([
      'weightIhL0 24x3', 'weightHhL0 24x2', 'biasIhL0 24', 'biasHhL0 24', 'weightHrL0 2x6',
      'weightIhL0Reverse 24x3', 'weightHhL0Reverse 24x2', 'biasIhL0Reverse 24', 'biasHhL0Reverse 24', 'weightHrL0Reverse 2x6',
      'weightIhL1 24x4', 'weightHhL1 24x2', 'biasIhL1 24', 'biasHhL1 24', 'weightHrL1 2x6',
      'weightIhL1Reverse 24x4', 'weightHhL1Reverse 24x2', 'biasIhL1Reverse 24', 'biasHhL1Reverse 24', 'weightHrL1Reverse 2x6',
    ]);
    expect(Object.keys(new GRU(3, 4, { bias: false }).stateDict())).toEqual(['weightIhL0', 'weightHhL0']);
    expect(Object.keys(new GRUCell(3, 4).stateDict())).toEqual(['weightIh', 'weightHh', 'biasIh', 'biasHh']);
    expect(Object.keys(new RNNCell(3, 4, { bias: false }).stateDict())).toEqual(['weightIh', 'weightHh']);
    const bound = 1 / Math.sqrt(6);
    for (const p of m.parameters()) for (const v of values(p)) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
  });

  it("prints like PyTorch's repr, in camelCase", () => {
    expect(String(new LSTM(10, 20, { numLayers: 2, batchFirst: true, bidirectional: true, dropout: 0.5 }))).toBe('LSTM(10, 20, numLayers=2, batchFirst=true, dropout=0.5, bidirectional=true)');
    expect(String(new LSTM(10, 20, { projSize: 5, bias: false }))).toBe('LSTM(10, 20, projSize=5, bias=false)');
    expect(String(new RNN(3, 4, { nonlinearity: 'relu' }))).toBe('RNN(3, 4)');
    expect(String(new RNNCell(3, 4, { nonlinearity: 'relu', bias: false }))).toBe("RNNCell(3, 4, bias=false, nonlinearity='relu')");
    expect(String(new GRUCell(3, 4))).toBe('GRUCell(3, 4)');
  });

  it('dropout acts between layers in training only, and not at all with one layer', () => {
    manualSeed(30);
    const m = new GRU(3, 4, { numLayers: 2, dropout: 0.5 });
    const x = randn([5, 2, 3]);
    const plain = new GRU(3, 4, { numLayers: 2 });
    plain.loadStateDict(m.stateDict());
    const [expected] = noGrad(() => plain.forward(x));
    const [inEval] = noGrad(() => m.eval().forward(x));
    expect(values(inEval)).toEqual(values(expected));
    const [inTraining] = noGrad(() => m.train().forward(x));
    expect(maxAbsDiff(values(inTraining), values(expected))).toBeGreaterThan(1e-3);
    const single = new GRU(3, 4, { dropout: 0.5 });
    const [a] = noGrad(() => single.forward(x));
    const [b] = noGrad(() => single.eval().forward(x));
    expect(values(a)).toEqual(values(b));
  });

  it('to(float64), resetParameters and hx of zeros equal to no hx', () => {
    manualSeed(31);
    const m = new LSTM(3, 4, { numLayers: 2 }).double();
    for (const p of m.parameters()) expect(p.dtype).toBe('float64');
    const x = randn([4, 2, 3], { dtype: 'float64' });
    const [y0, [h0, c0]] = noGrad(() => m.forward(x));
    const [y1, [h1, c1]] = noGrad(() => m.forward(x, [zeros([2, 2, 4], { dtype: 'float64' }), zeros([2, 2, 4], { dtype: 'float64' })]));
    expect([values(y1), values(h1), values(c1)]).toEqual([values(y0), values(h0), values(c0)]);
    const before = values(m.getParameter('weightHhL1'));
    m.resetParameters();
    expect(values(m.getParameter('weightHhL1'))).not.toEqual(before);
  });

  it('a forward inside scope() leaves no tensor behind, with and without gradients', () => {
    manualSeed(32);
    const m = new LSTM(3, 4, { numLayers: 2, bidirectional: true });
    const x = randn([6, 2, 3]);
    const live = memoryStats().liveTensors;
    scope(() => {
      noGrad(() => m.forward(x));
    });
    expect(memoryStats().liveTensors).toBe(live);
    scope(() => {
      const [y] = m.forward(x);
      y.sum().backward();
    });
    m.zeroGrad();
    expect(memoryStats().liveTensors).toBe(live);
    // The results of a forward outlive the scopes inside it.
    const [y, [h, c]] = m.forward(x);
    expect([y.isDisposed, h.isDisposed, c.isDisposed]).toEqual([false, false, false]);
  });
});

// ---------------------------------------------------------------- errors

describe('bad arguments and inputs are DLErrors that say what is wrong', () => {
  it('constructor arguments', () => {
    expect(dlError(() => new RNN(3.5, 4)).message).toBe('RNN: inputSize must be an integer >= 1; got 3.5');
    expect(dlError(() => new LSTM(3, 0)).message).toBe('LSTM: hiddenSize must be an integer >= 1; got 0');
    expect(dlError(() => new GRU(3, 4, { numLayers: 0 })).message).toBe('GRU: numLayers must be an integer >= 1; got 0');
    expect(dlError(() => new GRU(3, 4, { dropout: 1.5 })).message).toBe('GRU: dropout has to be between 0 and 1; got 1.5');
    expect(dlError(() => new RNN(3, 4, { dropout: -0.1 })).code).toBe('VALUE');
    expect(dlError(() => new RNN(3, 4, { nonlinearity: 'sigmoid' as 'tanh' })).message).toBe(`RNN: nonlinearity must be 'tanh' or 'relu'; got "sigmoid"`);
    expect(dlError(() => new RNNCell(3, 4, { nonlinearity: 'gelu' as 'relu' })).message).toContain("RNNCell: nonlinearity must be 'tanh' or 'relu'");
    expect(dlError(() => new LSTM(3, 4, { projSize: 4 })).message).toContain('LSTM: projSize has to be smaller than hiddenSize; got projSize 4 and hiddenSize 4');
    expect(dlError(() => new LSTM(3, 4, { projSize: -1 })).message).toBe('LSTM: projSize must be an integer >= 0; got -1');
    expect(dlError(() => new LSTMCell(3, 2.5)).message).toBe('LSTMCell: hiddenSize must be an integer >= 1; got 2.5');
  });

  it('inputs of the wrong rank, feature size, dtype or length', () => {
    const rnn = new GRU(3, 4, { batchFirst: true });
    const e = dlError(() => rnn.forward(zeros([2, 5, 3, 1])));
    expect([e.code, e.message]).toEqual(['SHAPE', 'GRU.forward: expected input of 3 dims [N, L, inputSize] (batchFirst) or 2 dims [L, inputSize] (unbatched); got shape [2, 5, 3, 1]']);
    expect(dlError(() => new LSTM(3, 4).forward(zeros([5, 2, 7]))).message).toBe('LSTM.forward: input has 7 features in its last dim, expected inputSize 3; got shape [5, 2, 7]');
    expect(dlError(() => new RNN(3, 4).forward(zeros([5, 2, 3], { dtype: 'float64' }))).message).toContain("RNN.forward: input is float64 but the parameters are float32\nhint: cast with input.to('float32')");
    expect(dlError(() => new RNN(3, 4).forward(zeros([5, 3], { dtype: 'int32' }))).code).toBe('DTYPE');
    expect(dlError(() => new RNN(3, 4).forward(zeros([0, 2, 3]))).message).toContain('expected a sequence of length >= 1');
    expect(dlError(() => new RNN(3, 4).forward([[1, 2, 3]] as unknown as Tensor)).message).toContain('RNN.forward: input must be a Tensor; got an array');
    expect(dlError(() => new GRUCell(3, 4).forward(zeros([2, 2, 3]))).message).toBe('GRUCell.forward: expected input of 2 dims [N, inputSize] or 1 dim [inputSize] (unbatched); got shape [2, 2, 3]');
    expect(dlError(() => new LSTMCell(3, 4).forward(zeros([2, 5]))).message).toBe('LSTMCell.forward: input has 5 features in its last dim, expected inputSize 3; got shape [2, 5]');
  });

  it('states of the wrong shape name the expected shape', () => {
    const lstm = new LSTM(3, 4, { numLayers: 2, bidirectional: true, projSize: 2 });
    const x = zeros([5, 2, 3]);
    expect(dlError(() => lstm.forward(x, [zeros([4, 2, 4]), zeros([4, 2, 4])])).message).toBe(
      'LSTM.forward: expected h0 of shape [4, 2, 2] ([numLayers * numDirections, N, projSize]) for input of shape [5, 2, 3]; got [4, 2, 4]',
    );
    expect(dlError(() => lstm.forward(x, [zeros([4, 2, 2]), zeros([2, 2, 4])])).message).toBe(
      'LSTM.forward: expected c0 of shape [4, 2, 4] ([numLayers * numDirections, N, hiddenSize]) for input of shape [5, 2, 3]; got [2, 2, 4]',
    );
    expect(dlError(() => lstm.forward(x, zeros([4, 2, 2]) as unknown as [Tensor, Tensor])).message).toContain('LSTM.forward: hx must be a pair [h0, c0]');
    expect(dlError(() => new GRU(3, 4).forward(zeros([5, 3]), zeros([1, 1, 4]))).message).toBe(
      'GRU.forward: expected hx of shape [1, 4] ([numLayers * numDirections, hiddenSize]) for input of shape [5, 3]; got [1, 1, 4]',
    );
    expect(dlError(() => new RNN(3, 4).forward(zeros([5, 2, 3]), zeros([1, 2, 4], { dtype: 'float64' }))).message).toContain('RNN.forward: hx is float64 but the parameters are float32');
    expect(dlError(() => new RNNCell(3, 4).forward(zeros([2, 3]), zeros([3, 4]))).message).toBe('RNNCell.forward: expected hx of shape [2, 4] ([N, hiddenSize]) for input of shape [2, 3]; got [3, 4]');
    expect(dlError(() => new LSTMCell(3, 4).forward(zeros([3]), [zeros([4]), ones([1, 4])])).message).toBe('LSTMCell.forward: expected c of shape [4] ([hiddenSize]) for input of shape [3]; got [1, 4]');
  });
});
