import { describe, expect, it } from 'vitest';
import { DLError, Tensor, manualSeed, memoryStats, ones, randn, scope, tensor, zeros } from '@dl/tensor';
import { gradcheck, noGrad } from '@dl/autograd';
import {
  BatchNorm2d,
  Conv2d,
  Dropout,
  F,
  Flatten,
  Linear,
  MaxPool2d,
  Module,
  ModuleDict,
  ModuleList,
  Parameter,
  ReLU,
  Sequential,
  utils,
} from '../src/index.js';

/** The CIFAR-10 tutorial network (Training a Classifier). */
class Net extends Module {
  conv1 = new Conv2d(3, 6, 5);
  pool = new MaxPool2d(2, 2);
  conv2 = new Conv2d(6, 16, 5);
  fc1 = new Linear(16 * 5 * 5, 120);
  fc2 = new Linear(120, 84);
  fc3 = new Linear(84, 10);

  override forward(x: Tensor): Tensor {
    x = this.pool.forward(F.relu(this.conv1.forward(x)));
    x = this.pool.forward(F.relu(this.conv2.forward(x)));
    x = x.flatten(1);
    x = F.relu(this.fc1.forward(x));
    x = F.relu(this.fc2.forward(x));
    return this.fc3.forward(x);
  }
}

const NET_PARAMS: [string, number[]][] = [
  ['conv1.weight', [6, 3, 5, 5]],
  ['conv1.bias', [6]],
  ['conv2.weight', [16, 6, 5, 5]],
  ['conv2.bias', [16]],
  ['fc1.weight', [120, 400]],
  ['fc1.bias', [120]],
  ['fc2.weight', [84, 120]],
  ['fc2.bias', [84]],
  ['fc3.weight', [10, 84]],
  ['fc3.bias', [10]],
];

const values = (t: Tensor) => Array.from(t.dataSync());

describe('Parameter', () => {
  it('wraps the storage of a tensor, requires grad, is a leaf and survives scopes', () => {
    const p = scope(() => {
      const data = tensor([1, 2, 3]);
      const q = new Parameter(data);
      expect(q.storage).toBe(data.storage);
      return null;
    });
    expect(p).toBeNull();
    let kept: Parameter | undefined;
    scope(() => {
      kept = new Parameter(tensor([1, 2]));
    });
    expect(kept!.isDisposed).toBe(false);
    expect(kept!.toArray()).toEqual([1, 2]);
    expect(kept!.requiresGrad).toBe(true);
    expect(kept!.isLeaf).toBe(true);
    expect(kept).toBeInstanceOf(Tensor);
    expect(new Parameter(tensor([1]), false).requiresGrad).toBe(false);
    expect(String(kept)).toMatch(/^Parameter containing:\n/);
  });
});

