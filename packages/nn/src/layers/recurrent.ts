/**
 * Recurrent layers: RNN (tanh or relu), LSTM (with optional projections), GRU and their
 * one-step cells RNNCell, LSTMCell, GRUCell, as torch.nn defines them: the same arguments,
 * parameters (named in camelCase, weight_ih_l0 as weightIhL0: utils.stateDictFromPyTorch
 * converts a PyTorch state dict), gate order and default initialisation (every weight and bias U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)), drawn in
 * PyTorch's parameter order).
 *
 * RNN, LSTM and GRU also take a PackedSequence (utils.rnn.packPaddedSequence): each sequence
 * then runs over its own steps only, and the final states are those after each one's last step.
 *
 * Built from tensor ops, so autograd and every backend work as they are. A layer projects the
 * input of all its time steps at once (one matmul over [L * N, Hin] per layer and direction);
 * only the hidden projection runs step by step. Each step runs in its own scope(), so under
 * noGrad a sequence holds its input projections and outputs but no per-step temporaries.
 */
import { DLError, cat, scope, stack, zeros } from '@dl/tensor';
import type { Shape, Tensor } from '@dl/tensor';
import * as F from '../functional.js';
import * as init from '../init.js';
import { checkFloat, checkTensor, fmtShape, positiveInt, probability } from '../internal.js';
import type { FactoryOptions } from '../internal.js';
import { Module } from '../module.js';
import { type Parameter, ownParameter } from '../parameter.js';
import { PackedSequence } from '../rnn-utils.js';

/** The nonlinearity of RNN and RNNCell. */
export type RNNNonlinearity = 'tanh' | 'relu';
/** PyTorch's RNNBase.mode. */
export type RNNMode = 'RNN_TANH' | 'RNN_RELU' | 'LSTM' | 'GRU';

export interface RNNBaseOptions extends FactoryOptions {
  /** Stacked recurrent layers, each reading the previous one's output (default 1). */
  numLayers?: number;
  /** Learn the biases biasIh and biasHh (default true). */
  bias?: boolean;
  /** Input and output as [N, L, features] instead of [L, N, features] (default false); hidden states are not affected. */
  batchFirst?: boolean;
  /** Dropout on the output of every layer but the last, in training (default 0; no effect with one layer). */
  dropout?: number;
  /** Run a second layer over the reversed sequence and concatenate both outputs (default false). */
  bidirectional?: boolean;
}

export interface RNNOptions extends RNNBaseOptions {
  /** 'tanh' (default) or 'relu'. */
  nonlinearity?: RNNNonlinearity;
}

export interface LSTMOptions extends RNNBaseOptions {
  /** Project each hidden state to this size with weightHr (no bias); 0 (default): no projection. */
  projSize?: number;
}

export type GRUOptions = RNNBaseOptions;

export interface RNNCellBaseOptions extends FactoryOptions {
  /** Learn the biases biasIh and biasHh (default true). */
  bias?: boolean;
}

export interface RNNCellOptions extends RNNCellBaseOptions {
  /** 'tanh' (default) or 'relu'. */
  nonlinearity?: RNNNonlinearity;
}

export type LSTMCellOptions = RNNCellBaseOptions;
export type GRUCellOptions = RNNCellBaseOptions;

const GATES: Record<RNNMode, number> = { RNN_TANH: 1, RNN_RELU: 1, LSTM: 4, GRU: 3 };

function nonlinearityOf(op: string, v: unknown): RNNNonlinearity {
  if (v !== 'tanh' && v !== 'relu') throw new DLError('ARGUMENT', op, `nonlinearity must be 'tanh' or 'relu'; got ${JSON.stringify(v)}`);
  return v;
}

/** U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)) for every parameter, in registration order (PyTorch's reset_parameters). */
function resetUniform(m: Module, hiddenSize: number): void {
  const stdv = 1 / Math.sqrt(hiddenSize);
  for (const p of m.parameters()) init.uniform_(p, -stdv, stdv);
}

