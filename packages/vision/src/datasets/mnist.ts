/**
 * MNIST and Fashion-MNIST from their IDX files (torchvision.datasets.MNIST/FashionMNIST):
 * 28x28 gray images, labels 0..9.
 *
 * IDX: a big-endian header, two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte,
 * 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, one uint32
 * per dimension, then the values. Images are 0x00000803 (ubyte, 3 dims), labels 0x00000801
 * (ubyte, 1 dim). Files may be gzip-compressed (.gz) or raw.
 *
 * The files are looked for in root, root/<Name>/raw (torchvision's layout) and root/raw, with
 * or without .gz. Debian ships Fashion-MNIST in /usr/share/datasets/fashion-mnist
 * (`apt-get install dataset-fashion-mnist`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Dataset } from '@dl/data';
import type { WorkerSpec } from '@dl/data';
import { tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { fail, reasonOf } from '../errors.js';
import type { Image } from '../io/image.js';
import { toTransform } from '../transforms/transforms.js';
import type { Transform, TransformLike } from '../transforms/transforms.js';
import { workerModule } from '../worker-module.js';
import { absPath } from './download.js';

export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxData {
  /** The IDX type code: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double. */
  typeCode: number;
  shape: number[];
  data: IdxArray;
}

const IDX_TYPES: Record<number, { size: number; name: string; make: (n: number) => IdxArray; get: (v: DataView, o: number) => number }> = {
  // 0x08
  8: { size: 1, name: 'ubyte', make: (n) => new Uint8Array(n), get: (v, o) => v.getUint8(o) },
  // 0x09
  9: { size: 1, name: 'byte', make: (n) => new Int8Array(n), get: (v, o) => v.getInt8(o) },
  // 0x0B
  11: { size: 2, name: 'short', make: (n) => new Int16Array(n), get: (v, o) => v.getInt16(o, false) },
  // 0x0C
  12: { size: 4, name: 'int', make: (n) => new Int32Array(n), get: (v, o) => v.getInt32(o, false) },
  // 0x0D
  13: { size: 4, name: 'float', make: (n) => new Float32Array(n), get: (v, o) => v.getFloat32(o, false) },
  // 0x0E
  14: { size: 8, name: 'double', make: (n) => new Float64Array(n), get: (v, o) => v.getFloat64(o, false) },
};

/**
 * Parse IDX bytes (gzip-compressed or raw). `name` is used in errors. Checks the magic number,
 * the type code and that the file holds exactly the values its header announces.
 */
