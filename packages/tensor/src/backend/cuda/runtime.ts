/**
 * Whether CUDA can be used, and the public `cuda` API. Nothing touches the driver when
 * @dl/tensor loads: the first use of device 'cuda' (the loader registered with device.ts) or
 * of a `cuda.*` function probes the addon's CUDA part once, then registers the backend, or
 * records why CUDA is unavailable and the fix, which every later use of 'cuda' reports.
 *
 * CUDA lives in the native addon, so it is unavailable, each with its own reason, when
 * DL_BACKEND=ts skips the addon, when the addon did not load, when it was built without nvcc,
 * when its CUDA part is stale (ABI or launch codes), or when the driver finds no usable GPU.
 */
import { markUnavailable, registerBackend } from '../../device.js';
import { fail } from '../../errors.js';
import { BUILD_FIX, currentSelection, failureSummary, type Selection, selectCpuBackend } from '../native/index.js';
import { CUDA_ABI, CUDA_OPS, type CudaAddon, type CudaDeviceInfo, type CudaLibraryInfo, type CudaMemoryStats, type CudaProbe } from './addon.js';
import { makeCudaBackend } from './index.js';
import { guarded } from './launch.js';

export interface CudaStatus {
  available: boolean;
  /** Why CUDA cannot be used (null when it can). */
  reason: string | null;
  /** What to do about it (null when available). */
  fix: string | null;
  /** The addon's probe: driver, runtime, GPUs, cuBLAS, compiled archs (null when the addon has no usable CUDA part). */
  probe: CudaProbe | null;
}

const REBUILD = 'rebuild the addon: pnpm --filter @dl/tensor build:native (in an installed package: npm run build:native inside node_modules/@dl/tensor)';

/** A CUDA version number as text: 13000 -> '13.0', 12040 -> '12.4'; 0 -> 'unknown'. */
export function cudaVersion(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'unknown';
}

/**
 * Whether code compiled for `archs` (e.g. ['sm_80', 'compute_90']) runs on a GPU of compute
 * capability [major, minor]: a cubin of the same major and an equal or lower minor, or PTX of
 * an equal or lower architecture (the driver compiles it at first use).
 */
export function runsOn(archs: readonly string[], [major, minor]: readonly [number, number]): boolean {
  const cc = major * 10 + minor;
  return archs.some((a) => {
    const v = Number(a.replace(/^(sm|compute)_/, '').replace(/[a-z]+$/, ''));
    return a.startsWith('compute_') ? v <= cc : Math.floor(v / 10) === major && v <= cc;
  });
}

function unavailable(reason: string, fix: string, probe: CudaProbe | null = null): CudaStatus {
  return { available: false, reason, fix, probe };
}

/** The fix when the driver reports no usable device, by the CUDA error it names. */
export function deviceFix(probe: CudaProbe, env: Record<string, string | undefined> = process.env): string {
  const reason = probe.reason ?? '';
  if (probe.driverVersion === 0) return 'install the NVIDIA driver (libcuda was not found); `nvidia-smi` must list the GPU';
  if (/InsufficientDriver/i.test(reason)) {
    return `update the NVIDIA driver: it supports CUDA ${cudaVersion(probe.driverVersion)}, the addon was built with CUDA ${cudaVersion(probe.runtimeVersion)} (or rebuild the addon with an older CUDA toolkit)`;
  }
  if (/NoDevice|no CUDA device/i.test(reason)) {
    const visible = env.CUDA_VISIBLE_DEVICES;
    return `no GPU is visible to this process: check that \`nvidia-smi\` lists one${visible === undefined ? '' : ` and that CUDA_VISIBLE_DEVICES (now '${visible}') names it`}`;
  }
  return 'check the NVIDIA driver and the GPU with `nvidia-smi`; doctor() shows what was found';
}

/**
 * Decides whether CUDA can be used from the selection that serves 'cpu' (which says whether
 * the addon loaded) and the addon's CUDA part; returns that part when it is usable.
 */
export function diagnoseCuda(sel: Selection): { status: CudaStatus; addon: CudaAddon | null } {
  const no = (reason: string, fix: string, probe: CudaProbe | null = null) => ({ status: unavailable(reason, fix, probe), addon: null });
  if (sel.mode === 'ts') {
    return no('DL_BACKEND=ts selects the TypeScript kernels and does not load the native addon, which holds the CUDA code', 'unset DL_BACKEND (CUDA needs the native addon, built with the CUDA toolkit installed)');
  }
  const native = sel.load?.addon;
  if (!native) {
    return no(`the native addon, which holds the CUDA code, did not load (${sel.load ? failureSummary(sel.load) : 'not tried'})`, `${BUILD_FIX}, with the CUDA toolkit (nvcc) installed`);
  }
  const c = native.cuda;
  if (!c) {
    return no(
      'the native addon was built without CUDA (nvcc was not found when it was compiled)',
      `install the CUDA toolkit so that nvcc is found ($NVCC, on PATH or /usr/local/cuda/bin; DL_CUDA=1 makes a missing nvcc a build error), then ${REBUILD}`,
    );
  }
  if (c.abi !== CUDA_ABI) return no(`the addon's CUDA part has ABI ${c.abi}, this @dl/tensor needs ABI ${CUDA_ABI} (a stale build)`, REBUILD);
  const ops = c.ops();
  const at = CUDA_OPS.findIndex((op, i) => ops[i] !== op);
  if (at >= 0 || ops.length !== CUDA_OPS.length) {
    const i = at >= 0 ? at : CUDA_OPS.length;
    return no(`the addon's CUDA launch codes differ from this @dl/tensor's from code ${i} on ('${ops[i] ?? '(none)'}', expected '${CUDA_OPS[i] ?? '(none)'}'): a stale build`, REBUILD);
  }
  const probe = c.probe();
  if (!probe.available) return no(probe.reason ?? 'the driver reports no usable CUDA device', deviceFix(probe), probe);
  return { status: { available: true, reason: null, fix: null, probe }, addon: c };
}

