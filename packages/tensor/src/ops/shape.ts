/** Views (reshape, permute, expand, slice and what is built on them), cat/stack/split and pad. */
import { promoteTypes } from '../dtype.js';
import { dispatch, dispatchSplit, dispatchView } from '../dispatch.js';
import { fail, fmtShape } from '../errors.js';
import type { Shape } from '../layout.js';
import { inferShape, normalizeDim, normalizeDims, shapesEqual, viewStrides } from '../layout.js';
import type { Tensor } from '../tensor.js';
import { cast, clone } from './convert.js';
import { fromHost } from './creation.js';
import { indexSelect } from './indexing.js';
import { asTensor, intArg } from './util.js';

/** Broadcast t to `shape` as a view (t itself when it already has that shape). */
export function broadcastTo(op: string, t: Tensor, shape: Shape): Tensor {
  if (shapesEqual(t.shape, shape)) return t;
  if (t.ndim > shape.length) fail('BROADCAST', op, `cannot broadcast shape ${fmtShape(t.shape)} to ${fmtShape(shape)}`);
  const lead = shape.length - t.ndim;
  t.shape.forEach((d, i) => {
    if (d !== 1 && d !== shape[lead + i]) {
      fail('BROADCAST', op, `cannot broadcast shape ${fmtShape(t.shape)} to ${fmtShape(shape)}: dimension ${i} is ${d}, expected 1 or ${shape[lead + i]}`);
    }
  });
  const ranked = lead > 0 ? dispatchView('reshape', t, { shape: [...new Array<number>(lead).fill(1), ...t.shape] }) : t;
  const out = dispatchView('expand', ranked, { shape });
  if (ranked !== t) ranked.dispose();
  return out;
}

export function expand(x: Tensor, shape: Shape): Tensor {
  asTensor('expand', 'input', x);
  const lead = shape.length - x.ndim;
  if (lead < 0) fail('SHAPE', 'expand', `the number of sizes (${shape.length}) must be at least the tensor's rank (${x.ndim})`);
  // -1 keeps a dimension's size.
  const target = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  return broadcastTo('expand', x, target);
}

/** A view with a new shape; fails when the strides do not allow it (see reshape). */
export function view(x: Tensor, shape: Shape): Tensor {
  asTensor('view', 'input', x);
  const target = inferShape('view', shape, x.numel);
  if (!viewStrides(x.shape, x.strides, target)) {
    fail('SHAPE', 'view', `a view of shape ${fmtShape(target)} is not compatible with the input's size and stride (shape ${fmtShape(x.shape)}, strides ${fmtShape(x.strides)})`, 'use reshape(), or call contiguous() first');
  }
  return dispatchView('reshape', x, { shape: target });
}

/** A view when the layout allows it, otherwise a contiguous copy. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  asTensor('reshape', 'input', x);
  const target = inferShape('reshape', shape, x.numel);
  if (viewStrides(x.shape, x.strides, target)) return dispatchView('reshape', x, { shape: target });
  const c = clone(x);
  const out = dispatchView('reshape', c, { shape: target });
  c.dispose();
  return out;
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  asTensor('permute', 'input', x);
  if (dims.length !== x.ndim) fail('DIM', 'permute', `expected ${x.ndim} dims for a tensor of shape ${fmtShape(x.shape)}; got ${dims.length}`);
  const norm = dims.map((d) => normalizeDim('permute', d, x.ndim));
  if (new Set(norm).size !== norm.length) fail('DIM', 'permute', `dims ${fmtShape(dims)} repeat a dimension`);
  return dispatchView('permute', x, { dims: norm });
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  asTensor('transpose', 'input', x);
  const a = normalizeDim('transpose', dim0, x.ndim);
  const b = normalizeDim('transpose', dim1, x.ndim);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return dispatchView('permute', x, { dims });
}

export function t(x: Tensor): Tensor {
  asTensor('t', 'input', x);
  if (x.ndim > 2) fail('DIM', 't', `expects a tensor of rank <= 2; got shape ${fmtShape(x.shape)}`, 'use transpose(dim0, dim1) or permute()');
  return x.ndim < 2 ? x.detach() : transpose(x, 0, 1);
}

/** Elements start, start+step, ... before end along dim (negative start/end count from the end). */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  asTensor('slice', 'input', x);
  const d = normalizeDim('slice', dim, x.ndim);
  const size = x.shape[d];
  intArg('slice', 'step', step, 1);
  const clampIdx = (i: number) => Math.min(size, Math.max(0, i < 0 ? i + size : i));
  const s = clampIdx(intArg('slice', 'start', start));
  const e = Math.max(s, clampIdx(end === undefined ? size : intArg('slice', 'end', end)));
  return dispatchView('slice', x, { dim: d, start: s, end: e, step });
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  asTensor('narrow', 'input', x);
  const d = normalizeDim('narrow', dim, x.ndim);
  const size = x.shape[d];
  const s = intArg('narrow', 'start', start) < 0 ? start + size : start;
  intArg('narrow', 'length', length, 0);
  if (s < 0 || s + length > size) fail('SHAPE', 'narrow', `start (${start}) + length (${length}) exceeds dimension size (${size})`);
  return dispatchView('slice', x, { dim: d, start: s, end: s + length, step: 1 });
}

