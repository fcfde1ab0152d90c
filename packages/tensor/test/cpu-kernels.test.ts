/**
 * Hand-worked checks of the TypeScript CPU backend's kernels (everything but
 * matmul/conv/pool): contiguous and strided (transposed, broadcast, offset)
 * operands, the dtype rules, and PyTorch's edge-case semantics.
 */
import { describe, expect, it } from 'vitest';
import { erf, gelu } from '../src/backend/cpu/erf.js';
import { cpuBackend } from '../src/backend/cpu/index.js';
import { DLError } from '../src/errors.js';
import { contiguousStrides } from '../src/layout.js';
import { type Arg, arg, out, randomViews, values } from './helpers.js';

const K = cpuBackend.kernels;


function expectClose(actual: readonly number[], expected: readonly number[], rel: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (Number.isNaN(e)) expect(a).toBeNaN();
    else expect(Math.abs(a - e)).toBeLessThanOrEqual(rel * Math.max(Math.abs(e), 1e-300));
  }
}

const NO = {} as Record<string, never>;

describe('backend basics', () => {
  it('alloc / write / read per dtype', () => {
    const f = cpuBackend.alloc('float32', 4);
    expect(f).toBeInstanceOf(Float32Array);
    expect([...f]).toEqual([0, 0, 0, 0]);
    cpuBackend.write(f, 'float32', 1, new Float64Array([0.1, 2]));
    const r = cpuBackend.read(f, 'float32', 1, 2);
    expect(r).toBeInstanceOf(Float32Array);
    expect([...r]).toEqual([Math.fround(0.1), 2]);
    r[0] = 9; // a copy
    expect(f[1]).toBe(Math.fround(0.1));
    expect(cpuBackend.alloc('int32', 1)).toBeInstanceOf(Int32Array);
    expect(cpuBackend.alloc('float64', 1)).toBeInstanceOf(Float64Array);
    const b = cpuBackend.alloc('bool', 3);
    expect(b).toBeInstanceOf(Uint8Array);
    cpuBackend.write(b, 'bool', 0, new Float32Array([0.5, 0, -2]));
    expect([...cpuBackend.read(b, 'bool', 0, 3)]).toEqual([1, 0, 1]);
    expect(cpuBackend.name).toBe('cpu-ts');
    expect(cpuBackend.deviceType).toBe('cpu');
  });
});

