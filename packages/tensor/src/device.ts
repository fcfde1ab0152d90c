/**
 * Devices and the backend registry. A device is per tensor ('cpu', 'cuda',
 * 'cuda:0', 'reference'); each device type is served by one registered backend.
 */
import type { Backend, DeviceType } from './backend/types.js';
import { fail } from './errors.js';

export type Device = 'cpu' | 'reference' | 'cuda' | `cuda:${number}`;

const backends = new Map<DeviceType, Backend>();
/** Why a device type has no backend, with the fix (filled in by loaders). */
const unavailable = new Map<DeviceType, string>();

export function registerBackend<B>(backend: Backend<B>): void {
  // Buffers are opaque outside the backend that made them.
  backends.set(backend.deviceType, backend as unknown as Backend);
  unavailable.delete(backend.deviceType);
}

export function markUnavailable(deviceType: DeviceType, reason: string): void {
  if (!backends.has(deviceType)) unavailable.set(deviceType, reason);
}

export function parseDevice(op: string, device: string): { type: DeviceType; index: number } {
  const m = /^(cpu|reference|cuda)(?::(\d+))?$/.exec(device);
  if (!m) {
    fail('DEVICE', op, `unknown device '${device}'`, "use 'cpu', 'cuda', 'cuda:N' or 'reference' (the float64 reference backend used by tests)");
  }
  return { type: m[1] as DeviceType, index: m[2] === undefined ? 0 : Number(m[2]) };
}

/** Canonical device string: 'cuda' becomes 'cuda:0'. */
export function canonicalDevice(op: string, device: string): Device {
  const { type, index } = parseDevice(op, device);
  return type === 'cuda' ? `cuda:${index}` : type;
}

export function backendFor(op: string, device: Device): Backend {
  const { type } = parseDevice(op, device);
  const b = backends.get(type);
  if (b) return b;
  const why = unavailable.get(type) ?? `no backend is registered for device type '${type}'`;
  return fail('DEVICE', op, `device '${device}' is not available: ${why}`, type === 'cuda' ? "keep tensors on 'cpu', or run `doctor()` to see what is missing" : undefined);
}

/** Names of the registered backends by device type (for diagnostics). */
export function listBackends(): { deviceType: DeviceType; name: string }[] {
  return [...backends.entries()].map(([deviceType, b]) => ({ deviceType, name: b.name }));
}
