import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A reference CRC32C, bit by bit (reflected polynomial 0x82F63B78), independent of the library. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's mask, written out again for the tests. */
export function maskRef(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 2 ** 32;
}

/** The bytes of one framed record, built by hand from the reference CRC. */
export function frameRef(data: number[]): number[] {
  const len = [data.length & 0xff, (data.length >>> 8) & 0xff, (data.length >>> 16) & 0xff, data.length >>> 24, 0, 0, 0, 0];
  const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  return [...len, ...u32(maskRef(crc32cBitwise(Uint8Array.from(len)))), ...data, ...u32(maskRef(crc32cBitwise(Uint8Array.from(data))))];
}

/** A fresh temp directory per test file, removed by cleanup(). */
export function tempDirs(): { make: () => string; cleanup: () => void } {
  const dirs: string[] = [];
  return {
    make: () => {
      const d = mkdtempSync(join(tmpdir(), 'dl-tensorboard-'));
      dirs.push(d);
      return d;
    },
    cleanup: () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A small deterministic generator (values in [0, 1)). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
