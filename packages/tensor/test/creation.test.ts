import { describe, expect, it } from 'vitest';
import { arange, eye, full, fullLike, linspace, ones, onesLike, tensor, zeros, zerosLike } from '../src/index.js';

describe('creation', () => {
  it('tensor() from nested arrays, typed arrays and numbers', () => {
    const t = tensor([[1, 2], [3, 4]]);
    expect(t.shape).toEqual([2, 2]);
    expect(t.dtype).toBe('float32');
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tensor(new Int32Array([1, 2, 3])).dtype).toBe('int32');
    expect(tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }).toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(3.5).shape).toEqual([]);
    expect(tensor(3.5).item()).toBe(3.5);
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor([[1, 2]], { dtype: 'int32' }).dtype).toBe('int32');
  });

  it('tensor(typedArray, { copy: false }) shares the memory (zero-copy, like torch.from_numpy)', () => {
    const arr = new Float32Array([1, 2, 3, 4]);
    const t = tensor(arr, { shape: [2, 2], copy: false });
    arr[3] = 40;
    expect(t.toArray()).toEqual([[1, 2], [3, 40]]);
    const copied = tensor(arr, { shape: [2, 2] });
    arr[0] = 10;
    expect(copied.toArray()).toEqual([[1, 2], [3, 40]]);
  });

  it('tensor() rejects ragged or non-numeric data', () => {
    expect(() => tensor([[1, 2], [3]])).toThrowError(/tensor: ragged nested array: expected 2 elements at \[1\]/);
    expect(() => tensor([1, 'a' as unknown as number])).toThrowError(/tensor: expected numbers or booleans; got string at \[1\]/);
    expect(() => tensor([1, Number.NaN], { dtype: 'int32' })).toThrowError(/cannot store NaN in a int32 tensor/);
  });

  it('constants and like-variants', () => {
    expect(zeros([2, 3]).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
    expect(ones([2], { dtype: 'int32' }).toArray()).toEqual([1, 1]);
    expect(full([2], 7).toArray()).toEqual([7, 7]);
    const base = tensor([1, 2, 3], { dtype: 'float64' });
    expect(zerosLike(base).dtype).toBe('float64');
    expect(onesLike(base).toArray()).toEqual([1, 1, 1]);
    expect(fullLike(base, 2, { dtype: 'int32' }).dtype).toBe('int32');
  });

  it('arange, linspace, eye', () => {
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(5).dtype).toBe('int32');
    expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(() => arange(0, 5, -1)).toThrowError(/arange: the range \[0, 5\) is empty or reversed for step -1/);
    expect(linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linspace(-1, 1, 1).toArray()).toEqual([-1]);
    expect(eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
  });
});