describe('Module registration and iteration', () => {
  it('names the tutorial Net parameters in registration order', () => {
    const net = new Net();
    expect(net.namedParameters().map(([k, p]) => [k, [...p.shape]])).toEqual(NET_PARAMS);
    expect(net.parameters()).toHaveLength(10);
    expect(net.parameters().every((p) => p instanceof Parameter)).toBe(true);
    expect(net.parameters().reduce((n, p) => n + p.numel, 0)).toBe(62006);
    expect(net.namedChildren().map(([k]) => k)).toEqual(['conv1', 'pool', 'conv2', 'fc1', 'fc2', 'fc3']);
    expect(net.namedModules().map(([k]) => k)).toEqual(['', 'conv1', 'pool', 'conv2', 'fc1', 'fc2', 'fc3']);
    expect(net.modules()[0]).toBe(net);
    expect(net.children()[3]).toBe(net.fc1);
    expect(net.namedParameters({ recurse: false })).toEqual([]);
    expect(net.fc1.namedParameters({ prefix: 'fc1' }).map(([k]) => k)).toEqual(['fc1.weight', 'fc1.bias']);
    expect(net.getSubmodule('conv2')).toBe(net.conv2);
    expect(net.getParameter('fc2.bias')).toBe(net.fc2.bias);
    expect(() => net.getSubmodule('conv9')).toThrowError(/has no submodule 'conv9'/);
  });

  it('prints like PyTorch', () => {
    expect(new Net().toString()).toBe(
      [
        'Net(',
        '  (conv1): Conv2d(3, 6, kernelSize=[5, 5], stride=[1, 1])',
        '  (pool): MaxPool2d(kernelSize=2, stride=2, padding=0, dilation=1, ceilMode=false)',
        '  (conv2): Conv2d(6, 16, kernelSize=[5, 5], stride=[1, 1])',
        '  (fc1): Linear(inFeatures=400, outFeatures=120, bias=true)',
        '  (fc2): Linear(inFeatures=120, outFeatures=84, bias=true)',
        '  (fc3): Linear(inFeatures=84, outFeatures=10, bias=true)',
        ')',
      ].join('\n'),
    );
    const seq = new Sequential(new Conv2d(1, 4, 3, { stride: 2, padding: 1, groups: 1, bias: false }), new BatchNorm2d(4), new ReLU(), new Sequential(new Flatten(), new Dropout(0.25)));
    expect(String(seq)).toBe(
      [
        'Sequential(',
        '  (0): Conv2d(1, 4, kernelSize=[3, 3], stride=[2, 2], padding=[1, 1], bias=false)',
        '  (1): BatchNorm2d(4, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)',
        '  (2): ReLU()',
        '  (3): Sequential(',
        '    (0): Flatten(startDim=1, endDim=-1)',
        '    (1): Dropout(p=0.25)',
        '  )',
        ')',
      ].join('\n'),
    );
  });

  it('registers buffers, readable as fields, persistent or not', () => {
    class WithBuffers extends Module {
      lin = new Linear(2, 2);
      declare count: Tensor;
      declare scratch: Tensor;
      constructor() {
        super();
        this.registerBuffer('count', zeros([1]));
        this.registerBuffer('scratch', ones([2]), false);
      }
    }
    const m = new WithBuffers();
    expect(m.count).toBeInstanceOf(Tensor);
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['count', 'scratch']);
    expect(Object.keys(m.stateDict())).toEqual(['count', 'lin.weight', 'lin.bias']);
    expect(m.parameters()).toHaveLength(2);
    m.count = tensor([5]);
    expect(m.buffers()[0].toArray()).toEqual([5]);
    expect(() => m.registerBuffer('lin', zeros([1]))).toThrowError(/attribute 'lin' already exists/);
    expect(() => m.registerBuffer('a.b', zeros([1]))).toThrowError(/without '\.'/);
  });

  it('lists shared parameters and modules once', () => {
    class Tied extends Module {
      a = new Linear(3, 3);
      b = this.a;
      extra = new Parameter(zeros([2]));
      self = this.a.weight;
    }
    const m = new Tied();
    // This module's own parameters come first, so the shared weight is found as 'self'.
    expect(m.namedParameters().map(([k]) => k)).toEqual(['extra', 'self', 'a.bias']);
    expect(m.children()).toHaveLength(1);
    expect(m.namedParameters({ removeDuplicate: false }).map(([k]) => k)).toEqual(['extra', 'self', 'a.weight', 'a.bias', 'b.weight', 'b.bias']);
  });

  it('propagates train() and eval() to every submodule', () => {
    const net = new Sequential(new Linear(2, 2), new Sequential(new Dropout(), new BatchNorm2d(1)));
    expect(net.modules().every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    net.train(false);
    expect(net.modules().map((m) => m.training)).toEqual([false, false, false, false, false]);
  });

  it('apply visits children first, then the module', () => {
    const seen: string[] = [];
    const net = new Sequential(new Linear(1, 1), new Sequential(new ReLU()));
    net.apply((m) => seen.push(m.constructor.name));
    expect(seen).toEqual(['Linear', 'ReLU', 'Sequential', 'Sequential']);
  });

  it('zeroGrad sets grads to null (disposing them) or zeros them in place', () => {
    const lin = new Linear(3, 2);
    lin.forward(ones([4, 3])).sum().backward();
    const g = lin.weight.grad!;
    expect(values(lin.bias!.grad!)).toEqual([4, 4]);
    lin.zeroGrad({ setToNone: false });
    expect(lin.weight.grad).toBe(g);
    expect(values(g).every((v) => v === 0)).toBe(true);
    lin.zeroGrad();
    expect(lin.weight.grad).toBeNull();
    expect(g.isDisposed).toBe(true);
  });

  it('forward of the base class explains what is missing', () => {
    expect(() => new ModuleList([new ReLU()]).forward(ones([1]))).toThrowError(/module \[ModuleList\] is missing the required forward\(\) method/);
  });
});

