/**
 * Composite ops (written over primitives) against hand-worked values: the op specs check that
 * every backend agrees with the reference, these check the composites themselves.
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';

const m3 = () => T.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);

describe('flip / roll / repeat / tile', () => {
  it('flip reverses the given dims', () => {
    const x = T.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(x.flip(1).toArray()).toEqual([[3, 2, 1], [6, 5, 4]]);
    expect(x.flip(0, 1).toArray()).toEqual([[6, 5, 4], [3, 2, 1]]);
    expect(T.flip(x, [-2]).toArray()).toEqual([[4, 5, 6], [1, 2, 3]]);
  });

  it('roll moves entries by the shift, wrapping around; without dims over the flattened tensor', () => {
    const v = T.tensor([1, 2, 3, 4, 5]);
    expect(v.roll(2).toArray()).toEqual([4, 5, 1, 2, 3]);
    expect(v.roll(-1).toArray()).toEqual([2, 3, 4, 5, 1]);
    expect(v.roll(12).toArray()).toEqual([4, 5, 1, 2, 3]);
    const x = T.tensor([[1, 2], [3, 4]]);
    expect(x.roll(1).toArray()).toEqual([[4, 1], [2, 3]]);
    expect(x.roll([1, 1], [0, 1]).toArray()).toEqual([[4, 3], [2, 1]]);
    expect(x.roll(1, 1).toArray()).toEqual([[2, 1], [4, 3]]);
  });

  it('repeat tiles the whole tensor (with new leading dims) and always copies', () => {
    const v = T.tensor([1, 2]);
    expect(v.repeat(2, 2).toArray()).toEqual([[1, 2, 1, 2], [1, 2, 1, 2]]);
    expect(T.tensor([[1], [2]]).repeat(1, 3).toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(v.repeat(0).shape).toEqual([0]);
    const same = v.repeat(1);
    same.fill_(7);
    expect(v.toArray()).toEqual([1, 2]);
    expect(T.tensor([[1, 2]]).tile([2]).toArray()).toEqual([[1, 2, 1, 2]]);
    expect(v.tile([2, 1]).toArray()).toEqual([[1, 2], [1, 2]]);
  });
});

describe('tril / triu', () => {
  it('keep the triangle on the chosen side of the diagonal, zeros elsewhere', () => {
    expect(m3().tril().toArray()).toEqual([[1, 0, 0], [4, 5, 0], [7, 8, 9]]);
    expect(m3().tril(-1).toArray()).toEqual([[0, 0, 0], [4, 0, 0], [7, 8, 0]]);
    expect(m3().triu(1).toArray()).toEqual([[0, 2, 3], [0, 0, 6], [0, 0, 0]]);
    expect(m3().triu(-1).toArray()).toEqual([[1, 2, 3], [4, 5, 6], [0, 8, 9]]);
    // Batched: the last two dims of each matrix; a wide matrix; dtype kept.
    const b = T.stack([m3(), m3().neg()]).tril();
    expect(b.toArray()).toEqual([[[1, 0, 0], [4, 5, 0], [7, 8, 9]], [[-1, 0, 0], [-4, -5, 0], [-7, -8, -9]]]);
    expect(T.tensor([[1, 2, 3, 4]], { dtype: 'int32' }).triu(2)).toMatchObject({ dtype: 'int32' });
    expect(T.tensor([[1, 2, 3, 4]], { dtype: 'int32' }).triu(2).toArray()).toEqual([[0, 0, 3, 4]]);
  });
});

describe('isnan / isinf / isfinite / isclose / allclose', () => {
  const a = T.tensor([0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2]);
  it('classify NaN and infinities', () => {
    expect(a.isnan().toArray()).toEqual([false, true, false, false, false]);
    expect(a.isinf().toArray()).toEqual([false, false, true, true, false]);
    expect(a.isfinite().toArray()).toEqual([true, false, false, false, true]);
    expect(T.tensor([1, 2], { dtype: 'int32' }).isfinite().toArray()).toEqual([true, true]);
  });

  it('isclose: |a - b| <= atol + rtol * |b|, infinities only to themselves, NaN only with equalNan', () => {
    const b = T.tensor([1e-9, Number.NaN, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 2.000001]);
    // 2 vs 2.000001 (9.5e-7 apart in float32): within 1e-8 + 1e-5 * 2, not within 1e-7 alone;
    // 0 vs 1e-9: within atol 1e-8 but not 1e-10.
    expect(a.isclose(b).toArray()).toEqual([true, false, true, false, true]);
    expect(a.isclose(b, { rtol: 0, atol: 1e-7 }).toArray()).toEqual([true, false, true, false, false]);
    expect(a.isclose(b, { rtol: 0, atol: 1e-10 }).toArray()).toEqual([false, false, true, false, false]);
    expect(a.isclose(b, { equalNan: true }).toArray()).toEqual([true, true, true, false, true]);
    expect(T.tensor([1, 1.1]).isclose(1, { rtol: 0, atol: 0.1 + 1e-7 }).toArray()).toEqual([true, true]);
    expect(T.tensor([1, 1.2]).isclose(1, { rtol: 0, atol: 0.1 }).toArray()).toEqual([true, false]);
  });

  it('allclose says whether isclose holds everywhere', () => {
    expect(T.allclose(T.tensor([1, 2]), T.tensor([1, 2 + 1e-6]))).toBe(true);
    expect(T.tensor([1, 2]).allclose(T.tensor([1, 2.1]))).toBe(false);
    expect(T.tensor([[1, 2], [1, 2]]).allclose(T.tensor([1, 2]))).toBe(true);
    expect(T.tensor([Number.NaN]).allclose(T.tensor([Number.NaN]))).toBe(false);
    expect(T.tensor([Number.NaN]).allclose(T.tensor([Number.NaN]), { equalNan: true })).toBe(true);
  });
});

describe('sort / argsort / topk', () => {
  it('sort orders each line, NaN above every number, ties in their original order', () => {
    const x = T.tensor([3, Number.NaN, -1, 2]);
    const up = x.sort();
    expect(Array.from(up.values.dataSync())).toEqual([-1, 2, 3, Number.NaN]);
    expect(up.indices.toArray()).toEqual([2, 3, 0, 1]);
    expect(up.indices.dtype).toBe('int32');
    const down = x.sort(0, true);
    expect(Array.from(down.values.dataSync())).toEqual([Number.NaN, 3, 2, -1]);
    expect(down.indices.toArray()).toEqual([1, 0, 3, 2]);
    const ties = T.tensor([[1, 0, 1, 0], [5, 5, 5, 4]]);
    expect(ties.sort(1).indices.toArray()).toEqual([[1, 3, 0, 2], [3, 0, 1, 2]]);
    expect(ties.sort(1, true).indices.toArray()).toEqual([[0, 2, 1, 3], [0, 1, 2, 3]]);
    expect(ties.sort(0).values.toArray()).toEqual([[1, 0, 1, 0], [5, 5, 5, 4]]);
    expect(T.argsort(T.tensor([[2, 1], [0, 3]]), 0, true).toArray()).toEqual([[0, 1], [1, 0]]);
  });

  it('topk: the k largest (or smallest) first, with their positions', () => {
    const x = T.tensor([[1, 3, 2, 3], [4, -1, 0, 7]]);
    const top = x.topk(2);
    expect(top.values.toArray()).toEqual([[3, 3], [7, 4]]);
    expect(top.indices.toArray()).toEqual([[1, 3], [3, 0]]);
    const low = x.topk(1, 0, false);
    expect(low.values.toArray()).toEqual([[1, -1, 0, 3]]);
    expect(low.indices.toArray()).toEqual([[0, 1, 1, 0]]);
    expect(x.topk(0).values.shape).toEqual([2, 0]);
  });
});

describe('cumsum', () => {
  it('running sums along a dim; integers and bools give int32, which wraps', () => {
    expect(T.tensor([[1, 2, 3], [4, 5, 6]]).cumsum(1).toArray()).toEqual([[1, 3, 6], [4, 9, 15]]);
    expect(T.tensor([[1, 2, 3], [4, 5, 6]]).cumsum(0).toArray()).toEqual([[1, 2, 3], [5, 7, 9]]);
    const b = T.tensor([true, false, true, true]).cumsum(0);
    expect([b.dtype, b.toArray()]).toEqual(['int32', [1, 1, 2, 3]]);
    expect(T.tensor([2 ** 31 - 1, 1, 1], { dtype: 'int32' }).cumsum(0).toArray()).toEqual([2 ** 31 - 1, -(2 ** 31), -(2 ** 31) + 1]);
  });
});
