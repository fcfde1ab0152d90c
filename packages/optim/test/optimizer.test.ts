import { describe, expect, it } from 'vitest';
import { memoryStats, scope, Tensor, tensor } from '@dl/tensor';
import { Adam, AdamW, type Optimizer, RMSprop, SGD, lrScheduler } from '../src/index.js';
import type { OptimizerStateDict } from '../src/index.js';
import { expectDLErrors } from './helpers.js';

const bits = (t: Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));

describe('zeroGrad', () => {
  it('setToNone (default) disposes each gradient and sets .grad = null', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const q = tensor([3], { requiresGrad: true });
    const opt = new SGD([p, q], { lr: 0.1 });
    const g = tensor([0.5, 0.5]);
    p.grad = g;
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    expect(g.isDisposed).toBe(true);
    expect(q.grad).toBeNull();
  });

  it('setToNone: false zeroes the same gradient tensor in place', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1 });
    p.mul(p).sum().backward();
    const g = p.grad!;
    expect(g.toArray()).toEqual([2, 4]);
    opt.zeroGrad({ setToNone: false });
    expect(p.grad).toBe(g);
    expect(g.toArray()).toEqual([0, 0]);
    // accumulation starts again from zero
    p.mul(3).sum().backward();
    expect(p.grad!.toArray()).toEqual([3, 3]);
  });
});

describe('step', () => {
  it('updates in place: the same tensor objects, still leaves requiring grad', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.5 });
    p.mul(p).sum().backward(); // grad 2p
    opt.step();
    expect(opt.paramGroups[0].params[0]).toBe(p);
    expect(p.toArray()).toEqual([0, 0]);
    expect(p.isLeaf).toBe(true);
    expect(p.requiresGrad).toBe(true);
    expect(p.gradFn).toBeNull();
  });

  it('param groups: group options override the defaults, each group uses its own lr', () => {
    const a = tensor([1], { dtype: 'float64', requiresGrad: true });
    const b = tensor([1], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1, momentum: 0.9 });
    expect(opt.paramGroups.map((g) => [g.lr, g.momentum])).toEqual([[0.1, 0.9], [0.01, 0.9]]);
    for (let i = 0; i < 2; i++) {
      a.grad = tensor([1], { dtype: 'float64' });
      b.grad = tensor([1], { dtype: 'float64' });
      opt.step();
    }
    // buf: 1 then 1.9 -> p = 1 - lr * 2.9
    expect(a.item()).toBeCloseTo(1 - 0.1 * 2.9, 14);
    expect(b.item()).toBeCloseTo(1 - 0.01 * 2.9, 14);
  });

  it('addParamGroup adds a group with the defaults filled in', () => {
    const a = tensor([1], { requiresGrad: true });
    const b = tensor([1], { requiresGrad: true });
    const opt = new Adam([a], { lr: 0.1 });
    opt.addParamGroup({ params: b, betas: [0.5, 0.6] });
    expect(opt.paramGroups[1].params).toEqual([b]);
    expect(opt.paramGroups[1].lr).toBe(0.1);
    expect(opt.paramGroups[1].betas).toEqual([0.5, 0.6]);
    expect(opt.paramGroups[0].betas).toEqual([0.9, 0.999]);
  });

  it('skips parameters without a gradient (no change, no state)', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    for (const opt of [new SGD([a, b], { lr: 0.1, momentum: 0.9 }), new Adam([a, b]), new AdamW([a, b]), new RMSprop([a, b], { momentum: 0.5 })] as Optimizer[]) {
      a.grad = tensor([1, 1]);
      opt.step();
      expect(b.toArray()).toEqual([3, 4]);
      expect(opt.state.has(b)).toBe(false);
      expect(opt.state.has(a)).toBe(true);
      opt.zeroGrad();
    }
  });

  it('step(closure) evaluates the closure with gradients enabled and returns its loss', () => {
    const p = tensor([3], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([p], { lr: 0.25 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      const l = p.mul(p).sum();
      l.backward();
      return l;
    }) as Tensor;
    expect(loss.item()).toBe(9);
    expect(p.item()).toBe(3 - 0.25 * 6);
  });

  const leakCases: [string, (p: Tensor) => Optimizer, string[]][] = [
    ['SGD', (p) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1, maximize: true }), ['momentumBuffer']],
    ['Adam', (p) => new Adam([p], { lr: 0.1, amsgrad: true, weightDecay: 0.1 }), ['expAvg', 'expAvgSq', 'maxExpAvgSq']],
    ['AdamW', (p) => new AdamW([p], { lr: 0.1, amsgrad: true }), ['expAvg', 'expAvgSq', 'maxExpAvgSq']],
    ['RMSprop', (p) => new RMSprop([p], { momentum: 0.9, centered: true, weightDecay: 0.1 }), ['squareAvg', 'gradAvg', 'momentumBuffer']],
  ];
  for (const [name, make, keys] of leakCases) {
    it(`${name}: frees its temporaries and keeps its state across scopes`, () => {
      const p = tensor([1, 2, 3], { requiresGrad: true });
      const opt = make(p);
      const stepOnce = () => {
        p.grad = tensor([0.1, -0.2, 0.3]);
        opt.step();
        opt.zeroGrad(); // disposes the gradient
      };
      stepOnce();
      const live = memoryStats().liveTensors;
      for (let i = 0; i < 5; i++) stepOnce();
      expect(memoryStats().liveTensors).toBe(live); // step() freed its temporaries
      // state made inside a caller's scope outlives it
      const q = tensor([1, 2, 3], { requiresGrad: true });
      const opt2 = make(q);
      scope(() => {
        q.grad = tensor([0.1, -0.2, 0.3]);
        opt2.step();
      });
      const st = opt2.state.get(q) ?? {};
      for (const k of keys) expect((st[k] as Tensor).isDisposed).toBe(false);
    });
  }
});

