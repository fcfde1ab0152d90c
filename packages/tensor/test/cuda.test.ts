/**
 * The CUDA backend. Without a GPU (or without an addon built with nvcc) the unavailable path,
 * the decision of why, the operand/attribute encodings, the layout plans and the launch-code
 * table are tested; the tests that run kernels skip, with the reason in their names.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/backend/cpu/index.js';
import { CUDA_ABI, CUDA_ATTRS, CUDA_MAX_RANK, CUDA_OPS, type CudaAddon, type CudaProbe, OPERAND_SLOTS } from '../src/backend/cuda/addon.js';
import { ATTR_ENCODERS, encodeAdam, encodeLaunch, encodeOperand, encodeSgd, LAUNCH_CODE, type LaunchedOp, launchLength, philoxAttrs } from '../src/backend/cuda/encode.js';
import { hostValues } from '../src/backend/cuda/index.js';
import { cudaKernels } from '../src/backend/cuda/kernels.js';
import { cudaError, Launcher } from '../src/backend/cuda/launch.js';
import { catViews, matmulPlan, padInterior } from '../src/backend/cuda/plans.js';
import { cudaVersion, deviceFix, diagnoseCuda, runsOn } from '../src/backend/cuda/runtime.js';
import type { NativeAddon } from '../src/backend/native/addon.js';
import { currentSelection, type Selection, selectCpuBackend } from '../src/backend/native/index.js';
import { referenceBackend } from '../src/backend/reference/index.js';
import type { TensorArg } from '../src/backend/types.js';
import { backendFor } from '../src/device.js';
import type { KernelAttrs, Tensor } from '../src/index.js';
import * as T from '../src/index.js';
import { cuda, DLError, doctor, Generator } from '../src/index.js';
import { contiguousStrides, numel } from '../src/layout.js';
import { assertClose, checkSpecAgainstReference, cudaTestNames, OP_SPECS } from '../src/testing.js';

const { status, gpu, needsGpu, withoutGpu } = cudaTestNames();

const tmp = mkdtempSync(join(tmpdir(), 'dl-cuda-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function thrown(call: () => unknown): DLError {
  try {
    call();
  } catch (e) {
    if (e instanceof DLError) return e;
    throw e;
  }
  throw new Error('expected a DLError, nothing was thrown');
}

// ---------------------------------------------------------------- availability

describe('CUDA availability', () => {
  it.skipIf(gpu)(withoutGpu('moving to cuda fails with a DLError naming the reason and the fix'), () => {
    const x = T.tensor([1, 2, 3]);
    for (const call of [() => x.to('cuda'), () => x.cuda(), () => T.zeros([2], { device: 'cuda' }), () => T.randn([2], { device: 'cuda:0' })]) {
      const e = thrown(call);
      expect(e.code).toBe('DEVICE');
      expect(e.message).toContain("device 'cuda:0' is not available");
      expect(e.message).toContain(status.reason);
      expect(e.message).toContain(`hint: ${status.fix}`);
    }
    expect(x.isCuda).toBe(false);
  });

  it.skipIf(gpu)(withoutGpu('the cuda namespace reports no devices; calls that need one name the reason'), () => {
    expect(cuda.isAvailable()).toBe(false);
    expect(cuda.deviceCount()).toBe(0);
    expect(status.reason).toMatch(/\S/);
    expect(status.fix).toMatch(/\S/);
    for (const call of [() => cuda.synchronize(), () => cuda.memoryStats(), () => cuda.init(), () => cuda.getDeviceName(0)]) {
      const e = thrown(call);
      expect(e.code).toBe('DEVICE');
      expect(e.message).toMatch(/^cuda\.\w+: CUDA is not available: /);
      expect(e.message).toContain(status.reason);
      expect(e.message).toContain(status.fix);
    }
    expect(() => cuda.emptyCache()).not.toThrow();
  });

  it('the reason follows how @dl/tensor was set up', () => {
    const sel = currentSelection();
    if (process.env.DL_BACKEND === 'ts') expect(status.reason).toMatch(/^DL_BACKEND=ts /);
    else if (!sel?.load?.addon) expect(status.reason).toMatch(/^the native addon, which holds the CUDA code, did not load/);
    else if (!sel.load.addon.cuda) expect(status.reason).toBe('the native addon was built without CUDA (nvcc was not found when it was compiled)');
    else expect(status.probe).not.toBeNull();
  });

  it("doctor() has a CUDA section saying whether CUDA is usable, and why not with the fix", () => {
    const r = doctor();
    expect(r.cuda.available).toBe(gpu);
    expect(r.cuda.reason).toBe(status.reason);
    if (gpu) {
      expect(r.text).toMatch(r.cuda.emulated ? /cuda: available, emulated on the host CPU/ : /cuda: available; driver \d+\.\d, runtime \d+\.\d; compiled for /);
      expect(r.cuda.emulated).toBe(status.probe?.emulated);
      expect(r.cuda.gpus.length).toBeGreaterThan(0);
      expect(r.text).toMatch(/GPU 0: .+ GiB, compute capability \d+\.\d/);
    } else {
      expect(r.text).toContain(`cuda: not available (${status.reason})`);
      expect(r.missing).toContainEqual({ what: 'CUDA', reason: status.reason, fix: status.fix });
      expect(r.text).toContain(`fix: ${status.fix}`);
    }
  });
});

describe('why CUDA is unavailable (the decision, from the selection and the addon)', () => {
  /** The CUDA part of an addon as the loader would see it: only what diagnoseCuda reads. */
  const withCuda = (part: Partial<CudaAddon> | undefined): Selection => ({
    backend: cpuBackend,
    mode: 'auto',
    load: { addon: { abi: 1, cuda: part } as unknown as NativeAddon, path: '/x/dl_native.node', source: 'local build', attempts: [], packageRoot: null },
  });
  const probe = (over: Partial<CudaProbe>): CudaProbe => ({
    available: false,
    reason: null,
    deviceCount: 0,
    driverVersion: 12040,
    runtimeVersion: 13000,
    devices: [],
    cublas: { found: false, path: null, error: 'not looked for', version: null, calls: 0 },
    cudnn: { found: false, path: null, error: 'not looked for', version: null, calls: 0 },
    archs: ['sm_80', 'sm_90'],
    emulated: false,
    ...over,
  });

  it('DL_BACKEND=ts: the addon is not loaded', () => {
    const d = diagnoseCuda(selectCpuBackend({ DL_BACKEND: 'ts' }));
    expect(d.addon).toBeNull();
    expect(d.status).toMatchObject({ available: false, probe: null });
    expect(d.status.reason).toBe('DL_BACKEND=ts selects the TypeScript kernels and does not load the native addon, which holds the CUDA code');
    expect(d.status.fix).toMatch(/^unset DL_BACKEND/);
  });

  it('the addon did not load: every candidate with its reason, and how to build it', () => {
    const d = diagnoseCuda(selectCpuBackend({}, { quiet: true, packageRoot: tmp }));
    expect(d.status.reason).toMatch(/^the native addon, which holds the CUDA code, did not load \(prebuilt .*: no such file; local build .*: no such file\)$/);
    expect(d.status.fix).toMatch(/pnpm --filter @dl\/tensor build:native.*with the CUDA toolkit \(nvcc\) installed/);
  });

  it('built without nvcc, a stale ABI, stale launch codes', () => {
    expect(diagnoseCuda(withCuda(undefined)).status).toMatchObject({
      reason: 'the native addon was built without CUDA (nvcc was not found when it was compiled)',
      fix: expect.stringMatching(/^install the CUDA toolkit so that nvcc is found \(\$NVCC, on PATH or \/usr\/local\/cuda\/bin; .*\), then rebuild the addon: pnpm --filter @dl\/tensor build:native/),
    });
    expect(diagnoseCuda(withCuda({ abi: CUDA_ABI + 1 })).status.reason).toBe(`the addon's CUDA part has ABI ${CUDA_ABI + 1}, this @dl/tensor needs ABI ${CUDA_ABI} (a stale build)`);
    const renamed = [...CUDA_OPS.slice(0, 5), 'bogus', ...CUDA_OPS.slice(6)];
    expect(diagnoseCuda(withCuda({ abi: CUDA_ABI, ops: () => renamed })).status.reason).toBe(
      `the addon's CUDA launch codes differ from this @dl/tensor's from code 5 on ('bogus', expected '${CUDA_OPS[5]}'): a stale build`,
    );
    expect(diagnoseCuda(withCuda({ abi: CUDA_ABI, ops: () => CUDA_OPS.slice(0, -1) })).status.reason).toMatch(/from code \d+ on \('\(none\)', expected 'adamStep'\)/);
    expect(diagnoseCuda(withCuda({ abi: CUDA_ABI, ops: () => [...CUDA_OPS, 'extra'] })).status.reason).toMatch(/\('extra', expected '\(none\)'\)/);
  });

  it('no usable device: the driver\'s reason, the probe kept for doctor, a fix for that error', () => {
    const p = probe({ reason: 'cudaErrorNoDevice: no CUDA-capable device is detected' });
    const d = diagnoseCuda(withCuda({ abi: CUDA_ABI, ops: () => [...CUDA_OPS], probe: () => p }));
    expect(d.addon).toBeNull();
    expect(d.status).toEqual({ available: false, reason: 'cudaErrorNoDevice: no CUDA-capable device is detected', fix: deviceFix(p), probe: p });
  });

  it('fixes by CUDA error', () => {
    expect(deviceFix(probe({ driverVersion: 0, reason: 'cudaErrorInsufficientDriver: ...' }))).toMatch(/^install the NVIDIA driver/);
    expect(deviceFix(probe({ reason: 'cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version' }))).toBe(
      'update the NVIDIA driver: it supports CUDA 12.4, the addon was built with CUDA 13.0 (or rebuild the addon with an older CUDA toolkit)',
    );
    const noDevice = probe({ reason: 'cudaErrorNoDevice: no CUDA-capable device is detected' });
    expect(deviceFix(noDevice, {})).toBe('no GPU is visible to this process: check that `nvidia-smi` lists one');
    expect(deviceFix(probe({ reason: 'no CUDA device found (cudaGetDeviceCount returned 0)' }), {})).toBe(deviceFix(noDevice, {}));
    expect(deviceFix(noDevice, { CUDA_VISIBLE_DEVICES: '' })).toBe("no GPU is visible to this process: check that `nvidia-smi` lists one and that CUDA_VISIBLE_DEVICES (now '') names it");
    expect(deviceFix(probe({ reason: 'cudaErrorUnknown' }))).toMatch(/nvidia-smi/);
  });

  it('versions and architectures', () => {
    expect([cudaVersion(13000), cudaVersion(12040), cudaVersion(11080), cudaVersion(0)]).toEqual(['13.0', '12.4', '11.8', 'unknown']);
    expect(runsOn(['sm_80', 'sm_90'], [9, 0])).toBe(true);
    expect(runsOn(['sm_80'], [8, 6])).toBe(true); // same major, lower minor
    expect(runsOn(['sm_86'], [8, 0])).toBe(false);
    expect(runsOn(['sm_80'], [9, 0])).toBe(false);
    expect(runsOn(['sm_80', 'compute_80'], [9, 0])).toBe(true); // PTX compiled by the driver
    expect(runsOn(['sm_90a'], [9, 0])).toBe(true);
    expect(runsOn([], [9, 0])).toBe(false);
  });

  it('an addon failure becomes a DLError (code CUDA) naming the op, the message and a fix', () => {
    const oom = cudaError('cuda.malloc', new Error('cudaMalloc: out of memory: asked 1000000000000000 bytes, 0 allocated, 0 cached'));
    expect(oom).toBeInstanceOf(DLError);
    expect(oom.code).toBe('CUDA');
    expect(oom.message).toMatch(/^cuda\.malloc: cudaMalloc: out of memory: asked 1000000000000000 bytes, 0 allocated, 0 cached\nhint: free device memory: .*cuda\.emptyCache\(\)/);
    // A message with its own fix gets no second one.
    expect(cudaError('cuda.malloc', new Error('CUDA out of memory on device 0: ... Fix: use a smaller batch')).message).toBe('cuda.malloc: CUDA out of memory on device 0: ... Fix: use a smaller batch');
    expect(cudaError('cuda.download', new Error('crossEntropy: target 7 is out of range for 3 classes (expected 0..2, or ignoreIndex -100)')).message).toMatch(/hint: class-index targets must lie in \[0, C\)/);
    expect(cudaError('cuda.download', new Error('cast: cannot convert the non-finite value NaN to int32')).message).toMatch(/hint: replace NaN/);
    expect(cudaError('cuda.download', new Error('indexSelect: index 9 is out of range for a dimension of size 4')).message).toMatch(/hint: index values must lie in \[0, size\)/);
    expect(cudaError('add', new Error('cudaErrorLaunchFailure: unspecified launch failure')).message).toMatch(/hint: doctor\(\) .*CUDA_LAUNCH_BLOCKING=1/);
    const mine = new DLError('SHAPE', 'x', 'y');
    expect(cudaError('add', mine)).toBe(mine);
  });
});

