/**
 * einsum and its kin (tensordot, outer, diag, diagonal, trace, meshgrid, cdist), composed from
 * existing ops. References: an einsum by brute-force index enumeration over float64 arrays written
 * here, and PyTorch 1.13 itself (fixtures/torch_einsum.py, run in this test where python3 imports
 * torch). Gradients: packages/autograd/test/einsum-grad.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Tensor } from '@dl/tensor';
import { DLError, arange, cdist, diag, diagonal, einsum, memoryStats, meshgrid, outer, profile, scope, tensor, tensordot, trace, zeros } from '@dl/tensor';

/** Deterministic float64 inputs in [-1, 1). */
function input(shape: number[], seed: number): Tensor {
  let s = seed * 7919 + 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float64Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
  return tensor(data, { shape, dtype: 'float64' });
}

/**
 * einsum by enumeration: every assignment of every index, the product of the operands' entries
 * (a dim of size 1 read at 0: broadcasting), added into the output entry. '...' becomes indices
 * '0', '1', ... aligned on the right.
 */
function bruteEinsum(equation: string, xs: Tensor[]): { shape: number[]; data: number[] } {
  const eq = equation.replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->');
  const terms = lhs.split(',');
  const nEll = Math.max(0, ...terms.map((t, i) => (t.includes('...') ? xs[i].ndim - (t.length - 3) : 0)));
  const ell = (e: number) => Array.from({ length: e }, (_, j) => String(nEll - e + j));
  const subs = terms.map((t, i) => t.split('...').flatMap((part, k) => (k === 1 ? [...ell(xs[i].ndim - (t.length - 3)), ...part] : [...part])));
  const size = new Map<string, number>();
  for (const [i, ls] of subs.entries()) {
    for (const [d, l] of ls.entries()) if (size.get(l) === undefined || size.get(l) === 1) size.set(l, xs[i].shape[d]);
  }
  let out: string[];
  if (rhs === undefined) {
    const letters = subs.flat().filter((l) => /[a-zA-Z]/.test(l));
    out = [...ell(nEll), ...letters.filter((l) => letters.indexOf(l) === letters.lastIndexOf(l)).sort()];
  } else {
    out = rhs.split('...').flatMap((part, k) => (k === 1 ? [...ell(nEll), ...part] : [...part]));
  }
  const all = [...new Set([...out, ...subs.flat()])];
  const vals = xs.map((x) => Array.from(x.contiguous().dataSync()));
  const shape = out.map((l) => size.get(l) as number);
  const data = new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0);
  const at = new Map<string, number>();
  const visit = (k: number): void => {
    if (k === all.length) {
      let p = 1;
      subs.forEach((ls, i) => {
        let flat = 0;
        ls.forEach((l, d) => {
          flat = flat * xs[i].shape[d] + (xs[i].shape[d] === 1 ? 0 : (at.get(l) as number));
        });
        p *= vals[i][flat];
      });
      data[out.reduce((f, l, d) => f * shape[d] + (at.get(l) as number), 0)] += p;
      return;
    }
    for (let v = 0; v < (size.get(all[k]) as number); v++) {
      at.set(all[k], v);
      visit(k + 1);
    }
  };
  visit(0);
  return { shape, data };
}

