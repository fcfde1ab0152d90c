/**
 * The fused cross-entropy over dim 1 of x (N, C) with class-index targets, and its gradient
 * (contracts in KernelAttrs). Operands may have any strides (x 2-D; target, weight, gy and lse
 * 1-D), so there is no layout fallback; rows are independent and each is accumulated in
 * doubles in class order.
 */
import type { TypedArray } from '../../dtype.js';
import type { Kernel, KernelAttrs } from '../types.js';

type K<A> = Kernel<A, TypedArray>;

/** logsumexp of the C values x[base + c * sc]: max-subtracted; a NaN in the row gives NaN. */
function rowLogSumExp(x: TypedArray, base: number, sc: number, C: number): number {
  let m = -Infinity;
  for (let c = 0, q = base; c < C; c++, q += sc) {
    const v = x[q];
    if (v > m || Number.isNaN(v)) m = v;
  }
  let s = 0;
  for (let c = 0, q = base; c < C; c++, q += sc) s += Math.exp(x[q] - m);
  return m + Math.log(s);
}

/** ins [x, target, weight?], outs [loss, lse]. */
const crossEntropy: K<KernelAttrs['crossEntropy']> = (ins, outs, { ignoreIndex, labelSmoothing: eps }) => {
  const [xa, ta, wa] = ins;
  const [la, sa] = outs;
  const [N, C] = xa.shape;
  const [sn, sc] = xa.strides;
  const x = xa.buf;
  const t = ta.buf;
  const w = wa?.buf;
  const sw = wa ? wa.strides[0] : 0;
  const w0 = wa ? wa.offset : 0;
  for (let n = 0; n < N; n++) {
    const base = xa.offset + n * sn;
    const lse = rowLogSumExp(x, base, sc, C);
    sa.buf[sa.offset + n] = lse;
    const tn = t[ta.offset + n * ta.strides[0]];
    let loss = 0;
    if (tn !== ignoreIndex) {
      const wt = w ? w[w0 + tn * sw] : 1;
      loss = -(1 - eps) * wt * (x[base + tn * sc] - lse);
      if (eps > 0) {
        // Classes of weight 0 do not contribute (not even 0 * -Infinity).
        let s = 0;
        for (let c = 0, q = base; c < C; c++, q += sc) {
          const wc = w ? w[w0 + c * sw] : 1;
          if (wc !== 0) s += wc * (x[q] - lse);
        }
        loss -= (eps / C) * s;
      }
    }
    la.buf[la.offset + n] = loss;
  }
};

/** ins [gy, x, target, lse, weight?], outs [gx (N, C), contiguous]. */
const crossEntropyBackward: K<KernelAttrs['crossEntropyBackward']> = (ins, outs, { ignoreIndex, labelSmoothing: eps }) => {
  const [ga, xa, ta, sa, wa] = ins;
  const gxa = outs[0];
  const [N, C] = xa.shape;
  const [sn, sc] = xa.strides;
  const x = xa.buf;
  const gx = gxa.buf;
  const w = wa?.buf;
  const sw = wa ? wa.strides[0] : 0;
  const w0 = wa ? wa.offset : 0;
  // Σ_c a_c = (1 - ε)·w[t] + (ε / C)·Σ_c w[c].
  let wsum = C;
  if (w) {
    wsum = 0;
    for (let c = 0; c < C; c++) wsum += w[w0 + c * sw];
  }
  const smooth = eps / C;
  for (let n = 0; n < N; n++) {
    const out = gxa.offset + n * C;
    const tn = ta.buf[ta.offset + n * ta.strides[0]];
    if (tn === ignoreIndex) {
      gx.fill(0, out, out + C);
      continue;
    }
    const g = ga.buf[ga.offset + n * ga.strides[0]];
    const lse = sa.buf[sa.offset + n * sa.strides[0]];
    const hot = (1 - eps) * (w ? w[w0 + tn * sw] : 1);
    const total = hot + smooth * wsum;
    for (let c = 0, q = xa.offset + n * sn; c < C; c++, q += sc) {
      const a = smooth * (w ? w[w0 + c * sw] : 1) + (c === tn ? hot : 0);
      gx[out + c] = g * (total * Math.exp(x[q] - lse) - a);
    }
  }
};

export const lossKernels = { crossEntropy, crossEntropyBackward };
