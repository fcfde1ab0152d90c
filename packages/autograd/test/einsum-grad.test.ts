/**
 * Gradients of @dl/tensor's einsum and its kin (composites of views, sum, pad, mul and bmm),
 * checked against float64 central differences. Values: packages/tensor/test/einsum.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Generator, cdist, diag, diagonal, einsum, meshgrid, outer, randn, scope, tensordot, trace } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck } from '../src/index.js';

const generator = new Generator(0);
const leaf = (shape: number[]) => randn(shape, { dtype: 'float64', generator }).requiresGrad_();

const EINSUM: [string, number[][]][] = [
  ['ij,jk->ik', [[3, 4], [4, 2]]],
  ['bn,anm,bm->ba', [[2, 3], [2, 3, 4], [2, 4]]],
  ['...ij,...jk', [[2, 1, 3, 2], [4, 2, 3]]],
  ['ii->i', [[3, 3]]],
  ['ii', [[3, 3]]],
  ['iij->j', [[3, 3, 2]]],
  ['i,i->i', [[3], [1]]],
  ['ij->', [[2, 3]]],
  ['i,j->ij', [[3], [2]]],
  ['ab,bc,cd->da', [[2, 3], [3, 2], [2, 4]]],
];

describe('gradcheck (float64) of einsum, tensordot, outer, diag, diagonal, trace, meshgrid, cdist', () => {
  it.each(EINSUM)('einsum %s on %j', (equation, shapes) => {
    scope(() => {
      expect(gradcheck((...xs: Tensor[]) => einsum(equation, ...xs), shapes.map(leaf))).toBe(true);
    });
  });

  it('einsum of a non-contiguous operand', () => {
    scope(() => {
      const x = leaf([4, 3]);
      expect(gradcheck((a: Tensor, b: Tensor) => einsum('ij,jk->ik', a.t(), b), [x, leaf([4, 2])])).toBe(true);
    });
  });

  it('tensordot, outer, diag, diagonal, trace', () => {
    scope(() => {
      expect(gradcheck((a: Tensor, b: Tensor) => tensordot(a, b, [[2, 0], [0, 1]]), [leaf([2, 3, 4]), leaf([4, 2, 3])])).toBe(true);
      expect(gradcheck((a: Tensor, b: Tensor) => tensordot(a, b), [leaf([2, 3, 4]), leaf([3, 4, 2])])).toBe(true);
      expect(gradcheck(outer, [leaf([3]), leaf([4])])).toBe(true);
      expect(gradcheck((x: Tensor) => diag(x, -1), [leaf([3])])).toBe(true);
      expect(gradcheck((x: Tensor) => diag(x, 1), [leaf([3, 4])])).toBe(true);
      expect(gradcheck((x: Tensor) => diagonal(x, 1, 2, 0), [leaf([3, 2, 4])])).toBe(true);
      expect(gradcheck(trace, [leaf([3, 4])])).toBe(true);
    });
  });

  it('meshgrid and cdist', () => {
    scope(() => {
      expect(gradcheck((a: Tensor, b: Tensor) => meshgrid(a, b, { indexing: 'xy' }), [leaf([3]), leaf([2])])).toBe(true);
      for (const p of [1, 2, 3]) expect(gradcheck((a: Tensor, b: Tensor) => cdist(a, b, p), [leaf([2, 3, 4]), leaf([2, 2, 4])])).toBe(true);
    });
  });
});
