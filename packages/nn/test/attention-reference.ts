/**
 * A float64 definition of attention and the Transformer layers with plain arrays, written from
 * the equations in PyTorch's documentation; attention.test.ts and transformer.test.ts check the
 * layers against it.
 */
import { expect } from 'vitest';
import { tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import type { Module } from '@dl/nn';

export type Mat = number[][];
export type P = Record<string, Tensor>;

export const matmul = (a: Mat, b: Mat): Mat => a.map((r) => b[0].map((_, j) => r.reduce((s, x, k) => s + x * b[k][j], 0)));
export const transpose = (a: Mat): Mat => a[0].map((_, j) => a.map((r) => r[j]));
/** x [T, in] W^T + b, W [out, in]. */
export const linear = (x: Mat, w: Mat, b?: number[] | null): Mat => matmul(x, transpose(w)).map((r) => r.map((v, j) => v + (b ? b[j] : 0)));
export const add = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((c, j) => c + b[i][j]));

/** Pairs a query may not attend to (blocked), and numbers added to the scores. */
export interface MaskFns {
  blocked?: (i: number, j: number) => boolean;
  add?: (i: number, j: number) => number;
}

/** softmax(q k^T * scale + add) v with blocked pairs left out; a row with no key left gives zeros. */
export function attention(q: Mat, k: Mat, v: Mat, opts: MaskFns & { scale?: number } = {}): { out: Mat; w: Mat } {
  const scale = opts.scale ?? 1 / Math.sqrt(q[0].length);
  const w = q.map((qi, i) => {
    const s = k.map((kj, j) => (opts.blocked?.(i, j) ? Number.NEGATIVE_INFINITY : qi.reduce((a, x, d) => a + x * kj[d], 0) * scale + (opts.add?.(i, j) ?? 0)));
    const m = Math.max(...s);
    if (m === Number.NEGATIVE_INFINITY) return s.map(() => 0);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  });
  return { out: matmul(w, v), w };
}

export const layerNorm = (x: Mat, g: number[], b: number[], eps = 1e-5): Mat =>
  x.map((r) => {
    const mean = r.reduce((a, c) => a + c, 0) / r.length;
    const variance = r.reduce((a, c) => a + (c - mean) ** 2, 0) / r.length;
    return r.map((c, j) => ((c - mean) / Math.sqrt(variance + eps)) * g[j] + b[j]);
  });
/** erf by its Taylor series (exact to float64 rounding for |x| < 6). */
export const erf = (x: number) => {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
};
export const relu = (x: number) => Math.max(x, 0);
export const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

export const arr = (t: Tensor) => t.to('float64').toArray() as never;
export const params = (m: Module): P => Object.fromEntries(m.namedParameters());
/** The entries of p under `prefix.`, without it. */
export const sub = (p: P, prefix: string): P => Object.fromEntries(Object.entries(p).filter(([k]) => k.startsWith(`${prefix}.`)).map(([k, t]) => [k.slice(prefix.length + 1), t]));

/**
 * MultiheadAttention for one sample: q [L, E], k [S, kdim], v [S, vdim], with the module's
 * parameters p (packed or separate projections, biasK/biasV, addZeroAttn).
 */
export function mhaRef(
  p: P,
  h: number,
  q: Mat,
  k: Mat,
  v: Mat,
  opts: { blocked?: (head: number, i: number, j: number) => boolean; add?: (i: number, j: number) => number; zeroAttn?: boolean } = {},
): { out: Mat; w: Mat[] } {
  const e = q[0].length;
  const [wq, wk, wv]: Mat[] = p.inProjWeight ? [0, 1, 2].map((i) => (arr(p.inProjWeight) as Mat).slice(i * e, (i + 1) * e)) : [arr(p.qProjWeight), arr(p.kProjWeight), arr(p.vProjWeight)];
  const b: number[][] | null[] = p.inProjBias ? [0, 1, 2].map((i) => (arr(p.inProjBias) as number[]).slice(i * e, (i + 1) * e)) : [null, null, null];
  const Q = linear(q, wq, b[0]);
  let K = linear(k, wk, b[1]);
  let V = linear(v, wv, b[2]);
  if (p.biasK) {
    K = [...K, (arr(p.biasK) as Mat[])[0][0]];
    V = [...V, (arr(p.biasV) as Mat[])[0][0]];
  }
  const d = e / h;
  const heads = [...Array(h).keys()].map((hh) => {
    const cols = (m: Mat) => m.map((r) => r.slice(hh * d, (hh + 1) * d));
    const zero = opts.zeroAttn ? [new Array(d).fill(0)] : [];
    return attention(cols(Q), [...cols(K), ...zero], [...cols(V), ...zero], { blocked: opts.blocked && ((i, j) => opts.blocked?.(hh, i, j) ?? false), add: opts.add });
  });
  const concat = Q.map((_, i) => heads.flatMap((hd) => hd.out[i]));
  return { out: linear(concat, arr(p['outProj.weight']), p['outProj.bias'] ? arr(p['outProj.bias']) : null), w: heads.map((hd) => hd.w) };
}

/** Largest |a - b| / (atol + rtol |b|) over two nested arrays; at most 1 passes. */
export function closeness(actual: unknown, expected: unknown, atol = 1e-12, rtol = 1e-10): number {
  const a = (actual as number[]).flat(Number.POSITIVE_INFINITY) as number[];
  const b = (expected as number[]).flat(Number.POSITIVE_INFINITY) as number[];
  expect(a.length).toBe(b.length);
  return Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]) / (atol + rtol * Math.abs(b[i]))));
}

/** sin(a i + b) over the elements of `shape`, float32: the fixtures' `seq`. */
export const sinSeq = (shape: readonly number[], a = 0.37, b = 0.11): Tensor => {
  const n = shape.reduce((x, y) => x * y, 1);
  return tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(a * i + b)), { shape });
};