const CASES: [string, number[][]][] = [
  ['ij,jk->ik', [[3, 4], [4, 5]]],
  ['bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]],
  ['...ij,...jk->...ik', [[2, 3, 4], [4, 2]]],
  ['...ij,...jk', [[2, 1, 3, 4], [5, 4, 2]]],
  ['bn,anm,bm->ba', [[2, 3], [4, 3, 5], [2, 5]]],
  ['ii', [[4, 4]]],
  ['ii->i', [[4, 4]]],
  ['i,j->ij', [[3], [4]]],
  ['ij->ji', [[3, 4]]],
  ['ij->', [[3, 4]]],
  ['kj,ji', [[2, 3], [3, 4]]],
  ['i,i', [[5], [5]]],
  ['i,i->i', [[3], [1]]],
  ['iij->j', [[3, 3, 4]]],
  ['bii->bi', [[2, 3, 3]]],
  ['iji->j', [[3, 2, 3]]],
  ['ijk,jil->kl', [[2, 3, 4], [3, 2, 5]]],
  ['Ab,bc', [[2, 3], [3, 4]]],
  ['ab,bc,cd,de->ae', [[2, 3], [3, 4], [4, 2], [2, 3]]],
  ['ab,cd->abcd', [[2, 1], [3, 2]]],
  ['...i->...', [[2, 3, 4]]],
  ['i...->...', [[3, 2, 2]]],
  ['i...,...i', [[3, 2, 1], [4, 3]]],
  [' b i j , b j k -> b k i ', [[2, 3, 2], [2, 2, 3]]],
  ['ij,jk->ik', [[2, 0], [0, 3]]],
];

const operandsOf = (shapes: number[][]) => shapes.map((s, i) => input(s, i + 1));
const values = (t: Tensor) => Array.from(t.contiguous().dataSync());
function expectClose(actual: number[], expected: number[], tol = 1e-12) {
  expect(actual.length).toBe(expected.length);
  for (const [i, a] of actual.entries()) expect(Math.abs(a - expected[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(expected[i])));
}

describe('einsum against a brute-force float64 einsum', () => {
  it.each(CASES)('%s on %j', (equation, shapes) => {
    scope(() => {
      const xs = operandsOf(shapes);
      const ref = bruteEinsum(equation, xs);
      const y = einsum(equation, ...xs);
      expect(y.shape).toEqual(ref.shape);
      expect(y.dtype).toBe('float64');
      expectClose(values(y), ref.data);
    });
  });

  it('float32 operands give float32 results close to the float64 ones', () => {
    scope(() => {
      const [a, b, c] = operandsOf([[2, 3], [4, 3, 5], [2, 5]]);
      const ref = bruteEinsum('bn,anm,bm->ba', [a, b, c]);
      const y = einsum('bn,anm,bm->ba', a.to('float32'), b.to('float32'), c.to('float32'));
      expect(y.dtype).toBe('float32');
      expectClose(values(y), ref.data, 1e-5);
    });
  });

  it('contracts two at a time with one matmul each, never an elementwise product of a broadcast', () => {
    scope(() => {
      const xs = operandsOf([[2, 3], [4, 3, 5], [2, 5]]);
      const ops = profile(() => einsum('bn,anm,bm->ba', ...xs)).events.map((e) => e.op);
      expect(ops.filter((op) => op === 'matmul')).toHaveLength(2);
      expect(ops).not.toContain('mul');
    });
  });

  it('frees its temporaries; a pure permutation or diagonal is a view of the operand', () => {
    const x = input([3, 3], 1);
    const before = memoryStats().liveTensors;
    const y = einsum('ij,jk,kl->il', x, x, x);
    expect(memoryStats().liveTensors).toBe(before + 1);
    y.dispose();
    const d = einsum('ii->i', x);
    expect(d.storage).toBe(x.storage);
    const t = einsum('ij->ji', x);
    expect(t.storage).toBe(x.storage);
    for (const u of [d, t, x]) u.dispose();
  });

  it('works on integer operands when there is a single operand (no matmul)', () => {
    scope(() => {
      const x = arange(0, 9, 1, { dtype: 'int32' }).reshape([3, 3]);
      expect(einsum('ii', x).item()).toBe(12);
      expect(einsum('ij->j', x).toArray()).toEqual([9, 12, 15]);
    });
  });
});

describe('outer, diag, diagonal, trace, tensordot, meshgrid, cdist', () => {
  it('outer, diag, diagonal and trace equal their definitions', () => {
    scope(() => {
      const a = tensor([1, 2, 3], { dtype: 'float64' });
      const b = tensor([4, 5], { dtype: 'float64' });
      expect(outer(a, b).toArray()).toEqual([[4, 5], [8, 10], [12, 15]]);
      expect(a.outer(b).toArray()).toEqual([[4, 5], [8, 10], [12, 15]]);
      expect(diag(a).toArray()).toEqual([[1, 0, 0], [0, 2, 0], [0, 0, 3]]);
      expect(diag(a, 1).toArray()).toEqual([[0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 3], [0, 0, 0, 0]]);
      expect(a.diag(-2).toArray()).toEqual([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0, 2, 0, 0, 0], [0, 0, 3, 0, 0]]);
      expect(diag(zeros([0]), 2).shape).toEqual([2, 2]);
      const m = arange(0, 12, 1, { dtype: 'float64' }).reshape([3, 4]);
      expect(diag(m).toArray()).toEqual([0, 5, 10]);
      expect(m.diag(1).toArray()).toEqual([1, 6, 11]);
      expect(m.diag(-1).toArray()).toEqual([4, 9]);
      expect(diag(m, 4).shape).toEqual([0]);
      expect(m.trace().item()).toBe(15);
      expect(trace(m.t()).item()).toBe(15);
      const x = arange(0, 24, 1, { dtype: 'float64' }).reshape([2, 3, 4]);
      expect(diagonal(x, 0, 1, 2).toArray()).toEqual([[0, 5, 10], [12, 17, 22]]);
      expect(x.diagonal(1, -1, 0).toArray()).toEqual([[12], [16], [20]]);
      expect(x.permute([2, 0, 1]).diagonal(-1, 2, 0).toArray()).toEqual([[4, 9], [16, 21]]);
    });
  });

  it('tensordot contracts the given dims (a number: the last n of a with the first n of b)', () => {
    scope(() => {
      const [a, b] = operandsOf([[2, 3, 4], [3, 4, 5]]);
      expectClose(values(tensordot(a, b)), bruteEinsum('ijk,jkl->il', [a, b]).data);
      expectClose(values(tensordot(a, b, 1 - 1)), bruteEinsum('ijk,lmn->ijklmn', [a, b]).data);
      const c = input([4, 2, 3], 3);
      const y = tensordot(a, c, [[2, 0], [0, 1]]);
      expect(y.shape).toEqual([3, 3]);
      expectClose(values(y), bruteEinsum('ijk,kil->jl', [a, c]).data);
    });
  });

  it("meshgrid: 'ij' and 'xy' indexing, as expanded views", () => {
    scope(() => {
      const x = tensor([1, 2, 3]);
      const y = tensor([4, 5]);
      const [gx, gy] = meshgrid(x, y);
      expect(gx.toArray()).toEqual([[1, 1], [2, 2], [3, 3]]);
      expect(gy.toArray()).toEqual([[4, 5], [4, 5], [4, 5]]);
      expect(gx.storage).toBe(x.storage);
      const [hx, hy, hz] = meshgrid(x, y, tensor(7), { indexing: 'xy' });
      expect(hx.shape).toEqual([2, 3, 1]);
      expect(hx.toArray()).toEqual([[[1], [2], [3]], [[1], [2], [3]]]);
      expect(hy.toArray()).toEqual([[[4], [4], [4]], [[5], [5], [5]]]);
      expect(hz.toArray()).toEqual([[[7], [7], [7]], [[7], [7], [7]]]);
    });
  });

  it('cdist: p-norm distances between rows, batched', () => {
    scope(() => {
      const [a, b] = operandsOf([[2, 3, 4], [2, 5, 4]]);
      const av = values(a);
      const bv = values(b);
      for (const p of [1, 2, 3]) {
        const ref: number[] = [];
        for (let n = 0; n < 2; n++) {
          for (let i = 0; i < 3; i++) {
            for (let j = 0; j < 5; j++) {
              let s = 0;
              for (let k = 0; k < 4; k++) s += Math.abs(av[(n * 3 + i) * 4 + k] - bv[(n * 5 + j) * 4 + k]) ** p;
              ref.push(s ** (1 / p));
            }
          }
        }
        const d = cdist(a, b, p);
        expect(d.shape).toEqual([2, 3, 5]);
        expectClose(values(d), ref);
      }
    });
  });
});

const script = join(import.meta.dirname, 'fixtures', 'torch_einsum.py');
const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);

