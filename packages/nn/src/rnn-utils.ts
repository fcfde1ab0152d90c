/**
 * torch.nn.utils.rnn (`utils.rnn`): batches of sequences of different lengths for the recurrent
 * layers. `padSequence` stacks sequences into one padded tensor; `packPaddedSequence` and
 * `packSequence` make a `PackedSequence`, which RNN, LSTM and GRU run over each sequence's own
 * steps only; `padPackedSequence`, `unpadSequence` and `unpackSequence` go back.
 *
 * The packed layout (PyTorch's): the sequences sorted by decreasing length, then time step by
 * time step, the rows of every sequence still running at that step. For lengths [3, 1, 2]
 * (sequences a, b, c) the data rows are a0 c0 b0 a1 c1 a2 and batchSizes [3, 2, 1]. Rows are moved
 * with one indexSelect (and a cat for the padding row), so gradients flow and every backend works.
 */
import { DLError, Tensor, cat, full, scope, tensor } from '@dl/tensor';
import type { DType, Device } from '@dl/tensor';
import { checkTensor, fmt, fmtShape } from './internal.js';

const sum = (v: readonly number[]) => v.reduce((a, b) => a + b, 0);

/** Where each of consecutive blocks of the given sizes starts. */
function starts(sizes: readonly number[]): number[] {
  const out: number[] = [];
  let offset = 0;
  for (const s of sizes) {
    out.push(offset);
    offset += s;
  }
  return out;
}

/**
 * PyTorch's PackedSequence namedtuple: `data` [sum of lengths, *] (the packed rows, see the file
 * comment), `batchSizes` (how many sequences run at each time step: an int32 tensor on the CPU,
 * as PyTorch keeps its int64 `batch_sizes` on the CPU whatever the data's device, since the
 * layers read it on the host), `sortedIndices` (the original batch index of each sorted
 * position) and `unsortedIndices` (its inverse), both int32 on the data's device, or null when
 * the batch was packed already sorted (`enforceSorted: true`).
 *
 * Like the namedtuple it is a frozen 4-element array `[data, batchSizes, sortedIndices,
 * unsortedIndices]`, so destructuring works and `scope()` keeps its tensors when it is part of
 * a result (scope looks into arrays). A PackedSequence owns its four tensor objects and
 * `dispose()` disposes them; a layer's output and the result of `to()` hold views of their own
 * of what they share with their input (batch sizes, indices), so disposing one PackedSequence
 * never frees another's.
 *
 * Made by packPaddedSequence and packSequence; construct one directly only from data already in
 * the packed layout.
 */
export class PackedSequence extends Array<Tensor | null> {
  /** Array methods that make new arrays (map, filter, slice) make plain arrays. */
  static override readonly [Symbol.species] = Array;
  declare readonly 0: Tensor;
  declare readonly 1: Tensor;
  declare readonly 2: Tensor | null;
  declare readonly 3: Tensor | null;
  readonly #sizes: readonly number[];

  /**
   * `batchSizes` as numbers or an int32 CPU tensor (kept as given); `unsortedIndices` defaults
   * to the inverse permutation of `sortedIndices`.
   */
  constructor(data: Tensor, batchSizes: Tensor | readonly number[], sortedIndices: Tensor | null = null, unsortedIndices: Tensor | null = null) {
    super();
    const op = 'PackedSequence';
    checkTensor(op, 'data', data);
    if (data.ndim < 1) throw new DLError('SHAPE', op, 'data must have at least 1 dim [sum of lengths, *]; got a 0-dim tensor');
    if (batchSizes instanceof Tensor) {
      checkTensor(op, 'batchSizes', batchSizes);
      if (batchSizes.dtype !== 'int32' || batchSizes.ndim !== 1 || batchSizes.device !== 'cpu') {
        throw new DLError('ARGUMENT', op, `batchSizes must be a 1-D int32 tensor on the CPU; got ${batchSizes.dtype} of shape ${fmtShape(batchSizes.shape)} on '${batchSizes.device}'`, 'pass an array of numbers, or tensor(sizes, { dtype: "int32" })');
      }
      this.#sizes = Array.from(batchSizes.dataSync());
    } else if (Array.isArray(batchSizes)) {
      this.#sizes = [...batchSizes];
    } else {
      throw new DLError('ARGUMENT', op, `batchSizes must be an array of numbers or an int32 tensor; got ${typeof batchSizes}`);
    }
    const sizes = this.#sizes;
    if (sizes.length === 0 || sizes.some((s, t) => !Number.isInteger(s) || s < 1 || (t > 0 && s > sizes[t - 1])) || sum(sizes) !== data.shape[0]) {
      throw new DLError('VALUE', op, `batchSizes must be positive integers in non-increasing order summing to the rows of data (${data.shape[0]}); got ${fmt(sizes)}`, 'make PackedSequences with packPaddedSequence or packSequence');
    }
    const batch = sizes[0];
    for (const [name, t] of [['sortedIndices', sortedIndices], ['unsortedIndices', unsortedIndices]] as const) {
      if (t === null) continue;
      checkTensor(op, name, t);
      if (t.dtype !== 'int32' || t.ndim !== 1 || t.shape[0] !== batch || t.device !== data.device) {
        throw new DLError('ARGUMENT', op, `${name} must be a 1-D int32 tensor of ${batch} indices (batchSizes[0]) on the data's device '${data.device}'; got ${t.dtype} of shape ${fmtShape(t.shape)} on '${t.device}'`);
      }
    }
    if (sortedIndices === null && unsortedIndices !== null) {
      throw new DLError('ARGUMENT', op, 'unsortedIndices was given without sortedIndices', 'pass sortedIndices (unsortedIndices is then optional), or neither for a batch in sorted order');
    }
    const inverse = sortedIndices && (unsortedIndices ?? invertPermutation(sortedIndices));
    this.push(data, batchSizes instanceof Tensor ? batchSizes : tensor(Int32Array.from(sizes)), sortedIndices, inverse);
    Object.freeze(this);
  }

