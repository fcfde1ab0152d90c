/**
 * The native addon: loader, backend selection, doctor, and the C++ kernels against float64
 * references (a triple loop for GEMM, the reference backend for convolution). Tests that need
 * the addon skip, with the reason in their names, when it is not built; the loader and
 * selection tests always run.
 */
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { Backend, Conv2dOptions, Tensor } from '../src/index.js';
import { cpuBackend } from '../src/backend/cpu/index.js';
import { backendFor } from '../src/device.js';
import { NATIVE_ABI, type NativeAddon } from '../src/backend/native/addon.js';
import { backendMode, currentSelection, makeNativeBackend, selectCpuBackend } from '../src/backend/native/index.js';
import { candidatePaths, findPackageRoot, loadNativeAddon, tryLoad } from '../src/backend/native/loader.js';
import { assertClose } from '../src/testing.js';
import { out, randomViews, values, withBackend } from './helpers.js';

// The addon is loaded for kernel tests even under DL_BACKEND=ts (that only picks what serves 'cpu').
const loaded = loadNativeAddon({ env: { ...process.env, DL_NATIVE_PATH: undefined } });
const addon = loaded.addon;
/** The addon, for tests that only run when it loaded. */
const native = () => addon as NativeAddon;
const skipReason = addon ? '' : ` (skipped: addon not built: ${loaded.attempts.map((a) => `${a.source}: ${a.reason}`).join('; ')})`;
const withAddon = (name: string) => `${name}${skipReason}`;

let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dl-native-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('loader', () => {
  it('tries DL_NATIVE_PATH, then the prebuilt, then the local build', () => {
    const c = candidatePaths({ env: { DL_NATIVE_PATH: '/x/dl_native.node' }, packageRoot: '/pkg', platform: 'linux', arch: 'x64' });
    expect(c).toEqual([
      { source: 'DL_NATIVE_PATH', path: '/x/dl_native.node' },
      { source: 'prebuilt', path: '/pkg/prebuilds/linux-x64/dl_native.node' },
      { source: 'local build', path: '/pkg/native/build/Release/dl_native.node' },
    ]);
    expect(candidatePaths({ env: {}, packageRoot: '/pkg' }).map((x) => x.source)).toEqual(['prebuilt', 'local build']);
  });

  it('finds the @dl/tensor package folder', () => {
    expect(findPackageRoot()).toMatch(/packages[\\/]tensor$/);
  });

  it('reports a missing DL_NATIVE_PATH with its reason and keeps going', () => {
    const r = loadNativeAddon({ env: { DL_NATIVE_PATH: join(tmp, 'nope.node') } });
    expect(r.attempts[0]).toEqual({ source: 'DL_NATIVE_PATH', path: join(tmp, 'nope.node'), ok: false, reason: 'no such file' });
    // The remaining candidates were still tried.
    expect(r.attempts.length).toBeGreaterThan(1);
    expect(r.addon !== null).toBe(addon !== null);
  });

  it('reports a DL_NATIVE_PATH that is not a loadable binary with the dlopen error', () => {
    const bad = join(tmp, 'bad.node');
    writeFileSync(bad, 'not an ELF file');
    const r = loadNativeAddon({ env: { DL_NATIVE_PATH: bad }, packageRoot: null });
    expect(r.addon).toBeNull();
    expect(r.attempts[0].ok).toBe(false);
    expect(r.attempts[0].reason).toMatch(/^dlopen failed: .+/);
    expect(tryLoad(bad)).toEqual({ reason: r.attempts[0].reason });
  });

  it('says why when no candidate exists', () => {
    const r = loadNativeAddon({ env: {}, packageRoot: null });
    expect(r.addon).toBeNull();
    expect(r.attempts.map((a) => a.reason).join(' ')).toMatch(/package folder was not found/);
    const r2 = loadNativeAddon({ env: {}, packageRoot: tmp });
    expect(r2.attempts.map((a) => [a.source, a.reason])).toEqual([
      ['prebuilt', 'no such file'],
      ['local build', 'no such file'],
    ]);
  });
});