/** dtype of the input against the parameters': matmul would promote silently, PyTorch refuses. */
function checkDtypes(op: string, name: string, t: Tensor, weight: Tensor): void {
  checkFloat(op, name, t);
  if (t.dtype !== weight.dtype) {
    throw new DLError('DTYPE', op, `${name} is ${t.dtype} but the parameters are ${weight.dtype}`, `cast with ${name}.to('${weight.dtype}'), or convert the module with .float() / .double()`);
  }
}

/** `input`: what the state is for, as the message names it ("input of shape [5, 2, 3]"). */
function checkState(op: string, name: string, t: unknown, expected: Shape, layout: string, input: string): asserts t is Tensor {
  checkTensor(op, name, t);
  if (t.ndim !== expected.length || t.shape.some((s, i) => s !== expected[i])) {
    throw new DLError('SHAPE', op, `expected ${name} of shape ${fmtShape(expected)} (${layout}) for ${input}; got ${fmtShape(t.shape)}`);
  }
}

/** The weights of one layer and direction, or of a cell. */
interface CellWeights {
  hh: Tensor;
  bhh: Tensor | null;
  /** LSTM's projection weightHr. */
  hr: Tensor | null;
}

/**
 * One step of a cell from gi = x W_ih^T + b_ih ([N, gates * hiddenSize]) and the state h
 * (and c for the LSTM): returns h' (and c'). PyTorch's gate equations and order:
 * LSTM (i, f, g, o), GRU (r, z, n) with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
 */
function cellStep(mode: RNNMode, gi: Tensor, h: Tensor, c: Tensor | null, w: CellWeights): [Tensor, Tensor | null] {
  const gh = F.linear(h, w.hh, w.bhh);
  switch (mode) {
    case 'RNN_TANH':
      return [gi.add(gh).tanh(), null];
    case 'RNN_RELU':
      return [gi.add(gh).relu(), null];
    case 'LSTM': {
      const [i, f, g, o] = gi.add(gh).chunk(4, 1);
      const c2 = f.sigmoid().mul(c as Tensor).add(i.sigmoid().mul(g.tanh()));
      const h2 = o.sigmoid().mul(c2.tanh());
      return [w.hr ? F.linear(h2, w.hr) : h2, c2];
    }
    case 'GRU': {
      const [ir, iz, inew] = gi.chunk(3, 1);
      const [hr, hz, hnew] = gh.chunk(3, 1);
      const r = ir.add(hr).sigmoid();
      const z = iz.add(hz).sigmoid();
      const n = inew.add(r.mul(hnew)).tanh();
      // (1 - z) * n + z * h
      return [n.add(z.mul(h.sub(n))), null];
    }
  }
}

/**
 * One layer in one direction over the rows gi = x W_ih^T + b_ih [P, gates * hiddenSize] of all
 * time steps, step t's batchSizes[t] rows after those of the steps before (the packed layout;
 * padded input is the case of equal batch sizes), from the states h0 (and c0) [N, *] with
 * N = batchSizes[0] and the sequences by decreasing length. Returns the outputs [P, hOut] in the
 * same layout and each sequence's final state, as PyTorch's packed layers: forward, the
 * sequences that ended leave the batch (its last rows) with the state after their last step; in
 * reverse, each sequence joins the batch at its own last step, starting from its h0 (and c0).
 */
