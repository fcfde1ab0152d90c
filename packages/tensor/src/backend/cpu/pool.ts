/**
 * 2-D pooling kernels (max, average, adaptive average, adaptive max) and their
 * gradients for the TypeScript CPU backend.
 *
 * Every kernel walks (n, c) planes; inputs are read through their strides (they
 * may be views, gradients may be expanded with stride 0), outputs are fresh and
 * contiguous. For each output row / column the clipped window (first valid
 * input coordinate and number of valid taps) is computed once per call into
 * small Int32Arrays, so the inner loops do no bounds tests.
 *
 * Semantics follow PyTorch's CPU kernels: max pooling treats padding as -inf,
 * a NaN in a window wins (a later NaN replaces an earlier one, as in
 * `val > max || isnan(val)`), and the index is h * W + w within the input plane;
 * a window holding only -inf reports its first valid cell.
 */
import type { TypedArray } from '../../dtype.js';
import type { AvgPool2dAttrs, KernelTable, Pool2dAttrs, TensorArg } from '../types.js';

type Arg = TensorArg<TypedArray>;
type FloatArray = Float32Array | Float64Array;

/**
 * Clipped windows along one axis: for output o the window is taps
 * start(o) + t * dil for t < k, start(o) = o * s - p; keeps those inside [0, size).
 * first[o] is the first kept coordinate, count[o] how many are kept.
 */
function clippedWindows(
  out: number, size: number, k: number, s: number, p: number, dil: number,
): { first: Int32Array; count: Int32Array } {
  const first = new Int32Array(out);
  const count = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    const st = o * s - p;
    const tLo = st >= 0 ? 0 : Math.floor((-st + dil - 1) / dil);
    const tHi = size - 1 - st < 0 ? 0 : Math.min(k, Math.floor((size - 1 - st) / dil) + 1);
    if (tHi > tLo) {
      first[o] = st + tLo * dil;
      count[o] = tHi - tLo;
    } else {
      // No valid tap (only reachable with unusual padding): point at the nearest cell.
      first[o] = Math.min(Math.max(st, 0), size - 1);
      count[o] = 0;
    }
  }
  return { first, count };
}

/** Adaptive windows along one axis: [floor(o*size/out), ceil((o+1)*size/out)). */
function adaptiveWindows(out: number, size: number): { first: Int32Array; count: Int32Array } {
  const first = new Int32Array(out);
  const count = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    const st = Math.floor((o * size) / out);
    const en = Math.ceil(((o + 1) * size) / out);
    first[o] = st;
    count[o] = en - st;
  }
  return { first, count };
}

/** Shared max-pool loop: y and indices over (N, C, oh, ow), windows given per axis. */
function maxPoolPlanes(
  x: Arg, y: Arg, ind: Arg,
  hw: { first: Int32Array; count: Int32Array }, dh: number,
  ww: { first: Int32Array; count: Int32Array }, dw: number,
): void {
  const [N, C, , W] = x.shape;
  const oh = y.shape[2];
  const ow = y.shape[3];
  const [s0, s1, s2, s3] = x.strides;
  const X = x.buf as FloatArray;
  const Y = y.buf as FloatArray;
  const I = ind.buf as Int32Array;
  const hFirst = hw.first, hCount = hw.count, wFirst = ww.first, wCount = ww.count;
  const sdh = dh * s2;
  const sdw = dw * s3;
  let yo = y.offset;
  let io = ind.offset;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const xb = x.offset + n * s0 + c * s1;
      for (let oy = 0; oy < oh; oy++) {
        const h0 = hFirst[oy];
        const nh = hCount[oy];
        const rowBase = xb + h0 * s2;
        for (let ox = 0; ox < ow; ox++) {
          const w0 = wFirst[ox];
          const nw = wCount[ox];
          let max = -Infinity;
          let arg = h0 * W + w0;
          let xr = rowBase + w0 * s3;
          let hIdx = h0 * W + w0;
          for (let a = 0; a < nh; a++) {
            let xi = xr;
            let idx = hIdx;
            for (let b = 0; b < nw; b++) {
              const v = X[xi];
              if (v > max || Number.isNaN(v)) {
                max = v;
                arg = idx;
              }
              xi += sdw;
              idx += dw;
            }
            xr += sdh;
            hIdx += dh * W;
          }
          Y[yo++] = max;
          I[io++] = arg;
        }
      }
    }
  }
}

