import { describe, expect, it } from 'vitest';
import type { DType } from '../src/dtype.js';
import { DLError } from '../src/errors.js';
import { contiguousStrides, numel } from '../src/layout.js';
import { referenceBackend as ref } from '../src/backend/reference/index.js';
import type { Conv2dAttrs, KernelAttrs, OpName, TensorArg } from '../src/backend/types.js';

type Arg = TensorArg<Float64Array>;

/** A hand-built input; contiguous unless strides / offset are given. */
function t(values: number[], shape: number[], dtype: DType = 'float32', strides?: number[], offset = 0): Arg {
  return { buf: new Float64Array(values), dtype, shape, strides: strides ?? contiguousStrides(shape), offset };
}

/** A fresh contiguous output allocated by the backend. */
function out(shape: number[], dtype: DType = 'float32'): Arg {
  return { buf: ref.alloc(dtype, numel(shape)), dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

/** The values of a contiguous output, as a plain array. */
function vals(a: Arg): number[] {
  return Array.from(ref.read(a.buf, a.dtype, a.offset, numel(a.shape)));
}

function run<K extends OpName>(op: K, ins: Arg[], outs: Arg[], attrs: KernelAttrs[K]): void {
  ref.kernels[op](ins, outs, attrs);
}

/** Runs a one-output kernel and returns its values. */
function run1<K extends OpName>(op: K, ins: Arg[], shape: number[], dtype: DType, attrs: KernelAttrs[K]): number[] {
  const y = out(shape, dtype);
  run(op, ins, [y], attrs);
  return vals(y);
}

function expectClose(actual: number[], expected: number[], tol = 1e-15): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    if (Number.isNaN(e) || !Number.isFinite(e)) expect(a).toBe(e);
    else expect(Math.abs(a - e)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(e)));
  });
}

