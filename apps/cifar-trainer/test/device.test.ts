/**
 * --device cuda: without a usable GPU every command stops before any work with one line naming
 * the reason and the fix; with one, train/eval/predict run on it and train to the losses of the
 * CPU (those tests skip, with the reason in their names, without a GPU). The GPU tests use a
 * small synthetic CIFAR-10 written here, so they need no dataset.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '@dl/tensor';
import { cudaTestNames } from '@dl/tensor/testing';
import { io } from '@dl/vision';
import { afterAll, describe, expect, it } from 'vitest';
import { recipe, type TrainConfig } from '../src/config.js';
import { train } from '../src/train.js';
import { cli } from './helpers.js';

const { status, gpu, needsGpu, withoutGpu } = cudaTestNames();
const tmp = mkdtempSync(join(tmpdir(), 'dl-trainer-device-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A synthetic cifar-10-batches-bin in dir: `perBatch` random records per training batch, `test` test records. Returns dir (for --data-dir). */
function fakeCifar(dir: string, perBatch: number, test: number): string {
  const folder = join(dir, 'cifar-10-batches-bin');
  mkdirSync(folder, { recursive: true });
  let seed = 1;
  const byte = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 24;
  };
  const records = (n: number) => {
    const buf = Buffer.alloc(n * 3073);
    for (let i = 0; i < n; i++) {
      const label = byte() % 10;
      buf[i * 3073] = label;
      // Class-dependent colour so that a few steps learn something.
      for (let p = 0; p < 3072; p++) buf[i * 3073 + 1 + p] = (label * 25 + (byte() >> 2)) & 255;
    }
    return buf;
  };
  for (let b = 1; b <= 5; b++) writeFileSync(join(folder, `data_batch_${b}.bin`), records(perBatch));
  writeFileSync(join(folder, 'test_batch.bin'), records(test));
  writeFileSync(join(folder, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n');
  return dir;
}

describe('--device cuda without a usable GPU', () => {
  it.skipIf(gpu)(withoutGpu('train, eval and predict stop before any work with one line naming the reason and the fix'), async () => {
    const outDir = join(tmp, 'never');
    const missing = join(tmp, 'no-data-here');
    for (const args of [
      ['train', '--device', 'cuda', '--data-dir', missing, '--out-dir', outDir],
      ['eval', '--device', 'cuda', '--data-dir', missing, '--model-dir', outDir],
      ['predict', join(tmp, 'x.png'), '--device', 'cuda', '--model-dir', outDir],
    ]) {
      const r = await cli(...args);
      expect(r.code, args[0]).toBe(1);
      expect(r.err.endsWith('\n') && r.err.split('\n').length === 2, r.err).toBe(true);
      expect(r.err).toMatch(/^cifar-trainer: cuda\.init: CUDA is not available: /);
      expect(r.err).toContain(status.reason);
      expect(r.err).toContain(`hint: ${status.fix}`);
    }
    expect(existsSync(outDir)).toBe(false);
  });

  it('doctor prints the CUDA section', async () => {
    const r = await cli('doctor');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(!gpu ? /cuda: not available \(/ : status.probe?.emulated ? /cuda: available, emulated on the host CPU/ : /cuda: available; driver /);
  });
});

describe.skipIf(!gpu)(needsGpu('--device cuda end to end'), () => {
  const metrics = (dir: string) => JSON.parse(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]);

  it('train on cuda gives the losses of the CPU run; eval and predict run on cuda', async () => {
    const data = fakeCifar(join(tmp, 'data'), 64, 100);
    const args = ['--epochs', '1', '--batch-size', '32', '--optimizer', 'adam', '--lr', '0.003', '--scheduler', 'none', '--data-dir', data];
    const onCpu = join(tmp, 'cpu');
    const onGpu = join(tmp, 'gpu');
    expect((await cli('train', ...args, '--out-dir', onCpu)).code).toBe(0);
    const r = await cli('train', ...args, '--device', 'cuda', '--out-dir', onGpu);
    expect(r.err).not.toMatch(/cifar-trainer:/);
    expect(r.code).toBe(0);
    const [a, b] = [metrics(onCpu), metrics(onGpu)];
    expect(Math.abs(a.trainLoss - b.trainLoss)).toBeLessThan(1e-3 * Math.max(1, a.trainLoss));
    expect(Math.abs(a.testLoss - b.testLoss)).toBeLessThan(1e-3 * Math.max(1, a.testLoss));
    const ev = await cli('eval', '--device', 'cuda', '--model-dir', onGpu, '--data-dir', data);
    expect(ev.code).toBe(0);
    expect(ev.out).toMatch(/accuracy: [\d.]+% on 100 test images/);
    const png = join(tmp, 'img.png');
    writeFileSync(png, io.encodePng({ data: new Uint8Array(32 * 32 * 3).fill(90), height: 32, width: 32, channels: 3 }));
    const pr = await cli('predict', png, '--device', 'cuda', '--model-dir', onGpu, '--top-k', '2');
    expect(pr.code).toBe(0);
    expect(pr.out).toMatch(/img\.png: \w+ [\d.]+%, \w+ [\d.]+%/);
  }, 300_000);

  it('a cuda run stopped mid-epoch and resumed ends bit-identical to an uninterrupted one (optimizer state and scheduler on the device)', async () => {
    const data = fakeCifar(join(tmp, 'data-resume'), 32, 20);
    const cfg: TrainConfig = { ...recipe('default'), epochs: 2, batchSize: 32, testBatchSize: 20, device: 'cuda' };
    const [a, b] = [join(tmp, 'resume-a'), join(tmp, 'resume-b')];
    const quiet = () => {};
    await train(cfg, { dataDir: data, outDir: a, resume: false, log: quiet });
    expect((await train(cfg, { dataDir: data, outDir: b, resume: false, log: quiet, stopAfterBatches: 3 })).interrupted).toBe(true);
    expect((await train(cfg, { dataDir: data, outDir: b, resume: true, log: quiet })).interrupted).toBe(false);
    const [wa, wb] = [a, b].map((d) => loadSafetensors(join(d, 'model.safetensors')).tensors);
    for (const k of Object.keys(wa)) expect(Array.from(wb[k].dataSync()), k).toEqual(Array.from(wa[k].dataSync()));
  }, 300_000);
});
