/**
 * Getting dataset archives: download from an ordered list of mirrors (http(s) URLs through
 * global fetch, local paths and file:// URLs by copying), verify the md5, and extract .tar.gz
 * archives (node-tar).
 *
 * A download goes to a temp file next to the target and is renamed over it only after its
 * md5 matched one of the accepted checksums; a failed attempt (HTTP error, broken transfer,
 * stall, md5 mismatch) deletes its temp file and moves on to the next mirror. When every
 * mirror failed, one DownloadError lists each mirror with its reason.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { extract as tarExtract } from 'tar';
import { DLError } from '@dl/tensor';
import { fail, reasonOf } from '../errors.js';

/** Why one mirror did not deliver the file. */
export interface MirrorFailure {
  mirror: string;
  reason: string;
}

/** Every mirror failed; `failures` says how each did. */
export class DownloadError extends DLError {
  readonly failures: MirrorFailure[];
  constructor(op: string, message: string, failures: MirrorFailure[], hint?: string) {
    super('IO', op, message, hint);
    this.name = 'DownloadError';
    this.failures = failures;
  }
}

/** Where progress goes: true (default) = stderr, false = nowhere, or a stream. */
export type ProgressOption = boolean | NodeJS.WritableStream;

export interface DownloadOptions {
  /** Accepted md5 checksums (hex); the download must match one. Omit to skip the check. */
  md5?: string | readonly string[];
  /** A progress bar on a TTY, plain lines otherwise; false for none. Failed mirrors are reported here too. */
  progress?: ProgressOption;
  /** Give up on a mirror that sends nothing for this long (milliseconds, default 60 000). */
  idleTimeoutMs?: number;
  /** For messages (default: the target's file name). */
  name?: string;
  /** The operation named in errors (default 'download'). */
  op?: string;
  /** The hint line of the error when every mirror failed. */
  hint?: string;
}

export interface DownloadResult {
  path: string;
  /** The mirror that delivered the file. */
  mirror: string;
  md5: string;
  bytes: number;
  /** The mirrors that failed before it, and why. */
  failures: MirrorFailure[];
}

/** The mirrors to use: the explicit list, else the environment variable (comma-separated), else the defaults. */
export function resolveMirrors(explicit: readonly string[] | undefined, envVar: string, defaults: readonly string[]): string[] {
  if (explicit !== undefined) {
    if (!Array.isArray(explicit) || explicit.some((m) => typeof m !== 'string')) fail('ARGUMENT', 'mirrors', `expected an array of URLs or paths; got ${JSON.stringify(explicit)}`);
    return [...explicit];
  }
  const env = process.env[envVar];
  if (env !== undefined && env.trim() !== '') {
    return env
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return [...defaults];
}

function md5List(md5: string | readonly string[] | undefined): string[] | null {
  if (md5 === undefined) return null;
  const list = (typeof md5 === 'string' ? [md5] : [...md5]).map((s) => String(s).toLowerCase());
  if (list.length === 0 || list.some((s) => !/^[0-9a-f]{32}$/.test(s))) fail('ARGUMENT', 'download', `md5 must be 32 hex digits or a list of them; got ${JSON.stringify(md5)}`);
  return list;
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** Progress of one transfer: cli-progress on a TTY, a line per 10% otherwise. */
class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private total = 0;
  private done = 0;
  private nextLine = 0;
  private readonly started = Date.now();
  constructor(
    private readonly stream: NodeJS.WritableStream | null,
    private readonly name: string,
  ) {}

  static streamOf(p: ProgressOption | undefined): NodeJS.WritableStream | null {
    if (p === false) return null;
    if (p === undefined || p === true) return process.stderr;
    return p;
  }

  private get tty(): boolean {
    return Boolean((this.stream as NodeJS.WriteStream | null)?.isTTY);
  }

  log(line: string): void {
    this.stream?.write(`${line}\n`);
  }

  start(mirror: string, total: number): void {
    this.total = total;
    if (!this.stream) return;
    if (this.tty) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.stream as NodeJS.WriteStream,
          format: `${this.name} {bar} {percentage}% | {got} of {size} | {speed}`,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total > 0 ? total : 1, 0, { got: fmtBytes(0), size: total > 0 ? fmtBytes(total) : '?', speed: '' });
    } else {
      this.log(`downloading ${this.name} from ${mirror}${total > 0 ? ` (${fmtBytes(total)})` : ''}`);
    }
  }

  update(bytes: number): void {
    this.done += bytes;
    if (!this.stream) return;
    if (this.bar) {
      const secs = Math.max((Date.now() - this.started) / 1000, 1e-3);
      this.bar.update(this.total > 0 ? this.done : 0, { got: fmtBytes(this.done), speed: `${fmtBytes(this.done / secs)}/s` });
      return;
    }
    // Plain lines: every 10% with a known size, every 16 MB without.
    const step = this.total > 0 ? this.total / 10 : 16 * 1024 * 1024;
    if (this.nextLine === 0) this.nextLine = step;
    if (this.done >= this.nextLine && (this.total <= 0 || this.done < this.total)) {
      this.log(`  ${this.name}: ${this.total > 0 ? `${Math.floor((100 * this.done) / this.total)}% (${fmtBytes(this.done)} of ${fmtBytes(this.total)})` : fmtBytes(this.done)}`);
      this.nextLine = (Math.floor(this.done / step) + 1) * step;
    }
  }

  stop(ok: boolean): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
    if (ok && this.stream) {
      const secs = (Date.now() - this.started) / 1000;
      this.log(`  ${this.name}: done, ${fmtBytes(this.done)} in ${secs.toFixed(1)} s`);
    }
  }
}