describe('to()', () => {
  it("to('float64') converts parameters in place and replaces floating buffers, keeping requiresGrad, grads and ties", () => {
    const net = new Sequential(new Linear(3, 2), new BatchNorm2d(2));
    const frozen = net.get(1) as BatchNorm2d;
    frozen.bias!.requiresGrad_(false);
    const lin = net.get(0) as Linear;
    lin.forward(ones([1, 3])).sum().backward();
    const before = lin.weight;
    const w0 = values(before);
    expect(net.to('float64')).toBe(net);
    expect(before.isDisposed).toBe(false);
    expect(lin.weight).toBe(before);
    expect(lin.weight).toBeInstanceOf(Parameter);
    expect(lin.weight.dtype).toBe('float64');
    expect(values(lin.weight)).toEqual(w0);
    expect(lin.weight.requiresGrad).toBe(true);
    expect(lin.weight.grad!.dtype).toBe('float64');
    expect(frozen.bias!.requiresGrad).toBe(false);
    expect(frozen.runningMean!.dtype).toBe('float64');
    expect(frozen.numBatchesTracked!.dtype).toBe('int32');
    expect(net.parameters().every((p) => p.dtype === 'float64')).toBe(true);
    // Moving to the device it is on changes nothing.
    const w = lin.weight;
    net.to('cpu');
    expect(lin.weight).toBe(w);
    expect(() => net.to('int32')).toThrowError(/only accepts floating point dtypes/);
  });

  it('keeps tied weights tied', () => {
    class Tied extends Module {
      a = new Linear(2, 2, { bias: false });
      b = new Linear(2, 2, { bias: false });
      constructor() {
        super();
        this.b.weight = this.a.weight;
      }
    }
    const m = new Tied().double();
    expect(m.b.weight).toBe(m.a.weight);
    expect(m.a.weight.dtype).toBe('float64');
  });
});

