import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The test files that run kernels on CUDA. Where the DL_CUDA=emulate addon is built (the
 * package build makes it next to the real one; see packages/tensor/native/src/cuda/emu), they
 * run a second time, as project `cuda-emulated`, on the emulated device: every CUDA kernel and
 * the whole CUDA path on the host CPU. Not under DL_BACKEND=ts, which loads no addon.
 */
const EMULATED_ADDON = `${root}packages/tensor/native/build/Emulated/dl_native.node`;
const CUDA_TESTS = [
  'packages/tensor/test/cuda.test.ts',
  'packages/tensor/test/native.test.ts',
  'packages/nn/test/devices.test.ts',
  'packages/nn/test/packed.test.ts',
  'packages/optim/test/cuda.test.ts',
  'apps/cifar-trainer/test/device.test.ts',
];
/** Those that reach cuBLAS and cuDNN: again with the emulated device's host stand-ins of both (DL_CUDA_EMU_LIBS). */
const CUDA_LIBRARY_TESTS = ['packages/tensor/test/cuda.test.ts', 'packages/nn/test/devices.test.ts'];
const typescriptKernels = process.env.DL_BACKEND === 'ts';
const emulated = !typescriptKernels && existsSync(EMULATED_ADDON);
/**
 * CI's second suite runs the tests again on the TypeScript kernels (DL_BACKEND=ts). These files
 * do not run on the CPU backend's kernels (the addon's own tests, packaging, the HTML report's
 * rendering), so that suite leaves them out; they run in the first.
 */
const NOT_ON_KERNELS = ['packages/tensor/test/native.test.ts', 'test/pack.test.ts', 'apps/cifar-trainer/test/report-render.test.ts'];

/**
 * One vitest run for the whole monorepo (`pnpm test` = `turbo run build && vitest run`).
 *
 * - Unit tests import each package's *source* through relative paths, so they need no build.
 * - Root tests (test/, e.g. the pack test) use the built dist/ and may pack and install
 *   packages; those set their own, longer per-test timeouts.
 * - Besides the default console reporter, a JUnit report goes to test-results/junit.xml;
 *   .ci/run counts passed/failed/skipped from it (scripts/junit-summary.mjs).
 */
export default defineConfig({
  // Tests run on the packages' sources: `@dl/x` and `@dl/x/sub` resolve to packages/x/src,
  // so a test never mixes a built copy of a package with its source (one module instance).
  resolve: {
    alias: [
      { find: /^@dl\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      { find: /^@dl\/([a-z-]+)\/([a-z-]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
    ],
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/dist/**', ...(typescriptKernels ? NOT_ON_KERNELS : [])],
        },
      },
      ...(emulated
        ? [
            { extends: true, test: { name: 'cuda-emulated', include: CUDA_TESTS, env: { DL_POISON_ALLOC: '1', DL_NATIVE_PATH: EMULATED_ADDON } } },
            {
              extends: true,
              test: {
                name: 'cuda-emulated-libs',
                include: CUDA_LIBRARY_TESTS,
                env: { DL_POISON_ALLOC: '1', DL_NATIVE_PATH: EMULATED_ADDON, DL_CUDA_EMU_LIBS: dirname(EMULATED_ADDON) },
              },
            },
          ]
        : []),
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    reporters: ['default', 'junit'],
    outputFile: { junit: 'test-results/junit.xml' },
    // Numeric kernels on a 2-core machine can be slow; pack/install tests raise these per test.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests always run in Node; no DOM.
    environment: 'node',
    // Kernel outputs allocated without a zero fill hold NaN / 0xA5 garbage in every test, so a
    // kernel that reads or keeps what it did not write fails its op spec (see ZEROED_OUTPUTS).
    env: { DL_POISON_ALLOC: '1' },
  },
});
