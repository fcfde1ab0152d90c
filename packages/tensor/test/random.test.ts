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

  it('the host stream is MT19937: seeded with 5489, its 10000th output is 4123659995 (the C++ standard\'s check)', () => {
    const g = new Generator(5489);
    for (let i = 0; i < 9999; i++) g.nextUint32();
    expect(g.nextUint32()).toBe(4123659995);
  });

  it('64-bit draws put the first output high; seeds reduce modulo 2^64 and MT19937 takes their low 32 bits', () => {
    const a = new Generator(3);
    const b = new Generator(3);
    const [hi, lo] = [b.nextUint32(), b.nextUint32()];
    expect(a.nextUint64()).toBe((BigInt(hi) << 32n) + BigInt(lo));
    expect(new Generator(3).nextInt64()).toBe(((BigInt(hi) << 32n) + BigInt(lo)) % 2n ** 63n);
    expect(new Generator(-1).initialSeed()).toBe(2n ** 64n - 1n);
    expect(new Generator(2n ** 64n + 7n).initialSeed()).toBe(7n);
    const wide = new Generator(2 ** 32 + 5);
    expect(wide.nextUint32()).toBe(new Generator(5).nextUint32());
    expect(wide.initialSeed()).toBe(2n ** 32n + 5n);
    expect(() => new Generator(1.5)).toThrow(/seed must be an integer/);
  });

  it('float32 uniform_ is one rounding of u * (high - low) + low, checked against exact integer arithmetic', () => {
    // A float32 x is an integer multiple of 2^-149 and u of 2^-24, so u * d + low is the integer
    // N = (u 2^24)(d 2^149) + (low 2^149) 2^24 times 2^-173; round N to 24 bits, half to even.
    const exact = (u: number, d: number, low: number): number => {
      let n = BigInt(u * 2 ** 24) * BigInt(d * 2 ** 149) + BigInt(low * 2 ** 149) * 2n ** 24n;
      const sign = n < 0n ? -1 : 1;
      if (n < 0n) n = -n;
      const shift = Math.max(0, n.toString(2).length - 24);
      let q = n >> BigInt(shift);
      const rest = n - (q << BigInt(shift));
      const half = shift > 0 ? 1n << BigInt(shift - 1) : 0n;
      if (shift > 0 && (rest > half || (rest === half && (q & 1n) === 1n))) q += 1n;
      return sign * Number(q) * 2 ** (shift - 173);
    };
    const g = new Generator(9);
    const copy = new Generator(9);
    const bounds = new Generator(10);
    for (let k = 0; k < 20000; k++) {
      const scale = 10 ** (bounds.nextDouble() * 6 - 3);
      const low = Math.fround((bounds.nextDouble() - 0.5) * scale);
      const high = Math.fround(low + bounds.nextDouble() * scale);
      const u = copy.nextFloat();
      const d = Math.fround(high - low);
      expect(g.nextFloat32In(low, high)).toBe(exact(u, d, low));
    }
  });

  it('a state saved between the two values of a Box-Muller pair restores the cached second value', () => {
    const g = new Generator(11);
    g.nextNormal();
    const state = g.getState();
    const next = [g.nextNormal(), g.nextNormal(), g.nextUint32()];
    expect([g.setState(state).nextNormal(), g.nextNormal(), g.nextUint32()]).toEqual(next);
    g.manualSeed(11);
    const first = g.nextNormal();
    expect(new Generator(11).nextNormal()).toBe(first);
  });

  it("refuses a state that is not getState()'s, naming the earlier 8-word format", () => {
    expect(() => new Generator().setState(new Uint32Array(8))).toThrow(/expected a Uint32Array of 632 words.*8 words comes from an earlier dl/);
    const bad = new Generator().getState();
    bad[624] = 1000;
    expect(() => new Generator().setState(bad)).toThrow(/MT19937 index must be at most 624/);
  });

  it('randn of 16 or more values transforms uniforms 16 at a time by Box-Muller, the tail redrawn (float64, by hand)', () => {
    const n = 21;
    const u = new Float64Array(n);
    const g = new Generator(12);
    for (let i = 0; i < n; i++) u[i] = g.nextDouble();
    const expected = new Float64Array(n);
    for (const o of [0, n - 16]) {
      if (o > 0) for (let i = o; i < n; i++) u[i] = g.nextDouble();
      for (let j = 0; j < 8; j++) {
        const radius = Math.sqrt(-2 * Math.log(1 - u[o + j]));
        expected[o + j] = radius * Math.cos(2 * Math.PI * u[o + j + 8]);
        expected[o + j + 8] = radius * Math.sin(2 * Math.PI * u[o + j + 8]);
      }
    }
    expect(Array.from(randn([n], { dtype: 'float64', generator: new Generator(12) }).dataSync())).toEqual(Array.from(expected));
  });
});