  /** The packed rows [sum of lengths, *]. */
  get data(): Tensor {
    return this[0];
  }
  /** How many sequences run at each time step (int32, on the CPU). */
  get batchSizes(): Tensor {
    return this[1];
  }
  /** sortedIndices[i]: the original batch index of the i-th longest sequence (null: packed in sorted order). */
  get sortedIndices(): Tensor | null {
    return this[2];
  }
  /** unsortedIndices[j]: where original sequence j is in the sorted order (null: packed in sorted order). */
  get unsortedIndices(): Tensor | null {
    return this[3];
  }
  /** batchSizes as numbers (read once, when constructed). */
  get batchSizesList(): readonly number[] {
    return this.#sizes;
  }

  /**
   * The data cast to a dtype or moved to a device, the indices moved with it (batchSizes stays on
   * the CPU); this PackedSequence itself when the data already has that dtype and device, as in
   * PyTorch.
   */
  to(target: Device | DType): PackedSequence {
    const data = this.data.to(target);
    if (data === this.data) return this;
    const move = (t: Tensor | null) => t && (t.device === data.device ? t.detach() : t.to(data.device));
    return new PackedSequence(data, this.batchSizes.detach(), move(this.sortedIndices), move(this.unsortedIndices));
  }

  /** Dispose the four tensors (see the class comment on what is shared). */
  dispose(): void {
    for (const t of this) t?.dispose();
  }

  override toString(): string {
    const show = (t: Tensor | null) => (t === null ? 'null' : String(t));
    return `PackedSequence(data=${show(this.data)}, batchSizes=${fmt(this.#sizes)}, sortedIndices=${show(this.sortedIndices)}, unsortedIndices=${show(this.unsortedIndices)})`;
  }
}

/** The inverse of a permutation, on its device: out[perm[i]] = i. */
function invertPermutation(perm: Tensor): Tensor {
  return scope(() => {
    const positions = tensor(Int32Array.from({ length: perm.shape[0] }, (_, i) => i), { device: perm.device });
    return perm.scatter(0, perm, positions);
  });
}

/**
 * Rows of `source` ([R, *]) in the order `rows` names them, -1 standing for a row of
 * `paddingValue`: one indexSelect (after a cat of the padding row when one is needed).
 */
function gatherRows(source: Tensor, rows: Int32Array, paddingValue: number): Tensor {
  return scope(() => {
    let src = source;
    if (rows.includes(-1)) {
      const pad = full([1, ...source.shape.slice(1)], paddingValue, { dtype: source.dtype, device: source.device });
      src = cat([source, pad], 0);
      rows = rows.map((r) => (r < 0 ? source.shape[0] : r));
    }
    return src.indexSelect(0, tensor(rows, { device: source.device }));
  });
}

