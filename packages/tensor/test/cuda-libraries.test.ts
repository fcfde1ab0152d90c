/**
 * The run-time loading of cuBLAS and cuDNN by the addon's CUDA part (native/src/cuda/dynlib.cc,
 * cublas.cc, cudnn.cc), against stand-in libraries built here from fixtures/fake-cuda-libs.c:
 * where each is looked for, the symbol check, the version check and DL_CUDNN=0. Each case runs
 * in a child process, since a library is looked for once per process. Skips, with the reason
 * in the name, when the addon has no CUDA part or no C compiler is found.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CudaLibraryInfo } from '../src/backend/cuda/addon.js';
import { cudaLibraryIssues } from '../src/backend/native/doctor.js';
import { loadNativeAddon } from '../src/backend/native/loader.js';

const loaded = loadNativeAddon({ env: { ...process.env, DL_NATIVE_PATH: undefined } });
const cc = (() => {
  for (const c of [process.env.CC, 'cc', 'gcc'].filter(Boolean) as string[]) {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return c;
    } catch {
      // try the next
    }
  }
  return null;
})();
const skip = !loaded.addon?.cuda ? 'addon built without CUDA' : !cc ? 'no C compiler' : '';
const named = (name: string) => (skip ? `${name} (skipped: ${skip})` : name);

const dir = mkdtempSync(join(tmpdir(), 'dl-fake-cuda-libs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = join(import.meta.dirname, 'fixtures', 'fake-cuda-libs.c');

/** Builds the stand-in with `defines` as `sub/file` under the temp dir; returns its path. */
function build(file: string, defines: string[]): string {
  const out = join(dir, file);
  mkdirSync(join(out, '..'), { recursive: true });
  execFileSync(cc as string, ['-shared', '-fPIC', '-o', out, ...defines.map((d) => `-D${d}`), fixture]);
  return out;
}