describe('unary', () => {
  it('round is half to even (float64 and float32), keeping -0', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const x = arg(dtype, [0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -2.6], [7]);
      const y = out(dtype, [7]);
      K.round([x], [y], NO);
      const v = values(y);
      expect(v).toEqual([0, 2, 2, -0, -2, 2, -3]);
      expect(Object.is(v[3], -0)).toBe(true);
      expect(Object.is(v[0], 0)).toBe(true);
    }
  });

  it('erf at known points, scalar and kernel', () => {
    const pts = [0.1, 1, 2, -3, 0, 0.5, 1e-8, 4.5, 7, -Infinity];
    const known = [
      0.1124629160182849, 0.8427007929497149, 0.9953222650189527, -0.9999779095030014, 0, 0.5204998778130465,
      1.1283791670955126e-8, 0.9999999998033839, 1, -1,
    ];
    expectClose(pts.map(erf), known, 1e-15);
    const y = out('float64', [pts.length]);
    K.erf([arg('float64', pts, [pts.length])], [y], NO);
    expectClose(values(y), known, 1e-15);
    const y32 = out('float32', [pts.length]);
    K.erf([arg('float32', pts, [pts.length])], [y32], NO);
    // float32 inputs are rounded first; compare against erf of the rounded input.
    expectClose(values(y32), pts.map((p) => erf(Math.fround(p))), 1e-7);
    expect(erf(Number.NaN)).toBeNaN();
  });

  it('gelu is the exact erf form', () => {
    expect(Math.abs(gelu(1) - 0.8413447460685429)).toBeLessThanOrEqual(1e-15);
    const x = arg('float64', [1, -1, 0, 3, -2.5, -5, -8], [7]);
    const y = out('float64', [7]);
    K.gelu([x], [y], NO);
    // The negative tail keeps its relative accuracy (1 + erf is computed as erfc).
    expectClose(
      values(y),
      [
        0.8413447460685429, -0.15865525393145705, 0, 2.99595030590511, -0.015524163314440337, -1.4332578593959695e-6,
        -4.976768459417427e-15,
      ],
      1e-14,
    );
    const y32 = out('float32', [1]);
    K.gelu([arg('float32', [1], [1])], [y32], NO);
    expect(y32.buf[0]).toBe(Math.fround(0.8413447460685429));
  });

  it('sigmoid is stable; relu keeps NaN; sign(0) = 0', () => {
    const y = out('float64', [5]);
    K.sigmoid([arg('float64', [-1000, 1000, 0, 2, -745], [5])], [y], NO);
    expectClose(values(y), [0, 1, 0.5, 0.8807970779778823, 0], 1e-15);
    const r = out('float32', [4]);
    K.relu([arg('float32', [Number.NaN, -1, 2, -0], [4])], [r], NO);
    expect(values(r)[0]).toBeNaN();
    expect(values(r).slice(1)).toEqual([0, 2, 0]);
    const s = out('float32', [5]);
    K.sign([arg('float32', [0, -0, -3, 7, Number.NaN], [5])], [s], NO);
    expect(values(s).slice(0, 4)).toEqual([0, 0, -1, 1]);
    expect(Object.is(values(s)[1], 0)).toBe(true);
    const si = out('int32', [3]);
    K.sign([arg('int32', [-5, 0, 9], [3])], [si], NO);
    expect(values(si)).toEqual([-1, 0, 1]);
  });

  it('integer neg/abs wrap; logicalNot gives bool', () => {
    const y = out('int32', [3]);
    K.abs([arg('int32', [-2147483648, -3, 4], [3])], [y], NO);
    expect(values(y)).toEqual([-2147483648, 3, 4]);
    const u = out('uint8', [2]);
    K.neg([arg('uint8', [1, 0], [2])], [u], NO);
    expect(values(u)).toEqual([255, 0]);
    const b = out('bool', [4]);
    K.logicalNot([arg('float32', [0, 2, Number.NaN, -0], [4])], [b], NO);
    expect(b.buf).toBeInstanceOf(Uint8Array);
    expect(values(b)).toEqual([1, 0, 0, 1]);
  });

  it('transposed input with an offset (strided path)', () => {
    // base 0..11; x = base[1:].view(3,?) no: x is the 3x2 transpose of the 2x3 block starting at offset 2.
    const base = Array.from({ length: 12 }, (_, i) => i);
    const x = arg('float32', base, [3, 2], [1, 3], 2); // x[i][j] = 2 + i + 3j
    const y = out('float32', [3, 2]);
    K.neg([x], [y], NO);
    expect(values(y)).toEqual([-2, -5, -3, -6, -4, -7]);
  });

  it('clamp: null bounds, NaN passes, min > max gives max', () => {
    const x = arg('float32', [-5, 0.5, 5, Number.NaN], [4]);
    const y = out('float32', [4]);
    K.clamp([x], [y], { min: 0, max: 1 });
    expect(values(y).slice(0, 3)).toEqual([0, 0.5, 1]);
    expect(values(y)[3]).toBeNaN();
    K.clamp([x], [y], { min: null, max: 1 });
    expect(values(y).slice(0, 3)).toEqual([-5, 0.5, 1]);
    K.clamp([x], [y], { min: 2, max: 1 });
    expect(values(y).slice(0, 3)).toEqual([1, 1, 1]);
    const yi = out('int32', [3]);
    K.clamp([arg('int32', [-7, 3, 9], [3], [-1], 2)], [yi], { min: -2, max: 5 }); // reversed view
    expect(values(yi)).toEqual([5, 3, -2]);
  });
});