/** An attempt's failure reason (thrown inside fetchOne). */
class AttemptFailed extends Error {}

type Sink = (chunk: Uint8Array) => Promise<void>;

/** Stream one mirror into the sink; returns the number of bytes. Throws AttemptFailed or the transfer's error. */
async function fetchOne(mirror: string, sink: Sink, progress: Progress, idleMs: number): Promise<number> {
  let bytes = 0;
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(mirror);
  if (!isUrl || mirror.startsWith('file:')) {
    // A local file (a path or a file:// URL).
    const path = mirror.startsWith('file:') ? fileURLToPath(mirror) : resolve(mirror);
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new AttemptFailed(`${path} is not a file`);
      size = st.size;
    } catch (e) {
      if (e instanceof AttemptFailed) throw e;
      throw new AttemptFailed(`cannot read ${path}: ${reasonOf(e)}`);
    }
    progress.start(mirror, size);
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      await sink(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      progress.update((chunk as Buffer).length);
    }
    return bytes;
  }
  if (!/^https?:\/\//i.test(mirror)) throw new AttemptFailed(`unsupported URL scheme (use http://, https://, file:// or a local path)`);
  const ctrl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctrl.abort(new AttemptFailed(`no data received for ${idleMs} ms (stalled)`)), idleMs);
  };
  arm();
  try {
    let res: Response;
    try {
      res = await fetch(mirror, { signal: ctrl.signal, redirect: 'follow' });
    } catch (e) {
      if (ctrl.signal.aborted && ctrl.signal.reason instanceof AttemptFailed) throw ctrl.signal.reason;
      throw new AttemptFailed(`request failed: ${reasonOf(e)}`);
    }
    if (!res.ok) throw new AttemptFailed(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    if (!res.body) throw new AttemptFailed('the response has no body');
    const lengthHeader = res.headers.get('content-length');
    const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : 0;
    progress.start(mirror, total);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        await sink(chunk);
        bytes += chunk.length;
        progress.update(chunk.length);
      }
    } catch (e) {
      if (ctrl.signal.aborted && ctrl.signal.reason instanceof AttemptFailed) throw new AttemptFailed(`${ctrl.signal.reason.message} after ${fmtBytes(bytes)}`);
      throw new AttemptFailed(`transfer broken after ${fmtBytes(bytes)}${total ? ` of ${fmtBytes(total)}` : ''}: ${reasonOf(e)}`);
    }
    if (total > 0 && bytes !== total) throw new AttemptFailed(`transfer incomplete: got ${fmtBytes(bytes)} (${bytes} bytes) of ${total} bytes`);
    return bytes;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Download `dest` from the first mirror that delivers it with an accepted md5. The target is
 * written only by renaming a complete, verified temp file over it.
 */