function maxPool2d(ins: readonly Arg[], outs: readonly Arg[], at: Pool2dAttrs): void {
  const x = ins[0];
  const y = outs[0];
  const H = x.shape[2];
  const W = x.shape[3];
  const hw = clippedWindows(y.shape[2], H, at.kernelSize[0], at.stride[0], at.padding[0], at.dilation[0]);
  const ww = clippedWindows(y.shape[3], W, at.kernelSize[1], at.stride[1], at.padding[1], at.dilation[1]);
  maxPoolPlanes(x, y, outs[1], hw, at.dilation[0], ww, at.dilation[1]);
}

function adaptiveMaxPool2d(ins: readonly Arg[], outs: readonly Arg[]): void {
  const x = ins[0];
  const y = outs[0];
  const hw = adaptiveWindows(y.shape[2], x.shape[2]);
  const ww = adaptiveWindows(y.shape[3], x.shape[3]);
  maxPoolPlanes(x, y, outs[1], hw, 1, ww, 1);
}

function maxPool2dBackward(ins: readonly Arg[], outs: readonly Arg[]): void {
  const gy = ins[0];
  const ind = ins[1];
  const gx = outs[0];
  const [N, C, H, W] = gx.shape;
  const oh = gy.shape[2];
  const ow = gy.shape[3];
  const [g0, g1, g2, g3] = gy.strides;
  const [i0, i1, i2, i3] = ind.strides;
  const GY = gy.buf as FloatArray;
  const I = ind.buf as Int32Array;
  const GX = gx.buf as FloatArray;
  const plane = H * W;
  GX.fill(0, gx.offset, gx.offset + N * C * plane);
  let xb = gx.offset;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const gb = gy.offset + n * g0 + c * g1;
      const ib = ind.offset + n * i0 + c * i1;
      for (let oy = 0; oy < oh; oy++) {
        let gi = gb + oy * g2;
        let ii = ib + oy * i2;
        for (let ox = 0; ox < ow; ox++) {
          GX[xb + I[ii]] += GY[gi];
          gi += g3;
          ii += i3;
        }
      }
      xb += plane;
    }
  }
}

/** Divisor of every (oy, ox) window, laid out oh x ow, per PyTorch's avg_pool2d. */
function avgDivisors(H: number, W: number, oh: number, ow: number, at: AvgPool2dAttrs): Float64Array {
  const [kh, kw] = at.kernelSize;
  const [sh, sw] = at.stride;
  const [ph, pw] = at.padding;
  const div = new Float64Array(oh * ow);
  for (let oy = 0; oy < oh; oy++) {
    const hs = oy * sh - ph;
    const heP = Math.min(hs + kh, H + ph);
    const hCnt = Math.min(heP, H) - Math.max(hs, 0);
    for (let ox = 0; ox < ow; ox++) {
      const ws = ox * sw - pw;
      const weP = Math.min(ws + kw, W + pw);
      const wCnt = Math.min(weP, W) - Math.max(ws, 0);
      let d: number;
      if (at.divisorOverride !== null) d = at.divisorOverride;
      else if (at.countIncludePad) d = (heP - hs) * (weP - ws);
      else d = hCnt * wCnt;
      div[oy * ow + ox] = d;
    }
  }
  return div;
}

function avgPool2d(ins: readonly Arg[], outs: readonly Arg[], at: AvgPool2dAttrs): void {
  const x = ins[0];
  const y = outs[0];
  const H = x.shape[2];
  const W = x.shape[3];
  const oh = y.shape[2];
  const ow = y.shape[3];
  const hw = clippedWindows(oh, H, at.kernelSize[0], at.stride[0], at.padding[0], 1);
  const ww = clippedWindows(ow, W, at.kernelSize[1], at.stride[1], at.padding[1], 1);
  const div = avgDivisors(H, W, oh, ow, at);
  poolSumPlanes(x, y, hw, ww, div);
}

function adaptiveAvgPool2d(ins: readonly Arg[], outs: readonly Arg[]): void {
  const x = ins[0];
  const y = outs[0];
  const H = x.shape[2];
  const W = x.shape[3];
  const oh = y.shape[2];
  const ow = y.shape[3];
  const hw = adaptiveWindows(oh, H);
  const ww = adaptiveWindows(ow, W);
  const div = new Float64Array(oh * ow);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) div[oy * ow + ox] = hw.count[oy] * ww.count[ox];
  }
  poolSumPlanes(x, y, hw, ww, div);
}

