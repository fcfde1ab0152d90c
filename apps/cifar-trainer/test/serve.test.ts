import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '@dl/autograd';
import { manualSeed } from '@dl/tensor';
import { io, transforms } from '@dl/vision';
import { saveModel } from '../src/artifacts.js';
import type { Top } from '../src/predict.js';
import { Classifier } from '../src/predict.js';
import { Batcher, serve, urlOf } from '../src/serve.js';
import { buildModel } from '../src/setup.js';
import { machinery, typescriptKernels } from './helpers.js';

const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const MEAN = [0.49, 0.48, 0.45];
const STD = [0.25, 0.24, 0.26];
const tmp = mkdtempSync(join(tmpdir(), 'dl-serve-'));
const modelDir = join(tmp, 'model');
const resnetDir = join(tmp, 'resnet18');
let classifier: Classifier;
let server: Server;
let base = '';

/** A random-looking w x h RGB image (deterministic in `seed`). */
function image(seed: number, w = 32, h = 32): io.Image {
  const data = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 2654435761 + seed * 40503) >>> 24);
  return { data, height: h, width: w, channels: 3 };
}
const png = (img: io.Image) => io.encodePng(img);

/** The reference: the model's logits for the preprocessed image, softmax in float64, sorted. */
function reference(img: io.Image, model = classifier.model): Top[] {
  const pipeline = new transforms.Compose([new transforms.Resize([32, 32]), new transforms.ToTensor(), new transforms.Normalize(MEAN, STD)]);
  const logits = noGrad(() => Array.from(model.forward(pipeline.apply(img).unsqueeze(0)).dataSync() as Float32Array));
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v, c) => ({ label: CLASSES[c], probability: v / z })).sort((a, b) => b.probability - a.probability);
}

function expectClose(got: Top[], want: Top[]): void {
  expect(got.map((t) => t.label)).toEqual(want.map((t) => t.label));
  for (const [i, t] of got.entries()) expect(t.probability).toBeCloseTo(want[i].probability, 5);
}

async function post(path: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body, headers });
  return { status: r.status, json: (await r.json()) as Record<string, unknown>, headers: r.headers };
}

