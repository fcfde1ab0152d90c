/** Test helpers: the shared CIFAR-10 copy, temp folders, fake CIFAR archives and local HTTP servers. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { create as tarCreate } from 'tar';

export const REPO = resolve(import.meta.dirname, '..', '..', '..');

/** The folder with cifar-10-binary.tar.gz and cifar-10-jpeg.tar.gz: env DL_CIFAR10_DIR, else ../shared/datasets/cifar10 from the repo root. */
export function cifarDir(): string | null {
  const dir = process.env.DL_CIFAR10_DIR ?? join(REPO, '..', 'shared', 'datasets', 'cifar10');
  return existsSync(join(dir, 'cifar-10-binary.tar.gz')) ? dir : null;
}

const made: string[] = [];
/** A fresh temp folder, removed by cleanupTmp(). */
export function tmpDir(prefix = 'dl-vision-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
export function cleanupTmp(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** A pixel value that depends on (record seed, byte position). */
export function fakePixel(seed: number, p: number): number {
  return (seed * 31 + p * 7 + ((p >> 10) * 50)) & 255;
}

/** CIFAR binary records: `labels[i]` (one byte, or [coarse, fine]) then 3072 pixel bytes from fakePixel(seed0 + i, p). */
export function fakeRecords(labels: (number | [number, number])[], seed0: number): Buffer {
  const labelBytes = Array.isArray(labels[0]) ? 2 : 1;
  const rec = labelBytes + 3072;
  const buf = Buffer.alloc(labels.length * rec);
  labels.forEach((l, i) => {
    const off = i * rec;
    if (Array.isArray(l)) {
      buf[off] = l[0];
      buf[off + 1] = l[1];
    } else buf[off] = l;
    for (let p = 0; p < 3072; p++) buf[off + labelBytes + p] = fakePixel(seed0 + i, p);
  });
  return buf;
}

/**
 * A fake cifar-10-batches-bin in `dir` (2 records per training batch, 3 test records), returns
 * the folder. Training batch b (1..5) holds labels [b, b + 1] with seeds 100*b + i; test labels
 * [7, 8, 9] with seeds 900 + i.
 */
export function writeFakeCifar10(dir: string): string {
  const folder = join(dir, 'cifar-10-batches-bin');
  mkdirSync(folder, { recursive: true });
  for (let b = 1; b <= 5; b++) writeFileSync(join(folder, `data_batch_${b}.bin`), fakeRecords([b, (b + 1) % 10], 100 * b));
  writeFileSync(join(folder, 'test_batch.bin'), fakeRecords([7, 8, 9], 900));
  writeFileSync(join(folder, 'batches.meta.txt'), `${CIFAR10_CLASSES.join('\n')}\n\n`);
  return folder;
}

/** A fake cifar-10-binary.tar.gz (of writeFakeCifar10's folder) at `path`; returns its md5. */
export async function makeFakeCifar10Archive(path: string): Promise<string> {
  const src = tmpDir('dl-vision-src-');
  writeFakeCifar10(src);
  await tarCreate({ gzip: true, file: path, cwd: src, portable: true }, ['cifar-10-batches-bin']);
  return createHash('md5').update(readFileSync(path)).digest('hex');
}

/** A local HTTP server on 127.0.0.1 (random port). */
export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