/** probe()'s cublas and cudnn entries in a child process with `env` added to a clean CUDA environment. */
function probeWith(env: Record<string, string>): { cublas: CudaLibraryInfo; cudnn: CudaLibraryInfo } {
  const base = { ...process.env };
  for (const k of ['DL_CUDNN', 'DL_CUDNN_PATH', 'CUDA_HOME', 'CUDA_PATH', 'LD_LIBRARY_PATH']) delete base[k];
  const r = spawnSync(
    process.execPath,
    ['-e', 'const p = require(process.argv[1]).cuda.probe(); process.stdout.write(JSON.stringify({ cublas: p.cublas, cudnn: p.cudnn }))', loaded.path as string],
    { env: { ...base, CUDA_HOME: join(dir, 'no-toolkit'), ...env }, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`probe child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.skipIf(!!skip)('CUDA libraries loaded at run time', () => {
  it(named('cuDNN 9 is found in the folder DL_CUDNN_PATH names, and its version decoded'), () => {
    const lib = build('v9/libcudnn.so.9', ['FAKE_CUDNN_VERSION=91002']);
    const { cudnn } = probeWith({ DL_CUDNN_PATH: join(dir, 'v9') });
    expect(cudnn).toEqual({ found: true, path: lib, error: null, version: 91002, calls: 0 });
  });

  it(named('cuDNN 8 named as a file in DL_CUDNN_PATH: the 8.x version scheme (8907 = 8.9.7)'), () => {
    const lib = build('v8/libcudnn.so.8', ['FAKE_CUDNN_VERSION=8907']);
    const { cudnn } = probeWith({ DL_CUDNN_PATH: lib });
    expect(cudnn).toMatchObject({ found: true, path: lib, version: 80907 });
  });

  it(named('cuDNN is also found by the loader search path (LD_LIBRARY_PATH)'), () => {
    const lib = build('ld/libcudnn.so.9', ['FAKE_CUDNN_VERSION=90100']);
    const { cudnn } = probeWith({ LD_LIBRARY_PATH: join(dir, 'ld') });
    expect(cudnn).toMatchObject({ found: true, path: 'libcudnn.so.9', version: 90100 });
    expect(lib).toContain('libcudnn.so.9');
  });

  it(named('a cuDNN lacking a function is refused, naming the function'), () => {
    build('partial/libcudnn.so.9', ['FAKE_CUDNN_VERSION=91002', 'OMIT_BACKWARD_FILTER']);
    const { cudnn } = probeWith({ DL_CUDNN_PATH: join(dir, 'partial') });
    expect(cudnn.found).toBe(false);
    expect(cudnn.path).toBeNull();
    expect(cudnn.error).toMatch(/^cuDNN not found \(conv2d uses the built-in kernels\): /);
    expect(cudnn.error).toContain(`${join(dir, 'partial', 'libcudnn.so.9')}: missing cudnnConvolutionBackwardFilter`);
  });

  it(named('cuDNN 7 is refused with the version it is and the one needed'), () => {
    build('v7/libcudnn.so.8', ['FAKE_CUDNN_VERSION=7605']);
    const { cudnn } = probeWith({ DL_CUDNN_PATH: join(dir, 'v7') });
    expect(cudnn.found).toBe(false);
    expect(cudnn.error).toBe(`${join(dir, 'v7', 'libcudnn.so.8')} is cuDNN 7.6; cuDNN 8 or newer is needed (conv2d uses the built-in kernels)`);
  });

  it(named('DL_CUDNN=0 turns cuDNN off even where it is found'), () => {
    build('off/libcudnn.so.9', ['FAKE_CUDNN_VERSION=91002']);
    const { cudnn } = probeWith({ DL_CUDNN: '0', DL_CUDNN_PATH: join(dir, 'off') });
    expect(cudnn).toEqual({ found: false, path: null, error: 'turned off by DL_CUDNN=0 (conv2d uses the built-in kernels)', version: null, calls: 0 });
  });

  it(named('nothing found: every name tried is listed'), () => {
    const { cudnn, cublas } = probeWith({});
    expect(cudnn.found).toBe(false);
    for (const n of ['libcudnn.so.9', 'libcudnn.so.8', 'libcudnn.so', join(dir, 'no-toolkit', 'lib64', 'libcudnn.so.9')]) expect(cudnn.error).toContain(n);
    expect(cublas.found).toBe(false);
    for (const n of ['libcublas.so.13', 'libcublas.so.12', join(dir, 'no-toolkit', 'lib64', 'libcublas.so.13')]) expect(cublas.error).toContain(n);
  });

  it(named('cuBLAS is found in $CUDA_HOME/lib64 and its version read with cublasGetProperty'), () => {
    const lib = build('toolkit/lib64/libcublas.so.13', ['FAKE_CUBLAS_VERSION']);
    const { cublas } = probeWith({ CUDA_HOME: join(dir, 'toolkit') });
    expect(cublas).toEqual({ found: true, path: lib, error: null, version: 130002, calls: 0 });
  });
});

describe('doctor: the CUDA libraries', () => {
  const lib = (over: Partial<CudaLibraryInfo>): CudaLibraryInfo => ({ found: true, path: '/l/lib.so', error: null, version: 90100, calls: 0, ...over });

  it('lists nothing when both are found and usable', () => {
    expect(cudaLibraryIssues({ cublas: lib({}), cudnn: lib({}) })).toEqual([]);
  });

  it('a missing cuDNN: the reason and where to get it, DL_CUDNN_PATH included', () => {
    const issues = cudaLibraryIssues({ cublas: lib({}), cudnn: lib({ found: false, path: null, error: 'cuDNN not found (...): libcudnn.so.9: cannot open' }) });
    expect(issues).toHaveLength(1);
    expect(issues[0].what).toBe('cuDNN (optional)');
    expect(issues[0].reason).toBe('cuDNN not found (...): libcudnn.so.9: cannot open');
    expect(issues[0].fix).toMatch(/DL_CUDNN_PATH/);
    expect(issues[0].fix).toMatch(/site-packages\/nvidia\/cudnn\/lib/);
  });

  it('a cuBLAS that loaded but whose handle failed is listed with that failure', () => {
    const issues = cudaLibraryIssues({ cublas: lib({ error: 'cublasCreate_v2 failed on device 0: CUBLAS_STATUS_NOT_INITIALIZED' }), cudnn: lib({}) });
    expect(issues.map((i) => [i.what, i.reason])).toEqual([['cuBLAS (optional)', 'cublasCreate_v2 failed on device 0: CUBLAS_STATUS_NOT_INITIALIZED']]);
  });
});
