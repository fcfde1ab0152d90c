/**
 * Datasets in DataLoader worker threads. Workers cannot run TypeScript: they import the built
 * dist/datasets.js of @dl/vision (and the built @dl/tensor and @dl/data). CI builds everything
 * before vitest; locally, the JavaScript of @dl/vision is rebuilt here when dist/ is older than
 * src/ (tsup without declarations, ~1 s).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataLoader } from '@dl/data';
import type { Tensor } from '@dl/tensor';
import { datasets, io, transforms } from '@dl/vision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, cleanupTmp, tmpDir, writeFakeCifar10 } from './helpers.js';

const PKG = join(REPO, 'packages', 'vision');
const deps = ['tensor', 'data'].map((p) => join(REPO, 'packages', p, 'dist', 'index.js'));
const depsBuilt = deps.every(existsSync) && existsSync(join(REPO, 'packages', 'data', 'dist', 'worker.js'));

function newest(dir: string): number {
  let t = -Infinity;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function ensureVisionBuilt(): void {
  const inputs = Math.max(newest(join(PKG, 'src')), statSync(join(PKG, 'tsup.config.ts')).mtimeMs);
  const outs = ['index.js', 'datasets.js'].map((f) => join(PKG, 'dist', f));
  if (outs.every(existsSync) && Math.min(...outs.map((f) => statSync(f).mtimeMs)) >= inputs) return;
  execFileSync(process.execPath, ['--input-type=module', '-e', "const { build } = await import('tsup'); await build({ dts: false, clean: false, silent: true });"], {
    cwd: PKG,
    stdio: 'pipe',
    timeout: 120_000,
  });
}

async function collect<B>(loader: AsyncIterable<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

afterAll(cleanupTmp);

describe.skipIf(!depsBuilt)(`datasets in DataLoader worker threads${depsBuilt ? '' : ' (skipped: build @dl/tensor and @dl/data first: pnpm build)'}`, () => {
  let root: string;
  beforeAll(() => {
    ensureVisionBuilt();
    root = tmpDir();
    writeFakeCifar10(root);
  }, 120_000);

  it('CIFAR10 with a deterministic pipeline gives the same batches with 0 and 2 workers', async () => {
    const tf = new transforms.Compose([new transforms.CenterCrop(28), new transforms.ToTensor(), new transforms.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])]);
    const ds = new datasets.CIFAR10<Tensor>(root, { transform: tf });
    const runs = [];
    for (const numWorkers of [0, 2]) {
      const loader = new DataLoader(ds, { batchSize: 4, numWorkers, seed: 1 });
      const batches = (await collect(loader)) as [Tensor, Tensor][];
      await loader.close();
      runs.push(batches.map(([x, y]) => ({ shape: x.shape, x: Array.from(x.dataSync()), y: y.toArray() })));
    }
    expect(runs[0].map((b) => b.shape)).toEqual([[4, 3, 28, 28], [4, 3, 28, 28], [2, 3, 28, 28]]);
    expect(runs[0].flatMap((b) => b.y as number[])).toEqual(Array.from(ds.targets));
    expect(runs[1]).toEqual(runs[0]);
  });

  it('random augmentation in workers is seeded per worker: repeatable for the same loader seed', async () => {
    const tf = new transforms.Compose([new transforms.RandomCrop(32, { padding: 4 }), new transforms.RandomHorizontalFlip(), new transforms.ToTensor()]);
    const ds = new datasets.CIFAR10<Tensor>(root, { transform: tf });
    const run = async (seed: number) => {
      const loader = new DataLoader(ds, { batchSize: 5, numWorkers: 2, seed });
      const out = ((await collect(loader)) as [Tensor, Tensor][]).map(([x]) => Array.from(x.dataSync()));
      await loader.close();
      return out;
    };
    const a = await run(3);
    expect(await run(3)).toEqual(a);
    expect(await run(4)).not.toEqual(a);
  });

  it('ImageFolder in workers decodes the same images', async () => {
    const folder = tmpDir();
    for (const [cls, v] of [['a', 10], ['b', 20]] as const) {
      mkdirSync(join(folder, cls));
      for (let i = 0; i < 3; i++) io.writePng(join(folder, cls, `${i}.png`), { data: new Uint8Array(4 * 4 * 3).fill(v + i), height: 4, width: 4, channels: 3 });
    }
    const ds = new datasets.ImageFolder<Tensor>(folder, { transform: new transforms.PILToTensor() });
    const loader = new DataLoader(ds, { batchSize: 6, numWorkers: 1 });
    const [[x, y]] = (await collect(loader)) as [Tensor, Tensor][];
    await loader.close();
    expect(y.toArray()).toEqual([0, 0, 0, 1, 1, 1]);
    expect(x.shape).toEqual([6, 3, 4, 4]);
    expect(Array.from({ length: 6 }, (_, i) => x.select(0, i).dataSync()[0])).toEqual([10, 11, 12, 20, 21, 22]);
  });

  it('a Lambda transform cannot go to a worker, and the error says so', async () => {
    const ds = new datasets.CIFAR10(root, { transform: (img: io.Image) => img.width });
    const attempt = async () => {
      const loader = new DataLoader(ds, { batchSize: 2, numWorkers: 1 });
      try {
        await collect(loader);
      } finally {
        await loader.close();
      }
    };
    await expect(attempt()).rejects.toThrow(/Lambda transform .* cannot be sent to a DataLoader worker thread/);
  });
});
