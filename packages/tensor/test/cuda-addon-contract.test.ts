/**
 * The CUDA part of the native addon (native/src/cuda/) against its contract,
 * src/backend/cuda/addon.ts: the ABI, the launch codes in CUDA_OPS order, the probe's shape
 * and, without a usable GPU, a clear Error (never a crash) from every device call. With a GPU a
 * few end-to-end launches run through the raw contract (operand slots encoded here, not by the
 * backend). Tests skip, with the reason in their names, when the addon was built without CUDA.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CUDA_ABI, CUDA_MAX_RANK, CUDA_OPS, type CudaAddon, type CudaOp, OPERAND_SLOTS } from '../src/backend/cuda/addon.js';
import { loadNativeAddon } from '../src/backend/native/loader.js';
import { contiguousStrides } from '../src/layout.js';

const loaded = loadNativeAddon({ env: { ...process.env, DL_NATIVE_PATH: undefined } });
const cuda: CudaAddon | undefined = loaded.addon?.cuda;
const noCuda = !loaded.addon
  ? `addon not built: ${loaded.attempts.map((a) => `${a.source}: ${a.reason}`).join('; ')}`
  : !cuda
    ? 'addon built without CUDA (no nvcc found, or DL_CUDA=0)'
    : '';
const probe = cuda?.probe();
const noGpu = noCuda || (probe?.available ? '' : `no usable GPU: ${probe?.reason}`);
const withCuda = (name: string) => (noCuda ? `${name} (skipped: ${noCuda})` : name);
const withGpu = (name: string) => (noGpu ? `${name} (skipped: ${noGpu})` : name);
const withoutGpu = (name: string) => (noCuda || !noGpu ? `${name} (skipped: ${noCuda || 'a GPU is present'})` : name);
const cu = () => cuda as CudaAddon;

/** Where native/build.mjs would find nvcc (its search order), or null. */
function findNvcc(): string | null {
  if (process.env.NVCC) return process.env.NVCC;
  try {
    return execFileSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null;
  }
}
const nvcc = process.env.DL_CUDA === '0' ? null : findNvcc();
const noNvcc = !loaded.addon ? 'addon not built' : nvcc === null ? 'no nvcc here (or DL_CUDA=0)' : '';

describe('CUDA addon contract', () => {
  // A broken CUDA build must not land: where nvcc is found, the build fails rather than quietly
  // producing a CPU-only binary, so a binary without the CUDA part here means it was not built.
  it.skipIf(!!noNvcc)(`where nvcc is found (${nvcc ?? 'none'}) the addon carries the CUDA part${noNvcc ? ` (skipped: ${noNvcc})` : ''}`, () => {
    expect(loaded.addon?.info().build.cuda).toBe(true);
    expect(cuda).toBeDefined();
  });

  it.skipIf(!!noCuda)(withCuda('exports cuda with the contract ABI and CUDA_OPS as its launch codes'), () => {
    expect(cu().abi).toBe(CUDA_ABI);
    expect(cu().ops()).toEqual(CUDA_OPS);
    expect(loaded.addon?.info().build.cuda).toBe(true);
  });

  it.skipIf(!!noCuda)(withCuda('probe() never throws and has the contract shape'), () => {
    const p = cu().probe();
    expect(typeof p.available).toBe('boolean');
    expect(p.available ? p.reason === null : typeof p.reason === 'string' && p.reason.length > 0).toBe(true);
    expect(Number.isInteger(p.deviceCount)).toBe(true);
    expect(Number.isInteger(p.driverVersion) && Number.isInteger(p.runtimeVersion)).toBe(true);
    expect(p.runtimeVersion).toBeGreaterThan(0);
    expect(p.devices.length).toBe(p.available ? p.deviceCount : p.devices.length);
    for (const d of p.devices) {
      expect(typeof d.name).toBe('string');
      expect(d.totalMemory).toBeGreaterThan(0);
      expect(d.computeCapability).toHaveLength(2);
      expect(d.multiProcessors).toBeGreaterThan(0);
    }
    for (const [b, file] of [[p.cublas, /libcublas/], [p.cudnn, /libcudnn|DL_CUDNN=0/]] as const) {
      expect(typeof b.found).toBe('boolean');
      if (b.found) expect(typeof b.path).toBe('string');
      else expect(b.path === null && typeof b.error === 'string' && file.test(b.error ?? '')).toBe(true);
      expect(b.version === null || Number.isInteger(b.version)).toBe(true);
      expect(Number.isInteger(b.calls) && b.calls >= 0).toBe(true);
    }
    expect(p.archs.length).toBeGreaterThan(0);
    for (const a of p.archs) expect(a).toMatch(/^(sm|compute)_\d+$/);
  });

  it.skipIf(!!noCuda || !noGpu)(withoutGpu('every device call throws a clear Error without a GPU'), () => {
    const calls: [string, () => unknown][] = [
      ['setDevice', () => cu().setDevice(0)],
      ['synchronize', () => cu().synchronize()],
      ['malloc', () => cu().malloc(1024)],
      ['free', () => cu().free(4096)],
      ['memoryStats', () => cu().memoryStats()],
      ['resetPeakMemoryStats', () => cu().resetPeakMemoryStats()],
      ['emptyCache', () => cu().emptyCache()],
      ['memset', () => cu().memset(4096, 16, 0)],
      ['upload', () => cu().upload(4096, new Float32Array(4))],
      ['download', () => cu().download(new Float32Array(4), 4096)],
      ['launch', () => cu().launch(CUDA_OPS.indexOf('add'), new Float64Array(64))],
    ];
    for (const [name, call] of calls) {
      expect(call, name).toThrow(Error);
      try {
        call();
      } catch (e) {
        expect((e as Error).message, name).toMatch(/cuda\w+.*failed: cudaError\w+ \(.+\) at cuda\/\w+\.cc:\d+/);
      }
    }
  });
});

