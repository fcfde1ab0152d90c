/**
 * Blocked GEMM over Float32Array / Float64Array for the TypeScript CPU backend.
 *
 *   C = alpha * op(A) @ op(B) + beta * C
 *
 * Design (Goto/BLIS style, scalar JavaScript):
 *  - loops: jc over N in NC columns, pc over K in KC, pack a KC x NC block of B
 *    into NR-wide column panels; ic over M in MC rows, pack an MC x KC block of A
 *    into MR-tall row panels; then a register-tiled 4 x 4 micro-kernel whose 16
 *    accumulators are local doubles (a 2 x 4 variant serves row edges of 1-2
 *    rows, so e.g. M = 6 wastes nothing).
 *  - packed buffers are Float64Array scratch cached at module level (grown, never
 *    allocated per call once large enough), so the micro-kernel only ever sees
 *    Float64Array operands (monomorphic) whatever the dtype of A, B and C.
 *  - edge panels are zero-padded in the packed buffers so the micro-kernel always
 *    runs over a full panel; only the valid part of a tile is written back.
 *  - every operand is addressed by (offset, row stride, column stride), so any
 *    2-D strided view works, transposed or broadcast (stride 0) ones included,
 *    without a prior copy (the packing IS the copy).
 *  - `gemmPackedB` takes B already packed (im2col writes that layout directly).
 *  - M === 1 or N === 1 go to a GEMV, tiny products to a plain triple loop.
 *  - accumulation is in doubles within a KC block; for K > KC the partial sums
 *    are combined in C (so a Float32Array C rounds once per KC = 256 terms).
 *
 * Measured in V8 (Node 20, one core): about 5 GFLOP/s from 256^3 to 1024^3,
 * float32 or float64 alike; the scalar loop is bound by instruction count
 * (every typed-array load carries a bounds check), not by memory.
 */

export type FloatArray = Float32Array | Float64Array;

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 128;
const NC = 2048;

let packA = new Float64Array(MC * KC);
let packB = new Float64Array(0);
let gemvAcc = new Float64Array(0);
const tile = new Float64Array(MR * NR);

function scratchB(n: number): Float64Array {
  if (packB.length < n) packB = new Float64Array(n);
  return packB;
}

function scratchA(n: number): Float64Array {
  if (packA.length < n) packA = new Float64Array(n);
  return packA;
}

/**
 * BLAS-style entry point on row-major storage.
 * op(A) is M x K: A[aOff + i*lda + p] (transA false) or A[aOff + p*lda + i] (transA true).
 * op(B) is K x N: B[bOff + p*ldb + j] (transB false) or B[bOff + j*ldb + p] (transB true).
 * C is M x N row-major: C[cOff + i*ldc + j].
 * beta === 0 overwrites C without reading it.
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOff: number,
  lda: number,
  B: FloatArray,
  bOff: number,
  ldb: number,
  beta: number,
  C: FloatArray,
  cOff: number,
  ldc: number,
): void {
  gemmStrided(
    M, N, K, alpha,
    A, aOff, transA ? 1 : lda, transA ? lda : 1,
    B, bOff, transB ? 1 : ldb, transB ? ldb : 1,
    beta,
    C, cOff, ldc, 1,
  );
}

/**
 * General strided GEMM: op(A)[i][p] = A[aOff + i*rsA + p*csA],
 * op(B)[p][j] = B[bOff + p*rsB + j*csB], C[i][j] = C[cOff + i*rsC + j*csC].
 * Strides may be anything (0 included, for broadcast operands) except that C
 * must not alias A or B.
 */
export function gemmStrided(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOff: number,
  rsA: number,
  csA: number,
  B: FloatArray,
  bOff: number,
  rsB: number,
  csB: number,
  beta: number,
  C: FloatArray,
  cOff: number,
  rsC: number,
  csC: number,
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scaleC(M, N, beta, C, cOff, rsC, csC);
    return;
  }
  if (N === 1) {
    gemv(M, K, alpha, A, aOff, rsA, csA, B, bOff, rsB, beta, C, cOff, rsC);
    return;
  }
  if (M === 1) {
    // C^T (N x 1) = op(B)^T (N x K) @ op(A)^T (K x 1).
    gemv(N, K, alpha, B, bOff, csB, rsB, A, aOff, csA, beta, C, cOff, csC);
    return;
  }
  if (M * N * K <= 2048) {
    smallGemm(M, N, K, alpha, A, aOff, rsA, csA, B, bOff, rsB, csB, beta, C, cOff, rsC, csC);
    return;
  }
  blocked(M, N, K, alpha, A, aOff, rsA, csA, B, bOff, rsB, csB, null, beta, C, cOff, rsC, csC);
}

