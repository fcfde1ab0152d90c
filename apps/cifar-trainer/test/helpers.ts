/** Shared by the trainer's CLI tests (e2e.test.ts, device.test.ts, serve.test.ts). */
import { main } from '../src/cli.js';

/**
 * CI runs every test twice: with the native kernels, then on the TypeScript kernels
 * (DL_BACKEND=ts). The trainer's machinery that does not depend on the kernels (resume, worker
 * threads, signals, schedulers, the ViT option, HTTP batching) is tested in the first run only;
 * `machinery(name)` marks such a test, and says so in its name when it skips.
 */
export const typescriptKernels = process.env.DL_BACKEND === 'ts';
export const machinery = (name: string): string =>
  typescriptKernels ? `${name} (skipped under DL_BACKEND=ts: trainer machinery, tested with the native kernels)` : name;

/** Runs the CLI in-process, capturing stdout, stderr and the exit code. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => {
    err += s;
    return true;
  }) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    return { code: await main(args), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
    process.exitCode = before;
  }
}
