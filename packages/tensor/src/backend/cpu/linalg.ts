/**
 * matmul and 2-D convolution (forward and both gradients) for the TypeScript
 * CPU backend, all reduced to the blocked GEMM of ./gemm.ts.
 *
 * - matmul: batched; every operand is addressed through its strides, so
 *   transposed or otherwise strided inner 2-D views feed the GEMM packing
 *   directly (the packing is the copy). Batch dims with stride 0 are fine; when
 *   b is shared by the whole batch and a's batch folds into its rows, the batch
 *   becomes one tall GEMM.
 * - conv2d: per image and group, im2col written straight into the GEMM's packed
 *   B layout (packGather: two offset tables, so no per-element index
 *   arithmetic or bounds tests; padded inputs are first copied into a small
 *   zero-bordered image), then GEMM with the weight as A. The bias is written
 *   into the output first and the GEMM accumulates onto it (beta = 1).
 *   1x1, stride-1, unpadded convolutions skip im2col.
 * - conv2dBackwardInput: GEMM of w^T with gradY into a column buffer, then
 *   col2im accumulating into a double image buffer.
 * - conv2dBackwardWeight: GEMM of gradY with im2col(x)^T (packed the same way),
 *   accumulated over the batch in a double buffer.
 * Inputs may be strided (read through their strides); a weight or gradient
 * whose trailing dims do not fold into one matrix dim is copied first.
 * Scratch buffers are module-level and reused across calls.
 */
import type { TypedArray } from '../../dtype.js';
import { forEachBatch, matmulBatch } from '../matmul-batch.js';
import type { Conv2dAttrs, KernelTable, TensorArg } from '../types.js';
import { type FloatArray, PANEL_WIDTH, gemmPackedB, gemmStrided, packedBSize } from './gemm.js';

type Arg = TensorArg<TypedArray>;

// ---------------------------------------------------------------- scratch

let colScratch = new Float64Array(0);
let imgScratch = new Float64Array(0);
let accScratch = new Float64Array(0);
let wScratch = new Float64Array(0);
let gScratch = new Float64Array(0);
let padScratch = new Float64Array(0);

function colBuf(n: number): Float64Array {
  if (colScratch.length < n) colScratch = new Float64Array(n);
  return colScratch;
}
function imgBuf(n: number): Float64Array {
  if (imgScratch.length < n) imgScratch = new Float64Array(n);
  return imgScratch;
}
function accBuf(n: number): Float64Array {
  if (accScratch.length < n) accScratch = new Float64Array(n);
  return accScratch;
}
function wBuf(n: number): Float64Array {
  if (wScratch.length < n) wScratch = new Float64Array(n);
  return wScratch;
}
function padBuf(n: number): Float64Array {
  if (padScratch.length < n) padScratch = new Float64Array(n);
  return padScratch;
}
function gBuf(n: number): Float64Array {
  if (gScratch.length < n) gScratch = new Float64Array(n);
  return gScratch;
}

/** Large scratch buffers are released after use so one huge call does not pin memory forever. */
const KEEP_LIMIT = 1 << 22; // elements (32 MiB of doubles)
function trimScratch(): void {
  if (colScratch.length > KEEP_LIMIT) colScratch = new Float64Array(0);
  if (imgScratch.length > KEEP_LIMIT) imgScratch = new Float64Array(0);
  if (accScratch.length > KEEP_LIMIT) accScratch = new Float64Array(0);
  if (wScratch.length > KEEP_LIMIT) wScratch = new Float64Array(0);
  if (gScratch.length > KEEP_LIMIT) gScratch = new Float64Array(0);
  if (padScratch.length > KEEP_LIMIT) padScratch = new Float64Array(0);
}

// ---------------------------------------------------------------- matmul

function matmul(ins: readonly Arg[], outs: readonly Arg[]): void {
  const a = ins[0];
  const b = ins[1];
  const y = outs[0];
  const A = a.buf as FloatArray;
  const B = b.buf as FloatArray;
  const Y = y.buf as FloatArray;
  // Batch dims merged, or folded into one tall GEMM's rows; one GEMM per remaining batch index.
  const g = matmulBatch(a, b, y);
  forEachBatch(g, g.size.length, a.offset, b.offset, y.offset, (oa, ob, oy) => {
    gemmStrided(g.rows, g.N, g.K, 1, A, oa, g.rsA, g.csA, B, ob, g.rsB, g.csB, 0, Y, oy, g.rsY, g.csY);
  });
}