/** Size (in elements) of the buffer `gemmPackedB` expects for a K x N operand B. */
export function packedBSize(K: number, N: number): number {
  return Math.ceil(N / NR) * NR * K;
}

/** Width of the column panels of a packed B (see `gemmPackedB`). */
export const PANEL_WIDTH = NR;

/**
 * GEMM with B (K x N) already packed by the caller into column panels of width
 * PANEL_WIDTH: B[p][j] = pb[floor(j / PANEL_WIDTH) * K * PANEL_WIDTH + p * PANEL_WIDTH + j % PANEL_WIDTH],
 * the columns past N of the last panel being zeros. Lets a producer (im2col)
 * write its output straight into the layout the micro-kernel reads.
 */
export function gemmPackedB(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOff: number,
  rsA: number,
  csA: number,
  pb: Float64Array,
  beta: number,
  C: FloatArray,
  cOff: number,
  rsC: number,
  csC: number,
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scaleC(M, N, beta, C, cOff, rsC, csC);
    return;
  }
  blocked(M, N, K, alpha, A, aOff, rsA, csA, pb, 0, 0, 0, pb, beta, C, cOff, rsC, csC);
}

/** The blocked algorithm; `prepacked` (or null) is B already in whole-K panels. */
function blocked(
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: FloatArray,
  aOff: number,
  rsA: number,
  csA: number,
  B: FloatArray,
  bOff: number,
  rsB: number,
  csB: number,
  prepacked: Float64Array | null,
  beta: number,
  C: FloatArray,
  cOff: number,
  rsC: number,
  csC: number,
): void {
  const ct = tile;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    const ncPad = Math.ceil(nc / NR) * NR;
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      let pb: Float64Array;
      if (prepacked === null) {
        pb = scratchB(ncPad * kc);
        packPanelsB(B, bOff + pc * rsB + jc * csB, rsB, csB, nc, kc, pb);
      } else {
        pb = prepacked;
      }
      // Micro-panel jr of this block starts at pb[ib0]; panels are kc (scratch) or K (prepacked) tall.
      const panelBase = prepacked === null ? 0 : jc * K + pc * NR;
      const panelStride = prepacked === null ? kc * NR : K * NR;
      const bet = pc === 0 ? beta : 1;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        const mcPad = Math.ceil(mc / MR) * MR;
        const pa = scratchA(mcPad * kc);
        packPanelsA(A, aOff + ic * rsA + pc * csA, rsA, csA, mc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          const ib0 = panelBase + (jr / NR) * panelStride;
          const cCol = cOff + (jc + jr) * csC;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = Math.min(MR, mc - ir);
            let ia = ir * kc;
            let ib = ib0;
            const cIdx = cCol + (ic + ir) * rsC;
            if (mr > 2) {
              // ---- micro-kernel: 4 x 4 tile, accumulators in locals.
              let c00 = 0.0, c01 = 0.0, c02 = 0.0, c03 = 0.0;
              let c10 = 0.0, c11 = 0.0, c12 = 0.0, c13 = 0.0;
              let c20 = 0.0, c21 = 0.0, c22 = 0.0, c23 = 0.0;
              let c30 = 0.0, c31 = 0.0, c32 = 0.0, c33 = 0.0;
              for (let p = 0; p < kc; p++) {
                const a0 = pa[ia], a1 = pa[ia + 1], a2 = pa[ia + 2], a3 = pa[ia + 3];
                const b0 = pb[ib], b1 = pb[ib + 1], b2 = pb[ib + 2], b3 = pb[ib + 3];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
                ia += MR;
                ib += NR;
              }
              if (mr === MR && nr === NR) {
                const r0 = cIdx, r1 = r0 + rsC, r2 = r1 + rsC, r3 = r2 + rsC;
                if (bet === 0) {
                  C[r0] = alpha * c00;
                  C[r0 + csC] = alpha * c01;
                  C[r0 + 2 * csC] = alpha * c02;
                  C[r0 + 3 * csC] = alpha * c03;
                  C[r1] = alpha * c10;
                  C[r1 + csC] = alpha * c11;
                  C[r1 + 2 * csC] = alpha * c12;
                  C[r1 + 3 * csC] = alpha * c13;
                  C[r2] = alpha * c20;
                  C[r2 + csC] = alpha * c21;
                  C[r2 + 2 * csC] = alpha * c22;
                  C[r2 + 3 * csC] = alpha * c23;
                  C[r3] = alpha * c30;
                  C[r3 + csC] = alpha * c31;
                  C[r3 + 2 * csC] = alpha * c32;
                  C[r3 + 3 * csC] = alpha * c33;
                } else {
                  C[r0] = alpha * c00 + bet * C[r0];
                  C[r0 + csC] = alpha * c01 + bet * C[r0 + csC];
                  C[r0 + 2 * csC] = alpha * c02 + bet * C[r0 + 2 * csC];
                  C[r0 + 3 * csC] = alpha * c03 + bet * C[r0 + 3 * csC];
                  C[r1] = alpha * c10 + bet * C[r1];
                  C[r1 + csC] = alpha * c11 + bet * C[r1 + csC];
                  C[r1 + 2 * csC] = alpha * c12 + bet * C[r1 + 2 * csC];
                  C[r1 + 3 * csC] = alpha * c13 + bet * C[r1 + 3 * csC];
                  C[r2] = alpha * c20 + bet * C[r2];
                  C[r2 + csC] = alpha * c21 + bet * C[r2 + csC];
                  C[r2 + 2 * csC] = alpha * c22 + bet * C[r2 + 2 * csC];
                  C[r2 + 3 * csC] = alpha * c23 + bet * C[r2 + 3 * csC];
                  C[r3] = alpha * c30 + bet * C[r3];
                  C[r3 + csC] = alpha * c31 + bet * C[r3 + csC];
                  C[r3 + 2 * csC] = alpha * c32 + bet * C[r3 + 2 * csC];
                  C[r3 + 3 * csC] = alpha * c33 + bet * C[r3 + 3 * csC];
                }
                continue;
              }
              ct[0] = c00; ct[1] = c01; ct[2] = c02; ct[3] = c03;
              ct[4] = c10; ct[5] = c11; ct[6] = c12; ct[7] = c13;
              ct[8] = c20; ct[9] = c21; ct[10] = c22; ct[11] = c23;
              ct[12] = c30; ct[13] = c31; ct[14] = c32; ct[15] = c33;
            } else {
              // ---- edge micro-kernel: at most 2 rows left.
              let c00 = 0.0, c01 = 0.0, c02 = 0.0, c03 = 0.0;
              let c10 = 0.0, c11 = 0.0, c12 = 0.0, c13 = 0.0;
              for (let p = 0; p < kc; p++) {
                const a0 = pa[ia], a1 = pa[ia + 1];
                const b0 = pb[ib], b1 = pb[ib + 1], b2 = pb[ib + 2], b3 = pb[ib + 3];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                ia += MR;
                ib += NR;
              }
              ct[0] = c00; ct[1] = c01; ct[2] = c02; ct[3] = c03;
              ct[4] = c10; ct[5] = c11; ct[6] = c12; ct[7] = c13;
            }
            // ---- partial tile: write back the valid mr x nr part.
            let cRow = cIdx;
            for (let i = 0; i < mr; i++) {
              let ci = cRow;
              const t = i * NR;
              if (bet === 0) {
                for (let j = 0; j < nr; j++) {
                  C[ci] = alpha * ct[t + j];
                  ci += csC;
                }
              } else {
                for (let j = 0; j < nr; j++) {
                  C[ci] = alpha * ct[t + j] + bet * C[ci];
                  ci += csC;
                }
              }
              cRow += rsC;
            }
          }
        }
      }
    }
  }
}