beforeAll(async () => {
  manualSeed(3);
  for (const [dir, architecture] of [[modelDir, 'tutorial'], [resnetDir, 'resnet18']] as const) {
    mkdirSync(dir);
    saveModel(dir, buildModel(architecture, 10), { format: 'dl-cifar-trainer/1', architecture, numClasses: 10, classes: CLASSES, mean: MEAN, std: STD, inputShape: [3, 32, 32], epochs: 1, testAccuracy: null });
  }
  classifier = new Classifier(modelDir);
  server = await serve(classifier, { port: 0, maxBytes: 64 * 1024, maxPixels: 512 * 512 });
  base = urlOf(server);
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

describe('serve: a trained model behind HTTP', () => {
  it('GET /health names the model, its classes and device', async () => {
    const r = await fetch(`${base}/health`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await r.json()).toEqual({ status: 'ok', architecture: 'tutorial', classes: CLASSES, device: 'cpu' });
  });

  it('POST /predict answers the top-k classes of a PNG, as the model and a float64 softmax say', async () => {
    const img = image(1);
    const r = await post('/predict', png(img), { 'content-type': 'image/png' });
    expect(r.status).toBe(200);
    const top = r.json.top as Top[];
    expect(top).toHaveLength(3);
    expectClose(top, reference(img).slice(0, 3));
  });

  it('?k= asks for another number of classes: all 10 sum to 1; a bad k is a 400', async () => {
    const img = image(2);
    const all = (await post('/predict?k=10', png(img))).json.top as Top[];
    expectClose(all, reference(img));
    expect(all.reduce((a, t) => a + t.probability, 0)).toBeCloseTo(1, 5);
    expect(((await post('/predict?k=50', png(img))).json.top as Top[]).length).toBe(10);
    for (const k of ['0', 'two', '-1']) {
      const bad = await post(`/predict?k=${k}`, png(img));
      expect(bad.status).toBe(400);
      expect(bad.json.error).toBe(`k must be a positive integer; got '${k}'`);
    }
  });

  it('a JPEG of another size is resized to 32x32 first, as predict does', async () => {
    const img = image(3, 48, 40);
    const jpg = jpeg.encode({ data: Buffer.from(io.convertImage(img, 'rgba').data), width: 48, height: 40 }, 95).data;
    const r = await post('/predict?k=5', jpg);
    expect(r.status).toBe(200);
    expectClose(r.json.top as Top[], reference(io.decodeImage(jpg)).slice(0, 5));
  });

  it('concurrent requests each get their own answer (batched or not)', async () => {
    const imgs = Array.from({ length: 24 }, (_, i) => image(10 + i));
    const answers = await Promise.all(imgs.map((img) => post('/predict', png(img))));
    answers.forEach((r, i) => {
      expect(r.status).toBe(200);
      expectClose(r.json.top as Top[], reference(imgs[i]).slice(0, 3));
      expect(r.json.batch).toBeGreaterThanOrEqual(1);
    });
  });

  it('bad requests get a 4xx and a JSON error that says what to send', async () => {
    const empty = await post('/predict', new Uint8Array(0));
    expect([empty.status, empty.json.error]).toEqual([400, "the body is empty: POST a PNG or JPEG file's bytes (curl --data-binary @cat.png)"]);
    const text = await post('/predict', 'hello');
    expect(text.status).toBe(415);
    expect(text.json.error).toBe('cannot decode the request body: not a JPEG or PNG file (it starts with bytes 68 65 6c 6c 6f)');
    const cut = await post('/predict', png(image(4)).subarray(0, 60));
    expect(cut.status).toBe(400);
    expect(cut.json.error).toMatch(/^cannot decode the request body as PNG: /);
    const huge = await post('/predict', io.encodePng({ data: new Uint8Array(600 * 600), height: 600, width: 600, channels: 1 }));
    expect(huge.status).toBe(400);
    expect(huge.json.error).toBe('cannot decode the request body: it is 600x600 = 360000 pixels, over the limit of 262144');
    const tooLong = await post('/predict', new Uint8Array(64 * 1024 + 1));
    expect(tooLong.status).toBe(413);
    expect(tooLong.json.error).toBe('the body is 65537 bytes; the limit is 65536 (start the server with a larger --max-bytes)');
    const get = await fetch(`${base}/predict`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    expect(((await get.json()) as { error: string }).error).toBe("GET /predict: POST the image's bytes as the body");
    const missing = await fetch(`${base}/models`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('no route /models: POST an image to /predict, or GET /health');
    // The server still answers after all that.
    expect((await post('/predict', png(image(6)))).status).toBe(200);
  });

  it('a chunked body over the limit is cut off with a 413', async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(16 * 1024));
        c.close();
      },
    });
    const r = await fetch(`${base}/predict`, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toBe('the body is over the limit of 65536 bytes (start the server with a larger --max-bytes)');
  });
});

describe('Batcher: requests waiting together share one forward pass', () => {
  const fake = () => {
    const calls: number[] = [];
    return {
      calls,
      classify: (images: io.Image[], k: number) => {
        calls.push(images.length);
        if (images.some((img) => img.width === 0)) throw new Error('bad batch');
        return images.map((img) => Array.from({ length: k }, (_, j) => ({ label: `w${img.width}`, probability: j })));
      },
    };
  };
  const blank = (w: number): io.Image => ({ data: new Uint8Array(w * 3), height: 1, width: w, channels: 3 });

  it('what queues up before the event loop is free is classified in batches of at most maxBatch', async () => {
    const f = fake();
    const b = new Batcher(f, 4);
    const answers = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((w) => b.classify(blank(w), 1 + (w % 3))));
    expect(f.calls).toEqual([4, 4, 2]);
    answers.forEach((a, i) => {
      expect(a.top.map((t) => t.label)).toEqual(Array((1 + ((i + 1) % 3))).fill(`w${i + 1}`));
      expect(a.batch).toBe(i < 8 ? 4 : 2);
    });
    expect((await b.classify(blank(3), 2)).batch).toBe(1);
  });

  it('with waitMs, a batch waits for later requests, and goes at once when full', async () => {
    const f = fake();
    const b = new Batcher(f, 3, 1000);
    const first = b.classify(blank(1), 1);
    await new Promise((r) => setTimeout(r, 10));
    const second = b.classify(blank(2), 1);
    expect([(await first).batch, (await second).batch]).toEqual([2, 2]);
    // A full batch does not wait out its minute (the test would time out).
    const patient = new Batcher(f, 3, 60_000);
    const full = await Promise.all([1, 2, 3].map((w) => patient.classify(blank(w), 1)));
    expect(full.map((a) => a.batch)).toEqual([3, 3, 3]);
    expect(f.calls).toEqual([2, 3]);
  });

  it('a failing batch rejects its own requests only', async () => {
    const f = fake();
    const b = new Batcher(f, 2);
    const r = await Promise.allSettled([b.classify(blank(0), 1), b.classify(blank(1), 1), b.classify(blank(2), 1)]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
  });
});

