/**
 * Contractions and diagonals composed from existing ops (views, sum, pad, mul and one bmm per
 * pairwise contraction), so every backend and autograd get them without kernels of their own:
 * einsum, tensordot, outer, diagonal, diag, trace, meshgrid, cdist.
 */
import { fail, fmtShape } from '../errors.js';
import { normalizeDim } from '../layout.js';
import { scope } from '../memory.js';
import { Tensor } from '../tensor.js';
import { clone } from './convert.js';
import { mul, sub } from './elementwise.js';
import { bmm } from './linalg.js';
import { sum, vectorNorm } from './reduce.js';
import { expand, narrow, pad, permute, reshape, slice, squeeze, unsqueeze } from './shape.js';
import { asTensor, intArg, requireFloat } from './util.js';

const product = (sizes: readonly number[]) => sizes.reduce((a, b) => a * b, 1);

/**
 * torch.diagonal: the entries x[..., i, ..., i + offset, ...] over dims dim1 and dim2, which are
 * removed, the diagonal becoming the last dim. A view when x's layout allows (the two dims
 * flattened into one, then sliced with a step of one row plus one), otherwise a copy.
 */
export function diagonal(x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor {
  asTensor('diagonal', 'input', x);
  intArg('diagonal', 'offset', offset);
  if (x.ndim < 2) fail('DIM', 'diagonal', `expects a tensor of at least 2 dims; got shape ${fmtShape(x.shape)}`);
  const d1 = normalizeDim('diagonal', dim1, x.ndim);
  const d2 = normalizeDim('diagonal', dim2, x.ndim);
  if (d1 === d2) fail('DIM', 'diagonal', `dim1 and dim2 must be different dims; both are ${d1}`);
  const rest = x.shape.map((_, i) => i).filter((i) => i !== d1 && i !== d2);
  const [r, c] = [x.shape[d1], x.shape[d2]];
  const len = Math.max(0, offset >= 0 ? Math.min(r, c - offset) : Math.min(r + offset, c));
  return scope(() => {
    const flat = reshape(permute(x, [...rest, d1, d2]), [...rest.map((i) => x.shape[i]), r * c]);
    // Entry (i, i + offset) sits at start + i * (c + 1) of the flattened pair.
    const start = len === 0 ? 0 : offset >= 0 ? offset : -offset * c;
    return slice(flat, -1, start, len === 0 ? 0 : start + (len - 1) * (c + 1) + 1, c + 1);
  });
}

/**
 * torch.diag: of a 1-D tensor, the square matrix with it on the `diagonal`-th diagonal (above the
 * main one for diagonal > 0); of a 2-D tensor, a copy of that diagonal.
 */
export function diag(x: Tensor, diagonalIndex = 0): Tensor {
  asTensor('diag', 'input', x);
  intArg('diag', 'diagonal', diagonalIndex);
  if (x.ndim === 2) return scope(() => clone(diagonal(x, diagonalIndex)));
  if (x.ndim !== 1) fail('DIM', 'diag', `expects a 1-D or 2-D tensor; got shape ${fmtShape(x.shape)}`, 'use diagonal() for more dims');
  const n = x.shape[0];
  const m = n + Math.abs(diagonalIndex);
  const start = diagonalIndex >= 0 ? diagonalIndex : -diagonalIndex * m;
  return scope(() => {
    // x[i] belongs at start + i * (m + 1) of the flattened matrix: each entry followed by m zeros,
    // shifted by start, then cut (or padded) to m * m entries.
    const spaced = reshape(pad(reshape(x, [n, 1]), [0, m]), [n * (m + 1)]);
    const placed = pad(spaced, [start, Math.max(0, m * m - start - n * (m + 1))]);
    return reshape(narrow(placed, 0, 0, m * m), [m, m]);
  });
}

/** torch.trace: the sum of a 2-D tensor's main diagonal. */
export function trace(x: Tensor): Tensor {
  asTensor('trace', 'input', x);
  if (x.ndim !== 2) fail('DIM', 'trace', `expects a 2-D tensor; got shape ${fmtShape(x.shape)}`, 'use diagonal(x, 0, dim1, dim2).sum(-1) for batches');
  return scope(() => sum(diagonal(x)));
}

/** torch.outer: out[i][j] = a[i] * b[j] for 1-D a and b. */
export function outer(a: Tensor, b: Tensor): Tensor {
  asTensor('outer', 'input', a);
  asTensor('outer', 'vec2', b);
  if (a.ndim !== 1 || b.ndim !== 1) fail('DIM', 'outer', `expects two 1-D tensors; got shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`, 'flatten() them first');
  return scope(() => mul(reshape(a, [a.shape[0], 1]), reshape(b, [1, b.shape[0]])));
}

/** A tensor whose dims carry labels (einsum subscripts, or dim numbers for tensordot). */
interface Labeled {
  t: Tensor;
  labels: number[];
}

/** x summed over the dims whose labels `drop` selects. */
function sumOut(x: Labeled, drop: (label: number) => boolean): Labeled {
  const dims = x.labels.flatMap((l, i) => (drop(l) ? [i] : []));
  if (dims.length === 0) return x;
  return { t: sum(x.t, dims), labels: x.labels.filter((l) => !drop(l)) };
}

/**
 * Contract a with b over their shared labels: shared labels in `keep` are batch dims, the other
 * shared ones are summed; labels on one side only are summed unless kept. One bmm of
 * [batch, freeA, summed] by [batch, summed, freeB]; the result's labels are batch, freeA, freeB.
 * A shared label of size 1 on one side only broadcasts (it is dropped from that side).
 */
function contract(op: string, a: Labeled, b: Labeled, keep: ReadonlySet<number>): Labeled {
  requireFloat(op, a.t);
  requireFloat(op, b.t);
  return scope(() => {
    const ones = (x: Labeled, y: Labeled) => x.labels.flatMap((l, i) => (x.t.shape[i] === 1 && y.labels.includes(l) && y.t.shape[y.labels.indexOf(l)] !== 1 ? [i] : []));
    const squeezed = (x: Labeled, dims: number[]): Labeled => (dims.length === 0 ? x : { t: squeeze(x.t, dims), labels: x.labels.filter((_, i) => !dims.includes(i)) });
    const [sa, sb] = [ones(a, b), ones(b, a)];
    let [A, B] = [squeezed(a, sa), squeezed(b, sb)];
    A = sumOut(A, (l) => !keep.has(l) && !B.labels.includes(l));
    B = sumOut(B, (l) => !keep.has(l) && !A.labels.includes(l));
    const shared = A.labels.filter((l) => B.labels.includes(l));
    const batch = shared.filter((l) => keep.has(l));
    const summed = shared.filter((l) => !keep.has(l));
    const freeA = A.labels.filter((l) => !B.labels.includes(l));
    const freeB = B.labels.filter((l) => !A.labels.includes(l));
    const sizes = (x: Labeled, ls: number[]) => ls.map((l) => x.t.shape[x.labels.indexOf(l)]);
    const arrange = (x: Labeled, ls: number[], shape: number[]) => reshape(permute(x.t, ls.map((l) => x.labels.indexOf(l))), shape);
    const [nb, m, k, n] = [product(sizes(A, batch)), product(sizes(A, freeA)), product(sizes(A, summed)), product(sizes(B, freeB))];
    const y = bmm(arrange(A, [...batch, ...freeA, ...summed], [nb, m, k]), arrange(B, [...batch, ...summed, ...freeB], [nb, k, n]));
    return { t: reshape(y, [...sizes(A, batch), ...sizes(A, freeA), ...sizes(B, freeB)]), labels: [...batch, ...freeA, ...freeB] };
  });
}

/** Einsum label ids: A-Z are 0-25, a-z 26-51 (so sorting ids sorts as PyTorch does); '...' dims follow from 52. */
const ELLIPSIS = -1;
const ELLIPSIS_BASE = 52;
const labelName = (l: number) => (l >= ELLIPSIS_BASE ? `'...' dim ${l - ELLIPSIS_BASE}` : `'${String.fromCharCode(l < 26 ? 65 + l : 71 + l)}'`);

/** The labels of equation[from, to), whitespace skipped, ELLIPSIS for '...'. */
function parseTerm(equation: string, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) {
    const ch = equation[i];
    const code = equation.charCodeAt(i);
    if (code >= 65 && code <= 90) out.push(code - 65);
    else if (code >= 97 && code <= 122) out.push(code - 71);
    else if (ch === '.' && equation.startsWith('...', i) && !out.includes(ELLIPSIS)) {
      out.push(ELLIPSIS);
      i += 2;
    } else if (!/\s/.test(ch)) {
      fail('ARGUMENT', 'einsum', `invalid ${ch === '.' ? "'...' (one per term, three dots)" : `character '${ch}'`} at index ${i} of the equation '${equation}'`, "subscripts are letters a-z and A-Z, terms are separated by ',', with at most one '...' each and an optional '->' before the output");
    }
  }
  return out;
}

