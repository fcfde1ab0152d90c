/**
 * The TypeScript CPU kernels for matmul, conv2d (+ gradients) and pooling,
 * checked against tiny, obviously correct float64 loops written here.
 */
import { describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../src/dtype.js';
import type { AvgPool2dAttrs, Conv2dAttrs, Pool2dAttrs, TensorArg } from '../src/backend/types.js';
import { gemm } from '../src/backend/cpu/gemm.js';
import { linalgKernels } from '../src/backend/cpu/linalg.js';
import { poolKernels } from '../src/backend/cpu/pool.js';
import { contiguousStrides } from '../src/layout.js';

type Arg = TensorArg<TypedArray>;
type FDType = 'float32' | 'float64';

// ---------------------------------------------------------------- helpers

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function newArray(dtype: DType, n: number): TypedArray {
  if (dtype === 'float32') return new Float32Array(n);
  if (dtype === 'float64') return new Float64Array(n);
  if (dtype === 'int32') return new Int32Array(n);
  return new Uint8Array(n);
}

function prod(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}


/**
 * A random tensor of `shape` (values in [-1, 1)). `order` lists the logical dims
 * from outermost to innermost in storage (default: row-major), so e.g. [0, 2, 1]
 * stores the last two dims transposed. `offset` leaves junk before the data.
 */
function randArg(
  rnd: () => number, dtype: FDType, shape: number[],
  opts: { order?: number[]; offset?: number } = {},
): Arg {
  const order = opts.order ?? shape.map((_, i) => i);
  const offset = opts.offset ?? 0;
  const storeShape = order.map((d) => shape[d]);
  const storeStrides = contiguousStrides(storeShape);
  const strides = new Array<number>(shape.length);
  order.forEach((d, k) => {
    strides[d] = storeStrides[k];
  });
  const buf = newArray(dtype, offset + prod(shape));
  for (let i = 0; i < buf.length; i++) buf[i] = rnd() * 2 - 1;
  return { buf, dtype, shape, strides, offset };
}

function zeros(dtype: DType, shape: number[]): Arg {
  const buf = newArray(dtype, prod(shape));
  // Junk in outputs: kernels must not rely on zero-filled outputs.
  if (dtype === 'float32' || dtype === 'float64') buf.fill(12345);
  return { buf, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

/** Logical element at a multi-index. */
function at(a: Arg, ...idx: number[]): number {
  let p = a.offset;
  for (let d = 0; d < idx.length; d++) p += idx[d] * a.strides[d];
  return a.buf[p];
}

/** Row-major logical values. */
function values(a: Arg): number[] {
  const out: number[] = [];
  const idx = new Array<number>(a.shape.length).fill(0);
  const n = prod(a.shape);
  for (let i = 0; i < n; i++) {
    out.push(at(a, ...idx));
    for (let d = a.shape.length - 1; d >= 0; d--) {
      if (++idx[d] < a.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w)) {
      if (!Number.isNaN(g)) throw new Error(`at ${i}: got ${g}, want NaN`);
      continue;
    }
    if (w === g) continue;
    const excess = Math.abs(g - w) - (atol + rtol * Math.abs(w));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      worstAt = i;
    }
  }
  if (worstAt >= 0) throw new Error(`at ${worstAt}: got ${got[worstAt]}, want ${want[worstAt]}`);
}

function tol(dtype: FDType, K: number): [number, number] {
  return dtype === 'float64' ? [1e-12, 1e-12 * K] : [1e-4, 1e-6 * K];
}

// ---------------------------------------------------------------- naive references

/** y[b][i][j] = sum_p a[b][i][p] * b[b][p][j], batch dims of rank-3 operands. */
function naiveMatmul(a: Arg, b: Arg): number[] {
  const [B, M, K] = a.shape;
  const N = b.shape[2];
  const out: number[] = [];
  for (let t = 0; t < B; t++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let p = 0; p < K; p++) s += at(a, t, i, p) * at(b, t, p, j);
        out.push(s);
      }
    }
  }
  return out;
}

