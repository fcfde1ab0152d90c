/**
 * Layer normalization over the last dims and its gradient (contracts in KernelAttrs), x seen as
 * R rows of C; every operand contiguous. Each row's statistics are accumulated in doubles in
 * order, and so are the column sums of the weight and bias gradients (rows in order): the native
 * kernels (native/src/norm.cc) keep the same order, so both give the same bits.
 */
import type { TypedArray } from '../../dtype.js';
import type { Kernel, KernelAttrs } from '../types.js';

type K<A> = Kernel<A, TypedArray>;

const rowsOf = (stats: { shape: readonly number[] }) => stats.shape.reduce((a, s) => a * s, 1);

/** ins [x, weight?, bias?], outs [y, mean (R), rstd (R)]. */
const layerNorm: K<KernelAttrs['layerNorm']> = (ins, outs, { eps, weight, bias }) => {
  const [xa] = ins;
  const wa = weight ? ins[1] : null;
  const ba = bias ? ins[weight ? 2 : 1] : null;
  const [ya, ma, sa] = outs;
  const R = rowsOf(ma);
  const C = R === 0 ? 0 : xa.shape.reduce((a, s) => a * s, 1) / R;
  const { buf: x, offset: xo } = xa;
  const { buf: y, offset: yo } = ya;
  for (let r = 0; r < R; r++) {
    const base = xo + r * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[base + c];
    const mean = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const d = x[base + c] - mean;
      v += d * d;
    }
    const rstd = 1 / Math.sqrt(v / C + eps);
    ma.buf[ma.offset + r] = mean;
    sa.buf[sa.offset + r] = rstd;
    const out = yo + r * C;
    for (let c = 0; c < C; c++) {
      let t = (x[base + c] - mean) * rstd;
      if (wa) t *= wa.buf[wa.offset + c];
      if (ba) t += ba.buf[ba.offset + c];
      y[out + c] = t;
    }
  }
};

/** ins [gy, x, mean, rstd, weight?], outs [gx, gw (C), gb (C)]. */
const layerNormBackward: K<KernelAttrs['layerNormBackward']> = (ins, outs, { weight }) => {
  const [gya, xa, ma, sa] = ins;
  const wa = weight ? ins[4] : null;
  const [gxa, gwa, gba] = outs;
  const R = rowsOf(ma);
  const C = gwa.shape[0];
  const gy = gya.buf;
  const x = xa.buf;
  const gw = new Float64Array(C);
  const gb = new Float64Array(C);
  for (let r = 0; r < R; r++) {
    const mean = ma.buf[ma.offset + r];
    const rstd = sa.buf[sa.offset + r];
    const gyo = gya.offset + r * C;
    const xo = xa.offset + r * C;
    let sumG = 0;
    let sumGX = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (x[xo + c] - mean) * rstd;
      const g = wa ? gy[gyo + c] * wa.buf[wa.offset + c] : gy[gyo + c];
      sumG += g;
      sumGX += g * xhat;
    }
    const a = sumG / C;
    const b = sumGX / C;
    const gxo = gxa.offset + r * C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[xo + c] - mean) * rstd;
      const g = wa ? gy[gyo + c] * wa.buf[wa.offset + c] : gy[gyo + c];
      gxa.buf[gxo + c] = rstd * (g - a - xhat * b);
    }
  }
  // Column sums, rows in order (the native kernel's order too).
  for (let r = 0; r < R; r++) {
    const mean = ma.buf[ma.offset + r];
    const rstd = sa.buf[sa.offset + r];
    const gyo = gya.offset + r * C;
    const xo = xa.offset + r * C;
    for (let c = 0; c < C; c++) {
      gw[c] += gy[gyo + c] * ((x[xo + c] - mean) * rstd);
      gb[c] += gy[gyo + c];
    }
  }
  for (let c = 0; c < C; c++) {
    gwa.buf[gwa.offset + c] = gw[c];
    gba.buf[gba.offset + c] = gb[c];
  }
};

/**
 * Batch normalization reads each channel's runs x[n, c, :] (S numbers each) once for two sums
 * at a time. A run's terms go in eight lanes (term i in lane i % 8, the lanes added as
 * ((0+1)+(2+3))+((4+5)+(6+7)), then the last S % 8 terms in order), the runs' sums in order of n,
 * all in doubles: what the native kernels do, vectorised, so both give the same bits.
 * `runSums` returns the first sum and leaves the second in `second`.
 */
let second = 0;