const cliJs = join(import.meta.dirname, '..', 'dist', 'cli.js');

/** `cifar-trainer serve ...args` in a child process, once it says where it listens. */
async function startServe(...args: string[]): Promise<{ child: ChildProcess; url: string; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, [cliJs, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('close', () => reject(new Error(`serve exited early: ${out} ${err}`)));
  });
  return { child, url, out: () => out, err: () => err };
}

/**
 * POSTs every body to /predict at once: one connection each, all connected first, then every
 * request written in one go, so they reach the server together however busy this process is.
 */
async function burst(url: string, bodies: Uint8Array[]): Promise<unknown[]> {
  const { hostname, port } = new URL(url);
  const sockets = await Promise.all(bodies.map(() => new Promise<Socket>((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s));
    s.on('error', reject);
  })));
  const answers = sockets.map((s) => new Promise<unknown>((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      resolve(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)));
    });
  }));
  sockets.forEach((s, i) => {
    const head = `POST /predict HTTP/1.1\r\nhost: ${hostname}\r\nconnection: close\r\ncontent-length: ${bodies[i].length}\r\n\r\n`;
    // One write, so that the body is not held back by Nagle's algorithm.
    s.write(Buffer.concat([Buffer.from(head), bodies[i]]));
  });
  return Promise.all(answers);
}

describe('cifar-trainer serve (the CLI, in a child process)', () => {
  it('listens, answers, and stops on SIGTERM with exit code 0; a used port is one clear line', async () => {
    const { child, url, out, err } = await startServe('--model-dir', modelDir);
    expect(out()).toMatch(/serving tutorial from .* on cpu at http:\/\/127\.0\.0\.1:\d+: POST an image to \/predict/);
    const img = image(7);
    const r = await fetch(`${url}/predict`, { method: 'POST', body: png(img) });
    expectClose(((await r.json()) as { top: Top[] }).top, reference(img).slice(0, 3));

    const port = new URL(url).port;
    const second = spawn(process.execPath, [cliJs, 'serve', '--model-dir', modelDir, '--port', port], { stdio: ['ignore', 'pipe', 'pipe'] });
    let secondErr = '';
    second.stderr.on('data', (d) => (secondErr += d));
    expect(await new Promise((r) => second.on('close', r))).toBe(1);
    expect(secondErr).toBe(`cifar-trainer: cannot listen on 127.0.0.1:${port}: EADDRINUSE: another program uses it; pick another --port (0: any free one)\n`);

    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('close', r))).toBe(0);
    expect(out()).toMatch(/SIGTERM: finishing the requests in flight, then stopping/);
    expect(err()).toBe('');
  }, 60_000);

  it.skipIf(typescriptKernels)(machinery('requests that arrive within --batch-wait-ms share a forward pass (ResNet-18, batches of at most 8)'), async () => {
    const { child, url } = await startServe('--model-dir', resnetDir, '--max-batch', '8', '--batch-wait-ms', '300');
    try {
      const resnet = new Classifier(resnetDir);
      const imgs = Array.from({ length: 32 }, (_, i) => image(50 + i));
      const answers = (await burst(url, imgs.map(png))) as { top: Top[]; batch: number }[];
      for (const [i, a] of answers.entries()) expectClose(a.top, reference(imgs[i], resnet.model).slice(0, 3));
      const sizes = answers.map((a) => a.batch);
      expect(Math.max(...sizes)).toBeGreaterThan(1);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(8);
      // n answers saying "batch of n" per pass of n images.
      for (const n of new Set(sizes)) expect(sizes.filter((b) => b === n).length % n).toBe(0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('close', r));
    }
  }, 120_000);
});