describe('backend selection (DL_BACKEND)', () => {
  it('DL_BACKEND=ts gives the TypeScript backend without looking for the addon', () => {
    const s = selectCpuBackend({ DL_BACKEND: 'ts' });
    expect(s.backend).toBe(cpuBackend);
    expect(s.backend.name).toBe('cpu-ts');
    expect(s.load).toBeNull();
  });

  it('without the addon, auto falls back to the TypeScript kernels and native is an error naming the reason', () => {
    const s = selectCpuBackend({}, { quiet: true, packageRoot: tmp });
    expect(s.backend).toBe(cpuBackend);
    expect(s.load?.addon).toBeNull();
    expect(() => selectCpuBackend({ DL_BACKEND: 'native' }, { quiet: true, packageRoot: tmp })).toThrow(
      /DL_BACKEND=native but the native addon did not load \(prebuilt .*no such file.*\); fix: build it with `pnpm --filter @dl\/tensor build:native`/,
    );
  });

  it('rejects an unknown DL_BACKEND', () => {
    expect(backendMode({})).toBe('auto');
    expect(backendMode({ DL_BACKEND: 'TS' })).toBe('ts');
    expect(() => backendMode({ DL_BACKEND: 'gpu' })).toThrow(/DL_BACKEND must be 'ts', 'native' or unset; got 'gpu'/);
  });

  it('the registered cpu backend follows DL_BACKEND and the addon', () => {
    const sel = currentSelection();
    expect(sel).not.toBeNull();
    const name = backendFor('test', 'cpu').name;
    if (process.env.DL_BACKEND === 'ts') expect(name).toBe('cpu-ts');
    else expect(name).toBe(sel?.load?.addon ? 'cpu-native' : 'cpu-ts');
  });

  it.skipIf(!addon)(withAddon('with the addon, auto and native give cpu-native (TypeScript kernels for the rest)'), () => {
    for (const env of [{}, { DL_BACKEND: 'native' }]) {
      const s = selectCpuBackend(env, { quiet: true });
      expect(s.backend.name).toBe('cpu-native');
      expect(Object.keys(s.backend.kernels).sort()).toEqual(Object.keys(cpuBackend.kernels).sort());
      expect(s.backend.kernels.pad).toBe(cpuBackend.kernels.pad);
      expect(s.backend.kernels.matmul).not.toBe(cpuBackend.kernels.matmul);
    }
  });

  it.skipIf(!addon)(withAddon('the native backend caches freed buffers and hands them out zero-filled'), () => {
    const b = selectCpuBackend({}, { quiet: true }).backend;
    const a = b.alloc('float32', 1000) as Float32Array;
    expect(a).toBeInstanceOf(Float32Array);
    a.fill(7);
    b.free(a);
    const again = b.alloc('float32', 1000) as Float32Array;
    expect(again).toBe(a);
    expect(again.every((v) => v === 0)).toBe(true);
    expect(b.alloc('bool', 10)).toBeInstanceOf(Uint8Array);
    // Arrays adopted from user code are never recycled.
    const mine = new Float32Array([1, 2, 3]);
    const adopted = b.adopt?.('float32', mine) as Float32Array;
    expect(adopted).toBe(mine);
    b.free(adopted);
    expect(b.alloc('float32', 3)).not.toBe(mine);
    expect(Array.from(mine)).toEqual([1, 2, 3]);
    // A buffer whose memory was transferred away (detached) is dropped, not reused.
    const t = b.alloc('float32', 64) as Float32Array;
    structuredClone(t.buffer, { transfer: [t.buffer as ArrayBuffer] });
    b.free(t);
    const u = b.alloc('float32', 64) as Float32Array;
    expect(u === t).toBe(false);
    expect(u.length).toBe(64);
  });
});

describe('doctor', () => {
  it('reports backends, CPU features, threads and what is missing', () => {
    const r = T.doctor();
    const gpu = T.cuda.probe().available; // a GPU, or the emulated device of a DL_CUDA=emulate build
    expect(r.backends.map((b) => b.deviceType).sort()).toEqual(gpu ? ['cpu', 'cuda', 'reference'] : ['cpu', 'reference']);
    expect(r.text).toMatch(/features: /);
    expect(r.text).toMatch(/threads: \d+/);
    expect(r.cpu.backend).toBe(backendFor('test', 'cpu').name);
    if (r.addon.loaded) {
      expect(r.cpu.threads).toBeGreaterThanOrEqual(1);
      expect(r.addon.path).toMatch(/dl_native\.node$/);
      expect(r.addon.build?.compiler).toBeTruthy();
      expect(r.text).toContain(r.addon.path as string);
      if (gpu) expect(r.missing.map((m) => m.what)).not.toContain('CUDA');
      if (gpu && r.cuda.emulated) expect(r.text).toMatch(/cuda: available, emulated on the host CPU/);
      else expect(r.missing.map((m) => m.what)).toContain('CUDA');
    } else {
      const miss = r.missing.find((m) => m.what === 'native CPU kernels');
      expect(miss?.fix ?? '').toMatch(process.env.DL_BACKEND === 'ts' ? /unset DL_BACKEND/ : /build:native/);
      expect(r.text).toMatch(/missing: native CPU kernels/);
    }
  });

  it.skipIf(!addon)(withAddon('the addon reports the CPU features it detected with cpuid'), () => {
    const info = native().info();
    expect(info.abi).toBe(NATIVE_ABI);
    const flags = (() => {
      try {
        return spawnSync('grep', ['-m1', '^flags', '/proc/cpuinfo'], { encoding: 'utf8' }).stdout;
      } catch {
        return '';
      }
    })();
    if (/\bavx2\b/.test(flags)) expect(info.cpu.avx2).toBe(true);
    if (/\bfma\b/.test(flags)) expect(info.cpu.fma).toBe(true);
    // The AVX-512 kernels (GEMM and convolution) also need the OS to save zmm state (xgetbv).
    expect(info.gemmKernel).toBe(info.convKernel);
    if (info.gemmKernel === 'avx512') expect(info.cpu.avx512f && info.cpu.avx512bw && info.cpu.avx512vl).toBe(true);
    else expect(info.gemmKernel).toBe(info.cpu.avx2 && info.cpu.fma ? 'avx2+fma' : 'portable');
  });

  it.skipIf(!addon)(withAddon('terminating a worker thread while its addon call throws leaves the process running'), () => {
    // Each worker loops on a call the addon refuses (RangeError) and is terminated mid-loop: the
    // error raised while its environment shuts down must be dropped, not abort the process.
    const script = `
      const { Worker } = require('node:worker_threads');
      const src = \`const m = { exports: {} }; process.dlopen(m, \${JSON.stringify(${JSON.stringify(loaded.path)})});
        const x = new Float32Array(8), P = Float64Array.from([1, 0, 0, 0, 100, 1, 1, 1]);
        require('node:worker_threads').parentPort.postMessage('ready');
        for (;;) { try { m.exports.binary(0, x, x, x, P); } catch {} }\`;
      (async () => {
        for (let i = 0; i < 20; i++) {
          const w = new Worker(src, { eval: true });
          await new Promise((r) => w.once('message', r));
          await w.terminate();
        }
        console.log('survived 20');
      })();`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(out.stderr).not.toMatch(/terminate called/);
    expect(out.stdout.trim()).toBe('survived 20');
    expect(out.status).toBe(0);
  });

  it.skipIf(!addon)(withAddon('DL_NUM_THREADS sets the thread count'), () => {
    const script = `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(loaded.path)}); const i = m.exports.info(); console.log(i.threads + ' ' + i.threadsSource);`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, DL_NUM_THREADS: '3' } });
    expect(out.stdout.trim()).toBe('3 DL_NUM_THREADS');
  });
});

