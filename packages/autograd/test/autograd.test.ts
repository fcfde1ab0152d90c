import { describe, expect, it } from 'vitest';
import { type Tensor, batchNorm, conv2d, crossEntropyWithLse, layerNorm, maxPool2d, memoryStats, ones, profile, randn, scope, tensor, zeros, Generator } from '@dl/tensor';
import { defineFunction, enableGrad, grad, gradcheck, inferenceMode, isGradEnabled, noGrad } from '../src/index.js';

const leaf = (data: number[] | number[][]) => tensor(data, { requiresGrad: true });

describe('backward', () => {
  it('computes the tutorial example: z = relu(x + y), dz/dx = dz/dy = 1', () => {
    const x = leaf([2]);
    const y = leaf([3]);
    const z = x.add(y).relu();
    z.backward();
    expect(x.grad!.toArray()).toEqual([1]);
    expect(y.grad!.toArray()).toEqual([1]);
    expect(z.gradFn!.name).toBe('reluBackward');
    expect(x.isLeaf).toBe(true);
    expect(z.isLeaf).toBe(false);
  });

  it('hand-worked gradients through broadcasting: d/da sum(a * b) with a [2,3], b [3]', () => {
    const a = leaf([[1, 2, 3], [4, 5, 6]]);
    const b = leaf([10, 20, 30]);
    a.mul(b).sum().backward();
    expect(a.grad!.toArray()).toEqual([[10, 20, 30], [10, 20, 30]]);
    expect(b.grad!.toArray()).toEqual([5, 7, 9]);
  });

  it('accumulates into .grad across backward calls, as PyTorch', () => {
    const x = leaf([1, 2]);
    x.mul(3).sum().backward();
    x.mul(x).sum().backward();
    // 3 + 2x
    expect(x.grad!.toArray()).toEqual([5, 7]);
  });

  it('takes an explicit gradient for non-scalar outputs and refuses without one', () => {
    const x = leaf([1, 2, 3]);
    const y = x.mul(2);
    expect(() => y.backward()).toThrowError(/backward: grad can be implicitly created only for scalar outputs; got shape \[3\]/);
    y.backward(tensor([1, 0.5, 2]));
    expect(x.grad!.toArray()).toEqual([2, 1, 4]);
  });

  it('refuses a second backward through a freed graph, and allows it with retainGraph', () => {
    const x = leaf([1, 2]);
    const y2 = x.exp().sum();
    y2.backward(undefined, { retainGraph: true });
    y2.backward();
    expect(() => y2.backward()).toThrowError(/trying to backward through the graph a second time[\s\S]*retainGraph: true/);
  });

  it('detects an in-place change of a tensor saved for backward (version counter)', () => {
    const x = leaf([1, 2]);
    const h = x.mul(2);
    const y = h.mul(h); // saves h
    noGrad(() => h.add_(1));
    expect(() => y.sum().backward()).toThrowError(/modified by an in-place operation: it is at version 1, expected version 0/);
  });

  it('refuses in-place ops on leaves that require grad, except under noGrad', () => {
    const w = leaf([1, 2]);
    expect(() => w.add_(1)).toThrowError(/a leaf tensor that requires grad is being used in an in-place operation/);
    noGrad(() => w.add_(1));
    expect(w.toArray()).toEqual([2, 3]);
  });

  it('in-place ops on non-leaf tensors carry their history', () => {
    const x = leaf([1, 2]);
    const y = x.mul(3);
    y.add_(x); // y = 3x + x
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([4, 4]);
  });

  it('refuses gradients for integer tensors and backward without requiresGrad', () => {
    expect(() => tensor([1], { dtype: 'int32' }).requiresGrad_()).toThrowError(/only floating point tensors can require gradients; got int32/);
    expect(() => tensor([1]).mul(2).sum().backward()).toThrowError(/does not require grad/);
  });

  it('detach() cuts the graph and shares memory', () => {
    const x = leaf([1, 2]);
    const d = x.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBe(null);
  });
});

describe('grad modes', () => {
  it('noGrad records nothing; enableGrad re-enables inside it', () => {
    const x = leaf([1]);
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    const z = noGrad(() => enableGrad(() => x.mul(2)));
    expect(z.requiresGrad).toBe(true);
    expect(inferenceMode(() => x.mul(2)).requiresGrad).toBe(false);
  });

  it('modes hold across await and do not leak into concurrent tasks', async () => {
    const x = leaf([1]);
    const tick = () => new Promise((r) => setTimeout(r, 5));
    const inside = noGrad(async () => {
      await tick();
      return [isGradEnabled(), x.mul(2).requiresGrad];
    });
    const outside = (async () => {
      await tick();
      return [isGradEnabled(), x.mul(2).requiresGrad];
    })();
    expect(await inside).toEqual([false, false]);
    expect(await outside).toEqual([true, true]);
  });
});