/**
 * torch.einsum: sums of products over the indices the equation names, e.g. 'ij,jk->ik' (matmul),
 * 'bij,bjk->bik', 'ii->i' (diagonal), 'ii' (trace), 'i,j->ij' (outer), '...ij,...jk' (batched,
 * broadcasting the '...' dims). Without '->' the output is the indices that appear once, in
 * alphabetical order (upper case first), after the '...' dims. An index of size 1 in one operand
 * broadcasts against the other operands, as in PyTorch.
 *
 * Each operand first has its repeated indices taken as diagonals and the indices no one else
 * needs summed; then the operands are contracted left to right, two at a time, each contraction
 * one bmm over the (batch, free, summed) dims. A result that is only a permutation or diagonal of
 * its operand is a view of it (a diagonal when the operand's layout allows), as in PyTorch.
 * Contractions need float32 or float64 operands.
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  if (typeof equation !== 'string') fail('ARGUMENT', 'einsum', `equation must be a string; got ${typeof equation}`, "e.g. einsum('ij,jk->ik', a, b)");
  for (const [i, x] of operands.entries()) asTensor('einsum', `operands[${i}]`, x);
  const arrow = equation.indexOf('->');
  if (arrow >= 0 && equation.indexOf('->', arrow + 2) >= 0) fail('ARGUMENT', 'einsum', `the equation '${equation}' has more than one '->'`);
  const lhsEnd = arrow >= 0 ? arrow : equation.length;
  const terms: number[][] = [];
  for (let from = 0; ; ) {
    const comma = equation.indexOf(',', from);
    const to = comma >= 0 && comma < lhsEnd ? comma : lhsEnd;
    terms.push(parseTerm(equation, from, to));
    if (to === lhsEnd) break;
    from = to + 1;
  }
  if (terms.length !== operands.length) {
    fail('ARGUMENT', 'einsum', `the equation '${equation}' has ${terms.length} input term(s) but ${operands.length} operand(s) were given`, 'pass one tensor per comma-separated term');
  }

  // Each operand's labels, dim by dim ('...' dims aligned on the right across operands).
  const ellipsisDims = operands.map((x, i) => {
    const letters = terms[i].filter((l) => l !== ELLIPSIS).length;
    const hasEllipsis = terms[i].includes(ELLIPSIS);
    if (hasEllipsis ? x.ndim < letters : x.ndim !== letters) {
      fail('SHAPE', 'einsum', `term ${i} '${equation.slice(0, lhsEnd).split(',')[i].trim()}' names ${letters} dims but operand ${i} has shape ${fmtShape(x.shape)} (${x.ndim} dims)`, hasEllipsis ? undefined : "use '...' to stand for the leading dims");
    }
    return x.ndim - letters;
  });
  const nEllipsis = Math.max(0, ...ellipsisDims);
  const expandTerm = (term: number[], e: number) => term.flatMap((l) => (l === ELLIPSIS ? Array.from({ length: e }, (_, j) => ELLIPSIS_BASE + nEllipsis - e + j) : [l]));
  const labels = terms.map((term, i) => expandTerm(term, ellipsisDims[i]));

  const sizeOf = new Map<number, [number, number]>();
  labels.forEach((ls, i) => {
    ls.forEach((l, d) => {
      const size = operands[i].shape[d];
      const first = ls.indexOf(l);
      if (first !== d && operands[i].shape[first] !== size) {
        fail('SHAPE', 'einsum', `index ${labelName(l)} is repeated in operand ${i} with different sizes: ${operands[i].shape[first]} and ${size} (shape ${fmtShape(operands[i].shape)})`, 'a repeated index takes a diagonal, which needs equal sizes');
      }
      const seen = sizeOf.get(l);
      if (seen && seen[0] !== size && seen[0] !== 1 && size !== 1) {
        fail('SHAPE', 'einsum', `index ${labelName(l)} has size ${seen[0]} in operand ${seen[1]} but size ${size} in operand ${i}`, 'sizes of an index must match (or be 1, which broadcasts)');
      }
      if (!seen || seen[0] === 1) sizeOf.set(l, [size, i]);
    });
  });

  let output: number[];
  if (arrow >= 0) {
    output = expandTerm(parseTerm(equation, arrow + 2, equation.length), nEllipsis);
    output.forEach((l, i) => {
      if (l < ELLIPSIS_BASE && !sizeOf.has(l)) fail('ARGUMENT', 'einsum', `output index ${labelName(l)} does not appear in any input term of '${equation}'`);
      if (output.indexOf(l) !== i) fail('ARGUMENT', 'einsum', `output index ${labelName(l)} appears more than once in '${equation}'`, 'use a repeated index on an input to take a diagonal');
    });
  } else {
    const count = new Map<number, number>();
    for (const l of labels.flat()) count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count].filter(([l, c]) => c === 1 && l < ELLIPSIS_BASE).map(([l]) => l);
    output = [...Array.from({ length: nEllipsis }, (_, j) => ELLIPSIS_BASE + j), ...once.sort((p, q) => p - q)];
  }

  return scope(() => {
    const needed = (skip: number) => new Set([...output, ...labels.filter((_, j) => j !== skip).flat()]);
    const items = operands.map((x, i): Labeled => {
      let item: Labeled = { t: x, labels: labels[i] };
      // A repeated index: the diagonal of its two dims, which goes last.
      for (let d = item.labels.findIndex((l, k) => item.labels.indexOf(l) !== k); d >= 0; d = item.labels.findIndex((l, k) => item.labels.indexOf(l) !== k)) {
        const l = item.labels[d];
        const first = item.labels.indexOf(l);
        item = { t: diagonal(item.t, 0, first, d), labels: [...item.labels.filter((_, k) => k !== first && k !== d), l] };
      }
      const keep = needed(i);
      return sumOut(item, (l) => !keep.has(l));
    });
    let acc = items[0];
    for (let i = 1; i < items.length; i++) {
      const keep = new Set([...output, ...items.slice(i + 1).flatMap((it) => it.labels)]);
      acc = contract('einsum', acc, items[i], keep);
    }
    // What is left are the output's labels, each once (a fresh view even when nothing else ran).
    return permute(acc.t, output.map((l) => acc.labels.indexOf(l)));
  });
}

/**
 * torch.tensordot: contract dims `dims[0]` of a with dims `dims[1]` of b (pairwise, equal sizes),
 * or, for a number n, a's last n dims with b's first n. The result's dims are a's others, then b's.
 */