// ---------------------------------------------------------------- GEMM

function rand(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** C = A @ B in float64, A M x K and B K x N row-major. */
function refGemm(A: Float64Array, B: Float64Array, M: number, N: number, K: number): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let p = 0; p < K; p++) {
      const a = A[i * K + p];
      for (let j = 0; j < N; j++) C[i * N + j] += a * B[p * N + j];
    }
  return C;
}

const SIZES = [1, 7, 33, 257];

describe.skipIf(!addon)(withAddon('native GEMM against a float64 triple loop'), () => {
  // Every family this CPU runs; avx512 pairs B panels into 6 x 32 tiles (float32).
  const kernels = ['portable', 'avx2', 'avx512'].filter((f) => addon?.setGemmKernel(f));
  addon?.setGemmKernel('auto');
  afterAll(() => addon?.setGemmKernel('auto'));
  for (const kernel of kernels) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${kernel} ${dtype}: every M, N, K in {${SIZES.join(', ')}}, with A and/or B transposed, beta 0 and 1`, () => {
        expect(native().setGemmKernel(kernel)).toBe(true);
        const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
        const P = new Float64Array(64);
        let seed = 1;
        for (const M of SIZES)
          for (const N of SIZES)
            for (const K of SIZES) {
              const A64 = Float64Array.from(new Ctor(rand(M * K, seed++)));
              const B64 = Float64Array.from(new Ctor(rand(K * N, seed++)));
              const ref = refGemm(A64, B64, M, N, K);
              for (const ta of [false, true])
                for (const tb of [false, true]) {
                  // Stored transposed (with a leading pad and a wider leading dimension) when asked.
                  const lda = (ta ? M : K) + 3;
                  const ldb = (tb ? K : N) + 2;
                  const A = new Ctor(5 + (ta ? K : M) * lda);
                  const B = new Ctor(5 + (tb ? N : K) * ldb);
                  for (let i = 0; i < M; i++) for (let p = 0; p < K; p++) A[5 + (ta ? p * lda + i : i * lda + p)] = A64[i * K + p];
                  for (let p = 0; p < K; p++) for (let j = 0; j < N; j++) B[5 + (tb ? j * ldb + p : p * ldb + j)] = B64[p * N + j];
                  for (const beta of [0, 1]) {
                    const C = new Ctor(M * N).fill(beta ? 0.5 : Number.NaN); // beta 0 must not read C
                    P.set([1, M, N, K, 5, 0, ta ? 1 : lda, ta ? lda : 1, 5, 0, tb ? 1 : ldb, tb ? ldb : 1, 0, 0, N, 1, 1, beta]);
                    native().gemm(A, B, C, P);
                    const tol = dtype === 'float32' ? 2e-6 * Math.sqrt(K) * 4 : 1e-13 * K;
                    for (let q = 0; q < M * N; q++) {
                      const e = ref[q] + (beta ? 0.5 : 0);
                      if (!(Math.abs(C[q] - e) <= tol * (1 + Math.abs(e)))) {
                        throw new Error(`M ${M} N ${N} K ${K} ta ${ta} tb ${tb} beta ${beta}: C[${q}] = ${C[q]}, expected ${e}`);
                      }
                    }
                  }
                }
            }
      });
    }
  }

  it('batched, with a broadcast (stride 0) operand and large enough to run on the thread pool', () => {
    const P = new Float64Array(64);
    const [batch, M, N, K] = [3, 70, 90, 50];
    const A = new Float32Array(rand(batch * M * K, 7));
    const B = new Float32Array(rand(K * N, 8));
    const C = new Float32Array(batch * M * N);
    P.set([batch, M, N, K, 0, M * K, K, 1, 0, 0, N, 1, 0, M * N, N, 1, 1, 0]);
    native().gemm(A, B, C, P);
    for (let b = 0; b < batch; b++) {
      const ref = refGemm(Float64Array.from(A.subarray(b * M * K, (b + 1) * M * K)), Float64Array.from(B), M, N, K);
      for (let q = 0; q < M * N; q++) expect(Math.abs(C[b * M * N + q] - ref[q])).toBeLessThan(1e-4);
    }
  });

  it('runs from a worker thread while the main thread uses the pool (results unchanged)', async () => {
    const n = 160;
    const A = new Float32Array(rand(n * n, 11));
    const B = new Float32Array(rand(n * n, 12));
    const P = new Float64Array(64);
    P.set([1, n, n, n, 0, 0, n, 1, 0, 0, n, 1, 0, 0, n, 1, 1, 0]);
    const ref = new Float32Array(n * n);
    native().gemm(A, B, ref, P);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const m = { exports: {} };
      process.dlopen(m, workerData.path);
      const { A, B, P, n } = workerData;
      const C = new Float32Array(n * n);
      for (let i = 0; i < 200; i++) m.exports.gemm(A, B, C, P);
      parentPort.postMessage(C);`;
    const worker = new Worker(code, { eval: true, workerData: { path: loaded.path, A, B, P, n } });
    const fromWorker = new Promise<Float32Array>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const C = new Float32Array(n * n);
    for (let i = 0; i < 200; i++) native().gemm(A, B, C, P);
    const W = await fromWorker;
    await worker.terminate();
    expect(Array.from(C)).toEqual(Array.from(ref));
    expect(Array.from(W)).toEqual(Array.from(ref));
  });

  it('refuses a layout that reaches outside its buffer (RangeError, nothing written)', () => {
    const P = new Float64Array(64);
    P.set([1, 4, 4, 4, 0, 0, 4, 1, 0, 0, 4, 1, 0, 0, 4, 1, 1, 0]);
    const C = new Float32Array(15);
    expect(() => native().gemm(new Float32Array(16), new Float32Array(16), C, P)).toThrow(/gemm: c reaches elements \[0, 15\] of a buffer of 15/);
    expect(() => native().gemm(new Float32Array(16), new Float64Array(16), new Float32Array(16), P)).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------- convolution

/** The tutorial ConvNet's layers at a small batch (and batch 1: the pixel-split path). */
const CONVS: { name: string; n: number; c: number; h: number; o: number; k: number; opts?: Conv2dOptions }[] = [
  { name: 'conv1 3->6 5x5 on 32x32', n: 6, c: 3, h: 32, o: 6, k: 5 },
  { name: 'conv2 6->16 5x5 on 14x14', n: 6, c: 6, h: 14, o: 16, k: 5 },
  { name: 'conv2 at batch 1', n: 1, c: 6, h: 14, o: 16, k: 5 },
  { name: 'conv1 padded, strided', n: 3, c: 3, h: 32, o: 6, k: 5, opts: { padding: 2, stride: 2 } },
  { name: 'padded, dilated, grouped (direct paths)', n: 3, c: 4, h: 20, o: 16, k: 3, opts: { padding: 2, dilation: 2, groups: 2 } },
  { name: '1x1 pointwise', n: 2, c: 8, h: 9, o: 12, k: 1 },
  // Fewer output pixels than output channels: the weight gradient runs with the batch in its reduction.
  { name: 'many channels on 4x4 (batch-reduction weight gradient)', n: 5, c: 24, h: 4, o: 40, k: 3, opts: { padding: 1 } },
  { name: 'many channels, strided and grouped (batch-reduction weight gradient)', n: 3, c: 16, h: 6, o: 48, k: 3, opts: { padding: 1, stride: 2, groups: 2 } },
  // Output channels that fill 32-wide pixel-major tiles (AVX-512), one of them half full.
  { name: '64 channels (32-wide pixel tiles)', n: 2, c: 8, h: 7, o: 64, k: 3, opts: { padding: 1 } },
  { name: '48 channels, strided (32-wide pixel tiles, a half-full block)', n: 2, c: 8, h: 9, o: 48, k: 3, opts: { padding: 1, stride: 2 } },
  // Few output pixels and no direct path: forward and input gradient with the images side by side in one GEMM.
  { name: 'few channels, strided (batched columns)', n: 4, c: 6, h: 9, o: 5, k: 3, opts: { stride: 2, padding: 1 } },
  { name: 'strided, dilated, grouped (batched columns)', n: 4, c: 6, h: 9, o: 6, k: 3, opts: { stride: 2, padding: 1, dilation: 2, groups: 2 } },
  // Stride 1, few pixels and over 4096 taps (no direct path): the input gradient is the forward
  // convolution of gy with the flipped, transposed weights on that same batched path (25 and 36
  // pixels: panels that straddle images).
  { name: 'stride 1, uneven padding and dilation, grouped (input gradient as a batched forward)', n: 5, c: 12, h: 5, o: 920, k: 3, opts: { padding: [1, 2], dilation: [1, 2], groups: 2 } },
  { name: 'stride 1, no padding (input gradient as a batched forward)', n: 3, c: 10, h: 6, o: 460, k: 3 },
];

describe.skipIf(!addon)(withAddon('native conv2d against the reference backend at the tutorial shapes'), () => {
  const native = addon ? makeNativeBackend(addon) : cpuBackend;
  const tol = { rtol: 1e-4, atol: 2e-4 };
  const families = ['portable', 'avx2', 'avx512'].filter((f) => addon?.setGemmKernel(f));
  addon?.setGemmKernel('auto');
  afterAll(() => addon?.setGemmKernel('auto'));
  for (const { name, n, c, h, o, k, opts } of CONVS) {
    it.each(families)(`${name}: forward with bias, input gradient and weight gradient (float32 and float64, %s kernels)`, (family) => {
      expect(addon?.setGemmKernel(family)).toBe(true);
      for (const dtype of ['float32', 'float64'] as const) {
        T.scope(() => {
          const g = new T.Generator(42);
          const x = T.randn([n, c, h, h], { generator: g, dtype });
          const w = T.randn([o, c / (opts?.groups ?? 1), k, k], { generator: g, dtype }).mul_(0.2);
          const b = T.randn([o], { generator: g, dtype });
          const y = T.conv2d(x.to('reference'), w.to('reference'), b.to('reference'), opts);
          const gy = T.randn(y.shape as number[], { generator: g, dtype });
          const gx = T.conv2dBackwardInput(gy.to('reference'), w.to('reference'), x.shape, opts);
          const gw = T.conv2dBackwardWeight(gy.to('reference'), x.to('reference'), w.shape, opts);
          const [y1, gx1, gw1] = withBackend(native as Backend, () => [
            T.conv2d(x, w, b, opts),
            T.conv2dBackwardInput(gy, w, x.shape, opts),
            T.conv2dBackwardWeight(gy, x, w.shape, opts),
          ]);
          const t = dtype === 'float64' ? tol : { rtol: tol.rtol, atol: tol.atol * Math.sqrt(n) };
          const ref = (r: Tensor) => (dtype === 'float32' ? r.to('float32') : r);
          assertClose(y1.to('reference'), ref(y), t, `${name} ${dtype} forward`);
          assertClose(gx1.to('reference'), ref(gx), t, `${name} ${dtype} input gradient`);
          assertClose(gw1.to('reference'), ref(gw), { rtol: 1e-4, atol: 1e-3 * Math.sqrt(n) }, `${name} ${dtype} weight gradient`);
        });
      }
    });
  }

  it('weight gradients are bit-identical from run to run (fixed reduction order, whatever the threads do)', () => {
    T.scope(() => {
      const g = new T.Generator(5);
      // The tutorial's shapes (tap-major and channel-major paths) and 64 channels of 2x2 outputs (batch reduction).
      for (const [c, h, o] of [[3, 32, 6], [6, 14, 16], [32, 6, 64]]) {
        const x = T.randn([64, c, h, h], { generator: g });
        const gy = T.randn([64, o, h - 4, h - 4], { generator: g });
        const runs = withBackend(native as Backend, () => [0, 1, 2, 3].map(() => Array.from(T.conv2dBackwardWeight(gy, x, [o, c, 5, 5]).dataSync())));
        for (const r of runs) expect(r).toEqual(runs[0]);
      }
    });
  });

  it('a batch spanning several column-matrix slabs gives the reference forward, input and weight gradients (1x1 outputs, 6000 channels)', () => {
    // 40 images x 54000 taps: 17 MB of float64 columns, past one 16 MiB slab (the slab code is
    // the same template for float32); stride 2 leaves every op on its batched path.
    T.scope(() => {
      const g = new T.Generator(8);
      const opts = { stride: 2 };
      const dtype = 'float64';
      const x = T.randn([40, 6000, 3, 3], { generator: g, dtype });
      const w = T.randn([4, 6000, 3, 3], { generator: g, dtype }).mul_(0.01);
      const gy = T.randn([40, 4, 1, 1], { generator: g, dtype });
      const [xr, wr, gyr] = [x, w, gy].map((t) => t.to('reference'));
      const want = [T.conv2d(xr, wr, null, opts), T.conv2dBackwardInput(gyr, wr, x.shape, opts), T.conv2dBackwardWeight(gyr, xr, w.shape, opts)];
      const got = withBackend(native as Backend, () => [T.conv2d(x, w, null, opts), T.conv2dBackwardInput(gy, w, x.shape, opts), T.conv2dBackwardWeight(gy, x, w.shape, opts)]);
      ['forward', 'input gradient', 'weight gradient'].forEach((what, i) => {
        assertClose(got[i].to('reference'), want[i], { rtol: 1e-4, atol: 1e-4 }, what);
      });
    });
  });

  it('an input gradient as a batched forward convolution over several slabs gives the reference (60 images, 512 channels of 3x3)', () => {
    // gy's columns: 4608 taps x 9 pixels per image, 60 images: 20 MB in float64, past one slab.
    T.scope(() => {
      const g = new T.Generator(9);
      const opts = { padding: 1 };
      const dtype = 'float64';
      const w = T.randn([512, 4, 3, 3], { generator: g, dtype }).mul_(0.05);
      const gy = T.randn([60, 512, 3, 3], { generator: g, dtype });
      const want = T.conv2dBackwardInput(gy.to('reference'), w.to('reference'), [60, 4, 3, 3], opts);
      const got = withBackend(native as Backend, () => T.conv2dBackwardInput(gy, w, [60, 4, 3, 3], opts));
      assertClose(got.to('reference'), want, { rtol: 1e-9, atol: 1e-9 }, 'input gradient');
    });
  });

  it('strided (non-contiguous) inputs give the same results as contiguous ones', () => {
    T.scope(() => {
      const g = new T.Generator(3);
      const x = T.randn([4, 6, 14, 14], { generator: g });
      const w = T.randn([16, 6, 5, 5], { generator: g });
      const gy = T.randn([4, 16, 10, 10], { generator: g });
      const xs = x.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2);
      const ws = w.permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3);
      const gys = gy.permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3);
      withBackend(native as Backend, () => {
        assertClose(T.conv2d(xs, ws), T.conv2d(x, w), { rtol: 1e-5, atol: 1e-5 }, 'forward');
        assertClose(T.conv2dBackwardInput(gys, ws, x.shape), T.conv2dBackwardInput(gy, w, x.shape), { rtol: 1e-5, atol: 1e-5 }, 'input gradient');
        assertClose(T.conv2dBackwardWeight(gys, xs, w.shape), T.conv2dBackwardWeight(gy, x, w.shape), { rtol: 1e-5, atol: 1e-4 }, 'weight gradient');
      });
    });
  });

  it('gradient shapes that disagree with the weight are refused at the front door, before any kernel runs', () => {
    T.scope(() => {
      const gy = T.randn([2, 6, 10, 10]);
      const w = T.randn([16, 6, 5, 5]);
      expect(() => withBackend(native as Backend, () => T.conv2dBackwardInput(gy, w, [2, 6, 14, 14]))).toThrowError(/conv2dBackwardInput: weight must have gradOutput's channels as its first dim/);
    });
  });
});

