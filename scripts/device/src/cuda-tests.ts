/**
 * The device test runner: node:test and node:assert only (the GPU machine has no vitest).
 * scripts/device/build.mjs bundles it into .device/bundle/cuda-tests.mjs.
 *
 *   DL_TEST_DEVICE=cuda node .device/bundle/cuda-tests.mjs   (the default device)
 *   DL_TEST_DEVICE=cpu  node .device/bundle/cuda-tests.mjs   (no GPU: proves the runner and its assertions)
 *
 * Every check runs the device under test beside a baseline device (device.ts: CUDA beside the
 * CPU, the CPU beside the float64 'reference' backend), with float32 tolerances:
 *   op specs    @dl/tensor/testing's spec table against the float64 reference, contiguous and
 *               strided inputs, live buffers back to their count afterwards
 *   layers      nn layers' outputs, input and parameter gradients and buffers; losses
 *   training    TutorialNet after SGD steps
 *   optimizers  SGD, Adam, AdamW after several steps (on CUDA the backend must bring fused kernels)
 *   random      seeded sampling on the device, dropout's statistics
 *   memory      no tensor left behind by training; on CUDA the caching allocator's statistics,
 *               emptyCache, the peak counter and the out-of-memory error
 *   save/load   state and safetensors files written from the device equal, byte for byte, those
 *               written from the baseline; files load onto the device
 *   libraries   (CUDA) conv2d through cuDNN and matmul through cuBLAS when found; DL_CUDNN=0 keeps
 *               conv2d on the built-in kernels
 *   misuse      mixed devices are refused with a DLError
 * DL_TEST_QUICK=1 leaves out the ResNet-9 cases and keeps one op spec in four (the CPU check in
 * `pnpm test`). Exit status 1 when any test fails (node:test).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as T from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { OP_SPECS, assertClose, checkSpecAgainstReference, liveBuffers } from '@dl/tensor/testing';
import type { Tolerance } from '@dl/tensor/testing';
import { noGrad } from '@dl/autograd';
import * as nn from '@dl/nn';
import type { Module } from '@dl/nn';
import { Adam, AdamW, SGD } from '@dl/optim';
import type { Optimizer } from '@dl/optim';
import { models } from '@dl/vision';
import { describeEnvironment, disposeModel, selectTarget } from './device.js';
import type { Target } from './device.js';

const DEVICE = process.env.DL_TEST_DEVICE ?? 'cuda';
const QUICK = process.env.DL_TEST_QUICK === '1';
/** Float32 results of two devices (or float32 against float64) after a few layers of reductions. */
const LAYER_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };

/** Runs fn and asserts that it left no live buffer behind. */
function noLeak(label: string, fn: () => void): void {
  const before = liveBuffers();
  T.scope(fn);
  assert.equal(liveBuffers(), before, `${label}: live buffers ${before} before, ${liveBuffers()} after`);
}

/** Two copies of a module with equal parameters and buffers: one on each device. */
function twin<M extends Module>(make: () => M, t: Target): [M, M] {
  const a = make();
  const b = make();
  T.scope(() => b.loadStateDict(a.stateDict()));
  return [a.to(t.device), b.to(t.baseline)];
}

function compareModules(a: Module, b: Module, tol: Tolerance, what: 'grad' | 'value'): void {
  const other = new Map(b.namedParameters());
  for (const [name, p] of a.namedParameters()) {
    const q = other.get(name);
    assert.ok(q, `parameter ${name} is missing on the baseline`);
    if (what === 'value') assertClose(p, q, tol, `parameter ${name}`);
    else {
      assert.ok(p.grad && q.grad, `parameter ${name} has no gradient`);
      assertClose(p.grad, q.grad, tol, `gradient of ${name}`);
    }
  }
  const otherBuffers = new Map(b.namedBuffers());
  for (const [name, buf] of a.namedBuffers()) assertClose(buf, otherBuffers.get(name) as Tensor, tol, `buffer ${name}`);
}