function runDirection(mode: RNNMode, gi: Tensor, batchSizes: readonly number[], h0: Tensor, c0: Tensor | null, w: CellWeights, reverse: boolean): [Tensor, Tensor, Tensor | null] {
  const steps = batchSizes.length;
  // Step t's rows start after those of the steps before.
  const starts = [0];
  for (let t = 1; t < steps; t++) starts.push(starts[t - 1] + batchSizes[t - 1]);
  const out: Tensor[] = new Array(steps);
  const step = (t: number, h: Tensor, c: Tensor | null) => scope(() => cellStep(mode, gi.narrow(0, starts[t], batchSizes[t]), h, c, w));
  if (reverse) {
    let rows = batchSizes[steps - 1];
    let h = h0.narrow(0, 0, rows);
    let c = c0?.narrow(0, 0, rows) ?? null;
    for (let t = steps - 1; t >= 0; t--) {
      const joining = batchSizes[t] - rows;
      if (joining > 0) {
        h = cat([h, h0.narrow(0, rows, joining)], 0);
        c = c && cat([c, (c0 as Tensor).narrow(0, rows, joining)], 0);
        rows = batchSizes[t];
      }
      [h, c] = step(t, h, c);
      out[t] = h;
    }
    return [cat(out, 0), h, c];
  }
  // The final states of the sequences that ended, the last-ending (lowest rows) last.
  const ended: [Tensor, Tensor | null][] = [];
  let h = h0;
  let c = c0;
  for (let t = 0; t < steps; t++) {
    const rows = h.shape[0];
    const size = batchSizes[t];
    if (size < rows) {
      ended.push([h.narrow(0, size, rows - size), c?.narrow(0, size, rows - size) ?? null]);
      h = h.narrow(0, 0, size);
      c = c?.narrow(0, 0, size) ?? null;
    }
    [h, c] = step(t, h, c);
    out[t] = h;
  }
  if (ended.length === 0) return [cat(out, 0), h, c];
  ended.push([h, c]);
  ended.reverse();
  return [cat(out, 0), cat(ended.map(([eh]) => eh), 0), c && cat(ended.map(([, ec]) => ec as Tensor), 0)];
}

/**
 * RNNBase (torch.nn.RNNBase): what RNN, LSTM and GRU share. For layer k the parameters are
 * weightIhL{k} [gates * hiddenSize, in], weightHhL{k} [gates * hiddenSize, hOut], biasIhL{k},
 * biasHhL{k} [gates * hiddenSize] and, for an LSTM with projSize > 0, weightHrL{k}
 * [projSize, hiddenSize], where in is inputSize for layer 0 and hOut * numDirections after it,
 * and hOut is projSize or hiddenSize. The backward direction's names end in 'Reverse'.
 * PyTorch's weight_ih_l0 is weightIhL0 here (utils.stateDictFromPyTorch converts whole state dicts).
 */
export abstract class RNNBase extends Module {
  readonly mode: RNNMode;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly projSize: number;

