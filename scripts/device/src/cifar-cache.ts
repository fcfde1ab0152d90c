/**
 * CIFAR-10 from the JPEG image-folder archive into the binary version's layout, once, at the
 * start of a device run (the binary archive is too large to carry; decoding JPEGs every epoch
 * would time the decoder, not the training):
 *
 *   node .device/bundle/cifar-cache.mjs --archive .device/cifar-10-jpeg.tar.gz --out /tmp/cifar10
 *
 * The archive holds cifar-10-jpeg/{train,test}/<class>/*.jpg. It is extracted with tar, listed
 * with @dl/vision's ImageFolder (class folders sorted by name: CIFAR-10's label order) and decoded
 * with @dl/vision's readImage in worker threads. The result,
 *   <out>/cifar-10-batches-bin/data_batch_1..5.bin, test_batch.bin, batches.meta.txt
 * (records of 1 label byte and 3,072 pixel bytes: the R, G and B planes, 32x32 each; records in a
 * fixed shuffled order), is read by @dl/vision's CIFAR10 and by numpy in torch_cuda_bench.py.
 * Prints JSON lines {suite: 'data', metric, value, unit}: extraction and decoding seconds.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as T from '@dl/tensor';
import { datasets, io } from '@dl/vision';

const RECORD = 1 + 3072;

interface Job {
  samples: [string, number][];
  /** Records of this job's samples, in order. */
  records: SharedArrayBuffer;
}

/** Decodes a job's images into CIFAR records (label, then the R, G and B planes). */
function decode({ samples, records }: Job): void {
  const out = new Uint8Array(records);
  samples.forEach(([path, label], i) => {
    const img = io.readImage(path, { mode: 'rgb' });
    if (img.height !== 32 || img.width !== 32) throw new Error(`${path} is ${img.width}x${img.height}; CIFAR images are 32x32`);
    const base = i * RECORD;
    out[base] = label;
    for (let p = 0; p < 1024; p++) {
      out[base + 1 + p] = img.data[p * 3];
      out[base + 1025 + p] = img.data[p * 3 + 1];
      out[base + 2049 + p] = img.data[p * 3 + 2];
    }
  });
}

/** All records of a split, decoded by `workers` threads in contiguous parts. */
async function decodeSplit(samples: [string, number][], workers: number): Promise<Uint8Array> {
  const parts = Math.max(1, Math.min(workers, samples.length));
  const size = Math.ceil(samples.length / parts);
  const jobs: Job[] = [];
  for (let s = 0; s < samples.length; s += size) {
    const part = samples.slice(s, s + size);
    jobs.push({ samples: part, records: new SharedArrayBuffer(part.length * RECORD) });
  }
  await Promise.all(
    jobs.map(
      (job) =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: job });
          w.once('error', reject);
          w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a decoding worker exited with code ${code}`))));
        }),
    ),
  );
  const all = new Uint8Array(samples.length * RECORD);
  let at = 0;
  for (const job of jobs) {
    all.set(new Uint8Array(job.records), at);
    at += job.records.byteLength;
  }
  return all;
}

/** The records in a fixed pseudo-random order (seed 0), as the binary version's batches are shuffled. */
function shuffled(records: Uint8Array): Uint8Array {
  const n = records.length / RECORD;
  const perm = T.randperm(n, { generator: new T.Generator(0) });
  const order = perm.dataSync();
  perm.dispose();
  const out = new Uint8Array(records.length);
  for (let dst = 0; dst < n; dst++) out.set(records.subarray(order[dst] * RECORD, (order[dst] + 1) * RECORD), dst * RECORD);
  return out;
}

async function main(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      archive: { type: 'string' },
      out: { type: 'string' },
      workers: { type: 'string', default: String(Math.min(16, availableParallelism())) },
    },
  });
  if (!opt.archive || !opt.out) throw new Error('usage: cifar-cache.mjs --archive cifar-10-jpeg.tar.gz --out DIR [--workers N]');
  const workers = Number(opt.workers);
  const line = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) => console.log(JSON.stringify({ suite: 'data', metric, value, unit, ...extra }));

  const jpegDir = join(opt.out, 'jpeg');
  rmSync(jpegDir, { recursive: true, force: true });
  mkdirSync(jpegDir, { recursive: true });
  let t0 = performance.now();
  const tar = spawnSync('tar', ['-xzf', opt.archive, '-C', jpegDir], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`tar -xzf ${opt.archive} failed: ${tar.stderr.trim()}`);
  line('data-extract', (performance.now() - t0) / 1e3, 's');

  t0 = performance.now();
  const splits = ['train', 'test'].map((split) => new datasets.ImageFolder(join(jpegDir, 'cifar-10-jpeg', split)));
  const [train, test] = splits;
  if (train.classes.join() !== test.classes.join()) throw new Error(`train and test have different classes: ${train.classes} / ${test.classes}`);
  if (train.length < 5) throw new Error(`only ${train.length} training images: the binary layout has 5 training batches`);
  const [trainRecords, testRecords] = [shuffled(await decodeSplit(train.samples, workers)), shuffled(await decodeSplit(test.samples, workers))];
  const seconds = (performance.now() - t0) / 1e3;
  const images = train.length + test.length;
  line('data-decode', seconds, 's', { images, workers, images_per_s: images / seconds, train: train.length, test: test.length });

  const bin = join(opt.out, 'cifar-10-batches-bin');
  mkdirSync(bin, { recursive: true });
  const bound = (b: number) => Math.floor((b * train.length) / 5) * RECORD;
  for (let b = 0; b < 5; b++) writeFileSync(join(bin, `data_batch_${b + 1}.bin`), trainRecords.subarray(bound(b), bound(b + 1)));
  writeFileSync(join(bin, 'test_batch.bin'), testRecords);
  writeFileSync(join(bin, 'batches.meta.txt'), `${train.classes.join('\n')}\n`);
  rmSync(jpegDir, { recursive: true, force: true });
}

if (isMainThread) {
  main().catch((e) => {
    console.error(`cifar-cache: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
} else {
  decode(workerData as Job);
  parentPort?.close();
}