describe('stateDict / loadStateDict', () => {
  it("uses PyTorch's layout: state by parameter index, groups with params as indices", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3], { requiresGrad: true });
    const c = tensor([4], { requiresGrad: true });
    const opt = new SGD([{ params: [a, b] }, { params: [c], lr: 0.5 }], { lr: 0.1, momentum: 0.9 });
    a.grad = tensor([1, 1]);
    c.grad = tensor([2]);
    opt.step();
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0', '2']);
    expect(sd.paramGroups).toEqual([
      { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, params: [0, 1] },
      { lr: 0.5, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, params: [2] },
    ]);
    const buf = sd.state[0].momentumBuffer as Tensor;
    expect(buf.toArray()).toEqual([1, 1]);
    // tensors are clones: changing the optimizer's state leaves the saved one alone
    expect(buf).not.toBe(opt.state.get(a)!.momentumBuffer);
    opt.step();
    expect(buf.toArray()).toEqual([1, 1]);
  });

  const makers: [string, (ps: Tensor[]) => Optimizer][] = [
    ['SGD (momentum, nesterov, weight decay)', (ps) => new SGD([{ params: ps.slice(0, 1) }, { params: ps.slice(1), lr: 0.02 }], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['Adam (amsgrad)', (ps) => new Adam([{ params: ps.slice(0, 1) }, { params: ps.slice(1), lr: 0.002 }], { lr: 0.01, amsgrad: true })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 0.01, weightDecay: 0.1 })],
    ['RMSprop (centered, momentum)', (ps) => new RMSprop(ps, { lr: 0.01, centered: true, momentum: 0.9 })],
  ];
  for (const [name, make] of makers) {
    it(`${name}: 3 steps, save, load into a fresh optimizer on cloned params, 3 more steps: identical bits`, () => {
      const grads = (t: number) => [tensor([0.3 * t - 0.5, 0.7, -1.1 / t]), tensor([[0.2 * t, -0.4], [0.9, -0.05 * t]])];
      const params = [tensor([0.5, -1, 2], { requiresGrad: true }), tensor([[1, 2], [3, 4]], { requiresGrad: true })];
      const opt = make(params);
      const setGrads = (ps: Tensor[], t: number) => grads(t).forEach((g, i) => { ps[i].grad = g; });
      for (let t = 1; t <= 3; t++) {
        setGrads(params, t);
        opt.step();
        opt.zeroGrad();
      }
      const sd = opt.stateDict();
      const clones = params.map((p) => p.detach().clone().requiresGrad_());
      const fresh = make(clones);
      fresh.loadStateDict(sd);
      for (const [i, p] of params.entries()) {
        for (const [k, v] of Object.entries(opt.state.get(p)!)) {
          const w = fresh.state.get(clones[i])![k];
          if (typeof v === 'number') expect(w).toBe(v);
          else expect(bits(w as Tensor)).toEqual(bits(v));
        }
      }
      for (let t = 4; t <= 6; t++) {
        setGrads(params, t);
        setGrads(clones, t);
        opt.step();
        fresh.step();
        opt.zeroGrad();
        fresh.zeroGrad();
      }
      for (const [i, p] of params.entries()) expect(bits(clones[i])).toEqual(bits(p));
      // and they did move
      expect(bits(params[0])).not.toEqual(bits(tensor([0.5, -1, 2])));
    });
  }

  it('restores hyperparameters (including a scheduler-set lr and initialLr) and keeps its own params', () => {
    const p = tensor([1], { requiresGrad: true });
    const opt = new SGD([p], { lr: 1, momentum: 0.5 });
    const sched = new lrScheduler.StepLR(opt, { stepSize: 1, gamma: 0.5 });
    sched.step();
    const sd = opt.stateDict();
    const q = tensor([1], { requiresGrad: true });
    const fresh = new SGD([q], { lr: 7 });
    fresh.loadStateDict(sd);
    expect(fresh.paramGroups[0].params[0]).toBe(q);
    expect(fresh.paramGroups[0].lr).toBe(0.5);
    expect(fresh.paramGroups[0].initialLr).toBe(1);
    expect(fresh.paramGroups[0].momentum).toBe(0.5);
  });

  it('disposes the state it replaces and owns copies of the loaded tensors', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = tensor([1, 1]);
    opt.step();
    const old = opt.state.get(p)!.momentumBuffer as Tensor;
    const sd = opt.stateDict();
    opt.loadStateDict(sd);
    expect(old.isDisposed).toBe(true);
    (sd.state[0].momentumBuffer as Tensor).dispose();
    opt.step();
    expect(Array.from((opt.state.get(p)!.momentumBuffer as Tensor).dataSync())).toEqual([1.9, 1.9].map(Math.fround));
  });

  it('refuses a state dict with a different number of parameters, groups or shapes', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3], { requiresGrad: true });
    const opt = new SGD([a, b], { lr: 0.1, momentum: 0.9 });
    a.grad = tensor([1, 1]);
    b.grad = tensor([1]);
    opt.step();
    const sd = opt.stateDict();

    const one = new SGD([tensor([1, 2], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
    expect(() => one.loadStateDict(sd)).toThrowError(/SGD: loadStateDict: parameter group 0 of the loaded state dict has 2 parameter\(s\); the optimizer's group 0 has 1/);

    const twoGroups = new SGD([{ params: [tensor([1, 2], { requiresGrad: true })] }, { params: [tensor([1], { requiresGrad: true })] }], { lr: 0.1 });
    expect(() => twoGroups.loadStateDict(sd)).toThrowError(/SGD: loadStateDict: the loaded state dict has 1 parameter group\(s\); this optimizer has 2/);

    const wrongShape = new SGD([tensor([1, 2, 3], { requiresGrad: true }), tensor([1], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
    expect(() => wrongShape.loadStateDict(sd)).toThrowError(/SGD: loadStateDict: state\[0\]\.momentumBuffer has shape \[2\], but parameter 0 has shape \[3\]/);

    const bad = { state: { 5: {} }, paramGroups: sd.paramGroups } as OptimizerStateDict;
    expect(() => opt.loadStateDict(bad)).toThrowError(/state for parameter index 5, which none of its parameter groups lists/);
    expect(() => opt.loadStateDict({} as OptimizerStateDict)).toThrowError(/expected \{ state, paramGroups \}/);

    // a failed load changes nothing
    expect(wrongShape.state.size).toBe(0);
    expect(one.paramGroups[0].momentum).toBe(0.9);
  });
});

describe('errors', () => {
  it('invalid hyperparameters, with the option name and the expected range', () => {
    const p = () => [tensor([1], { requiresGrad: true })];
    const cases: [() => unknown, RegExp][] = [
      [() => new SGD(p(), { lr: -1 }), /^SGD: invalid learning rate: -1; expected lr >= 0$/],
      [() => new SGD(p(), { momentum: -0.5 }), /^SGD: invalid momentum value: -0.5; expected momentum >= 0$/],
      [() => new SGD(p(), { weightDecay: -1 }), /^SGD: invalid weightDecay value: -1; expected weightDecay >= 0$/],
      [() => new SGD(p(), { lr: Number.NaN }), /^SGD: invalid learning rate: NaN; expected lr >= 0$/],
      [() => new SGD(p(), { nesterov: true }), /^SGD: nesterov momentum requires a momentum and zero dampening; got momentum 0, dampening 0/],
      [() => new SGD(p(), { nesterov: true, momentum: 0.9, dampening: 0.1 }), /nesterov momentum requires a momentum and zero dampening; got momentum 0.9, dampening 0.1/],
      [() => new SGD([{ params: p(), lr: -0.1 }], { lr: 0.1 }), /^SGD: invalid learning rate: -0.1; expected lr >= 0$/],
      [() => new Adam(p(), { lr: -1 }), /^Adam: invalid learning rate: -1; expected lr >= 0$/],
      [() => new Adam(p(), { eps: -1e-8 }), /^Adam: invalid epsilon value: -1e-8; expected eps >= 0$/],
      [() => new Adam(p(), { betas: [1, 0.999] }), /^Adam: invalid beta parameter at index 0: 1; expected 0 <= betas\[0\] < 1$/],
      [() => new Adam(p(), { betas: [0.9, -0.1] }), /^Adam: invalid beta parameter at index 1: -0.1; expected 0 <= betas\[1\] < 1$/],
      [() => new AdamW(p(), { weightDecay: -1 }), /^AdamW: invalid weightDecay value: -1; expected weightDecay >= 0$/],
      [() => new RMSprop(p(), { alpha: -0.1 }), /^RMSprop: invalid alpha value: -0.1; expected alpha >= 0$/],
      [() => new RMSprop(p(), { momentum: -1 }), /^RMSprop: invalid momentum value: -1; expected momentum >= 0$/],
      [() => new RMSprop(p(), { eps: -1 }), /^RMSprop: invalid epsilon value: -1; expected eps >= 0$/],
    ];
    expectDLErrors(cases, 'VALUE');
  });

  it('unknown options name the camelCase spelling', () => {
    expect(() => new SGD([tensor([1], { requiresGrad: true })], { weight_decay: 0.1 } as never)).toThrowError(/SGD: unknown option 'weight_decay'; expected one of lr, momentum, dampening, weightDecay, nesterov, maximize\nhint: options are camelCase: use 'weightDecay'/);
  });

  it('bad parameter lists', () => {
    const p = tensor([1], { requiresGrad: true });
    expect(() => new SGD([])).toThrowError(/SGD: optimizer got an empty parameter list/);
    expect(() => new SGD(p as never)).toThrowError(/SGD: params must be an iterable of Tensors or of parameter groups; got a Tensor/);
    expect(() => new SGD([p, p])).toThrowError(/SGD: a parameter group contains the same parameter more than once/);
    expect(() => new SGD([{ params: [p] }, { params: [p] }])).toThrowError(/SGD: some parameters appear in more than one parameter group/);
    expect(() => new SGD([p.mul(2)])).toThrowError(/SGD: can't optimize a non-leaf Tensor/);
    expect(() => new SGD([[1, 2]] as never)).toThrowError(/SGD: a parameter group must be an object/);
  });
});

describe('state follows its parameter (Module.to after training started)', () => {
  const make = (): Tensor => tensor([[0.5, -1, 2], [1.5, 0.25, -0.75]]).requiresGrad_();
  const gradOf = (k: number) => tensor([[0.1, -0.2, 0.3], [0.05 * k, -0.4, 0.2]]);
  const optimizers: [string, (p: Tensor[]) => Optimizer][] = [
    ['SGD momentum', (p) => new SGD(p, { lr: 0.1, momentum: 0.9 })],
    ['Adam', (p) => new Adam(p, { lr: 0.1 })],
  ];
  for (const [name, build] of optimizers) {
    it(`${name}: after the parameter moves to another device and dtype, the next step moves the state and matches an unmoved run`, () => {
      const a = make();
      const b = make();
      const oa = build([a]);
      const ob = build([b]);
      for (const [p, o] of [[a, oa], [b, ob]] as const) {
        p.grad = gradOf(1);
        o.step();
      }
      // Move b as Module.to() does: same object, new storage (and its gradient).
      const moved = b.detach().to('reference').to('float64');
      b.replaceData(moved);
      moved.dispose();
      for (const [p, o] of [[a, oa], [b, ob]] as const) {
        p.grad = p === b ? gradOf(2).to('reference').to('float64') : gradOf(2);
        o.step();
      }
      expect(b.device).toBe('reference');
      const tensors = Object.values(ob.state.get(b) ?? {}).filter((v): v is Tensor => v instanceof Tensor);
      expect(tensors.length).toBeGreaterThan(0);
      for (const v of tensors) {
        expect(v.device).toBe('reference');
        expect(v.dtype).toBe('float64');
      }
      const got = Array.from(b.detach().to('cpu').dataSync());
      const want = Array.from(a.detach().dataSync());
      for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i], 6);
    });
  }
});
