import { describe, expect, it } from 'vitest';
import { arange, tensor, zeros, DLError } from '../src/index.js';

const x = () => arange(0, 24, 1, { dtype: 'float32' }).reshape(2, 3, 4);

describe('views share storage and need no copy', () => {
  it('reshape/view, permute, transpose, expand, slice, narrow, select, squeeze, unsqueeze, flatten are views', () => {
    const t = x();
    const views = [t.view(6, 4), t.reshape(-1), t.permute(2, 0, 1), t.transpose(0, 2), t.slice(2, 1, 4, 2), t.narrow(1, 1, 2), t.select(1, 2), t.unsqueeze(0).squeeze(0), t.flatten(1), t.unsqueeze(1).expand(2, 5, 3, 4)];
    for (const v of views) expect(v.storage).toBe(t.storage);
  });

  it('views index the right elements', () => {
    const t = x(); // t[i][j][k] = 12 i + 4 j + k
    expect(t.permute(2, 0, 1).toArray()).toEqual([[[0, 4, 8], [12, 16, 20]], [[1, 5, 9], [13, 17, 21]], [[2, 6, 10], [14, 18, 22]], [[3, 7, 11], [15, 19, 23]]]);
    expect(t.select(1, 2).toArray()).toEqual([[8, 9, 10, 11], [20, 21, 22, 23]]);
    expect(t.slice(2, 1, 4, 2).toArray()).toEqual([[[1, 3], [5, 7], [9, 11]], [[13, 15], [17, 19], [21, 23]]]);
    expect(t.slice(1, -1).toArray()).toEqual([[[8, 9, 10, 11]], [[20, 21, 22, 23]]]);
    expect(tensor([1, 2]).reshape(2, 1).expand(2, 3).toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(tensor([[1, 2, 3]]).expand(2, -1).toArray()).toEqual([[1, 2, 3], [1, 2, 3]]);
  });

  it('reshape of a non-viewable layout copies; view refuses with a hint', () => {
    const t = x().transpose(0, 2);
    const r = t.reshape(24);
    expect(r.storage).not.toBe(t.storage);
    expect(Array.from(r.dataSync()).slice(0, 4)).toEqual([0, 12, 4, 16]);
    expect(() => t.view(24)).toThrowError(/view: a view of shape \[24\] is not compatible[\s\S]*hint: use reshape\(\)/);
  });

  it('contiguous() copies only when needed', () => {
    const t = x();
    expect(t.contiguous()).toBe(t);
    const p = t.permute(1, 0, 2);
    expect(p.isContiguous()).toBe(false);
    const c = p.contiguous();
    expect(c.isContiguous()).toBe(true);
    expect(c.toArray()).toEqual(p.toArray());
  });

  it('writes through a view reach the base and bump the shared version counter', () => {
    const t = zeros([2, 3]);
    const row = t.select(0, 1);
    const v0 = t.version;
    row.fill_(5);
    expect(t.toArray()).toEqual([[0, 0, 0], [5, 5, 5]]);
    expect(t.version).toBe(v0 + 1);
    t.select(1, 0).add_(1);
    expect(t.toArray()).toEqual([[1, 0, 0], [6, 5, 5]]);
  });

  it('bad reshapes and dims give clear errors', () => {
    const t = x();
    expect(() => t.reshape(5, 5)).toThrowError(/reshape: shape \[5, 5\] is invalid for input of size 24/);
    expect(() => t.reshape(-1, -1)).toThrowError(/only one dimension can be -1/);
    expect(() => t.transpose(0, 3)).toThrowError(/transpose: dim 3 is out of range for a tensor of rank 3/);
    expect(() => t.narrow(1, 2, 2)).toThrowError(/narrow: start \(2\) \+ length \(2\) exceeds dimension size \(3\)/);
    expect(() => t.expand(3, 3, 4)).toThrowError(DLError);
    expect(() => t.select(0, 2)).toThrowError(/select: index 2 is out of bounds for dimension 0 with size 2/);
  });
});