/** Lengths as numbers, from an array or a 1-D tensor of any dtype (read on the host), checked to be integers. */
function lengthsOf(op: string, lengths: Tensor | readonly number[]): number[] {
  let values: number[];
  if (lengths instanceof Tensor) {
    checkTensor(op, 'lengths', lengths);
    if (lengths.ndim !== 1) throw new DLError('SHAPE', op, `lengths must be a 1-D tensor (or an array of numbers); got shape ${fmtShape(lengths.shape)}`);
    values = Array.from(lengths.dataSync());
  } else if (Array.isArray(lengths)) {
    values = [...lengths];
  } else {
    throw new DLError('ARGUMENT', op, `lengths must be an array of numbers or a 1-D tensor; got ${lengths === null ? 'null' : typeof lengths}`);
  }
  if (values.some((v) => typeof v !== 'number' || !Number.isInteger(v))) throw new DLError('VALUE', op, `lengths must be integers; got ${fmt(values)}`);
  return values;
}

function bool(op: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new DLError('ARGUMENT', op, `${name} must be true or false; got ${JSON.stringify(v)}`);
  return v;
}

function paddingValueOf(op: string, v: unknown): number {
  if (typeof v !== 'number') throw new DLError('ARGUMENT', op, `paddingValue must be a number; got ${JSON.stringify(v)}`);
  return v;
}

/** `lengths` of a batch in the order it has, its sort by decreasing length (stable) and the batch sizes of each step. */
function sortLengths(op: string, lengths: number[], enforceSorted: boolean): { order: number[]; batchSizes: number[] } {
  const order = lengths.map((_, j) => j);
  if (enforceSorted) {
    const at = lengths.findIndex((l, j) => j > 0 && l > lengths[j - 1]);
    if (at >= 0) {
      throw new DLError(
        'VALUE',
        op,
        `lengths must be sorted in decreasing order when enforceSorted is true; got ${fmt(lengths)} (${lengths[at]} at position ${at} follows ${lengths[at - 1]})`,
        'pass { enforceSorted: false } to have the batch sorted for you (padPackedSequence and the layers restore your order), or sort it by decreasing length',
      );
    }
  } else {
    order.sort((a, b) => lengths[b] - lengths[a]);
  }
  const batchSizes: number[] = [];
  for (let t = 0; t < lengths[order[0]]; t++) batchSizes.push(lengths.filter((l) => l > t).length);
  return { order, batchSizes };
}

export interface PadSequenceOptions {
  /** Output [B, T, *] instead of [T, B, *] (default false). */
  batchFirst?: boolean;
  /** The value of the padding (default 0). */
  paddingValue?: number;
}

/**
 * torch.nn.utils.rnn.pad_sequence: sequences [L_i, *] (the same trailing dims) padded at the end
 * to the longest L and stacked: [L, B, *] ([B, L, *] with batchFirst), in the dtype of the first
 * sequence (as PyTorch, which copies the others into it).
 */
export function padSequence(sequences: readonly Tensor[], opts: PadSequenceOptions = {}): Tensor {
  const op = 'padSequence';
  const batchFirst = bool(op, 'batchFirst', opts.batchFirst ?? false);
  const paddingValue = paddingValueOf(op, opts.paddingValue ?? 0);
  const list: Tensor[] = Array.isArray(sequences) ? [...sequences] : [];
  if (list.length === 0) throw new DLError('ARGUMENT', op, 'expected a non-empty array of tensors [L_i, *]');
  list.forEach((s, i) => {
    checkTensor(op, `sequences[${i}]`, s);
    if (s.ndim < 1) throw new DLError('SHAPE', op, `sequences[${i}] must have at least 1 dim [length, *]; got a 0-dim tensor`);
  });
  const first = list[0];
  const rest = first.shape.slice(1);
  const bad = list.findIndex((s) => s.ndim !== first.ndim || s.shape.some((d, k) => k > 0 && d !== first.shape[k]));
  if (bad >= 0) {
    throw new DLError('SHAPE', op, `every sequence must have the trailing dims of sequences[0] ([${['L', ...rest].join(', ')}]); got sequences[${bad}] of shape ${fmtShape(list[bad].shape)}`);
  }
  const lengths = list.map((s) => s.shape[0]);
  const total = Math.max(...lengths);
  const batch = list.length;
  const start = starts(lengths);
  const rows = new Int32Array(total * batch);
  for (let t = 0; t < total; t++) {
    for (let j = 0; j < batch; j++) rows[batchFirst ? j * total + t : t * batch + j] = t < lengths[j] ? start[j] + t : -1;
  }
  return scope(() => {
    const source = cat(list.map((s) => s.to(first.dtype)), 0);
    return gatherRows(source, rows, paddingValue).reshape(batchFirst ? [batch, total, ...rest] : [total, batch, ...rest]);
  });
}

export interface PackOptions {
  /** The lengths must be in decreasing order (default true); false sorts the batch and records the order in the PackedSequence. */
  enforceSorted?: boolean;
}

