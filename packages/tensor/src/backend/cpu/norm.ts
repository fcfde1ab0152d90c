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

export const normKernels = { layerNorm, layerNormBackward };
