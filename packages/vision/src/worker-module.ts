/**
 * The ES module a DataLoader worker imports to rebuild a @dl/vision dataset: the built
 * dist/datasets.js, which exports every dataset class by name. From the ESM build this is the
 * sibling file; the CJS build points at it too (workers load ES modules, and sharing the ESM
 * copy of @dl/tensor with @dl/data's worker matters). From the TypeScript sources (tests) it is
 * ../dist/datasets.js: build @dl/vision first. DL_VISION_WORKER_MODULE (a path or file URL)
 * overrides it, e.g. for bundled apps.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fail } from './errors.js';

export function workerModule(): string {
  const override = process.env.DL_VISION_WORKER_MODULE;
  if (override) return override.startsWith('file:') ? override : pathToFileURL(override).href;
  const here = import.meta.url;
  const fromSource = /\.ts$/.test(here);
  const url = new URL(fromSource ? '../dist/datasets.js' : './datasets.js', here);
  if (fromSource && !existsSync(fileURLToPath(url))) {
    fail('IO', 'workerSpec', `DataLoader workers need the built @dl/vision (${fileURLToPath(url)} is missing)`, 'build it (cd packages/vision && npx tsup, or pnpm build at the root), or use numWorkers: 0');
  }
  return url.href;
}