describe('functional grad, hooks, higher order, custom functions', () => {
  it('grad() returns gradients without touching .grad', () => {
    const x = leaf([1, 2, 3]);
    const [g] = grad([x.pow(2).sum()], [x]);
    expect(g!.toArray()).toEqual([2, 4, 6]);
    expect(x.grad).toBe(null);
  });

  it('createGraph gives second derivatives: d2/dx2 x^3 = 6x', () => {
    const x = leaf([1, 2]);
    const [g] = grad([x.pow(3).sum()], [x], undefined, { createGraph: true });
    expect(g!.toArray()).toEqual([3, 12]);
    const [g2] = grad([g!.sum()], [x]);
    expect(g2!.toArray()).toEqual([6, 12]);
  });

  it('double backward through conv2d matches finite differences', () => {
    const g = new Generator(3);
    const x = randn([1, 2, 5, 5], { generator: g, dtype: 'float64' }).requiresGrad_();
    const w = randn([3, 2, 3, 3], { generator: g, dtype: 'float64' }).requiresGrad_();
    const gradNormSq = (xx: Tensor, ww: Tensor) => {
      const [gx] = grad([conv2d(xx, ww, null, { padding: 1 }).tanh().sum()], [xx], undefined, { createGraph: true });
      return gx!.pow(2).sum();
    };
    expect(gradcheck(gradNormSq, [x, w])).toBe(true);
  });

  it('double backward through relu (its gradient is the fused reluBackward) matches finite differences', () => {
    // A network-like f: x -> relu(x w) . v; the squared norm of df/dx depends on w and v through
    // reluBackward's gradient rule (linear in the upstream gradient, constant in the mask).
    const g = new Generator(5);
    const x = randn([3, 4], { generator: g, dtype: 'float64' }).requiresGrad_();
    const w = randn([4, 5], { generator: g, dtype: 'float64' }).requiresGrad_();
    const v = randn([5], { generator: g, dtype: 'float64' }).requiresGrad_();
    const gradNormSq = (xx: Tensor, ww: Tensor, vv: Tensor) => {
      const [gx] = grad([xx.matmul(ww).relu().mul(vv).sum()], [xx], undefined, { createGraph: true });
      return gx!.pow(2).sum();
    };
    expect(gradcheck(gradNormSq, [x, w, v])).toBe(true);
    // And the first derivative against the hand-worked rule: d/dx = (mask * v) w^T.
    const [gx] = grad([x.matmul(w).relu().mul(v).sum()], [x]);
    const mask = x.detach().matmul(w.detach()).gt(0).to('float64');
    const expected = mask.mul(v.detach()).matmul(w.detach().transpose(0, 1));
    expect(gx!.sub(expected).abs().amax().item()).toBeLessThan(1e-12);
  });

  it('double backward through the fused crossEntropy (loss and lse) matches finite differences', () => {
    const g = new Generator(4);
    const x = randn([4, 6], { generator: g, dtype: 'float64' }).requiresGrad_();
    const target = tensor([2, -100, 5, 0], { dtype: 'int32' });
    const weight = tensor([1, 0.5, 2, 1.5, 0.25, 1], { dtype: 'float64' });
    const gradNormSq = (xx: Tensor) => {
      const { loss, lse } = crossEntropyWithLse(xx, target, { weight, labelSmoothing: 0.2 });
      const [gx] = grad([loss.sum().add(lse.mul(0.3).sum())], [xx], undefined, { createGraph: true });
      return gx!.pow(2).sum();
    };
    expect(gradcheck(gradNormSq, [x])).toBe(true);
  });

  it('double backward through the fused layerNorm (its createGraph path writes the gradient with differentiable ops) matches finite differences', () => {
    const g = new Generator(6);
    const x = randn([3, 5], { generator: g, dtype: 'float64' }).requiresGrad_();
    const w = randn([5], { generator: g, dtype: 'float64' }).requiresGrad_();
    const b = randn([5], { generator: g, dtype: 'float64' }).requiresGrad_();
    const v = randn([3, 5], { generator: g, dtype: 'float64' });
    const gradNormSq = (xx: Tensor, ww: Tensor, bb: Tensor) => {
      const [gx, gw] = grad([layerNorm(xx, 1, ww, bb, 1e-5).tanh().mul(v).sum()], [xx, ww], undefined, { createGraph: true });
      return gx!.pow(2).sum().add(gw!.pow(2).sum());
    };
    expect(gradcheck(gradNormSq, [x, w, b])).toBe(true);
    const grads = (create: boolean) => grad([layerNorm(x, 1, w, b, 1e-5).tanh().mul(v).sum()], [x, w, b], undefined, { createGraph: create });
    const [plain, recorded] = [grads(false), grads(true)];
    recorded.forEach((g, i) => {
      expect(g!.allclose(plain[i]!, { rtol: 1e-12, atol: 1e-12 }), `input ${i}`).toBe(true);
    });
  });

  it('double backward through the fused batchNorm (y and its batch statistics) matches finite differences', () => {
    const g = new Generator(7);
    const x = randn([4, 3, 5], { generator: g, dtype: 'float64' }).requiresGrad_();
    const w = randn([3], { generator: g, dtype: 'float64' }).requiresGrad_();
    const b = randn([3], { generator: g, dtype: 'float64' }).requiresGrad_();
    const v = randn([4, 3, 5], { generator: g, dtype: 'float64' });
    const gradNormSq = (xx: Tensor, ww: Tensor, bb: Tensor) => {
      const [y, mean, variance] = batchNorm(xx, ww, bb, 1e-5);
      const out = y.tanh().mul(v).sum().add(mean.mul(0.7).sum()).add(variance.sin().sum());
      const [gx, gw] = grad([out], [xx, ww], undefined, { createGraph: true });
      return gx!.pow(2).sum().add(gw!.pow(2).sum());
    };
    expect(gradcheck(gradNormSq, [x, w, b])).toBe(true);
    // gradcheck above differentiates whatever the createGraph path computes: that it computes the
    // first derivatives is checked against the fused kernel's.
    const loss = (create: boolean) => {
      const [y, mean, variance] = batchNorm(x, w, b, 1e-5);
      return grad([y.tanh().mul(v).sum().add(mean.mul(0.7).sum()).add(variance.sin().sum())], [x, w, b], undefined, { createGraph: create });
    };
    const [plain, recorded] = [loss(false), loss(true)];
    recorded.forEach((g, i) => {
      expect(g!.allclose(plain[i]!, { rtol: 1e-12, atol: 1e-12 }), `input ${i}`).toBe(true);
    });
  });

  it('hooks see and may replace gradients, on leaves and intermediates', () => {
    const x = leaf([1, 2]);
    const seen: number[][] = [];
    const h = x.mul(2);
    h.registerHook((g) => {
      seen.push(g.toArray() as number[]);
      return g.mul(10);
    });
    const remove = x.registerHook((g) => {
      seen.push(g.toArray() as number[]);
    });
    h.sum().backward();
    expect(seen).toEqual([[1, 1], [20, 20]]);
    expect(x.grad!.toArray()).toEqual([20, 20]);
    remove();
  });

  it('retainGrad keeps an intermediate gradient', () => {
    const x = leaf([1, 2]);
    const h = x.mul(3);
    h.retainGrad();
    h.pow(2).sum().backward();
    expect(h.grad!.toArray()).toEqual([6, 12]);
  });

  it('custom functions: user forward and backward, checked by gradcheck', () => {
    const cube = defineFunction({
      name: 'Cube',
      forward(ctx, x: Tensor) {
        ctx.saveForBackward(x);
        return x.pow(3);
      },
      backward(ctx, g) {
        const [x] = ctx.savedTensors;
        return [g.mul(x.pow(2)).mul(3)];
      },
    });
    const x = tensor([0.5, -1.5, 2], { dtype: 'float64', requiresGrad: true });
    const y = cube(x);
    expect(y.gradFn!.name).toBe('CubeBackward');
    expect(gradcheck((t) => cube(t).mul(t), [x])).toBe(true);
  });

  it('gradcheck catches a wrong gradient rule (weights w = sin(1 + 1.7k): autograd w, true 3w)', () => {
    const wrong = defineFunction({
      forward: (_ctx, x: Tensor) => x.mul(x),
      backward: (_ctx, g) => [g],
    });
    const x = tensor([1.5], { dtype: 'float64', requiresGrad: true });
    expect(() => gradcheck((t) => wrong(t), [x])).toThrowError(/gradient mismatch for input 0 at flat index 0: autograd gives 0\.84147\d+, finite differences give 2\.52441\d+/);
  });
});