export function tensordot(a: Tensor, b: Tensor, dims: number | readonly [number | readonly number[], number | readonly number[]] = 2): Tensor {
  asTensor('tensordot', 'a', a);
  asTensor('tensordot', 'b', b);
  let da: number[];
  let db: number[];
  if (typeof dims === 'number') {
    intArg('tensordot', 'dims', dims, 0);
    if (dims > a.ndim || dims > b.ndim) fail('DIM', 'tensordot', `cannot contract ${dims} dims of tensors of shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
    da = Array.from({ length: dims }, (_, i) => a.ndim - dims + i);
    db = Array.from({ length: dims }, (_, i) => i);
  } else {
    if (!Array.isArray(dims) || dims.length !== 2) fail('ARGUMENT', 'tensordot', `dims must be a number or a pair [dimsA, dimsB]; got ${JSON.stringify(dims)}`);
    const list = (d: number | readonly number[]) => (typeof d === 'number' ? [d] : [...d]);
    da = list(dims[0]).map((d) => normalizeDim('tensordot', d, a.ndim));
    db = list(dims[1]).map((d) => normalizeDim('tensordot', d, b.ndim));
    if (da.length !== db.length) fail('ARGUMENT', 'tensordot', `dims lists must have the same length; got ${JSON.stringify(dims)}`);
    if (new Set(da).size !== da.length || new Set(db).size !== db.length) fail('DIM', 'tensordot', `dims ${JSON.stringify(dims)} repeat a dimension`);
  }
  da.forEach((d, i) => {
    if (a.shape[d] !== b.shape[db[i]]) {
      fail('SHAPE', 'tensordot', `contracted dim ${d} of a (shape ${fmtShape(a.shape)}) has size ${a.shape[d]} but dim ${db[i]} of b (shape ${fmtShape(b.shape)}) has size ${b.shape[db[i]]}`);
    }
  });
  // a's dims are labelled 0.., b's free dims a.ndim..; contracted dims of b take a's label.
  const la = a.shape.map((_, i) => i);
  const lb = b.shape.map((_, j) => (db.includes(j) ? da[db.indexOf(j)] : a.ndim + j));
  const keep = new Set([...la, ...lb].filter((l) => !da.includes(l)));
  return contract('tensordot', { t: a, labels: la }, { t: b, labels: lb }, keep).t;
}

export interface MeshgridOptions {
  /** 'ij' (matrix indexing, the default): output dim i follows tensors[i]; 'xy' (Cartesian): the first two dims swap. */
  indexing?: 'ij' | 'xy';
}

/**
 * torch.meshgrid: for N 0-D or 1-D tensors, N tensors of shape [n0, n1, ...] (with indexing 'xy',
 * [n1, n0, ...]), the i-th holding tensors[i]'s values along its dim; expanded views, no copies.
 * The default is 'ij', PyTorch's current default; PyTorch warns when `indexing` is not given
 * (its default may change), dl does not.
 */
export function meshgrid(...args: [...Tensor[], MeshgridOptions] | Tensor[]): Tensor[] {
  const last = args[args.length - 1];
  const opts: MeshgridOptions = last !== undefined && !(last instanceof Tensor) ? last : {};
  const tensors = (last === opts ? args.slice(0, -1) : args) as Tensor[];
  if (tensors.length === 0) fail('ARGUMENT', 'meshgrid', 'expects at least one tensor');
  const { indexing = 'ij' } = opts;
  if (indexing !== 'ij' && indexing !== 'xy') fail('ARGUMENT', 'meshgrid', `indexing must be 'ij' or 'xy'; got ${String(indexing)}`);
  tensors.forEach((t, i) => {
    asTensor('meshgrid', `tensors[${i}]`, t);
    if (t.ndim > 1) fail('DIM', 'meshgrid', `expects 0-D or 1-D tensors; got shape ${fmtShape(t.shape)} (tensor ${i})`, 'flatten() it first');
    if (t.dtype !== tensors[0].dtype) fail('DTYPE', 'meshgrid', `expects tensors of one dtype; got ${tensors[0].dtype} and ${t.dtype} (tensor ${i})`);
  });
  const pos = tensors.map((_, i) => (indexing === 'xy' && tensors.length > 1 && i < 2 ? 1 - i : i));
  const shape = new Array<number>(tensors.length);
  tensors.forEach((t, i) => {
    shape[pos[i]] = t.numel;
  });
  return scope(() => tensors.map((t, i) => expand(reshape(t, shape.map((s, k) => (k === pos[i] ? s : 1))), shape)));
}

/**
 * torch.cdist: the p-norm distance between each row of x1 [..., P, M] and each row of x2
 * [..., R, M] (batch dims broadcast), shape [..., P, R]. Computed from the differences (exact,
 * with memory P * R * M per batch), not PyTorch's matmul shortcut for large p = 2 inputs.
 */
export function cdist(x1: Tensor, x2: Tensor, p = 2): Tensor {
  asTensor('cdist', 'x1', x1);
  asTensor('cdist', 'x2', x2);
  requireFloat('cdist', x1);
  requireFloat('cdist', x2);
  if (x1.ndim < 2 || x2.ndim < 2 || x1.shape[x1.ndim - 1] !== x2.shape[x2.ndim - 1]) {
    fail('SHAPE', 'cdist', `expects x1 [..., P, M] and x2 [..., R, M] with the same M; got shapes ${fmtShape(x1.shape)} and ${fmtShape(x2.shape)}`);
  }
  if (typeof p !== 'number' || !(p >= 0)) fail('ARGUMENT', 'cdist', `p must be a non-negative number; got ${String(p)}`);
  // [..., P, 1, M] - [..., 1, R, M]: every pair's difference, normed over M.
  return scope(() => vectorNorm(sub(unsqueeze(x1, -2), unsqueeze(x2, -3)), p, -1));
}