/** Pack an mc x kc block of A into MR-tall panels: panel r holds pa[r*kc*MR + p*MR + i]. */
function packPanelsA(
  A: FloatArray, base: number, rsA: number, csA: number, mc: number, kc: number, pa: Float64Array,
): void {
  let o = 0;
  let ir = 0;
  for (; ir + MR <= mc; ir += MR) {
    let a0 = base + ir * rsA;
    let a1 = a0 + rsA;
    let a2 = a1 + rsA;
    let a3 = a2 + rsA;
    for (let p = 0; p < kc; p++) {
      pa[o] = A[a0];
      pa[o + 1] = A[a1];
      pa[o + 2] = A[a2];
      pa[o + 3] = A[a3];
      a0 += csA;
      a1 += csA;
      a2 += csA;
      a3 += csA;
      o += MR;
    }
  }
  if (ir < mc) {
    const mr = mc - ir;
    const rowBase = base + ir * rsA;
    for (let p = 0; p < kc; p++) {
      const col = rowBase + p * csA;
      let i = 0;
      for (; i < mr; i++) pa[o + i] = A[col + i * rsA];
      for (; i < MR; i++) pa[o + i] = 0;
      o += MR;
    }
  }
}

/** Pack a kc x nc block of B into NR-wide panels: panel r holds pb[r*kc*NR + p*NR + j]. */
function packPanelsB(
  B: FloatArray, base: number, rsB: number, csB: number, nc: number, kc: number, pb: Float64Array,
): void {
  let o = 0;
  let jr = 0;
  if (csB === 1) {
    for (; jr + NR <= nc; jr += NR) {
      let b = base + jr;
      for (let p = 0; p < kc; p++) {
        pb[o] = B[b];
        pb[o + 1] = B[b + 1];
        pb[o + 2] = B[b + 2];
        pb[o + 3] = B[b + 3];
        b += rsB;
        o += NR;
      }
    }
  } else {
    for (; jr + NR <= nc; jr += NR) {
      let b0 = base + jr * csB;
      let b1 = b0 + csB;
      let b2 = b1 + csB;
      let b3 = b2 + csB;
      for (let p = 0; p < kc; p++) {
        pb[o] = B[b0];
        pb[o + 1] = B[b1];
        pb[o + 2] = B[b2];
        pb[o + 3] = B[b3];
        b0 += rsB;
        b1 += rsB;
        b2 += rsB;
        b3 += rsB;
        o += NR;
      }
    }
  }
  if (jr < nc) {
    const nr = nc - jr;
    const colBase = base + jr * csB;
    for (let p = 0; p < kc; p++) {
      const row = colBase + p * rsB;
      let j = 0;
      for (; j < nr; j++) pb[o + j] = B[row + j * csB];
      for (; j < NR; j++) pb[o + j] = 0;
      o += NR;
    }
  }
}

