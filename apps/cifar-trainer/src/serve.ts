/**
 * `serve`: a trained model behind HTTP (node:http, JSON out).
 *
 *   POST /predict   body: one PNG or JPEG image  ->  {"top": [{"label", "probability"}...], "batch": n}
 *                   ?k=5 for another number of classes
 *   GET  /health    ->  {"status": "ok", "architecture", "classes", "device"}
 *
 * Requests are classified in batches of up to `maxBatch` images (the answer's `batch` says how
 * many shared a forward pass): those already read when the model is free, or, with
 * `batchWaitMs`, those that arrive within that long of a batch's first. Bad requests get
 * a 4xx status and {"error": "..."} saying what was wrong and what to send instead.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io } from '@dl/vision';
import { UsageError } from './config.js';
import type { Classifier, Top } from './predict.js';

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Classes per answer unless the request says ?k=. */
  topK: number;
  /** The most images classified in one forward pass. */
  maxBatch: number;
  /** How long a batch waits for more requests after its first (0: only those already queued). */
  batchWaitMs: number;
  /** The largest request body accepted, in bytes. */
  maxBytes: number;
  /** The most pixels a decoded image may have (see io.decodeImage's maxPixels). */
  maxPixels: number;
}

export const SERVE_DEFAULTS: ServeOptions = { host: '127.0.0.1', port: 8080, topK: 3, maxBatch: 64, batchWaitMs: 0, maxBytes: 10 * 2 ** 20, maxPixels: 4096 * 4096 };

interface Pending {
  image: io.Image;
  topK: number;
  resolve: (r: { top: Top[]; batch: number }) => void;
  reject: (e: unknown) => void;
}

/**
 * Queues images and classifies them in batches of at most maxBatch: what has queued up once the
 * event loop is free, or, with waitMs > 0, what arrives within waitMs of a batch's first request
 * (more requests per pass, at up to waitMs more latency; TorchServe's max_batch_delay). A full
 * batch goes at once.
 */
export class Batcher {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;

  constructor(
    private readonly classifier: Pick<Classifier, 'classify'>,
    private readonly maxBatch: number,
    private readonly waitMs = 0,
  ) {}

  classify(image: io.Image, topK: number): Promise<{ top: Top[]; batch: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ image, topK, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.immediate || this.queue.length === 0) return;
    if (this.waitMs > 0 && this.queue.length < this.maxBatch) {
      this.timer ??= setTimeout(() => this.flush(), this.waitMs);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.immediate = setImmediate(() => this.flush());
  }

  private flush(): void {
    this.timer = null;
    this.immediate = null;
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      const k = Math.max(...batch.map((p) => p.topK));
      const tops = this.classifier.classify(batch.map((p) => p.image), k);
      for (const [i, p] of batch.entries()) p.resolve({ top: tops[i].slice(0, p.topK), batch: batch.length });
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
    this.schedule();
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) {
      reject(new HttpError(413, `the body is ${declared} bytes; the limit is ${maxBytes} (start the server with a larger --max-bytes)`, { connection: 'close' }));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        // Answer now and close the connection once the answer is out; the rest is discarded.
        reject(new HttpError(413, `the body is over the limit of ${maxBytes} bytes (start the server with a larger --max-bytes)`, { connection: 'close' }));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function topKOf(url: URL, fallback: number, numClasses: number): number {
  const k = url.searchParams.get('k');
  if (k === null) return fallback;
  if (!/^\d+$/.test(k) || Number(k) < 1) throw new HttpError(400, `k must be a positive integer; got '${k}'`);
  return Math.min(Number(k), numClasses);
}

/** Starts the server; resolves once it listens (its address() has the port). */
export function serve(classifier: Classifier, options: Partial<ServeOptions> = {}): Promise<Server> {
  const o = { ...SERVE_DEFAULTS, ...options };
  const batcher = new Batcher(classifier, o.maxBatch, o.batchWaitMs);
  const { desc } = classifier;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} /health: use GET`, { allow: 'GET, HEAD' });
      send(res, 200, { status: 'ok', architecture: desc.architecture, classes: desc.classes, device: classifier.device });
      return;
    }
    if (url.pathname !== '/predict') throw new HttpError(404, `no route ${url.pathname}: POST an image to /predict, or GET /health`);
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} /predict: POST the image's bytes as the body`, { allow: 'POST' });
    const k = topKOf(url, o.topK, desc.numClasses);
    const body = await readBody(req, o.maxBytes);
    if (body.length === 0) throw new HttpError(400, "the body is empty: POST a PNG or JPEG file's bytes (curl --data-binary @cat.png)");
    let image: io.Image;
    try {
      image = io.decodeImage(body, { mode: 'rgb', name: 'the request body', maxPixels: o.maxPixels });
    } catch (e) {
      // 415 for what is not an image at all, 400 for a corrupt or oversized one.
      throw new HttpError(io.imageFormat(body) === null ? 415 : 400, (e as Error).message.split('\n')[0].replace(/^decodeImage: /, ''));
    }
    send(res, 200, await batcher.classify(image, k));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof HttpError) send(res, e.status, { error: e.message }, e.headers);
      else send(res, 500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const fix = e.code === 'EADDRINUSE' ? ': another program uses it; pick another --port (0: any free one)' : e.code === 'EACCES' ? ': ports below 1024 need privileges; pick a higher --port' : '';
      reject(new UsageError(`cannot listen on ${o.host}:${o.port}: ${e.code ?? e.message}${fix}`));
    });
    server.listen(o.port, o.host, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
  });
}

/** http://host:port of a listening server. */
export function urlOf(server: Server): string {
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}