// ---------------------------------------------------------------- im2col / col2im

interface ConvGeom {
  N: number; C: number; H: number; W: number;
  O: number; G: number; Cg: number; Og: number;
  kh: number; kw: number; oh: number; ow: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  /** Cg * kh * kw: the GEMM's reduction length. */
  Kd: number;
  /** oh * ow. */
  P: number;
}

function geometry(xShape: readonly number[], wShape: readonly number[], yShape: readonly number[], at: Conv2dAttrs): ConvGeom {
  const [N, C, H, W] = xShape;
  const [O, Cg, kh, kw] = wShape;
  const oh = yShape[2];
  const ow = yShape[3];
  const G = at.groups;
  return {
    N, C, H, W, O, G, Cg, Og: O / G, kh, kw, oh, ow,
    sh: at.stride[0], sw: at.stride[1], ph: at.padding[0], pw: at.padding[1],
    dh: at.dilation[0], dw: at.dilation[1],
    Kd: Cg * kh * kw, P: oh * ow,
  };
}

/** First output column whose input column ox*s + off is >= 0. */
function firstValid(off: number, s: number, n: number): number {
  if (off >= 0) return 0;
  return Math.min(n, Math.floor((-off + s - 1) / s));
}

/** One past the last output column whose input column ox*s + off is < size. */
function endValid(off: number, s: number, size: number, n: number): number {
  if (size - 1 - off < 0) return 0;
  return Math.min(n, Math.floor((size - 1 - off) / s) + 1);
}

/**
 * im2col as two table lookups: col[k][q] (k = (c*kh + i)*kw + j, q = oy*ow + ox)
 * is src[base + kOff[k] + qOff[q]], where src is the image itself, read through
 * its strides, when there is no padding, else a zero-padded contiguous copy
 * (Cg, Hp, Wp) of it (see padImage).
 */
interface ColIndex {
  kOff: Int32Array;
  qOff: Int32Array;
  padded: boolean;
  Hp: number;
  Wp: number;
}

function colIndex(g: ConvGeom, sC: number, sH: number, sW: number): ColIndex {
  const { Cg, kh, kw, oh, ow, sh, sw, dh, dw, ph, pw } = g;
  const padded = ph > 0 || pw > 0;
  const Hp = g.H + 2 * ph;
  const Wp = g.W + 2 * pw;
  if (padded) {
    sC = Hp * Wp;
    sH = Wp;
    sW = 1;
  }
  const kOff = new Int32Array(Cg * kh * kw);
  let k = 0;
  for (let c = 0; c < Cg; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) kOff[k++] = c * sC + i * dh * sH + j * dw * sW;
    }
  }
  const qOff = new Int32Array(oh * ow);
  let q = 0;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) qOff[q++] = oy * sh * sH + ox * sw * sW;
  }
  return { kOff, qOff, padded, Hp, Wp };
}

/** Zero-padded contiguous copy (Cg, Hp, Wp) of Cg channels of x starting at xBase. */
function padImage(
  X: FloatArray, xBase: number, sC: number, sH: number, sW: number,
  g: ConvGeom, ci: ColIndex, dst: Float64Array,
): void {
  const { Cg, H, W, ph, pw } = g;
  const { Hp, Wp } = ci;
  dst.fill(0, 0, Cg * Hp * Wp);
  for (let c = 0; c < Cg; c++) {
    for (let h = 0; h < H; h++) {
      let xi = xBase + c * sC + h * sH;
      const o = (c * Hp + h + ph) * Wp + pw;
      for (let w = 0; w < W; w++) {
        dst[o + w] = X[xi];
        xi += sW;
      }
    }
  }
}

if (PANEL_WIDTH !== 4) throw new Error('packGather is written for GEMM panels of width 4');