function convOut(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

function naiveConv(x: Arg, w: Arg, bias: Arg | undefined, a: Conv2dAttrs): { shape: number[]; y: number[] } {
  const [N, , H, W] = x.shape;
  const [O, Cg, kh, kw] = w.shape;
  const G = a.groups;
  const Og = O / G;
  const oh = convOut(H, kh, a.stride[0], a.padding[0], a.dilation[0]);
  const ow = convOut(W, kw, a.stride[1], a.padding[1], a.dilation[1]);
  const y: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let s = bias ? at(bias, o) : 0;
          for (let c = 0; c < Cg; c++) {
            for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                const h = oy * a.stride[0] - a.padding[0] + i * a.dilation[0];
                const ww = ox * a.stride[1] - a.padding[1] + j * a.dilation[1];
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                s += at(x, n, g * Cg + c, h, ww) * at(w, o, c, i, j);
              }
            }
          }
          y.push(s);
        }
      }
    }
  }
    return { shape: [N, O, oh, ow], y };
}

/** Direct definitions of dL/dx and dL/dw for L = sum(gy * conv(x, w)). */
function naiveConvGrads(x: Arg, w: Arg, gy: Arg, a: Conv2dAttrs): { gx: number[]; gw: number[] } {
  const [N, C, H, W] = x.shape;
  const [O, Cg, kh, kw] = w.shape;
  const [, , oh, ow] = gy.shape;
  const Og = O / a.groups;
  const gx = new Array<number>(N * C * H * W).fill(0);
  const gw = new Array<number>(O * Cg * kh * kw).fill(0);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const gv = at(gy, n, o, oy, ox);
          for (let c = 0; c < Cg; c++) {
            for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                const h = oy * a.stride[0] - a.padding[0] + i * a.dilation[0];
                const ww = ox * a.stride[1] - a.padding[1] + j * a.dilation[1];
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                const ci = g * Cg + c;
                gx[((n * C + ci) * H + h) * W + ww] += gv * at(w, o, c, i, j);
                gw[((o * Cg + c) * kh + i) * kw + j] += gv * at(x, n, ci, h, ww);
              }
            }
          }
        }
      }
    }
  }
  return { gx, gw };
}

function poolOut(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const num = size + 2 * p - d * (k - 1) - 1;
  let out = (ceil ? Math.ceil(num / s) : Math.floor(num / s)) + 1;
  if (ceil && (out - 1) * s >= size + p) out -= 1;
  return out;
}

function naiveMaxPool(x: Arg, a: Pool2dAttrs): { shape: number[]; y: number[]; idx: number[] } {
  const [N, C, H, W] = x.shape;
  const [kh, kw] = a.kernelSize;
  const oh = poolOut(H, kh, a.stride[0], a.padding[0], a.dilation[0], a.ceilMode);
  const ow = poolOut(W, kw, a.stride[1], a.padding[1], a.dilation[1], a.ceilMode);
  const y: number[] = [];
  const idx: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let best = -Infinity;
          let bi = -1;
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const h = oy * a.stride[0] - a.padding[0] + i * a.dilation[0];
              const w = ox * a.stride[1] - a.padding[1] + j * a.dilation[1];
              if (h < 0 || h >= H || w < 0 || w >= W) continue;
              const v = at(x, n, c, h, w);
              // The first valid cell is the default; a larger value or a NaN replaces it.
              if (bi < 0) bi = h * W + w;
              if (v > best || Number.isNaN(v)) {
                best = v;
                bi = h * W + w;
              }
            }
          }
          y.push(best);
          idx.push(bi);
        }
      }
    }
  }
  return { shape: [N, C, oh, ow], y, idx };
}

function naiveAvgPool(x: Arg, a: AvgPool2dAttrs): { shape: number[]; y: number[] } {
  const [N, C, H, W] = x.shape;
  const [kh, kw] = a.kernelSize;
  const oh = poolOut(H, kh, a.stride[0], a.padding[0], 1, a.ceilMode);
  const ow = poolOut(W, kw, a.stride[1], a.padding[1], 1, a.ceilMode);
  const y: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const hs = oy * a.stride[0] - a.padding[0];
          const ws = ox * a.stride[1] - a.padding[1];
          let s = 0;
          let count = 0;
          let padded = 0;
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const h = hs + i;
              const w = ws + j;
              if (h < H + a.padding[0] && w < W + a.padding[1]) padded++;
              if (h < 0 || h >= H || w < 0 || w >= W) continue;
              s += at(x, n, c, h, w);
              count++;
            }
          }
          const div = a.divisorOverride ?? (a.countIncludePad ? padded : count);
          y.push(s / div);
        }
      }
    }
  }
  return { shape: [N, C, oh, ow], y };
}