interface LayerCase {
  name: string;
  make: () => Module;
  input: number[];
  /** Module mode (default train: batch statistics, active dropout). */
  mode?: 'train' | 'eval';
  tol?: Tolerance;
  heavy?: boolean;
}

/** A BatchNorm2d whose running statistics are not the initial zeros and ones. */
function batchNormWithStats(channels: number): nn.BatchNorm2d {
  const bn = new nn.BatchNorm2d(channels);
  const g = new T.Generator(7);
  noGrad(() => {
    bn.getBuffer('runningMean').copy_(T.scope(() => T.randn([channels], { generator: g })));
    bn.getBuffer('runningVar').copy_(T.scope(() => T.rand([channels], { generator: g }).add(0.5)));
  });
  return bn;
}

const LAYERS: LayerCase[] = [
  { name: 'Linear(20, 7)', make: () => new nn.Linear(20, 7), input: [5, 20] },
  { name: 'Linear(64, 33) without bias on [3, 4, 64]', make: () => new nn.Linear(64, 33, { bias: false }), input: [3, 4, 64] },
  { name: 'Conv2d(3, 6, 5) (tutorial conv1)', make: () => new nn.Conv2d(3, 6, 5), input: [4, 3, 32, 32] },
  { name: 'Conv2d(6, 16, 5) (tutorial conv2)', make: () => new nn.Conv2d(6, 16, 5), input: [4, 6, 14, 14] },
  { name: 'Conv2d(8, 16, 3, padding 1, no bias) (ResNet-9 style)', make: () => new nn.Conv2d(8, 16, 3, { padding: 1, bias: false }), input: [2, 8, 16, 16] },
  { name: 'Conv2d(4, 6, 3, stride 2, padding 1, dilation 2, groups 2)', make: () => new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, dilation: 2, groups: 2 }), input: [2, 4, 11, 9] },
  { name: 'MaxPool2d(2)', make: () => new nn.MaxPool2d(2), input: [2, 3, 8, 8] },
  { name: 'MaxPool2d(3, stride 2, padding 1, ceilMode)', make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }), input: [2, 3, 9, 7] },
  { name: 'AvgPool2d(2)', make: () => new nn.AvgPool2d(2), input: [2, 3, 8, 8] },
  { name: 'AvgPool2d(3, stride 2, padding 1, countIncludePad false)', make: () => new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }), input: [2, 3, 9, 7] },
  { name: 'AdaptiveAvgPool2d(1)', make: () => new nn.AdaptiveAvgPool2d(1), input: [2, 5, 6, 7] },
  { name: 'AdaptiveMaxPool2d(1)', make: () => new nn.AdaptiveMaxPool2d(1), input: [2, 5, 6, 7] },
  { name: 'BatchNorm2d(6) training (batch statistics, running statistics updated)', make: () => new nn.BatchNorm2d(6), input: [4, 6, 5, 5] },
  { name: 'BatchNorm2d(6) eval (running statistics)', make: () => batchNormWithStats(6), input: [4, 6, 5, 5], mode: 'eval' },
  { name: 'ReLU', make: () => new nn.ReLU(), input: [4, 9] },
  { name: 'GELU', make: () => new nn.GELU(), input: [4, 9] },
  { name: 'Sigmoid', make: () => new nn.Sigmoid(), input: [4, 9] },
  { name: 'Tanh', make: () => new nn.Tanh(), input: [4, 9] },
  { name: 'Softmax(1)', make: () => new nn.Softmax(1), input: [4, 9] },
  { name: 'LogSoftmax(1)', make: () => new nn.LogSoftmax(1), input: [4, 9] },
  { name: 'Dropout(0.5) in eval mode (identity)', make: () => new nn.Dropout(0.5), input: [4, 9], mode: 'eval' },
  { name: 'Flatten', make: () => new nn.Flatten(), input: [2, 3, 4, 5] },
  { name: 'TutorialNet (the tutorial ConvNet)', make: () => new models.TutorialNet(), input: [8, 3, 32, 32] },
  { name: 'ResNet9 training mode', make: () => new models.ResNet9(), input: [4, 3, 32, 32], tol: { rtol: 1e-3, atol: 1e-4 }, heavy: true },
];

