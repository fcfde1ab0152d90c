import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { Tensor } from '@dl/tensor';
import { datasets, io, transforms } from '@dl/vision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cifarDir, cleanupTmp, tmpDir } from './helpers.js';

afterAll(cleanupTmp);

/** Write a PNG with pngjs: pixel (y, x) of channel c = f(y, x, c); colorType 0 gray, 2 RGB, 6 RGBA. */
function writePngFile(path: string, h: number, w: number, colorType: 0 | 2 | 6, f: (y: number, x: number, c: number) => number): void {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      for (let c = 0; c < 4; c++) png.data[o + c] = colorType === 0 ? (c === 3 ? 255 : f(y, x, 0)) : c === 3 && colorType === 2 ? 255 : f(y, x, c);
    }
  }
  writeFileSync(path, PNG.sync.write(png, { colorType }));
}

describe('ImageFolder on PNGs written with pngjs', () => {
  let root: string;
  beforeAll(() => {
    root = tmpDir();
    for (const d of ['zebra', 'ant', 'ant/nested', 'bee', 'empty-later']) mkdirSync(join(root, d), { recursive: true });
    writePngFile(join(root, 'ant', 'b.png'), 2, 3, 2, (y, x, c) => 100 * c + 10 * y + x);
    writePngFile(join(root, 'ant', 'a.PNG'), 2, 2, 0, (y, x) => 50 + 10 * y + x);
    writePngFile(join(root, 'ant', 'z.png'), 1, 1, 6, (_y, _x, c) => [1, 2, 3, 4][c]);
    writePngFile(join(root, 'ant', 'nested', 'c.png'), 1, 1, 2, () => 7);
    writePngFile(join(root, 'bee', 'x.png'), 1, 1, 2, () => 8);
    writePngFile(join(root, 'zebra', 'y.png'), 1, 1, 2, () => 9);
    writeFileSync(join(root, 'zebra', 'notes.txt'), 'not an image');
    writePngFile(join(root, 'empty-later', 'only.png'), 1, 1, 2, () => 1);
  });

  it('sorted classes, samples ordered by folder then name, matching extensions case-insensitively', () => {
    const ds = new datasets.ImageFolder(root);
    expect(ds.classes).toEqual(['ant', 'bee', 'empty-later', 'zebra']);
    expect(ds.classToIdx).toEqual({ ant: 0, bee: 1, 'empty-later': 2, zebra: 3 });
    expect(ds.samples).toEqual([
      [join(root, 'ant', 'a.PNG'), 0],
      [join(root, 'ant', 'b.png'), 0],
      [join(root, 'ant', 'z.png'), 0],
      [join(root, 'ant', 'nested', 'c.png'), 0],
      [join(root, 'bee', 'x.png'), 1],
      [join(root, 'empty-later', 'only.png'), 2],
      [join(root, 'zebra', 'y.png'), 3],
    ]);
    expect(ds.targets).toEqual([0, 0, 0, 0, 1, 2, 3]);
    expect(ds.length).toBe(7);
  });

  it('decodes to RGB by default with the written pixels; mode unchanged keeps gray and alpha', () => {
    const ds = new datasets.ImageFolder(root);
    const [rgb, label] = ds.getItem(1);
    expect(label).toBe(0);
    expect([rgb.height, rgb.width, rgb.channels]).toEqual([2, 3, 3]);
    expect(Array.from(rgb.data)).toEqual([0, 100, 200, 1, 101, 201, 2, 102, 202, 10, 110, 210, 11, 111, 211, 12, 112, 212]);
    expect(Array.from(ds.getItem(0)[0].data)).toEqual([50, 50, 50, 51, 51, 51, 60, 60, 60, 61, 61, 61]);
    expect(Array.from(ds.getItem(2)[0].data)).toEqual([1, 2, 3]); // alpha dropped
    const raw = new datasets.ImageFolder(root, { mode: 'unchanged' });
    expect(raw.getItem(0)[0]).toMatchObject({ channels: 1 });
    expect(Array.from(raw.getItem(2)[0].data)).toEqual([1, 2, 3, 4]);
    const t = new datasets.ImageFolder<Tensor, string>(root, { transform: new transforms.ToTensor(), targetTransform: (y: number) => ['A', 'B', 'E', 'Z'][y] });
    const [x, name] = t.getItem(4);
    expect(x.shape).toEqual([3, 1, 1]);
    expect(x.dataSync()[0]).toBeCloseTo(8 / 255, 6);
    expect(name).toBe('B');
  });

  it('errors: an unreadable image names the file and the decoder reason; empty classes; no class folders', () => {
    const r = tmpDir();
    mkdirSync(join(r, 'a'));
    const bad = join(r, 'a', 'bad.jpg');
    writeFileSync(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));
    const ds = new datasets.ImageFolder(r);
    expect(() => ds.getItem(0)).toThrow(new RegExp(`^decodeImage: cannot decode ${bad} as JPEG: .+`));
    mkdirSync(join(r, 'b'));
    expect(() => new datasets.ImageFolder(r)).toThrow(/found no valid file for the class b in .*; supported extensions are: \.jpg, \.jpeg, \.png/);
    expect(new datasets.ImageFolder(r, { allowEmpty: true }).classes).toEqual(['a', 'b']);
    expect(new datasets.ImageFolder(root, { extensions: ['.txt'], allowEmpty: true }).samples).toEqual([[join(root, 'zebra', 'notes.txt'), 3]]);
    expect(() => new datasets.ImageFolder(join(r, 'a'))).toThrow(/couldn't find any class folder in/);
    expect(() => new datasets.ImageFolder(join(r, 'nope'))).toThrow(/cannot read the folder .*nope: ENOENT/);
  });
});