function adaptiveRange(i: number, size: number, out: number): [number, number] {
  return [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)];
}

// ---------------------------------------------------------------- matmul

function runMatmul(a: Arg, b: Arg, dtype: FDType): Arg {
  const y = zeros(dtype, [Math.max(a.shape[0], b.shape[0]), a.shape[1], b.shape[2]]);
  linalgKernels.matmul([a, b], [y], {});
  return y;
}

describe('cpu matmul', () => {
  const cases: { name: string; B: number; M: number; N: number; K: number; ta?: boolean; tb?: boolean }[] = [
    { name: 'odd sizes', B: 1, M: 37, N: 29, K: 53 },
    { name: '1x1x1', B: 1, M: 1, N: 1, K: 1 },
    { name: 'K = 1', B: 2, M: 9, N: 11, K: 1 },
    { name: 'M = 1 (gemv)', B: 2, M: 1, N: 33, K: 17 },
    { name: 'N = 1 (gemv)', B: 2, M: 33, N: 1, K: 17 },
    { name: 'M = 1 transposed', B: 1, M: 1, N: 21, K: 40, ta: true, tb: true },
    { name: 'N = 1 transposed', B: 1, M: 21, N: 1, K: 40, ta: true, tb: true },
    { name: 'a transposed', B: 2, M: 37, N: 29, K: 53, ta: true },
    { name: 'b transposed', B: 2, M: 37, N: 29, K: 53, tb: true },
    { name: 'both transposed', B: 3, M: 19, N: 41, K: 23, ta: true, tb: true },
    { name: 'several K and M blocks', B: 1, M: 133, N: 45, K: 601 },
    { name: 'several N blocks', B: 1, M: 6, N: 2103, K: 70, tb: true },
    { name: 'tiny', B: 4, M: 3, N: 5, K: 2 },
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const c of cases) {
      it(`${c.name} (${dtype})`, () => {
        const rnd = prng(c.M * 1000 + c.N * 10 + c.K);
        const a = randArg(rnd, dtype, [c.B, c.M, c.K], { order: c.ta ? [0, 2, 1] : undefined, offset: 3 });
        const b = randArg(rnd, dtype, [c.B, c.K, c.N], { order: c.tb ? [0, 2, 1] : undefined, offset: 5 });
        const y = runMatmul(a, b, dtype);
        const [rtol, atol] = tol(dtype, c.K);
        expectClose(y.buf, naiveMatmul(a, b), rtol, atol);
      });
    }
  }

  it('batch stride 0 on b (folds into one GEMM) and on a', () => {
    const rnd = prng(7);
    for (const dtype of ['float32', 'float64'] as const) {
      const [rtol, atol] = tol(dtype, 31);
      const a = randArg(rnd, dtype, [4, 13, 31]);
      const b1 = randArg(rnd, dtype, [1, 31, 17]);
      const b = { ...b1, shape: [4, 31, 17], strides: [0, ...b1.strides.slice(1)] };
      expectClose(runMatmul(a, b, dtype).buf, naiveMatmul(a, b), rtol, atol);
      const a1 = randArg(rnd, dtype, [1, 13, 31], { order: [0, 2, 1] });
      const a0 = { ...a1, shape: [4, 13, 31], strides: [0, ...a1.strides.slice(1)] };
      const bb = randArg(rnd, dtype, [4, 31, 17]);
      expectClose(runMatmul(a0, bb, dtype).buf, naiveMatmul(a0, bb), rtol, atol);
    }
  });

  it('broadcast stride 0 inside the matrix (expanded row)', () => {
    const rnd = prng(8);
    const a1 = randArg(rnd, 'float32', [2, 1, 20]);
    const a = { ...a1, shape: [2, 9, 20], strides: [a1.strides[0], 0, 1] };
    const b = randArg(rnd, 'float32', [2, 20, 15]);
    expectClose(runMatmul(a, b, 'float32').buf, naiveMatmul(a, b), 1e-4, 2e-5);
  });

  it('rank-4 batch with broadcasting', () => {
    const rnd = prng(9);
    const a = randArg(rnd, 'float64', [2, 3, 5, 7]);
    const b1 = randArg(rnd, 'float64', [1, 3, 7, 4]);
    const y = zeros('float64', [2, 3, 5, 4]);
    linalgKernels.matmul([a, b1], [y], {});
    const want: number[] = [];
    for (let s = 0; s < 2; s++) {
      for (let t = 0; t < 3; t++) {
        for (let i = 0; i < 5; i++) {
          for (let j = 0; j < 4; j++) {
            let acc = 0;
            for (let p = 0; p < 7; p++) acc += at(a, s, t, i, p) * at(b1, 0, t, p, j);
            want.push(acc);
          }
        }
      }
    }
    expectClose(y.buf, want, 1e-12, 1e-12);
  });

  it('gemm: alpha, beta and K = 0', () => {
    const rnd = prng(10);
    const M = 23, N = 19, K = 31;
    const A = new Float64Array(M * K).map(() => rnd() - 0.5);
    const B = new Float64Array(K * N).map(() => rnd() - 0.5);
    const C0 = new Float64Array(M * N).map(() => rnd() - 0.5);
    const C = C0.slice();
    gemm(false, false, M, N, K, 2, A, 0, K, B, 0, N, -0.5, C, 0, N);
    const want: number[] = [];
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let p = 0; p < K; p++) s += A[i * K + p] * B[p * N + j];
        want.push(2 * s - 0.5 * C0[i * N + j]);
      }
    }
    expectClose(C, want, 1e-12, 1e-12);
    const D = C0.slice();
    gemm(false, false, M, N, 0, 1, A, 0, K, B, 0, N, 3, D, 0, N);
    expectClose(D, Array.from(C0, (v) => 3 * v), 1e-15, 0);
    const E = new Float64Array(M * N).fill(Number.NaN);
    gemm(false, false, M, N, K, 1, A, 0, K, B, 0, N, 0, E, 0, N);
    expect(E.every((v) => Number.isFinite(v))).toBe(true);
  });
});