// ---------------------------------------------------------------- strided elementwise

describe.skipIf(!addon)(withAddon('native elementwise over strided operands against index arithmetic'), () => {
  const K = (addon ? makeNativeBackend(addon) : cpuBackend).kernels;
  const NO = {};
  const ARITH = {
    add: (a: number, b: number) => a + b,
    sub: (a: number, b: number) => a - b,
    mul: (a: number, b: number) => a * b,
    div: (a: number, b: number) => a / b,
    maximum: (a: number, b: number) => Math.max(a, b),
    minimum: (a: number, b: number) => Math.min(a, b),
    reluBackward: (g: number, y: number) => (y > 0 ? g : 0),
  } as const;
  const UNARY = {
    relu: (v: number) => Math.max(v, 0),
    neg: (v: number) => -v,
    abs: (v: number) => Math.abs(v),
    sqrt: (v: number) => Math.sqrt(v),
    rsqrt: (v: number) => 1 / Math.sqrt(v),
  } as const;

  it('binary ops, comparisons, where and unary ops over permuted, stepped, flipped and broadcast views, into contiguous and strided outputs', () => {
    const { rnd, randomView } = randomViews(777);
    const dtypes = ['float32', 'float64', 'int32'] as const;
    for (let trial = 0; trial < 90; trial++) {
      const dtype = dtypes[trial % 3];
      // Every tenth shape is large enough to be cut into chunks over the thread pool mid-row.
      const shape = trial % 10 === 0 ? [3, 37, 701] : Array.from({ length: 1 + rnd(5) }, () => 1 + rnd(6));
      const a = randomView(shape, dtype);
      const b = randomView(shape, dtype);
      const va = values(a);
      const vb = values(b);
      const round = dtype === 'float32' ? Math.fround : dtype === 'int32' ? (v: number) => v | 0 : (v: number) => v;
      // The output: contiguous, or a view that does not repeat elements (permuted, stepped, flipped).
      let y = out(dtype, shape);
      if (trial % 2 === 1) {
        let v = randomView(shape, dtype);
        while (v.strides.some((st, d) => st === 0 && shape[d] > 1)) v = randomView(shape, dtype);
        y = v;
      }
      for (const [op, f] of Object.entries(ARITH)) {
        if (dtype === 'int32' && op === 'div') continue;
        K[op as keyof typeof ARITH]([a, b], [y], NO);
        expect(values(y), `${op} ${dtype} ${shape}`).toEqual(va.map((u, i) => round(f(u, vb[i]))));
      }
      const yb = out('bool', shape);
      K.lt([a, b], [yb], NO);
      expect(values(yb), `lt ${dtype} ${shape}`).toEqual(va.map((u, i) => (u < vb[i] ? 1 : 0)));
      const c = randomView(shape, 'bool'); // bytes (i * 7) % 23: nonzero is true
      K.where([c, a, b], [y], NO);
      const vc = values(c);
      expect(values(y), `where ${dtype} ${shape}`).toEqual(va.map((u, i) => (vc[i] !== 0 ? u : vb[i])));
      // Unary ops, bit for bit as the TypeScript kernels: negative values, and -0, NaN or INT32_MIN.
      for (let i = 0; i < a.buf.length; i++) a.buf[i] -= 11;
      a.buf[trial % a.buf.length] = dtype === 'int32' ? -(2 ** 31) : trial % 2 ? Number.NaN : -0;
      const vx = values(a);
      for (const [op, f] of Object.entries(UNARY)) {
        if (dtype === 'int32' && (op === 'sqrt' || op === 'rsqrt')) continue;
        K[op as keyof typeof UNARY]([a], [y], NO);
        expect(values(y), `${op} ${dtype} ${shape}`).toEqual(vx.map((u) => round(f(u))));
      }
      // copy: the values, bit for bit (NaN and -0 included).
      K.copy([a], [y], NO);
      expect(values(y), `copy ${dtype} ${shape}`).toEqual(vx);
    }
  });

  it('cat of permuted, stepped and broadcast views along each dim equals the pieces read by index arithmetic', () => {
    const { rnd, randomView } = randomViews(4242);
    for (let trial = 0; trial < 40; trial++) {
      const dtype = (['float32', 'float64', 'int32'] as const)[trial % 3];
      const shape = trial % 8 === 0 ? [2, 33, 700] : Array.from({ length: 1 + rnd(4) }, () => 1 + rnd(5));
      const dim = rnd(shape.length);
      const pieces = [1 + rnd(3), 1, 2 + rnd(2)].map((n) => randomView(shape.map((s, d) => (d === dim ? n : s)), dtype));
      const yShape = shape.map((s, d) => (d === dim ? pieces.reduce((t, p) => t + p.shape[dim], 0) : s));
      const y = out(dtype, yShape);
      K.cat(pieces, [y], { dim });
      // Expected: walk y's indices, pick the piece and its index.
      const pv = pieces.map(values);
      const expected: number[] = [];
      const idx = new Array<number>(yShape.length).fill(0);
      for (let i = 0; i < pv.reduce((t, v) => t + v.length, 0); i++) {
        let k = 0;
        let at = idx[dim];
        while (at >= pieces[k].shape[dim]) at -= pieces[k++].shape[dim];
        let flat = 0;
        for (let d = 0; d < yShape.length; d++) flat = flat * pieces[k].shape[d] + (d === dim ? at : idx[d]);
        expected.push(pv[k][flat]);
        for (let d = yShape.length - 1; d >= 0 && ++idx[d] === yShape[d]; d--) idx[d] = 0;
      }
      expect(values(y), `cat ${dtype} ${shape} dim ${dim}`).toEqual(expected);
    }
  });

  it('the addon refuses a layout outside its buffer, an output that repeats elements, and too many dims (RangeError)', () => {
    const a = new Float32Array(8);
    const y = new Float32Array(8);
    // P = rank, offsets of y, a, b, the sizes, then the strides of y, a and b.
    const P = (rank: number, sizes: number[], ys: number[], as: number[], bs: number[]) => Float64Array.from([rank, 0, 0, 0, ...sizes, ...ys, ...as, ...bs]);
    expect(() => native().binary(0, a, a, y, P(1, [9], [1], [1], [1]))).toThrowError(/binary: y reaches elements \[0, 8\] of a buffer of 8/);
    expect(() => native().binary(0, a, a, y, P(2, [4, 2], [1, 4], [2, 0], [1, 4]))).not.toThrow();
    expect(() => native().binary(0, a, a, y, P(2, [4, 2], [1, 4], [2, 2], [1, 4]))).toThrowError(/binary: a reaches elements \[0, 8\]/);
    expect(() => native().binary(0, a, a, y, P(2, [4, 2], [1, 0], [1, 4], [1, 4]))).toThrowError(/binary: y has a zero stride/);
    expect(() => native().binary(0, a, a, y, Float64Array.from({ length: 100 }, (_, i) => (i === 0 ? 17 : 1)))).toThrowError(/binary: rank 17 outside \[1, 16\]/);
  });
});

