/** Shared by the trainer's CLI tests (e2e.test.ts, device.test.ts). */
import { main } from '../src/cli.js';

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