interface TorchCase {
  op: string;
  inputs: Tensor[];
  [key: string]: unknown;
}
const TORCH_CASES: [TorchCase, (...xs: Tensor[]) => Tensor | Tensor[]][] = [
  ...CASES.map(([equation, shapes]): [TorchCase, (...xs: Tensor[]) => Tensor] => [{ op: 'einsum', equation, inputs: operandsOf(shapes) }, (...xs) => einsum(equation, ...xs)]),
  [{ op: 'tensordot', dims: 2, inputs: operandsOf([[2, 3, 4], [3, 4, 5]]) }, (a, b) => tensordot(a, b, 2)],
  [{ op: 'tensordot', dims: [[2, 0], [0, 1]], inputs: operandsOf([[2, 3, 4], [4, 2, 3]]) }, (a, b) => tensordot(a, b, [[2, 0], [0, 1]])],
  [{ op: 'outer', inputs: operandsOf([[3], [4]]) }, outer],
  [{ op: 'diag', k: -1, inputs: operandsOf([[3]]) }, (x) => diag(x, -1)],
  [{ op: 'diag', k: 1, inputs: operandsOf([[3, 4]]) }, (x) => diag(x, 1)],
  [{ op: 'diagonal', args: [-1, 2, 0], inputs: operandsOf([[3, 2, 4]]) }, (x) => diagonal(x, -1, 2, 0)],
  [{ op: 'trace', inputs: operandsOf([[3, 4]]) }, trace],
  [{ op: 'meshgrid', indexing: 'ij', inputs: operandsOf([[2], [3], [4]]) }, (...xs) => meshgrid(...xs, { indexing: 'ij' })],
  [{ op: 'meshgrid', indexing: 'xy', inputs: operandsOf([[2], [3], [4]]) }, (...xs) => meshgrid(...xs, { indexing: 'xy' })],
  ...[1, 2, 3].map((p): [TorchCase, (...xs: Tensor[]) => Tensor] => [{ op: 'cdist', p, inputs: operandsOf([[2, 3, 4], [2, 5, 4]]) }, (a, b) => cdist(a, b, p)]),
];