  protected constructor(mode: RNNMode, inputSize: number, hiddenSize: number, opts: RNNBaseOptions & { projSize?: number }) {
    super();
    const op = this.constructor.name;
    this.mode = mode;
    this.inputSize = positiveInt(op, 'inputSize', inputSize);
    this.hiddenSize = positiveInt(op, 'hiddenSize', hiddenSize);
    this.numLayers = positiveInt(op, 'numLayers', opts.numLayers ?? 1);
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = probability(op, 'dropout', opts.dropout ?? 0);
    this.bidirectional = opts.bidirectional ?? false;
    this.projSize = positiveInt(op, 'projSize', opts.projSize ?? 0, 0);
    if (this.projSize >= hiddenSize) {
      throw new DLError('VALUE', op, `projSize has to be smaller than hiddenSize; got projSize ${this.projSize} and hiddenSize ${hiddenSize}`, 'use projSize 0 for no projection');
    }
    const factory = { dtype: opts.dtype, device: opts.device };
    const gateSize = GATES[mode] * hiddenSize;
    const hOut = this.projSize || hiddenSize;
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (let dir = 0; dir < this.numDirections; dir++) {
        const sfx = RNNBase.#suffix(layer, dir);
        const layerInputSize = layer === 0 ? inputSize : hOut * this.numDirections;
        this.registerParameter(`weightIh${sfx}`, ownParameter(zeros([gateSize, layerInputSize], factory)));
        this.registerParameter(`weightHh${sfx}`, ownParameter(zeros([gateSize, hOut], factory)));
        if (this.bias) {
          this.registerParameter(`biasIh${sfx}`, ownParameter(zeros([gateSize], factory)));
          this.registerParameter(`biasHh${sfx}`, ownParameter(zeros([gateSize], factory)));
        }
        if (this.projSize > 0) this.registerParameter(`weightHr${sfx}`, ownParameter(zeros([this.projSize, hiddenSize], factory)));
      }
    }
    this.resetParameters();
  }

  static #suffix(layer: number, dir: number): string {
    return `L${layer}${dir === 1 ? 'Reverse' : ''}`;
  }

  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Every weight and bias U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)), PyTorch's default. */
  resetParameters(): void {
    resetUniform(this, this.hiddenSize);
  }

  /** A parameter by its PyTorch name, read at call time (utils.functionalCall may stand in for it). */
  #param(name: string): Tensor | null {
    return (this as unknown as Record<string, Tensor | undefined>)[name] ?? null;
  }

  /**
   * The forward pass shared by the subclasses: input [L, N, Hin] ([N, L, Hin] with batchFirst)
   * or unbatched [L, Hin]; h0 (and c0 for the LSTM) [numLayers * numDirections, N, hOut] (c0:
   * hiddenSize), unbatched without the N, zeros when omitted. Returns the output
   * [L, N, numDirections * hOut] (in the input's layout) and the final states, shaped as h0 and c0.
   * A PackedSequence input (data [sum of lengths, Hin], batchFirst does not apply) gives a
   * PackedSequence output of the same batch sizes and order; h0, c0 and the final states are
   * in the caller's batch order (sortedIndices and unsortedIndices applied, as PyTorch does).
   */
  protected run(input: Tensor | PackedSequence, h0: Tensor | null | undefined, c0: Tensor | null | undefined): [Tensor | PackedSequence, Tensor, Tensor | null] {
    const op = `${this.constructor.name}.forward`;
    const packed = input instanceof PackedSequence ? input : null;
    const x0 = packed ? packed.data : (input as Tensor);
    const inputName = packed ? 'input.data' : 'input';
    checkTensor(op, inputName, x0);
    if (packed) {
      if (x0.ndim !== 2 || x0.shape[1] !== this.inputSize) {
        throw new DLError('SHAPE', op, `expected the data of a PackedSequence of shape [sum of lengths, inputSize ${this.inputSize}]; got shape ${fmtShape(x0.shape)}`);
      }
    } else if (x0.ndim !== 2 && x0.ndim !== 3) {
      throw new DLError('SHAPE', op, `expected input of 3 dims ${this.batchFirst ? '[N, L, inputSize] (batchFirst)' : '[L, N, inputSize]'} or 2 dims [L, inputSize] (unbatched); got shape ${fmtShape(x0.shape)}`);
    } else if (x0.shape[x0.ndim - 1] !== this.inputSize) {
      throw new DLError('SHAPE', op, `input has ${x0.shape[x0.ndim - 1]} features in its last dim, expected inputSize ${this.inputSize}; got shape ${fmtShape(x0.shape)}`);
    }
    const weight = this.#param('weightIhL0') as Tensor;
    checkDtypes(op, inputName, x0, weight);
    const batched = packed !== null || x0.ndim === 3;
    const timeDim = !packed && batched && this.batchFirst ? 1 : 0;
    // How many sequences run at each time step.
    let batchSizes: readonly number[];
    if (packed) {
      batchSizes = packed.batchSizesList;
    } else {
      if (x0.shape[timeDim] === 0) throw new DLError('SHAPE', op, `expected a sequence of length >= 1; got input of shape ${fmtShape(x0.shape)}`);
      batchSizes = new Array<number>(x0.shape[timeDim]).fill(batched ? x0.shape[1 - timeDim] : 1);
    }
    const n = batchSizes[0];
    const isLstm = this.mode === 'LSTM';
    const hOut = this.projSize || this.hiddenSize;
    const states = this.numLayers * this.numDirections;
    const given: [string, Tensor | null | undefined, number, string][] = [
      [isLstm ? 'h0' : 'hx', h0, hOut, this.projSize ? 'projSize' : 'hiddenSize'],
      ['c0', c0, this.hiddenSize, 'hiddenSize'],
    ];
    for (const [name, t, size, sizeName] of given) {
      if (t == null) continue;
      const layout = `[numLayers * numDirections, ${batched ? 'N, ' : ''}${sizeName}]`;
      checkState(op, name, t, batched ? [states, n, size] : [states, size], layout, packed ? `a PackedSequence of ${n} sequences` : `input of shape ${fmtShape(x0.shape)}`);
      checkDtypes(op, name, t, weight);
    }
    return scope(() => {
      const factory = { dtype: x0.dtype, device: x0.device };
      // Rows [P, features] in the packed layout: step by step, a padded input's N rows per step.
      let x = packed ? x0 : (timeDim === 1 ? x0.transpose(0, 1) : x0).reshape([-1, this.inputSize]);
      // States [layers * directions, N, *] in the order of the rows (sorted by decreasing length).
      const initial = (t: Tensor | null | undefined, size: number) => {
        if (t == null) return zeros([states, n, size], factory);
        if (!batched) return t.unsqueeze(1);
        return packed?.sortedIndices ? t.indexSelect(1, packed.sortedIndices) : t;
      };
      const h = initial(h0, hOut);
      const c = isLstm ? initial(c0, this.hiddenSize) : null;
      const hN: Tensor[] = [];
      const cN: Tensor[] = [];
      for (let layer = 0; layer < this.numLayers; layer++) {
        const outs: Tensor[] = [];
        for (let dir = 0; dir < this.numDirections; dir++) {
          const sfx = RNNBase.#suffix(layer, dir);
          const weights: CellWeights = { hh: this.#param(`weightHh${sfx}`) as Tensor, bhh: this.#param(`biasHh${sfx}`), hr: this.#param(`weightHr${sfx}`) };
          // The input projection of every time step in one matmul: [P, gates * hiddenSize].
          const gi = F.linear(x, this.#param(`weightIh${sfx}`) as Tensor, this.#param(`biasIh${sfx}`));
          const k = layer * this.numDirections + dir;
          const [out, ht, ct] = runDirection(this.mode, gi, batchSizes, h.select(0, k), c ? c.select(0, k) : null, weights, dir === 1);
          outs.push(out);
          hN.push(ht);
          if (ct) cN.push(ct);
        }
        x = outs.length === 1 ? outs[0] : cat(outs, 1);
        if (this.training && this.dropout > 0 && layer < this.numLayers - 1) x = F.dropout(x, this.dropout, true);
      }
      const hFinal = stack(hN, 0);
      const cFinal = isLstm ? stack(cN, 0) : null;
      if (packed) {
        // The output shares the input's batch sizes and order (views of its own of them).
        const { sortedIndices: sorted, unsortedIndices: unsorted } = packed;
        const output = new PackedSequence(x, packed.batchSizes.detach(), sorted?.detach() ?? null, unsorted?.detach() ?? null);
        const restore = (t: Tensor) => (unsorted ? t.indexSelect(1, unsorted) : t);
        return [output, restore(hFinal), cFinal && restore(cFinal)];
      }
      const y = x.reshape([batchSizes.length, n, x.shape[1]]);
      const output = batched ? (this.batchFirst ? y.transpose(0, 1) : y) : y.squeeze(1);
      const unbatch = (t: Tensor) => (batched ? t : t.squeeze(1));
      return [output, unbatch(hFinal), cFinal && unbatch(cFinal)];
    });
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.projSize !== 0) s += `, projSize=${this.projSize}`;
    if (this.numLayers !== 1) s += `, numLayers=${this.numLayers}`;
    if (!this.bias) s += ', bias=false';
    if (this.batchFirst) s += ', batchFirst=true';
    if (this.dropout !== 0) s += `, dropout=${this.dropout}`;
    if (this.bidirectional) s += ', bidirectional=true';
    return s;
  }
}