/** Deterministic pseudo-random values in [-1, 1). */
function randomValues(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const dot = (a: number[], b: number[]): number => a.reduce((acc, v, i) => acc + v * b[i], 0);

describe('reference backend: memory', () => {
  it('allocates zero-filled buffers, writes and reads copies', () => {
    expect(ref.name).toBe('reference');
    expect(ref.deviceType).toBe('reference');
    const buf = ref.alloc('int32', 5);
    expect(Array.from(buf)).toEqual([0, 0, 0, 0, 0]);
    ref.write(buf, 'int32', 1, new Int32Array([7, 8, 9]));
    const r = ref.read(buf, 'int32', 1, 3);
    expect(r).toBeInstanceOf(Float64Array);
    expect(Array.from(r)).toEqual([7, 8, 9]);
    r[0] = 100;
    expect(buf[1]).toBe(7); // read returns a copy
  });

  it('has every kernel', () => {
    for (const op of ['neg', 'gelu', 'where', 'argmin', 'conv2dBackwardWeight', 'adaptiveMaxPool2d', 'scatterAdd'] as const) {
      expect(typeof ref.kernels[op]).toBe('function');
    }
  });
});

describe('reference backend: strided inputs', () => {
  it('reads a transposed view with an offset', () => {
    // buf [_, 1..6]; the view (3, 2) with strides (1, 3) is the transpose of [[1,2,3],[4,5,6]].
    const x = t([99, 1, 2, 3, 4, 5, 6], [3, 2], 'float32', [1, 3], 1);
    expect(run1('neg', [x], [3, 2], 'float32', {})).toEqual([-1, -4, -2, -5, -3, -6]);
  });

  it('reads broadcast (stride 0) inputs', () => {
    const a = t([1, 2, 3], [2, 3], 'float32', [0, 1]); // rows repeat [1, 2, 3]
    const b = t([10, 20], [2, 3], 'float32', [1, 0]); // columns repeat [10, 20]
    expect(run1('add', [a, b], [2, 3], 'float32', {})).toEqual([11, 12, 13, 21, 22, 23]);
  });

  it('copies into a strided (transposed) output', () => {
    const src = t([1, 2, 3, 4], [2, 2]);
    const dst: Arg = { buf: ref.alloc('float32', 4), dtype: 'float32', shape: [2, 2], strides: [1, 2], offset: 0 };
    run('copy', [src], [dst], {});
    expect(Array.from(dst.buf)).toEqual([1, 3, 2, 4]);
  });

  it('copies a broadcast source into an offset output', () => {
    const src = t([5], [2, 2], 'int32', [0, 0]);
    const dst: Arg = { buf: ref.alloc('int32', 6), dtype: 'int32', shape: [2, 2], strides: [2, 1], offset: 2 };
    run('copy', [src], [dst], {});
    expect(Array.from(dst.buf)).toEqual([0, 0, 5, 5, 5, 5]);
  });
});

describe('reference backend: unary', () => {
  it('rounds half to even', () => {
    const y = run1('round', [t([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6], [7])], [7], 'float32', {});
    expect(y).toEqual([0, 2, 2, -0, -2, 2, -3]);
    expect(Object.is(y[3], -0)).toBe(true);
  });

  it('computes erf and gelu to float64 accuracy', () => {
    const e = run1('erf', [t([0.5, -0.5, 0, 3.5, Infinity, -Infinity, NaN], [7], 'float64')], [7], 'float64', {});
    expect(e[0]).toBe(0.5204998778130465);
    expect(e[1]).toBe(-0.5204998778130465);
    expect(e.slice(2)).toEqual([0, 0.9999992569016276, 1, -1, NaN]);
    const g = run1('gelu', [t([1, 0, -1], [3], 'float64')], [3], 'float64', {});
    expect(g[0]).toBe(0.8413447460685429);
    expect(g[1]).toBe(0);
    expect(g[2]).toBeCloseTo(-0.15865525393145707, 15);
  });

  it('follows PyTorch on NaN and signs', () => {
    expect(run1('relu', [t([NaN, -1, 2, -0], [4])], [4], 'float32', {})).toEqual([NaN, 0, 2, 0]);
    expect(run1('sign', [t([NaN, -3, 0, 2], [4])], [4], 'float32', {})).toEqual([NaN, -1, 0, 1]);
    expect(run1('logicalNot', [t([NaN, 0, 2], [3])], [3], 'bool', {})).toEqual([0, 1, 0]);
    expect(run1('sigmoid', [t([0], [1])], [1], 'float32', {})).toEqual([0.5]);
    expect(run1('rsqrt', [t([4], [1])], [1], 'float32', {})).toEqual([0.5]);
  });

  it('keeps exact float64 results for float32 tensors', () => {
    // 0.1 is not rounded to float32 (Math.fround(0.1) !== 0.1).
    expect(run1('abs', [t([-0.1], [1], 'float32')], [1], 'float32', {})).toEqual([0.1]);
  });

  it('wraps integer neg / abs', () => {
    expect(run1('neg', [t([-2147483648, 5], [2], 'int32')], [2], 'int32', {})).toEqual([-2147483648, -5]);
    expect(run1('abs', [t([-2147483648], [1], 'int32')], [1], 'int32', {})).toEqual([-2147483648]);
  });

  it('clamps with optional bounds', () => {
    const x = t([-2, 0.5, 3, NaN], [4]);
    expect(run1('clamp', [x], [4], 'float32', { min: 0, max: 1 })).toEqual([0, 0.5, 1, NaN]);
    expect(run1('clamp', [x], [4], 'float32', { min: null, max: 1 })).toEqual([-2, 0.5, 1, NaN]);
    expect(run1('clamp', [x], [4], 'float32', { min: 0, max: null })).toEqual([0, 0.5, 3, NaN]);
  });
});

describe('reference backend: binary and where', () => {
  it('wraps int32 like C', () => {
    const i32 = (v: number[]) => t(v, [v.length], 'int32');
    expect(run1('add', [i32([2147483647]), i32([1])], [1], 'int32', {})).toEqual([-2147483648]);
    expect(run1('sub', [i32([-2147483648]), i32([1])], [1], 'int32', {})).toEqual([2147483647]);
    // 65536^2 = 2^32 wraps to 0; (2^31-1)^2 = 2^62 - 2^32 + 1 wraps to 1 (exact, not via float64).
    expect(run1('mul', [i32([65536, 2147483647]), i32([65536, 2147483647])], [2], 'int32', {})).toEqual([0, 1]);
  });

  it('wraps uint8 modulo 256', () => {
    const u8 = (v: number[]) => t(v, [v.length], 'uint8');
    expect(run1('add', [u8([250, 3]), u8([10, 0])], [2], 'uint8', {})).toEqual([4, 3]);
    expect(run1('sub', [u8([3]), u8([5])], [1], 'uint8', {})).toEqual([254]);
    expect(run1('mul', [u8([16, 15]), u8([16, 17])], [2], 'uint8', {})).toEqual([0, 255]);
  });

  it('computes integer pow exactly, with wrap and PyTorch negative exponents', () => {
    const i32 = (v: number[]) => t(v, [v.length], 'int32');
    const y = run1('pow', [i32([3, 2, 2, -1, 1, 0, 7]), i32([4, 31, -1, -3, -5, 0, 0])], [7], 'int32', {});
    expect(y).toEqual([81, -2147483648, 0, -1, 1, 1, 1]);
    // 3^40 mod 2^32, wrapped to int32: computed by hand with BigInt.
    const big = Number(BigInt.asIntN(32, 3n ** 40n));
    expect(run1('pow', [i32([3]), i32([40])], [1], 'int32', {})).toEqual([big]);
    expect(run1('pow', [t([2], [1], 'uint8'), t([9], [1], 'uint8')], [1], 'uint8', {})).toEqual([0]);
  });

  it('computes float ops, maximum / minimum propagate NaN', () => {
    const a = t([1, NaN, 3, -1], [4]);
    const b = t([2, 0, NaN, -2], [4]);
    expect(run1('maximum', [a, b], [4], 'float32', {})).toEqual([2, NaN, NaN, -1]);
    expect(run1('minimum', [a, b], [4], 'float32', {})).toEqual([1, NaN, NaN, -2]);
    expect(run1('div', [t([1, 1, -1], [3]), t([4, 0, 0], [3])], [3], 'float32', {})).toEqual([0.25, Infinity, -Infinity]);
    expect(run1('pow', [t([2, 4], [2]), t([-1, 0.5], [2])], [2], 'float32', {})).toEqual([0.5, 2]);
    // C semantics: pow(1, NaN) = 1, pow(-1, inf) = 1, pow(NaN, 0) = 1, pow(-8, 1/3) = NaN
    const pa = t([1, -1, NaN, -8, 0], [5]);
    const pb = t([NaN, Infinity, 0, 1 / 3, -1], [5]);
    expect(run1('pow', [pa, pb], [5], 'float64', {})).toEqual([1, 1, 1, NaN, Infinity]);
  });

  it('compares and combines into bool', () => {
    const a = t([1, 2, NaN, 0], [4]);
    const b = t([1, 3, NaN, 5], [4]);
    expect(run1('eq', [a, b], [4], 'bool', {})).toEqual([1, 0, 0, 0]);
    expect(run1('ne', [a, b], [4], 'bool', {})).toEqual([0, 1, 1, 1]);
    expect(run1('lt', [a, b], [4], 'bool', {})).toEqual([0, 1, 0, 1]);
    expect(run1('le', [a, b], [4], 'bool', {})).toEqual([1, 1, 0, 1]);
    expect(run1('gt', [a, b], [4], 'bool', {})).toEqual([0, 0, 0, 0]);
    expect(run1('ge', [a, b], [4], 'bool', {})).toEqual([1, 0, 0, 0]);
    expect(run1('logicalAnd', [a, b], [4], 'bool', {})).toEqual([1, 1, 1, 0]);
    expect(run1('logicalOr', [t([0, 0], [2]), t([0, NaN], [2])], [2], 'bool', {})).toEqual([0, 1]);
  });

  it('selects with where (broadcast condition)', () => {
    const cond = t([1, 0], [2, 2], 'bool', [0, 1]);
    const a = t([1, 2, 3, 4], [2, 2], 'int32');
    const b = t([-1], [2, 2], 'int32', [0, 0]);
    expect(run1('where', [cond, a, b], [2, 2], 'int32', {})).toEqual([1, -1, 3, -1]);
  });
});

describe('reference backend: reductions', () => {
  // x (2, 2, 2) = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
  const x = t([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);

  it('sums / multiplies over dims in keepdim form', () => {
    expect(run1('sum', [x], [1, 2, 1], 'float32', { dims: [0, 2] })).toEqual([1 + 2 + 5 + 6, 3 + 4 + 7 + 8]);
    expect(run1('sum', [x], [1, 1, 1], 'float32', { dims: [0, 1, 2] })).toEqual([36]);
    expect(run1('prod', [x], [2, 1, 2], 'float32', { dims: [1] })).toEqual([3, 8, 35, 48]);
    expect(run1('max', [x], [2, 2, 1], 'float32', { dims: [2] })).toEqual([2, 4, 6, 8]);
    expect(run1('min', [x], [1, 2, 2], 'float32', { dims: [0] })).toEqual([1, 2, 3, 4]);
  });

  it('sums bool / integers into int32, wrapping', () => {
    expect(run1('sum', [t([1, 1, 0, 1], [4], 'bool')], [1], 'int32', { dims: [0] })).toEqual([3]);
    expect(run1('sum', [t([2147483647, 1], [2], 'int32')], [1], 'int32', { dims: [0] })).toEqual([-2147483648]);
    expect(run1('sum', [t([255, 255], [2], 'uint8')], [1], 'int32', { dims: [0] })).toEqual([510]);
    expect(run1('prod', [t([65536, 65536, 3], [3], 'int32')], [1], 'int32', { dims: [0] })).toEqual([0]);
  });

  it('propagates NaN through max / min; all / any treat NaN as true', () => {
    const y = t([1, NaN, 3, 0, -1, 2], [2, 3]);
    expect(run1('max', [y], [2, 1], 'float32', { dims: [1] })).toEqual([NaN, 2]);
    expect(run1('min', [y], [2, 1], 'float32', { dims: [1] })).toEqual([NaN, -1]);
    expect(run1('all', [y], [2, 1], 'bool', { dims: [1] })).toEqual([1, 0]);
    expect(run1('any', [t([0, 0, 0, NaN], [2, 2])], [2, 1], 'bool', { dims: [1] })).toEqual([0, 1]);
  });

  it('argmax / argmin: first index of the extreme; NaN is the extreme', () => {
    expect(run1('argmax', [t([1, 3, 3, 2], [4])], [1], 'int32', { dim: 0 })).toEqual([1]);
    expect(run1('argmin', [t([2, 0, 5, 0], [4])], [1], 'int32', { dim: 0 })).toEqual([1]);
    expect(run1('argmax', [t([1, NaN, 9, NaN], [4])], [1], 'int32', { dim: 0 })).toEqual([1]);
    expect(run1('argmin', [t([1, -5, NaN], [3])], [1], 'int32', { dim: 0 })).toEqual([2]);
    // along dim 0 of [[1, 5], [4, 2]]
    expect(run1('argmax', [t([1, 5, 4, 2], [2, 2])], [1, 2], 'int32', { dim: 0 })).toEqual([1, 0]);
  });

  it('softmax / logSoftmax of [1, 2, 3]', () => {
    const s = 1 + Math.exp(-1) + Math.exp(-2);
    const x3 = t([1, 2, 3], [3]);
    expectClose(run1('softmax', [x3], [3], 'float32', { dim: 0 }), [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]);
    expectClose(run1('softmax', [x3], [3], 'float32', { dim: 0 }), [Math.exp(-2) / s, Math.exp(-1) / s, 1 / s]);
    expectClose(run1('logSoftmax', [x3], [3], 'float32', { dim: 0 }), [-2.40760596444438, -1.4076059644443804, -0.4076059644443803]);
    // max-subtracted: no overflow
    expect(run1('softmax', [t([1000, 1000], [2])], [2], 'float32', { dim: 0 })).toEqual([0.5, 0.5]);
    // along dim 0 of a (2, 2): columns [0, ln 3] and [5, 5]
    expectClose(run1('softmax', [t([0, 5, Math.log(3), 5], [2, 2])], [2, 2], 'float32', { dim: 0 }), [0.25, 0.5, 0.75, 0.5]);
  });
});

describe('reference backend: matmul', () => {
  it('2x3 @ 3x2 by hand', () => {
    const a = t([1, 2, 3, 4, 5, 6], [1, 2, 3]);
    const b = t([7, 8, 9, 10, 11, 12], [1, 3, 2]);
    // [1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12]
    expect(run1('matmul', [a, b], [1, 2, 2], 'float32', {})).toEqual([58, 64, 139, 154]);
  });

  it('transposed b and a broadcast batch (stride 0)', () => {
    const a = t([1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0], [2, 2, 3]);
    // b^T stored as (2, 3) = [[7, 9, 11], [8, 10, 12]]; viewed as (3, 2) with strides (1, 3); batch stride 0.
    const b = t([7, 9, 11, 8, 10, 12], [2, 3, 2], 'float32', [0, 1, 3]);
    expect(run1('matmul', [a, b], [2, 2, 2], 'float32', {})).toEqual([58, 64, 139, 154, 7, 8, 9, 10]);
  });
});

describe('reference backend: conv2d', () => {
  const attrs = (over: Partial<Conv2dAttrs> = {}): Conv2dAttrs => ({
    stride: [1, 1],
    padding: [0, 0],
    dilation: [1, 1],
    groups: 1,
    ...over,
  });

  it('1x1x3x3 input, 2x2 kernel, padding 1, by hand', () => {
    const x = t([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const w = t([1, 2, 3, 4], [1, 1, 2, 2]);
    // y[oh][ow] = sum x[oh-1+kh][ow-1+kw] * w[kh][kw], zero outside
    const expected = [4, 11, 18, 9, 18, 37, 47, 21, 36, 67, 77, 33, 14, 23, 26, 9];
    expect(run1('conv2d', [x, w], [1, 1, 4, 4], 'float32', attrs({ padding: [1, 1] }))).toEqual(expected);
    const bias = t([0.5], [1]);
    expect(run1('conv2d', [x, w, bias], [1, 1, 4, 4], 'float32', attrs({ padding: [1, 1] }))).toEqual(
      expected.map((v) => v + 0.5),
    );
  });

  it('stride 2 and dilation 2, by hand', () => {
    const x = t([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 1, 4, 4]);
    const w = t([1, 10], [1, 1, 1, 2]);
    // stride (2, 1), dilation (1, 2): y[oh][ow] = x[2oh][ow] + 10 x[2oh][ow+2]
    expect(run1('conv2d', [x, w], [1, 1, 2, 2], 'float32', attrs({ stride: [2, 1], dilation: [1, 2] }))).toEqual([
      1 + 30, 2 + 40, 9 + 110, 10 + 120,
    ]);
  });

  it('groups = 2', () => {
    // x channels: c0 = [1, 2, 3, 4], c1 = [5, 6, 7, 8]; outputs 0, 1 read c0, outputs 2, 3 read c1.
    const x = t([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const w = t([1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1], [4, 1, 2, 2]);
    expect(run1('conv2d', [x, w], [1, 4, 1, 1], 'float32', attrs({ groups: 2 }))).toEqual([5, 2, 26, 8]);
  });

  /** Output size floor((H + 2p - d(k-1) - 1) / s) + 1 */
  const outSize = (n: number, k: number, s: number, p: number, d: number) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

  const configs: { name: string; x: number[]; w: number[]; a: Conv2dAttrs }[] = [
    { name: 'groups 2, stride (2,1), padding (1,2), dilation (1,2)', x: [2, 4, 5, 5], w: [6, 2, 3, 3], a: attrs({ groups: 2, stride: [2, 1], padding: [1, 2], dilation: [1, 2] }) },
    { name: 'stride 3 skipping inputs', x: [1, 2, 7, 6], w: [3, 2, 2, 2], a: attrs({ stride: [3, 3] }) },
    { name: 'padding larger than kernel reach', x: [1, 3, 3, 4], w: [3, 1, 2, 3], a: attrs({ groups: 3, padding: [2, 1], stride: [1, 2] }) },
  ];

  for (const { name, x: xs, w: ws, a } of configs) {
    it(`backward input / weight match finite differences of the forward: ${name}`, () => {
      const ys = [xs[0], ws[0], outSize(xs[2], ws[2], a.stride[0], a.padding[0], a.dilation[0]), outSize(xs[3], ws[3], a.stride[1], a.padding[1], a.dilation[1])];
      const xv = randomValues(numel(xs), 1);
      const wv = randomValues(numel(ws), 2);
      const gy = randomValues(numel(ys), 3);
      // L(x, w) = sum(gradY * conv(x, w)) is linear in x and in w, so a difference with step 1 is exact up to rounding.
      const loss = (xx: number[], ww: number[]) => dot(gy, run1('conv2d', [t(xx, xs), t(ww, ws)], ys, 'float64', a));
      const gx = run1('conv2dBackwardInput', [t(gy, ys), t(wv, ws)], xs, 'float64', a);
      const gw = run1('conv2dBackwardWeight', [t(gy, ys), t(xv, xs)], ws, 'float64', a);
      const base = loss(xv, wv);
      const fdX = xv.map((_, i) => loss(xv.map((v, j) => (j === i ? v + 1 : v)), wv) - base);
      const fdW = wv.map((_, i) => loss(xv, wv.map((v, j) => (j === i ? v + 1 : v))) - base);
      expectClose(gx, fdX, 1e-12);
      expectClose(gw, fdW, 1e-12);
      expect(gx.some((v) => v !== 0)).toBe(true);
    });
  }
});

describe('reference backend: pooling', () => {
  const pool = { kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false } as const;

  it('maxPool2d values and indices (h*W + w)', () => {
    const x = t([1, 5, 2, 0, 3, 4, 8, 9, 7, 7, 1, 1, 7, 6, 1, 2], [1, 1, 4, 4]);
    const y = out([1, 1, 2, 2]);
    const idx = out([1, 1, 2, 2], 'int32');
    run('maxPool2d', [x], [y, idx], pool);
    expect(vals(y)).toEqual([5, 9, 7, 2]);
    expect(vals(idx)).toEqual([1, 7, 8, 15]); // tie 7, 7 (cells 8, 9) -> first
  });

  it('maxPool2d: padding is -inf, NaN wins, ceilMode keeps a partial window', () => {
    // 3x3 all negative, kernel 3, stride 2, padding 1: out 2x2, padding never chosen
    const x = t([-1, -2, -3, -4, -5, -6, -7, -8, -9], [1, 1, 3, 3]);
    const y = out([1, 1, 2, 2]);
    const idx = out([1, 1, 2, 2], 'int32');
    run('maxPool2d', [x], [y, idx], { ...pool, kernelSize: [3, 3], padding: [1, 1] });
    expect(vals(y)).toEqual([-1, -2, -4, -5]);
    expect(vals(idx)).toEqual([0, 1, 3, 4]);

    const xn = t([1, NaN, 3, 4], [1, 1, 2, 2]);
    const yn = out([1, 1, 1, 1]);
    const idn = out([1, 1, 1, 1], 'int32');
    run('maxPool2d', [xn], [yn, idn], pool);
    expect(vals(yn)).toEqual([NaN]);
    expect(vals(idn)).toEqual([1]);

    // 1x3 input, kernel 2, stride 2, ceilMode: out width 2, the last window is the single cell 2.
    const xc = t([1, 2, 3], [1, 1, 1, 3]);
    const yc = out([1, 1, 1, 2]);
    const idc = out([1, 1, 1, 2], 'int32');
    run('maxPool2d', [xc], [yc, idc], { ...pool, kernelSize: [1, 2], stride: [1, 2], ceilMode: true });
    expect(vals(yc)).toEqual([2, 3]);
    expect(vals(idc)).toEqual([1, 2]);
  });

  it('maxPool2dBackward accumulates into the chosen cells', () => {
    const gy = t([1, 2, 3, 4], [1, 1, 2, 2]);
    const indices = t([0, 0, 3, 5], [1, 1, 2, 2], 'int32');
    expect(run1('maxPool2dBackward', [gy, indices], [1, 1, 2, 3], 'float32', {})).toEqual([3, 0, 0, 3, 0, 4]);
  });

  it('avgPool2d with countIncludePad both ways', () => {
    const x = t([1, 2, 3, 4], [1, 1, 2, 2]);
    const a = { kernelSize: [2, 2], stride: [2, 2], padding: [1, 1], ceilMode: false, divisorOverride: null } as const;
    // every window holds one real cell and three padding cells
    expect(run1('avgPool2d', [x], [1, 1, 2, 2], 'float32', { ...a, countIncludePad: true })).toEqual([0.25, 0.5, 0.75, 1]);
    expect(run1('avgPool2d', [x], [1, 1, 2, 2], 'float32', { ...a, countIncludePad: false })).toEqual([1, 2, 3, 4]);
    expect(run1('avgPool2d', [x], [1, 1, 2, 2], 'float32', { ...a, countIncludePad: true, divisorOverride: 2 })).toEqual([0.5, 1, 1.5, 2]);
  });

  it('avgPool2d ceilMode: the divisor is clipped to the padded input', () => {
    // 4x4 = 1..16, kernel 3, stride 2, padding 1, ceilMode: out 3x3.
    const x = t(Array.from({ length: 16 }, (_, i) => i + 1), [1, 1, 4, 4]);
    const a = { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true, divisorOverride: null } as const;
    const inc = run1('avgPool2d', [x], [1, 1, 3, 3], 'float64', { ...a, countIncludePad: true });
    const exc = run1('avgPool2d', [x], [1, 1, 3, 3], 'float64', { ...a, countIncludePad: false });
    // window (2, 2): rows/cols [3, 6) clipped to the padded input -> [3, 5), i.e. 2x2 = 4; real cell: x[3][3] = 16
    expect(inc[8]).toBe(16 / 4);
    expect(exc[8]).toBe(16);
    // window (0, 0): rows/cols [-1, 2): 9 cells with padding, real x[0..1][0..1] = 1 + 2 + 5 + 6
    expect(inc[0]).toBe(14 / 9);
    expect(exc[0]).toBe(14 / 4);
    // window (1, 2): rows [1, 4) real, cols [3, 6) -> [3, 5): 3x2 = 6 with padding; real x[1..3][3] = 8 + 12 + 16
    expect(inc[5]).toBe(36 / 6);
    expect(exc[5]).toBe(36 / 3);
  });

  it('avgPool2dBackward is the adjoint of avgPool2d', () => {
    for (const countIncludePad of [true, false]) {
      const a = { kernelSize: [3, 2], stride: [2, 1], padding: [1, 1], ceilMode: true, countIncludePad, divisorOverride: null } as const;
      const xs = [2, 1, 4, 5];
      const ys = [2, 1, 3, 6];
      const xv = randomValues(numel(xs), 4);
      const gy = randomValues(numel(ys), 5);
      const y = run1('avgPool2d', [t(xv, xs)], ys, 'float64', a);
      const gx = run1('avgPool2dBackward', [t(gy, ys)], xs, 'float64', a);
      expect(Math.abs(dot(gy, y) - dot(gx, xv))).toBeLessThan(1e-13);
    }
  });

  it('adaptive avg / max pooling, 3x3 -> 2x2 (overlapping windows)', () => {
    const x = t([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    // windows: rows/cols [0, 2) and [1, 3)
    expect(run1('adaptiveAvgPool2d', [x], [1, 1, 2, 2], 'float32', {})).toEqual([3, 4, 6, 7]);
    const y = out([1, 1, 2, 2]);
    const idx = out([1, 1, 2, 2], 'int32');
    run('adaptiveMaxPool2d', [x], [y, idx], {});
    expect(vals(y)).toEqual([5, 6, 8, 9]);
    expect(vals(idx)).toEqual([4, 5, 7, 8]);
    // backward: cell (1, 1) is in all four windows
    const gx = run1('adaptiveAvgPool2dBackward', [t([4, 8, 12, 16], [1, 1, 2, 2])], [1, 1, 3, 3], 'float32', {});
    expect(gx).toEqual([1, 1 + 2, 2, 1 + 3, 1 + 2 + 3 + 4, 2 + 4, 3, 3 + 4, 4]);
  });
});

describe('reference backend: cast', () => {
  it('truncates toward zero and wraps', () => {
    const x = t([2.7, -2.7, 3e9, -0.5], [4], 'float32');
    expect(run1('cast', [x], [4], 'int32', {})).toEqual([2, -2, 3e9 - 2 ** 32, 0]);
    expect(run1('cast', [t([300, -1, -1.5, 255.9], [4])], [4], 'uint8', {})).toEqual([44, 255, 255, 255]);
    expect(run1('cast', [t([NaN, 0, -0, 0.1, -Infinity], [5])], [5], 'bool', {})).toEqual([1, 0, 0, 1, 1]);
    expect(run1('cast', [t([1, 0, 1], [3], 'bool')], [3], 'float64', {})).toEqual([1, 0, 1]);
  });

  it('throws VALUE for NaN / Infinity to an integer dtype', () => {
    for (const [v, dtype] of [[NaN, 'int32'], [Infinity, 'int32'], [-Infinity, 'uint8']] as const) {
      let err: unknown;
      try {
        run('cast', [t([1, v], [2])], [out([2], dtype)], {});
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DLError);
      expect((err as DLError).code).toBe('VALUE');
      expect((err as DLError).op).toBe('cast');
      expect((err as DLError).message).toContain(String(v));
      expect((err as DLError).message).toContain('nan_to_num');
    }
  });
});

describe('reference backend: data movement', () => {
  it('fills, normalised to the dtype', () => {
    expect(run1('fill', [], [2, 2], 'int32', { value: 7 })).toEqual([7, 7, 7, 7]);
    expect(run1('fill', [], [2], 'bool', { value: 1 })).toEqual([1, 1]);
  });

  it('pads with a constant', () => {
    const x = t([1, 2, 3, 4], [2, 2]);
    expect(run1('pad', [x], [3, 5], 'float32', { pads: [[1, 0], [2, 1]], value: -1 })).toEqual([
      -1, -1, -1, -1, -1, -1, -1, 1, 2, -1, -1, -1, 3, 4, -1,
    ]);
  });

  it('concatenates along a dim', () => {
    const a = t([1, 2, 3, 4], [2, 2]);
    const b = t([5, 6], [2, 1]);
    expect(run1('cat', [a, b], [2, 3], 'float32', { dim: 1 })).toEqual([1, 2, 5, 3, 4, 6]);
    expect(run1('cat', [a, t([9, 9], [1, 2])], [3, 2], 'float32', { dim: 0 })).toEqual([1, 2, 3, 4, 9, 9]);
  });

  it('indexSelect / indexAdd along dim 1', () => {
    const x = t([1, 2, 3, 4, 5, 6], [2, 3]);
    const index = t([2, 0, 2], [3], 'int32');
    expect(run1('indexSelect', [x, index], [2, 3], 'float32', { dim: 1 })).toEqual([3, 1, 3, 6, 4, 6]);
    const source = t([10, 20, 30, 40, 50, 60], [2, 3]);
    // column 2 gets source columns 0 and 2, column 0 gets source column 1
    expect(run1('indexAdd', [x, index, source], [2, 3], 'float32', { dim: 1 })).toEqual([
      1 + 20, 2, 3 + 10 + 30, 4 + 50, 5, 6 + 40 + 60,
    ]);
  });

  it('gather along dim 0 and dim 1', () => {
    const x = t([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(run1('gather', [x, t([1, 0, 1], [1, 3], 'int32')], [1, 3], 'float32', { dim: 0 })).toEqual([4, 2, 6]);
    expect(run1('gather', [x, t([2, 2, 0, 1], [2, 2], 'int32')], [2, 2], 'float32', { dim: 1 })).toEqual([3, 3, 4, 5]);
  });

  it('scatter / scatterAdd with repeated indices', () => {
    const self = t([0, 0, 0, 0, 0, 0], [3, 2]);
    const src = t([1, 2, 3, 4, 5, 6], [3, 2]);
    const index = t([0, 2, 0, 2, 1, 2], [3, 2], 'int32');
    // dim 0: y[index[i][j]][j] += src[i][j]
    expect(run1('scatterAdd', [self, index, src], [3, 2], 'float32', { dim: 0 })).toEqual([1 + 3, 0, 5, 0, 0, 2 + 4 + 6]);
    // scatter: a repeated target keeps the last write in row-major order
    expect(run1('scatter', [self, index, src], [3, 2], 'float32', { dim: 0 })).toEqual([3, 0, 5, 0, 0, 6]);
    // dim 1, index smaller than src: only index's cells are used
    const self2 = t([1, 1, 1, 1, 1, 1], [2, 3], 'int32');
    const index2 = t([2, 2, 0], [1, 3], 'int32');
    const src2 = t([10, 20, 30, 40, 50, 60, 70, 80], [2, 4], 'int32');
    expect(run1('scatterAdd', [self2, index2, src2], [2, 3], 'int32', { dim: 1 })).toEqual([1 + 30, 1, 1 + 10 + 20, 1, 1, 1]);
  });

  it('scatterAdd wraps int32', () => {
    const self = t([2147483647], [1], 'int32');
    expect(run1('scatterAdd', [self, t([0, 0], [2], 'int32'), t([1, 1], [2], 'int32')], [1], 'int32', { dim: 0 })).toEqual([
      -2147483647,
    ]);
  });
});