/** Over the run of a at o (n terms): sum(a - k) and sum((a - k)^2); with b (its run at ob): sum(b) and sum(b * (a - k)). */
function runSums(a: TypedArray, o: number, n: number, k: number, b: TypedArray | null, ob: number): number {
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  let q0 = 0, q1 = 0, q2 = 0, q3 = 0, q4 = 0, q5 = 0, q6 = 0, q7 = 0;
  const end8 = n - (n % 8);
  let i = 0;
  if (b) {
    for (; i < end8; i += 8) {
      const g0 = b[ob + i], g1 = b[ob + i + 1], g2 = b[ob + i + 2], g3 = b[ob + i + 3];
      const g4 = b[ob + i + 4], g5 = b[ob + i + 5], g6 = b[ob + i + 6], g7 = b[ob + i + 7];
      a0 += g0; a1 += g1; a2 += g2; a3 += g3; a4 += g4; a5 += g5; a6 += g6; a7 += g7;
      q0 += g0 * (a[o + i] - k); q1 += g1 * (a[o + i + 1] - k); q2 += g2 * (a[o + i + 2] - k); q3 += g3 * (a[o + i + 3] - k);
      q4 += g4 * (a[o + i + 4] - k); q5 += g5 * (a[o + i + 5] - k); q6 += g6 * (a[o + i + 6] - k); q7 += g7 * (a[o + i + 7] - k);
    }
  } else {
    for (; i < end8; i += 8) {
      const d0 = a[o + i] - k, d1 = a[o + i + 1] - k, d2 = a[o + i + 2] - k, d3 = a[o + i + 3] - k;
      const d4 = a[o + i + 4] - k, d5 = a[o + i + 5] - k, d6 = a[o + i + 6] - k, d7 = a[o + i + 7] - k;
      a0 += d0; a1 += d1; a2 += d2; a3 += d3; a4 += d4; a5 += d5; a6 += d6; a7 += d7;
      q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3; q4 += d4 * d4; q5 += d5 * d5; q6 += d6 * d6; q7 += d7 * d7;
    }
  }
  let first = a0 + a1 + (a2 + a3) + (a4 + a5 + (a6 + a7));
  second = q0 + q1 + (q2 + q3) + (q4 + q5 + (q6 + q7));
  for (; i < n; i++) {
    const d = a[o + i] - k;
    const g = b ? b[ob + i] : d;
    first += g;
    second += g * d;
  }
  return first;
}

/** x seen as [N, C, S]: N, C, S. */
function channelLayout(x: { shape: readonly number[] }, C: number): [number, number, number] {
  const N = x.shape[0];
  const total = x.shape.reduce((a, s) => a * s, 1);
  return [N, C, N * C === 0 ? 0 : total / (N * C)];
}

/**
 * ins [x, weight?, bias?], outs [y, mean (C), var (C)]. One pass for the statistics, shifted by
 * the channel's first number k (so the variance does not cancel when the mean is large against the
 * spread): mean = k + sum(x - k) / M, var = sum((x - k)^2) / M - (mean - k)^2; then
 * y = (x - mean) * scale + shift with scale = rstd * weight.
 */
const batchNorm: K<KernelAttrs['batchNorm']> = (ins, outs, { eps, weight, bias }) => {
  const [xa] = ins;
  const wa = weight ? ins[1] : null;
  const ba = bias ? ins[weight ? 2 : 1] : null;
  const [ya, ma, va] = outs;
  const [N, C, S] = channelLayout(xa, ma.shape[0]);
  const M = N * S;
  const { buf: x, offset: xo } = xa;
  const { buf: y, offset: yo } = ya;
  for (let c = 0; c < C; c++) {
    const k = M === 0 ? 0 : x[xo + c * S];
    let s1 = 0;
    let s2 = 0;
    for (let n = 0; n < N; n++) {
      s1 += runSums(x, xo + (n * C + c) * S, S, k, null, 0);
      s2 += second;
    }
    const dm = s1 / M;
    const m = k + dm;
    const v = Math.max(0, s2 / M - dm * dm);
    ma.buf[ma.offset + c] = m;
    va.buf[va.offset + c] = v;
    const rstd = 1 / Math.sqrt(v + eps);
    const scale = wa ? rstd * wa.buf[wa.offset + c] : rstd;
    const shift = ba ? ba.buf[ba.offset + c] : 0;
    for (let n = 0; n < N; n++) {
      const xi = xo + (n * C + c) * S;
      const yi = yo + (n * C + c) * S;
      for (let i = 0; i < S; i++) y[yi + i] = (x[xi + i] - m) * scale + shift;
    }
  }
};

/**
 * ins [gy, x, mean, var, weight?], outs [gx, gw (C), gb (C)]: with k = weight * rstd,
 * gx = k * gy - k * gb / M - (x - mean) * (k * rstd * gw / M), gw = rstd * sum(gy * (x - mean)).
 */
const batchNormBackward: K<KernelAttrs['batchNormBackward']> = (ins, outs, { eps, weight }) => {
  const [gya, xa, ma, va] = ins;
  const wa = weight ? ins[4] : null;
  const [gxa, gwa, gba] = outs;
  const [N, C, S] = channelLayout(xa, ma.shape[0]);
  const M = N * S;
  const { buf: gy, offset: gyo } = gya;
  const { buf: x, offset: xo } = xa;
  const { buf: gx, offset: gxo } = gxa;
  for (let c = 0; c < C; c++) {
    const m = ma.buf[ma.offset + c];
    const rstd = 1 / Math.sqrt(va.buf[va.offset + c] + eps);
    let sg = 0;
    let sgx = 0;
    for (let n = 0; n < N; n++) {
      const r = (n * C + c) * S;
      sg += runSums(x, xo + r, S, m, gy, gyo + r);
      sgx += second;
    }
    const gw = rstd * sgx;
    gwa.buf[gwa.offset + c] = gw;
    gba.buf[gba.offset + c] = sg;
    const k = wa ? wa.buf[wa.offset + c] * rstd : rstd;
    const shift = (k * sg) / M;
    const slope = (k * rstd * gw) / M;
    for (let n = 0; n < N; n++) {
      const r = (n * C + c) * S;
      for (let i = 0; i < S; i++) gx[gxo + r + i] = k * gy[gyo + r + i] - shift - (x[xo + r + i] - m) * slope;
    }
  }
};

export const normKernels = { layerNorm, layerNormBackward, batchNorm, batchNormBackward };
