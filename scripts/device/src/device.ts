/**
 * What the device scripts (cuda-tests, bench-cuda) need to know of the device they run on:
 * which device string to use, what to compare it with, how to wait for its queued work and how
 * much memory it used at most. Everything CUDA-specific is selected by the device string, so the
 * same scripts run on 'cpu' and 'reference' on a machine without a GPU.
 */
import * as T from '@dl/tensor';
import type { CudaMemoryStats, Device } from '@dl/tensor';
import type { Module } from '@dl/nn';
import type { ParamState } from '@dl/optim';

export interface Target {
  /** The device under test or benchmark: 'cuda', 'cpu' or 'reference'. */
  device: Device;
  /** What the device's results are compared with: the CPU for CUDA and the reference backend, the float64 'reference' backend for the CPU. */
  baseline: Device;
  /** @dl/tensor's `cuda` API when the device is CUDA (and only then). */
  cuda: typeof T.cuda | null;
  /** Wait until the device's queued work is done (a no-op off CUDA, where ops are synchronous). */
  sync(): void;
  /** The most bytes the device held in tensors since the last resetPeak(), or null where that is not tracked (off CUDA). */
  peakBytes(): number | null;
  resetPeak(): void;
}

/** The Target for a device string; throws, saying why, when CUDA is asked for and cannot be used. */
export function selectTarget(name: string): Target {
  if (name !== 'cuda' && name !== 'cpu' && name !== 'reference') {
    throw new Error(`unknown device '${name}': use cuda, cpu or reference`);
  }
  if (name !== 'cuda') {
    return {
      device: name,
      baseline: name === 'cpu' ? 'reference' : 'cpu',
      cuda: null,
      sync: () => {},
      peakBytes: () => null,
      resetPeak: () => {},
    };
  }
  const { cuda } = T;
  const status = cuda.probe();
  if (!status.available) throw new Error(`cuda.isAvailable() is false: ${status.reason}; fix: ${status.fix}`);
  return {
    device: 'cuda',
    baseline: 'cpu',
    cuda,
    sync: () => cuda.synchronize(),
    peakBytes: () => cuda.memoryStats().peakAllocatedBytes,
    resetPeak: () => cuda.resetPeakMemoryStats(),
  };
}

/** What this process runs on: backends, the native addon, CUDA (GPUs, versions, compiled archs, cuBLAS) and its memory. */
export function describeEnvironment(): Record<string, unknown> {
  const d = T.doctor();
  const memory: CudaMemoryStats | null = d.cuda.available ? T.cuda.memoryStats() : null;
  return {
    node: process.version,
    backends: T.listBackends()
      .map((b) => `${b.deviceType}=${b.name}`)
      .join(', '),
    addon: d.addon.loaded ? d.addon.path : `not loaded: ${d.addon.attempts.map((a) => `${a.path}: ${a.reason ?? 'ok'}`).join('; ')}`,
    cuda: d.cuda.available
      ? {
          gpus: d.cuda.gpus.map((g) => `${g.name} (sm_${g.computeCapability.replace('.', '')}, ${(g.totalMemory / 2 ** 30).toFixed(0)} GiB)`),
          driver: d.cuda.driverVersion,
          runtime: d.cuda.runtimeVersion,
          archs: d.cuda.archs,
          cublas: d.cuda.cublas?.found ? d.cuda.cublas.path : `not found: ${d.cuda.cublas?.error}`,
          cudnn: d.cuda.cudnn?.found ? `${d.cuda.cudnn.path} (${d.cuda.cudnn.version})` : `not used: ${d.cuda.cudnn?.error}`,
          allocatedBytes: memory?.allocatedBytes,
        }
      : { available: false, reason: d.cuda.reason },
  };
}

/**
 * Dispose what outlives scopes: a module's parameters, their gradients and its buffers, and an
 * optimizer's state tensors (dl has no Module.dispose; bench/cases.mjs frees them the same way).
 */
export function disposeModel(module: Module, optimizer?: { state: ReadonlyMap<unknown, ParamState> }): void {
  const state = optimizer ? [...optimizer.state.values()].flatMap((s) => Object.values(s)) : [];
  const owned = [...module.parameters().flatMap((p) => [p, p.grad]), ...module.buffers(), ...state];
  for (const t of owned) if (t instanceof T.Tensor && !t.isDisposed) t.dispose();
}