// ---------------------------------------------------------------- on a GPU

const DT = { bool: 0, uint8: 1, int32: 2, float32: 3, float64: 4 } as const;

interface Op {
  ptr: number;
  dtype: number;
  shape: number[];
  strides?: number[];
  offset?: number;
}


/** The contract's P for operands and attributes. */
function encode(ops: readonly Op[], attrs: readonly number[] = []): Float64Array {
  const P = new Float64Array(1 + ops.length * OPERAND_SLOTS + attrs.length);
  P[0] = ops.length;
  ops.forEach((o, k) => {
    const at = 1 + k * OPERAND_SLOTS;
    const strides = o.strides ?? contiguousStrides(o.shape);
    P[at] = o.ptr;
    P[at + 1] = o.dtype;
    P[at + 2] = o.offset ?? 0;
    P[at + 3] = o.shape.length;
    for (let d = 0; d < CUDA_MAX_RANK; d++) {
      P[at + 4 + d] = d < o.shape.length ? o.shape[d] : 1;
      P[at + 4 + CUDA_MAX_RANK + d] = d < o.shape.length ? strides[d] : 0;
    }
  });
  P.set(attrs, 1 + ops.length * OPERAND_SLOTS);
  return P;
}

function code(op: CudaOp): number {
  return CUDA_OPS.indexOf(op);
}

function put(data: Float32Array | Int32Array | Uint8Array | Float64Array): number {
  const p = cu().malloc(data.byteLength);
  cu().upload(p, data);
  return p;
}

