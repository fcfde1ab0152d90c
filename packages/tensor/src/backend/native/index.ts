/**
 * The native CPU backend ('cpu-native'): the TypeScript CPU backend's buffers (JS typed
 * arrays, so tensors move freely between native and TypeScript kernels) and its kernel table,
 * with the hot ops replaced by the addon's C++ kernels:
 *
 *     kernels = { ...cpuBackend.kernels, ...nativeKernels(addon) }
 *
 * `selectCpuBackend()` picks the backend that serves device 'cpu' when @dl/tensor loads:
 *   - DL_BACKEND=ts      the TypeScript kernels (the addon is not even looked for);
 *   - DL_BACKEND=native  the native kernels, and an error if the addon does not load;
 *   - unset              native when the addon loads, else the TypeScript kernels with one
 *                        notice on stderr saying why and how to build it.
 */
import type { TypedArray } from '../../dtype.js';
import { cpuBackend } from '../cpu/index.js';
import type { Backend } from '../types.js';
import type { NativeAddon } from './addon.js';
import { BufferCache } from './allocator.js';
import { nativeKernels } from './kernels.js';
import { type LoadResult, loadNativeAddon } from './loader.js';
import { nativeOptim } from './optim.js';

export type BackendMode = 'auto' | 'ts' | 'native';

/** The native backend's buffer cache (one per process; see allocator.ts). */
export const bufferCache = new BufferCache();

export function makeNativeBackend(addon: NativeAddon): Backend<TypedArray> {
  return {
    ...cpuBackend,
    name: 'cpu-native',
    alloc: (dtype, numel, zeroed) => bufferCache.alloc(dtype, numel, zeroed),
    free: (buf) => bufferCache.free(buf),
    kernels: { ...cpuBackend.kernels, ...nativeKernels(addon, cpuBackend.kernels) },
    optim: nativeOptim(addon),
  };
}

export interface Selection {
  backend: Backend<TypedArray>;
  mode: BackendMode;
  /** The load attempt (null when DL_BACKEND=ts skipped it). */
  load: LoadResult | null;
}

export const BUILD_FIX =
  'build it with `pnpm --filter @dl/tensor build:native` (a C++17 compiler is needed; in an installed package: `npm run build:native` inside node_modules/@dl/tensor)';

export function backendMode(env: Record<string, string | undefined> = process.env): BackendMode {
  const v = (env.DL_BACKEND ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'ts' || v === 'typescript') return 'ts';
  if (v === 'native') return 'native';
  throw new Error(`@dl/tensor: DL_BACKEND must be 'ts', 'native' or unset; got '${env.DL_BACKEND}'`);
}

/** Why no binary loaded, one clause per candidate. */
export function failureSummary(load: LoadResult): string {
  return load.attempts.filter((a) => !a.ok).map((a) => `${a.source} ${a.path}: ${a.reason}`).join('; ');
}

let current: Selection | null = null;
let noticeShown = false;

function notice(text: string): void {
  // Once per process (worker threads started later inherit the marker in their env).
  if (noticeShown || process.env.DL_NATIVE_NOTICE_SHOWN) return;
  noticeShown = true;
  process.env.DL_NATIVE_NOTICE_SHOWN = '1';
  process.stderr.write(`${text}\n`);
}

export interface SelectOptions {
  /** No notice on stderr (doctor, tests). */
  quiet?: boolean;
  /** Where to look for prebuilds/ and native/build/ (tests; default: this package's folder). */
  packageRoot?: string | null;
}

/** Chooses the 'cpu' backend per DL_BACKEND and the addon's availability (see the header). */
export function selectCpuBackend(env: Record<string, string | undefined> = process.env, opts: SelectOptions = {}): Selection {
  const quiet = opts.quiet ?? false;
  const mode = backendMode(env);
  if (mode === 'ts') return { backend: cpuBackend, mode, load: null };
  const load = loadNativeAddon(opts.packageRoot === undefined ? { env } : { env, packageRoot: opts.packageRoot });
  if (load.addon) {
    const explicit = load.attempts.find((a) => a.source === 'DL_NATIVE_PATH' && !a.ok);
    if (explicit && !quiet) notice(`dl: DL_NATIVE_PATH=${explicit.path} did not load (${explicit.reason}); using ${load.path}`);
    return { backend: makeNativeBackend(load.addon), mode, load };
  }
  if (mode === 'native') {
    throw new Error(`@dl/tensor: DL_BACKEND=native but the native addon did not load (${failureSummary(load)}); fix: ${BUILD_FIX}, or unset DL_BACKEND to fall back to the TypeScript kernels`);
  }
  if (!quiet) {
    notice(
      `dl: native CPU kernels not loaded, using the slower TypeScript kernels (${failureSummary(load)}). Fix: ${BUILD_FIX}. Set DL_BACKEND=ts to silence this; doctor() shows details.`,
    );
  }
  return { backend: cpuBackend, mode, load };
}

/** Called once by the package entry: the selection that serves 'cpu' in this process. */
export function initCpuBackend(): Backend<TypedArray> {
  current = selectCpuBackend();
  return current.backend;
}

/** The selection made at start-up (null before initCpuBackend). */
export function currentSelection(): Selection | null {
  return current;
}

/** The loaded addon, if the native backend serves 'cpu' (tests, doctor). */
export function nativeAddon(): NativeAddon | null {
  return current?.load?.addon ?? null;
}

/** Why the native backend does not serve 'cpu' (for skipped tests' names), or null if it does. */
export function nativeUnavailableReason(): string | null {
  if (!current) return 'not initialised';
  if (current.mode === 'ts') return 'DL_BACKEND=ts';
  if (current.load?.addon) return null;
  return `addon not loaded (${current.load ? failureSummary(current.load) : 'not tried'})`;
}
