import { defineConfig } from 'tsup';

export default defineConfig({
  // worker.ts is its own entry: DataLoader worker threads run dist/worker.js (ESM, from both
  // the ESM and the CJS build, so user dataset modules, which are ES modules, share its
  // @dl/tensor instance). index never imports it.
  entry: ['src/index.ts', 'src/worker.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url in the CJS build (the DataLoader resolves ./worker.js next to itself).
  shims: true,
});