// ---------------------------------------------------------------- encodings

describe('CUDA parameter encoding (addon.ts layouts)', () => {
  it('one operand: ptr, dtype code, offset, rank, shape padded with 1, strides padded with 0', () => {
    const P = new Float64Array(OPERAND_SLOTS + 2).fill(-1);
    encodeOperand(P, 1, { buf: { ptr: 0x7f0000001000 }, dtype: 'float32', offset: 5, shape: [2, 3, 4], strides: [12, 1, 3] });
    expect(Array.from(P)).toEqual([-1, 0x7f0000001000, 3, 5, 3, 2, 3, 4, 1, 1, 1, 1, 1, 12, 1, 3, 0, 0, 0, 0, 0, -1]);
    encodeOperand(P, 0, { buf: { ptr: 16 }, dtype: 'bool', offset: 0, shape: [], strides: [] });
    expect(Array.from(P.subarray(0, OPERAND_SLOTS))).toEqual([16, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('a launch: operand count, ins then outs, then the attributes', () => {
    const P = new Float64Array(launchLength(2, 2));
    const x = { buf: { ptr: 256 }, dtype: 'float64' as const, offset: 0, shape: [4], strides: [1] };
    const y = { buf: { ptr: 512 }, dtype: 'float64' as const, offset: 2, shape: [4], strides: [2] };
    expect(encodeLaunch('clamp', P, [x, y], ATTR_ENCODERS.clamp({ min: -1, max: null }))).toBe(P.length);
    const slot = (ptr: number, offset: number, stride: number) => [ptr, 4, offset, 1, 4, 1, 1, 1, 1, 1, 1, 1, stride, 0, 0, 0, 0, 0, 0, 0];
    expect(Array.from(P)).toEqual([2, ...slot(256, 0, 1), ...slot(512, 2, 2), -1, Number.NaN]);
  });

  it(`refuses rank > ${CUDA_MAX_RANK} naming the op, the rank and the fix`, () => {
    const shape = new Array(9).fill(2);
    const e = thrown(() => encodeLaunch('add', new Float64Array(launchLength(1, 0)), [{ buf: { ptr: 1 }, dtype: 'float32', offset: 0, shape, strides: shape.map(() => 1) }], []));
    expect(e.code).toBe('CUDA');
    expect(e.message).toBe(
      "add: CUDA kernels take tensors of rank at most 8; got rank 9 (shape [2, 2, 2, 2, 2, 2, 2, 2, 2])\nhint: merge neighbouring dims first (reshape() or flatten()) to at most 8 dims, or run this op on 'cpu'",
    );
  });

  it('attributes in CUDA_ATTRS order', () => {
    const conv = { stride: [2, 3], padding: [1, 0], dilation: [1, 2], groups: 4 } as const;
    expect(ATTR_ENCODERS.conv2d(conv)).toEqual([2, 3, 1, 0, 1, 2, 4]);
    expect(ATTR_ENCODERS.conv2dBackwardWeight(conv)).toEqual([2, 3, 1, 0, 1, 2, 4]);
    expect(ATTR_ENCODERS.maxPool2d({ kernelSize: [3, 2], stride: [2, 1], padding: [1, 0], dilation: [1, 2], ceilMode: true })).toEqual([3, 2, 2, 1, 1, 0, 1, 2, 1]);
    const avg = { kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: false, countIncludePad: true } as const;
    expect(ATTR_ENCODERS.avgPool2d({ ...avg, divisorOverride: null })).toEqual([3, 3, 2, 2, 1, 1, 0, 1, Number.NaN]);
    expect(ATTR_ENCODERS.avgPool2dBackward({ ...avg, countIncludePad: false, divisorOverride: 5 })).toEqual([3, 3, 2, 2, 1, 1, 0, 0, 5]);
    expect(ATTR_ENCODERS.sum({ dims: [0, 2] })).toEqual([0b101]);
    expect(ATTR_ENCODERS.any({ dims: [7] })).toEqual([128]);
    expect(ATTR_ENCODERS.argmin({ dim: 3 })).toEqual([3]);
    expect(ATTR_ENCODERS.clamp({ min: null, max: 0.5 })).toEqual([Number.NaN, 0.5]);
    expect(ATTR_ENCODERS.fill({ value: Number.NEGATIVE_INFINITY })).toEqual([Number.NEGATIVE_INFINITY]);
    expect(ATTR_ENCODERS.crossEntropy({ ignoreIndex: -100, labelSmoothing: 0.1 })).toEqual([-100, 0.1]);
    expect(ATTR_ENCODERS.layerNorm({ eps: 1e-5, weight: true, bias: false })).toEqual([1e-5, 1, 0]);
    expect(ATTR_ENCODERS.layerNormBackward({ weight: false })).toEqual([0]);
    expect(ATTR_ENCODERS.batchNorm({ eps: 1e-3, weight: false, bias: true })).toEqual([1e-3, 0, 1]);
    expect(ATTR_ENCODERS.batchNormBackward({ eps: 0.5, weight: true })).toEqual([0.5, 1]);
    expect(ATTR_ENCODERS.scatterAdd({ dim: 1 })).toEqual([1]);
    expect(ATTR_ENCODERS.matmul({})).toEqual([]);
    expect(philoxAttrs({ seed: 2 ** 40 + 5, offset: 12 }, -1, 2)).toEqual([5, 256, 12, -1, 2]);
  });

  it('every kernel of KernelAttrs has a launch code and encodes as many attributes as CUDA_ATTRS names', () => {
    // Attributes of every kernel at once (each encoder reads its own).
    const sample = {
      dim: 1, dims: [0, 1], min: 0, max: 1, value: 2, stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1,
      kernelSize: [2, 2], ceilMode: false, countIncludePad: true, divisorOverride: null, ignoreIndex: -100, labelSmoothing: 0,
      eps: 1e-5, weight: true, bias: true,
    };
    const ops = Object.keys(referenceBackend.kernels) as (keyof KernelAttrs)[];
    const launched = Object.keys(ATTR_ENCODERS) as LaunchedOp[];
    expect([...launched, 'cat', 'pad'].sort()).toEqual([...ops].sort());
    for (const op of launched) {
      expect(LAUNCH_CODE[op], op).toBe(CUDA_OPS.indexOf(op));
      expect((ATTR_ENCODERS[op] as (a: unknown) => number[])(sample).length, op).toBe(CUDA_ATTRS[op].length);
    }
    // The codes without a kernel of their own: device sampling and the fused optimizers.
    expect(CUDA_OPS.filter((op) => !(launched as string[]).includes(op))).toEqual(['philoxUniform', 'philoxNormal', 'sgdStep', 'adamStep']);
  });

  it('the CUDA kernel table implements every op of KernelAttrs', () => {
    const table = cudaKernels(new Launcher({} as CudaAddon));
    expect(Object.keys(table).sort()).toEqual(Object.keys(referenceBackend.kernels).sort());
  });

  it('fused SGD and Adam: MULTI_TENSOR layouts', () => {
    const P = new Float64Array(32).fill(-1);
    const sgd = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true, maximize: false, firstStep: true };
    const n = encodeSgd(P, [{ param: 100, grad: 200, momentumBuf: 300, numel: 10 }, { param: 140, grad: 240, momentumBuf: 340, numel: 3 }], sgd);
    expect(Array.from(P.subarray(0, n))).toEqual([2, 0.1, 0.9, 0, 5e-4, 1, 0, 1, 100, 200, 300, 10, 140, 240, 340, 3]);
    const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupledWeightDecay: true, amsgrad: false, maximize: true, step: 7 };
    const m = encodeAdam(P, [{ param: 1, grad: 2, expAvg: 3, expAvgSq: 4, maxExpAvgSq: 0, numel: 5 }], adam);
    expect(Array.from(P.subarray(0, m))).toEqual([1, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1, 0, 1, 7, 1, 2, 3, 4, 0, 5]);
  });

  it('host values are converted to the dtype before an upload (bool as 0/1)', () => {
    const f = new Float32Array([1, 2]);
    expect(hostValues('float32', f)).toBe(f);
    expect(hostValues('float32', new Float64Array([0.1, 3]))).toEqual(new Float32Array([0.1, 3]));
    expect(hostValues('int32', new Float64Array([-1.5, 2 ** 31]))).toEqual(new Int32Array([-1, -(2 ** 31)]));
    const b = new Uint8Array([0, 1]);
    expect(hostValues('bool', b)).toBe(b);
    expect(Array.from(hostValues('bool', new Float64Array([0, -2, Number.NaN, 0.5])))).toEqual([0, 1, 1, 1]);
    expect(Array.from(hostValues('bool', new Uint8Array([0, 7])))).toEqual([0, 1]);
  });
});

// ---------------------------------------------------------------- plans

describe('CUDA layout plans', () => {
  const c = (shape: number[], offset = 0) => {
    const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    return { shape, strides, offset };
  };

  it('matmul: a batch dim becomes B of one launch', () => {
    expect(matmulPlan(c([4, 2, 3]), c([4, 3, 5]), c([4, 2, 5]))).toEqual([{ a: c([4, 2, 3]), b: c([4, 3, 5]), y: c([4, 2, 5]) }]);
  });

  it('matmul: no batch dims is B = 1', () => {
    expect(matmulPlan(c([2, 3]), c([3, 5]), c([2, 5]))).toEqual([
      { a: { shape: [1, 2, 3], strides: [0, 3, 1], offset: 0 }, b: { shape: [1, 3, 5], strides: [0, 5, 1], offset: 0 }, y: { shape: [1, 2, 5], strides: [0, 5, 1], offset: 0 } },
    ]);
  });

  it('matmul: b shared by the batch and rows stacking is one tall GEMM', () => {
    const b = { shape: [4, 3, 5], strides: [0, 5, 1], offset: 7 };
    expect(matmulPlan(c([4, 2, 3], 1), b, c([4, 2, 5]))).toEqual([
      { a: { shape: [1, 8, 3], strides: [0, 3, 1], offset: 1 }, b: { shape: [1, 3, 5], strides: [0, 5, 1], offset: 7 }, y: { shape: [1, 8, 5], strides: [0, 5, 1], offset: 0 } },
    ]);
  });

  it('matmul: mergeable batch dims merge; unmergeable ones loop', () => {
    // (2, 3) batch of contiguous matrices: merged into B = 6.
    expect(matmulPlan(c([2, 3, 2, 4]), c([2, 3, 4, 1]), c([2, 3, 2, 1]))).toEqual([
      { a: { shape: [6, 2, 4], strides: [8, 4, 1], offset: 0 }, b: { shape: [6, 4, 1], strides: [4, 1, 1], offset: 0 }, y: { shape: [6, 2, 1], strides: [2, 1, 1], offset: 0 } },
    ]);
    // a's batch dims swapped (a permuted view): two launches of B = 3.
    const a = { shape: [2, 3, 2, 4], strides: [8, 16, 4, 1], offset: 0 };
    const plan = matmulPlan(a, c([2, 3, 4, 1]), c([2, 3, 2, 1]));
    expect(plan.map((l) => [l.a.offset, l.b.offset, l.y.offset])).toEqual([
      [0, 0, 0],
      [8, 12, 6],
    ]);
    expect(plan[1].a).toEqual({ shape: [3, 2, 4], strides: [16, 4, 1], offset: 8 });
    // A broadcast (missing) batch dim of b has stride 0.
    expect(matmulPlan(c([2, 3, 2, 4]), c([3, 4, 1]), c([2, 3, 2, 1]))[0].b.strides[0]).toBe(4);
  });

  it('cat: each input goes into its slab of the output along dim', () => {
    const y = c([2, 5, 4]);
    expect(catViews(y, 1, [[2, 3, 4], [2, 0, 4], [2, 2, 4]])).toEqual([
      { shape: [2, 3, 4], strides: [20, 4, 1], offset: 0 },
      { shape: [2, 0, 4], strides: [20, 4, 1], offset: 12 },
      { shape: [2, 2, 4], strides: [20, 4, 1], offset: 12 },
    ]);
  });

  it('pad: the input goes into the interior of the output', () => {
    expect(padInterior(c([4, 7], 3), [1, 3], [[1, 2], [3, 1]])).toEqual({ shape: [1, 3], strides: [7, 1], offset: 3 + 7 + 3 });
  });
});

// ---------------------------------------------------------------- generator state

describe('Generator: the Philox stream of device sampling', () => {
  it('manualSeed keys it and rewinds it; each device sample reserves ceil(numel / 4) counters', () => {
    const g = new Generator(2 ** 33 + 9);
    expect(g.philox(10)).toEqual({ seed: 2 ** 33 + 9, offset: 0 });
    expect(g.philox(1)).toEqual({ seed: 2 ** 33 + 9, offset: 3 });
    expect(g.philox(0)).toEqual({ seed: 2 ** 33 + 9, offset: 4 });
    g.manualSeed(3);
    expect(g.philox(4)).toEqual({ seed: 3, offset: 0 });
  });

  it('getState holds both streams: the Philox key and a counter offset past 2^32 restore exactly', () => {
    const g = new Generator(2 ** 33 + 9);
    g.philox(4 * 2 ** 32 + 8); // offset 2^32 + 2
    T.rand([3], { generator: g });
    const state = g.getState();
    // After the 624 MT19937 words and their index: the seed (the Philox key), the offset (low words first).
    expect(Array.from(state.subarray(625, 629))).toEqual([9, 2, 2, 1]);
    const h = new Generator(0).setState(state);
    expect(h.philox(1)).toEqual({ seed: 2 ** 33 + 9, offset: 2 ** 32 + 2 });
    expect(Array.from(T.rand([4], { generator: h }).dataSync())).toEqual(Array.from(T.rand([4], { generator: g }).dataSync()));
  });

  it('host sampling leaves the Philox stream alone (cpu values are unchanged by it)', () => {
    const g = new Generator(1);
    T.randn([5], { generator: g });
    T.bernoulli(0.5, { shape: [5], generator: g });
    T.rand([2], { generator: g, device: 'reference' });
    expect(g.philox(1).offset).toBe(0);
  });
});

// ---------------------------------------------------------------- on a GPU

describe.skipIf(!gpu)(needsGpu('CUDA op specs against the reference backend (float32 tolerances, contiguous and strided)'), () => {
  for (const spec of OP_SPECS) {
    it(spec.name, () => {
      T.scope(() => checkSpecAgainstReference(spec, 'cuda'));
    });
  }
});

const libs = gpu ? cuda.libraries() : null;
const noLibs = !libs ? '' : [libs.cublas, libs.cudnn].filter((l) => !l.found).map((l) => l.error).join('; ');
describe.skipIf(!gpu || !!noLibs)(needsGpu(`cuBLAS and cuDNN, where they are loaded${noLibs ? ` (skipped: ${noLibs})` : ''}`), () => {
  it('conv2d and both its gradients run through cuDNN, matmul through cuBLAS, with the values of the CPU', () => {
    const before = cuda.libraries();
    const g = new Generator(3);
    // Strided input (a transposed view), groups, padding, stride and dilation: what the descriptors must carry.
    const x = T.randn([2, 4, 9, 7], { generator: g }).transpose(2, 3);
    const w = T.randn([6, 2, 3, 2], { generator: g });
    const opts = { stride: [2, 1] as [number, number], padding: [1, 0] as [number, number], dilation: [1, 2] as [number, number], groups: 2 };
    const gy = T.randn(T.conv2d(x, w, null, opts).shape, { generator: g });
    const tol = { rtol: 1e-5, atol: 1e-5 };
    assertClose(T.conv2d(x.cuda(), w.cuda(), null, opts).cpu(), T.conv2d(x, w, null, opts), tol, 'conv2d');
    const dx = T.conv2dBackwardInput(gy.cuda(), w.cuda(), x.shape, opts).cpu();
    assertClose(dx, T.conv2dBackwardInput(gy, w, x.shape, opts), tol, 'conv2d input gradient');
    const dw = T.conv2dBackwardWeight(gy.cuda(), x.cuda(), w.shape, opts).cpu();
    assertClose(dw, T.conv2dBackwardWeight(gy, x, w.shape, opts), tol, 'conv2d weight gradient');
    // An expanded gradient (sum()'s backward), which a cuDNN descriptor cannot describe: packed first.
    const ones = T.ones([1, 1, 1, 1]).expand(gy.shape);
    const onesGpu = T.ones([1, 1, 1, 1], { device: 'cuda' }).expand(gy.shape); // made on the device: stride 0 there
    const dxe = T.conv2dBackwardInput(onesGpu, w.cuda(), x.shape, opts).cpu();
    assertClose(dxe, T.conv2dBackwardInput(ones, w, x.shape, opts), tol, 'input gradient of an expanded gradOutput');
    const dwe = T.conv2dBackwardWeight(onesGpu, x.cuda(), w.shape, opts).cpu();
    assertClose(dwe, T.conv2dBackwardWeight(ones, x, w.shape, opts), tol, 'weight gradient of an expanded gradOutput');
    const a = T.randn([3, 5, 7], { generator: g });
    const b = T.randn([7, 4], { generator: g });
    assertClose(T.matmul(a.cuda(), b.cuda()).cpu(), T.matmul(a, b), { rtol: 1e-5, atol: 1e-5 }, 'matmul');
    const after = cuda.libraries();
    expect(after.cudnn.calls - before.cudnn.calls).toBe(5);
    expect(after.cublas.calls).toBeGreaterThan(before.cublas.calls);
  });
});

describe.skipIf(!gpu)(needsGpu('CUDA tensors, memory and errors'), () => {
  it('moves to and from the device, prints, and knows it is on cuda', () => {
    const x = T.tensor([[1, 2], [3, 4]], { dtype: 'float64' });
    const d = x.cuda();
    expect(d.device).toBe('cuda:0');
    expect(d.isCuda).toBe(true);
    expect(d.to('cuda')).toBe(d);
    expect(Array.from(d.cpu().dataSync())).toEqual([1, 2, 3, 4]);
    expect(String(d)).toContain("device='cuda:0'");
    expect(cuda.deviceCount()).toBeGreaterThan(0);
    expect(cuda.getDeviceName(0)).toMatch(/\S/);
    expect(thrown(() => x.to('cuda:1')).message).toMatch(/cuda:1' is not supported: one process drives one GPU/);
    expect(thrown(() => T.add(d, x)).message).toMatch(/add: expected all tensors on the same device; got cuda:0 and cpu/);
  });

  it('uploads queued past the pinned staging (4 chunks of 4 MiB) without a wait arrive intact, as do large downloads', () => {
    // Each upload is copied into a staging chunk and the device copy is queued; a chunk is written
    // again only after its copies ran. 24 tensors of 1.5 MiB wrap around the chunks twice.
    const host = Array.from({ length: 24 }, (_, i) => T.arange(393216).add(i * 1e6).to('float32'));
    const onGpu = host.map((h) => h.cuda());
    const big = T.cat(onGpu).cpu(); // one 36 MiB download: several chunks in flight
    for (const [i, h] of host.entries()) expect(Array.from(onGpu[i].cpu().dataSync().subarray(0, 3)), `tensor ${i}`).toEqual(Array.from(h.dataSync().subarray(0, 3)));
    assertClose(big, T.cat(host), { rtol: 0, atol: 0 }, 'all values');
  });

  it('the caching allocator reuses freed blocks; emptyCache returns them; peaks reset', () => {
    cuda.synchronize();
    cuda.emptyCache();
    const base = cuda.memoryStats();
    const a = T.zeros([1 << 20], { device: 'cuda' });
    const s1 = cuda.memoryStats();
    expect(s1.allocatedBytes - base.allocatedBytes).toBeGreaterThanOrEqual(4 << 20);
    expect(s1.deviceAllocations).toBe(base.deviceAllocations + 1);
    a.dispose();
    const s2 = cuda.memoryStats();
    expect(s2.allocatedBytes).toBe(base.allocatedBytes);
    expect(s2.cachedBytes).toBeGreaterThanOrEqual(4 << 20);
    const b = T.zeros([1 << 20], { device: 'cuda' });
    const s3 = cuda.memoryStats();
    expect(s3.cacheHits).toBe(s2.cacheHits + 1);
    expect(s3.deviceAllocations).toBe(s2.deviceAllocations);
    expect(Array.from(b.sum().cpu().dataSync())).toEqual([0]); // handed out zero-filled
    b.dispose();
    cuda.resetPeakMemoryStats();
    expect(cuda.memoryStats().peakAllocatedBytes).toBe(cuda.memoryStats().allocatedBytes);
    cuda.emptyCache();
    const s4 = cuda.memoryStats();
    expect(s4.cachedBytes).toBe(0);
    expect(s4.reservedBytes).toBe(s4.allocatedBytes);
  });

  it('an impossible allocation is a DLError naming what was asked, allocated and cached; CUDA still works after it', () => {
    const e = thrown(() => T.zeros([2.5e14], { device: 'cuda' }));
    expect(e.code).toBe('CUDA');
    expect(e.op).toBe('cuda.malloc');
    expect(e.message).toMatch(/memory/i);
    expect(e.message).toMatch(/out of memory/i);
    expect(e.message).toMatch(/931322\.\d+ GiB \(1000000001671168 bytes\)/); // asked (rounded to the 2 MiB size class)
    expect(e.message).toMatch(/dl holds .* in live tensors/); // in use
    expect(e.message).toMatch(/the cache gave back/); // cached
    expect(e.message).toMatch(/Fix: /);
    expect(Array.from(T.ones([3], { device: 'cuda' }).sum().cpu().dataSync())).toEqual([3]);
  });

  it('a bad class index reaching the cross-entropy kernel is reported at the next synchronising call', () => {
    // On CUDA the front end does not read targets back (that would stall every step): the kernel flags them.
    const x = T.zeros([2, 3], { device: 'cuda' });
    const target = T.tensor([1, 7], { dtype: 'int32', device: 'cuda' });
    T.crossEntropy(x, target);
    const e = thrown(() => cuda.synchronize());
    expect(e.code).toBe('CUDA');
    expect(e.message).toMatch(/7/);
    expect(e.message).toMatch(/hint: class-index targets/);
    cuda.synchronize(); // reported once, then cleared
  });

  it('a bad index reaching indexSelect is reported at the next synchronising call, naming the value and the size', () => {
    // As for targets: the kernel checks indices (Backend.checksIndexValues), the front end does not wait.
    const x = T.zeros([4, 2], { device: 'cuda' });
    const y = T.indexSelect(x, 0, T.tensor([0, 9], { dtype: 'int32', device: 'cuda' }));
    expect(y.shape).toEqual([2, 2]);
    const e = thrown(() => cuda.synchronize());
    expect(e.code).toBe('CUDA');
    expect(e.message).toMatch(/indexSelect/);
    expect(e.message).toMatch(/9/);
    cuda.synchronize(); // reported once, then cleared
  });

  it('saving a CUDA tensor writes the same bytes as saving it from the CPU', () => {
    const state = { w: T.randn([3, 4], { generator: new Generator(1) }), i: T.arange(5), b: T.tensor([true, false]), d: T.randn([2], { dtype: 'float64' }) };
    const onGpu = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, v.cuda()]));
    expect(Buffer.from(T.encodeState(onGpu)).equals(Buffer.from(T.encodeState(state)))).toBe(true);
    expect(Buffer.from(T.encodeSafetensors(onGpu)).equals(Buffer.from(T.encodeSafetensors(state)))).toBe(true);
    const back = T.decodeState(T.encodeState(onGpu), { device: 'cuda' }) as Record<string, Tensor>;
    expect(back.w.device).toBe('cuda:0');
    assertClose(back.w.cpu(), state.w, { rtol: 0, atol: 0 }, 'round trip');
  });

  it('device sampling: reproducible per seed, independent of the shape the values are split into', () => {
    const draw = (seed: number, shapes: number[][], normal: boolean) => {
      const g = new Generator(seed);
      return shapes.flatMap((s) => Array.from((normal ? T.randn(s, { generator: g, device: 'cuda' }) : T.rand(s, { generator: g, device: 'cuda' })).cpu().dataSync()));
    };
    for (const normal of [false, true]) {
      const whole = draw(42, [[64]], normal);
      expect(draw(42, [[64]], normal)).toEqual(whole);
      expect(draw(42, [[4, 16]], normal)).toEqual(whole);
      expect(draw(42, [[8], [24], [32]], normal)).toEqual(whole);
      expect(draw(43, [[64]], normal)).not.toEqual(whole);
    }
    const u = T.rand([100000], { device: 'cuda' }).cpu().dataSync();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    // manualSeed rewinds the default generator's device stream: init functions and dropout masks repeat.
    const seeded = () => {
      T.manualSeed(7);
      const w = T.zeros([10], { device: 'cuda' }).uniform_(-1, 1);
      const mask = T.bernoulli(0.3, { shape: [100], device: 'cuda' });
      return [...w.cpu().dataSync(), ...mask.cpu().dataSync()];
    };
    expect(seeded()).toEqual(seeded());
  });
});

