import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Tensor } from '@dl/tensor';
import { datasets, transforms } from '@dl/vision';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTmp, tmpDir } from './helpers.js';

afterAll(cleanupTmp);

/** IDX bytes: 0, 0, type code, ndim, big-endian uint32 dims, then the values big-endian. */
function idx(typeCode: number, shape: number[], values: number[]): Buffer {
  // bytes per value of type codes 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E
  const size = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 }[typeCode] as number;
  const buf = Buffer.alloc(4 + 4 * shape.length + size * values.length);
  buf[2] = typeCode;
  buf[3] = shape.length;
  for (const [i, d] of shape.entries()) buf.writeUInt32BE(d, 4 + 4 * i);
  const o = 4 + 4 * shape.length;
  values.forEach((v, i) => {
    const at = o + i * size;
    if (typeCode === 0x08) buf.writeUInt8(v, at);
    else if (typeCode === 0x09) buf.writeInt8(v, at);
    else if (typeCode === 0x0b) buf.writeInt16BE(v, at);
    else if (typeCode === 0x0c) buf.writeInt32BE(v, at);
    else if (typeCode === 0x0d) buf.writeFloatBE(v, at);
    else buf.writeDoubleBE(v, at);
  });
  return buf;
}

describe('IDX parsing', () => {
  it('reads every type code big-endian, raw or gzipped', () => {
    expect(datasets.parseIdx(idx(0x08, [2, 3], [0, 1, 2, 253, 254, 255]))).toEqual({ typeCode: 8, shape: [2, 3], data: Uint8Array.from([0, 1, 2, 253, 254, 255]) });
    expect(Array.from(datasets.parseIdx(gzipSync(idx(0x09, [3], [-128, 0, 127]))).data)).toEqual([-128, 0, 127]);
    expect(Array.from(datasets.parseIdx(idx(0x0b, [2], [-300, 30000])).data)).toEqual([-300, 30000]);
    expect(Array.from(datasets.parseIdx(idx(0x0c, [1, 2], [-70000, 2 ** 30])).data)).toEqual([-70000, 2 ** 30]);
    expect(Array.from(datasets.parseIdx(idx(0x0d, [2], [1.5, -0.25])).data)).toEqual([1.5, -0.25]);
    expect(Array.from(datasets.parseIdx(idx(0x0e, [1], [Math.PI])).data)).toEqual([Math.PI]);
  });

  it('checks the magic number, the type code and the length', () => {
    const good = idx(0x08, [2, 2], [1, 2, 3, 4]);
    const badMagic = Buffer.from(good);
    badMagic[0] = 1;
    expect(() => datasets.parseIdx(badMagic, 'x.idx')).toThrow(/x\.idx is not an IDX file: bad magic number 0x01000802/);
    const badType = Buffer.from(good);
    badType[2] = 0x0a;
    expect(() => datasets.parseIdx(badType, 'x.idx')).toThrow(/x\.idx has an unknown IDX type code 0x0a/);
    expect(() => datasets.parseIdx(good.subarray(0, good.length - 1), 'x.idx')).toThrow('x.idx has 15 bytes; its header (shape [2, 2] of ubyte) needs exactly 16');
    expect(() => datasets.parseIdx(Buffer.concat([good, Buffer.from([0])]), 'x.idx')).toThrow(/trailing data/);
    expect(() => datasets.parseIdx(gzipSync(good).subarray(0, 12), 'x.gz')).toThrow(/cannot decompress x\.gz/);
  });
});

