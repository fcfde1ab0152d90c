import { BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler, TensorDataset } from '@dl/data';
import { Generator, arange, memoryStats, scope } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { describe, expect, test } from 'vitest';
import { LocalOnly, RangeDataset } from './fixtures/datasets.mjs';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function collect<B>(loader: AsyncIterable<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

function labels(batches: Tensor[][]): number[][] {
  return batches.map(([, y]) => y.toArray() as number[]);
}

const xs = arange(0, 20).reshape(10, 2).to('float32');
const ys = arange(0, 10);
const ds = new TensorDataset(xs, ys);

describe('DataLoader, numWorkers 0', () => {
  test('batches in order without shuffling; length; dropLast', async () => {
    const loader = new DataLoader(ds, { batchSize: 4 });
    expect(loader.length).toBe(3);
    const batches = await collect(loader);
    expect(batches).toHaveLength(3);
    expect(labels(batches)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(batches[0][0].shape).toEqual([4, 2]);
    expect(batches[0][0].toArray()).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
    expect(batches[2][0].shape).toEqual([2, 2]);

    const dropping = new DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(dropping.length).toBe(2);
    expect(labels(await collect(dropping))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(new DataLoader(ds).length).toBe(10);
  });

  test('shuffle: a permutation per epoch, reproducible per seed; generator option is equivalent', async () => {
    const loader = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 123 });
    const e1 = labels(await collect(loader)).flat();
    const e2 = labels(await collect(loader)).flat();
    expect([...e1].sort((a, b) => a - b)).toEqual(range(10));
    expect([...e2].sort((a, b) => a - b)).toEqual(range(10));
    expect(e1).not.toEqual(range(10));
    expect(e2).not.toEqual(e1);
    const again = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 123 });
    expect(labels(await collect(again)).flat()).toEqual(e1);
    expect(labels(await collect(again)).flat()).toEqual(e2);
    const viaGenerator = new DataLoader(ds, { batchSize: 3, shuffle: true, generator: new Generator(123) });
    expect(labels(await collect(viaGenerator)).flat()).toEqual(e1);
    expect(labels(await collect(new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 124 }))).flat()).not.toEqual(e1);
  });

  test('nested samples, strings, custom collateFn, batchSize null, batchSampler', async () => {
    const rd = new RangeDataset(5, 2);
    const [b0] = await collect(new DataLoader(rd, { batchSize: 2 }));
    expect(b0.x.toArray()).toEqual([[0, 0], [1, 1]]);
    expect(b0.y.dtype).toBe('int32');
    expect(b0.name).toEqual(['item0', 'item1']);

    const sums = await collect(new DataLoader(ds, { batchSize: 5, collateFn: (batch: Tensor[][]) => batch.reduce((a, [, y]) => a + y.item(), 0) }));
    expect(sums).toEqual([10, 35]);

    const single = await collect(new DataLoader(ds, { batchSize: null }));
    expect(single).toHaveLength(10);
    expect((single[3] as unknown as Tensor[])[1].item()).toBe(3);

    const bs = new BatchSampler([9, 8, 7, 0], 3, false);
    const viaBs = new DataLoader(ds, { batchSampler: bs });
    expect(viaBs.length).toBe(2);
    expect(labels(await collect(viaBs))).toEqual([[9, 8, 7], [0]]);
  });

  test('async getItem and iterable datasets', async () => {
    class Async extends Dataset<number> {
      readonly length = 5;
      async getItem(i: number) {
        await new Promise((r) => setTimeout(r, 1));
        return i * 10;
      }
    }
    const got = await collect(new DataLoader(new Async(), { batchSize: 2 }));
    expect(got.map((t) => t.toArray())).toEqual([[0, 10], [20, 30], [40]]);

    class Stream extends IterableDataset<number> {
      readonly length = 7;
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 7; i++) yield i;
      }
    }
    const it = new DataLoader(new Stream(), { batchSize: 3 });
    expect(it.length).toBe(3);
    expect((await collect(it)).map((t) => t.toArray())).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    const dropping = new DataLoader(new Stream(), { batchSize: 3, dropLast: true });
    expect((await collect(dropping)).map((t) => t.toArray())).toEqual([[0, 1, 2], [3, 4, 5]]);
    expect(() => new DataLoader(new Stream(), { shuffle: true })).toThrow(/iterable dataset/);
  });

  test('early break ends the sampler iteration; a new loop starts a new epoch', async () => {
    let finished = 0;
    const sampler = {
      length: 10,
      *[Symbol.iterator]() {
        try {
          yield* new SequentialSampler({ length: 10 });
        } finally {
          finished++;
        }
      },
    };
    const loader = new DataLoader(ds, { batchSize: 2, sampler });
    let seen = 0;
    for await (const [, y] of loader) {
      seen++;
      if ((y.toArray() as number[])[0] === 2) break;
    }
    expect(seen).toBe(2);
    expect(finished).toBe(1);
    expect(await collect(loader)).toHaveLength(5);
    expect(finished).toBe(2);
  });

  test('getItem/collate temporaries are freed; the consumer owns the batches', async () => {
    const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1 });
    const before = memoryStats().liveTensors;
    for await (const [x, y] of loader) {
      x.dispose();
      y.dispose();
    }
    expect(memoryStats().liveTensors).toBe(before);
    // Or let a scope free them.
    await scope(async () => {
      for await (const [x] of loader) expect(x.isDisposed).toBe(false);
    });
    expect(memoryStats().liveTensors).toBe(before);
  });

  test('option errors', () => {
    expect(() => new DataLoader(ds, { sampler: [0, 1], shuffle: true })).toThrow(/mutually exclusive/);
    expect(() => new DataLoader(ds, { batchSampler: [[0]], batchSize: 2 })).toThrow(/mutually exclusive/);
    expect(() => new DataLoader(ds, { persistentWorkers: true })).toThrow(/numWorkers > 0/);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new DataLoader(ds, { seed: 1, generator: new Generator(1) })).toThrow(/not both/);
    expect(() => new DataLoader(new LocalOnly(), { numWorkers: 2 })).toThrow(/no workerSpec\(\) method[\s\S]*hint: add to LocalOnly: workerSpec\(\)/);
    expect(() => new DataLoader(ds, { numWorkers: 1, collateFn: (b: unknown[]) => b })).toThrow(/\{ module: /);
    expect(() => new DataLoader({} as never)).toThrow(/map-style dataset/);
  });
});