let resolved: { status: CudaStatus; addon: CudaAddon | null } | null = null;

/** Probes CUDA once (see the header) and registers the backend when it can be used; returns the status. */
export function initCuda(): CudaStatus {
  if (resolved) return resolved.status;
  let r = diagnoseCuda(currentSelection() ?? selectCpuBackend(process.env, { quiet: true }));
  if (r.addon) {
    const c = r.addon;
    try {
      c.setDevice(0);
    } catch (e) {
      r = { status: unavailable(`cuda.setDevice(0) failed: ${e instanceof Error ? e.message : String(e)}`, 'check the GPU with `nvidia-smi` (another process may hold it in exclusive mode)', r.status.probe), addon: null };
    }
  }
  resolved = r;
  if (r.addon) registerBackend(makeCudaBackend(r.addon));
  else markUnavailable('cuda', r.status.reason ?? '', r.status.fix ?? undefined);
  return r.status;
}

/** The addon's CUDA part, or a DLError naming why CUDA is unavailable and the fix. */
function runtime(op: string): CudaAddon {
  const status = initCuda();
  if (!resolved?.addon) return fail('DEVICE', op, `CUDA is not available: ${status.reason}`, `${status.fix}; doctor() shows details`);
  return resolved.addon;
}

function deviceInfo(op: string, index: number): CudaDeviceInfo {
  runtime(op);
  const devices = resolved?.status.probe?.devices ?? [];
  if (!Number.isInteger(index) || index < 0 || index >= devices.length) {
    fail('DEVICE', op, `device index ${index} is out of range: ${devices.length} CUDA device(s) visible`, `use an index in [0, ${devices.length - 1}]`);
  }
  return devices[index];
}

/** torch.cuda's essentials. Each call probes CUDA first if nothing has (see the header). */
export const cuda = {
  /** Whether device 'cuda' can be used. */
  isAvailable(): boolean {
    return initCuda().available;
  },
  /** GPUs visible to this process (0 without CUDA). */
  deviceCount(): number {
    const s = initCuda();
    return s.available && s.probe ? s.probe.deviceCount : 0;
  },
  /** Initialises CUDA now; a DLError with the reason and the fix when it cannot be used (torch.cuda.init). */
  init(): void {
    runtime('cuda.init');
  },
  /** Waits for all queued GPU work; reports a pending device error (e.g. a bad class index). */
  synchronize(): void {
    const c = runtime('cuda.synchronize');
    guarded('cuda.synchronize', () => c.synchronize());
  },
  /** The caching allocator's counters (bytes allocated, reserved and cached, peaks, calls). */
  memoryStats(): CudaMemoryStats {
    const c = runtime('cuda.memoryStats');
    return guarded('cuda.memoryStats', () => c.memoryStats());
  },
  resetPeakMemoryStats(): void {
    const c = runtime('cuda.resetPeakMemoryStats');
    guarded('cuda.resetPeakMemoryStats', () => c.resetPeakMemoryStats());
  },
  /** Returns cached blocks to the driver (a no-op without CUDA, as in PyTorch). */
  emptyCache(): void {
    if (!initCuda().available) return;
    const c = runtime('cuda.emptyCache');
    guarded('cuda.emptyCache', () => c.emptyCache());
  },
  getDeviceName(index = 0): string {
    return deviceInfo('cuda.getDeviceName', index).name;
  },
  /** Name, memory, compute capability and multiprocessors of a GPU. */
  getDeviceProperties(index = 0): CudaDeviceInfo {
    return { ...deviceInfo('cuda.getDeviceProperties', index) };
  },
  /**
   * cuBLAS and cuDNN as loaded now: the file, the version and how many operations each has run
   * (with `found`, PyTorch's torch.backends.cudnn.is_available() and version()).
   */
  libraries(): { cublas: CudaLibraryInfo; cudnn: CudaLibraryInfo } {
    const c = runtime('cuda.libraries');
    const p = guarded('cuda.libraries', () => c.probe());
    return { cublas: p.cublas, cudnn: p.cudnn };
  },
  /** Whether CUDA is usable, why not and the fix, and what the driver reported (for doctor). */
  probe(): CudaStatus {
    return initCuda();
  },
};