describe('MNIST on tiny IDX files', () => {
  const images = [
    [0, 10, 20, 30, 40, 50],
    [1, 11, 21, 31, 41, 51],
    [2, 12, 22, 32, 42, 52],
  ];

  function writeSplit(dir: string, prefix: string, labels: number[], gz: boolean) {
    mkdirSync(dir, { recursive: true });
    const im = idx(0x08, [labels.length, 2, 3], images.slice(0, labels.length).flat());
    const lb = idx(0x08, [labels.length], labels);
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(im) : im);
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(lb) : lb);
  }

  it('finds raw and gzipped files in root/MNIST/raw and root; items are H x W x 1 images', () => {
    const root = tmpDir();
    writeSplit(join(root, 'MNIST', 'raw'), 'train', [5, 0, 9], true);
    writeSplit(root, 't10k', [7], false);
    const train = new datasets.MNIST(root);
    expect(train.length).toBe(3);
    expect(train.classes[5]).toBe('5 - five');
    expect(Array.from(train.targets)).toEqual([5, 0, 9]);
    const [img, y] = train.getItem(1);
    expect(y).toBe(0);
    expect(img).toEqual({ data: Uint8Array.from(images[1]), height: 2, width: 3, channels: 1 });
    const t = new datasets.MNIST<Tensor>(root, { train: false, transform: new transforms.ToTensor() });
    const [x, label] = t.getItem(0);
    expect(label).toBe(7);
    expect(x.shape).toEqual([1, 2, 3]);
    expect(x.dataSync()[5]).toBeCloseTo(50 / 255, 6);
    const { images: all, labels } = train.asTensors();
    expect(all.shape).toEqual([3, 1, 2, 3]);
    expect(labels.toArray()).toEqual([5, 0, 9]);
  });

  it('errors name the files: missing, swapped, mismatched counts, bad labels', () => {
    const root = tmpDir();
    expect(() => new datasets.FashionMNIST(root)).toThrow(
      new RegExp(`cannot find train-images-idx3-ubyte \\(or train-images-idx3-ubyte\\.gz\\); looked in ${root}, ${join(root, 'FashionMNIST', 'raw')}, ${join(root, 'raw')}\\nhint: .*apt-get install -y dataset-fashion-mnist`),
    );
    writeSplit(root, 'train', [1, 2], false);
    writeFileSync(join(root, 'train-labels-idx1-ubyte'), idx(0x08, [3], [1, 2, 3]));
    expect(() => new datasets.MNIST(root)).toThrow(`${join(root, 'train-images-idx3-ubyte')} holds 2 images but ${join(root, 'train-labels-idx1-ubyte')} holds 3 labels`);
    writeFileSync(join(root, 'train-labels-idx1-ubyte'), idx(0x08, [2], [1, 12]));
    expect(() => new datasets.MNIST(root)).toThrow(`label 12 at position 1 of ${join(root, 'train-labels-idx1-ubyte')} is outside [0, 10)`);
    writeFileSync(join(root, 'train-images-idx3-ubyte'), idx(0x08, [2], [1, 2]));
    expect(() => new datasets.MNIST(root)).toThrow(/train-images-idx3-ubyte is not an image file: expected magic 0x00000803 \(unsigned bytes, 3 dimensions\); got type 0x8 with 1 dimensions/);
  });
});

const FASHION = '/usr/share/datasets/fashion-mnist';
const hasFashion = existsSync(join(FASHION, 'train-images-idx3-ubyte.gz'));

describe.skipIf(!hasFashion)(`FashionMNIST from Debian's dataset-fashion-mnist${hasFashion ? '' : ' (skipped: not installed; apt-get install -y dataset-fashion-mnist)'}`, () => {
  it('has 60,000 + 10,000 balanced 28x28 images, matching the bytes of the files', () => {
    const train = new datasets.FashionMNIST(FASHION);
    const test = new datasets.FashionMNIST(FASHION, { train: false });
    expect(train.length).toBe(60_000);
    expect(test.length).toBe(10_000);
    expect([train.rows, train.cols]).toEqual([28, 28]);
    expect(train.classes[9]).toBe('Ankle boot');
    const count = (t: Int32Array) => Array.from({ length: 10 }, (_, c) => t.filter((v) => v === c).length);
    expect(count(train.targets)).toEqual(new Array(10).fill(6000));
    expect(count(test.targets)).toEqual(new Array(10).fill(1000));
    // Item 123 against the decompressed files, read directly: labels start at byte 8, images at 16.
    const rawImages = gunzipSync(readFileSync(join(FASHION, 'train-images-idx3-ubyte.gz')));
    const rawLabels = gunzipSync(readFileSync(join(FASHION, 'train-labels-idx1-ubyte.gz')));
    expect(rawImages.readUInt32BE(0)).toBe(0x803);
    const [img, y] = train.getItem(123);
    expect(y).toBe(rawLabels[8 + 123]);
    expect(Buffer.from(img.data).equals(rawImages.subarray(16 + 123 * 784, 16 + 124 * 784))).toBe(true);
  });
});