// ---------------------------------------------------------------- layer normalization

describe.skipIf(!addon)(withAddon('native layerNorm and layerNormBackward give the TypeScript kernels\' bits'), () => {
  const N = (addon ? makeNativeBackend(addon) : cpuBackend).kernels;
  const TS = cpuBackend.kernels;
  it('rows of 1 to 1000 (several chunks over the pool), float32 and float64, with and without weight and bias, at offsets', () => {
    const { rnd } = randomViews(99);
    const shapes: [number, number][] = [[1, 1], [3, 7], [65, 192], [2080, 64], [5, 1000]];
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [R, C] of shapes) {
        const mk = (n: number, scale: number) => {
          const a = out(dtype, [n + 2]);
          for (let i = 0; i < n + 2; i++) a.buf[i] = (rnd(2001) - 1000) * scale;
          return { ...a, shape: [n], offset: 2 };
        };
        const x = { ...mk(R * C, 0.003), shape: [R, C] };
        const w = mk(C, 0.001);
        const b = mk(C, 0.002);
        const gy = { ...mk(R * C, 0.001), shape: [R, C] };
        for (const [hasW, hasB] of [[true, true], [false, false], [true, false]] as const) {
          const attrs = { eps: 1e-5, weight: hasW, bias: hasB };
          const ins = [x, ...(hasW ? [w] : []), ...(hasB ? [b] : [])];
          const run = (K: typeof N) => {
            const o = [out(dtype, [R, C]), out(dtype, [R]), out(dtype, [R])];
            K.layerNorm(ins, o, attrs);
            const g = [out(dtype, [R, C]), out(dtype, [C]), out(dtype, [C])];
            K.layerNormBackward([gy, x, o[1], o[2], ...(hasW ? [w] : [])], g, { weight: hasW });
            return [...o, ...g].map(values);
          };
          expect(run(N), `${dtype} [${R}, ${C}] weight ${hasW} bias ${hasB}`).toEqual(run(TS));
        }
      }
    }
  });
});

