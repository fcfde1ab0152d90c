import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { keep, memoryStats, ones, randn, scope, tensor, zeros } from '../src/index.js';

describe('memory', () => {
  it('dispose frees a buffer once no view holds it', () => {
    const base = memoryStats();
    const t = zeros([10, 10]);
    const v = t.reshape(100);
    expect(memoryStats().liveBuffers).toBe(base.liveBuffers + 1);
    expect(memoryStats().liveTensors).toBe(base.liveTensors + 2);
    expect(memoryStats().liveBytes).toBe(base.liveBytes + 400);
    t.dispose();
    expect(memoryStats().liveBuffers).toBe(base.liveBuffers + 1);
    v.dispose();
    expect(memoryStats().liveBuffers).toBe(base.liveBuffers);
    expect(memoryStats().liveTensors).toBe(base.liveTensors);
    expect(() => v.sum()).toThrowError(/sum: the tensor of shape \[100\] was disposed/);
  });

  it('scope frees everything made inside except the result, which moves to the outer scope', () => {
    const base = memoryStats().liveBuffers;
    const outer = scope(() => {
      const kept = scope(() => {
        const a = randn([4, 4]);
        const b = a.matmul(a).relu().sum(1);
        return { b, list: [a.mean()] };
      });
      expect(kept.b.isDisposed).toBe(false);
      expect(kept.list[0].isDisposed).toBe(false);
      return kept.b.add(1);
    });
    expect(outer.shape).toEqual([4]);
    expect(memoryStats().liveBuffers).toBe(base + 1);
    outer.dispose();
    expect(memoryStats().liveBuffers).toBe(base);
  });

  it('scope works across await and concurrent async scopes do not mix', async () => {
    const base = memoryStats().liveBuffers;
    const tick = () => new Promise((r) => setTimeout(r, 5));
    const job = (n: number) =>
      scope(async () => {
        const a = ones([n]);
        await tick();
        const b = a.mul(2);
        await tick();
        return b.sum();
      });
    const [r1, r2] = await Promise.all([job(3), job(5)]);
    expect(r1.item()).toBe(6);
    expect(r2.item()).toBe(10);
    expect(memoryStats().liveBuffers).toBe(base + 2);
    r1.dispose();
    r2.dispose();
    expect(memoryStats().liveBuffers).toBe(base);
  });

  it('a throwing scope still frees its tensors', () => {
    const base = memoryStats().liveBuffers;
    expect(() =>
      scope(() => {
        zeros([3]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(memoryStats().liveBuffers).toBe(base);
  });

  it('keep() takes a tensor out of every scope', () => {
    const base = memoryStats().liveBuffers;
    let state = tensor([0]);
    state.dispose();
    scope(() => {
      state = keep(ones([2]));
      zeros([2]);
    });
    expect(state.isDisposed).toBe(false);
    expect(memoryStats().liveBuffers).toBe(base + 1);
    state.dispose();
  });

  it('memoryStats reports per device', () => {
    const t = zeros([8], { device: 'reference' });
    expect(memoryStats().devices.reference.liveBuffers).toBeGreaterThanOrEqual(1);
    t.dispose();
  });

  describe('the safety net: a tensor collected without dispose() frees its buffer', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    /** Collects garbage until the finalizers have run (they run in later tasks). */
    const collect = async () => {
      for (let i = 0; i < 6; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    // Each case makes its tensors in a function, so no reference stays on this stack.
    const cases: [string, () => unknown][] = [
      ['made outside any scope', () => { zeros([1000]); }],
      ['kept (keep()) inside a scope, then dropped', () => scope(() => { keep(zeros([1000])); })],
      ['returned by the outermost scope, then dropped', () => { scope(() => zeros([1000])); }],
      ['a view made outside any scope, of a tensor made outside any scope', () => { zeros([10, 100]).reshape(1000); }],
    ];
    it.each(cases)('%s', async (_name, make) => {
      await collect();
      const base = memoryStats();
      make();
      expect(memoryStats().liveBuffers).toBeGreaterThan(base.liveBuffers);
      await collect();
      expect(memoryStats().liveBuffers).toBe(base.liveBuffers);
      expect(memoryStats().liveTensors).toBe(base.liveTensors);
    });

    it('while its scope is open a tensor is not collected; the scope frees it, once', async () => {
      await collect();
      const base = memoryStats();
      await scope(async () => {
        zeros([1000]);
        await collect();
        expect(memoryStats().liveBuffers).toBe(base.liveBuffers + 1);
      });
      expect(memoryStats().liveBuffers).toBe(base.liveBuffers);
      await collect();
      expect(memoryStats().liveTensors).toBe(base.liveTensors);
    });
  });
});
