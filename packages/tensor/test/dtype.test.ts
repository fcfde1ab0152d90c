import { describe, expect, it } from 'vitest';
import { promoteTypes, resultType, tensor, zeros } from '../src/index.js';

describe('type promotion follows PyTorch', () => {
  it('promoteTypes', () => {
    expect(promoteTypes('bool', 'uint8')).toBe('uint8');
    expect(promoteTypes('uint8', 'int32')).toBe('int32');
    expect(promoteTypes('int32', 'float32')).toBe('float32');
    expect(promoteTypes('float32', 'float64')).toBe('float64');
    expect(promoteTypes('bool', 'float64')).toBe('float64');
  });

  it('zero-dim tensors and scalars only matter when of a higher category', () => {
    const i = { dtype: 'int32' as const, ndim: 1 };
    const f = { dtype: 'float32' as const, ndim: 1 };
    expect(resultType([i, 2])).toBe('int32');
    expect(resultType([i, 2.5])).toBe('float32');
    expect(resultType([f, { dtype: 'float64', ndim: 0 }])).toBe('float32');
    expect(resultType([i, { dtype: 'float64', ndim: 0 }])).toBe('float64');
    expect(resultType([{ dtype: 'uint8', ndim: 1 }, 300])).toBe('uint8');
    expect(resultType([{ dtype: 'bool', ndim: 1 }, 1])).toBe('int32');
  });

  it('ops apply the rules', () => {
    const i = tensor([1, 2, 3], { dtype: 'int32' });
    expect(i.add(1).dtype).toBe('int32');
    expect(i.mul(0.5).dtype).toBe('float32');
    expect(i.div(2).dtype).toBe('float32');
    expect(i.div(2).toArray()).toEqual([0.5, 1, 1.5]);
    expect(i.add(zeros([3], { dtype: 'float64' })).dtype).toBe('float64');
    expect(i.gt(1).dtype).toBe('bool');
    expect(i.exp().dtype).toBe('float32');
    expect(i.sum().dtype).toBe('int32');
    expect(tensor([true, false]).add(tensor([true, true])).toArray()).toEqual([true, true]);
    expect(tensor([200], { dtype: 'uint8' }).add(tensor([100], { dtype: 'uint8' })).toArray()).toEqual([44]);
    expect(tensor([2147483647], { dtype: 'int32' }).add(1).toArray()).toEqual([-2147483648]);
  });

  it('in-place ops refuse a result that cannot be cast back', () => {
    const i = tensor([1, 2], { dtype: 'int32' });
    expect(() => i.mul_(0.5)).toThrowError(/mul_: result type float32 can't be cast to the desired output type int32/);
    const f = tensor([1, 2]);
    f.add_(tensor([1, 1], { dtype: 'int32' }));
    expect(f.toArray()).toEqual([2, 3]);
  });
});
