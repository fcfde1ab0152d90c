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

/** Channel c's numbers of x seen as [N, C, S]: the index of its k-th number, k = n * S + s. */
const channelIndex = (C: number, S: number, c: number, k: number) => (Math.floor(k / S) * C + c) * S + (k % S);

/** x (N, C, *) with `length` numbers seen as [N, C, S]: M = N * S numbers per channel, and S. */
function channels(x: { shape: readonly number[] }, length: number, C: number): [number, number] {
  const M = C === 0 ? 0 : length / C;
  return [M, x.shape[0] === 0 ? 0 : M / x.shape[0]];
}

/** ins [x, weight?, bias?], outs [y, mean (C), var (C)]; x is [N, C, S], S = x.size / (N * C). */
export const batchNorm: RefKernel<'batchNorm'> = (ins, outs, { eps, weight, bias }) => {
  const x = readAll(ins[0]);
  const w = weight ? readAll(ins[1]) : null;
  const b = bias ? readAll(ins[weight ? 2 : 1]) : null;
  const C = outs[1].shape[0];
  const [M, S] = channels(ins[0], x.length, C);
  const y = new Float64Array(x.length);
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let k = 0; k < M; k++) s += x[channelIndex(C, S, c, k)];
    const m = s / M;
    let v = 0;
    for (let k = 0; k < M; k++) v += (x[channelIndex(C, S, c, k)] - m) ** 2;
    v /= M;
    mean[c] = m;
    variance[c] = v;
    for (let k = 0; k < M; k++) {
      const i = channelIndex(C, S, c, k);
      y[i] = ((x[i] - m) / Math.sqrt(v + eps)) * (w ? w[c] : 1) + (b ? b[c] : 0);
    }
  }
  writeAll(outs[0], y);
  writeAll(outs[1], mean);
  writeAll(outs[2], variance);
};

/** ins [gy, x, mean, var, weight?], outs [gx, gw (C), gb (C)]. */
export const batchNormBackward: RefKernel<'batchNormBackward'> = (ins, outs, { eps, weight }) => {
  const gy = readAll(ins[0]);
  const x = readAll(ins[1]);
  const mean = readAll(ins[2]);
  const variance = readAll(ins[3]);
  const w = weight ? readAll(ins[4]) : null;
  const C = mean.length;
  const [M, S] = channels(ins[1], x.length, C);
  const gx = new Float64Array(x.length);
  const gw = new Float64Array(C);
  const gb = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const rstd = 1 / Math.sqrt(variance[c] + eps);
    for (let k = 0; k < M; k++) {
      const i = channelIndex(C, S, c, k);
      gb[c] += gy[i];
      gw[c] += gy[i] * (x[i] - mean[c]) * rstd;
    }
    for (let k = 0; k < M; k++) {
      const i = channelIndex(C, S, c, k);
      const xhat = (x[i] - mean[c]) * rstd;
      gx[i] = (w ? w[c] : 1) * rstd * (gy[i] - gb[c] / M - (xhat * gw[c]) / M);
    }
  }
  writeAll(outs[0], gx);
  writeAll(outs[1], gw);
  writeAll(outs[2], gb);
};
