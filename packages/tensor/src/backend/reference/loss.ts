/**
 * The fused cross-entropy and its gradient, written straight from the formulas of
 * KernelAttrs over row-major copies of the operands (readAll).
 */
import type { Kernel, KernelAttrs } from '../types.js';
import { readAll, writeAll } from './strided.js';

type RefKernel<K extends keyof KernelAttrs> = Kernel<KernelAttrs[K], Float64Array>;

/** logsumexp of one row, max-subtracted (a NaN in the row gives NaN). */
function logSumExp(row: Float64Array): number {
  const m = row.reduce((a, v) => (v > a || Number.isNaN(v) ? v : a), -Infinity);
  return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
}

/**
 * The coefficients a_c = (1 - ε)·w[t]·[c == t] + (ε / C)·w[c] of one row with target t (all
 * zero for an ignored target): loss = -Σ_c a_c·logp[c] and gx = gy·((Σ_c a_c)·softmax - a).
 */
function coefficients(t: number, w: Float64Array | null, C: number, ignoreIndex: number, eps: number): Float64Array {
  const a = new Float64Array(C);
  if (t === ignoreIndex) return a;
  for (let c = 0; c < C; c++) a[c] = (eps / C) * (w ? w[c] : 1);
  a[t] += (1 - eps) * (w ? w[t] : 1);
  return a;
}

/** ins [x (N, C), target, weight?], outs [loss (N), lse (N)]. */
export const crossEntropy: RefKernel<'crossEntropy'> = (ins, outs, { ignoreIndex, labelSmoothing }) => {
  const [xArg, tArg, wArg] = ins;
  const [N, C] = xArg.shape;
  const x = readAll(xArg);
  const target = readAll(tArg);
  const w = wArg ? readAll(wArg) : null;
  const loss = new Float64Array(N);
  const lse = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const row = x.subarray(n * C, (n + 1) * C);
    lse[n] = logSumExp(row);
    const a = coefficients(target[n], w, C, ignoreIndex, labelSmoothing);
    let l = 0;
    // Classes with a zero coefficient do not contribute (not even 0 * -Infinity).
    for (let c = 0; c < C; c++) if (a[c] !== 0) l -= a[c] * (row[c] - lse[n]);
    loss[n] = l;
  }
  writeAll(outs[0], loss);
  writeAll(outs[1], lse);
};

/** ins [gy (N), x (N, C), target, lse, weight?], outs [gx (N, C)]. */
export const crossEntropyBackward: RefKernel<'crossEntropyBackward'> = (ins, outs, { ignoreIndex, labelSmoothing }) => {
  const [gyArg, xArg, tArg, lseArg, wArg] = ins;
  const [N, C] = xArg.shape;
  const gy = readAll(gyArg);
  const x = readAll(xArg);
  const target = readAll(tArg);
  const lse = readAll(lseArg);
  const w = wArg ? readAll(wArg) : null;
  const gx = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    if (target[n] === ignoreIndex) continue;
    const a = coefficients(target[n], w, C, ignoreIndex, labelSmoothing);
    const total = a.reduce((s, v) => s + v, 0);
    for (let c = 0; c < C; c++) gx[n * C + c] = gy[n] * (total * Math.exp(x[n * C + c] - lse[n]) - a[c]);
  }
  writeAll(outs[0], gx);
};
