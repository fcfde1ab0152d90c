/**
 * The emulated CUDA device itself (native/src/cuda/emu): small kernels (fixtures/emu-kernels.cu)
 * rewritten as build.mjs rewrites the addon's, compiled with emu.cc into a program, one case per
 * run (a failed launch leaves the context unusable, as on a GPU). Checked against values worked
 * out by hand: barriers, warp shuffles, the built-in indices, and the misuse the emulator must
 * report (a barrier or a shuffle that not every thread reaches, a bad launch configuration), the
 * memory cap and CUDA_VISIBLE_DEVICES. Skips, saying so, without a C++ compiler.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build, without types
import { emulateLaunches } from '../native/emulate-launches.mjs';

const NATIVE = join(import.meta.dirname, '..', 'native');
const EMU = join(NATIVE, 'src', 'cuda', 'emu');
const cxx = [process.env.CXX, 'g++', 'c++'].find((c) => c && spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
const named = (name: string) => (cxx ? name : `${name} (skipped: no C++ compiler)`);

const dir = mkdtempSync(join(tmpdir(), 'dl-cuda-emulator-'));
const exe = join(dir, 'emu-kernels');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  if (!cxx) return;
  const src = join(dir, 'emu-kernels.cu');
  writeFileSync(src, emulateLaunches(readFileSync(join(import.meta.dirname, 'fixtures', 'emu-kernels.cu'), 'utf8')));
  execFileSync(cxx, ['-std=c++17', '-O1', `-I${EMU}`, '-x', 'c++', src, '-x', 'none', join(EMU, 'emu.cc'), '-o', exe], { stdio: 'pipe' });
}, 120_000);

/** Runs one case; its JSON line and its stderr. */
function run(name: string, env: Record<string, string> = {}): { out: Record<string, unknown>; err: string } {
  const r = spawnSync(exe, [name], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`emu-kernels ${name} exited with ${r.status}: ${r.stderr}`);
  return { out: JSON.parse(r.stdout), err: r.stderr };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.skipIf(!cxx)(named('the emulated CUDA device'), () => {
  it('the package build made it and its stand-ins (else vitest would drop the cuda-emulated projects unseen)', () => {
    for (const f of ['dl_native.node', 'libcublas.so.13', 'libcudnn.so.9']) expect(existsSync(join(NATIVE, 'build', 'Emulated', f)), f).toBe(true);
  });

  it('the launch rewrite turns every form of <<<...>>> into the emulator launch', () => {
    expect(emulateLaunches('k<<<g, b, 0, s>>>(x, y);')).toBe('::dl_emu::Launch("k", g, b, 0, s)(k, x, y);');
    expect(emulateLaunches('if (a) f<DT, true><<<grid, kBlock>>>();')).toBe('if (a) ::dl_emu::Launch("f<DT, true>", grid, kBlock)(f<DT, true>);');
    expect(emulateLaunches('k<<<blocks_for(n, 1), kBlock, 0, c.stream>>>(\n  a);')).toBe('::dl_emu::Launch("k", blocks_for(n, 1), kBlock, 0, c.stream)(k, a);');
    expect(emulateLaunches('x << 3; y >> 2;')).toBe('x << 3; y >> 2;');
  });

  it('__syncthreads: a shared-memory tree reduction per block gives each block its sum', () => {
    // blocks of 256 over 0..767: sum(0..255) = 32640, then + 256 * 256 for each block further on
    expect(run('block-sum').out).toEqual({ error: 0, sums: [32640, 32640 + 65536, 32640 + 131072] });
  });

  it('__shfl_xor_sync: a butterfly sum gives every lane the warp total; one exchange gives lane i the value of lane i ^ 1', () => {
    const total = (31 * 32 * 63) / 6; // sum of lane^2 over 0..31
    expect(run('shuffles').out).toEqual({ error: 0, sums: range(64).map(() => total), partnerTwice: range(64).map((i) => i ^ 1) });
  });

  it('threadIdx, blockIdx, blockDim and gridDim in three dimensions: every thread of every block once', () => {
    const out = run('indices').out.out as number[];
    expect(out).toEqual(range(6 * 64).map((k) => 1000 * Math.floor(k / 64) + (k % 64)));
  });

  it('shared memory starts as 0xA5 bytes in every block, and threads start in descending order on one launch and ascending on the next: a race without a barrier shows', () => {
    const { out } = run('race');
    const poison = 0xa5a5a5a5 | 0; // shared memory is filled with 0xA5 bytes before each block
    // Descending first: thread t + 1 wrote before thread t reads, but thread 63 reads sm[0] before thread 0 writes it.
    // Then ascending: thread t reads sm[t + 1] before thread t + 1 writes it; thread 63 reads thread 0's value.
    expect(out).toEqual({ error: 0, first: [...range(63).map((t) => t + 2), poison], second: [...range(63).map(() => poison), 1] });
  });

  it('a __syncthreads() that half the block never reaches fails the launch, stickily, naming the kernel and why', () => {
    const { out, err } = run('divergent-barrier');
    // The launch is accepted; the kernel fails when the stream runs it, reported at the wait.
    expect(out).toEqual({ launched: 0, error: 719, after: 719, name: 'cudaErrorLaunchFailure' });
    expect(err).toMatch(/kernel divergent_barrier .*stopped: __syncthreads\(\) that 128 of the block's 256 threads never reach/);
  });

  it('a shuffle that half the lanes never reach fails the launch', () => {
    const { out, err } = run('divergent-shuffle');
    expect(out).toMatchObject({ launched: 0, error: 719, after: 719 });
    expect(err).toMatch(/kernel divergent_shuffle .*__shfl_xor_sync in warp 0 that lane 16 never reached/);
  });

  it('the stream runs when the host waits: a pinned buffer is read then (not at the call), pageable memory at the call, results land at the wait', () => {
    expect(run('async').out).toEqual({
      fromPinned: [2, 2, 2, 2], // copied when the stream ran, after the host wrote 2s over the 1s
      fromPageable: [3, 3, 3, 3], // taken at the call, before the host wrote 4s
      pinnedBefore: [2, 2, 2, 2], // the kernel's 5s are not copied back before the host waits
      pinnedAfter: [5, 5, 5, 5],
    });
  });

  it('an event synchronisation runs the work enqueued before its record and none after it, as a GPU', () => {
    expect(run('events').out).toEqual({
      unrecorded: 0,
      none: [0, 0, 0, 0, 0, 0, 0, 0], // nothing has run before the host waits
      atFirst: [6, 6, 6, 6, 0, 0, 0, 0], // the first fill and its copy, not the second
      atSecond: [6, 6, 6, 6, 8, 8, 8, 8],
    });
  });

  it('DL_CUDA_EMU_DISCARD=1 drops the work (memory keeps its 0xA5 bytes): only the host side is left, for timing it', () => {
    const poison = 0xa5a5a5a5 | 0;
    expect(run('block-sum', { DL_CUDA_EMU_DISCARD: '1' }).out).toEqual({ error: 0, sums: [poison, poison, poison] });
  });

  it('a block of 2048 threads is an invalid configuration, reported at once and not sticky', () => {
    const { out, err } = run('bad-config');
    expect(out).toEqual({ error: 9, next: 0, out: [7, 7, 7, 7] });
    expect(err).toMatch(/launch of fill with grid \(1,1,1\) and block \(2048,1,1\): invalid configuration/);
  });

  it('DL_CUDA_EMU_MEMORY_MB caps the device: past it cudaMalloc fails with out-of-memory; new memory holds 0xA5; a double free is refused', () => {
    const { out } = run('memory', { DL_CUDA_EMU_MEMORY_MB: '1' });
    expect(out).toEqual({ big: 2, small: 0, free: 2 ** 20 - 2 ** 19, total: 2 ** 20, firstByte: 0xa5, freed: 0, twice: 1 });
  });

  it('CUDA_VISIBLE_DEVICES hides the device as the driver does', () => {
    expect(run('devices', { CUDA_VISIBLE_DEVICES: '' }).out).toEqual({ error: 100, count: 0 });
    expect(run('devices', { CUDA_VISIBLE_DEVICES: '0' }).out).toEqual({ error: 0, count: 1 });
  });
});