/**
 * RNN(inputSize, hiddenSize, { numLayers, nonlinearity, bias, batchFirst, dropout,
 * bidirectional }) (torch.nn.RNN): h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) with
 * act tanh (default) or relu. forward(input, hx?) returns [output, hN]; see RNNBase for the
 * parameters and shapes. A PackedSequence input gives a PackedSequence output.
 */
export class RNN extends RNNBase {
  readonly nonlinearity: RNNNonlinearity;

  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    const nonlinearity = nonlinearityOf('RNN', opts.nonlinearity ?? 'tanh');
    super(nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, { ...opts, projSize: 0 });
    this.nonlinearity = nonlinearity;
  }

  override forward(input: Tensor, hx?: Tensor | null): [Tensor, Tensor];
  override forward(input: PackedSequence, hx?: Tensor | null): [PackedSequence, Tensor];
  override forward(input: Tensor | PackedSequence, hx?: Tensor | null): [Tensor | PackedSequence, Tensor] {
    const [output, hN] = this.run(input, hx, null);
    return [output, hN];
  }
}

/**
 * LSTM(inputSize, hiddenSize, { numLayers, bias, batchFirst, dropout, bidirectional, projSize })
 * (torch.nn.LSTM), gates (i, f, g, o): c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t), then
 * h_t W_hr^T when projSize > 0. forward(input, [h0, c0]?) returns [output, [hN, cN]]; see
 * RNNBase for the parameters and shapes. A PackedSequence input gives a PackedSequence output.
 */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: LSTMOptions = {}) {
    super('LSTM', inputSize, hiddenSize, opts);
  }

  override forward(input: Tensor, hx?: readonly [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]];
  override forward(input: PackedSequence, hx?: readonly [Tensor, Tensor] | null): [PackedSequence, [Tensor, Tensor]];
  override forward(input: Tensor | PackedSequence, hx?: readonly [Tensor, Tensor] | null): [Tensor | PackedSequence, [Tensor, Tensor]] {
    if (hx != null && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new DLError('ARGUMENT', 'LSTM.forward', `hx must be a pair [h0, c0]; got ${Array.isArray(hx) ? `an array of ${hx.length}` : typeof hx}`);
    }
    const [output, hN, cN] = this.run(input, hx?.[0], hx?.[1]);
    return [output, [hN, cN as Tensor]];
  }
}