describe('memory', () => {
  it('a 1,000-step training loop keeps live tensors and bytes flat; the graph is freed after backward', () => {
    const g = new Generator(0);
    const w = randn([8, 1], { generator: g }).requiresGrad_();
    const b = zeros([1], { requiresGrad: true });
    const x = randn([32, 8], { generator: g });
    const target = x.matmul(ones([8, 1])).add(0.5);
    const step = () =>
      scope(() => {
        const loss = x.matmul(w).add(b).sub(target).pow(2).mean();
        w.grad?.zero_();
        b.grad?.zero_();
        loss.backward();
        noGrad(() => {
          w.sub_(w.grad!.mul(0.05));
          b.sub_(b.grad!.mul(0.05));
        });
        return loss.item();
      });
    for (let i = 0; i < 10; i++) step();
    const before = memoryStats();
    let last = 0;
    for (let i = 0; i < 1000; i++) last = step();
    const after = memoryStats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(last).toBeLessThan(1e-6);
    expect(w.toArray()).toEqual(Array.from({ length: 8 }, () => [expect.closeTo(1, 3)]));
  });

  it('batchNorm, layerNorm and maxPool2d keep what their backward reads, not their outputs', () => {
    const x = randn([8, 4, 16, 16]).requiresGrad_();
    const bytes = x.numel * 4;
    // Each output feeds relu, which keeps its own output (the result): the op's output is then
    // an intermediate nothing else holds, and must be freed with the scope.
    const cases: [string, (t: Tensor) => Tensor, number][] = [
      ['batchNorm', (t) => batchNorm(t, null, null, 1e-5)[0], bytes], // relu's output; x and the statistics are x's or tiny
      ['layerNorm', (t) => layerNorm(t, 2, null, null, 1e-5), bytes],
      ['maxPool2d', (t) => maxPool2d(t, 2), bytes / 4 + bytes / 4], // relu's output and the int32 indices
    ];
    for (const [name, f, kept] of cases) {
      const before = memoryStats().liveBytes;
      const out = scope(() => f(x).relu());
      const grown = memoryStats().liveBytes - before;
      expect(grown, name).toBeGreaterThanOrEqual(kept);
      expect(grown, name).toBeLessThan(kept + 4096);
      out.sum().backward();
      out.dispose();
    }
  });

  it("grad()'s results belong to the caller's scope: freed with it unless returned from it", () => {
    const x = randn([4, 3]).requiresGrad_();
    const before = memoryStats().liveTensors;
    for (let i = 0; i < 5; i++) {
      scope(() => {
        grad([x.softmax(1).mul(x).sum()], [x]);
      });
    }
    expect(memoryStats().liveTensors).toBe(before);
    const [kept] = scope(() => grad([x.mul(x).sum()], [x]));
    expect(memoryStats().liveTensors).toBe(before + 1);
    expect(kept!.toArray()).toEqual(x.mul(2).toArray());
    kept!.dispose();
    // An output that is an input: its gradient is the seed grad() made, handed out alive.
    const s = randn([]).requiresGrad_();
    const [self] = grad([s], [s]);
    expect(self!.item()).toBe(1);
  });

  // Before, the saved tensors of nodes no backward reached stayed until garbage collection,
  // which knows nothing of device memory.
  it('a forward pass with gradients on but no backward frees its saved tensors when scope() disposes its outputs (PyTorch frees a graph nothing refers to)', () => {
    const g = new Generator(1);
    const w = randn([16, 16], { generator: g }).requiresGrad_();
    const x = randn([8, 16], { generator: g });
    const before = memoryStats();
    for (let i = 0; i < 50; i++) scope(() => x.matmul(w).tanh().exp().sigmoid().sum().item()); // saves x, tanh's, exp's and sigmoid's outputs
    expect(memoryStats().liveTensors).toBe(before.liveTensors);
    expect(memoryStats().liveBytes).toBe(before.liveBytes);
  });

  it('a branch backward does not reach is freed with its outputs; the reached part is freed by backward as before', () => {
    const g = new Generator(2);
    const w = randn([4, 4], { generator: g }).requiresGrad_();
    const x = randn([3, 4], { generator: g });
    const step = () =>
      scope(() => {
        const h = x.matmul(w);
        h.exp().mul(h); // unused branch: exp and mul save tensors
        h.pow(2).sum().backward();
      });
    step();
    const before = memoryStats();
    for (let i = 0; i < 20; i++) step();
    expect(memoryStats().liveTensors).toBe(before.liveTensors);
    expect(memoryStats().liveBytes).toBe(before.liveBytes);
  });

  it('a kept output holds its whole graph: backward after the intermediates were disposed gives the hand-worked gradient', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = scope(() => x.mul(x).exp().sum()); // the intermediates (x * x, its exp) are disposed here
    y.backward();
    // d/dx sum(exp(x^2)) = 2x exp(x^2)
    const expected = [1, 2, 3].map((v) => 2 * v * Math.exp(v * v));
    const got = Array.from(x.grad!.dataSync());
    for (let i = 0; i < 3; i++) expect(Math.abs(got[i] - expected[i]) / expected[i]).toBeLessThan(1e-6);
    y.dispose();
  });

  it('with retainGraph the graph stays for a second backward while its output lives, and goes when the output is disposed', () => {
    const x = tensor([0.5, -1, 2], { requiresGrad: true });
    const before = memoryStats();
    const y = scope(() => x.exp().mul(x).sum()); // exp and mul save tensors
    y.backward(undefined, { retainGraph: true });
    y.backward(); // accumulates: 2 * d/dx (x e^x) = 2 (1 + x) e^x
    Array.from(x.grad!.dataSync()).forEach((g, i) => {
      const v = [0.5, -1, 2][i];
      expect(Math.abs(g - 2 * (1 + v) * Math.exp(v))).toBeLessThan(1e-5);
    });
    x.grad!.dispose();
    x.grad = null;
    y.dispose();
    expect(memoryStats().liveTensors).toBe(before.liveTensors);
  });

  it('disposing the end of a 20,000-op chain frees it without deep recursion', () => {
    const x = tensor([0.5], { requiresGrad: true });
    const before = memoryStats();
    scope(() => {
      let t = x;
      for (let i = 0; i < 20000; i++) t = t.mul(1.0001);
      return t.item();
    });
    expect(memoryStats().liveTensors).toBe(before.liveTensors);
  });
});