/**
 * Packs the K x N matrix B[p][j] = src[base + rowOff[p] + colOff[j]] into the
 * whole-K panels `gemmPackedB` reads. Writes are sequential; the gathered reads
 * come from one image (cache-resident).
 */
function packGather(
  src: FloatArray, base: number, rowOff: Int32Array, colOff: Int32Array, dst: Float64Array,
): void {
  const K = rowOff.length;
  const N = colOff.length;
  let o = 0;
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    const c0 = base + colOff[j];
    const c1 = base + colOff[j + 1];
    const c2 = base + colOff[j + 2];
    const c3 = base + colOff[j + 3];
    for (let p = 0; p < K; p++) {
      const r = rowOff[p];
      dst[o] = src[r + c0];
      dst[o + 1] = src[r + c1];
      dst[o + 2] = src[r + c2];
      dst[o + 3] = src[r + c3];
      o += 4;
    }
  }
  if (j < N) {
    const n = N - j;
    for (let p = 0; p < K; p++) {
      const r = base + rowOff[p];
      let jj = 0;
      for (; jj < n; jj++) dst[o + jj] = src[r + colOff[j + jj]];
      for (; jj < 4; jj++) dst[o + jj] = 0;
      o += 4;
    }
  }
}

/** The adjoint of im2col: img[c][h][w] += col[...] for Cg contiguous (H, W) planes of img. */
function col2im(col: Float64Array, g: ConvGeom, img: Float64Array, imgOff: number): void {
  const { Cg, H, W, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw } = g;
  const plane = H * W;
  let r = 0;
  for (let c = 0; c < Cg; c++) {
    const ic = imgOff + c * plane;
    for (let i = 0; i < kh; i++) {
      const hOff = i * dh - ph;
      for (let j = 0; j < kw; j++) {
        const wOff = j * dw - pw;
        const lo = firstValid(wOff, sw, ow);
        const hi = Math.max(lo, endValid(wOff, sw, W, ow));
        let o = r;
        for (let oy = 0; oy < oh; oy++) {
          const h = oy * sh + hOff;
          if (h >= 0 && h < H) {
            let xi = ic + h * W + lo * sw + wOff;
            if (sw === 1) {
              const d = xi - lo;
              for (let ox = lo; ox < hi; ox++) img[d + ox] += col[o + ox];
            } else {
              for (let ox = lo; ox < hi; ox++) {
                img[xi] += col[o + ox];
                xi += sw;
              }
            }
          }
          o += ow;
        }
        r += oh * ow;
      }
    }
  }
}

/**
 * The stride with which dims `from`..3 of a 4-D layout fold into one dim (size-1
 * dims ignored), or undefined when they do not fold.
 */
function foldedStride(strides: readonly number[], shape: readonly number[], from: number): number | undefined {
  let cs = 1;
  let expect = -1;
  for (let d = 3; d >= from; d--) {
    if (shape[d] === 1) continue;
    if (expect === -1) {
      cs = strides[d];
      expect = cs * shape[d];
    } else {
      if (strides[d] !== expect) return undefined;
      expect *= shape[d];
    }
  }
  return cs;
}

/**
 * The weight (O, Cg, kh, kw) as an (O, Kd) matrix: buffer, offset, row stride and
 * column stride; copied into a contiguous scratch when its last three dims do
 * not fold into one.
 */
function weightMatrix(w: Arg, g: ConvGeom): { buf: FloatArray; off: number; rs: number; cs: number } {
  const [s0, s1, s2, s3] = w.strides;
  const cs = foldedStride(w.strides, w.shape, 1);
  if (cs !== undefined) return { buf: w.buf as FloatArray, off: w.offset, rs: s0, cs };
  const { kh, kw, Cg, O, Kd } = g;
  const m = wBuf(O * Kd);
  const W = w.buf as FloatArray;
  let q = 0;
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < Cg; c++) {
      for (let i = 0; i < kh; i++) {
        let wi = w.offset + o * s0 + c * s1 + i * s2;
        for (let j = 0; j < kw; j++) {
          m[q++] = W[wi];
          wi += s3;
        }
      }
    }
  }
  return { buf: m, off: 0, rs: Kd, cs: 1 };
}

