import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors, loadState, saveState } from '@dl/tensor';
import { listEventFiles, readEvents } from '@dl/tensorboard';
import { io } from '@dl/vision';
import { recipe } from '../src/config.js';
import type { TrainConfig } from '../src/config.js';
import { loadCifar } from '../src/data.js';
import { resolveDataDir } from '../src/data-dir.js';
import { cli, machinery, typescriptKernels } from './helpers.js';
import { train } from '../src/train.js';

const tmp = mkdtempSync(join(tmpdir(), 'dl-trainer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = () => {};
let dataDir = '';

const small = (over: Partial<TrainConfig> = {}): TrainConfig => ({ ...recipe('default'), epochs: 1, limitTrain: 1024, limitTest: 200, ...over });

beforeAll(async () => {
  dataDir = await resolveDataDir(undefined, quiet);
}, 120_000);

describe('cifar-trainer end to end (shared CIFAR-10, a few thousand images)', () => {
  const out = join(tmp, 'run');

  it('train: one short epoch writes checkpoint, weights, description, metrics and report', async () => {
    // Adam learns visibly within one pass over 2,048 images (the default recipe's one-cycle needs more steps).
    const r = await cli('train', '--epochs', '1', '--limit-train', '2048', '--limit-test', '500', '--optimizer', 'adam', '--lr', '0.003', '--scheduler', 'none', '--data-dir', dataDir, '--out-dir', out);
    expect(r.err).not.toMatch(/cifar-trainer:/);
    expect(r.code).toBe(0);
    // Not a terminal: plain progress lines on stderr.
    expect(r.err).toMatch(/epoch 1\/1 16\/16 batches \| loss \d\.\d+ {2}acc [\d.]+% {2}\d+ img\/s/);
    expect(r.out).toMatch(/epoch 1\/1: train loss \d\.\d+ acc [\d.]+% \| test loss \d\.\d+ acc [\d.]+%/);
    for (const f of ['checkpoint.safetensors', 'model.safetensors', 'model.json', 'metrics.jsonl', 'report.html']) expect(existsSync(join(out, f)), f).toBe(true);
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics).toHaveLength(1);
    // Better than chance (10%) after one pass over 2,048 images.
    expect(metrics[0].testAccuracy).toBeGreaterThan(0.15);
    const desc = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(desc.classes).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(Object.keys(loadSafetensors(join(out, 'model.safetensors')).tensors)).toContain('fc3.weight');
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 300_000);

  it('--tensorboard writes event files TensorBoard reads: the epoch metrics as in metrics.jsonl, running loss, histograms, images, config', async () => {
    const dir = join(tmp, 'tb');
    const r = await cli('train', '--recipe', 'tutorial', '--epochs', '2', '--batch-size', '64', '--limit-train', '256', '--limit-test', '100', '--data-dir', dataDir, '--out-dir', dir, '--tensorboard');
    expect(r.err).not.toMatch(/cifar-trainer:/);
    expect(r.code).toBe(0);
    const files = listEventFiles(join(dir, 'tensorboard'));
    expect(files).toHaveLength(1);
    const events = readEvents(files[0]);
    const values = events.flatMap((e) => (e.summary?.value ?? []).map((v) => ({ step: e.step, ...v })));
    const scalars = (tag: string) => values.filter((v) => v.tag === tag).map((v) => [v.step, v.simpleValue]);
    const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // 256 images in batches of 64: 4 steps an epoch, so the epochs end at steps 4 and 8.
    expect(scalars('Loss/test')).toEqual(metrics.map((m, i) => [4 * (i + 1), Math.fround(m.testLoss)]));
    expect(scalars('Accuracy/train')).toEqual(metrics.map((m, i) => [4 * (i + 1), Math.fround(m.trainAccuracy)]));
    expect(scalars('Learning rate')).toEqual(metrics.map((m, i) => [4 * (i + 1), Math.fround(m.lr)]));
    // Fewer than 20 batches an epoch: the running figures after every batch; the last one of an epoch is its train loss.
    const running = scalars('Loss/train (running)');
    expect(running.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(running[3][1]).toBeCloseTo(metrics[0].trainLoss, 6);
    const histo = values.find((v) => v.tag === 'Parameters/conv1.weight' && v.step === 8)?.histo;
    expect(histo?.num).toBe(6 * 3 * 5 * 5);
    const image = values.find((v) => v.tag === 'Images/first training batch')?.image;
    // 16 images of 32x32, 8 to a row.
    expect([image?.width, image?.height]).toEqual([256, 64]);
    expect(values.some((v) => v.tag === 'config/text_summary')).toBe(true);
  }, 300_000);

  it("an epoch ends with the short last batch, as PyTorch's DataLoader (drop_last=False); --drop-last skips it", async () => {
    const base = ['train', '--recipe', 'tutorial', '--epochs', '1', '--limit-train', '300', '--limit-test', '100', '--data-dir', dataDir];
    const kept = await cli(...base, '--out-dir', join(tmp, 'last-kept'));
    expect(kept.code).toBe(0);
    // 300 images in batches of 128: 128 + 128 + 44.
    expect(kept.err).toMatch(/epoch 1\/1 3\/3 batches/);
    const dropped = await cli(...base, '--drop-last', '--out-dir', join(tmp, 'last-dropped'));
    expect(dropped.code).toBe(0);
    expect(dropped.err).toMatch(/epoch 1\/1 2\/2 batches/);
    expect(dropped.err).not.toMatch(/3\/3 batches/);
  }, 300_000);

  it.skipIf(typescriptKernels)(machinery('--model vit: the Vision Transformer trains with AdamW, and eval loads it'), async () => {
    const dir = join(tmp, 'vit');
    const r = await cli('train', '--model', 'vit', '--epochs', '1', '--batch-size', '32', '--limit-train', '64', '--limit-test', '32', '--optimizer', 'adamw', '--lr', '0.001', '--scheduler', 'none', '--data-dir', dataDir, '--out-dir', dir);
    expect(r.err).not.toMatch(/cifar-trainer:/);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).architecture).toBe('vit');
    expect(Object.keys(loadSafetensors(join(dir, 'model.safetensors')).tensors)).toContain('layers.5.selfAttn.inProjWeight');
    const e = await cli('eval', '--model-dir', dir, '--data-dir', dataDir, '--limit-test', '32');
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/accuracy: [\d.]+% on 32 test images/);
  }, 300_000);

  it('eval prints accuracy, per-class accuracy and the confusion matrix', async () => {
    const r = await cli('eval', '--model-dir', out, '--data-dir', dataDir, '--limit-test', '500');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/accuracy: [\d.]+% on 500 test images/);
    expect(r.out).toMatch(/airplane\s+[\d.]+%/);
    expect(r.out).toMatch(/true \\ pred/);
    const rows = r.out.split('\n').filter((l) => /^(airplane|truck)\s+\d+\s+\d+/.test(l));
    expect(rows).toHaveLength(2);
  }, 120_000);

  it('predict prints the top-k classes with probabilities for a PNG', async () => {
    const test = loadCifar(dataDir, false, 1);
    const png = join(tmp, 'img.png');
    const hwc = test.images.select(0, 0).permute(1, 2, 0).contiguous();
    writeFileSync(png, io.encodePng({ data: hwc.dataSync() as Uint8Array, height: 32, width: 32, channels: 3 }));
    const r = await cli('predict', png, '--model-dir', out, '--top-k', '3');
    expect(r.code).toBe(0);
    const m = /img\.png: (\w+) ([\d.]+)%, (\w+) ([\d.]+)%, (\w+) ([\d.]+)%/.exec(r.out);
    expect(m).not.toBe(null);
    const probs = [m![2], m![4], m![6]].map(Number);
    expect(probs[0]).toBeGreaterThanOrEqual(probs[1]);
    expect(probs[1]).toBeGreaterThanOrEqual(probs[2]);
  }, 60_000);

  it('the HTML report holds the curves, per-class accuracy, confusion matrix and a grid of predictions', async () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/<svg[^>]+aria-label="Loss"/);
    expect(html).toMatch(/<svg[^>]+aria-label="Accuracy"/);
    expect(html).toContain('Per-class test accuracy');
    expect(html).toContain('class="confusion"');
    expect((html.match(/src="data:image\/png;base64,/g) ?? []).length).toBe(64);
    expect(html).not.toMatch(/<script|src="http/);
  });
});

describe('resume', () => {
  it.skipIf(typescriptKernels)(machinery('a run stopped mid-epoch and resumed ends bit-identical to an uninterrupted run'), async () => {
    const cfg = small({ epochs: 2, limitTrain: 640, limitTest: 100 });
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    await train(cfg, { dataDir, outDir: a, resume: false, log: quiet });
    const stopped = await train(cfg, { dataDir, outDir: b, resume: false, log: quiet, stopAfterBatches: 7 });
    expect(stopped.interrupted).toBe(true);
    const resumed = await train(cfg, { dataDir, outDir: b, resume: true, log: quiet });
    expect(resumed.interrupted).toBe(false);
    const wa = loadSafetensors(join(a, 'model.safetensors')).tensors;
    const wb = loadSafetensors(join(b, 'model.safetensors')).tensors;
    for (const k of Object.keys(wa)) expect(Array.from(wb[k].dataSync()), k).toEqual(Array.from(wa[k].dataSync()));
    expect(resumed.history.map((h) => h.testAccuracy)).toEqual(JSON.parse(`[${readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').join(',')}]`).map((h: { testAccuracy: number }) => h.testAccuracy));
  }, 300_000);
});

describe('--scheduler plateau', () => {
  it.skipIf(typescriptKernels)(machinery("lowers the lr tenfold once the test loss has not improved for more than 2 epochs (PyTorch's ReduceLROnPlateau)"), async () => {
    // lr 1e-6: the test loss moves by far less than the 1e-4 relative threshold, so epochs 2, 3
    // and 4 are bad ones; the third of them (3 > patience 2) lowers the lr.
    const cfg = small({ model: 'tutorial', scheduler: 'plateau', lr: 1e-6, augment: 'none', epochs: 4, limitTrain: 256, limitTest: 100 });
    const r = await train(cfg, { dataDir, outDir: join(tmp, 'plateau'), resume: false, log: quiet });
    const lrs = r.history.map((h) => h.lr);
    expect(lrs.slice(0, 3)).toEqual([1e-6, 1e-6, 1e-6]);
    expect(lrs[3]).toBeCloseTo(1e-7, 20);
  }, 300_000);
});

describe('worker threads and Ctrl-C', () => {
  it.skipIf(typescriptKernels)(machinery('--workers 2 trains to the same weights as --workers 0 (same batch order, augmentation on the main thread)'), async () => {
    const cfg = small({ epochs: 1, limitTrain: 512, limitTest: 50 });
    const a = join(tmp, 'w0');
    const b = join(tmp, 'w2');
    await train(cfg, { dataDir, outDir: a, resume: false, log: quiet });
    await train({ ...cfg, workers: 2 }, { dataDir, outDir: b, resume: false, log: quiet });
    const wa = loadSafetensors(join(a, 'model.safetensors')).tensors;
    const wb = loadSafetensors(join(b, 'model.safetensors')).tensors;
    for (const k of Object.keys(wa)) expect(Array.from(wb[k].dataSync()), k).toEqual(Array.from(wa[k].dataSync()));
  }, 300_000);

  it.skipIf(typescriptKernels)(machinery('SIGINT saves a checkpoint and exits with 130; --resume then finishes the run'), async () => {
    const cliJs = join(import.meta.dirname, '..', 'dist', 'cli.js');
    const dir = join(tmp, 'sigint');
    const args = [cliJs, 'train', '--epochs', '2', '--limit-train', '4096', '--limit-test', '100', '--data-dir', dataDir, '--out-dir', dir];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      // Interrupt once training has started (the first progress line).
      if (/batches \|/.test(err) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(130);
    expect(out).toMatch(/interrupted: checkpoint saved after epoch 1, batch \d+/);
    expect(existsSync(join(dir, 'checkpoint.safetensors'))).toBe(true);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    const resumed = spawnSync(process.execPath, [...args, '--resume'], { encoding: 'utf8' });
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/resuming from .* at epoch 1, batch \d+/);
    expect(resumed.stdout).toMatch(/epoch 2\/2: train loss/);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
  }, 300_000);
});

describe('doctor', () => {
  it('reports the backends, the CPU kernels in use and threads', async () => {
    const r = await cli('doctor');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/cpu/);
    expect(r.out).toMatch(/thread/i);
    expect(r.out).toMatch(/reference/);
  });
});