// ---------------------------------------------------------------- conv2d

function attrs(stride: number, padding: number, dilation: number, groups: number): Conv2dAttrs {
  return { stride: [stride, stride], padding: [padding, padding], dilation: [dilation, dilation], groups };
}

function checkConv(
  seed: number, dtype: FDType, xs: number[], ws: number[], a: Conv2dAttrs,
  opts: { bias?: boolean; xOrder?: number[]; wOrder?: number[] } = {},
): void {
  const rnd = prng(seed);
  const x = randArg(rnd, dtype, xs, { order: opts.xOrder, offset: 2 });
  const w = randArg(rnd, dtype, ws, { order: opts.wOrder, offset: 1 });
  const bias = opts.bias ? randArg(rnd, dtype, [ws[0]]) : undefined;
  const want = naiveConv(x, w, bias, a);
  const y = zeros(dtype, want.shape);
  linalgKernels.conv2d(bias ? [x, w, bias] : [x, w], [y], a);
  const [rtol, atol] = tol(dtype, ws[1] * ws[2] * ws[3]);
  expectClose(y.buf, want.y, rtol, atol);
}

function checkConvGrads(
  seed: number, dtype: FDType, xs: number[], ws: number[], a: Conv2dAttrs,
  opts: { xOrder?: number[]; gyOrder?: number[]; wOrder?: number[] } = {},
): void {
  const rnd = prng(seed);
  const x = randArg(rnd, dtype, xs, { order: opts.xOrder });
  const w = randArg(rnd, dtype, ws, { order: opts.wOrder });
  const oh = convOut(xs[2], ws[2], a.stride[0], a.padding[0], a.dilation[0]);
  const ow = convOut(xs[3], ws[3], a.stride[1], a.padding[1], a.dilation[1]);
  const gy = randArg(rnd, dtype, [xs[0], ws[0], oh, ow], { order: opts.gyOrder, offset: 4 });
  const want = naiveConvGrads(x, w, gy, a);
  const gx = zeros(dtype, xs);
  linalgKernels.conv2dBackwardInput([gy, w], [gx], a);
  const gw = zeros(dtype, ws);
  linalgKernels.conv2dBackwardWeight([gy, x], [gw], a);
  const [rtolX, atolX] = tol(dtype, ws[0] * ws[2] * ws[3]);
  expectClose(gx.buf, want.gx, rtolX, atolX);
  const [rtolW, atolW] = tol(dtype, xs[0] * oh * ow);
  expectClose(gw.buf, want.gw, rtolW, atolW);
}

