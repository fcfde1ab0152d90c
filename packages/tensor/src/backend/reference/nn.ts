/**
 * matmul, conv2d (+ gradients) and 2-d pooling, written straight from their
 * definitions as nested loops. Inputs are first read into row-major arrays
 * (readAll), so the loops index contiguous (N, C, H, W) data.
 */
import { numel } from '../../layout.js';
import type { Kernel, KernelAttrs } from '../types.js';
import { type Arg, readAll, writeAll } from './strided.js';

type RefKernel<K extends keyof KernelAttrs> = Kernel<KernelAttrs[K], Float64Array>;

/** Row-major position of (i0, i1, i2, i3) in a contiguous 4-d tensor of `shape`. */
function at4(shape: readonly number[], i0: number, i1: number, i2: number, i3: number): number {
  return ((i0 * shape[1] + i1) * shape[2] + i2) * shape[3] + i3;
}

/** ins [a (B, M, K), b (B, K, N)] (any strides, batch stride may be 0), outs [y (B, M, N)]: y = a @ b per batch. */
export const matmul: RefKernel<'matmul'> = (ins, outs) => {
  const [aArg, bArg] = ins;
  const yArg = outs[0];
  const [B, M, N] = yArg.shape;
  const K = aArg.shape[2];
  const a = readAll(aArg);
  const b = readAll(bArg);
  const y = new Float64Array(numel(yArg.shape));
  for (let bi = 0; bi < B; bi++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[(bi * M + m) * K + k] * b[(bi * K + k) * N + n];
        y[(bi * M + m) * N + n] = acc;
      }
    }
  }
  writeAll(yArg, y);
};

// ---- convolution --------------------------------------------------------------
//
// With x (N, C, H, W), w (O, C/groups, KH, KW), y (N, O, OH, OW): output channel o
// belongs to group g = floor(o / (O/groups)) and reads input channels
// g*(C/groups) .. (g+1)*(C/groups)-1. Output cell (oh, ow) reads, for kernel tap
// (kh, kw), the input cell
//   h = oh*strideH - padH + kh*dilationH,  w = ow*strideW - padW + kw*dilationW,
// which is zero padding when outside [0, H) x [0, W).

/** ins [x, w] or [x, w, bias], outs [y]. */
export const conv2d: RefKernel<'conv2d'> = (ins, outs, attrs) => {
  const [xArg, wArg, biasArg] = ins;
  const yArg = outs[0];
  const { stride, padding, dilation, groups } = attrs;
  const [, , H, W] = xArg.shape;
  const [O, Cg, KH, KW] = wArg.shape;
  const [N, , OH, OW] = yArg.shape;
  const Og = O / groups;
  const x = readAll(xArg);
  const w = readAll(wArg);
  const bias = biasArg === undefined ? undefined : readAll(biasArg);
  const y = new Float64Array(numel(yArg.shape));
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = bias === undefined ? 0 : bias[o];
          for (let ci = 0; ci < Cg; ci++) {
            for (let kh = 0; kh < KH; kh++) {
              for (let kw = 0; kw < KW; kw++) {
                const h = oh * stride[0] - padding[0] + kh * dilation[0];
                const ww = ow * stride[1] - padding[1] + kw * dilation[1];
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                acc += x[at4(xArg.shape, n, g * Cg + ci, h, ww)] * w[at4(wArg.shape, o, ci, kh, kw)];
              }
            }
          }
          y[at4(yArg.shape, n, o, oh, ow)] = acc;
        }
      }
    }
  }
  writeAll(yArg, y);
};

/**
 * ins [gradY, w], outs [gradX]:
 * gradX[n][c][h][w] = sum over o in c's group, kh, kw of gradY[n][o][oh][ow] * w[o][c - groupStart][kh][kw]
 * for the (oh, ow) whose window reads (h, w) through tap (kh, kw), if any.
 */