describe('bad input: one clear line, non-zero exit, nothing half-written', () => {
  it('unknown flag and invalid values name the valid ones', async () => {
    const a = await cli('train', '--epoch', '3');
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/unknown option '--epoch'[\s\S]*Did you mean --epochs\?/);
    const b = await cli('train', '--model', 'vgg');
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/argument 'vgg' is invalid\. Allowed choices are tutorial, resnet9, resnet18, vit/);
    const c = await cli('train', '--epochs', '0', '--data-dir', dataDir, '--out-dir', join(tmp, 'never'));
    expect(c.code).toBe(1);
    expect(c.err).toBe("cifar-trainer: --epochs: expected an integer >= 1; got '0'\n");
  });

  it('missing data says where to put the archive', async () => {
    const r = await cli('eval', '--model-dir', join(tmp, 'run'), '--data-dir', join(tmp, 'no-data-here'));
    expect(r.code).toBe(1);
    // The downloader may report the failed mirror on its way; the error itself is one line.
    const errors = r.err.trim().split('\n').filter((l) => l.startsWith('cifar-trainer:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/CIFAR-10 is not in .*no-data-here and could not be downloaded \(.*\); put cifar-10-binary\.tar\.gz into .*no-data-here, or pass --data-dir/);
  });

  it.skipIf(typescriptKernels)(machinery('a corrupt checkpoint is refused and left untouched'), async () => {
    const dir = join(tmp, 'corrupt');
    await cli('train', '--epochs', '1', '--limit-train', '256', '--limit-test', '50', '--data-dir', dataDir, '--out-dir', dir);
    const path = join(dir, 'checkpoint.safetensors');
    const bytes = readFileSync(path);
    const broken = bytes.subarray(0, bytes.length - 100);
    writeFileSync(path, broken);
    const r = await cli('train', '--epochs', '1', '--limit-train', '256', '--limit-test', '50', '--data-dir', dataDir, '--out-dir', dir, '--resume');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot resume: checkpoint .* is unreadable or corrupt .*left untouched/);
    expect(readFileSync(path)).toEqual(broken);
  }, 120_000);

  it.skipIf(typescriptKernels)(machinery("a checkpoint of the earlier trainer (format /1: another random generator) is refused, saying why, and left untouched"), async () => {
    const dir = join(tmp, 'old-format');
    const cfg = small({ limitTrain: 256, limitTest: 50 });
    await train(cfg, { dataDir, outDir: dir, resume: false, log: quiet, stopAfterBatches: 1 });
    const path = join(dir, 'checkpoint.safetensors');
    saveState(path, { ...(loadState(path) as object), format: 'dl-cifar-trainer-checkpoint/1' });
    const before = readFileSync(path);
    await expect(train(cfg, { dataDir, outDir: dir, resume: true, log: quiet })).rejects.toThrow(/cannot resume: .* was written by an earlier cifar-trainer, whose random generator .* left untouched/);
    expect(readFileSync(path)).toEqual(before);
  }, 120_000);

  it('a model description that does not match its weights is refused', async () => {
    const dir = join(tmp, 'mismatch');
    await cli('train', '--epochs', '1', '--limit-train', '256', '--limit-test', '50', '--data-dir', dataDir, '--out-dir', dir);
    const desc = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...desc, architecture: 'resnet9' }));
    const r = await cli('eval', '--model-dir', dir, '--data-dir', dataDir, '--limit-test', '10');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot load .*model\.safetensors into a resnet9 model/);
  }, 120_000);

  it('an unreadable image names the file', async () => {
    const bad = join(tmp, 'not-an-image.png');
    writeFileSync(bad, 'hello');
    const r = await cli('predict', bad, '--model-dir', join(tmp, 'run'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read image '.*not-an-image\.png'/);
  });
});