/**
 * gradY (N, O, oh, ow) with (oh, ow) folded into one pixel dim: buffer, offset,
 * batch, channel and pixel strides; copied to contiguous doubles if needed.
 */
function pixelMatrix(t: Arg): { buf: FloatArray; off: number; sN: number; sC: number; sP: number } {
  const [n, c, h, w] = t.shape;
  const [s0, s1, s2, s3] = t.strides;
  const sP = foldedStride(t.strides, t.shape, 2);
  if (sP !== undefined) return { buf: t.buf as FloatArray, off: t.offset, sN: s0, sC: s1, sP };
  const m = gBuf(n * c * h * w);
  const T = t.buf as FloatArray;
  let q = 0;
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < c; b++) {
      for (let i = 0; i < h; i++) {
        let ti = t.offset + a * s0 + b * s1 + i * s2;
        for (let j = 0; j < w; j++) {
          m[q++] = T[ti];
          ti += s3;
        }
      }
    }
  }
  return { buf: m, off: 0, sN: c * h * w, sC: h * w, sP: 1 };
}

function isPointwise(g: ConvGeom): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0 && g.oh === g.H && g.ow === g.W;
}

// ---------------------------------------------------------------- conv2d

function conv2d(ins: readonly Arg[], outs: readonly Arg[], at: Conv2dAttrs): void {
  const x = ins[0];
  const w = ins[1];
  const bias = ins.length > 2 ? ins[2] : undefined;
  const y = outs[0];
  const g = geometry(x.shape, w.shape, y.shape, at);
  const { N, O, G, Cg, Og, Kd, P } = g;
  const Y = y.buf as FloatArray;
  if (N * O * P === 0) return;
  const [xs0, xs1, xs2, xs3] = x.strides;
  const X = x.buf as FloatArray;
  const wm = weightMatrix(w, g);
  const xsP = foldedStride(x.strides, x.shape, 2);
  const direct = isPointwise(g) && xsP !== undefined;
  const col = colBuf(direct ? 0 : packedBSize(Kd, P));
  const ci = colIndex(g, xs1, xs2, xs3);
  const pad = padBuf(ci.padded ? Cg * ci.Hp * ci.Wp : 0);
  for (let n = 0; n < N; n++) {
    const yImg = y.offset + n * O * P;
    if (bias !== undefined) {
      const Bs = bias.buf as FloatArray;
      for (let o = 0; o < O; o++) {
        const v = Bs[bias.offset + o * bias.strides[0]];
        Y.fill(v, yImg + o * P, yImg + (o + 1) * P);
      }
    }
    const beta = bias !== undefined ? 1 : 0;
    for (let gi = 0; gi < G; gi++) {
      const xBase = x.offset + n * xs0 + gi * Cg * xs1;
      const aOff = wm.off + gi * Og * wm.rs;
      const cOff = yImg + gi * Og * P;
      if (direct && xsP !== undefined) {
        gemmStrided(Og, P, Kd, 1, wm.buf, aOff, wm.rs, wm.cs, X, xBase, xs1, xsP, beta, Y, cOff, P, 1);
      } else {
        if (ci.padded) {
          padImage(X, xBase, xs1, xs2, xs3, g, ci, pad);
          packGather(pad, 0, ci.kOff, ci.qOff, col);
        } else {
          packGather(X, xBase, ci.kOff, ci.qOff, col);
        }
        gemmPackedB(Og, P, Kd, 1, wm.buf, aOff, wm.rs, wm.cs, col, beta, Y, cOff, P, 1);
      }
    }
  }
  trimScratch();
}

