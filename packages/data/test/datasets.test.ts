import { ConcatDataset, Dataset, Subset, TensorDataset, defaultCollate, defaultConvert } from '@dl/data';
import { Tensor, arange, tensor } from '@dl/tensor';
import { describe, expect, test } from 'vitest';

describe('defaultCollate', () => {
  test('tensors are stacked along a new dim 0', () => {
    const b = defaultCollate([tensor([1, 2]), tensor([3, 4]), tensor([5, 6])]);
    expect(b).toBeInstanceOf(Tensor);
    expect(b.shape).toEqual([3, 2]);
    expect(b.dtype).toBe('float32');
    expect(b.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(() => defaultCollate([tensor([1, 2]), tensor([1, 2, 3])])).toThrow(/same shape.*\n.*hint/s);
  });

  test('numbers: int32 when all are integers, else float32; booleans; strings', () => {
    const ints = defaultCollate([1, 2, 3]);
    expect(ints.dtype).toBe('int32');
    expect(ints.toArray()).toEqual([1, 2, 3]);
    const floats = defaultCollate([1, 2.5, 3]);
    expect(floats.dtype).toBe('float32');
    expect(floats.toArray()).toEqual([1, 2.5, 3]);
    expect(defaultCollate([2 ** 40, 1]).dtype).toBe('float64');
    const bools = defaultCollate([true, false]);
    expect(bools.dtype).toBe('bool');
    expect(bools.toArray()).toEqual([true, false]);
    expect(defaultCollate(['a', 'b'])).toEqual(['a', 'b']);
  });

  test('typed arrays (with a shape) are stacked', () => {
    const img = (v: number) => Object.assign(new Uint8Array(6).fill(v), { shape: [2, 3] });
    const b = defaultCollate([img(1), img(2)]);
    expect(b.shape).toEqual([2, 2, 3]);
    expect(b.dtype).toBe('uint8');
    expect(b.toArray()).toEqual([[[1, 1, 1], [1, 1, 1]], [[2, 2, 2], [2, 2, 2]]]);
    const v = defaultCollate([new Float64Array([1, 2]), new Float64Array([3, 4])]);
    expect(v.shape).toEqual([2, 2]);
    expect(v.dtype).toBe('float64');
    expect(defaultCollate([new Int16Array([1]), new Int16Array([-2])]).dtype).toBe('int32');
  });

  test('nested objects and arrays: per key and per position', () => {
    const samples = [
      { image: tensor([1, 1]), meta: { label: 0, name: 'a' }, pair: [1, 0.5] as [number, number] },
      { image: tensor([2, 2]), meta: { label: 1, name: 'b' }, pair: [2, 1.5] as [number, number] },
    ];
    const b = defaultCollate(samples);
    expect(b.image.shape).toEqual([2, 2]);
    expect(b.meta.label.toArray()).toEqual([0, 1]);
    expect(b.meta.label.dtype).toBe('int32');
    expect(b.meta.name).toEqual(['a', 'b']);
    expect(b.pair).toHaveLength(2);
    expect(b.pair[0].toArray()).toEqual([1, 2]);
    expect(b.pair[0].dtype).toBe('int32');
    expect(b.pair[1].toArray()).toEqual([0.5, 1.5]);
    expect(b.pair[1].dtype).toBe('float32');
    // Tuples of tensors, as TensorDataset gives.
    const [x, y] = defaultCollate([[tensor([1]), tensor(0)], [tensor([2]), tensor(1)]]);
    expect(x.shape).toEqual([2, 1]);
    expect(y.toArray()).toEqual([0, 1]);
  });

  test('errors name the place and the problem', () => {
    expect(() => defaultCollate([[1, 2], [1]])).toThrow(/equal size/);
    expect(() => defaultCollate([{ a: 1 }, { b: 1 }])).toThrow(/no key 'a'/);
    expect(() => defaultCollate([{ a: 1 }, { a: 'x' }])).toThrow(/sample\.a mix types/);
    expect(() => defaultCollate([null])).toThrow(/found null/);
    expect(() => defaultCollate([])).toThrow(/non-empty/);
  });
});

describe('defaultConvert', () => {
  test('typed arrays become tensors, the rest is kept', () => {
    const out = defaultConvert({ x: Object.assign(new Float32Array(4), { shape: [2, 2] }), y: 3, s: 'k' });
    expect(out.x).toBeInstanceOf(Tensor);
    expect(out.x.shape).toEqual([2, 2]);
    expect(out.y).toBe(3);
    expect(out.s).toBe('k');
  });
});

describe('TensorDataset, Subset, ConcatDataset', () => {
  const xs = arange(0, 12).reshape(6, 2);
  const ys = arange(10, 16);
  const ds = new TensorDataset(xs, ys);

  test('TensorDataset items are rows of each tensor', () => {
    expect(ds.length).toBe(6);
    const [x, y] = ds.getItem(2);
    expect(x.toArray()).toEqual([4, 5]);
    expect(y.item()).toBe(12);
    expect(ds.getItem(-1)[1].item()).toBe(15);
    expect(() => ds.getItem(6)).toThrow(RangeError);
    expect(() => new TensorDataset(arange(0, 3), arange(0, 4))).toThrow(/size mismatch/);
  });

  test('Subset maps indices', () => {
    const sub = new Subset(ds, [5, 0, 3]);
    expect(sub.length).toBe(3);
    expect((sub.getItem(0) as Tensor[])[1].item()).toBe(15);
    expect((sub.getItem(2) as Tensor[])[1].item()).toBe(13);
    expect((sub.getItem(-3) as Tensor[])[1].item()).toBe(15);
    expect(() => sub.getItem(3)).toThrow(RangeError);
  });

  test('ConcatDataset chains datasets', () => {
    class Letters extends Dataset<string> {
      constructor(readonly s: string) {
        super();
      }
      get length() {
        return this.s.length;
      }
      getItem(i: number) {
        return this.s[i];
      }
    }
    const cat = new ConcatDataset([new Letters('abc'), new Letters(''), new Letters('de'), new Letters('f')]);
    expect(cat.length).toBe(6);
    expect(cat.cumulativeSizes).toEqual([3, 3, 5, 6]);
    expect(Array.from({ length: 6 }, (_, i) => cat.getItem(i))).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(cat.getItem(-1)).toBe('f');
    expect(() => cat.getItem(6)).toThrow(RangeError);
    expect(() => new ConcatDataset([])).toThrow(/empty/);
  });
});