export interface PackPaddedOptions extends PackOptions {
  /** The input is [B, T, *] instead of [T, B, *] (default false). */
  batchFirst?: boolean;
}

/** packPaddedSequence under the name of the op the caller used. */
function pack(op: string, input: Tensor, lengths: Tensor | readonly number[], batchFirst: boolean, enforceSorted: boolean): PackedSequence {
  checkTensor(op, 'input', input);
  const layout = batchFirst ? '[B, T, *] (batchFirst)' : '[T, B, *]';
  if (input.ndim < 2) throw new DLError('SHAPE', op, `expected input of at least 2 dims ${layout}; got shape ${fmtShape(input.shape)}`);
  const steps = input.shape[batchFirst ? 1 : 0];
  const batch = input.shape[batchFirst ? 0 : 1];
  const lens = lengthsOf(op, lengths);
  if (lens.length !== batch) {
    throw new DLError('SHAPE', op, `expected one length per sequence: ${batch} for input of shape ${fmtShape(input.shape)} ${layout}; got ${lens.length} lengths ${fmt(lens)}`, batchFirst ? undefined : 'is the input [B, T, *]? then pass { batchFirst: true }');
  }
  if (batch === 0) throw new DLError('SHAPE', op, `expected at least one sequence; got input of shape ${fmtShape(input.shape)} ${layout}`);
  const empty = lens.findIndex((l) => l < 1);
  if (empty >= 0) {
    throw new DLError('VALUE', op, `every length must be >= 1; got lengths ${fmt(lens)} (${lens[empty]} at position ${empty})`, 'leave empty sequences out of the batch: a recurrent layer has no state to return for them');
  }
  const long = lens.findIndex((l) => l > steps);
  if (long >= 0) {
    throw new DLError('VALUE', op, `lengths ${fmt(lens)} exceed the ${steps} time steps of input of shape ${fmtShape(input.shape)} ${layout} (${lens[long]} at position ${long})`, `every length must be at most ${steps}${batchFirst ? '' : '; is the input [B, T, *]? then pass { batchFirst: true }'}`);
  }
  const { order, batchSizes } = sortLengths(op, lens, enforceSorted);
  const rows = new Int32Array(sum(lens));
  let r = 0;
  for (const [t, size] of batchSizes.entries()) {
    for (let s = 0; s < size; s++) rows[r++] = batchFirst ? order[s] * steps + t : t * batch + order[s];
  }
  const data = scope(() => gatherRows(input.flatten(0, 1), rows, 0));
  if (enforceSorted) return new PackedSequence(data, batchSizes);
  const unsorted = new Int32Array(batch);
  for (const [s, j] of order.entries()) unsorted[j] = s;
  return new PackedSequence(data, batchSizes, tensor(Int32Array.from(order), { device: input.device }), tensor(unsorted, { device: input.device }));
}

/**
 * torch.nn.utils.rnn.pack_padded_sequence: a PackedSequence of the first lengths[j] steps of each
 * sequence j of a padded input [T, B, *] ([B, T, *] with batchFirst). lengths: numbers or a 1-D
 * tensor, each in [1, T]. With enforceSorted (default) they must be in decreasing order;
 * `enforceSorted: false` sorts the batch (stably) and keeps the order in sortedIndices.
 */
export function packPaddedSequence(input: Tensor, lengths: Tensor | readonly number[], opts: PackPaddedOptions = {}): PackedSequence {
  const op = 'packPaddedSequence';
  return pack(op, input, lengths, bool(op, 'batchFirst', opts.batchFirst ?? false), bool(op, 'enforceSorted', opts.enforceSorted ?? true));
}

/** torch.nn.utils.rnn.pack_sequence: a PackedSequence of sequences [L_i, *] (padSequence, then packPaddedSequence). */
export function packSequence(sequences: readonly Tensor[], opts: PackOptions = {}): PackedSequence {
  const op = 'packSequence';
  const enforceSorted = bool(op, 'enforceSorted', opts.enforceSorted ?? true);
  return scope(() => {
    const padded = padSequence(sequences);
    return pack(op, padded, sequences.map((s) => s.shape[0]), false, enforceSorted);
  });
}

export interface PadPackedOptions {
  /** Output [B, T, *] instead of [T, B, *] (default false). */
  batchFirst?: boolean;
  /** The value of the padding (default 0). */
  paddingValue?: number;
  /** Pad to this many steps instead of the longest sequence's (at least that many). */
  totalLength?: number;
}