describe('cpu conv2d', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`plain 3x3 with bias (${dtype})`, () => {
      checkConv(1, dtype, [2, 3, 9, 11], [4, 3, 3, 3], attrs(1, 0, 1, 1), { bias: true });
    });
    it(`stride 2, padding 1, dilation 2, groups 2, bias (${dtype})`, () => {
      checkConv(2, dtype, [2, 4, 13, 12], [6, 2, 3, 3], attrs(2, 1, 2, 2), { bias: true });
    });
    it(`asymmetric attrs and kernel (${dtype})`, () => {
      const a: Conv2dAttrs = { stride: [1, 3], padding: [2, 0], dilation: [1, 2], groups: 1 };
      checkConv(3, dtype, [1, 2, 8, 15], [3, 2, 2, 4], a);
    });
    it(`1x1 pointwise, strided input (${dtype})`, () => {
      checkConv(4, dtype, [2, 5, 6, 7], [3, 5, 1, 1], attrs(1, 0, 1, 1), { bias: true });
      checkConv(5, dtype, [2, 5, 6, 7], [3, 5, 1, 1], attrs(1, 0, 1, 1), { xOrder: [0, 2, 3, 1] });
      checkConv(6, dtype, [2, 4, 6, 7], [4, 2, 1, 1], attrs(2, 0, 1, 2));
    });
    it(`channels-last input and permuted weight (${dtype})`, () => {
      checkConv(7, dtype, [2, 4, 10, 9], [6, 2, 3, 3], attrs(1, 1, 1, 2), {
        bias: true, xOrder: [0, 2, 3, 1], wOrder: [2, 3, 1, 0],
      });
    });
    it(`depthwise (${dtype})`, () => {
      checkConv(8, dtype, [2, 3, 7, 7], [3, 1, 3, 3], attrs(1, 1, 1, 3));
    });
    it(`padding wider than the input span (${dtype})`, () => {
      checkConv(9, dtype, [1, 2, 3, 2], [2, 2, 2, 2], attrs(2, 2, 1, 1));
    });
  }

  it('larger forward crossing GEMM blocks (K = 288 > 256)', () => {
    checkConv(10, 'float32', [2, 32, 13, 12], [40, 32, 3, 3], attrs(1, 1, 1, 1), { bias: true });
  });

  for (const dtype of ['float32', 'float64'] as const) {
    it(`unpadded, strided (channels-last, offset) input read in place (${dtype})`, () => {
      checkConv(20, dtype, [3, 4, 11, 10], [5, 4, 3, 2], attrs(2, 0, 1, 1), { bias: true, xOrder: [2, 0, 3, 1] });
      checkConvGrads(21, dtype, [3, 4, 11, 10], [5, 4, 3, 2], attrs(2, 0, 1, 1), { xOrder: [2, 0, 3, 1] });
    });
  }

  it('gradients at the tutorial ConvNet shapes', () => {
    checkConvGrads(11, 'float32', [2, 3, 32, 32], [6, 3, 5, 5], attrs(1, 0, 1, 1));
    checkConvGrads(12, 'float32', [2, 6, 14, 14], [16, 6, 5, 5], attrs(1, 0, 1, 1));
    checkConvGrads(13, 'float64', [2, 3, 32, 32], [6, 3, 5, 5], attrs(1, 0, 1, 1));
    checkConvGrads(14, 'float64', [2, 6, 14, 14], [16, 6, 5, 5], attrs(1, 0, 1, 1));
  });

  for (const dtype of ['float32', 'float64'] as const) {
    it(`gradients with stride 2, padding 1, dilation 2, groups 2 (${dtype})`, () => {
      checkConvGrads(15, dtype, [2, 4, 11, 10], [6, 2, 3, 3], attrs(2, 1, 2, 2));
    });
    it(`gradients with strided inputs (${dtype})`, () => {
      checkConvGrads(16, dtype, [2, 4, 9, 8], [4, 2, 3, 2], attrs(1, 1, 1, 2), {
        xOrder: [0, 2, 3, 1], gyOrder: [1, 0, 3, 2], wOrder: [3, 2, 1, 0],
      });
    });
    it(`gradients of a 1x1 convolution (${dtype})`, () => {
      checkConvGrads(17, dtype, [2, 4, 5, 6], [6, 2, 1, 1], attrs(1, 0, 1, 2));
      checkConvGrads(18, dtype, [2, 3, 5, 6], [2, 3, 1, 1], attrs(1, 0, 1, 1), { xOrder: [0, 2, 3, 1] });
    });
  }

  it('gradient from an expanded gradY (stride 0)', () => {
    const a = attrs(1, 1, 1, 1);
    const rnd = prng(19);
    const x = randArg(rnd, 'float32', [2, 3, 6, 6]);
    const w = randArg(rnd, 'float32', [4, 3, 3, 3]);
    const buf = new Float32Array([0.5]);
    const gy: Arg = { buf, dtype: 'float32', shape: [2, 4, 6, 6], strides: [0, 0, 0, 0], offset: 0 };
    const want = naiveConvGrads(x, w, gy, a);
    const gx = zeros('float32', [2, 3, 6, 6]);
    linalgKernels.conv2dBackwardInput([gy, w], [gx], a);
    expectClose(gx.buf, want.gx, 1e-4, 1e-5);
    const gw = zeros('float32', [4, 3, 3, 3]);
    linalgKernels.conv2dBackwardWeight([gy, x], [gw], a);
    expectClose(gw.buf, want.gw, 1e-4, 1e-4);
  });
});