interface LossCase {
  name: string;
  opts: nn.CrossEntropyOptions;
  /** Targets equal to ignoreIndex are placed at every third item. */
  ignore?: number;
}

const LOSSES: LossCase[] = [
  { name: 'CrossEntropyLoss mean', opts: {} },
  { name: 'CrossEntropyLoss sum, label smoothing 0.1', opts: { reduction: 'sum', labelSmoothing: 0.1 } },
  { name: 'CrossEntropyLoss none', opts: { reduction: 'none' } },
  { name: 'CrossEntropyLoss ignoreIndex 3', opts: { ignoreIndex: 3 }, ignore: 3 },
];

interface OptimCase {
  name: string;
  make: (params: nn.Parameter[]) => Optimizer<{ lr: number }>;
}

const OPTIMIZERS: OptimCase[] = [
  { name: 'SGD momentum 0.9, dampening 0.1, weight decay 1e-2', make: (p) => new SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2 }) },
  { name: 'SGD nesterov, weight decay 5e-4', make: (p) => new SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }) },
  { name: 'SGD without momentum, maximize', make: (p) => new SGD(p, { lr: 0.1, maximize: true }) },
  { name: 'Adam', make: (p) => new Adam(p, { lr: 1e-2 }) },
  { name: 'Adam amsgrad, weight decay 1e-2', make: (p) => new Adam(p, { lr: 1e-2, amsgrad: true, weightDecay: 1e-2 }) },
  { name: 'AdamW weight decay 0.1', make: (p) => new AdamW(p, { lr: 1e-2, weightDecay: 0.1 }) },
  { name: 'AdamW amsgrad, maximize', make: (p) => new AdamW(p, { lr: 1e-2, amsgrad: true, maximize: true }) },
];

