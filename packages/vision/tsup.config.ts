import { defineConfig } from 'tsup';

export default defineConfig({
  // datasets is its own entry (dist/datasets.js): DataLoader worker threads import it to
  // rebuild a dataset by class name (see src/worker-module.ts). ESM code splitting keeps one
  // copy of every module between the two entries.
  entry: { index: 'src/index.ts', datasets: 'src/datasets/index.ts' },
  format: ['esm', 'cjs'],
  // Declarations for the public entry only, in one file: the d.ts bundler keeps the types of the
  // namespaces' classes, interfaces and type aliases (transforms.Compose, datasets.CIFAR10 as
  // types) only when it sees their declarations in the same output file, which a shared chunk
  // between two entries would break. dist/datasets.js is for worker threads and needs none.
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url in the CJS build (workerModule() finds dist/datasets.js next to itself).
  shims: true,
});