/** The slice at `index` along dim, with that dim removed. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  asTensor('select', 'input', x);
  const d = normalizeDim('select', dim, x.ndim);
  const size = x.shape[d];
  intArg('select', 'index', index);
  if (index < -size || index >= size) fail('DIM', 'select', `index ${index} is out of bounds for dimension ${d} with size ${size}`);
  const i = index < 0 ? index + size : index;
  const s = dispatchView('slice', x, { dim: d, start: i, end: i + 1, step: 1 });
  const out = dispatchView('reshape', s, { shape: x.shape.filter((_, k) => k !== d) });
  s.dispose();
  return out;
}

export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  asTensor('squeeze', 'input', x);
  const dims = dim === undefined ? undefined : new Set(normalizeDims('squeeze', dim, x.ndim));
  const shape = x.shape.filter((d, i) => !(d === 1 && (dims === undefined || dims.has(i))));
  return dispatchView('reshape', x, { shape });
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  asTensor('unsqueeze', 'input', x);
  const d = normalizeDim('unsqueeze', dim, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return dispatchView('reshape', x, { shape });
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  asTensor('flatten', 'input', x);
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeDim('flatten', startDim, x.ndim);
  const e = normalizeDim('flatten', endDim, x.ndim);
  if (s > e) fail('DIM', 'flatten', `startDim (${startDim}) must not come after endDim (${endDim})`);
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}

/** Views of consecutive pieces: of `size` each (the last may be smaller), or of the given sizes. */
export function split(x: Tensor, splitSize: number | readonly number[], dim = 0): Tensor[] {
  asTensor('split', 'input', x);
  const d = normalizeDim('split', dim, x.ndim);
  const size = x.shape[d];
  let sizes: number[];
  if (typeof splitSize === 'number') {
    intArg('split', 'splitSize', splitSize, 1);
    sizes = [];
    for (let s = 0; s < size; s += splitSize) sizes.push(Math.min(splitSize, size - s));
  } else {
    sizes = [...splitSize];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== size) fail('SHAPE', 'split', `split sizes ${fmtShape(sizes)} sum to ${total}, expected dimension ${d}'s size ${size}`);
  }
  return dispatchSplit(x, { dim: d, sizes });
}

/** Split into `chunks` pieces of ceil(size / chunks) (as torch.chunk). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  asTensor('chunk', 'input', x);
  intArg('chunk', 'chunks', chunks, 1);
  const d = normalizeDim('chunk', dim, x.ndim);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / chunks)), d);
}

/** Concatenate along an existing dim (dtypes promote, as PyTorch). */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) fail('ARGUMENT', 'cat', 'expected a non-empty array of tensors');
  for (const [i, t] of tensors.entries()) asTensor('cat', `tensors[${i}]`, t);
  const ref = tensors[0];
  const d = normalizeDim('cat', dim, ref.ndim);
  tensors.forEach((t: Tensor, i: number) => {
    if (t.ndim !== ref.ndim || t.shape.some((s, k) => k !== d && s !== ref.shape[k])) {
      fail('SHAPE', 'cat', `sizes of tensors must match except in dimension ${d}; got ${fmtShape(ref.shape)} and ${fmtShape(t.shape)} (tensor ${i})`);
    }
  });
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  const ins = tensors.map((t) => cast(t, dtype));
  const shape = [...ref.shape];
  shape[d] = tensors.reduce((a, t) => a + t.shape[d], 0);
  const out = dispatch('cat', ins, { dim: d }, [{ shape, dtype }])[0];
  ins.forEach((c, i) => {
    if (c !== tensors[i]) c.dispose();
  });
  return out;
}

