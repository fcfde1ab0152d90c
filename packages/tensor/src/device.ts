/**
 * Devices and the backend registry. A device is per tensor ('cpu', 'cuda',
 * 'cuda:0', 'reference'); each device type is served by one registered backend.
 * A device type whose set-up is costly (CUDA probes the driver) registers a loader
 * instead, run on the first use of that type.
 */
import type { Backend, DeviceType } from './backend/types.js';
import { fail } from './errors.js';

export type Device = 'cpu' | 'reference' | 'cuda' | `cuda:${number}`;

const backends = new Map<DeviceType, Backend>();
/** Why a device type has no backend, and the fix (filled in by loaders). */
const unavailable = new Map<DeviceType, { reason: string; fix: string | undefined }>();
/** Set-up deferred to the first use of a device type; it registers a backend or marks the type unavailable. */
const loaders = new Map<DeviceType, () => void>();

export function registerBackend<B>(backend: Backend<B>): void {
  // Buffers are opaque outside the backend that made them.
  backends.set(backend.deviceType, backend as unknown as Backend);
  unavailable.delete(backend.deviceType);
}

export function markUnavailable(deviceType: DeviceType, reason: string, fix?: string): void {
  if (!backends.has(deviceType)) unavailable.set(deviceType, { reason, fix });
}

/** Defers a device type's set-up to its first use (see the header); runs once. */
export function registerBackendLoader(deviceType: DeviceType, load: () => void): void {
  loaders.set(deviceType, load);
}

/** Parsed device strings (every op dispatches by one: parse each once). */
const parsed = new Map<string, { type: DeviceType; index: number }>();

export function parseDevice(op: string, device: string): { type: DeviceType; index: number } {
  const known = parsed.get(device);
  if (known) return known;
  const m = /^(cpu|reference|cuda)(?::(\d+))?$/.exec(device);
  if (!m) {
    fail('DEVICE', op, `unknown device '${device}'`, "use 'cpu', 'cuda', 'cuda:N' or 'reference' (the float64 reference backend used by tests)");
  }
  const d = Object.freeze({ type: m[1] as DeviceType, index: m[2] === undefined ? 0 : Number(m[2]) });
  if (parsed.size < 64) parsed.set(device, d);
  return d;
}

/** Canonical device string: 'cuda' becomes 'cuda:0'. */
export function canonicalDevice(op: string, device: string): Device {
  const { type, index } = parseDevice(op, device);
  return type === 'cuda' ? `cuda:${index}` : type;
}

export function backendFor(op: string, device: Device): Backend {
  const { type, index } = parseDevice(op, device);
  const load = loaders.get(type);
  if (load && !backends.has(type)) {
    loaders.delete(type);
    load();
  }
  const b = backends.get(type);
  if (b) {
    if (type === 'cuda' && index !== 0) {
      fail('DEVICE', op, `device '${device}' is not supported: one process drives one GPU, 'cuda:0'`, `use 'cuda' (= 'cuda:0'); to run on another GPU, start the process with CUDA_VISIBLE_DEVICES=${index}`);
    }
    return b;
  }
  const why = unavailable.get(type);
  const fix = why?.fix ? `${why.fix}; doctor() shows details` : type === 'cuda' ? "keep tensors on 'cpu', or run doctor() to see what is missing" : undefined;
  return fail('DEVICE', op, `device '${device}' is not available: ${why?.reason ?? `no backend is registered for device type '${type}'`}`, fix);
}

/** Names of the registered backends by device type (for diagnostics). */
export function listBackends(): { deviceType: DeviceType; name: string }[] {
  return [...backends.entries()].map(([deviceType, b]) => ({ deviceType, name: b.name }));
}