export async function downloadFile(mirrors: readonly string[], dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const op = opts.op ?? 'download';
  const accepted = md5List(opts.md5);
  const name = opts.name ?? basename(dest);
  const stream = Progress.streamOf(opts.progress);
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  if (mirrors.length === 0) fail('ARGUMENT', op, `no mirrors to download ${name} from`, 'pass mirrors: [url, ...]');
  mkdirSync(dirname(dest), { recursive: true });
  const failures: MirrorFailure[] = [];
  for (const mirror of mirrors) {
    const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
    const progress = new Progress(stream, name);
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, 'w');
      const file = fh;
      const hash = createHash('md5');
      const bytes = await fetchOne(
        mirror,
        async (chunk) => {
          hash.update(chunk);
          let off = 0;
          while (off < chunk.length) off += (await file.write(chunk, off, chunk.length - off)).bytesWritten;
        },
        progress,
        idleMs,
      );
      await fh.sync();
      await fh.close();
      fh = undefined;
      const digest = hash.digest('hex');
      if (accepted && !accepted.includes(digest)) {
        throw new AttemptFailed(`md5 mismatch: got ${digest}, expected ${accepted.length === 1 ? accepted[0] : `one of ${accepted.join(', ')}`} (${fmtBytes(bytes)} received; the file is corrupt or not the expected one)`);
      }
      renameSync(tmp, dest);
      progress.stop(true);
      return { path: dest, mirror, md5: digest, bytes, failures };
    } catch (e) {
      progress.stop(false);
      if (fh) await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      const reason = e instanceof AttemptFailed ? e.message : reasonOf(e);
      failures.push({ mirror, reason });
      progress.log(`${name}: mirror ${mirror} failed: ${reason}${failures.length < mirrors.length ? '; trying the next mirror' : ''}`);
    }
  }
  throw new DownloadError(
    op,
    `could not download ${name} from any of ${mirrors.length} mirror${mirrors.length === 1 ? '' : 's'}:\n${failures.map((f) => `  - ${f.mirror}: ${f.reason}`).join('\n')}`,
    failures,
    opts.hint ?? `put the file at ${resolve(dest)} yourself, or give other mirrors`,
  );
}

/** md5 of a file (hex), streamed. */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface ExtractOptions {
  /** Extract only the entries for which this returns true (node-tar's filter). */
  filter?: (path: string) => boolean;
  /** The operation named in errors. */
  op?: string;
}

/**
 * Extract a .tar.gz (or .tar) archive into `dir` synchronously. Errors name the archive:
 * a corrupt or truncated archive fails here, not later.
 */
export function extractArchive(archive: string, dir: string, opts: ExtractOptions = {}): void {
  const op = opts.op ?? 'extractArchive';
  if (!existsSync(archive)) fail('IO', op, `the archive ${archive} does not exist`);
  mkdirSync(dir, { recursive: true });
  const filter = opts.filter;
  try {
    tarExtract({
      file: archive,
      cwd: dir,
      sync: true,
      strict: true,
      ...(filter ? { filter: (p: string) => filter(p) } : {}),
    });
  } catch (e) {
    fail('IO', op, `cannot extract ${archive}: ${reasonOf(e)}`, 'the archive is corrupt or truncated: delete it and download or copy it again');
  }
}

/**
 * Extract `folder` from the archive into `root` so that it appears complete or not at all:
 * extract into a temp folder inside root, then rename the folder into place.
 */
export function extractFolderAtomically(archive: string, root: string, folder: string, op: string): void {
  const target = join(root, folder);
  const tmp = join(root, `.extract-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    extractArchive(archive, tmp, { op });
    const got = join(tmp, folder);
    if (!existsSync(got) || !statSync(got).isDirectory()) {
      const top = readdirSync(tmp).slice(0, 10);
      fail('IO', op, `the archive ${archive} has no folder ${folder}/ (its top level holds: ${top.join(', ') || 'nothing'})`, 'is it the right archive?');
    }
    if (!existsSync(target)) renameSync(got, target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** An absolute path (relative ones are taken from the current directory). */
export function absPath(p: string): string {
  return isAbsolute(p) ? p : resolve(p);
}