describe('split and chunk', () => {
  it('the pieces of a split share one graph node: their gradients are joined by one cat (no pads, no adds), zeros for an unused piece', () => {
    const x = tensor([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], { requiresGrad: true });
    const prof = profile(() =>
      scope(() => {
        const [a, , c] = x.split([2, 1, 2], 1);
        a.mul(2).sum().add(c.mul(c).sum()).backward();
      }),
    );
    // d/da 2a = 2; the middle piece is unused (0); d/dc c^2 = 2c.
    expect(x.grad!.toArray()).toEqual([[2, 2, 0, 8, 10], [2, 2, 0, 18, 20]]);
    const ops = prof.events.map((e) => e.op);
    expect(ops.filter((op) => op === 'split').length).toBe(1);
    expect(ops.filter((op) => op === 'cat').length).toBe(1);
    expect(ops).not.toContain('pad');
  });

  it('gradcheck of chunk along a middle dim, pieces of unequal size, through different functions', () => {
    const g = new Generator(9);
    const x = randn([2, 7, 3], { generator: g, dtype: 'float64' }).requiresGrad_();
    const f = (t: Tensor) => {
      const [p, q, r] = t.chunk(3, 1); // sizes 3, 3, 1
      return p.tanh().sum().add(q.mul(q).mul(r).sum()).add(r.exp().sum());
    };
    expect(gradcheck(f, [x])).toBe(true);
  });
});

describe('profile sees backward', () => {
  it("backward's gradient ops are dispatched ops too: x * y then tanh costs a tanh, and muls for the gradients", () => {
    const x = leaf([[1, 2], [3, 4]]);
    const y = leaf([[0.5, -1], [2, 0]]);
    const prof = profile(() => scope(() => x.mul(y).tanh().sum().backward()));
    const ops = prof.events.map((e) => e.op);
    // Forward: mul, tanh, sum. Backward: sum's expand, tanh's 1 - y^2 (mul, sub, mul), mul's x * g and y * g.
    expect(ops.slice(0, 3)).toEqual(['mul', 'tanh', 'sum']);
    expect(ops.filter((op) => op === 'mul').length).toBeGreaterThanOrEqual(4);
    expect(prof.keyAverages().find((r) => r.op === 'tanh')?.calls).toBe(1);
  });
});