describe.skipIf(!python)('the same results as PyTorch 1.13 (skipped only where python3 with torch is missing)', () => {
  const request = TORCH_CASES.map(([c]) => ({ ...c, inputs: c.inputs.map((x) => ({ shape: x.shape, data: values(x) })) }));
  const run = python ? spawnSync(python, [script], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 64 << 20 }) : undefined;
  it.each(TORCH_CASES.map(([c, fn], i) => [`${c.op} ${JSON.stringify(c.equation ?? c.dims ?? c.k ?? c.args ?? c.indexing ?? c.p ?? '')}`, i, fn] as const))('%s', (_name, i, fn) => {
    if (run?.status !== 0) throw new Error(`${script} failed: ${run?.stderr}`);
    const ref = (JSON.parse(run.stdout) as { shape: number[]; data: number[] }[][])[i];
    scope(() => {
      const out = fn(...TORCH_CASES[i][0].inputs);
      const outs = Array.isArray(out) ? out : [out];
      expect(outs).toHaveLength(ref.length);
      outs.forEach((o, k) => {
        expect(o.shape).toEqual(ref[k].shape);
        expectClose(values(o), ref[k].data);
      });
    });
  });
});

describe('errors name the op, the values and the fix', () => {
  const err = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(DLError);
      return `${(e as DLError).code}: ${(e as DLError).message}`;
    }
    throw new Error('expected an error');
  };
  const [a, b] = operandsOf([[2, 3], [4, 5]]);

  it('einsum', () => {
    expect(err(() => einsum('i1,j', a, b))).toMatch(/^ARGUMENT: einsum: invalid character '1' at index 1 of the equation 'i1,j'\nhint: subscripts are letters/);
    expect(err(() => einsum('i..j', a))).toMatch(/invalid '\.\.\.' \(one per term, three dots\) at index 1/);
    expect(err(() => einsum('...i...', a))).toMatch(/invalid '\.\.\.'.* at index 4/);
    expect(err(() => einsum('ij->j->i', a))).toMatch(/more than one '->'/);
    expect(err(() => einsum('ij,jk->ik', a))).toMatch(/^ARGUMENT: einsum: the equation 'ij,jk->ik' has 2 input term\(s\) but 1 operand\(s\) were given/);
    expect(err(() => einsum('ijk', a))).toMatch(/^SHAPE: einsum: term 0 'ijk' names 3 dims but operand 0 has shape \[2, 3\] \(2 dims\)\nhint: use '\.\.\.'/);
    expect(err(() => einsum('ij,jk->ik', a, b))).toMatch(/^SHAPE: einsum: index 'j' has size 3 in operand 0 but size 4 in operand 1/);
    expect(err(() => einsum('...,...', a, b))).toMatch(/index '\.\.\.' dim 0 has size 2 in operand 0 but size 4 in operand 1/);
    expect(err(() => einsum('ii->i', a))).toMatch(/index 'i' is repeated in operand 0 with different sizes: 2 and 3/);
    expect(err(() => einsum('ij->k', a))).toMatch(/output index 'k' does not appear in any input term/);
    expect(err(() => einsum('ij->ii', a))).toMatch(/output index 'i' appears more than once/);
    const n = arange(0, 4, 1, { dtype: 'int32' });
    expect(err(() => einsum('i,i', n, n))).toMatch(/^DTYPE: einsum: expected a floating point tensor; got int32/);
  });

  it('the others', () => {
    expect(err(() => outer(a, b))).toMatch(/^DIM: outer: expects two 1-D tensors; got shapes \[2, 3\] and \[4, 5\]/);
    expect(err(() => diag(zeros([2, 2, 2])))).toMatch(/^DIM: diag: expects a 1-D or 2-D tensor/);
    expect(err(() => diagonal(a, 0, 1, -1))).toMatch(/^DIM: diagonal: dim1 and dim2 must be different dims; both are 1/);
    expect(err(() => trace(zeros([3])))).toMatch(/^DIM: trace: expects a 2-D tensor; got shape \[3\]/);
    expect(err(() => tensordot(a, b, 1))).toMatch(/^SHAPE: tensordot: contracted dim 1 of a \(shape \[2, 3\]\) has size 3 but dim 0 of b \(shape \[4, 5\]\) has size 4/);
    expect(err(() => tensordot(a, b, [[0], [0, 1]]))).toMatch(/dims lists must have the same length/);
    expect(err(() => meshgrid(a))).toMatch(/^DIM: meshgrid: expects 0-D or 1-D tensors; got shape \[2, 3\]/);
    expect(err(() => meshgrid(zeros([2]), zeros([2], { dtype: 'float64' })))).toMatch(/^DTYPE: meshgrid: expects tensors of one dtype/);
    expect(err(() => cdist(a, b))).toMatch(/^SHAPE: cdist: expects x1 \[\.\.\., P, M\] and x2 \[\.\.\., R, M\] with the same M; got shapes \[2, 3\] and \[4, 5\]/);
  });
});