describe.skipIf(!gpu)(needsGpu('layerNorm and layerNormBackward kernels against float64 loops'), () => {
  type Arg = TensorArg<unknown>;
  type Float = 'float32' | 'float64';
  const EPS = 1e-5;

  /** x as R rows of C: per row mean, biased variance, rstd, then y (float64 loops). */
  function forwardRef(x: Float64Array, R: number, C: number, w: Float64Array | null, b: Float64Array | null) {
    const y = new Float64Array(R * C);
    const mean = new Float64Array(R);
    const rstd = new Float64Array(R);
    for (let r = 0; r < R; r++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += x[r * C + c];
      const m = s / C;
      let q = 0;
      for (let c = 0; c < C; c++) q += (x[r * C + c] - m) ** 2;
      const rs = 1 / Math.sqrt(q / C + EPS);
      for (let c = 0; c < C; c++) y[r * C + c] = (x[r * C + c] - m) * rs * (w ? w[c] : 1) + (b ? b[c] : 0);
      mean[r] = m;
      rstd[r] = rs;
    }
    return { y, mean, rstd };
  }

  function backwardRef(gy: Float64Array, x: Float64Array, mean: Float64Array, rstd: Float64Array, w: Float64Array | null, R: number, C: number) {
    const gx = new Float64Array(R * C);
    const gw = new Float64Array(C);
    const gb = new Float64Array(C);
    for (let r = 0; r < R; r++) {
      const xhat = (c: number) => (x[r * C + c] - mean[r]) * rstd[r];
      const g = (c: number) => gy[r * C + c] * (w ? w[c] : 1);
      let sg = 0;
      let sgx = 0;
      for (let c = 0; c < C; c++) {
        sg += g(c);
        sgx += g(c) * xhat(c);
        gw[c] += gy[r * C + c] * xhat(c);
        gb[c] += gy[r * C + c];
      }
      for (let c = 0; c < C; c++) gx[r * C + c] = rstd[r] * (g(c) - sg / C - (xhat(c) * sgx) / C);
    }
    return { gx, gw, gb };
  }

  /** Values exactly representable in dtype (what the device holds), from a seeded normal draw. */
  const draw = (g: Generator, n: number, dtype: Float, scale = 1, shift = 0): Float64Array => {
    const v = Float64Array.from(T.randn([n], { generator: g, dtype: 'float64' }).dataSync(), (a) => a * scale + shift);
    return dtype === 'float32' ? Float64Array.from(Float32Array.from(v)) : v;
  };

  /** Device tensors of one case: made by upload/output, freed by free(). */
  function device() {
    const b = backendFor('layerNorm', 'cuda');
    const made: Arg[] = [];
    const arg = (dtype: Float, shape: number[]): Arg => {
      const a = { buf: b.alloc(dtype, numel(shape), false), dtype, shape, strides: contiguousStrides(shape), offset: 0 };
      made.push(a);
      return a;
    };
    return {
      kernels: b.kernels,
      upload: (dtype: Float, shape: number[], values: Float64Array): Arg => {
        const a = arg(dtype, shape);
        b.write(a.buf, dtype, 0, values);
        return a;
      },
      output: arg,
      download: (a: Arg) => Float64Array.from(b.read(a.buf, a.dtype, 0, numel(a.shape))),
      free: () => {
        for (const a of made) b.free(a.buf);
      },
    };
  }

  /** max |got - want| / (1 + |want|), after checking the lengths. */
  function maxError(got: Float64Array, want: Float64Array, what: string): number {
    expect(got.length, what).toBe(want.length);
    let e = 0;
    for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
    expect(Number.isNaN(e), `${what}: NaN`).toBe(false);
    return e;
  }

  // [x's shape, R]: C is the product of the trailing dims after R's.
  const cases: [number[], number][] = [
    [[1, 1], 1],
    [[3, 7], 3],
    [[5, 13, 192], 65],
    [[5, 10, 100], 5],
    [[10, 100, 3], 1000],
  ];
  const tol = { float32: 1e-6, float64: 1e-12 };

  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: y, mean, rstd, gx, gw, gb with and without weight and bias`, () => {
      const g = new Generator(5);
      for (const [shape, R] of cases) {
        const C = numel(shape) / R;
        const x = draw(g, R * C, dtype, 2, 3);
        const gy = draw(g, R * C, dtype);
        const w = draw(g, C, dtype, 0.5, 1);
        const bias = draw(g, C, dtype);
        for (const [hasW, hasB] of [[false, false], [true, false], [false, true], [true, true]]) {
          const what = `${dtype} ${JSON.stringify(shape)} R=${R} C=${C} weight=${hasW} bias=${hasB}`;
          const d = device();
          try {
            const ins = [d.upload(dtype, shape, x), ...(hasW ? [d.upload(dtype, [C], w)] : []), ...(hasB ? [d.upload(dtype, [C], bias)] : [])];
            const outs = [d.output(dtype, shape), d.output(dtype, [R]), d.output(dtype, [R])];
            d.kernels.layerNorm(ins, outs, { eps: EPS, weight: hasW, bias: hasB });
            const ref = forwardRef(x, R, C, hasW ? w : null, hasB ? bias : null);
            for (const [i, name] of ['y', 'mean', 'rstd'].entries()) {
              expect(maxError(d.download(outs[i]), ref[name as 'y'], `${what}: ${name}`), `${what}: ${name}`).toBeLessThan(tol[dtype]);
            }
            // The gradient of the mean and rstd the device computed (as the front end passes them on).
            const mean = d.download(outs[1]);
            const rstd = d.download(outs[2]);
            const gOuts = [d.output(dtype, shape), d.output(dtype, [C]), d.output(dtype, [C])];
            d.kernels.layerNormBackward([d.upload(dtype, shape, gy), ins[0], outs[1], outs[2], ...(hasW ? [ins[1]] : [])], gOuts, { weight: hasW });
            const gRef = backwardRef(gy, x, mean, rstd, hasW ? w : null, R, C);
            for (const [i, name] of ['gx', 'gw', 'gb'].entries()) {
              expect(maxError(d.download(gOuts[i]), gRef[name as 'gx'], `${what}: ${name}`), `${what}: ${name}`).toBeLessThan(tol[dtype]);
            }
          } finally {
            d.free();
          }
        }
      }
    });
  }

  it('no rows: gw and gb are zeros (sums over no rows)', () => {
    const d = device();
    try {
      const empty = d.upload('float32', [0, 7], new Float64Array(0));
      const stats = d.upload('float32', [0], new Float64Array(0));
      const outs = [d.output('float32', [0, 7]), d.output('float32', [7]), d.output('float32', [7])];
      d.kernels.layerNormBackward([empty, empty, stats, stats], outs, { weight: false });
      expect(Array.from(d.download(outs[1]))).toEqual(new Array(7).fill(0));
      expect(Array.from(d.download(outs[2]))).toEqual(new Array(7).fill(0));
    } finally {
      d.free();
    }
  });

  it('bad operands fail at the launch naming the op and the operand', () => {
    const d = device();
    try {
      const x = d.upload('float32', [3, 7], new Float64Array(21));
      const outs = [d.output('float32', [3, 7]), d.output('float32', [3]), d.output('float32', [3])];
      const e = thrown(() => d.kernels.layerNorm([x, d.upload('float32', [5], new Float64Array(5))], outs, { eps: EPS, weight: true, bias: false }));
      expect(e.code).toBe('CUDA');
      expect(e.message).toMatch(/layerNorm: weight \[5\] must hold C = 7 numbers \(the normalized trailing dims of x \[3, 7\]\)/);
      expect(thrown(() => d.kernels.layerNorm([x, d.upload('float64', [7], new Float64Array(7))], outs, { eps: EPS, weight: false, bias: true })).message).toMatch(
        /layerNorm: bias must be float32, got float64/,
      );
      expect(thrown(() => d.kernels.layerNorm([x], [outs[0], d.output('float32', [2]), outs[2]], { eps: EPS, weight: false, bias: false })).message).toMatch(
        /layerNorm: rstd \[3\] must hold R = 2 numbers, as mean \[2\] does/,
      );
      expect(thrown(() => d.kernels.layerNorm([x], outs, { eps: EPS, weight: true, bias: false })).message).toMatch(
        /layerNorm: expected 5 operands \(x, weight, y, mean, rstd\), got 4/,
      );
    } finally {
      d.free();
    }
  });
});

describe.skipIf(!gpu)(needsGpu('batchNorm and batchNormBackward kernels against the reference, channels over several blocks'), () => {
  type Float = 'float32' | 'float64';
  const EPS = 1e-5;
  // Channels of 67600 numbers (17 tiles of the kernels' 4096, the last one partial) in runs longer
  // than a block's step; runs of 16 (ResNet-9's last layers: several runs per step); (N, C) with
  // runs of 1; runs of 2999 (a block's step wraps mid-run) over 3 tiles.
  const shapes = [[4, 3, 130, 130], [600, 2, 4, 4], [700, 5], [4, 2, 2999]];
  const tol = { rtol: 1e-5, atol: 1e-5 }; // float32; assertClose holds float64 to 1e-12

  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: y, mean, var, then gx, gw, gb from them, with and without weight and bias`, () => {
      const g = new Generator(11);
      for (const shape of shapes) {
        const C = shape[1];
        const draw = (s: number[], scale = 1, shift = 0) => T.randn(s, { generator: g, dtype }).mul(scale).add(shift);
        const x = draw(shape, 2, 3);
        const gy = draw(shape);
        const w = draw([C], 0.5, 1);
        const b = draw([C]);
        for (const [hasW, hasB] of [[false, false], [true, true], [true, false], [false, true]]) {
          T.scope(() => {
            const what = `${dtype} ${JSON.stringify(shape)} weight=${hasW} bias=${hasB}`;
            const on = (device: 'cuda' | 'reference', t: Tensor | null) => (t === null ? null : t.to(device));
            const run = (device: 'cuda' | 'reference') => T.batchNorm(on(device, x) as Tensor, on(device, hasW ? w : null), on(device, hasB ? b : null), EPS);
            const got = run('cuda');
            const want = run('reference');
            for (const [i, name] of ['y', 'mean', 'var'].entries()) assertClose(got[i].cpu(), want[i].cpu(), tol, `${what}: ${name}`);
            // The gradient of the statistics the device computed, as the gradient rule passes them on.
            const [mean, variance] = [got[1], got[2]];
            const grads = (device: 'cuda' | 'reference') =>
              T.batchNormBackward(on(device, gy) as Tensor, on(device, x) as Tensor, on(device, mean) as Tensor, on(device, variance) as Tensor, on(device, hasW ? w : null), EPS);
            const gGot = grads('cuda');
            const gWant = grads('reference');
            for (const [i, name] of ['gx', 'gw', 'gb'].entries()) assertClose(gGot[i].cpu(), gWant[i].cpu(), tol, `${what}: ${name}`);
          });
        }
      }
    });
  }

  it('no numbers per channel: gw and gb are zeros (sums over nothing), gx empty', () => {
    const [gx, gw, gb] = T.batchNormBackward(T.zeros([0, 3, 4], { device: 'cuda' }), T.zeros([0, 3, 4], { device: 'cuda' }), T.zeros([3], { device: 'cuda' }), T.zeros([3], { device: 'cuda' }), null, 0);
    expect(gx.shape).toEqual([0, 3, 4]);
    expect(Array.from(gw.cpu().dataSync())).toEqual([0, 0, 0]);
    expect(Array.from(gb.cpu().dataSync())).toEqual([0, 0, 0]);
  });

  it('bad operands fail at the launch naming the op and the operand', () => {
    const bk = backendFor('batchNorm', 'cuda');
    const made: TensorArg<unknown>[] = [];
    const arg = (dtype: Float, shape: number[]) => {
      const a = { buf: bk.alloc(dtype, numel(shape), true), dtype, shape, strides: contiguousStrides(shape), offset: 0 };
      made.push(a);
      return a;
    };
    try {
      const x = arg('float32', [2, 3, 5]);
      const outs = [arg('float32', [2, 3, 5]), arg('float32', [3]), arg('float32', [3])];
      const e = thrown(() => bk.kernels.batchNorm([x, arg('float32', [2])], outs, { eps: EPS, weight: true, bias: false }));
      expect(e.code).toBe('CUDA');
      expect(e.message).toMatch(/batchNorm: weight \[2\] must hold C = 3 numbers \(dim 1 of x \[2, 3, 5\]\)/);
      expect(thrown(() => bk.kernels.batchNorm([x, arg('float64', [3])], outs, { eps: EPS, weight: false, bias: true })).message).toMatch(/batchNorm: bias must be float32, got float64/);
      expect(thrown(() => bk.kernels.batchNorm([x], [outs[0], outs[1], arg('float32', [4])], { eps: EPS, weight: false, bias: false })).message).toMatch(
        /batchNorm: var \[4\] must hold C = 3 numbers \(dim 1 of x \[2, 3, 5\]\)/,
      );
      expect(thrown(() => bk.kernels.batchNorm([arg('float32', [6])], [arg('float32', [6]), outs[1], outs[2]], { eps: EPS, weight: false, bias: false })).message).toMatch(
        /batchNorm: x \[6\] must have at least 2 dims \(N, C, \*\)/,
      );
      expect(thrown(() => bk.kernels.batchNorm([x], outs, { eps: EPS, weight: false, bias: true })).message).toMatch(/batchNorm: expected 5 operands \(x, bias, y, mean, var\), got 4/);
      const gOuts = [arg('float32', [2, 3, 4]), outs[1], outs[2]];
      expect(thrown(() => bk.kernels.batchNormBackward([x, x, outs[1], outs[2]], gOuts, { eps: EPS, weight: false })).message).toMatch(
        /batchNormBackward: gx \[2, 3, 4\] and x \[2, 3, 5\] must have one shape/,
      );
    } finally {
      for (const a of made) bk.free(a.buf);
    }
  });
});