describe('stateDict and loadStateDict', () => {
  it('round-trips the tutorial Net (parameters first, then buffers, per module)', () => {
    manualSeed(1);
    const a = new Net();
    const b = new Net();
    const sd = a.stateDict();
    expect(Object.keys(sd)).toEqual(NET_PARAMS.map(([k]) => k));
    expect(Object.values(sd).every((t) => !t.requiresGrad && !(t instanceof Parameter))).toBe(true);
    // Detached views share memory with the module.
    expect(sd['fc1.weight'].storage).toBe(a.fc1.weight.storage);
    expect(values(b.fc3.weight)).not.toEqual(values(a.fc3.weight));
    expect(b.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    for (const [k, p] of b.namedParameters()) expect(values(p)).toEqual(values(sd[k]));
    // Copied in place: the parameters are the same objects, still leaves requiring grad.
    expect(b.fc3.weight.requiresGrad && b.fc3.weight.isLeaf).toBe(true);
    const x = randn([2, 3, 32, 32]);
    expect(values(b.forward(x))).toEqual(values(a.forward(x)));
  });

  it('includes BatchNorm buffers and loads them', () => {
    const a = new Sequential(new Conv2d(1, 2, 1), new BatchNorm2d(2));
    a.forward(randn([4, 1, 3, 3]));
    const b = new Sequential(new Conv2d(1, 2, 1), new BatchNorm2d(2));
    expect(Object.keys(a.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '1.runningMean', '1.runningVar', '1.numBatchesTracked']);
    b.loadStateDict(a.stateDict());
    const bn = b.get(1) as BatchNorm2d;
    expect(values(bn.runningMean!)).toEqual(values((a.get(1) as BatchNorm2d).runningMean!));
    expect(bn.numBatchesTracked!.item()).toBe(1);
  });

  it('strict loading lists missing and unexpected keys; shape mismatches always fail; nothing is copied on error', () => {
    const net = new Net();
    const sd = net.stateDict();
    const before = values(net.fc1.weight);
    const bad: Record<string, Tensor> = { ...sd, 'fc4.weight': zeros([2]) };
    delete bad['fc1.bias'];
    delete bad['fc2.weight'];
    bad['fc1.weight'] = zeros([84, 120]);
    let err: unknown;
    try {
      net.loadStateDict(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DLError);
    expect((err as DLError).code).toBe('VALUE');
    expect((err as DLError).message).toBe(
      [
        'loadStateDict: Error(s) in loading stateDict for Net:',
        '  Missing key(s) in stateDict: "fc1.bias", "fc2.weight"',
        '  Unexpected key(s) in stateDict: "fc4.weight"',
        '  size mismatch for fc1.weight: copying a param with shape [84, 120] from checkpoint, the shape in current model is [120, 400]',
        'hint: pass { strict: false } to load the matching keys only (shapes must still match)',
      ].join('\n'),
    );
    expect(values(net.fc1.weight)).toEqual(before);

    // Only a shape problem: code SHAPE, even when not strict.
    const shapeOnly = { ...sd, 'fc1.weight': zeros([120, 401]) };
    expect(() => net.loadStateDict(shapeOnly, { strict: false })).toThrowError(
      expect.objectContaining({ code: 'SHAPE', message: expect.stringContaining('size mismatch for fc1.weight: copying a param with shape [120, 401] from checkpoint, the shape in current model is [120, 400]') }),
    );

    // Not strict: loads what matches and reports the rest.
    const partial = { 'fc3.bias': ones([10]), extra: ones([1]) };
    expect(net.loadStateDict(partial, { strict: false })).toEqual({ missingKeys: NET_PARAMS.map(([k]) => k).filter((k) => k !== 'fc3.bias'), unexpectedKeys: ['extra'] });
    expect(values(net.fc3.bias!)).toEqual(new Array(10).fill(1));
  });

  it('accepts a Map and casts values to the parameter dtype', () => {
    const lin = new Linear(2, 1);
    lin.loadStateDict(new Map([['weight', tensor([[1, 2]], { dtype: 'float64' })], ['bias', tensor([3], { dtype: 'float64' })]]));
    expect(lin.weight.dtype).toBe('float32');
    expect(lin.forward(tensor([[1, 1]])).toArray()).toEqual([[6]]);
  });
});

describe('containers', () => {
  it('Sequential chains, indexes, iterates and appends', () => {
    const lin = new Linear(2, 3);
    const seq = new Sequential(lin, new ReLU());
    expect(seq.length).toBe(2);
    expect(seq.get(0)).toBe(lin);
    expect(seq.get(-1)).toBeInstanceOf(ReLU);
    expect((seq as unknown as Record<string, Module>)[0]).toBe(lin);
    expect([...seq].map((m) => m.constructor.name)).toEqual(['Linear', 'ReLU']);
    const x = tensor([[1, -2]]);
    expect(values(seq.forward(x))).toEqual(values(lin.forward(x).relu()));
    seq.append(new Linear(3, 1));
    expect(seq.forward(x).shape).toEqual([1, 1]);
    expect(seq.namedParameters().map(([k]) => k)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(() => seq.get(3)).toThrowError(/index 3 is out of range for a Sequential of length 3/);
    const named = new Sequential(new Map<string, Module>([['conv', new Conv2d(1, 1, 1)], ['act', new ReLU()]]));
    expect(named.namedChildren().map(([k]) => k)).toEqual(['conv', 'act']);
  });

  it('ModuleList registers its modules', () => {
    class Stack extends Module {
      layers = new ModuleList(Array.from({ length: 3 }, () => new Linear(2, 2)));
      override forward(x: Tensor): Tensor {
        for (const l of this.layers) x = l.forward(x);
        return x;
      }
    }
    const s = new Stack();
    expect(s.parameters()).toHaveLength(6);
    expect(s.namedParameters()[4][0]).toBe('layers.2.weight');
    s.layers.insert(0, new ReLU());
    expect([...s.layers].map((m) => m.constructor.name)).toEqual(['ReLU', 'Linear', 'Linear', 'Linear']);
    expect(s.forward(ones([1, 2])).shape).toEqual([1, 2]);
  });

  it('ModuleDict keeps insertion order, even for numeric-looking keys', () => {
    const d = new ModuleDict({ b: new Linear(1, 1) });
    d.set('10', new ReLU()).set('2', new Linear(1, 2));
    expect(d.keys()).toEqual(['b', '10', '2']);
    expect(d.namedModules().map(([k]) => k)).toEqual(['', 'b', '10', '2']);
    expect(d.namedParameters().map(([k]) => k)).toEqual(['b.weight', 'b.bias', '2.weight', '2.bias']);
    expect(d.get('10')).toBeInstanceOf(ReLU);
    expect(d.delete('b')).toBeInstanceOf(Linear);
    expect(d.size).toBe(2);
    expect(() => d.get('zzz')).toThrowError(/no module named 'zzz'/);
    expect(String(d)).toBe('ModuleDict(\n  (10): ReLU()\n  (2): Linear(inFeatures=1, outFeatures=2, bias=true)\n)');
  });
});

describe('forward hooks', () => {
  it('see every forward of a submodule, can replace its inputs or output, and come off with remove()', () => {
    manualSeed(41);
    const net = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2));
    const params = net.namedParameters().map(([k]) => k);
    const x = randn([5, 3]);
    const plain = values(net.forward(x));
    // Feature extraction: the hidden activations, as PyTorch users take them with a hook.
    const seen: Tensor[] = [];
    const order: string[] = [];
    const h1 = net.get(1).registerForwardHook((m, inputs, out) => {
      expect(m).toBe(net.get(1));
      expect(inputs[0]).toBeInstanceOf(Tensor);
      seen.push(out as Tensor);
      order.push('post');
    });
    const h0 = net.get(1).registerForwardPreHook(() => {
      order.push('pre');
    });
    expect(values(net.forward(x))).toEqual(plain);
    expect(order).toEqual(['pre', 'post']);
    expect(values(seen[0])).toEqual(values(net.get(0).forward(x).relu()));
    // Hooks are not children, parameters or state.
    expect(net.namedParameters().map(([k]) => k)).toEqual(params);
    expect(Object.keys(net.get(1))).not.toContain('forward');
    // A pre-hook that doubles the input, a hook that negates the output.
    const pre = net.get(0).registerForwardPreHook((_m, inputs) => [(inputs[0] as Tensor).mul(2)]);
    const post = net.registerForwardHook((_m, _inputs, out) => (out as Tensor).neg());
    const hooked = values(net.forward(x));
    pre.remove();
    post.remove();
    expect(hooked).toEqual(values(net.forward(x.mul(2))).map((v) => -v));
    expect(hooked).not.toEqual(plain.map((v) => -v));
    for (const h of [h0, h1]) h.remove();
    expect(Object.hasOwn(net.get(1), 'forward')).toBe(false);
    expect(Object.hasOwn(net, 'forward')).toBe(false);
    seen.length = 0;
    expect(values(net.forward(x))).toEqual(plain);
    expect(seen).toHaveLength(0);
    expect(() => net.registerForwardHook(42 as never)).toThrowError(/registerForwardHook: hook must be a function; got number/);
  });
});

describe('utils.functionalCall', () => {
  it('runs a module with replacement parameters (gradcheck of a whole Sequential)', () => {
    manualSeed(3);
    const model = new Sequential(new Conv2d(2, 2, 3, { padding: 1 }), new BatchNorm2d(2), new ReLU(), new Flatten(), new Linear(2 * 3 * 3, 2)).double();
    const names = model.namedParameters().map(([k]) => k);
    const x = randn([2, 2, 3, 3], { dtype: 'float64' }).requiresGrad_();
    const fn = (input: Tensor, ...ps: Tensor[]) => utils.functionalCall(model, Object.fromEntries(names.map((k, i) => [k, ps[i]])), input);
    expect(gradcheck(fn, [x, ...model.parameters()])).toBe(true);
    // Restored afterwards.
    expect(model.namedParameters().map(([k]) => k)).toEqual(names);
    expect(model.parameters().every((p) => p instanceof Parameter)).toBe(true);
  });

  it('replaces buffers too and rejects unknown names', () => {
    const bn = new BatchNorm2d(1).eval();
    const x = tensor([[[[1, 3]]]]);
    const y = utils.functionalCall(bn, { runningMean: tensor([1]), runningVar: tensor([4]) }, x) as Tensor;
    expect(values(y).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([0, 1]);
    expect(bn.runningMean!.toArray()).toEqual([0]);
    expect(() => utils.functionalCall(bn, { nope: tensor([1]) }, x)).toThrowError(/no parameter or buffer 'nope'/);
  });
});

describe('memory', () => {
  it('a module built inside scope() keeps its parameters and buffers; forwards inside scope() leave nothing behind', () => {
    const net = scope(() => new Sequential(new Linear(4, 4), new BatchNorm2d(1), new Dropout()));
    expect(net.parameters().every((p) => !p.isDisposed)).toBe(true);
    expect(net.buffers().every((b) => !b.isDisposed)).toBe(true);
    const lin = new Linear(8, 8);
    const step = () => scope(() => lin.forward(ones([2, 8])).sum().backward());
    step(); // creates the .grad tensors, which stay
    const before = memoryStats();
    for (let i = 0; i < 3; i++) step();
    noGrad(() => scope(() => lin.forward(ones([2, 8])).sum().item()));
    const after = memoryStats();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });
});