/** C = beta * C (beta === 0 writes zeros). */
function scaleC(M: number, N: number, beta: number, C: FloatArray, cOff: number, rsC: number, csC: number): void {
  for (let i = 0; i < M; i++) {
    let ci = cOff + i * rsC;
    for (let j = 0; j < N; j++) {
      C[ci] = beta === 0 ? 0 : beta * C[ci];
      ci += csC;
    }
  }
}

/** y[i*incy] = alpha * sum_p A[i*rsA + p*csA] * x[p*incx] + beta * y (M x K matrix times vector). */
function gemv(
  M: number, K: number, alpha: number,
  A: FloatArray, aOff: number, rsA: number, csA: number,
  x: FloatArray, xOff: number, incx: number,
  beta: number,
  y: FloatArray, yOff: number, incy: number,
): void {
  if (Math.abs(csA) <= Math.abs(rsA) || M === 1) {
    // Rows are the short-stride direction: one dot product per row.
    for (let i = 0; i < M; i++) {
      let a = aOff + i * rsA;
      let xi = xOff;
      let s0 = 0.0, s1 = 0.0;
      let p = 0;
      for (; p + 1 < K; p += 2) {
        s0 += A[a] * x[xi];
        s1 += A[a + csA] * x[xi + incx];
        a += 2 * csA;
        xi += 2 * incx;
      }
      if (p < K) s0 += A[a] * x[xi];
      const yi = yOff + i * incy;
      const v = alpha * (s0 + s1);
      y[yi] = beta === 0 ? v : v + beta * y[yi];
    }
    return;
  }
  // Columns are contiguous: accumulate axpy-style into a double buffer.
  if (gemvAcc.length < M) gemvAcc = new Float64Array(M);
  const acc = gemvAcc;
  acc.fill(0, 0, M);
  for (let p = 0; p < K; p++) {
    const xv = x[xOff + p * incx];
    let a = aOff + p * csA;
    for (let i = 0; i < M; i++) {
      acc[i] += A[a] * xv;
      a += rsA;
    }
  }
  for (let i = 0; i < M; i++) {
    const yi = yOff + i * incy;
    const v = alpha * acc[i];
    y[yi] = beta === 0 ? v : v + beta * y[yi];
  }
}

/** Direct triple loop for tiny products, where packing costs more than it saves. */
function smallGemm(
  M: number, N: number, K: number, alpha: number,
  A: FloatArray, aOff: number, rsA: number, csA: number,
  B: FloatArray, bOff: number, rsB: number, csB: number,
  beta: number,
  C: FloatArray, cOff: number, rsC: number, csC: number,
): void {
  for (let i = 0; i < M; i++) {
    const aRow = aOff + i * rsA;
    let ci = cOff + i * rsC;
    for (let j = 0; j < N; j++) {
      let a = aRow;
      let b = bOff + j * csB;
      let s = 0.0;
      for (let p = 0; p < K; p++) {
        s += A[a] * B[b];
        a += csA;
        b += rsB;
      }
      const v = alpha * s;
      C[ci] = beta === 0 ? v : v + beta * C[ci];
      ci += csC;
    }
  }
}
