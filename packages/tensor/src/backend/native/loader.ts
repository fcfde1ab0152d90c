/**
 * Finds and loads the native addon (dl_native.node). Candidates, in order:
 *   1. $DL_NATIVE_PATH (an explicit file),
 *   2. prebuilds/<platform>-<arch>/dl_native.node (shipped in the published package),
 *   3. native/build/Release/dl_native.node (a local build: `pnpm --filter @dl/tensor build:native`).
 * The first that loads and has the expected ABI wins; every failure is kept with its reason
 * (for the notice and for `doctor()`). Loading never throws.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_ABI, NATIVE_FUNCTIONS, type NativeAddon } from './addon.js';

export type CandidateSource = 'DL_NATIVE_PATH' | 'prebuilt' | 'local build';

export interface LoadAttempt {
  source: CandidateSource;
  path: string;
  ok: boolean;
  /** Why it did not load (absent when ok). */
  reason?: string;
}

export interface LoadResult {
  addon: NativeAddon | null;
  /** The file that loaded, or null. */
  path: string | null;
  source: CandidateSource | null;
  attempts: LoadAttempt[];
  /** The @dl/tensor package folder the candidates were looked up in (null if not found). */
  packageRoot: string | null;
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Overrides the package folder (tests). */
  packageRoot?: string | null;
  platform?: string;
  arch?: string;
}

declare const __dirname: string | undefined;

/** The folder of this module: __dirname in the CJS build, import.meta.url in ESM. */
function moduleDir(): string | null {
  if (typeof __dirname === 'string') return __dirname;
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return null;
  }
}

/** Walks up from this module to the folder whose package.json is @dl/tensor's. */
export function findPackageRoot(start: string | null = moduleDir()): string | null {
  let dir = start;
  for (let i = 0; dir && i < 8; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === '@dl/tensor') return dir;
      } catch {
        // unreadable package.json: keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

export function candidatePaths(opts: LoadOptions = {}): { source: CandidateSource; path: string }[] {
  const env = opts.env ?? process.env;
  const root = opts.packageRoot === undefined ? findPackageRoot() : opts.packageRoot;
  const out: { source: CandidateSource; path: string }[] = [];
  if (env.DL_NATIVE_PATH) out.push({ source: 'DL_NATIVE_PATH', path: env.DL_NATIVE_PATH });
  if (root) {
    out.push({ source: 'prebuilt', path: join(root, 'prebuilds', `${opts.platform ?? process.platform}-${opts.arch ?? process.arch}`, 'dl_native.node') });
    out.push({ source: 'local build', path: join(root, 'native', 'build', 'Release', 'dl_native.node') });
  }
  return out;
}

/** First line of an error message (dlopen errors can be long). */
function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0];
}

/** Loads one file; returns the addon or the reason it is unusable. */
export function tryLoad(path: string): { addon: NativeAddon } | { reason: string } {
  if (!existsSync(path)) return { reason: 'no such file' };
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  try {
    process.dlopen(mod, path);
  } catch (e) {
    return { reason: `dlopen failed: ${firstLine(e)}` };
  }
  const ex = mod.exports;
  if (ex.abi !== NATIVE_ABI) {
    return { reason: `built for addon ABI ${String(ex.abi)}, this @dl/tensor needs ABI ${NATIVE_ABI} (a stale build: rebuild it)` };
  }
  const missing = NATIVE_FUNCTIONS.filter((f) => typeof ex[f] !== 'function');
  if (missing.length) return { reason: `missing functions ${missing.join(', ')} (a stale build: rebuild it)` };
  return { addon: ex as unknown as NativeAddon };
}

export function loadNativeAddon(opts: LoadOptions = {}): LoadResult {
  const root = opts.packageRoot === undefined ? findPackageRoot() : opts.packageRoot;
  const attempts: LoadAttempt[] = [];
  for (const c of candidatePaths({ ...opts, packageRoot: root })) {
    const r = tryLoad(c.path);
    if ('addon' in r) {
      attempts.push({ ...c, ok: true });
      return { addon: r.addon, path: c.path, source: c.source, attempts, packageRoot: root };
    }
    attempts.push({ ...c, ok: false, reason: r.reason });
  }
  if (!root) attempts.push({ source: 'prebuilt', path: '(unknown)', ok: false, reason: 'the @dl/tensor package folder was not found from this module' });
  return { addon: null, path: null, source: null, attempts, packageRoot: root };
}
