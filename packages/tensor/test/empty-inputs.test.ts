/**
 * Ops over empty inputs still write every output cell: kernel outputs are not zero-filled
 * (only ZEROED_OUTPUTS ops get zeroed buffers) and the suite runs with DL_POISON_ALLOC=1, so a
 * kernel that skips its work when there is nothing to reduce leaves NaN behind. Sums over
 * nothing are 0, products 1, and gradients through an empty batch or channel set are 0.
 * Each case runs a few times so that reused (poisoned) buffers come back from the cache.
 */
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';

const rounds = 3;

describe('empty inputs give fully written outputs', () => {
  it('reductions over an empty dim: sum 0, prod 1, all true, any false', () => {
    for (let i = 0; i < rounds; i++) {
      expect(T.zeros([2, 0]).sum(1).toArray()).toEqual([0, 0]);
      expect(T.zeros([2, 0], { dtype: 'float64' }).sum(1).toArray()).toEqual([0, 0]);
      expect(T.zeros([2, 0], { dtype: 'int32' }).sum(1).toArray()).toEqual([0, 0]);
      expect(T.zeros([0, 3]).sum(0).toArray()).toEqual([0, 0, 0]);
      expect(T.ones([2, 0]).prod(1).toArray()).toEqual([1, 1]);
      expect(T.zeros([2, 0], { dtype: 'bool' }).all(1).toArray()).toEqual([true, true]);
      expect(T.zeros([2, 0], { dtype: 'bool' }).any(1).toArray()).toEqual([false, false]);
    }
  });

  it('matmul with an empty inner dim is all zeros', () => {
    for (let i = 0; i < rounds; i++) {
      expect(T.zeros([3, 0]).matmul(T.zeros([0, 4])).toArray()).toEqual([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
      expect(T.zeros([2, 3, 0]).matmul(T.zeros([2, 0, 5])).abs().sum().item()).toBe(0);
    }
  });

  it('convolutions over no input channels, and gradients through an empty batch, are zeros', () => {
    for (let i = 0; i < rounds; i++) {
      expect(T.conv2d(T.zeros([1, 0, 4, 4]), T.zeros([2, 0, 3, 3])).abs().sum().item()).toBe(0);
      expect(T.conv2dBackwardWeight(T.zeros([0, 2, 4, 4]), T.zeros([0, 3, 6, 6]), [2, 3, 3, 3]).abs().sum().item()).toBe(0);
      expect(T.conv2dBackwardInput(T.zeros([1, 0, 4, 4]), T.zeros([0, 3, 3, 3]), [1, 3, 6, 6]).abs().sum().item()).toBe(0);
      // Fill the cache with garbage-prone buffers of the same sizes before the next round.
      T.randn([2, 3, 6, 6]).dispose();
      T.randn([2, 3]).dispose();
    }
  });
});
