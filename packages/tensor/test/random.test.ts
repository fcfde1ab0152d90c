import { describe, expect, it } from 'vitest';
import { Generator, bernoulli, manualSeed, rand, randint, randn, randperm, zeros } from '../src/index.js';

describe('seeded random numbers', () => {
  it('the same seed gives the same numbers; another seed other numbers', () => {
    manualSeed(42);
    const a = Array.from(randn([100]).dataSync());
    manualSeed(42);
    const b = Array.from(randn([100]).dataSync());
    manualSeed(43);
    const c = Array.from(randn([100]).dataSync());
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('distributions have the right moments (100k samples)', () => {
    const g = new Generator(7);
    const u = rand([100000], { generator: g });
    expect(u.mean().item()).toBeCloseTo(0.5, 2);
    expect(u.var().item()).toBeCloseTo(1 / 12, 3);
    expect(u.amin().item()).toBeGreaterThanOrEqual(0);
    expect(u.amax().item()).toBeLessThan(1);
    const n = randn([100000], { generator: g });
    expect(n.mean().item()).toBeCloseTo(0, 1);
    expect(n.std().item()).toBeCloseTo(1, 1);
    const z = zeros([50000]).normal_(3, 2, { generator: g });
    expect(z.mean().item()).toBeCloseTo(3, 1);
    expect(z.std().item()).toBeCloseTo(2, 1);
    const w = zeros([50000]).uniform_(-2, 2, { generator: g });
    expect(w.amin().item()).toBeGreaterThanOrEqual(-2);
    expect(w.mean().item()).toBeCloseTo(0, 1);
    const b = bernoulli(0.3, { shape: [50000], generator: g });
    expect(b.mean().item()).toBeCloseTo(0.3, 2);
  });

  it('randint covers [low, high) and randperm is a permutation', () => {
    const g = new Generator(1);
    const r = randint(-2, 3, [10000], { generator: g });
    expect(r.dtype).toBe('int32');
    const seen = new Set(r.dataSync());
    expect([...seen].sort((x, y) => x - y)).toEqual([-2, -1, 0, 1, 2]);
    const p = Array.from(randperm(50, { generator: g }).dataSync());
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('generator state can be saved and restored', () => {
    const g = new Generator(5);
    rand([3], { generator: g });
    const state = g.getState();
    const a = Array.from(rand([4], { generator: g }).dataSync());
    g.setState(state);
    expect(Array.from(rand([4], { generator: g }).dataSync())).toEqual(a);
  });
});