/**
 * GRU(inputSize, hiddenSize, { numLayers, bias, batchFirst, dropout, bidirectional })
 * (torch.nn.GRU), gates (r, z, n): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
 * h' = (1 - z) * n + z * h. forward(input, hx?) returns [output, hN]; see RNNBase. A
 * PackedSequence input gives a PackedSequence output.
 */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: GRUOptions = {}) {
    super('GRU', inputSize, hiddenSize, opts);
  }

  override forward(input: Tensor, hx?: Tensor | null): [Tensor, Tensor];
  override forward(input: PackedSequence, hx?: Tensor | null): [PackedSequence, Tensor];
  override forward(input: Tensor | PackedSequence, hx?: Tensor | null): [Tensor | PackedSequence, Tensor] {
    const [output, hN] = this.run(input, hx, null);
    return [output, hN];
  }
}

/**
 * RNNCellBase (torch.nn.RNNCellBase): one time step. Parameters weightIh
 * [gates * hiddenSize, inputSize], weightHh [gates * hiddenSize, hiddenSize] and (with bias)
 * biasIh, biasHh [gates * hiddenSize], all U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)).
 * Input [N, inputSize] or unbatched [inputSize]; states [N, hiddenSize] or [hiddenSize].
 */
export abstract class RNNCellBase extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  weightIh: Parameter;
  weightHh: Parameter;
  biasIh: Parameter | null;
  biasHh: Parameter | null;
  readonly #mode: RNNMode;

  protected constructor(mode: RNNMode, inputSize: number, hiddenSize: number, opts: RNNCellBaseOptions) {
    super();
    const op = this.constructor.name;
    this.#mode = mode;
    const gates = GATES[mode];
    this.inputSize = positiveInt(op, 'inputSize', inputSize);
    this.hiddenSize = positiveInt(op, 'hiddenSize', hiddenSize);
    this.bias = opts.bias ?? true;
    const factory = { dtype: opts.dtype, device: opts.device };
    this.weightIh = ownParameter(zeros([gates * hiddenSize, inputSize], factory));
    this.weightHh = ownParameter(zeros([gates * hiddenSize, hiddenSize], factory));
    this.biasIh = this.bias ? ownParameter(zeros([gates * hiddenSize], factory)) : null;
    this.biasHh = this.bias ? ownParameter(zeros([gates * hiddenSize], factory)) : null;
    this.resetParameters();
  }

  /** Every weight and bias U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)), PyTorch's default. */
  resetParameters(): void {
    resetUniform(this, this.hiddenSize);
  }

  /** One step from input and states of the shapes in the class comment (zeros when omitted). */
  protected step(input: Tensor, h: Tensor | null | undefined, c: Tensor | null | undefined, withCell: boolean): [Tensor, Tensor | null] {
    const op = `${this.constructor.name}.forward`;
    checkTensor(op, 'input', input);
    if (input.ndim !== 1 && input.ndim !== 2) {
      throw new DLError('SHAPE', op, `expected input of 2 dims [N, inputSize] or 1 dim [inputSize] (unbatched); got shape ${fmtShape(input.shape)}`);
    }
    if (input.shape[input.ndim - 1] !== this.inputSize) {
      throw new DLError('SHAPE', op, `input has ${input.shape[input.ndim - 1]} features in its last dim, expected inputSize ${this.inputSize}; got shape ${fmtShape(input.shape)}`);
    }
    checkDtypes(op, 'input', input, this.weightIh);
    const batched = input.ndim === 2;
    const expected = batched ? [input.shape[0], this.hiddenSize] : [this.hiddenSize];
    const layout = batched ? '[N, hiddenSize]' : '[hiddenSize]';
    for (const [name, t] of [[withCell ? 'h' : 'hx', h], ['c', c]] as const) {
      if (t == null) continue;
      checkState(op, name, t, expected, layout, `input of shape ${fmtShape(input.shape)}`);
      checkDtypes(op, name, t, this.weightIh);
    }
    return scope(() => {
      const x = batched ? input : input.unsqueeze(0);
      const state = (t: Tensor | null | undefined) => (t == null ? zeros([x.shape[0], this.hiddenSize], { dtype: input.dtype, device: input.device }) : batched ? t : t.unsqueeze(0));
      const gi = F.linear(x, this.weightIh, this.biasIh);
      const [h2, c2] = cellStep(this.#mode, gi, state(h), withCell ? state(c) : null, { hh: this.weightHh, bhh: this.biasHh, hr: null });
      const unbatch = (t: Tensor) => (batched ? t : t.squeeze(0));
      return [unbatch(h2), c2 ? unbatch(c2) : null];
    });
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (!this.bias) s += ', bias=false';
    return s;
  }
}

