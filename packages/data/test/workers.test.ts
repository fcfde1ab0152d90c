/**
 * DataLoader with worker threads. Workers run the built dist/worker.js and import the .mjs
 * fixtures, which use the built @dl/tensor: see helpers/built.ts.
 */
import { fileURLToPath } from 'node:url';
import { DataLoader, DataLoaderWorkerError, TensorDataset, activeWorkerThreadIds, randomSplit } from '@dl/data';
import type { ModuleExport } from '@dl/data';
import { Generator, arange } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from './helpers/built.js';
import { CrashingDataset, ExitingDataset, FailingDataset, RandDataset, RangeDataset, ShardedRange, SlowDataset } from './fixtures/datasets.mjs';

const functions = fileURLToPath(new URL('./fixtures/functions.mjs', import.meta.url));
const fn = (exportName: string): ModuleExport => ({ module: functions, exportName });

beforeAll(() => ensureBuilt(), 120_000);

async function collect<B>(loader: AsyncIterable<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

type RangeBatch = { x: Tensor; y: Tensor; name: string[] };
const plain = (batches: RangeBatch[]) => batches.map((b) => ({ x: b.x.toArray(), y: b.y.toArray(), dtype: [b.x.dtype, b.y.dtype], name: b.name }));

describe('DataLoader workers', () => {
  test('same batches, in the same order, for numWorkers 0, 1 and 2 (shuffled, same seed, two epochs)', async () => {
    const results = [];
    for (const numWorkers of [0, 1, 2]) {
      const loader = new DataLoader(new RangeDataset(23, 3), { batchSize: 4, shuffle: true, seed: 2024, numWorkers });
      results.push([plain(await collect(loader)), plain(await collect(loader))]);
    }
    expect(results[0][0]).toHaveLength(6);
    expect(results[0][0][5].y).toHaveLength(3);
    expect(results[0][0]).not.toEqual(results[0][1]);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  test('built-in datasets are rebuilt in workers (TensorDataset, Subset from randomSplit); prefetchFactor 1', async () => {
    const ds = new TensorDataset(arange(0, 30).reshape(10, 3).to('float32'), arange(0, 10));
    const [train] = randomSplit(ds, [0.7, 0.3], { generator: new Generator(1) });
    const run = async (numWorkers: number) =>
      (await collect(new DataLoader(train, { batchSize: 3, numWorkers, prefetchFactor: 1, shuffle: true, seed: 9 }))).map(([x, y]) => [x.toArray(), y.toArray()]);
    const main = await run(0);
    expect(main).toHaveLength(3);
    expect(await run(2)).toEqual(main);
  });

  test('collateFn and workerInitFn as { module, exportName }', async () => {
    const ds = new RangeDataset(6, 2);
    const main = await collect(new DataLoader(ds, { batchSize: 4, collateFn: fn('stackAndSum') }));
    const workers = await collect(new DataLoader(ds, { batchSize: 4, numWorkers: 2, collateFn: fn('stackAndSum') }));
    const view = (bs: { x: Tensor; ySum: number }[]) => bs.map((b) => [b.x.toArray(), b.ySum]);
    expect(view(workers as never)).toEqual(view(main as never));
    expect((workers[1] as unknown as { ySum: number }).ySum).toBe(4 + 5);

    const inits = await collect(new DataLoader(new RandDataset(4), { numWorkers: 2, workerInitFn: fn('recordInit') }));
    expect(inits.map((b) => [b.worker.item(), b.init.item()])).toEqual([[0, 100], [1, 101], [0, 100], [1, 101]]);
  });

  test('per-worker seeds: baseSeed + id, deterministic across runs, different per worker and per epoch', async () => {
    const run = async (persistentWorkers: boolean) => {
      const loader = new DataLoader(new RandDataset(8), { batchSize: 2, numWorkers: 2, seed: 77, persistentWorkers });
      const epochs = [];
      for (let e = 0; e < 2; e++) {
        epochs.push((await collect(loader)).map((b) => ({ worker: b.worker.toArray() as number[], seed: b.seed as unknown as string[], value: b.value.toArray() })));
      }
      await loader.close();
      return epochs;
    };
    const a = await run(false);
    const b = await run(false);
    expect(b).toEqual(a);
    const [first, second] = a;
    // Batches go round-robin: batch k comes from worker k % 2.
    expect(first.map((x) => x.worker)).toEqual([[0, 0], [1, 1], [0, 0], [1, 1]]);
    // The base seed is the loader generator's first 63-bit draw, as PyTorch's random_() on int64.
    const seed0 = BigInt(first[0].seed[0]);
    expect(seed0).toBe(new Generator(77).nextInt64());
    expect(BigInt(first[1].seed[0])).toBe(seed0 + 1n);
    // Workers 0 and 1 start from different seeds: different values.
    expect(first[1].value).not.toEqual(first[0].value);
    // A new epoch draws a new base seed.
    expect(BigInt(second[0].seed[0])).not.toBe(seed0);
    expect(second[0].value).not.toEqual(first[0].value);
    // Persistent workers are re-seeded per epoch the same way.
    expect(await run(true)).toEqual(a);
  });

  test('an exception in getItem reaches the caller naming the sample index, with the worker stack', async () => {
    const loader = new DataLoader(new FailingDataset(12, 5), { batchSize: 2, numWorkers: 2 });
    const seen: number[][] = [];
    let error: unknown;
    try {
      for await (const b of loader) seen.push(b.toArray() as number[]);
    } catch (e) {
      error = e;
    }
    expect(seen).toEqual([[[0], [1]], [[2], [3]]]);
    expect(error).toBeInstanceOf(DataLoaderWorkerError);
    const err = error as DataLoaderWorkerError;
    expect(err.message).toMatch(/DataLoader worker 0 raised Error in getItem for sample index 5 \(batch of sample indices \[4, 5\]\): cannot load sample 5/);
    expect(err.message).toMatch(/Worker stack:\nError: cannot load sample 5\n\s+at explode \(.*fixtures\/datasets\.mjs/);
    expect(err.index).toBe(5);
    expect(err.indices).toEqual([4, 5]);
    expect(err.workerId).toBe(0);
    expect(activeWorkerThreadIds()).toEqual([]);
  });

  test('a worker that exits mid-epoch is reported promptly', async () => {
    const loader = new DataLoader(new ExitingDataset(40, 7), { batchSize: 2, numWorkers: 2, collateFn: fn('indicesTensor') });
    const start = Date.now();
    await expect(collect(loader)).rejects.toThrow(/DataLoader worker 1 \(thread \d+\) exited unexpectedly with exit code 1 while fetching sample indices \[6, 7\]/);
    expect(Date.now() - start).toBeLessThan(5000);
    expect(activeWorkerThreadIds()).toEqual([]);
  });

  test('a worker that crashes (uncaught exception outside getItem) is reported promptly, not waited on', async () => {
    const loader = new DataLoader(new CrashingDataset(8, 2), { batchSize: 1, numWorkers: 2 });
    const start = Date.now();
    await expect(collect(loader)).rejects.toThrow(/DataLoader worker 0 \(thread \d+\) crashed with Error: uncaught in a timer at sample 2 while fetching sample indices \[2\]/);
    expect(Date.now() - start).toBeLessThan(5000);
    expect(activeWorkerThreadIds()).toEqual([]);
  });

  test('a dataset that a worker cannot rebuild fails the iteration with the reason', async () => {
    const ds = { length: 2, getItem: (i: number) => i, workerSpec: () => ({ module: '/nonexistent/dataset.mjs', exportName: 'Nope', args: [] }) };
    await expect(collect(new DataLoader(ds, { numWorkers: 1 }))).rejects.toThrow(/DataLoader worker 0 failed to start: Error: Cannot find module '\/nonexistent\/dataset\.mjs'/);
    const relative = { ...ds, workerSpec: () => ({ module: './dataset.mjs', exportName: 'Nope', args: [] }) };
    await expect(collect(new DataLoader(relative, { numWorkers: 1 }))).rejects.toThrow(/relative path/);
    expect(activeWorkerThreadIds()).toEqual([]);
  });

  test('timeout fails a batch that takes too long', async () => {
    const loader = new DataLoader(new SlowDataset(4, 3000), { numWorkers: 1, timeout: 200 });
    const start = Date.now();
    await expect(collect(loader)).rejects.toThrow(/timed out after 200 ms/);
    expect(Date.now() - start).toBeLessThan(2500);
    expect(activeWorkerThreadIds()).toEqual([]);
  });

  test('early break terminates the workers', async () => {
    const loader = new DataLoader(new RangeDataset(200, 4), { batchSize: 2, numWorkers: 2, prefetchFactor: 4 });
    let during: number[] = [];
    for await (const b of loader) {
      during = activeWorkerThreadIds();
      expect(b.y.toArray()).toEqual([0, 1]);
      break;
    }
    expect(during).toHaveLength(2);
    expect(activeWorkerThreadIds()).toEqual([]);
  });

  test('persistent workers survive epochs and end with close()', async () => {
    const loader = new DataLoader(new RangeDataset(10, 2), { batchSize: 5, numWorkers: 2, persistentWorkers: true });
    await collect(loader);
    const threads = (await loader.workerStats()).map((s) => s.threadId);
    expect(threads).toHaveLength(2);
    // An early break keeps them too; the next epoch still starts from the first batch.
    for await (const _ of loader) break;
    expect(plain(await collect(loader)).map((b) => b.y)).toEqual([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]);
    expect((await loader.workerStats()).map((s) => s.threadId)).toEqual(threads);
    expect(activeWorkerThreadIds()).toEqual(expect.arrayContaining(threads));
    await loader[Symbol.asyncDispose]();
    expect(activeWorkerThreadIds()).toEqual([]);
  });

  test('close() during an iteration terminates its workers, and the iteration fails', async () => {
    const loader = new DataLoader(new SlowDataset(20, 20), { numWorkers: 2 });
    const it = loader[Symbol.asyncIterator]();
    expect((await it.next()).value?.toArray()).toEqual([0]);
    await loader.close();
    expect(activeWorkerThreadIds()).toEqual([]);
    await expect(it.next()).rejects.toThrow(/shut down/);
  });

  test('zero-copy: batch buffers are transferred (detached in the worker after postMessage)', async () => {
    const loader = new DataLoader(new RangeDataset(12, 1000), { batchSize: 4, numWorkers: 2, persistentWorkers: true });
    const batches = await collect(loader);
    const [stats0, stats1] = await loader.workerStats();
    await loader.close();
    for (const s of [stats0, stats1]) {
      expect(s.transferredBuffers).toBeGreaterThan(0);
      expect(s.detachedAfterPost).toBe(s.transferredBuffers);
      expect(s.copiedBuffers).toBe(0);
    }
    expect(stats0.batches + stats1.batches).toBe(3);
    // 3 batches x (x: 4 x 1000 float32 + y: 4 int32)
    expect(stats0.transferredBytes + stats1.transferredBytes).toBe(3 * (16_000 + 16));
    // The main thread adopted the transferred buffer as the tensor's storage.
    const buf = batches[0].x.storage.buf as Float32Array;
    expect(buf).toBeInstanceOf(Float32Array);
    expect(buf.buffer.byteLength).toBe(16_000);
    expect(batches[0].x.toArray()).toEqual([0, 1, 2, 3].map((i) => new Array(1000).fill(i)));

    // Without batching, a TensorDataset row is a view of the dataset's memory: copied, not moved.
    const rows = new DataLoader(new TensorDataset(arange(0, 6).reshape(3, 2)), { batchSize: null, numWorkers: 1, persistentWorkers: true });
    expect((await collect(rows)).map((r) => (r as unknown as Tensor[])[0].toArray())).toEqual([[0, 1], [2, 3], [4, 5]]);
    const [rowStats] = await rows.workerStats();
    await rows.close();
    expect(rowStats.copiedBuffers).toBe(3);
  });

  test('iterable datasets: each worker iterates its copy (sharded with getWorkerInfo), round-robin', async () => {
    const loader = new DataLoader(new ShardedRange(10), { batchSize: 2, numWorkers: 2 });
    const got = (await collect(loader)).map((t) => t.toArray());
    expect(got).toEqual([[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]);
    const main = (await collect(new DataLoader(new ShardedRange(10), { batchSize: 2 }))).map((t) => t.toArray());
    expect(main).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);
  });
});