describe.skipIf(!addon)(withAddon('native batchNorm and batchNormBackward give the TypeScript kernels\' bits'), () => {
  const N = (addon ? makeNativeBackend(addon) : cpuBackend).kernels;
  const TS = cpuBackend.kernels;
  it('runs of 1 to 1024 (tails and whole lanes), 1 to 96 channels over the pool, float32 and float64, with and without weight and bias, at offsets', () => {
    const { rnd } = randomViews(98);
    const shapes: [number, number, number][] = [[1, 1, 1], [6, 3, 1], [4, 5, 13], [32, 64, 16], [8, 16, 1024], [3, 96, 7]];
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [B, C, S] of shapes) {
        const mk = (n: number, scale: number, shift = 0) => {
          const a = out(dtype, [n + 2]);
          for (let i = 0; i < n + 2; i++) a.buf[i] = (rnd(2001) - 1000) * scale + shift;
          return { ...a, shape: [n], offset: 2 };
        };
        const x = { ...mk(B * C * S, 0.003, 1.5), shape: [B, C, S] };
        const w = mk(C, 0.001);
        const b = mk(C, 0.002);
        const gy = { ...mk(B * C * S, 0.001), shape: [B, C, S] };
        for (const [hasW, hasB] of [[true, true], [false, false], [true, false]] as const) {
          const attrs = { eps: 1e-5, weight: hasW, bias: hasB };
          const ins = [x, ...(hasW ? [w] : []), ...(hasB ? [b] : [])];
          const run = (K: typeof N) => {
            const o = [out(dtype, [B, C, S]), out(dtype, [C]), out(dtype, [C])];
            K.batchNorm(ins, o, attrs);
            const g = [out(dtype, [B, C, S]), out(dtype, [C]), out(dtype, [C])];
            K.batchNormBackward([gy, x, o[1], o[2], ...(hasW ? [w] : [])], g, { eps: 1e-5, weight: hasW });
            return [...o, ...g].map(values);
          };
          expect(run(N), `${dtype} [${B}, ${C}, ${S}] weight ${hasW} bias ${hasB}`).toEqual(run(TS));
        }
      }
    }
  });
});