export const conv2dBackwardInput: RefKernel<'conv2dBackwardInput'> = (ins, outs, attrs) => {
  const [gyArg, wArg] = ins;
  const gxArg = outs[0];
  const { stride, padding, dilation, groups } = attrs;
  const [N, C, H, W] = gxArg.shape;
  const [O, Cg, KH, KW] = wArg.shape;
  const [, , OH, OW] = gyArg.shape;
  const Og = O / groups;
  const gy = readAll(gyArg);
  const w = readAll(wArg);
  const gx = new Float64Array(numel(gxArg.shape));
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      const ci = c - g * Cg;
      for (let h = 0; h < H; h++) {
        for (let ww = 0; ww < W; ww++) {
          let acc = 0;
          for (let o = g * Og; o < (g + 1) * Og; o++) {
            for (let kh = 0; kh < KH; kh++) {
              for (let kw = 0; kw < KW; kw++) {
                // Solve h = oh*stride - pad + kh*dilation for an integer oh in range.
                const ohTimesStride = h + padding[0] - kh * dilation[0];
                const owTimesStride = ww + padding[1] - kw * dilation[1];
                if (ohTimesStride % stride[0] !== 0 || owTimesStride % stride[1] !== 0) continue;
                const oh = ohTimesStride / stride[0];
                const ow = owTimesStride / stride[1];
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                acc += gy[at4(gyArg.shape, n, o, oh, ow)] * w[at4(wArg.shape, o, ci, kh, kw)];
              }
            }
          }
          gx[at4(gxArg.shape, n, c, h, ww)] = acc;
        }
      }
    }
  }
  writeAll(gxArg, gx);
};

/**
 * ins [gradY, x], outs [gradW]:
 * gradW[o][ci][kh][kw] = sum over n, oh, ow of gradY[n][o][oh][ow] * x[n][groupStart + ci][h][w]
 * with (h, w) the input cell that tap (kh, kw) of window (oh, ow) reads (zero if padding).
 */
export const conv2dBackwardWeight: RefKernel<'conv2dBackwardWeight'> = (ins, outs, attrs) => {
  const [gyArg, xArg] = ins;
  const gwArg = outs[0];
  const { stride, padding, dilation, groups } = attrs;
  const [N, , H, W] = xArg.shape;
  const [O, Cg, KH, KW] = gwArg.shape;
  const [, , OH, OW] = gyArg.shape;
  const Og = O / groups;
  const gy = readAll(gyArg);
  const x = readAll(xArg);
  const gw = new Float64Array(numel(gwArg.shape));
  for (let o = 0; o < O; o++) {
    const g = Math.floor(o / Og);
    for (let ci = 0; ci < Cg; ci++) {
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          let acc = 0;
          for (let n = 0; n < N; n++) {
            for (let oh = 0; oh < OH; oh++) {
              for (let ow = 0; ow < OW; ow++) {
                const h = oh * stride[0] - padding[0] + kh * dilation[0];
                const ww = ow * stride[1] - padding[1] + kw * dilation[1];
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                acc += gy[at4(gyArg.shape, n, o, oh, ow)] * x[at4(xArg.shape, n, g * Cg + ci, h, ww)];
              }
            }
          }
          gw[at4(gwArg.shape, o, ci, kh, kw)] = acc;
        }
      }
    }
  }
  writeAll(gwArg, gw);
};

// ---- pooling ------------------------------------------------------------------
//
// Pooling works on the last two dims; every leading dim is folded into a "plane"
// index p (for (N, C, H, W): p = n*C + c), planes being contiguous in readAll order.

interface Planes {
  readonly count: number;
  readonly H: number;
  readonly W: number;
}

function planesOf(arg: Arg): Planes {
  const s = arg.shape;
  return { count: numel(s.slice(0, -2)), H: s[s.length - 2], W: s[s.length - 1] };
}

/**
 * Max over a list of in-plane cells (index h*W + w) as PyTorch does it: the first
 * cell initialises, a later cell wins if strictly greater or NaN (so the first
 * maximum wins, and among NaNs the last one). Returns [value, index].
 */
function maxOfCells(plane: Float64Array, cells: readonly number[]): [number, number] {
  let best = -Infinity;
  let bestIndex = -1;
  for (const idx of cells) {
    const v = plane[idx];
    if (bestIndex < 0 || v > best || Number.isNaN(v)) {
      best = v;
      bestIndex = idx;
    }
  }
  return [best, bestIndex];
}

