/**
 * Layer normalization and its gradient, written straight from the formulas of KernelAttrs over
 * row-major copies of the operands (readAll), in float64.
 */
import type { Kernel, KernelAttrs } from '../types.js';
import { readAll, writeAll } from './strided.js';

type RefKernel<K extends keyof KernelAttrs> = Kernel<KernelAttrs[K], Float64Array>;

/** ins [x, weight?, bias?], outs [y, mean (R), rstd (R)]; x is R rows of C = x.size / R. */
export const layerNorm: RefKernel<'layerNorm'> = (ins, outs, { eps, weight, bias }) => {
  const x = readAll(ins[0]);
  const w = weight ? readAll(ins[1]) : null;
  const b = bias ? readAll(ins[weight ? 2 : 1]) : null;
  const R = outs[1].shape.reduce((a, s) => a * s, 1);
  const C = R === 0 ? 0 : x.length / R;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(R);
  const rstd = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const row = x.subarray(r * C, (r + 1) * C);
    const m = row.reduce((a, v) => a + v, 0) / C;
    const v = row.reduce((a, u) => a + (u - m) * (u - m), 0) / C;
    const s = 1 / Math.sqrt(v + eps);
    mean[r] = m;
    rstd[r] = s;
    for (let c = 0; c < C; c++) y[r * C + c] = (row[c] - m) * s * (w ? w[c] : 1) + (b ? b[c] : 0);
  }
  writeAll(outs[0], y);
  writeAll(outs[1], mean);
  writeAll(outs[2], rstd);
};

/** ins [gy, x, mean, rstd, weight?], outs [gx, gw (C), gb (C)]. */
export const layerNormBackward: RefKernel<'layerNormBackward'> = (ins, outs, { weight }) => {
  const gy = readAll(ins[0]);
  const x = readAll(ins[1]);
  const mean = readAll(ins[2]);
  const rstd = readAll(ins[3]);
  const w = weight ? readAll(ins[4]) : null;
  const R = mean.length;
  const C = R === 0 ? 0 : x.length / R;
  const gx = new Float64Array(x.length);
  const gw = new Float64Array(C);
  const gb = new Float64Array(C);
  for (let r = 0; r < R; r++) {
    let sumG = 0;
    let sumGX = 0;
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      const xhat = (x[i] - mean[r]) * rstd[r];
      const g = gy[i] * (w ? w[c] : 1);
      sumG += g;
      sumGX += g * xhat;
      gw[c] += gy[i] * xhat;
      gb[c] += gy[i];
    }
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      const xhat = (x[i] - mean[r]) * rstd[r];
      const g = gy[i] * (w ? w[c] : 1);
      gx[i] = rstd[r] * (g - sumG / C - (xhat * sumGX) / C);
    }
  }
  writeAll(outs[0], gx);
  writeAll(outs[1], gw);
  writeAll(outs[2], gb);
};