// ---------------------------------------------------------------- pooling

function poolAttrs(k: number, s: number, p: number, d: number, ceilMode: boolean): Pool2dAttrs {
  return { kernelSize: [k, k], stride: [s, s], padding: [p, p], dilation: [d, d], ceilMode };
}

function avgAttrs(k: number, s: number, p: number, ceilMode: boolean, countIncludePad: boolean, divisorOverride: number | null = null): AvgPool2dAttrs {
  return { kernelSize: [k, k], stride: [s, s], padding: [p, p], ceilMode, countIncludePad, divisorOverride };
}

describe('cpu pooling', () => {
  const maxCases: { name: string; shape: number[]; a: Pool2dAttrs }[] = [
    { name: '2x2 stride 2', shape: [2, 3, 8, 8], a: poolAttrs(2, 2, 0, 1, false) },
    { name: '3x3 stride 2 padding 1', shape: [2, 2, 9, 10], a: poolAttrs(3, 2, 1, 1, false) },
    { name: 'ceilMode', shape: [1, 2, 10, 11], a: poolAttrs(3, 2, 1, 1, true) },
    { name: 'ceilMode, last window dropped', shape: [1, 1, 5, 5], a: poolAttrs(2, 2, 1, 1, true) },
    { name: 'dilation 2', shape: [1, 2, 11, 9], a: poolAttrs(3, 1, 2, 2, false) },
    {
      name: 'asymmetric',
      shape: [2, 1, 7, 12],
      a: { kernelSize: [2, 3], stride: [1, 2], padding: [1, 1], dilation: [2, 1], ceilMode: true },
    },
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const c of maxCases) {
      it(`maxPool2d ${c.name} (${dtype}) and its backward`, () => {
        const rnd = prng(c.shape.reduce((p, v) => p * 31 + v, 3));
        const x = randArg(rnd, dtype, c.shape, { order: [0, 2, 3, 1], offset: 1 });
        const want = naiveMaxPool(x, c.a);
        const y = zeros(dtype, want.shape);
        const ind = zeros('int32', want.shape);
        poolKernels.maxPool2d([x], [y, ind], c.a);
        expect(Array.from(y.buf)).toEqual(want.y.map((v) => (dtype === 'float32' ? Math.fround(v) : v)));
        expect(Array.from(ind.buf)).toEqual(want.idx);
        // backward: scatter-add of gradY by index.
        const gy = randArg(rnd, dtype, want.shape);
        const gx = zeros(dtype, c.shape);
        poolKernels.maxPool2dBackward([gy, ind], [gx], {});
        const [, , H, W] = c.shape;
        const expGx = new Array<number>(prod(c.shape)).fill(0);
        const gyv = values(gy);
        const plane = want.shape[2] * want.shape[3];
        want.idx.forEach((ix, q) => {
          expGx[Math.floor(q / plane) * H * W + ix] += gyv[q];
        });
        expectClose(gx.buf, expGx, 1e-6, 1e-7);
      });
    }
  }

  it('maxPool2d: NaN wins, -inf and padding', () => {
    const x: Arg = {
      buf: new Float32Array([1, Number.NaN, 3, 4, -Infinity, -Infinity, -Infinity, -Infinity, 5, 2, Number.NaN, 0, 7, 7, 1, 1]),
      dtype: 'float32',
      shape: [1, 1, 4, 4],
      strides: [16, 16, 4, 1],
      offset: 0,
    };
    const a = poolAttrs(2, 2, 0, 1, false);
    const y = zeros('float32', [1, 1, 2, 2]);
    const ind = zeros('int32', [1, 1, 2, 2]);
    poolKernels.maxPool2d([x], [y, ind], a);
    expect(Number.isNaN(y.buf[0])).toBe(true);
    expect(ind.buf[0]).toBe(1);
    expect(y.buf[1]).toBe(4);
    expect(ind.buf[1]).toBe(3);
    expect(y.buf[2]).toBe(7);
    expect(ind.buf[2]).toBe(12);
    expect(Number.isNaN(y.buf[3])).toBe(true);
    expect(ind.buf[3]).toBe(10);
    // Windows of only -inf (padding included) report their first real cell.
    const x2: Arg = { ...x, buf: new Float32Array(16).fill(-Infinity) };
    const y2 = zeros('float32', [1, 1, 3, 3]);
    const ind2 = zeros('int32', [1, 1, 3, 3]);
    poolKernels.maxPool2d([x2], [y2, ind2], poolAttrs(2, 2, 1, 1, false));
    expect(Array.from(y2.buf)).toEqual(new Array(9).fill(-Infinity));
    expect(Array.from(ind2.buf)).toEqual(naiveMaxPool(x2, poolAttrs(2, 2, 1, 1, false)).idx);
    expect(Array.from(ind2.buf)).toEqual([0, 1, 3, 4, 5, 7, 12, 13, 15]);
  });

  const avgCases: { name: string; shape: number[]; a: AvgPool2dAttrs }[] = [
    { name: '2x2', shape: [2, 3, 8, 8], a: avgAttrs(2, 2, 0, false, true) },
    { name: 'padding, countIncludePad', shape: [2, 2, 9, 10], a: avgAttrs(3, 2, 1, false, true) },
    { name: 'padding, not countIncludePad', shape: [2, 2, 9, 10], a: avgAttrs(3, 2, 1, false, false) },
    { name: 'ceilMode, countIncludePad', shape: [1, 2, 10, 11], a: avgAttrs(3, 2, 1, true, true) },
    { name: 'ceilMode, not countIncludePad', shape: [1, 2, 10, 11], a: avgAttrs(3, 2, 1, true, false) },
    { name: 'ceilMode without padding', shape: [1, 1, 6, 7], a: avgAttrs(4, 3, 0, true, true) },
    { name: 'divisorOverride', shape: [1, 2, 7, 7], a: avgAttrs(3, 2, 1, true, true, 5) },
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const c of avgCases) {
      it(`avgPool2d ${c.name} (${dtype}) and its backward`, () => {
        const rnd = prng(c.shape.reduce((p, v) => p * 17 + v, 5));
        const x = randArg(rnd, dtype, c.shape, { order: [1, 0, 3, 2] });
        const want = naiveAvgPool(x, c.a);
        const y = zeros(dtype, want.shape);
        poolKernels.avgPool2d([x], [y], c.a);
        const [rtol, atol] = dtype === 'float32' ? [1e-6, 1e-7] : [1e-14, 1e-15];
        expectClose(y.buf, want.y, rtol, atol);
        // backward = adjoint of the forward: <gy, A x> == <A^T gy, x> for random gy, x.
        const gy = randArg(rnd, dtype, want.shape, { order: [0, 1, 3, 2] });
        const gx = zeros(dtype, c.shape);
        poolKernels.avgPool2dBackward([gy], [gx], c.a);
        // Recover A^T gy exactly by applying the forward to unit vectors.
        const n = prod(c.shape);
        const expGx = new Array<number>(n).fill(0);
        const gyv = values(gy);
        for (let q = 0; q < n; q++) {
          const e = zeros('float64', c.shape);
          e.buf.fill(0);
          e.buf[q] = 1;
          const r = naiveAvgPool(e, c.a).y;
          let s = 0;
          for (let k = 0; k < r.length; k++) s += r[k] * gyv[k];
          expGx[q] = s;
        }
        expectClose(gx.buf, expGx, rtol, atol);
      });
    }
  }

  const adaptiveCases: { shape: number[]; out: [number, number] }[] = [
    { shape: [2, 3, 7, 7], out: [3, 3] },
    { shape: [1, 2, 10, 9], out: [4, 5] },
    { shape: [1, 1, 5, 6], out: [5, 6] },
    { shape: [2, 2, 3, 4], out: [5, 7] },
    { shape: [1, 2, 8, 8], out: [1, 1] },
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const c of adaptiveCases) {
      it(`adaptive pools ${c.shape.join('x')} -> ${c.out.join('x')} (${dtype})`, () => {
        const rnd = prng(c.shape.reduce((p, v) => p * 13 + v, c.out[0] * 7 + c.out[1]));
        const x = randArg(rnd, dtype, c.shape, { order: [0, 2, 3, 1] });
        const [N, C, H, W] = c.shape;
        const [oh, ow] = c.out;
        const yShape = [N, C, oh, ow];
        const wantAvg: number[] = [];
        const wantMax: number[] = [];
        const wantIdx: number[] = [];
        for (let n = 0; n < N; n++) {
          for (let ch = 0; ch < C; ch++) {
            for (let oy = 0; oy < oh; oy++) {
              for (let ox = 0; ox < ow; ox++) {
                const [h0, h1] = adaptiveRange(oy, H, oh);
                const [w0, w1] = adaptiveRange(ox, W, ow);
                let s = 0;
                let best = -Infinity;
                let bi = -1;
                for (let h = h0; h < h1; h++) {
                  for (let w = w0; w < w1; w++) {
                    const v = at(x, n, ch, h, w);
                    s += v;
                    if (bi < 0 || v > best) {
                      best = v;
                      bi = h * W + w;
                    }
                  }
                }
                wantAvg.push(s / ((h1 - h0) * (w1 - w0)));
                wantMax.push(best);
                wantIdx.push(bi);
              }
            }
          }
        }
        const [rtol, atol] = dtype === 'float32' ? [1e-6, 1e-7] : [1e-14, 1e-15];
        const ya = zeros(dtype, yShape);
        poolKernels.adaptiveAvgPool2d([x], [ya], {});
        expectClose(ya.buf, wantAvg, rtol, atol);
        const ym = zeros(dtype, yShape);
        const ind = zeros('int32', yShape);
        poolKernels.adaptiveMaxPool2d([x], [ym, ind], {});
        expect(Array.from(ym.buf)).toEqual(wantMax.map((v) => (dtype === 'float32' ? Math.fround(v) : v)));
        expect(Array.from(ind.buf)).toEqual(wantIdx);
        // backward of the average: each output's gradient spread evenly over its window.
        const gy = randArg(rnd, dtype, yShape);
        const gx = zeros(dtype, c.shape);
        poolKernels.adaptiveAvgPool2dBackward([gy], [gx], {});
        const expGx = new Array<number>(prod(c.shape)).fill(0);
        for (let n = 0; n < N; n++) {
          for (let ch = 0; ch < C; ch++) {
            for (let oy = 0; oy < oh; oy++) {
              for (let ox = 0; ox < ow; ox++) {
                const [h0, h1] = adaptiveRange(oy, H, oh);
                const [w0, w1] = adaptiveRange(ox, W, ow);
                const g = at(gy, n, ch, oy, ox) / ((h1 - h0) * (w1 - w0));
                for (let h = h0; h < h1; h++) {
                  for (let w = w0; w < w1; w++) expGx[((n * C + ch) * H + h) * W + w] += g;
                }
              }
            }
          }
        }
        expectClose(gx.buf, expGx, rtol, atol);
      });
    }
  }
});