/**
 * torch.nn.utils.rnn.pad_packed_sequence, the inverse of packPaddedSequence: returns [padded,
 * lengths], padded [T, B, *] ([B, T, *] with batchFirst) in the batch order given to the packing
 * (unsortedIndices applied), T the longest length or totalLength, and lengths the sequences'
 * lengths in that order (int32, on the CPU, as PyTorch's int64 CPU tensor).
 */
export function padPackedSequence(sequence: PackedSequence, opts: PadPackedOptions = {}): [Tensor, Tensor] {
  const op = 'padPackedSequence';
  if (!(sequence instanceof PackedSequence)) throw new DLError('ARGUMENT', op, `sequence must be a PackedSequence; got ${(sequence as unknown) instanceof Tensor ? 'a Tensor' : typeof sequence}`, 'pack it with packPaddedSequence or packSequence');
  const batchFirst = bool(op, 'batchFirst', opts.batchFirst ?? false);
  const paddingValue = paddingValueOf(op, opts.paddingValue ?? 0);
  const data = sequence.data;
  checkTensor(op, 'sequence.data', data);
  const sizes = sequence.batchSizesList;
  const longest = sizes.length;
  const total = opts.totalLength ?? longest;
  if (!Number.isInteger(total) || total < longest) {
    throw new DLError('VALUE', op, `totalLength must be an integer at least the length of the longest sequence (${longest}); got ${total}`, `pass totalLength >= ${longest}, or leave it out to pad to the longest sequence`);
  }
  const batch = sizes[0];
  const start = starts(sizes);
  // sortedLength[s]: the length of the sequence at sorted position s; position[j]: where sequence j is.
  const sortedLength = Array.from({ length: batch }, (_, s) => sizes.filter((b) => b > s).length);
  const position = sequence.unsortedIndices ? Array.from(sequence.unsortedIndices.dataSync()) : sortedLength.map((_, j) => j);
  const rows = new Int32Array(total * batch);
  for (let t = 0; t < total; t++) {
    for (let j = 0; j < batch; j++) {
      const s = position[j];
      rows[batchFirst ? j * total + t : t * batch + j] = t < sortedLength[s] ? start[t] + s : -1;
    }
  }
  const rest = data.shape.slice(1);
  const padded = scope(() => gatherRows(data, rows, paddingValue).reshape(batchFirst ? [batch, total, ...rest] : [total, batch, ...rest]));
  return [padded, tensor(Int32Array.from(position, (s) => sortedLength[s]))];
}

/**
 * torch.nn.utils.rnn.unpad_sequence, the inverse of padSequence: the first lengths[j] steps of
 * each sequence j of padded [T, B, *] ([B, T, *] with batchFirst), as views [lengths[j], *].
 * (PyTorch 1.13 transposes a time-major input in place; this leaves it as it is.)
 */
export function unpadSequence(paddedSequences: Tensor, lengths: Tensor | readonly number[], opts: { batchFirst?: boolean } = {}): Tensor[] {
  const op = 'unpadSequence';
  const batchFirst = bool(op, 'batchFirst', opts.batchFirst ?? false);
  checkTensor(op, 'paddedSequences', paddedSequences);
  const layout = batchFirst ? '[B, T, *] (batchFirst)' : '[T, B, *]';
  if (paddedSequences.ndim < 2) throw new DLError('SHAPE', op, `expected paddedSequences of at least 2 dims ${layout}; got shape ${fmtShape(paddedSequences.shape)}`);
  const batchDim = batchFirst ? 0 : 1;
  const steps = paddedSequences.shape[1 - batchDim];
  const lens = lengthsOf(op, lengths);
  if (lens.length !== paddedSequences.shape[batchDim]) {
    throw new DLError('SHAPE', op, `expected one length per sequence: ${paddedSequences.shape[batchDim]} for paddedSequences of shape ${fmtShape(paddedSequences.shape)} ${layout}; got ${lens.length} lengths ${fmt(lens)}`);
  }
  const bad = lens.findIndex((l) => l < 0 || l > steps);
  if (bad >= 0) throw new DLError('VALUE', op, `every length must be in [0, ${steps}] (the padded length); got lengths ${fmt(lens)} (${lens[bad]} at position ${bad})`);
  return lens.map((l, j) => scope(() => paddedSequences.select(batchDim, j).narrow(0, 0, l)));
}

/** torch.nn.utils.rnn.unpack_sequence, the inverse of packSequence: the sequences [L_i, *] in their original order. */
export function unpackSequence(packedSequences: PackedSequence): Tensor[] {
  return scope(() => {
    const [padded, lengths] = padPackedSequence(packedSequences, { batchFirst: true });
    return unpadSequence(padded, lengths, { batchFirst: true });
  });
}