// ---------------------------------------------------------------- cross-entropy, fused optimizers

describe.skipIf(!addon)(withAddon('native float32 sums against a float64 sum'), () => {
  const native = addon ? makeNativeBackend(addon) : cpuBackend;
  /** The float64 sum of `xs` (in order), rounded to float32 as the result is. */
  const sum64 = (xs: Float32Array | number[]) => Math.fround(Array.from(xs).reduce((a, b) => a + b, 0));

  it('full sums past the 1024-element blocks and the 64 Ki parts, with every kind of tail, and row sums', () => {
    T.scope(() => {
      const g = new T.Generator(11);
      // 1023: no whole block; 1024 and 3 * 1024 + 8 + 5: blocks, then the 8-wide and 1-wide tails;
      // 65536 * 2 + 1500: several parts, each with its own blocks.
      for (const n of [1023, 1024, 3 * 1024 + 13, 65536 * 2 + 1500]) {
        // An offset keeps the values from cancelling, so a dropped or doubled element shows.
        const x = T.randn([n], { generator: g }).add(0.25);
        const xs = x.dataSync() as Float32Array;
        const got = withBackend(native as Backend, () => T.sum(x).item());
        expect(Math.abs(got - sum64(xs)), `n = ${n}`).toBeLessThanOrEqual(1e-6 * Math.abs(sum64(xs)) + 1e-4);
      }
      // Rows of 2500 (the innermost dim reduced), and a strided view whose rows are not contiguous.
      const m = T.randn([3, 2500], { generator: g }).add(0.25);
      const rows = withBackend(native as Backend, () => Array.from(T.sum(m, 1).dataSync()));
      const cols = withBackend(native as Backend, () => Array.from(T.sum(m.t(), 0).dataSync()));
      const data = m.dataSync() as Float32Array;
      for (let r = 0; r < 3; r++) {
        const want = sum64(data.subarray(r * 2500, (r + 1) * 2500));
        expect(Math.abs(rows[r] - want), `row ${r}`).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-4);
        expect(Math.abs(cols[r] - want), `strided row ${r}`).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-4);
      }
    });
  });
});