/**
 * RNNCell(inputSize, hiddenSize, { bias, nonlinearity }) (torch.nn.RNNCell):
 * h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh (default) or relu. forward(input, hx?) returns h'.
 */
export class RNNCell extends RNNCellBase {
  readonly nonlinearity: RNNNonlinearity;

  constructor(inputSize: number, hiddenSize: number, opts: RNNCellOptions = {}) {
    const nonlinearity = nonlinearityOf('RNNCell', opts.nonlinearity ?? 'tanh');
    super(nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', inputSize, hiddenSize, opts);
    this.nonlinearity = nonlinearity;
  }

  override forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.step(input, hx, null, false)[0];
  }

  override extraRepr(): string {
    return this.nonlinearity === 'tanh' ? super.extraRepr() : `${super.extraRepr()}, nonlinearity='${this.nonlinearity}'`;
  }
}

/**
 * LSTMCell(inputSize, hiddenSize, { bias }) (torch.nn.LSTMCell), gates (i, f, g, o).
 * forward(input, [h, c]?) returns [h', c'].
 */
export class LSTMCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: LSTMCellOptions = {}) {
    super('LSTM', inputSize, hiddenSize, opts);
  }

  override forward(input: Tensor, hx?: readonly [Tensor, Tensor] | null): [Tensor, Tensor] {
    if (hx != null && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new DLError('ARGUMENT', 'LSTMCell.forward', `hx must be a pair [h, c]; got ${Array.isArray(hx) ? `an array of ${hx.length}` : typeof hx}`);
    }
    const [h, c] = this.step(input, hx?.[0], hx?.[1], true);
    return [h, c as Tensor];
  }
}

/**
 * GRUCell(inputSize, hiddenSize, { bias }) (torch.nn.GRUCell), gates (r, z, n).
 * forward(input, hx?) returns h'.
 */
export class GRUCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: GRUCellOptions = {}) {
    super('GRU', inputSize, hiddenSize, opts);
  }

  override forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.step(input, hx, null, false)[0];
  }
}