/** Join along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) fail('ARGUMENT', 'stack', 'expected a non-empty array of tensors');
  tensors.forEach((t, i) => {
    asTensor('stack', `tensors[${i}]`, t);
    if (!shapesEqual(t.shape, tensors[0].shape)) fail('SHAPE', 'stack', `expects each tensor to be equal size; got ${fmtShape(tensors[0].shape)} and ${fmtShape(t.shape)} (tensor ${i})`);
  });
  const d = normalizeDim('stack', dim, tensors[0].ndim + 1);
  const parts = tensors.map((t) => unsqueeze(t, d));
  const out = cat(parts, d);
  for (const p of parts) p.dispose();
  return out;
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

/**
 * Pad with PyTorch's argument order: `pads` lists (before, after) pairs starting
 * from the LAST dim, e.g. [left, right, top, bottom] for the last two dims.
 * Non-constant modes gather with computed indices (so they are differentiable
 * through indexSelect).
 */
export function pad(x: Tensor, pads: readonly number[], mode: PadMode = 'constant', value = 0): Tensor {
  asTensor('pad', 'input', x);
  if (!Array.isArray(pads) || pads.length % 2 !== 0 || pads.length / 2 > x.ndim) {
    fail('ARGUMENT', 'pad', `pads must be an even-length array of at most 2 * rank (${2 * x.ndim}) integers; got ${JSON.stringify(pads)}`);
  }
  for (const p of pads) intArg('pad', 'pad size', p, 0);
  const perDim: [number, number][] = x.shape.map(() => [0, 0]);
  for (let i = 0; i < pads.length / 2; i++) perDim[x.ndim - 1 - i] = [pads[2 * i], pads[2 * i + 1]];
  if (mode === 'constant') {
    const shape = x.shape.map((s, i) => s + perDim[i][0] + perDim[i][1]);
    return dispatch('pad', [x], { pads: perDim, value }, [{ shape, dtype: x.dtype }])[0];
  }
  if (!['reflect', 'replicate', 'circular'].includes(mode)) fail('ARGUMENT', 'pad', `unknown mode '${mode}'`, "use 'constant', 'reflect', 'replicate' or 'circular'");
  let out = x;
  perDim.forEach(([before, after], d) => {
    if (before === 0 && after === 0) return;
    const n = x.shape[d];
    if (mode === 'reflect' && (before >= n || after >= n)) {
      fail('ARGUMENT', 'pad', `reflect padding (${before}, ${after}) must be smaller than dimension ${d}'s size ${n}`);
    }
    if (mode === 'circular' && (before > n || after > n)) {
      fail('ARGUMENT', 'pad', `circular padding (${before}, ${after}) must be at most dimension ${d}'s size ${n}`);
    }
    const idx = new Int32Array(n + before + after);
    for (let i = 0; i < idx.length; i++) {
      const j = i - before;
      idx[i] =
        mode === 'replicate' ? Math.min(n - 1, Math.max(0, j))
        : mode === 'circular' ? ((j % n) + n) % n
        : j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j;
    }
    const next = selectAlong('pad', out, d, idx);
    if (out !== x) out.dispose();
    out = next;
  });
  return out;
}

/** x's entries idx[0], idx[1], ... along dim d (indices computed on the host), through indexSelect. */
function selectAlong(op: string, x: Tensor, d: number, idx: Int32Array): Tensor {
  const index = fromHost(op, idx, [idx.length], 'int32', x.device);
  const out = indexSelect(x, d, index);
  index.dispose();
  return out;
}