/** ins [x], outs [y, indices]; padding cells are -Infinity, i.e. never selected. */
export const maxPool2d: RefKernel<'maxPool2d'> = (ins, outs, attrs) => {
  const { kernelSize, stride, padding, dilation } = attrs;
  const [yArg, iArg] = outs;
  const { count, H, W } = planesOf(ins[0]);
  const { H: OH, W: OW } = planesOf(yArg);
  const x = readAll(ins[0]);
  const y = new Float64Array(count * OH * OW);
  const indices = new Float64Array(count * OH * OW);
  for (let p = 0; p < count; p++) {
    const plane = x.subarray(p * H * W, (p + 1) * H * W);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const cells: number[] = [];
        for (let kh = 0; kh < kernelSize[0]; kh++) {
          for (let kw = 0; kw < kernelSize[1]; kw++) {
            const h = oh * stride[0] - padding[0] + kh * dilation[0];
            const w = ow * stride[1] - padding[1] + kw * dilation[1];
            if (h >= 0 && h < H && w >= 0 && w < W) cells.push(h * W + w);
          }
        }
        const o = (p * OH + oh) * OW + ow;
        [y[o], indices[o]] = maxOfCells(plane, cells);
      }
    }
  }
  writeAll(yArg, y);
  writeAll(iArg, indices);
};

/** ins [gradY, indices], outs [gradX]: gradX[plane][indices[...]] += gradY[...]. */
export const maxPool2dBackward: RefKernel<'maxPool2dBackward'> = (ins, outs) => {
  const [gyArg, iArg] = ins;
  const gxArg = outs[0];
  const { count, H, W } = planesOf(gxArg);
  const { H: OH, W: OW } = planesOf(gyArg);
  const gy = readAll(gyArg);
  const indices = readAll(iArg);
  const gx = new Float64Array(numel(gxArg.shape));
  for (let p = 0; p < count; p++) {
    for (let o = p * OH * OW; o < (p + 1) * OH * OW; o++) gx[p * H * W + indices[o]] += gy[o];
  }
  writeAll(gxArg, gx);
};

/**
 * The window of avg-pool output cell (oh, ow) and its divisor. The window
 * [hstart, hend) is first clipped to the padded input (hend <= H + pad), which
 * gives the countIncludePad size, then to the real input.
 */
function avgWindow(
  attrs: KernelAttrs['avgPool2d'],
  H: number,
  W: number,
  oh: number,
  ow: number,
): { h0: number; h1: number; w0: number; w1: number; divisor: number } {
  const { kernelSize, stride, padding, countIncludePad, divisorOverride } = attrs;
  let h0 = oh * stride[0] - padding[0];
  let w0 = ow * stride[1] - padding[1];
  let h1 = Math.min(h0 + kernelSize[0], H + padding[0]);
  let w1 = Math.min(w0 + kernelSize[1], W + padding[1]);
  const paddedSize = (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0);
  w0 = Math.max(w0, 0);
  h1 = Math.min(h1, H);
  w1 = Math.min(w1, W);
  const realSize = (h1 - h0) * (w1 - w0);
  const divisor = divisorOverride ?? (countIncludePad ? paddedSize : realSize);
  return { h0, h1, w0, w1, divisor };
}

/** ins [x], outs [y]: y = (sum of the real cells of the window) / divisor. */
export const avgPool2d: RefKernel<'avgPool2d'> = (ins, outs, attrs) => {
  const yArg = outs[0];
  const { count, H, W } = planesOf(ins[0]);
  const { H: OH, W: OW } = planesOf(yArg);
  const x = readAll(ins[0]);
  const y = new Float64Array(count * OH * OW);
  for (let p = 0; p < count; p++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const { h0, h1, w0, w1, divisor } = avgWindow(attrs, H, W, oh, ow);
        let acc = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) acc += x[(p * H + h) * W + w];
        y[(p * OH + oh) * OW + ow] = acc / divisor;
      }
    }
  }
  writeAll(yArg, y);
};