describe('binary', () => {
  it('broadcast (stride 0) and transposed operands', () => {
    const a = arg('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const b = arg('float32', [10, 20, 30], [2, 3], [0, 1]); // row vector expanded
    const y = out('float32', [2, 3]);
    K.add([a, b], [y], NO);
    expect(values(y)).toEqual([11, 22, 33, 14, 25, 36]);
    const c = arg('float32', [100, 200], [2, 3], [1, 0]); // column vector expanded
    K.sub([a, c], [y], NO);
    expect(values(y)).toEqual([-99, -98, -97, -196, -195, -194]);
    const at = arg('float32', [1, 2, 3, 4, 5, 6], [2, 3], [1, 2]); // transpose of a 3x2
    K.mul([at, a], [y], NO);
    expect(values(y)).toEqual([1 * 1, 3 * 2, 5 * 3, 2 * 4, 4 * 5, 6 * 6]);
  });

  it('scalar operand (0-d expanded) with a non-zero offset', () => {
    const a = arg('float64', [1, 2, 3, 4], [4]);
    const s = arg('float64', [0, 0, 0.5], [4], [0], 2);
    const y = out('float64', [4]);
    K.div([a, s], [y], NO);
    expect(values(y)).toEqual([2, 4, 6, 8]);
    K.pow([a, s], [y], NO);
    expectClose(values(y), [1, Math.SQRT2, Math.sqrt(3), 2], 1e-15);
  });

  it('float pow follows C for pow(1, NaN) and pow(-1, inf)', () => {
    const a = arg('float64', [1, -1, Number.NaN, 2], [4]);
    const b = arg('float64', [Number.NaN, Infinity, 0, -1], [4]);
    const y = out('float64', [4]);
    K.pow([a, b], [y], NO);
    expect(values(y)).toEqual([1, 1, 1, 0.5]);
  });

  it('int32 arithmetic wraps; integer pow by squaring', () => {
    const a = arg('int32', [2147483647, 65536, 46341, 3, 2, 2, -1, 5], [8]);
    const b = arg('int32', [1, 65536, 46341, 4, 31, -1, -3, 0], [8]);
    const y = out('int32', [8]);
    K.add([a, b], [y], NO);
    expect(values(y)[0]).toBe(-2147483648);
    K.mul([a, b], [y], NO);
    expect(values(y).slice(0, 4)).toEqual([2147483647, 0, Math.imul(46341, 46341), 12]);
    K.pow([a, b], [y], NO);
    expect(values(y).slice(3)).toEqual([81, -2147483648, 0, -1, 1]);
    const u = out('uint8', [2]);
    K.sub([arg('uint8', [0, 200], [2]), arg('uint8', [1, 100], [2])], [u], NO);
    expect(values(u)).toEqual([255, 100]);
    K.mul([arg('uint8', [16, 3], [2]), arg('uint8', [16, 5], [2])], [u], NO);
    expect(values(u)).toEqual([0, 15]);
    K.pow([arg('uint8', [2, 3], [2]), arg('uint8', [9, 5], [2])], [u], NO);
    expect(values(u)).toEqual([0, 243]);
  });

  it('maximum/minimum propagate NaN from either side', () => {
    const a = arg('float32', [Number.NaN, 1, 3, -0], [4]);
    const b = arg('float32', [1, Number.NaN, 2, 5], [4]);
    const y = out('float32', [4]);
    K.maximum([a, b], [y], NO);
    const v = values(y);
    expect(v[0]).toBeNaN();
    expect(v[1]).toBeNaN();
    expect(v.slice(2)).toEqual([3, 5]);
    K.minimum([a, b], [y], NO);
    const w = values(y);
    expect(w[0]).toBeNaN();
    expect(w[1]).toBeNaN();
    expect(w.slice(2)).toEqual([2, -0]);
  });

  it('comparisons and logical ops write 0/1 bytes', () => {
    const a = arg('float32', [1, 2, 3, Number.NaN], [4]);
    const b = arg('float32', [2], [4], [0]);
    const y = out('bool', [4]);
    K.lt([a, b], [y], NO);
    expect(values(y)).toEqual([1, 0, 0, 0]);
    K.ge([a, b], [y], NO);
    expect(values(y)).toEqual([0, 1, 1, 0]);
    K.eq([a, b], [y], NO);
    expect(values(y)).toEqual([0, 1, 0, 0]);
    K.ne([a, b], [y], NO);
    expect(values(y)).toEqual([1, 0, 1, 1]);
    const p = arg('bool', [1, 1, 0, 0], [4]);
    const q = arg('bool', [1, 0, 1, 0], [4]);
    K.logicalAnd([p, q], [y], NO);
    expect(values(y)).toEqual([1, 0, 0, 0]);
    K.logicalOr([p, q], [y], NO);
    expect(values(y)).toEqual([1, 1, 1, 0]);
    K.add([p, q], [y], NO); // bool + bool is or
    expect(values(y)).toEqual([1, 1, 1, 0]);
    K.logicalAnd([arg('int32', [5, 0], [2]), arg('int32', [-1, 3], [2])], [out('bool', [2])], NO);
  });

  it('where with a broadcast condition', () => {
    const c = arg('bool', [1, 0, 1], [2, 3], [0, 1]);
    const a = arg('int32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const b = arg('int32', [-1], [2, 3], [0, 0]);
    const y = out('int32', [2, 3]);
    K.where([c, a, b], [y], NO);
    expect(values(y)).toEqual([1, -1, 3, 4, -1, 6]);
  });
});

describe('reductions', () => {
  const x24 = Array.from({ length: 24 }, (_, i) => i);

  it('sum over dims [0, 2] of a 2x3x4 tensor (keepdim [1, 3, 1])', () => {
    const y = out('float32', [1, 3, 1]);
    K.sum([arg('float32', x24, [2, 3, 4])], [y], { dims: [0, 2] });
    expect(values(y)).toEqual([60, 92, 124]);
    const yi = out('int32', [1, 3, 1]);
    K.sum([arg('int32', x24, [2, 3, 4])], [yi], { dims: [0, 2] });
    expect(values(yi)).toEqual([60, 92, 124]);
  });

  it('keepdim shapes for leading, trailing and all dims', () => {
    const x = arg('float64', x24, [2, 3, 4]);
    const y0 = out('float64', [1, 3, 4]);
    K.sum([x], [y0], { dims: [0] });
    expect(values(y0)).toEqual(x24.slice(0, 12).map((v) => v + v + 12));
    const y2 = out('float64', [2, 3, 1]);
    K.max([x], [y2], { dims: [2] });
    expect(values(y2)).toEqual([3, 7, 11, 15, 19, 23]);
    const yAll = out('float64', [1, 1, 1]);
    K.sum([x], [yAll], { dims: [0, 1, 2] });
    expect(values(yAll)).toEqual([276]);
    const y12 = out('float64', [2, 1, 1]);
    K.min([x], [y12], { dims: [1, 2] });
    expect(values(y12)).toEqual([0, 12]);
  });

  it('reduces a transposed view', () => {
    // xt = x.transpose(0, 1) of a 2x3: shape [3, 2], strides [1, 3].
    const xt = arg('float32', [1, 2, 3, 4, 5, 6], [3, 2], [1, 3]);
    const y = out('float32', [3, 1]);
    K.sum([xt], [y], { dims: [1] });
    expect(values(y)).toEqual([5, 7, 9]);
    const y0 = out('float32', [1, 2]);
    K.prod([xt], [y0], { dims: [0] });
    expect(values(y0)).toEqual([6, 120]);
  });

  it('max/min propagate NaN; all/any; bool and int dtypes', () => {
    const x = arg('float32', [1, Number.NaN, 3, 4, 5, 6], [2, 3]);
    const y = out('float32', [2, 1]);
    K.max([x], [y], { dims: [1] });
    expect(values(y)[0]).toBeNaN();
    expect(values(y)[1]).toBe(6);
    const y0 = out('float32', [1, 3]);
    K.min([x], [y0], { dims: [0] });
    expect(values(y0)[0]).toBe(1);
    expect(values(y0)[1]).toBeNaN();
    const b = arg('bool', [1, 1, 0, 1, 1, 1], [2, 3]);
    const cnt = out('int32', [2, 1]);
    K.sum([b], [cnt], { dims: [1] });
    expect(values(cnt)).toEqual([2, 3]);
    const all = out('bool', [2, 1]);
    K.all([b], [all], { dims: [1] });
    expect(values(all)).toEqual([0, 1]);
    const any = out('bool', [1, 3]);
    K.any([arg('float32', [0, 0, Number.NaN, 0, 2, 0], [2, 3])], [any], { dims: [0] });
    expect(values(any)).toEqual([0, 1, 1]);
    const p = out('int32', [1]);
    K.prod([arg('int32', [65536, 65536, 3], [3])], [p], { dims: [0] });
    expect(values(p)).toEqual([0]);
    K.prod([arg('uint8', [200, 200], [2])], [p], { dims: [0] });
    expect(values(p)).toEqual([40000]);
  });

  it('argmax/argmin: first extreme wins, NaN is the extreme', () => {
    const x = arg('float32', [1, 5, 5, 0, 2, Number.NaN, 7, Number.NaN, -1, -1, 9, -1], [3, 4]);
    const y1 = out('int32', [3, 1]);
    K.argmax([x], [y1], { dim: 1 });
    expect(values(y1)).toEqual([1, 1, 2]);
    K.argmin([x], [y1], { dim: 1 });
    expect(values(y1)).toEqual([3, 1, 0]);
    const y0 = out('int32', [1, 4]);
    K.argmax([x], [y0], { dim: 0 });
    expect(values(y0)).toEqual([1, 1, 2, 1]);
    K.argmin([x], [y0], { dim: 0 });
    expect(values(y0)).toEqual([2, 1, 0, 1]);
    const yt = out('int32', [4, 1]);
    K.argmax([{ ...x, shape: [4, 3], strides: [1, 4] }], [yt], { dim: 1 }); // transposed
    expect(values(yt)).toEqual([1, 1, 2, 1]);
    const y2 = out('int32', [1, 1]);
    K.argmax([arg('float64', [3, 3, 1], [3, 1])], [y2], { dim: 0 }); // ties: first
    expect(values(y2)).toEqual([0]);
  });

  it('softmax along dim 0 and dim 1; logSoftmax', () => {
    const x = arg('float64', [1, 2, 3, 1, 1, 1], [2, 3]);
    const e = Math.E;
    const y1 = out('float64', [2, 3]);
    K.softmax([x], [y1], { dim: 1 });
    const s = 1 + e + e * e;
    expectClose(values(y1), [1 / s, e / s, (e * e) / s, 1 / 3, 1 / 3, 1 / 3], 1e-15);
    const y0 = out('float64', [2, 3]);
    K.softmax([x], [y0], { dim: 0 });
    const a = 1 / (1 + e); // x[0][1] = 2 vs x[1][1] = 1
    const b = 1 / (1 + e * e);
    expectClose(values(y0), [0.5, e * a, e * e * b, 0.5, a, b], 1e-15);
    const l = out('float64', [2, 3]);
    K.logSoftmax([x], [l], { dim: 1 });
    expectClose(values(l), [1 - 3 - Math.log(1 + 1 / e + 1 / (e * e)) + 0, 2 - 3 - Math.log(1 + 1 / e + 1 / (e * e)), -Math.log(1 + 1 / e + 1 / (e * e)), -Math.log(3), -Math.log(3), -Math.log(3)], 1e-14);
    K.logSoftmax([x], [l], { dim: 0 });
    expectClose(values(l), [-Math.log(2), Math.log(e * a), Math.log(e * e * b), -Math.log(2), Math.log(a), Math.log(b)], 1e-14);
    // Large values do not overflow; float32 output.
    const big = out('float32', [2]);
    K.softmax([arg('float32', [1000, 1000], [2])], [big], { dim: 0 });
    expect(values(big)).toEqual([0.5, 0.5]);
  });
});

describe('movement', () => {
  it('cast: NaN/Infinity to int throws VALUE; truncation and wrap-around', () => {
    try {
      K.cast([arg('float32', [1, 2, Number.NaN, 4], [2, 2])], [out('int32', [2, 2])], NO);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DLError);
      expect((e as DLError).code).toBe('VALUE');
      expect((e as DLError).message).toContain('NaN');
      expect((e as DLError).message).toContain('[1, 0]');
      expect((e as DLError).message).toContain('where');
    }
    expect(() => K.cast([arg('float64', [Infinity], [1])], [out('uint8', [1])], NO)).toThrow(DLError);
    const u = out('uint8', [3]);
    K.cast([arg('float32', [300.7, -1, 255.9], [3])], [u], NO);
    expect(values(u)).toEqual([44, 255, 255]);
    const i = out('int32', [4]);
    K.cast([arg('float64', [-1.5, 2.9, -0.2, 3e9], [4])], [i], NO);
    expect(values(i)).toEqual([-1, 2, 0, 3e9 - 2 ** 32]);
    const b = out('bool', [4]);
    K.cast([arg('float32', [0, Number.NaN, -0, 0.1], [4])], [b], NO);
    expect(values(b)).toEqual([0, 1, 0, 1]);
    const f = out('float32', [2]);
    K.cast([arg('int32', [16777217, -3], [2])], [f], NO);
    expect(values(f)).toEqual([16777216, -3]);
    const u2 = out('uint8', [2]);
    K.cast([arg('int32', [256 + 7, -1], [2])], [u2], NO);
    expect(values(u2)).toEqual([7, 255]);
  });

  it('copy into a transposed output and from an expanded input', () => {
    const src = arg('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const buf = cpuBackend.alloc('float32', 6);
    const dst: Arg = { buf, dtype: 'float32', shape: [2, 3], strides: [1, 2], offset: 0 }; // transposed view of a 3x2
    K.copy([src], [dst], NO);
    expect([...buf]).toEqual([1, 4, 2, 5, 3, 6]);
    const e = out('int32', [3, 4]);
    K.copy([arg('int32', [7, 8, 9], [3, 4], [1, 0])], [e], NO);
    expect(values(e)).toEqual([7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 9]);
    // A long contiguous copy (block path) into an offset slice.
    const big = Array.from({ length: 40 }, (_, i) => i);
    const d2 = cpuBackend.alloc('float64', 50);
    K.copy([arg('float64', big, [40])], [{ buf: d2, dtype: 'float64', shape: [40], strides: [1], offset: 5 }], NO);
    expect([...d2.slice(5, 45)]).toEqual(big);
    expect(d2[4]).toBe(0);
  });

  it('fill, including a strided output', () => {
    const y = out('float32', [2, 2]);
    K.fill([], [y], { value: 2.5 });
    expect(values(y)).toEqual([2.5, 2.5, 2.5, 2.5]);
    const buf = cpuBackend.alloc('int32', 6);
    K.fill([], [{ buf, dtype: 'int32', shape: [3], strides: [2], offset: 1 }], { value: 7 });
    expect([...buf]).toEqual([0, 7, 0, 7, 0, 7]);
  });

  it('pad with a value', () => {
    const x = arg('int32', [1, 2, 3, 4], [2, 2]);
    const y = out('int32', [3, 5]);
    K.pad([x], [y], {
      pads: [
        [1, 0],
        [2, 1],
      ],
      value: -1,
    });
    expect(values(y)).toEqual([-1, -1, -1, -1, -1, -1, -1, 1, 2, -1, -1, -1, 3, 4, -1]);
  });

  it('cat along dim 1 (contiguous, strided and long-run inputs)', () => {
    const a = arg('float32', [1, 2, 3, 4], [2, 2]);
    const b = arg('float32', [5, 6], [2, 1]);
    const c = arg('float32', [7, 8, 9, 10, 11, 12], [2, 3], [1, 2]); // transposed
    const y = out('float32', [2, 6]);
    K.cat([a, b, c], [y], { dim: 1 });
    expect(values(y)).toEqual([1, 2, 5, 7, 9, 11, 3, 4, 6, 8, 10, 12]);
    const l1 = Array.from({ length: 40 }, (_, i) => i);
    const l2 = Array.from({ length: 20 }, (_, i) => 100 + i);
    const y2 = out('float64', [2, 30]);
    K.cat([arg('float64', l1, [2, 20]), arg('float64', l2, [2, 10])], [y2], { dim: 1 });
    expect(values(y2)).toEqual([...l1.slice(0, 20), ...l2.slice(0, 10), ...l1.slice(20), ...l2.slice(10)]);
    const y0 = out('int32', [3, 2]);
    K.cat([arg('int32', [1, 2], [1, 2]), arg('int32', [3, 4, 5, 6], [2, 2])], [y0], { dim: 0 });
    expect(values(y0)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('indexSelect along dims 0 and 1', () => {
    const x = arg('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const y = out('float32', [2, 4]);
    K.indexSelect([x, arg('int32', [2, 0, 2, 1], [4])], [y], { dim: 1 });
    expect(values(y)).toEqual([3, 1, 3, 2, 6, 4, 6, 5]);
    const y0 = out('float32', [3, 3]);
    K.indexSelect([x, arg('int32', [1, 1, 0], [3])], [y0], { dim: 0 });
    expect(values(y0)).toEqual([4, 5, 6, 4, 5, 6, 1, 2, 3]);
  });

  it('indexAdd with repeated indices', () => {
    const self = arg('float32', [1, 1, 1, 1, 1, 1], [2, 3]);
    const src = arg('float32', [10, 20, 30, 40], [2, 2]);
    const y = out('float32', [2, 3]);
    K.indexAdd([self, arg('int32', [2, 2], [2]), src], [y], { dim: 1 });
    expect(values(y)).toEqual([1, 1, 31, 1, 1, 71]);
    const y0 = out('int32', [3, 2]);
    K.indexAdd([arg('int32', [0, 0, 0, 0, 0, 0], [3, 2]), arg('int32', [0, 0, 2], [3]), arg('int32', [1, 2, 3, 4, 5, 6], [3, 2])], [y0], { dim: 0 });
    expect(values(y0)).toEqual([4, 6, 0, 0, 5, 6]);
  });

  it('gather / scatter / scatterAdd along dim 1 with repeated indices', () => {
    const x = arg('float32', [1, 2, 3, 4, 5, 6], [2, 3]);
    const idx = arg('int32', [2, 2, 0, 1, 1, 1], [2, 3]);
    const g = out('float32', [2, 3]);
    K.gather([x, idx], [g], { dim: 1 });
    expect(values(g)).toEqual([3, 3, 1, 5, 5, 5]);
    // index narrower than self/src: [2, 2]
    const idx2 = arg('int32', [0, 0, 2, 2], [2, 2]);
    const src = arg('float32', [10, 20, 30, 40, 50, 60], [2, 3]);
    const self = arg('float32', [0, 0, 0, 0, 0, 0], [2, 3]);
    const s = out('float32', [2, 3]);
    K.scatter([self, idx2, src], [s], { dim: 1 });
    expect(values(s)).toEqual([20, 0, 0, 0, 0, 50]); // last write wins
    const sa = out('float32', [2, 3]);
    K.scatterAdd([arg('float32', [1, 1, 1, 1, 1, 1], [2, 3]), idx2, src], [sa], { dim: 1 });
    expect(values(sa)).toEqual([31, 1, 1, 1, 1, 91]);
    const sa0 = out('int32', [2, 2]);
    K.scatterAdd([arg('int32', [0, 0, 0, 0], [2, 2]), arg('int32', [1, 1, 1, 0], [2, 2]), arg('int32', [1, 2, 3, 4], [2, 2])], [sa0], { dim: 0 });
    expect(values(sa0)).toEqual([0, 4, 4, 2]);
  });
});

describe('strided walk against a naive loop', () => {
  const { rnd, randomView: view } = randomViews(12345);
  const randomView = (shape: number[]) => view(shape, 'float64');

  it('add, copy, sum, argmax and softmax agree with index arithmetic', () => {
    for (let trial = 0; trial < 60; trial++) {
      const nd = 1 + rnd(4);
      const shape = Array.from({ length: nd }, () => 1 + rnd(4));
      const a = randomView(shape);
      const b = randomView(shape);
      const va = values(a);
      const vb = values(b);
      const y = out('float64', shape);
      K.add([a, b], [y], NO);
      expect(values(y)).toEqual(va.map((v, i) => v + vb[i]));
      // copy into a strided destination
      const dst = randomView(shape);
      if (!dst.strides.includes(0)) {
        K.copy([a], [dst], NO);
        expect(values(dst)).toEqual(va);
      }
      // sum over a random non-empty subset of dims
      const dims = Array.from({ length: nd }, (_, i) => i).filter(() => rnd(2) === 0);
      if (dims.length === 0) dims.push(rnd(nd));
      const outShape = shape.map((s, d) => (dims.includes(d) ? 1 : s));
      const ys = out('float64', outShape);
      K.sum([a], [ys], { dims });
      const expected = new Array<number>(ys.buf.length).fill(0);
      const os = contiguousStrides(outShape);
      va.forEach((v, i) => {
        let rest = i;
        let o = 0;
        for (let d = nd - 1; d >= 0; d--) {
          const id = rest % shape[d];
          rest = (rest - id) / shape[d];
          if (!dims.includes(d)) o += id * os[d];
        }
        expected[o] += v;
      });
      expect(values(ys)).toEqual(expected);
      // argmax along a random dim
      const dim = rnd(nd);
      const ya = out('int32', shape.map((s, d) => (d === dim ? 1 : s)));
      K.argmax([a], [ya], { dim });
      const best = new Array<number>(ya.buf.length).fill(-Infinity);
      const arg0 = new Array<number>(ya.buf.length).fill(0);
      const ao = contiguousStrides(ya.shape);
      va.forEach((v, i) => {
        let rest = i;
        let o = 0;
        let k = 0;
        for (let d = nd - 1; d >= 0; d--) {
          const id = rest % shape[d];
          rest = (rest - id) / shape[d];
          if (d === dim) k = id;
          else o += id * ao[d];
        }
        if (v > best[o]) {
          best[o] = v;
          arg0[o] = k;
        }
      });
      expect(values(ya)).toEqual(arg0);
      // softmax along the same dim (per-position or blocked path, by layout)
      const ysm = out('float64', shape);
      K.softmax([a], [ysm], { dim });
      const mx = new Array<number>(ya.buf.length).fill(-Infinity);
      const sm = new Array<number>(ya.buf.length).fill(0);
      const cell = va.map((_, i) => {
        let rest = i;
        let o = 0;
        for (let d = nd - 1; d >= 0; d--) {
          const id = rest % shape[d];
          rest = (rest - id) / shape[d];
          if (d !== dim) o += id * ao[d];
        }
        return o;
      });
      va.forEach((v, i) => {
        mx[cell[i]] = Math.max(mx[cell[i]], v);
      });
      va.forEach((v, i) => {
        sm[cell[i]] += Math.exp(v - mx[cell[i]]);
      });
      expectClose(
        values(ysm),
        va.map((v, i) => Math.exp(v - mx[cell[i]]) / sm[cell[i]]),
        1e-14,
      );
    }
  });

  it('softmax over a long leading dim (blocked scratch path)', () => {
    const len = 33000; // more than the scratch holds for one position
    const xs = Array.from({ length: len * 2 }, (_, i) => Math.sin(i) * 5);
    const x = arg('float64', xs, [len, 2]);
    const y = out('float64', [len, 2]);
    K.softmax([x], [y], { dim: 0 });
    const l = out('float64', [len, 2]);
    K.logSoftmax([x], [l], { dim: 0 });
    for (let c = 0; c < 2; c++) {
      let m = -Infinity;
      for (let k = 0; k < len; k++) m = Math.max(m, xs[2 * k + c]);
      let s = 0;
      for (let k = 0; k < len; k++) s += Math.exp(xs[2 * k + c] - m);
      for (const k of [0, 1, 777, len - 1]) {
        expect(Math.abs(y.buf[2 * k + c] - Math.exp(xs[2 * k + c] - m) / s)).toBeLessThan(1e-18 + 1e-14 * y.buf[2 * k + c]);
        expect(Math.abs(l.buf[2 * k + c] - (xs[2 * k + c] - m - Math.log(s)))).toBeLessThan(1e-12);
      }
    }
  });
});
