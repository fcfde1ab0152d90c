import { BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler, TensorDataset, WeightedRandomSampler, randomSplit } from '@dl/data';
import { Generator, arange, manualSeed } from '@dl/tensor';
import { describe, expect, test } from 'vitest';

const sized = (n: number) => ({ length: n });
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('SequentialSampler', () => {
  test('yields 0..n-1 in order', () => {
    const s = new SequentialSampler(sized(5));
    expect([...s]).toEqual([0, 1, 2, 3, 4]);
    expect(s.length).toBe(5);
    expect([...new SequentialSampler(sized(0))]).toEqual([]);
  });
});

describe('RandomSampler', () => {
  test('is a permutation, reproducible per seed, new per iteration', () => {
    const a = new RandomSampler(sized(50), { generator: new Generator(3) });
    const b = new RandomSampler(sized(50), { generator: new Generator(3) });
    const a1 = [...a];
    expect(sorted(a1)).toEqual(range(50));
    expect(a1).not.toEqual(range(50));
    expect([...b]).toEqual(a1);
    const a2 = [...a];
    expect(sorted(a2)).toEqual(range(50));
    expect(a2).not.toEqual(a1);
    expect(a.length).toBe(50);
    expect([...new RandomSampler(sized(50), { generator: new Generator(4) })]).not.toEqual(a1);
  });

  test('without a generator it follows the default generator (manualSeed)', () => {
    manualSeed(11);
    const first = [...new RandomSampler(sized(20))];
    manualSeed(11);
    expect([...new RandomSampler(sized(20))]).toEqual(first);
  });

  test('replacement and numSamples', () => {
    const s = new RandomSampler(sized(5), { replacement: true, numSamples: 1000, generator: new Generator(1) });
    const xs = [...s];
    expect(xs).toHaveLength(1000);
    expect(s.length).toBe(1000);
    expect(new Set(xs)).toEqual(new Set(range(5)));
    // Without replacement, numSamples beyond the length chains permutations.
    const t = [...new RandomSampler(sized(5), { numSamples: 12, generator: new Generator(2) })];
    expect(t).toHaveLength(12);
    expect(sorted(t.slice(0, 5))).toEqual(range(5));
    expect(sorted(t.slice(5, 10))).toEqual(range(5));
    expect(new Set(t.slice(10)).size).toBe(2);
    expect(() => new RandomSampler(sized(5), { numSamples: 0 })).toThrow(/positive integer/);
  });
});

describe('SubsetRandomSampler', () => {
  test('a permutation of the given indices', () => {
    const idx = [3, 9, 12, 40, 41];
    const s = new SubsetRandomSampler(idx, { generator: new Generator(5) });
    const xs = [...s];
    expect(sorted(xs)).toEqual(idx);
    expect(s.length).toBe(5);
    expect([...new SubsetRandomSampler(idx, { generator: new Generator(5) })]).toEqual(xs);
  });
});

describe('WeightedRandomSampler', () => {
  test('frequencies follow the weights (chi-square over 20k draws); zero weight never drawn', () => {
    const weights = [1, 2, 3, 4, 0];
    const n = 20_000;
    const counts = new Array(weights.length).fill(0);
    for (const i of new WeightedRandomSampler(weights, n, { generator: new Generator(7) })) counts[i]++;
    expect(counts[4]).toBe(0);
    const total = 10;
    let chi2 = 0;
    for (let i = 0; i < 4; i++) {
      const expected = (n * weights[i]) / total;
      chi2 += (counts[i] - expected) ** 2 / expected;
    }
    // 3 degrees of freedom: P(chi2 > 21.1) < 1e-4.
    expect(chi2).toBeLessThan(21.1);
  });

  test('without replacement: distinct indices with non-zero weight', () => {
    const s = new WeightedRandomSampler(new Float32Array([5, 0, 1, 1, 3]), 4, { replacement: false, generator: new Generator(1) });
    const xs = [...s];
    expect(sorted(xs)).toEqual([0, 2, 3, 4]);
    expect(() => new WeightedRandomSampler([1, 0, 1], 3, { replacement: false })).toThrow(/without replacement/);
    expect(() => new WeightedRandomSampler([1, -1], 3)).toThrow(/non-negative/);
    expect(() => new WeightedRandomSampler([0, 0], 3)).toThrow(/sum to 0/);
  });

  test('heavier weights come first more often without replacement', () => {
    const g = new Generator(9);
    let firstIsHeavy = 0;
    for (let k = 0; k < 2000; k++) {
      const [first] = new WeightedRandomSampler([9, 1], 1, { replacement: false, generator: g });
      if (first === 0) firstIsHeavy++;
    }
    expect(firstIsHeavy / 2000).toBeGreaterThan(0.85);
    expect(firstIsHeavy / 2000).toBeLessThan(0.95);
  });
});

describe('BatchSampler', () => {
  test('with and without dropLast', () => {
    const keep = new BatchSampler(new SequentialSampler(sized(10)), 3, false);
    expect([...keep]).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    expect(keep.length).toBe(4);
    const drop = new BatchSampler(new SequentialSampler(sized(10)), 3, true);
    expect([...drop]).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
    expect(drop.length).toBe(3);
    // An array of indices is a sampler too.
    expect([...new BatchSampler([5, 4, 3, 2], 2, false)]).toEqual([[5, 4], [3, 2]]);
    expect(() => new BatchSampler(new SequentialSampler(sized(3)), 0, false)).toThrow(/positive integer/);
  });
});

describe('randomSplit', () => {
  const ds = new TensorDataset(arange(0, 10));
  const values = (sub: { length: number; getItem(i: number): unknown }) =>
    Array.from({ length: sub.length }, (_, i) => ((sub.getItem(i) as { item(): number }[])[0]).item());

  test('sizes, disjointness, reproducibility', () => {
    const [a, b] = randomSplit(ds, [3, 7], { generator: new Generator(42) });
    expect([a.length, b.length]).toEqual([3, 7]);
    const all = [...values(a), ...values(b)];
    expect(sorted(all)).toEqual(range(10));
    const [c] = randomSplit(ds, [3, 7], { generator: new Generator(42) });
    expect(values(c)).toEqual(values(a));
  });

  test('fractions, remainder handed out round-robin from the first split', () => {
    expect(randomSplit(ds, [0.3, 0.7], { generator: new Generator(1) }).map((s) => s.length)).toEqual([3, 7]);
    const five = new TensorDataset(arange(0, 5));
    expect(randomSplit(five, [0.5, 0.5], { generator: new Generator(1) }).map((s) => s.length)).toEqual([3, 2]);
    expect(randomSplit(five, [0.34, 0.33, 0.33], { generator: new Generator(1) }).map((s) => s.length)).toEqual([2, 2, 1]);
    const parts = randomSplit(ds, [0.25, 0.25, 0.5], { generator: new Generator(1) });
    expect(parts.map((s) => s.length)).toEqual([3, 2, 5]); // floor: 2, 2, 5; one left over goes to the first
    expect(sorted(parts.flatMap(values))).toEqual(range(10));
  });

  test('errors', () => {
    expect(() => randomSplit(ds, [3, 6])).toThrow(/does not equal the length/);
    expect(() => randomSplit(ds, [0.5, 0.4])).toThrow(/does not equal the length/);
    expect(() => randomSplit(ds, [1.5, -0.5])).toThrow(/between 0 and 1|non-negative/);
  });
});