/** Applies step(t, d) for each dim d in turn, disposing the intermediates; a copy of x when there is none. */
function alongDims(x: Tensor, dims: readonly number[], step: (t: Tensor, d: number) => Tensor): Tensor {
  let out = x;
  for (const d of dims) {
    const next = step(out, d);
    if (out !== x) out.dispose();
    out = next;
  }
  return out === x ? clone(x) : out;
}

/** A copy with the order of the entries reversed along each of `dims` (torch.flip). */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  asTensor('flip', 'input', x);
  const ds = normalizeDims('flip', dims, x.ndim);
  return alongDims(x, ds, (t, d) => {
    const n = t.shape[d];
    return selectAlong('flip', t, d, Int32Array.from({ length: n }, (_, i) => n - 1 - i));
  });
}

/**
 * Entries shifted by `shifts` along `dims`, those pushed past the end coming back at the start
 * (torch.roll); without dims, over the flattened tensor, then reshaped back.
 */
export function roll(x: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
  asTensor('roll', 'input', x);
  const sh = typeof shifts === 'number' ? [shifts] : [...shifts];
  for (const s of sh) intArg('roll', 'shift', s);
  if (dims === undefined) {
    if (sh.length !== 1) fail('ARGUMENT', 'roll', `without dims, shifts must be one number; got ${JSON.stringify(shifts)}`, 'pass dims with one entry per shift');
    const flat = reshape(x, [x.numel]);
    const rolled = roll(flat, sh[0], 0);
    const out = reshape(rolled, x.shape);
    flat.dispose();
    rolled.dispose();
    return out;
  }
  const ds = (typeof dims === 'number' ? [dims] : [...dims]).map((d) => normalizeDim('roll', d, x.ndim));
  if (ds.length !== sh.length) fail('ARGUMENT', 'roll', `shifts and dims must have the same length; got ${sh.length} shifts and ${ds.length} dims`);
  const shiftOf = new Map<number, number>();
  for (const [i, d] of ds.entries()) shiftOf.set(d, (shiftOf.get(d) ?? 0) + sh[i]);
  return alongDims(x, [...shiftOf.keys()], (t, d) => {
    const n = t.shape[d];
    const s = shiftOf.get(d) as number;
    return selectAlong('roll', t, d, Int32Array.from({ length: n }, (_, i) => (((i - s) % n) + n) % n));
  });
}

/** The tensor repeated sizes[i] times along each dim (torch.repeat: sizes may add leading dims). Always a copy. */
export function repeat(x: Tensor, sizes: readonly number[]): Tensor {
  asTensor('repeat', 'input', x);
  if (!Array.isArray(sizes) || sizes.length < x.ndim) {
    fail('SHAPE', 'repeat', `expected at least one repeat count per dimension (${x.ndim}); got ${JSON.stringify(sizes)}`);
  }
  for (const r of sizes) intArg('repeat', 'repeat count', r, 0);
  const shape = [...new Array<number>(sizes.length - x.ndim).fill(1), ...x.shape];
  // [1, s0, 1, s1, ...] expanded to [r0, s0, r1, s1, ...], then copied into [r0*s0, r1*s1, ...].
  const spread = reshape(x, shape.flatMap((s) => [1, s]));
  const expanded = expand(spread, shape.flatMap((s, i) => [sizes[i], s]));
  const copy = clone(expanded);
  const out = reshape(copy, shape.map((s, i) => s * sizes[i]));
  for (const t of [spread, expanded, copy]) t.dispose();
  return out;
}

/** torch.tile: repeat, with ones prepended to `reps` when it has fewer entries than x has dims. */
export function tile(x: Tensor, reps: readonly number[]): Tensor {
  asTensor('tile', 'input', x);
  if (!Array.isArray(reps)) fail('ARGUMENT', 'tile', `reps must be an array of integers; got ${JSON.stringify(reps)}`);
  return repeat(x, [...new Array<number>(Math.max(0, x.ndim - reps.length)).fill(1), ...reps]);
}
