import { Generator, manualSeed, tensor } from '@dl/tensor';
import type { DType, Tensor } from '@dl/tensor';
import { transforms } from '@dl/vision';
import { describe, expect, it } from 'vitest';

const { batched } = transforms;
const F = transforms.functional;

function randomBatch(shape: [number, number, number, number], dtype: 'float32' | 'uint8', seed: number): Tensor {
  const g = new Generator(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'uint8' ? Uint8Array.from({ length: n }, () => g.nextBelow(256)) : Float32Array.from({ length: n }, () => g.nextFloat());
  return tensor(data, { shape, dtype });
}

/** Apply a per-image transform to each image [C, H, W] of the batch in turn and stack the results' values. */
function perImage(x: Tensor, t: transforms.Transform<Tensor, Tensor>): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.shape[0]; i++) out.push(...t.apply(x.select(0, i).contiguous()).dataSync());
  return out;
}

describe.each(['float32', 'uint8'] as const)('batched transforms on %s batches equal per-image loops', (dtype: DType & ('float32' | 'uint8')) => {
  const x = randomBatch([6, 3, 8, 10], dtype, 1);

  it('randomHorizontalFlip = RandomHorizontalFlip per image', () => {
    const out = batched.randomHorizontalFlip(x, { p: 0.5, generator: new Generator(5) });
    expect(out.shape).toEqual([6, 3, 8, 10]);
    expect(out.dtype).toBe(dtype);
    expect(Array.from(out.dataSync())).toEqual(perImage(x, new transforms.RandomHorizontalFlip(0.5, { generator: new Generator(5) })));
    // Some images flipped, some not, with seed 5.
    const flips = Array.from({ length: 6 }, (_, i) => {
      const o = out.select(0, i).dataSync();
      return o[0] !== x.select(0, i).dataSync()[0];
    });
    expect(flips.some(Boolean)).toBe(true);
    expect(flips.every(Boolean)).toBe(false);
  });

  it.each(['constant', 'edge', 'reflect', 'symmetric'] as const)('randomCrop (pad 2, %s) = RandomCrop per image', (mode) => {
    const out = batched.randomCrop(x, { padding: 2, paddingMode: mode, generator: new Generator(7) });
    expect(out.shape).toEqual([6, 3, 8, 10]);
    expect(Array.from(out.dataSync())).toEqual(perImage(x, new transforms.RandomCrop([8, 10], { padding: 2, paddingMode: mode, generator: new Generator(7) })));
  });

  it('randomCrop to a smaller size with uneven padding and a fill', () => {
    const opts = { size: [5, 6] as [number, number], padding: [1, 0, 3, 2], fill: 9 };
    const out = batched.randomCrop(x, { ...opts, generator: new Generator(3) });
    expect(out.shape).toEqual([6, 3, 5, 6]);
    expect(Array.from(out.dataSync())).toEqual(perImage(x, new transforms.RandomCrop(opts.size, { padding: opts.padding, fill: 9, generator: new Generator(3) })));
  });

  it('cutout: one size x size square of zeros per image, wholly inside, at the drawn position', () => {
    const out = batched.cutout(x, { size: 4, generator: new Generator(2) });
    const g = new Generator(2);
    const before = x.toArray() as number[][][][];
    const after = out.toArray() as number[][][][];
    for (let n = 0; n < 6; n++) {
      const top = g.nextBelow(8 - 4 + 1);
      const left = g.nextBelow(10 - 4 + 1);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 8; y++) {
          for (let xx = 0; xx < 10; xx++) {
            const inside = y >= top && y < top + 4 && xx >= left && xx < left + 4;
            expect(after[n][c][y][xx]).toBe(inside ? 0 : before[n][c][y][xx]);
          }
        }
      }
    }
  });

  it('normalize = Normalize per image (uint8 scaled to [0, 1] first)', () => {
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.247, 0.2435, 0.2616];
    const out = batched.normalize(x, mean, std);
    expect(out.dtype).toBe('float32');
    const asFloat = dtype === 'uint8' ? x.to('float32').div(255) : x;
    const want = F.normalize(asFloat, mean, std).dataSync();
    const got = out.dataSync();
    for (let i = 0; i < got.length; i += 37) expect(got[i]).toBeCloseTo(want[i], 5);
  });
});

describe('batched transforms: determinism and errors', () => {
  it('the default generator makes them repeatable under manualSeed', () => {
    const x = randomBatch([4, 3, 8, 8], 'float32', 2);
    const run = () => Array.from(batched.cutout(batched.randomCrop(batched.randomHorizontalFlip(x), { padding: 2 }), { size: 3 }).dataSync());
    manualSeed(10);
    const a = run();
    manualSeed(10);
    expect(run()).toEqual(a);
    manualSeed(11);
    expect(run()).not.toEqual(a);
  });

  it('rejects what they cannot do, with the fix', () => {
    const x = randomBatch([2, 3, 4, 4], 'float32', 3);
    expect(() => batched.randomHorizontalFlip(x.select(0, 0))).toThrow(/expected a batch tensor \[N, C, H, W\]; got shape \[3, 4, 4\]\nhint: for one image/);
    expect(() => batched.randomCrop(x, { size: 6 })).toThrow(/crop size \(6, 6\) is larger than the padded image \(4, 4\)/);
    expect(() => batched.cutout(x, { size: 5 })).toThrow(/cutout size \(5, 5\) is larger than the images \(4, 4\)/);
    expect(() => batched.normalize(x, [0.5, 0.5], [0.5])).toThrow(/mean needs 1 or 3 \(one per channel\) values; got 2/);
  });

  it('augments a CIFAR-sized batch of 512 quickly', () => {
    const x = randomBatch([512, 3, 32, 32], 'uint8', 4);
    const t0 = performance.now();
    const y = batched.normalize(batched.cutout(batched.randomCrop(batched.randomHorizontalFlip(x), { padding: 4, paddingMode: 'reflect' }), { size: 12 }), [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
    const ms = performance.now() - t0;
    expect(y.shape).toEqual([512, 3, 32, 32]);
    expect(ms).toBeLessThan(2000);
  });
});
