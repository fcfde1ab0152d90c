/**
 * Worker threads cannot run the TypeScript sources: DataLoader workers run the built
 * dist/worker.js (from the sources, the loader looks for ../dist/worker.js), and the test
 * fixtures (plain .mjs) import the built @dl/tensor and @dl/data in the workers.
 *
 * CI runs `turbo run build` before vitest, so the dists exist and are fresh. Locally,
 * ensureBuilt() rebuilds @dl/data's JavaScript (tsup without declarations, ~1 s) when dist/ is
 * missing or older than src/, and fails with a hint when @dl/tensor has not been built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PKG = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function mtime(file: string): number {
  return existsSync(file) ? statSync(file).mtimeMs : -Infinity;
}

function newest(dir: string): number {
  let t = -Infinity;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : mtime(p));
  }
  return t;
}

export function ensureBuilt(): void {
  const tensorDist = join(PKG, '..', 'tensor', 'dist', 'index.js');
  if (!existsSync(tensorDist)) {
    throw new Error(`the worker tests need the built @dl/tensor (${tensorDist} is missing)\nhint: run \`cd packages/tensor && npx tsup\` or \`pnpm build\` at the root`);
  }
  const inputs = Math.max(newest(join(PKG, 'src')), mtime(join(PKG, 'tsup.config.ts')), mtime(join(PKG, 'package.json')));
  const outputs = Math.min(...['index.js', 'index.cjs', 'worker.js'].map((f) => mtime(join(PKG, 'dist', f))));
  if (outputs >= inputs) return;
  execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "const { build } = await import('tsup'); await build({ dts: false, clean: false, silent: true });"],
    { cwd: PKG, stdio: 'pipe', timeout: 120_000 },
  );
}
