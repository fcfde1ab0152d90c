import { describe, expect, it } from 'vitest';
import { OP_SPECS, checkSpecAgainstReference, checkSpecErrors, liveBuffers } from '../src/testing.js';
import { listBackends, scope } from '../src/index.js';
import type { Device, OpName } from '../src/index.js';
import { cpuBackend } from '../src/backend/cpu/index.js';

/** The backends under test; later issues add native CPU and CUDA here. */
const DEVICES: Device[] = ['cpu'];

describe.each(DEVICES)('op specs on %s against the float64 reference', (device) => {
  it.each(OP_SPECS.map((s) => [s.name, s] as const))('%s: values match, contiguous and strided, and memory returns to baseline', (_name, spec) => {
    const before = liveBuffers();
    scope(() => checkSpecAgainstReference(spec, device));
    expect(liveBuffers()).toBe(before);
  });
});

describe('op spec errors', () => {
  const withErrors = OP_SPECS.filter((s) => s.errors?.length);
  it.each(withErrors.map((s) => [s.name, s] as const))('%s: misuse raises a DLError naming the op', (_name, spec) => {
    scope(() => checkSpecErrors(spec));
  });
});

describe('op spec coverage', () => {
  it('every kernel of the CPU backend is exercised by at least one spec', () => {
    const covered = new Set<OpName>(OP_SPECS.flatMap((s) => s.covers));
    const missing = (Object.keys(cpuBackend.kernels) as OpName[]).filter((k) => !covered.has(k));
    expect(missing).toEqual([]);
  });
  it('the cpu and reference backends are registered', () => {
    expect(listBackends().map((b) => b.name).sort()).toEqual(['cpu-ts', 'reference']);
  });
});
