import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { datasets, transforms } from '@dl/vision';
import type { Image } from '@dl/vision';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, cifarDir, cleanupTmp, fakePixel, fakeRecords, tmpDir, writeFakeCifar10 } from './helpers.js';

afterAll(cleanupTmp);

const shared = cifarDir();

describe.skipIf(!shared)(`CIFAR10 on the shared archive${shared ? '' : ' (skipped: no cifar-10-binary.tar.gz in DL_CIFAR10_DIR or ../shared/datasets/cifar10)'}`, () => {
  let root: string;
  let train: datasets.CIFAR10;
  let test: datasets.CIFAR10;

  beforeAll(() => {
    root = tmpDir('dl-vision-cifar-');
    // Extracted once for this file: the archive option extracts into root on first use.
    train = new datasets.CIFAR10(root, { archive: join(shared as string, 'cifar-10-binary.tar.gz') });
    test = new datasets.CIFAR10(root, { train: false });
  }, 120_000);

  it('extracts the archive into root, completely and without leftovers', () => {
    const folder = join(root, 'cifar-10-batches-bin');
    expect(readdirSync(folder).sort()).toEqual(['batches.meta.txt', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']);
    expect(readdirSync(root)).toEqual(['cifar-10-batches-bin']);
  });

  it('has 50,000 training and 10,000 test images and the ten classes', () => {
    expect(train.length).toBe(50_000);
    expect(test.length).toBe(10_000);
    expect(train.classes).toEqual(CIFAR10_CLASSES);
    expect(train.classToIdx.ship).toBe(8);
    expect(train.data.length).toBe(50_000 * 3072);
    // CIFAR-10 is balanced: 5,000 training and 1,000 test images per class.
    const count = (t: Int32Array) => Array.from({ length: 10 }, (_, c) => t.filter((v) => v === c).length);
    expect(count(train.targets)).toEqual(new Array(10).fill(5000));
    expect(count(test.targets)).toEqual(new Array(10).fill(1000));
  });

  it('item 0 matches the first record of data_batch_1.bin, read directly', () => {
    const bin = readFileSync(join(root, 'cifar-10-batches-bin', 'data_batch_1.bin'));
    const [img, label] = train.getItem(0);
    expect(label).toBe(bin[0]);
    expect(img.height).toBe(32);
    expect(img.width).toBe(32);
    expect(img.channels).toBe(3);
    // Pixel (y=5, x=7): red at 1 + 5*32 + 7, green 1024 later, blue 2048 later.
    const p = 5 * 32 + 7;
    expect([img.data[p * 3], img.data[p * 3 + 1], img.data[p * 3 + 2]]).toEqual([bin[1 + p], bin[1 + 1024 + p], bin[1 + 2048 + p]]);
    // The whole image, plane by plane.
    for (let c = 0; c < 3; c++) for (let q = 0; q < 1024; q++) if (img.data[q * 3 + c] !== bin[1 + c * 1024 + q]) throw new Error(`mismatch at channel ${c}, pixel ${q}`);
  });

  it('later records map to the right batch files', () => {
    const rec = 3073;
    const b2 = readFileSync(join(root, 'cifar-10-batches-bin', 'data_batch_2.bin'));
    const [img, label] = train.getItem(10_000);
    expect(label).toBe(b2[0]);
    expect(img.data[0]).toBe(b2[1]);
    const b5 = readFileSync(join(root, 'cifar-10-batches-bin', 'data_batch_5.bin'));
    const [last, lastLabel] = train.getItem(-1);
    expect(lastLabel).toBe(b5[9999 * rec]);
    expect(last.data[3 * 1023 + 2]).toBe(b5[9999 * rec + 1 + 2048 + 1023]);
    const tb = readFileSync(join(root, 'cifar-10-batches-bin', 'test_batch.bin'));
    expect(test.getItem(3)[1]).toBe(tb[3 * rec]);
  });

  it('ToTensor gives float32 [3, 32, 32] = byte / 255', () => {
    const ds = new datasets.CIFAR10(root, { train: false, transform: new transforms.ToTensor() });
    const [x, y] = ds.getItem(0);
    const tb = readFileSync(join(root, 'cifar-10-batches-bin', 'test_batch.bin'));
    expect(y).toBe(tb[0]);
    expect(x.shape).toEqual([3, 32, 32]);
    expect(x.dtype).toBe('float32');
    const v = x.dataSync();
    // CHW planes in the file order: element k of the tensor is byte 1 + k.
    for (const k of [0, 1, 1023, 1024, 2047, 2048, 3071]) expect(v[k]).toBeCloseTo(tb[1 + k] / 255, 7);
  });

  it('asTensors gives uint8 [N, 3, 32, 32] images and int32 labels', () => {
    const { images, labels } = test.asTensors();
    expect(images.shape).toEqual([10_000, 3, 32, 32]);
    expect(images.dtype).toBe('uint8');
    expect(labels.dtype).toBe('int32');
    const tb = readFileSync(join(root, 'cifar-10-batches-bin', 'test_batch.bin'));
    expect(images.select(0, 1).select(0, 2).select(0, 0).select(0, 0).item()).toBe(tb[3073 + 1 + 2048]);
    expect(labels.slice(0, 0, 3).toArray()).toEqual([tb[0], tb[3073], tb[2 * 3073]]);
    images.dispose();
    labels.dispose();
  });
});

describe('CIFAR10 on fake data', () => {
  it('reads records, classes and labels (negative indices count from the end)', () => {
    const root = tmpDir();
    writeFakeCifar10(root);
    const ds = new datasets.CIFAR10(root);
    expect(ds.length).toBe(10);
    expect(Array.from(ds.targets)).toEqual([1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
    const [img, label] = ds.getItem(3); // batch 2, record 1: seed 201
    expect(label).toBe(3);
    expect(img.data[(2 * 32 + 1) * 3 + 1]).toBe(fakePixel(201, 1024 + 2 * 32 + 1));
    expect(ds.getItem(-1)[1]).toBe(6);
    expect(() => ds.getItem(10)).toThrow(/index 10 is out of range for a dataset of length 10/);
    const testSet = new datasets.CIFAR10(root, { train: false, targetTransform: (y: number) => `class ${y}` });
    expect(testSet.getItem(0)[1]).toBe('class 7');
  });

  it('says where to put the archive when there is no data', () => {
    const root = tmpDir();
    const err = (() => {
      try {
        new datasets.CIFAR10(root);
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    })();
    expect(err.message).toContain(`there is neither the folder ${join(root, 'cifar-10-batches-bin')} nor the archive ${join(root, 'cifar-10-binary.tar.gz')}`);
    expect(err.message).toContain(`put cifar-10-binary.tar.gz at ${join(root, 'cifar-10-binary.tar.gz')}`);
    expect(err.message).toContain('DL_CIFAR10_MIRRORS');
    expect(err.message).toContain("{ archive: '/path/to/cifar-10-binary.tar.gz' }");
    expect(() => new datasets.CIFAR10(root, { download: true })).toThrow(/await datasets\.CIFAR10\.create\(root, \{ download: true \}\)/);
    expect(() => new datasets.CIFAR10(root, { archive: join(root, 'nope.tar.gz') })).toThrow(/nope\.tar\.gz \(option archive\) does not exist/);
  });

  it('names a truncated batch file and the expected record size', () => {
    const root = tmpDir();
    const folder = writeFakeCifar10(root);
    truncateSync(join(folder, 'data_batch_3.bin'), 2 * 3073 - 5);
    expect(() => new datasets.CIFAR10(root)).toThrow(`${join(folder, 'data_batch_3.bin')} has 6141 bytes; expected a multiple of 3073 bytes`);
  });

  it('names missing files, bad labels and broken archives', () => {
    const root = tmpDir();
    const folder = writeFakeCifar10(root);
    rmSync(join(folder, 'test_batch.bin'));
    expect(() => new datasets.CIFAR10(root, { train: false })).toThrow(`${folder} is incomplete: missing test_batch.bin`);
    expect(new datasets.CIFAR10(root).length).toBe(10); // the training split is complete
    writeFileSync(join(folder, 'data_batch_1.bin'), fakeRecords([1, 12], 0));
    expect(() => new datasets.CIFAR10(root)).toThrow(`record 1 of ${join(folder, 'data_batch_1.bin')} has label 12, outside [0, 10)`);
    const root2 = tmpDir();
    writeFileSync(join(root2, 'cifar-10-binary.tar.gz'), Buffer.from('this is not a gzip file at all'));
    expect(() => new datasets.CIFAR10(root2)).toThrow(`cannot extract ${join(root2, 'cifar-10-binary.tar.gz')}`);
    expect(existsSync(join(root2, 'cifar-10-batches-bin'))).toBe(false);
  });

  it('workerSpec carries transform specs and the loaded arrays; the rebuilt dataset gives the same items', () => {
    const root = tmpDir();
    const folder = writeFakeCifar10(root);
    const tf = new transforms.Compose([new transforms.RandomCrop(32, { padding: 4 }), new transforms.RandomHorizontalFlip(), new transforms.ToTensor(), new transforms.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])]);
    const ds = new datasets.CIFAR10<Tensor>(root, { transform: tf });
    const saved = process.env.DL_VISION_WORKER_MODULE;
    process.env.DL_VISION_WORKER_MODULE = '/somewhere/datasets.js';
    let spec: ReturnType<typeof ds.workerSpec>;
    try {
      spec = ds.workerSpec();
    } finally {
      if (saved === undefined) delete process.env.DL_VISION_WORKER_MODULE;
      else process.env.DL_VISION_WORKER_MODULE = saved;
    }
    expect(spec.module).toBe('file:///somewhere/datasets.js');
    expect(spec.exportName).toBe('CIFAR10');
    const opts = spec.args[1] as { transform: { name: string; args: unknown[] } };
    expect(opts.transform.name).toBe('Compose');
    expect((opts.transform.args[0] as { name: string }[]).map((s) => s.name)).toEqual(['RandomCrop', 'RandomHorizontalFlip', 'ToTensor', 'Normalize']);
    // The args survive structured cloning (what postMessage does), and the clone needs no files.
    const args = structuredClone(spec.args) as [string, datasets.CifarOptions<Tensor>];
    rmSync(folder, { recursive: true });
    const rebuilt = new datasets.CIFAR10<Tensor>(...args);
    expect(rebuilt.length).toBe(10);
    manualSeed(5);
    const a = ds.getItem(4)[0].dataSync();
    manualSeed(5);
    const b = rebuilt.getItem(4)[0].dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
    const withLambda = new datasets.CIFAR10(...args.slice(0, 1) as [string], { ...args[1], transform: (img: Image) => img.height });
    expect(() => withLambda.workerSpec()).toThrow(/Lambda transform .* cannot be sent to a DataLoader worker thread/);
  });
});

describe('CIFAR100 on fake data', () => {
  it('reads coarse and fine labels and both name lists, from an extracted folder', () => {
    const root = tmpDir();
    const folder = join(root, 'cifar-100-binary');
    mkdirSync(folder);
    writeFileSync(join(folder, 'train.bin'), fakeRecords([[3, 57], [19, 99], [0, 0]], 10));
    writeFileSync(join(folder, 'test.bin'), fakeRecords([[7, 42]], 20));
    writeFileSync(join(folder, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n'));
    writeFileSync(join(folder, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, i) => `coarse${i}`).join('\n'));
    const ds = new datasets.CIFAR100(root);
    expect(ds.length).toBe(3);
    expect(Array.from(ds.targets)).toEqual([57, 99, 0]);
    expect(Array.from(ds.coarseTargets)).toEqual([3, 19, 0]);
    expect(ds.classes[57]).toBe('fine57');
    expect(ds.coarseClasses[19]).toBe('coarse19');
    const [img, y] = ds.getItem(1);
    expect(y).toBe(99);
    expect(img.data[2]).toBe(fakePixel(11, 2048));
    expect(new datasets.CIFAR100(root, { train: false }).getItem(0)[1]).toBe(42);
    writeFileSync(join(folder, 'test.bin'), Buffer.alloc(3073));
    expect(() => new datasets.CIFAR100(root, { train: false })).toThrow(/expected a multiple of 3074 bytes \(2 label bytes \+ 3072 pixel bytes per record\)/);
  });
});
