import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { datasets } from '@dl/vision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmp, makeFakeCifar10Archive, serve, tmpDir } from './helpers.js';

/** A non-TTY stream that keeps what is written (progress lines, mirror failures). */
function logStream(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

let archive: Buffer;
let md5: string;
let archivePath: string;
const servers: { url: string; close: () => Promise<void> }[] = [];
let good: string;
let cut: string;
let corrupt: string;
let missing: string;
let stall: string;
let refused: string;

beforeAll(async () => {
  archivePath = join(tmpDir(), 'fake-cifar-10-binary.tar.gz');
  md5 = await makeFakeCifar10Archive(archivePath);
  archive = readFileSync(archivePath);
  const bad = Buffer.from(archive);
  bad[bad.length >> 1] ^= 0xff;
  const mk = async (h: Parameters<typeof serve>[0]) => {
    const s = await serve(h);
    servers.push(s);
    return `${s.url}/cifar-10-binary.tar.gz`;
  };
  good = await mk((_req, res) => {
    res.writeHead(200, { 'content-length': archive.length, 'content-type': 'application/gzip' });
    res.end(archive);
  });
  // Announces the full length, sends half, then drops the connection.
  cut = await mk((_req, res) => {
    res.writeHead(200, { 'content-length': archive.length });
    res.write(archive.subarray(0, archive.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
  });
  corrupt = await mk((_req, res) => {
    res.writeHead(200, { 'content-length': bad.length });
    res.end(bad);
  });
  missing = await mk((_req, res) => {
    res.writeHead(404, 'Not Found');
    res.end('no such file');
  });
  // Sends a little, then nothing.
  stall = await mk((_req, res) => {
    res.writeHead(200, { 'content-length': archive.length });
    res.write(archive.subarray(0, 100));
  });
  // A port with nothing listening.
  const closed = await serve(() => undefined);
  refused = `${closed.url}/cifar-10-binary.tar.gz`;
  await closed.close();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  cleanupTmp();
});

/** No temp or partial files next to the target. */
function leftovers(root: string): string[] {
  return readdirSync(root).filter((f) => f.startsWith('.'));
}

describe('CIFAR10 download from mirrors', () => {
  it('skips a corrupt and a broken mirror, keeps the good one, and says which failed how', async () => {
    const root = tmpDir();
    const log = logStream();
    const result = await datasets.CIFAR10.download(root, { mirrors: [corrupt, cut, good], md5, progress: log });
    expect(result?.mirror).toBe(good);
    expect(result?.md5).toBe(md5);
    expect(result?.failures.map((f) => f.mirror)).toEqual([corrupt, cut]);
    expect(result?.failures[0].reason).toMatch(new RegExp(`^md5 mismatch: got [0-9a-f]{32}, expected ${md5}`));
    expect(result?.failures[1].reason).toMatch(/^transfer broken after .* of .*: /);
    const text = log.text();
    expect(text).toContain(`cifar-10-binary.tar.gz: mirror ${corrupt} failed: md5 mismatch`);
    expect(text).toContain(`cifar-10-binary.tar.gz: mirror ${cut} failed: transfer broken`);
    expect(text).toContain(`downloading cifar-10-binary.tar.gz from ${good}`);
    expect(text).toMatch(/cifar-10-binary\.tar\.gz: done, /);
    // The verified archive is in root and extracted; no partial files remain.
    expect(readFileSync(join(root, 'cifar-10-binary.tar.gz')).equals(archive)).toBe(true);
    expect(existsSync(join(root, 'cifar-10-batches-bin', 'test_batch.bin'))).toBe(true);
    expect(leftovers(root)).toEqual([]);
    const ds = new datasets.CIFAR10(root);
    expect(ds.length).toBe(10);
    // Nothing is downloaded when the data is there.
    expect(await datasets.CIFAR10.download(root, { mirrors: [missing], md5, progress: false })).toBeNull();
  });

  it('create({ download: true }) downloads, extracts and loads', async () => {
    const root = join(tmpDir(), 'nested', 'data');
    const ds = await datasets.CIFAR10.create(root, { download: true, train: false, mirrors: [good], md5, progress: false });
    expect(ds.length).toBe(3);
    expect(Array.from(ds.targets)).toEqual([7, 8, 9]);
  });

  it('fails with one error listing every mirror and its reason, and leaves nothing behind', async () => {
    const root = tmpDir();
    const err = await datasets.CIFAR10.create(root, { download: true, mirrors: [cut, corrupt, missing, refused], md5, progress: false }).then(
      () => {
        throw new Error('no error');
      },
      (e: unknown) => e as datasets.DownloadError,
    );
    expect(err).toBeInstanceOf(datasets.DownloadError);
    expect(err.message).toContain('could not download cifar-10-binary.tar.gz from any of 4 mirrors:');
    expect(err.message).toContain(`  - ${cut}: transfer broken`);
    expect(err.message).toContain(`  - ${corrupt}: md5 mismatch`);
    expect(err.message).toContain(`  - ${missing}: HTTP 404 Not Found`);
    expect(err.message).toContain(`  - ${refused}: request failed`);
    expect(err.message).toContain(`put cifar-10-binary.tar.gz at ${join(root, 'cifar-10-binary.tar.gz')}`);
    expect(err.message).toContain('DL_CIFAR10_MIRRORS');
    expect(err.failures.map((f) => f.mirror)).toEqual([cut, corrupt, missing, refused]);
    expect(readdirSync(root)).toEqual([]);
  });

  it('gives up on a stalled mirror after the idle timeout', async () => {
    const dest = join(tmpDir(), 'x.tar.gz');
    const err = await datasets.downloadFile([stall], dest, { md5, progress: false, idleTimeoutMs: 300 }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/no data received for 300 ms \(stalled\)/);
    expect(existsSync(dest)).toBe(false);
  });

  it('checks the known checksums by default (a fake archive is rejected)', async () => {
    const root = tmpDir();
    const err = await datasets.CIFAR10.download(root, { mirrors: [good], progress: false }).catch((e: Error) => e);
    expect((err as Error).message).toContain('expected one of c32a1d4ab5d03f1284b67883e8d87530, 50c807481be9b002af7aade540a9e0ec');
  });

  it('accepts local paths and file:// URLs as mirrors, and DL_CIFAR10_MIRRORS', async () => {
    const a = tmpDir();
    await datasets.CIFAR10.download(a, { mirrors: [join(a, 'nope.tar.gz'), archivePath], md5, progress: false });
    expect(new datasets.CIFAR10(a).length).toBe(10);
    const b = tmpDir();
    const r = await datasets.CIFAR10.download(b, { mirrors: [pathToFileURL(archivePath).href], md5, progress: false });
    expect(r?.mirror.startsWith('file://')).toBe(true);
    const c = tmpDir();
    const saved = process.env.DL_CIFAR10_MIRRORS;
    process.env.DL_CIFAR10_MIRRORS = ` ${missing} , ${good} `;
    try {
      const res = await datasets.CIFAR10.download(c, { md5, progress: false });
      expect(res?.failures.map((f) => f.mirror)).toEqual([missing]);
      expect(res?.mirror).toBe(good);
    } finally {
      if (saved === undefined) delete process.env.DL_CIFAR10_MIRRORS;
      else process.env.DL_CIFAR10_MIRRORS = saved;
    }
  });

  it('names an unsupported URL scheme', async () => {
    const err = await datasets.downloadFile(['ftp://example.org/x'], join(tmpDir(), 'x'), { progress: false }).catch((e: Error) => e);
    expect((err as Error).message).toContain('ftp://example.org/x: unsupported URL scheme');
  });

  it('reports progress: plain lines when the stream is not a TTY, a cli-progress bar when it is', async () => {
    const payload = Buffer.alloc(2 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24;
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': payload.length });
      let off = 0;
      const next = () => {
        if (off >= payload.length) return void res.end();
        const chunk = payload.subarray(off, off + (64 << 10));
        off += chunk.length;
        res.write(chunk, () => setImmediate(next));
      };
      next();
    });
    try {
      const log = logStream();
      const dir = tmpDir();
      const r = await datasets.downloadFile([`${srv.url}/blob`], join(dir, 'blob.bin'), { progress: log });
      expect(r.bytes).toBe(payload.length);
      expect(readFileSync(join(dir, 'blob.bin')).equals(payload)).toBe(true);
      const pcts = [...log.text().matchAll(/blob\.bin: (\d+)% \(/g)].map((m) => Number(m[1]));
      expect(pcts.length).toBeGreaterThanOrEqual(3);
      expect(pcts.every((p, i) => i === 0 || p > pcts[i - 1])).toBe(true);
      expect(log.text()).toMatch(/blob\.bin: done, 2\.0 MB in /);
      // A TTY gets the bar (a fake TTY stream here).
      const tty = logStream() as ReturnType<typeof logStream> & { isTTY: boolean; columns: number };
      tty.isTTY = true;
      tty.columns = 100;
      await datasets.downloadFile([`${srv.url}/blob`], join(dir, 'blob2.bin'), { progress: tty as unknown as NodeJS.WritableStream });
      expect(tty.text()).toContain('100%');
      expect(tty.text()).not.toContain('downloading blob2.bin from');
    } finally {
      await srv.close();
    }
  });
});