function conv2dBackwardInput(ins: readonly Arg[], outs: readonly Arg[], at: Conv2dAttrs): void {
  const gy = ins[0];
  const w = ins[1];
  const gx = outs[0];
  const g = geometry(gx.shape, w.shape, gy.shape, at);
  const { N, C, H, W, G, Cg, Og, Kd, P } = g;
  const GX = gx.buf as FloatArray;
  const imgSize = C * H * W;
  if (N * imgSize === 0) return;
  if (Kd * P === 0 || g.O === 0) {
    GX.fill(0, gx.offset, gx.offset + N * imgSize);
    return;
  }
  const wm = weightMatrix(w, g);
  const gm = pixelMatrix(gy);
  if (isPointwise(g)) {
    // col IS the gradient image: write it with one GEMM per image and group.
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < G; gi++) {
        gemmStrided(
          Kd, P, Og, 1,
          wm.buf, wm.off + gi * Og * wm.rs, wm.cs, wm.rs,
          gm.buf, gm.off + n * gm.sN + gi * Og * gm.sC, gm.sC, gm.sP,
          0, GX, gx.offset + n * imgSize + gi * Cg * H * W, P, 1,
        );
      }
    }
    trimScratch();
    return;
  }
  const col = colBuf(Kd * P);
  const img = imgBuf(imgSize);
  for (let n = 0; n < N; n++) {
    img.fill(0, 0, imgSize);
    for (let gi = 0; gi < G; gi++) {
      // col (Kd x P) = w_g^T (Kd x Og) @ gradY[n, g] (Og x P)
      gemmStrided(
        Kd, P, Og, 1,
        wm.buf, wm.off + gi * Og * wm.rs, wm.cs, wm.rs,
        gm.buf, gm.off + n * gm.sN + gi * Og * gm.sC, gm.sC, gm.sP,
        0, col, 0, P, 1,
      );
      col2im(col, g, img, gi * Cg * H * W);
    }
    const base = gx.offset + n * imgSize;
    for (let q = 0; q < imgSize; q++) GX[base + q] = img[q];
  }
  trimScratch();
}

function conv2dBackwardWeight(ins: readonly Arg[], outs: readonly Arg[], at: Conv2dAttrs): void {
  const gy = ins[0];
  const x = ins[1];
  const gw = outs[0];
  const g = geometry(x.shape, gw.shape, gy.shape, at);
  const { N, O, G, Cg, Og, Kd, P } = g;
  const GW = gw.buf as FloatArray;
  const total = O * Kd;
  if (total === 0) return;
  if (N * P === 0) {
    GW.fill(0, gw.offset, gw.offset + total);
    return;
  }
  const X = x.buf as FloatArray;
  const [xs0, xs1, xs2, xs3] = x.strides;
  const gm = pixelMatrix(gy);
  const acc = accBuf(total);
  const xsP = foldedStride(x.strides, x.shape, 2);
  const direct = isPointwise(g) && xsP !== undefined;
  const col = colBuf(direct ? 0 : packedBSize(P, Kd));
  const ci = colIndex(g, xs1, xs2, xs3);
  const pad = padBuf(ci.padded ? Cg * ci.Hp * ci.Wp : 0);
  for (let n = 0; n < N; n++) {
    const beta = n === 0 ? 0 : 1;
    for (let gi = 0; gi < G; gi++) {
      const xBase = x.offset + n * xs0 + gi * Cg * xs1;
      const aOff = gm.off + n * gm.sN + gi * Og * gm.sC;
      const cOff = gi * Og * Kd;
      // gradW_g (Og x Kd) += gradY[n, g] (Og x P) @ col^T (P x Kd)
      if (direct && xsP !== undefined) {
        gemmStrided(Og, Kd, P, 1, gm.buf, aOff, gm.sC, gm.sP, X, xBase, xsP, xs1, beta, acc, cOff, Kd, 1);
      } else {
        if (ci.padded) {
          padImage(X, xBase, xs1, xs2, xs3, g, ci, pad);
          packGather(pad, 0, ci.qOff, ci.kOff, col);
        } else {
          packGather(X, xBase, ci.qOff, ci.kOff, col);
        }
        gemmPackedB(Og, Kd, P, 1, gm.buf, aOff, gm.sC, gm.sP, col, beta, acc, cOff, Kd, 1);
      }
    }
  }
  for (let q = 0; q < total; q++) GW[gw.offset + q] = acc[q];
  trimScratch();
}

export const linalgKernels: Pick<
  KernelTable<TypedArray>,
  'matmul' | 'conv2d' | 'conv2dBackwardInput' | 'conv2dBackwardWeight'
> = {
  matmul,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
};