/** ins [gradY], outs [gradX]: each real cell of a window gets gradY / divisor. */
export const avgPool2dBackward: RefKernel<'avgPool2dBackward'> = (ins, outs, attrs) => {
  const gxArg = outs[0];
  const { count, H, W } = planesOf(gxArg);
  const { H: OH, W: OW } = planesOf(ins[0]);
  const gy = readAll(ins[0]);
  const gx = new Float64Array(numel(gxArg.shape));
  for (let p = 0; p < count; p++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const { h0, h1, w0, w1, divisor } = avgWindow(attrs, H, W, oh, ow);
        const g = gy[(p * OH + oh) * OW + ow] / divisor;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) gx[(p * H + h) * W + w] += g;
      }
    }
  }
  writeAll(gxArg, gx);
};

/** Adaptive window i of `outSize` over `inSize`: [floor(i*in/out), ceil((i+1)*in/out)). */
function adaptiveRange(i: number, inSize: number, outSize: number): [number, number] {
  return [Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)];
}

/** ins [x], outs [y]: the mean of each adaptive window. */
export const adaptiveAvgPool2d: RefKernel<'adaptiveAvgPool2d'> = (ins, outs) => {
  const yArg = outs[0];
  const { count, H, W } = planesOf(ins[0]);
  const { H: OH, W: OW } = planesOf(yArg);
  const x = readAll(ins[0]);
  const y = new Float64Array(count * OH * OW);
  for (let p = 0; p < count; p++) {
    for (let oh = 0; oh < OH; oh++) {
      const [h0, h1] = adaptiveRange(oh, H, OH);
      for (let ow = 0; ow < OW; ow++) {
        const [w0, w1] = adaptiveRange(ow, W, OW);
        let acc = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) acc += x[(p * H + h) * W + w];
        y[(p * OH + oh) * OW + ow] = acc / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  writeAll(yArg, y);
};

/** ins [gradY], outs [gradX]: each cell of a window gets gradY / (window size). */
export const adaptiveAvgPool2dBackward: RefKernel<'adaptiveAvgPool2dBackward'> = (ins, outs) => {
  const gxArg = outs[0];
  const { count, H, W } = planesOf(gxArg);
  const { H: OH, W: OW } = planesOf(ins[0]);
  const gy = readAll(ins[0]);
  const gx = new Float64Array(numel(gxArg.shape));
  for (let p = 0; p < count; p++) {
    for (let oh = 0; oh < OH; oh++) {
      const [h0, h1] = adaptiveRange(oh, H, OH);
      for (let ow = 0; ow < OW; ow++) {
        const [w0, w1] = adaptiveRange(ow, W, OW);
        const g = gy[(p * OH + oh) * OW + ow] / ((h1 - h0) * (w1 - w0));
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) gx[(p * H + h) * W + w] += g;
      }
    }
  }
  writeAll(gxArg, gx);
};

/** ins [x], outs [y, indices]: the max of each adaptive window (same NaN rule as maxPool2d). */
export const adaptiveMaxPool2d: RefKernel<'adaptiveMaxPool2d'> = (ins, outs) => {
  const [yArg, iArg] = outs;
  const { count, H, W } = planesOf(ins[0]);
  const { H: OH, W: OW } = planesOf(yArg);
  const x = readAll(ins[0]);
  const y = new Float64Array(count * OH * OW);
  const indices = new Float64Array(count * OH * OW);
  for (let p = 0; p < count; p++) {
    const plane = x.subarray(p * H * W, (p + 1) * H * W);
    for (let oh = 0; oh < OH; oh++) {
      const [h0, h1] = adaptiveRange(oh, H, OH);
      for (let ow = 0; ow < OW; ow++) {
        const [w0, w1] = adaptiveRange(ow, W, OW);
        const cells: number[] = [];
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) cells.push(h * W + w);
        const o = (p * OH + oh) * OW + ow;
        [y[o], indices[o]] = maxOfCells(plane, cells);
      }
    }
  }
  writeAll(yArg, y);
  writeAll(iArg, indices);
};
