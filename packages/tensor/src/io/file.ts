/**
 * Safetensors files. Writes are atomic: the bytes go to a temporary file in the
 * target's directory, which is flushed to disk and then renamed over the
 * target, so a failed or interrupted save leaves the previous file intact.
 * Reads go range by range (header first, then each tensor), so a file is never
 * held in memory twice and files beyond Node's 2 GiB read limit load too.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DLError, fail } from '../errors.js';
import type { Tensor } from '../tensor.js';
import type { DecodedSafetensors, SafetensorsLoadOptions, WritePlan } from './safetensors.js';
import { decodeFrom, loadDevice, planWrite, quote, tensorBytes } from './safetensors.js';

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function checkPath(op: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '') fail('ARGUMENT', op, `path must be a non-empty string; got ${typeof path === 'string' ? "''" : typeof path}`);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Write a file atomically: `produce` hands chunks to `write`; on any error the
 * temporary file is removed and the error is rethrown (DLErrors as they are,
 * file-system errors as code 'IO' naming the path).
 */
export function writeFileAtomic(op: string, path: string, produce: (write: (chunk: Uint8Array) => void) => void): void {
  const dir = dirname(path);
  const tmp = join(dir, `${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx', 0o666);
    created = true;
    const out = fd;
    produce((chunk) => writeAll(out, chunk));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing more to do
      }
    }
    if (e instanceof DLError) throw e;
    fail('IO', op, `cannot write ${quote(path, 200)}: ${reason(e)}`, 'check that the directory exists and is writable and that the path is not a directory');
  }
  // Make the rename itself durable; not every platform can fsync a directory.
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // best effort
  }
}

/** Write a planned safetensors file atomically, reading tensor values one by one. */
export function writePlan(op: string, path: string, plan: WritePlan): void {
  checkPath(op, path);
  writeFileAtomic(op, path, (write) => {
    write(plan.head);
    for (const e of plan.entries) write(tensorBytes(op, e));
  });
}

/**
 * Save named tensors (and optional string metadata) as a safetensors file,
 * atomically: on error the previous file at `path` is left as it was.
 */
export function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  const op = 'saveSafetensors';
  writePlan(op, path, planWrite(op, tensors, metadata));
}

/** Read a safetensors file range by range; errors are DLError code 'IO' naming the path. */
export function readSafetensorsFile(op: string, path: string, opts: SafetensorsLoadOptions | undefined): DecodedSafetensors {
  checkPath(op, path);
  const device = loadDevice(op, opts);
  const where = `${quote(path, 200)}: `;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return fail('IO', op, `cannot open ${quote(path, 200)}: ${reason(e)}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) fail('IO', op, `${where}not a regular file; got a ${stat.isDirectory() ? 'directory' : 'special file'}, expected a safetensors file`);
    const size = stat.size;
    const read = (pos: number, len: number): Uint8Array => {
      const buf = new Uint8Array(len);
      let off = 0;
      while (off < len) {
        const n = readSync(fd, buf, off, len - off, pos + off);
        if (n === 0) fail('IO', op, `${where}the file ended early (was it changed while reading?); got ${pos + off} bytes, expected ${pos + len}`);
        off += n;
      }
      return buf;
    };
    return decodeFrom({ op, where }, size, read, device);
  } catch (e) {
    if (e instanceof DLError) throw e;
    return fail('IO', op, `cannot read ${quote(path, 200)}: ${reason(e)}`);
  } finally {
    closeSync(fd);
  }
}

/** Load a safetensors file: tensors in file order and the `__metadata__` strings. */
export function loadSafetensors(path: string, opts?: SafetensorsLoadOptions): DecodedSafetensors {
  return readSafetensorsFile('loadSafetensors', path, opts);
}