const shared = cifarDir();
const hasJpeg = shared !== null && (() => {
  try {
    readFileSync(join(shared, 'cifar-10-jpeg.tar.gz')).subarray(0, 2);
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasJpeg)(`ImageFolder on JPEGs from cifar-10-jpeg.tar.gz${hasJpeg ? '' : ' (skipped: no cifar-10-jpeg.tar.gz in DL_CIFAR10_DIR or ../shared/datasets/cifar10)'}`, () => {
  let root: string;
  beforeAll(() => {
    root = tmpDir('dl-vision-jpeg-');
    // Only a handful of files, through tar's filter.
    const wanted = /^cifar-10-jpeg\/test\/(cat|ship|airplane)\/000[0-2]\.jpg$/;
    datasets.extractArchive(join(shared as string, 'cifar-10-jpeg.tar.gz'), root, { filter: (p) => wanted.test(p) || /^cifar-10-jpeg\/(test\/((cat|ship|airplane)\/)?)?$/.test(p) });
  }, 60_000);

  it('finds the classes and decodes 32x32 RGB JPEGs', () => {
    const ds = new datasets.ImageFolder(join(root, 'cifar-10-jpeg', 'test'));
    expect(ds.classes).toEqual(['airplane', 'cat', 'ship']);
    expect(ds.length).toBe(9);
    expect(ds.samples[3]).toEqual([join(root, 'cifar-10-jpeg', 'test', 'cat', '0000.jpg'), 1]);
    for (let i = 0; i < ds.length; i++) {
      const [img, y] = ds.getItem(i);
      expect([img.height, img.width, img.channels]).toEqual([32, 32, 3]);
      expect(y).toBe(Math.floor(i / 3));
      // Real photos: not a constant image.
      expect(new Set(img.data).size).toBeGreaterThan(20);
    }
    const batch = new datasets.ImageFolder<Tensor>(join(root, 'cifar-10-jpeg', 'test'), { transform: new transforms.Compose([new transforms.Resize(16), new transforms.ToTensor()]) });
    expect(batch.getItem(8)[0].shape).toEqual([3, 16, 16]);
    expect(io.readImage(ds.samples[0][0]).data.length).toBe(3072);
  });

  it('decodes each JPEG to exactly the pixels of a record of test_batch.bin (made from these JPEGs), with its class', () => {
    const binRoot = tmpDir('dl-vision-testbatch-');
    datasets.extractArchive(join(shared as string, 'cifar-10-binary.tar.gz'), binRoot, { filter: (p) => p === 'cifar-10-batches-bin/test_batch.bin' || p === 'cifar-10-batches-bin/' });
    const bin = readFileSync(join(binRoot, 'cifar-10-batches-bin', 'test_batch.bin'));
    const cifarClasses = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    const ds = new datasets.ImageFolder(join(root, 'cifar-10-jpeg', 'test'));
    for (let i = 0; i < ds.length; i++) {
      const [img, y] = ds.getItem(i);
      let match = -1;
      for (let r = 0; r < 10_000 && match < 0; r++) {
        const o = r * 3073 + 1;
        let same = true;
        for (let p = 0; p < 1024 && same; p++) for (let c = 0; c < 3 && same; c++) same = img.data[p * 3 + c] === bin[o + c * 1024 + p];
        if (same) match = r;
      }
      expect(match, ds.samples[i][0]).toBeGreaterThanOrEqual(0);
      expect(cifarClasses[bin[match * 3073]]).toBe(ds.classes[y]);
    }
  }, 60_000);
});