export function parseIdx(bytes: Uint8Array, name = 'the IDX data'): IdxData {
  const op = 'parseIdx';
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      fail('IO', op, `cannot decompress ${name}: ${reasonOf(e)}`, 'the .gz file is corrupt or truncated: download or copy it again');
    }
  }
  if (buf.length < 4) fail('IO', op, `${name} is too short for an IDX header (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    const magic = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    fail('IO', op, `${name} is not an IDX file: bad magic number 0x${magic} (expected 0x0000TTNN: two zero bytes, a type code, the number of dimensions)`);
  }
  const type = IDX_TYPES[buf[2]];
  if (!type) fail('IO', op, `${name} has an unknown IDX type code 0x${buf[2].toString(16).padStart(2, '0')}`, 'known codes: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double');
  const ndim = buf[3];
  const headerSize = 4 + 4 * ndim;
  if (buf.length < headerSize) fail('IO', op, `${name} is truncated: its header announces ${ndim} dimensions but the file has ${buf.length} bytes`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerSize + count * type.size;
  if (buf.length !== expected) {
    fail('IO', op, `${name} has ${buf.length} bytes; its header (shape [${shape.join(', ')}] of ${type.name}) needs exactly ${expected}`, buf.length < expected ? 'the file is truncated: download or copy it again' : 'the file has trailing data: it is corrupt');
  }
  let data: IdxArray;
  if (type.size === 1 && buf[2] === 0x08) {
    data = new Uint8Array(buf.subarray(headerSize, expected)); // a plain copy (Buffer.slice would be a view)
  } else {
    data = type.make(count);
    for (let i = 0; i < count; i++) data[i] = type.get(view, headerSize + i * type.size);
  }
  return { typeCode: buf[2], shape, data };
}

/** Read and parse an IDX file (.gz or raw). */
export function readIdx(path: string): IdxData {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    fail('IO', 'readIdx', `cannot read ${path}: ${reasonOf(e)}`);
  }
  return parseIdx(bytes, path);
}

export interface MnistOptions<X = Image, Y = number> {
  /** The training set (default) or the test set. */
  train?: boolean;
  /** Applied to each image (an io.Image, uint8 28x28x1), e.g. transforms.ToTensor(). */
  transform?: TransformLike<Image, X> | null;
  targetTransform?: TransformLike<number, Y> | null;
  /** @internal Shared arrays from the main thread (set by workerSpec()). */
  preloaded?: { data: Uint8Array; targets: Int32Array; rows: number; cols: number };
}

function sharedCopy<T extends Uint8Array | Int32Array>(src: ArrayLike<number>, Ctor: new (b: SharedArrayBuffer) => T, bytesPer: number): T {
  const out = new Ctor(new SharedArrayBuffer(src.length * bytesPer));
  out.set(src);
  return out;
}

/** The MNIST family; subclasses give the folder name and the class names. */
abstract class MnistLike<X, Y> extends Dataset<[X, Y]> {
  readonly root: string;
  readonly train: boolean;
  /** All images, N x rows x cols bytes. */
  readonly data: Uint8Array;
  readonly targets: Int32Array;
  readonly rows: number;
  readonly cols: number;
  readonly transform: Transform<Image, X> | null;
  readonly targetTransform: Transform<number, Y> | null;
  abstract readonly classes: string[];

  protected constructor(
    private readonly name: string,
    root: string,
    opts: MnistOptions<X, Y>,
    aptHint?: string,
  ) {
    super();
    if (typeof root !== 'string' || root === '') fail('ARGUMENT', name, `root must be a folder path; got ${JSON.stringify(root)}`);
    this.root = absPath(root);
    this.train = opts.train ?? true;
    this.transform = opts.transform == null ? null : toTransform(opts.transform, `${name}: transform`);
    this.targetTransform = opts.targetTransform == null ? null : toTransform(opts.targetTransform, `${name}: targetTransform`);
    if (opts.preloaded) {
      ({ data: this.data, targets: this.targets, rows: this.rows, cols: this.cols } = opts.preloaded);
      return;
    }
    const prefix = this.train ? 'train' : 't10k';
    const imagesFile = this.find(`${prefix}-images-idx3-ubyte`, aptHint);
    const labelsFile = this.find(`${prefix}-labels-idx1-ubyte`, aptHint);
    const images = readIdx(imagesFile);
    const labels = readIdx(labelsFile);
    if (images.typeCode !== 0x08 || images.shape.length !== 3) {
      fail('IO', name, `${imagesFile} is not an image file: expected magic 0x00000803 (unsigned bytes, 3 dimensions); got type 0x${images.typeCode.toString(16)} with ${images.shape.length} dimensions`);
    }
    if (labels.typeCode !== 0x08 || labels.shape.length !== 1) {
      fail('IO', name, `${labelsFile} is not a label file: expected magic 0x00000801 (unsigned bytes, 1 dimension); got type 0x${labels.typeCode.toString(16)} with ${labels.shape.length} dimensions`);
    }
    if (images.shape[0] !== labels.shape[0]) fail('IO', name, `${imagesFile} holds ${images.shape[0]} images but ${labelsFile} holds ${labels.shape[0]} labels`, 'the files belong to different splits or versions');
    const bad = (labels.data as Uint8Array).findIndex((v) => v > 9);
    if (bad >= 0) fail('IO', name, `label ${labels.data[bad]} at position ${bad} of ${labelsFile} is outside [0, 10)`);
    this.rows = images.shape[1];
    this.cols = images.shape[2];
    this.data = sharedCopy(images.data, Uint8Array, 1);
    this.targets = sharedCopy(labels.data, Int32Array, 4);
  }

  private find(base: string, aptHint?: string): string {
    const dirs = [this.root, join(this.root, this.name, 'raw'), join(this.root, 'raw')];
    const candidates = dirs.flatMap((d) => [join(d, base), join(d, `${base}.gz`)]);
    const found = candidates.find((p) => existsSync(p));
    if (found) return found;
    return fail(
      'IO',
      this.name,
      `cannot find ${base} (or ${base}.gz); looked in ${dirs.join(', ')}`,
      `put the four IDX files (train/t10k images and labels) in ${this.root}${aptHint ? `; ${aptHint}` : ''}`,
    );
  }

  get length(): number {
    return this.targets.length;
  }

  /** The raw image i (uint8 rows x cols x 1), before transforms. */
  getImage(index: number): Image {
    if (!Number.isInteger(index)) fail('ARGUMENT', `${this.name}.getItem`, `index must be an integer; got ${String(index)}`);
    const i = index < 0 ? index + this.length : index;
    if (i < 0 || i >= this.length) fail('ARGUMENT', `${this.name}.getItem`, `index ${index} is out of range for a dataset of length ${this.length}`);
    const n = this.rows * this.cols;
    return { data: this.data.slice(i * n, (i + 1) * n), height: this.rows, width: this.cols, channels: 1 };
  }

  getItem(index: number): [X, Y] {
    const img = this.getImage(index);
    const label = this.targets[index < 0 ? index + this.length : index];
    return [this.transform ? this.transform.apply(img) : (img as unknown as X), this.targetTransform ? this.targetTransform.apply(label) : (label as unknown as Y)];
  }

  /** Images uint8 [N, 1, rows, cols] and labels int32 [N] (copies unless copy: false). */
  asTensors(opts: { copy?: boolean } = {}): { images: Tensor; labels: Tensor } {
    const copy = opts.copy ?? true;
    return {
      images: tensor(copy ? this.data.slice() : this.data, { shape: [this.length, 1, this.rows, this.cols], dtype: 'uint8', copy: false }),
      labels: tensor(copy ? this.targets.slice() : this.targets, { shape: [this.length], dtype: 'int32', copy: false }),
    };
  }

  workerSpec(): WorkerSpec {
    const spec = (t: Transform<unknown, unknown> | null) => (t === null ? null : t.spec());
    return {
      module: workerModule(),
      exportName: this.name,
      args: [
        this.root,
        {
          train: this.train,
          transform: spec(this.transform as Transform<unknown, unknown> | null),
          targetTransform: spec(this.targetTransform as Transform<unknown, unknown> | null),
          preloaded: { data: this.data, targets: this.targets, rows: this.rows, cols: this.cols },
        },
      ],
    };
  }
}

/** MNIST handwritten digits. */
export class MNIST<X = Image, Y = number> extends MnistLike<X, Y> {
  readonly classes = ['0 - zero', '1 - one', '2 - two', '3 - three', '4 - four', '5 - five', '6 - six', '7 - seven', '8 - eight', '9 - nine'];
  constructor(root: string, opts: MnistOptions<X, Y> = {}) {
    super('MNIST', root, opts);
  }
}

/** Fashion-MNIST (Zalando): 10 classes of clothing, in MNIST's format. */
export class FashionMNIST<X = Image, Y = number> extends MnistLike<X, Y> {
  readonly classes = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
  constructor(root: string, opts: MnistOptions<X, Y> = {}) {
    super('FashionMNIST', root, opts, 'on Debian: apt-get install -y dataset-fashion-mnist, then root /usr/share/datasets/fashion-mnist');
  }
}
