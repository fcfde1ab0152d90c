import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_SPECS, checkSpecAgainstReference, checkSpecErrors, liveBuffers } from '../src/testing.js';
import { listBackends, registerBackend, scope } from '../src/index.js';
import type { Backend, Device, OpName } from '../src/index.js';
import { cpuBackend } from '../src/backend/cpu/index.js';
import { backendFor } from '../src/device.js';
import { makeNativeBackend, nativeAddon, nativeUnavailableReason } from '../src/backend/native/index.js';

/** The backends under test, each registered for its device while its specs run; CUDA comes later. */
const native = nativeAddon();
const DEVICES: { label: string; device: Device; backend: Backend | null }[] = [
  { label: 'cpu (TypeScript kernels)', device: 'cpu', backend: cpuBackend as Backend },
  { label: native ? 'cpu (native kernels)' : `cpu (native kernels) skipped: ${nativeUnavailableReason()}`, device: 'cpu', backend: native && (makeNativeBackend(native) as Backend) },
];

describe.each(DEVICES)('op specs on $label against the float64 reference', ({ device, backend }) => {
  const original = backendFor('test', device);
  beforeAll(() => backend && registerBackend(backend));
  afterAll(() => registerBackend(original));
  it.skipIf(!backend).each(OP_SPECS.map((s) => [s.name, s] as const))('%s: values match, contiguous and strided, and memory returns to baseline', (_name, spec) => {
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
    expect(listBackends().map((b) => b.name).sort()).toEqual([native ? 'cpu-native' : 'cpu-ts', 'reference']);
  });
});