describe('CUDA kernels on a GPU', () => {
  it.skipIf(!!noGpu)(withGpu('upload / download round trip and the caching allocator'), () => {
    cu().setDevice(0);
    const x = Float32Array.from({ length: 3_000_000 }, (_, i) => i * 0.5);
    const p = put(x);
    const back = new Float32Array(x.length);
    cu().download(back, p);
    expect(back).toEqual(x);
    const before = cu().memoryStats();
    cu().free(p);
    const q = cu().malloc(x.byteLength);
    expect(q).toBe(p);
    expect(cu().memoryStats().cacheHits).toBe(before.cacheHits + 1);
    cu().free(q);
    cu().emptyCache();
    expect(cu().memoryStats().cachedBytes).toBe(0);
  });

  it.skipIf(!!noGpu)(withGpu('add with a broadcast operand, sum over a dim, matmul'), () => {
    const a = put(Float32Array.from([1, 2, 3, 4, 5, 6]));
    const b = put(Float32Array.from([10, 20, 30]));
    const y = cu().malloc(24);
    cu().launch(code('add'), encode([
      { ptr: a, dtype: DT.float32, shape: [2, 3] },
      { ptr: b, dtype: DT.float32, shape: [2, 3], strides: [0, 1] },
      { ptr: y, dtype: DT.float32, shape: [2, 3] },
    ]));
    const out = new Float32Array(6);
    cu().download(out, y);
    expect(Array.from(out)).toEqual([11, 22, 33, 14, 25, 36]);

    const s = cu().malloc(8);
    cu().launch(code('sum'), encode([{ ptr: y, dtype: DT.float32, shape: [2, 3] }, { ptr: s, dtype: DT.float32, shape: [2, 1] }], [2]));
    const sums = new Float32Array(2);
    cu().download(sums, s);
    expect(Array.from(sums)).toEqual([66, 75]);

    // (1, 2, 3) @ (1, 3, 2) with b transposed in place: b^T = [[10, 20, 30], [1, 1, 1]]
    const bt = put(Float32Array.from([10, 20, 30, 1, 1, 1]));
    const m = cu().malloc(16);
    cu().launch(code('matmul'), encode([
      { ptr: a, dtype: DT.float32, shape: [1, 2, 3] },
      { ptr: bt, dtype: DT.float32, shape: [1, 3, 2], strides: [6, 1, 3] },
      { ptr: m, dtype: DT.float32, shape: [1, 2, 2] },
    ]));
    const mm = new Float32Array(4);
    cu().download(mm, m);
    expect(Array.from(mm)).toEqual([140, 6, 320, 15]);
    for (const p of [a, b, y, s, bt, m]) cu().free(p);
  });

  it.skipIf(!!noGpu)(withGpu('a target out of range is reported at the next synchronising call'), () => {
    const x = put(new Float32Array(6));
    const t = put(Int32Array.from([0, 7]));
    const loss = cu().malloc(8);
    const lse = cu().malloc(8);
    cu().launch(code('crossEntropy'), encode([
      { ptr: x, dtype: DT.float32, shape: [2, 3] },
      { ptr: t, dtype: DT.int32, shape: [2] },
      { ptr: loss, dtype: DT.float32, shape: [2] },
      { ptr: lse, dtype: DT.float32, shape: [2] },
    ], [-100, 0]));
    expect(() => cu().synchronize()).toThrow(/crossEntropy: target 7 is out of range for 3 classes/);
    cu().synchronize(); // reported once
    const out = new Float32Array(2);
    cu().download(out, lse);
    expect(out[0]).toBeCloseTo(Math.log(3), 6);
    for (const p of [x, t, loss, lse]) cu().free(p);
  });

  it.skipIf(!!noGpu)(withGpu('refuses an operand outside its block, naming the op'), () => {
    const p = cu().malloc(16);
    expect(() =>
      cu().launch(code('neg'), encode([
        { ptr: p, dtype: DT.float32, shape: [1000] },
        { ptr: p, dtype: DT.float32, shape: [1000] },
      ])),
    ).toThrow(/neg: operand 0: reaches bytes/);
    cu().free(p);
  });

  it.skipIf(!!noGpu)(withGpu('refuses a misaligned operand address before any kernel runs (a misaligned access would end the context)'), () => {
    const p = cu().malloc(64);
    expect(() =>
      cu().launch(code('neg'), encode([
        { ptr: p + 2, dtype: DT.float32, shape: [4] },
        { ptr: p + 32, dtype: DT.float32, shape: [4] },
      ])),
    ).toThrow(/neg: operand 0: address \d+ is not aligned to its 4-byte elements/);
    cu().launch(code('neg'), encode([{ ptr: p, dtype: DT.float32, shape: [4] }, { ptr: p + 32, dtype: DT.float32, shape: [4] }]));
    cu().synchronize(); // the context still works
    cu().free(p);
  });
});