/** y[oy][ox] = (sum of the window) / div[oy*ow + ox] over every (n, c) plane; empty windows give 0. */
function poolSumPlanes(
  x: Arg, y: Arg,
  hw: { first: Int32Array; count: Int32Array },
  ww: { first: Int32Array; count: Int32Array },
  div: Float64Array,
): void {
  const [N, C] = x.shape;
  const oh = y.shape[2];
  const ow = y.shape[3];
  const [s0, s1, s2, s3] = x.strides;
  const X = x.buf as FloatArray;
  const Y = y.buf as FloatArray;
  const hFirst = hw.first, hCount = hw.count, wFirst = ww.first, wCount = ww.count;
  let yo = y.offset;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const xb = x.offset + n * s0 + c * s1;
      for (let oy = 0; oy < oh; oy++) {
        const nh = hCount[oy];
        const rowBase = xb + hFirst[oy] * s2;
        const dRow = oy * ow;
        for (let ox = 0; ox < ow; ox++) {
          const nw = wCount[ox];
          let sum = 0.0;
          let xr = rowBase + wFirst[ox] * s3;
          for (let a = 0; a < nh; a++) {
            let xi = xr;
            for (let b = 0; b < nw; b++) {
              sum += X[xi];
              xi += s3;
            }
            xr += s2;
          }
          Y[yo++] = nh === 0 || nw === 0 ? 0 : sum / div[dRow + ox];
        }
      }
    }
  }
}

/** gradX[window] += gradY / div over every (n, c) plane (gradX zeroed first). */
function poolSumBackwardPlanes(
  gy: Arg, gx: Arg,
  hw: { first: Int32Array; count: Int32Array },
  ww: { first: Int32Array; count: Int32Array },
  div: Float64Array,
): void {
  const [N, C, H, W] = gx.shape;
  const oh = gy.shape[2];
  const ow = gy.shape[3];
  const [g0, g1, g2, g3] = gy.strides;
  const GY = gy.buf as FloatArray;
  const GX = gx.buf as FloatArray;
  const hFirst = hw.first, hCount = hw.count, wFirst = ww.first, wCount = ww.count;
  const plane = H * W;
  GX.fill(0, gx.offset, gx.offset + N * C * plane);
  let xb = gx.offset;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const gb = gy.offset + n * g0 + c * g1;
      for (let oy = 0; oy < oh; oy++) {
        const nh = hCount[oy];
        const rowBase = xb + hFirst[oy] * W;
        const dRow = oy * ow;
        let gi = gb + oy * g2;
        for (let ox = 0; ox < ow; ox++) {
          const nw = wCount[ox];
          const v = GY[gi] / div[dRow + ox];
          gi += g3;
          let xr = rowBase + wFirst[ox];
          for (let a = 0; a < nh; a++) {
            for (let b = 0; b < nw; b++) GX[xr + b] += v;
            xr += W;
          }
        }
      }
      xb += plane;
    }
  }
}

function avgPool2dBackward(ins: readonly Arg[], outs: readonly Arg[], at: AvgPool2dAttrs): void {
  const gy = ins[0];
  const gx = outs[0];
  const H = gx.shape[2];
  const W = gx.shape[3];
  const oh = gy.shape[2];
  const ow = gy.shape[3];
  const hw = clippedWindows(oh, H, at.kernelSize[0], at.stride[0], at.padding[0], 1);
  const ww = clippedWindows(ow, W, at.kernelSize[1], at.stride[1], at.padding[1], 1);
  const div = avgDivisors(H, W, oh, ow, at);
  poolSumBackwardPlanes(gy, gx, hw, ww, div);
}

function adaptiveAvgPool2dBackward(ins: readonly Arg[], outs: readonly Arg[]): void {
  const gy = ins[0];
  const gx = outs[0];
  const H = gx.shape[2];
  const W = gx.shape[3];
  const oh = gy.shape[2];
  const ow = gy.shape[3];
  const hw = adaptiveWindows(oh, H);
  const ww = adaptiveWindows(ow, W);
  const div = new Float64Array(oh * ow);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) div[oy * ow + ox] = hw.count[oy] * ww.count[ox];
  }
  poolSumBackwardPlanes(gy, gx, hw, ww, div);
}

export const poolKernels: Pick<
  KernelTable<TypedArray>,
  | 'maxPool2d'
  | 'maxPool2dBackward'
  | 'avgPool2d'
  | 'avgPool2dBackward'
  | 'adaptiveAvgPool2d'
  | 'adaptiveAvgPool2dBackward'
  | 'adaptiveMaxPool2d'
> = {
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward,
  adaptiveMaxPool2d,
};
