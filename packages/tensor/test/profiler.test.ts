import { describe, expect, it } from 'vitest';
import { Profile, full, ones, profile, randn, scope } from '../src/index.js';

/** The kernel ops of a profile, in order (scalar operands also dispatch fill and view ops). */
const kernels = (p: Profile) => p.events.map((e) => e.op).filter((op) => !['fill', 'reshape', 'expand', 'permute', 'slice'].includes(op));

describe('profile (torch.profiler)', () => {
  const a = ones([4, 3]);
  const two = full([4, 3], 2);
  const run = () => scope(() => a.add(a).mul(two).add(a).sum().item());

  it('per op: calls, totals that add up to the op time, percentages that add up to 100', () => {
    const prof = profile(run);
    expect(prof).toBeInstanceOf(Profile);
    expect(prof.result).toBe(60); // each of the 12 elements is (1 + 1) * 2 + 1
    const rows = prof.keyAverages();
    const byOp = Object.fromEntries(rows.map((r) => [r.op, r]));
    expect(byOp.add.calls).toBe(2);
    expect(byOp.mul.calls).toBe(1);
    expect(byOp.sum.calls).toBe(1);
    expect(prof.events.filter((e) => e.op === 'add').map((e) => e.inputShapes)).toEqual(['[4, 3], [4, 3]', '[4, 3], [4, 3]']);
    expect(kernels(prof)).toEqual(['add', 'mul', 'add', 'sum']);
    const total = rows.reduce((s, r) => s + r.totalMs, 0);
    expect(total).toBeCloseTo(prof.opMs, 9);
    expect(rows.reduce((s, r) => s + r.percent, 0)).toBeCloseTo(100, 6);
    expect(prof.wallMs).toBeGreaterThanOrEqual(prof.opMs);
    for (const r of rows) expect(r.meanMs).toBeCloseTo(r.totalMs / r.calls, 12);
    // Sorted by total time, descending.
    expect(rows.map((r) => r.totalMs)).toEqual([...rows.map((r) => r.totalMs)].sort((x, y) => y - x));
  });

  it('groups by input shape on request', () => {
    const [x2, x3] = [ones([2]), ones([3])];
    const prof = profile(() => scope(() => [x2.add(x2), x3.add(x3), x3.add(x3)]));
    const adds = prof.keyAverages({ groupByInputShape: true }).filter((r) => r.op === 'add');
    expect(adds.map((r) => [r.inputShapes, r.calls]).sort()).toEqual([
      ['[2], [2]', 1],
      ['[3], [3]', 2],
    ]);
  });

  it('records nothing outside a profile; nested profiles both see the inner ops', () => {
    const outer = profile(() => {
      scope(() => a.mul(a));
      const inner = profile(() => scope(() => a.neg()));
      expect(inner.events.map((e) => e.op)).toEqual(['neg']);
      return inner;
    });
    expect(outer.events.map((e) => e.op)).toEqual(['mul', 'neg']);
    scope(() => a.mul(a));
    expect(outer.events).toHaveLength(2);
  });

  it('an async function is profiled until its promise settles; a throwing one ends the profile and rethrows', async () => {
    const prof = await profile(async () => {
      await new Promise((r) => setTimeout(r, 1));
      return scope(() => a.exp().sum().item());
    });
    expect(kernels(prof)).toEqual(['exp', 'sum']);
    expect(() =>
      profile(() => {
        scope(() => a.abs());
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(profile(async () => Promise.reject(new Error('async boom')))).rejects.toThrow('async boom');
    const after = profile(() => scope(() => a.sqrt()));
    expect(after.events.map((e) => e.op)).toEqual(['sqrt']);
  });

  it('table(): a header, one row per op, the totals; rowLimit and sortBy; bad sortBy named', () => {
    const x = randn([64, 64]);
    const prof = profile(() => scope(() => x.matmul(x).add(x).add(x).sum()));
    const lines = prof.table().split('\n');
    expect(lines[0]).toMatch(/^op\s+calls\s+total ms\s+mean ms\s+% of ops$/);
    expect(lines.some((l) => /^add\s+2\s+[\d.]+\s+[\d.]+\s+[\d.]+$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^${prof.events.length} ops in [\\d.]+ ms; [\\d.]+ ms wall$`));
    const byCalls = prof.table({ sortBy: 'calls', rowLimit: 1 }).split('\n');
    expect(byCalls).toHaveLength(3);
    const most = prof.keyAverages().reduce((m, r) => (r.calls > m.calls ? r : m));
    expect(byCalls[1]).toMatch(new RegExp(`^${most.op}\\s+${most.calls}\\s`));
    expect(prof.table({ groupByInputShape: true }).split('\n')[0]).toMatch(/^op\s+input shapes\s+calls/);
    expect(() => prof.table({ sortBy: 'name' as never })).toThrow(/sortBy must be 'totalMs', 'calls' or 'meanMs'; got "name"/);
    expect(() => profile(42 as never)).toThrow(/expected a function to run; got number/);
  });
});
