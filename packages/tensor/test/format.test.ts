import { describe, expect, it } from 'vitest';
import { arange, tensor } from '../src/index.js';

describe('printing like PyTorch', () => {
  it('small tensors', () => {
    expect(tensor([[1, 2], [3, 4]]).toString()).toBe('tensor([[1., 2.],\n        [3., 4.]], dtype=float32)');
    expect(tensor([1.5, -2.25]).toString()).toBe('tensor([ 1.5000, -2.2500], dtype=float32)');
    expect(tensor([1, 2], { dtype: 'int32' }).toString()).toBe('tensor([1, 2], dtype=int32)');
    expect(tensor([true, false]).toString()).toBe('tensor([ True, False], dtype=bool)');
    expect(tensor(3).toString()).toBe('tensor(3., dtype=float32)');
    expect(tensor([1e-6, 1]).toString()).toBe('tensor([1.0000e-06, 1.0000e+00], dtype=float32)');
  });

  it('large tensors are summarised', () => {
    const s = arange(0, 2000, 1, { dtype: 'float32' }).toString();
    expect(s).toBe('tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.], dtype=float32)');
  });
});