describe.skipIf(!addon)(withAddon('native cross-entropy and fused optimizer updates'), () => {
  const nativeBackend = addon ? makeNativeBackend(addon) : cpuBackend;

  it('crossEntropy over many rows (the thread pool) matches the TypeScript kernels, forward and gradient', () => {
    T.scope(() => {
      const g = new T.Generator(8);
      const x = T.randn([5000, 10], { generator: g }).mul_(4);
      const t = T.randint(0, 10, [5000], { generator: g });
      const w = T.rand([10], { generator: g }).add_(0.5);
      const gy = T.randn([5000], { generator: g });
      const opts = { weight: w, labelSmoothing: 0.1 };
      const run = () => {
        const { loss, lse } = T.crossEntropyWithLse(x, t, opts);
        return [loss, lse, T.crossEntropyBackward(gy, x, t, lse, opts)];
      };
      const ts = withBackend(cpuBackend as Backend, run);
      for (const [i, r] of withBackend(nativeBackend as Backend, run).entries()) assertClose(r, ts[i], { rtol: 1e-6, atol: 1e-7 }, `output ${i}`);
    });
  });

  it('the addon refuses targets outside [0, C) and layouts outside a buffer (RangeError), whatever the caller', () => {
    const x = new Float32Array(6);
    const loss = new Float32Array(2);
    const lse = new Float32Array(2);
    // N, C, xOff, xsN, xsC, tOff, ts, wOff, ws, lossOff, lseOff, ignoreIndex, labelSmoothing
    const P = Float64Array.from([2, 3, 0, 3, 1, 0, 1, 0, 0, 0, 0, -100, 0]);
    native().crossEntropy(x, Int32Array.from([2, -100]), undefined, loss, lse, P);
    expect(() => native().crossEntropy(x, Int32Array.from([3, 0]), undefined, loss, lse, P)).toThrow(/crossEntropy: target 3 is outside \[0, 3\)/);
    expect(() => native().crossEntropy(new Float32Array(5), Int32Array.from([0, 0]), undefined, loss, lse, P)).toThrow(/crossEntropy: x reaches elements \[0, 5\] of a buffer of 5/);
    // An ignoreIndex beyond int32 matches no target.
    const farIgnore = P.slice();
    farIgnore[11] = 1e20;
    expect(() => native().crossEntropy(x, Int32Array.from([2, -100]), undefined, loss, lse, farIgnore)).toThrow(/crossEntropy: target -100 is outside \[0, 3\)/);
    const withWeight = P.slice();
    withWeight[8] = 1;
    expect(() => native().crossEntropy(x, Int32Array.from([0, 0]), new Float32Array(2), loss, lse, withWeight)).toThrow(/crossEntropy: weight reaches elements \[0, 2\] of a buffer of 2/);
    // lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep, then pOff, gOff, bufOff, n
    const S = Float64Array.from([0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
    expect(() => native().sgdStep([new Float32Array(3)], [new Float32Array(4)], undefined, S)).toThrow(/sgdStep: param reaches elements \[0, 3\] of a buffer of 3/);
    expect(() => native().sgdStep([new Float32Array(4)], [], undefined, S)).toThrow(/sgdStep: grads holds 0 arrays, expected 1/);
    expect(() => native().sgdStep([new Float32Array(4)], [new Float64Array(4)], undefined, S)).toThrow(TypeError);
  });

  it('updates every parameter of a list in one call, each from its own offset (float32 and float64 mixed)', () => {
    const p32 = Float32Array.from([1, 2, 3, 4, 5]);
    const g32 = Float32Array.from([0, 0, 1, 1, 1]);
    const p64 = Float64Array.from([1, 2]);
    const g64 = Float64Array.from([4, 8]);
    // plain SGD, lr 0.5: p32 from offset 2 (3 elements), p64 whole
    const S = Float64Array.from([0.5, 0, 0, 0, 0, 0, 0, 2, 2, 0, 3, 0, 0, 0, 2]);
    native().sgdStep([p32, p64], [g32, g64], undefined, S);
    expect(Array.from(p32)).toEqual([1, 2, 2.5, 3.5, 4.5]);
    expect(Array.from(p64)).toEqual([-1, -2]);
  });
});