function defineSuites(t: Target): void {
  const { device, baseline } = t;

  describe(`op specs on ${device} against the float64 reference`, () => {
    const specs = QUICK ? OP_SPECS.filter((_, i) => i % 4 === 0) : OP_SPECS;
    for (const spec of specs) {
      it(spec.name, () => noLeak(spec.name, () => checkSpecAgainstReference(spec, device)));
    }
  });

  describe(`layers on ${device} against ${baseline}: outputs, gradients and buffers`, () => {
    for (const c of LAYERS.filter((l) => !(QUICK && l.heavy))) {
      it(c.name, () =>
        noLeak(c.name, () => {
          const tol = c.tol ?? LAYER_TOL;
          const [a, b] = twin(c.make, t);
          a.train(c.mode !== 'eval');
          b.train(c.mode !== 'eval');
          const g = new T.Generator(11);
          const x = T.randn(c.input, { generator: g });
          const xa = x.to(device).requiresGrad_();
          const xb = x.to(baseline).requiresGrad_();
          const ya = a.forward(xa) as Tensor;
          const yb = b.forward(xb) as Tensor;
          assertClose(ya, yb, tol, 'output');
          const gy = T.randn(ya.shape, { generator: g });
          ya.mul(gy.to(device)).sum().backward();
          yb.mul(gy.to(baseline)).sum().backward();
          assertClose(xa.grad as Tensor, xb.grad as Tensor, tol, 'input gradient');
          compareModules(a, b, tol, 'grad');
          xa.grad?.dispose();
          xb.grad?.dispose();
          disposeModel(a);
          disposeModel(b);
        }),
      );
    }
    for (const c of LOSSES) {
      it(c.name, () =>
        noLeak(c.name, () => {
          const g = new T.Generator(12);
          const logits = T.randn([16, 10], { generator: g }).mul_(3);
          const target = T.randint(0, 10, [16], { generator: g, dtype: 'int32' });
          if (c.ignore !== undefined) noGrad(() => target.slice(0, 0, 16, 3).fill_(c.ignore as number));
          const run = (dev: T.Device) => {
            const x = logits.to(dev).requiresGrad_();
            const loss = new nn.CrossEntropyLoss(c.opts).forward(x, target.to(dev)) as Tensor;
            loss.sum().backward();
            return { x, loss };
          };
          const a = run(device);
          const b = run(baseline);
          assertClose(a.loss, b.loss, LAYER_TOL, 'loss');
          assertClose(a.x.grad as Tensor, b.x.grad as Tensor, LAYER_TOL, 'gradient of the logits');
          for (const r of [a, b]) r.x.grad?.dispose();
        }),
      );
    }
  });

  describe(`training on ${device} against ${baseline}`, () => {
    it('TutorialNet: three SGD steps (momentum 0.9) give the same parameters', () =>
      noLeak('training', () => {
        const [a, b] = twin(() => new models.TutorialNet(), t);
        const opts = { lr: 0.01, momentum: 0.9 };
        const optA = new SGD(a.parameters(), opts);
        const optB = new SGD(b.parameters(), opts);
        const g = new T.Generator(13);
        for (let step = 0; step < 3; step++) {
          const x = T.randn([16, 3, 32, 32], { generator: g });
          const y = T.randint(0, 10, [16], { generator: g, dtype: 'int32' });
          for (const [net, opt, dev] of [[a, optA, device], [b, optB, baseline]] as const) {
            T.scope(() => {
              opt.zeroGrad();
              nn.F.crossEntropy(net.forward(x.to(dev)), y.to(dev)).backward();
              opt.step();
            });
          }
        }
        compareModules(a, b, LAYER_TOL, 'value');
        disposeModel(a, optA);
        disposeModel(b, optB);
      }),
    );
  });

  describe(`optimizers on ${device} against ${baseline} (fused kernels on CUDA)`, () => {
    it('the backend of the device has fused optimizer kernels', { skip: t.cuda ? false : 'CUDA only: the CPU backends update with tensor ops' }, () => {
      const p = T.zeros([1], { device });
      const optim = (p.storage.backend as T.Backend).optim;
      p.dispose();
      assert.ok(optim && typeof optim.sgd === 'function' && typeof optim.adam === 'function', 'backend.optim.sgd and backend.optim.adam');
    });
    it(`an SGD with momentum that stepped before Module.to('${device}') steps the moved parameters (to() works in place; the momentum follows)`, () =>
      noLeak('optimizer before to()', () => {
        T.manualSeed(15);
        const net = new models.TutorialNet();
        const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
        const held = net.parameters();
        opt.zeroGrad();
        net.forward(T.randn([4, 3, 32, 32])).sum().backward();
        opt.step(); // momentum buffers on the CPU
        net.to(device);
        const x = T.randn([4, 3, 32, 32], { device });
        const before = held.map((p) => p.detach().clone());
        opt.zeroGrad();
        net.forward(x).sum().backward();
        opt.step();
        held.forEach((p, i) => {
          assert.equal(p.device, T.randn([1], { device }).device, 'the held parameter is on the device');
          assert.ok(p.detach().sub(before[i]).abs().amax().item() > 0, `parameter ${i} was updated`);
        });
        disposeModel(net, opt);
      }),
    );
    for (const c of OPTIMIZERS) {
      it(`${c.name}: parameters and state after 5 steps`, () =>
        noLeak(c.name, () => {
          const g = new T.Generator(14);
          const init = [[17, 5], [7], [3, 4, 5], [1000]].map((s) => T.randn(s, { generator: g }));
          const sides = [device, baseline].map((dev) => {
            const params = init.map((x) => new nn.Parameter(x.to(dev)));
            return { params, opt: c.make(params) };
          });
          for (let step = 0; step < 5; step++) {
            const grads = init.map((x) => T.randn(x.shape, { generator: g }));
            for (const { params, opt } of sides) {
              params.forEach((p, i) => {
                p.grad?.dispose();
                p.grad = T.keep(grads[i].to(p.device));
              });
              opt.step();
            }
          }
          const [a, b] = sides;
          const tol = { rtol: 1e-5, atol: 1e-6 };
          a.params.forEach((p, i) => {
            assertClose(p, b.params[i], tol, `parameter ${i}`);
            const sa = a.opt.state.get(p) ?? {};
            const sb = b.opt.state.get(b.params[i]) ?? {};
            assert.deepEqual(Object.keys(sa).sort(), Object.keys(sb).sort(), `state keys of parameter ${i}`);
            for (const [k, v] of Object.entries(sa)) {
              if (v instanceof T.Tensor) assertClose(v, sb[k] as Tensor, tol, `state ${k} of parameter ${i}`);
              else assert.equal(v, sb[k], `state ${k} of parameter ${i}`);
            }
          });
          for (const { params, opt } of sides) {
            for (const st of opt.state.values()) for (const v of Object.values(st)) if (v instanceof T.Tensor) v.dispose();
            for (const p of params) {
              p.grad?.dispose();
              p.dispose();
            }
          }
        }),
      );
    }
  });

  describe(`random numbers on ${device}`, () => {
    it('rand and randn: seeded, in range, with the right moments', () =>
      noLeak('random', () => {
        T.manualSeed(3);
        const u = T.rand([200_000], { device });
        T.manualSeed(3);
        const again = T.rand([200_000], { device });
        assertClose(u, again, { rtol: 0, atol: 0 }, 'the same seed draws the same numbers');
        assert.ok(u.amin().item() >= 0 && u.amax().item() < 1, 'rand is in [0, 1)');
        assert.ok(Math.abs(u.mean().item() - 0.5) < 0.005, `rand mean ${u.mean().item()}`);
        const n = T.randn([200_000], { device });
        assert.ok(Math.abs(n.mean().item()) < 0.01, `randn mean ${n.mean().item()}`);
        assert.ok(Math.abs(n.std().item() - 1) < 0.01, `randn std ${n.std().item()}`);
      }),
    );
    it('Dropout(0.3) in training mode zeroes about 30% and scales the rest by 1 / 0.7', () =>
      noLeak('dropout', () => {
        const y = nn.F.dropout(T.ones([200_000], { device }), 0.3, true);
        const zeros = y.eq(0).to('float32').mean().item();
        assert.ok(Math.abs(zeros - 0.3) < 0.005, `zeroed fraction ${zeros}`);
        const kept = y.maskedSelect(y.ne(0));
        assertClose(kept.amin(), T.tensor(1 / 0.7), { rtol: 1e-6, atol: 0 }, 'smallest kept value');
        assertClose(kept.amax(), T.tensor(1 / 0.7), { rtol: 1e-6, atol: 0 }, 'largest kept value');
      }),
    );
  });

  if (device === 'cuda') {
    // run.sh points DL_CUDNN_PATH at PyTorch's cuDNN and runs the conv cases again with DL_CUDNN=0,
    // so both conv2d paths (cuDNN and conv.cu's own kernels) meet the same checks.
    describe('libraries on cuda', () => {
      const off = process.env.DL_CUDNN === '0';
      it(off ? 'DL_CUDNN=0: conv2d runs on the built-in kernels, cuDNN untouched' : 'conv2d and both its gradients run through cuDNN, matmul through cuBLAS', () =>
        noLeak('libraries', () => {
          const before = T.cuda.libraries();
          assert.ok(before.cublas.found, `cuBLAS: ${before.cublas.error}`);
          if (off) assert.equal(before.cudnn.found, false, 'DL_CUDNN=0 leaves cuDNN unloaded');
          else assert.ok(before.cudnn.found, `cuDNN: ${before.cudnn.error}`);
          const x = T.randn([8, 3, 32, 32], { device }).requiresGrad_();
          const w = T.randn([6, 3, 5, 5], { device }).requiresGrad_();
          nn.F.conv2d(x, w).sum().backward();
          T.randn([64, 32], { device }).matmul(T.randn([32, 16], { device })).sum().item();
          const after = T.cuda.libraries();
          assert.equal(after.cudnn.calls - before.cudnn.calls, off ? 0 : 3, 'cuDNN passes: forward, backward data, backward filter');
          assert.ok(after.cublas.calls > before.cublas.calls, 'matmul went through cuBLAS');
          x.grad?.dispose();
          w.grad?.dispose();
        }),
      );
    });
  }

  describe(`memory on ${device}`, () => {
    it('three training steps leave no tensor behind', () => {
      const train = (steps: number) => {
        const net = new models.TutorialNet().to(device);
        const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
        for (let step = 0; step < steps; step++) {
          T.scope(() => {
            opt.zeroGrad();
            nn.F.crossEntropy(net.forward(T.randn([32, 3, 32, 32], { device })), T.randint(0, 10, [32], { device, dtype: 'int32' })).backward();
            opt.step();
          });
        }
        disposeModel(net, opt);
      };
      const allocated = () => t.cuda?.memoryStats().allocatedBytes ?? 0;
      train(1); // whatever a backend sets up once (handles, workspaces) is not a leak
      const before = allocated();
      noLeak('training memory', () => train(3));
      assert.equal(allocated(), before, 'device bytes allocated');
    });

    const cudaOnly = { skip: t.cuda ? false : 'CUDA only (the caching allocator)' };
    const MiB = 1 << 20;
    it('caching allocator: a freed block is reused, emptyCache releases it', cudaOnly, () => {
      const cuda = t.cuda!;
      cuda.emptyCache();
      const s0 = cuda.memoryStats();
      const a = T.zeros([MiB], { device });
      const s1 = cuda.memoryStats();
      assert.ok(s1.allocatedBytes >= s0.allocatedBytes + 4 * MiB, `allocated ${s0.allocatedBytes} -> ${s1.allocatedBytes}`);
      assert.ok(s1.deviceAllocations > s0.deviceAllocations, 'an empty cache asks the driver');
      a.dispose();
      const s2 = cuda.memoryStats();
      assert.equal(s2.allocatedBytes, s0.allocatedBytes, 'freed bytes are no longer allocated');
      assert.ok(s2.cachedBytes >= 4 * MiB, `cached ${s2.cachedBytes}`);
      const b = T.zeros([MiB], { device });
      const s3 = cuda.memoryStats();
      assert.ok(s3.cacheHits > s2.cacheHits, 'the same size is served from the cache');
      assert.equal(s3.deviceAllocations, s2.deviceAllocations, 'without asking the driver');
      b.dispose();
      cuda.emptyCache();
      const s4 = cuda.memoryStats();
      assert.equal(s4.cachedBytes, 0, 'emptyCache leaves nothing cached');
      assert.equal(s4.reservedBytes, s4.allocatedBytes, 'reserved = allocated after emptyCache');
    });
    it('peak statistics: a 16 MiB tensor shows in the peak until it is reset', cudaOnly, () => {
      const cuda = t.cuda!;
      cuda.resetPeakMemoryStats();
      const base = cuda.memoryStats();
      assert.equal(base.peakAllocatedBytes, base.allocatedBytes, 'after a reset the peak is what is allocated');
      T.zeros([4 * MiB], { device }).dispose();
      assert.ok(cuda.memoryStats().peakAllocatedBytes >= base.allocatedBytes + 16 * MiB, 'peak after a 16 MiB tensor');
      cuda.resetPeakMemoryStats();
      const after = cuda.memoryStats();
      assert.equal(after.peakAllocatedBytes, after.allocatedBytes, 'reset again');
    });
    it('out of memory: a clear error, nothing leaked, the allocator still works', cudaOnly, (tc) => {
      const cuda = t.cuda!;
      const s0 = cuda.memoryStats();
      // 4 TiB of float32: more than any card; a plain device allocation that fails at once.
      const err = assert.throws(() => T.zeros([MiB, MiB], { device }), /out of memory|cudaErrorMemoryAllocation/i) as unknown;
      tc.diagnostic(`the error: ${String((err as Error | undefined)?.message ?? err)}`);
      const s1 = cuda.memoryStats();
      assert.equal(s1.allocatedBytes, s0.allocatedBytes, 'nothing stays allocated');
      assert.ok(s1.oomRetries > s0.oomRetries, 'the allocator emptied its cache and retried');
      const x = T.ones([1000], { device });
      assert.equal(x.sum().item(), 1000, 'allocations work afterwards');
      x.dispose();
    });
  });

  describe(`save and load from ${device}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-device-tests-'));
    const saved: [string, () => Module][] = [['TutorialNet', () => new models.TutorialNet()], ['ResNet9', () => new models.ResNet9()]];
    for (const [name, make] of saved) {
      if (QUICK && name === 'ResNet9') continue;
      it(`${name}: encodeState and saveSafetensors give the same bytes as on ${baseline}; the file loads onto ${device}`, () =>
        noLeak(name, () => {
          const [a, b] = twin(make, t);
          const files = [join(dir, `${name}-device.safetensors`), join(dir, `${name}-baseline.safetensors`)];
          const [stateA, stateB] = [a, b].map((m) => T.encodeState({ model: m.stateDict(), step: 1 }));
          assert.ok(Buffer.from(stateA).equals(Buffer.from(stateB)), 'encodeState bytes');
          T.saveSafetensors(files[0], a.stateDict());
          T.saveSafetensors(files[1], b.stateDict());
          assert.ok(readFileSync(files[0]).equals(readFileSync(files[1])), 'safetensors file bytes');
          const loaded = T.loadSafetensors(files[0], { device });
          for (const [k, v] of Object.entries(a.stateDict())) {
            const l = loaded.tensors[k];
            assert.equal(l.device, v.device, `${k} loads onto ${device}`);
            assertClose(l, v, { rtol: 0, atol: 0 }, `loaded ${k}`);
          }
          disposeModel(a);
          disposeModel(b);
        }),
      );
    }
    it('clean up', () => rmSync(dir, { recursive: true, force: true }));
  });

  describe(`misuse on ${device}`, () => {
    it(`a bad index or class target on ${device} is an error (on CUDA: at the next synchronising call)`, () =>
      noLeak('bad index', () => {
        const bad = (fn: () => Tensor) => {
          assert.throws(() => {
            fn().sum().item();
            if (device === 'cuda') T.cuda.synchronize();
          }, (e: unknown) => e instanceof T.DLError && /9/.test(e.message));
          if (device === 'cuda') T.cuda.synchronize(); // reported once, then cleared
        };
        bad(() => T.zeros([4, 2], { device }).indexSelect(0, T.tensor([0, 9], { dtype: 'int32', device })));
        bad(() => T.zeros([4, 2], { device }).gather(0, T.tensor([[9, 0]], { dtype: 'int32', device })));
        bad(() => T.crossEntropy(T.zeros([2, 3], { device }), T.tensor([1, 9], { dtype: 'int32', device })));
      }),
    );
    it(`an op on ${device} and ${baseline} tensors is a DLError naming the devices`, () =>
      noLeak('misuse', () => {
        assert.throws(
          () => T.zeros([2], { device }).add(T.zeros([2], { device: baseline })),
          (e: unknown) => e instanceof T.DLError && e.code === 'DEVICE' && /expected all tensors on the same device/.test(e.message),
        );
      }),
    );
  });
}

console.log(`# environment ${JSON.stringify(describeEnvironment())}`);
let target: Target | null = null;
try {
  target = selectTarget(DEVICE);
} catch (e) {
  it(`device '${DEVICE}' can be used`, () => {
    throw e;
  });
}
if (target) defineSuites(target);
