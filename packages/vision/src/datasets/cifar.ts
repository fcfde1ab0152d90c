/**
 * CIFAR-10 and CIFAR-100 from their binary versions (torchvision.datasets.CIFAR10/100, which
 * read the Python pickles; the records here are the same images).
 *
 * Binary layout: records of label byte(s) then 3,072 pixel bytes (the 1,024 red values, then
 * green, then blue, each plane row-major 32x32). CIFAR-10: 1 label byte, files
 * cifar-10-batches-bin/data_batch_{1..5}.bin and test_batch.bin, class names in
 * batches.meta.txt. CIFAR-100: 2 label bytes (coarse, fine), files cifar-100-binary/train.bin
 * and test.bin, names in fine_label_names.txt and coarse_label_names.txt.
 *
 * `root` holds the extracted folder, or the archive (extracted into root on first use).
 * Everything is loaded into memory at construction (150 MB for CIFAR-10's training set), in
 * shared memory, so DataLoader workers get the arrays without copying or re-reading them.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset } from '@dl/data';
import type { WorkerSpec } from '@dl/data';
import { tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { fail } from '../errors.js';
import type { Image } from '../io/image.js';
import { toTransform } from '../transforms/transforms.js';
import type { Transform, TransformLike } from '../transforms/transforms.js';
import type { TransformSpec } from '../transforms/spec.js';
import { workerModule } from '../worker-module.js';
import { absPath, downloadFile, extractFolderAtomically, resolveMirrors } from './download.js';
import type { DownloadResult, ProgressOption } from './download.js';

export const CIFAR_IMAGE_BYTES = 3072;

/** What tells the CIFAR variants apart. */
export interface CifarInfo {
  name: 'CIFAR10' | 'CIFAR100';
  archive: string;
  folder: string;
  trainFiles: string[];
  testFiles: string[];
  /** Class names (fine names for CIFAR-100), one per line. */
  meta: string;
  coarseMeta?: string;
  labelBytes: 1 | 2;
  numClasses: number;
  numCoarse?: number;
  /** Accepted md5 checksums of the archive. */
  md5: string[];
  urls: string[];
  mirrorsEnv: string;
}

export const CIFAR10_INFO: CifarInfo = {
  name: 'CIFAR10',
  archive: 'cifar-10-binary.tar.gz',
  folder: 'cifar-10-batches-bin',
  trainFiles: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  testFiles: ['test_batch.bin'],
  meta: 'batches.meta.txt',
  labelBytes: 1,
  numClasses: 10,
  // The official archive, and the copy re-made from the JPEG version that this project keeps.
  md5: ['c32a1d4ab5d03f1284b67883e8d87530', '50c807481be9b002af7aade540a9e0ec'],
  urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
  mirrorsEnv: 'DL_CIFAR10_MIRRORS',
};

export const CIFAR100_INFO: CifarInfo = {
  name: 'CIFAR100',
  archive: 'cifar-100-binary.tar.gz',
  folder: 'cifar-100-binary',
  trainFiles: ['train.bin'],
  testFiles: ['test.bin'],
  meta: 'fine_label_names.txt',
  coarseMeta: 'coarse_label_names.txt',
  labelBytes: 2,
  numClasses: 100,
  numCoarse: 20,
  md5: ['03b5dce01913d631647c71ecec9e9cb8'],
  urls: ['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz'],
  mirrorsEnv: 'DL_CIFAR100_MIRRORS',
};

/** Arrays a worker gets from the main thread (shared memory), instead of reading the files again. */
export interface CifarPreloaded {
  data: Uint8Array;
  targets: Int32Array;
  coarseTargets?: Int32Array;
  classes: string[];
  coarseClasses?: string[];
}

export interface CifarOptions<X = Image, Y = number> {
  /** The training set (default) or the test set. */
  train?: boolean;
  /** Applied to each image (an io.Image, uint8 32x32x3), e.g. transforms.ToTensor(). A spec { name, args } works too. */
  transform?: TransformLike<Image, X> | null;
  /** Applied to each label. */
  targetTransform?: TransformLike<number, Y> | null;
  /**
   * Download the archive when neither the folder nor the archive is in root. Downloading is
   * asynchronous, so it happens in `await CIFAR10.create(root, { download: true })` (or
   * `await CIFAR10.download(root)`); the constructor only accepts the flag when the data is there.
   */
  download?: boolean;
  /** Ordered mirrors (URLs, file:// URLs or paths) of the archive; default: env DL_CIFAR10_MIRRORS (comma-separated), else the official URL. */
  mirrors?: readonly string[];
  /** A local archive (e.g. a shared read-only copy) to extract into root when the folder is missing. */
  archive?: string;
  /** Accepted md5 checksums of a downloaded archive (default: the known ones). */
  md5?: string | readonly string[];
  /** Download progress: a bar on a TTY, lines otherwise (default stderr), or false. */
  progress?: ProgressOption;
  /** @internal Shared arrays from the main thread (set by workerSpec()). */
  preloaded?: CifarPreloaded;
}

function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}
function sharedInts(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(n * 4));
}

function neededFiles(info: CifarInfo, train: boolean): string[] {
  return [...(train ? info.trainFiles : info.testFiles), info.meta, ...(info.coarseMeta ? [info.coarseMeta] : [])];
}

function archivePath(info: CifarInfo, root: string, opts: CifarOptions<unknown, unknown>): string {
  return opts.archive !== undefined ? absPath(opts.archive) : join(root, info.archive);
}

function notFoundHint(info: CifarInfo, root: string): string {
  return (
    `put ${info.archive} at ${join(root, info.archive)} (it is extracted there on first use), ` +
    `pass { archive: '/path/to/${info.archive}' }, or download it with await datasets.${info.name}.create(root, { download: true }) ` +
    `(mirrors: the mirrors option or env ${info.mirrorsEnv}, comma-separated)`
  );
}

/**
 * Make sure root/<folder> holds the split's files, extracting the archive when the folder is
 * missing. Throws one clear error otherwise.
 */
function locate(info: CifarInfo, root: string, train: boolean, opts: CifarOptions<unknown, unknown>): string {
  const op = info.name;
  const folder = join(root, info.folder);
  const needed = neededFiles(info, train);
  const missing = () => needed.filter((f) => !existsSync(join(folder, f)));
  if (missing().length === 0) return folder;
  if (!existsSync(folder)) {
    const archive = archivePath(info, root, opts);
    if (existsSync(archive)) {
      mkdirSync(root, { recursive: true });
      extractFolderAtomically(archive, root, info.folder, op);
      const still = missing();
      if (still.length > 0) fail('IO', op, `the archive ${archive} lacks ${still.map((f) => `${info.folder}/${f}`).join(', ')}`, `is it ${info.archive}? Delete ${folder} and use the right archive`);
      return folder;
    }
    if (opts.archive !== undefined) fail('IO', op, `the archive ${archive} (option archive) does not exist`, notFoundHint(info, root));
    if (opts.download) {
      fail('IO', op, `the data is not in ${root} yet, and a constructor cannot wait for a download`, `use await datasets.${info.name}.create(root, { download: true }) (or await datasets.${info.name}.download(root) once), then construct it`);
    }
    fail('IO', op, `dataset not found: there is neither the folder ${folder} nor the archive ${join(root, info.archive)}`, notFoundHint(info, root));
  }
  return fail('IO', op, `${folder} is incomplete: missing ${missing().join(', ')}`, `delete ${folder} and extract ${info.archive} again (it is re-extracted automatically when the archive is in root)`);
}

function readNames(op: string, path: string, expected: number): string[] {
  const names = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length !== expected) fail('IO', op, `${path} lists ${names.length} class names; expected ${expected}`, 'the file is corrupt: extract the archive again');
  return names;
}

/** Read the split's records into shared arrays, checking sizes and label ranges. */
function loadSplit(info: CifarInfo, folder: string, train: boolean): CifarPreloaded {
  const op = info.name;
  const recordSize = info.labelBytes + CIFAR_IMAGE_BYTES;
  const files = (train ? info.trainFiles : info.testFiles).map((f) => join(folder, f));
  let total = 0;
  for (const f of files) {
    const size = statSync(f).size;
    if (size === 0 || size % recordSize !== 0) {
      fail('IO', op, `${f} has ${size} bytes; expected a multiple of ${recordSize} bytes (${info.labelBytes} label byte${info.labelBytes > 1 ? 's' : ''} + ${CIFAR_IMAGE_BYTES} pixel bytes per record)`, `the file is truncated or not a ${info.name} binary batch: delete ${folder} and extract ${info.archive} again`);
    }
    total += size / recordSize;
  }
  const data = sharedBytes(total * CIFAR_IMAGE_BYTES);
  const targets = sharedInts(total);
  const coarseTargets = info.labelBytes === 2 ? sharedInts(total) : undefined;
  let rec = 0;
  for (const f of files) {
    const buf = readFileSync(f);
    for (let off = 0, k = 0; off < buf.length; off += recordSize, k++, rec++) {
      const fine = buf[off + info.labelBytes - 1];
      if (fine >= info.numClasses) fail('IO', op, `record ${k} of ${f} has label ${fine}, outside [0, ${info.numClasses})`, `the file is corrupt or not a ${info.name} batch`);
      targets[rec] = fine;
      if (coarseTargets) {
        const coarse = buf[off];
        if (coarse >= (info.numCoarse ?? 0)) fail('IO', op, `record ${k} of ${f} has coarse label ${coarse}, outside [0, ${info.numCoarse})`, `the file is corrupt or not a ${info.name} batch`);
        coarseTargets[rec] = coarse;
      }
      data.set(buf.subarray(off + info.labelBytes, off + recordSize), rec * CIFAR_IMAGE_BYTES);
    }
  }
  const classes = readNames(op, join(folder, info.meta), info.numClasses);
  const coarseClasses = info.coarseMeta ? readNames(op, join(folder, info.coarseMeta), info.numCoarse ?? 0) : undefined;
  return { data, targets, coarseTargets, classes, coarseClasses };
}

/** Whether the constructor will find the data (the folder, or an archive to extract). */
function present(info: CifarInfo, root: string, opts: CifarOptions<unknown, unknown>): boolean {
  const folder = join(root, info.folder);
  return neededFiles(info, opts.train ?? true).every((f) => existsSync(join(folder, f))) || existsSync(archivePath(info, root, opts));
}

/** Download (when the data is missing) and extract; see CIFAR10.download. */
async function downloadInto(info: CifarInfo, root: string, opts: CifarOptions<unknown, unknown>): Promise<DownloadResult | null> {
  const r = absPath(root);
  if (present(info, r, opts)) return null;
  const mirrors = resolveMirrors(opts.mirrors, info.mirrorsEnv, info.urls);
  const result = await downloadFile(mirrors, join(r, info.archive), {
    md5: opts.md5 ?? info.md5,
    progress: opts.progress,
    op: info.name,
    name: info.archive,
    hint: `without network access, put ${info.archive} at ${join(r, info.archive)} (or pass { archive: path }); other mirrors: the mirrors option or env ${info.mirrorsEnv} (comma-separated URLs or paths)`,
  });
  extractFolderAtomically(result.path, r, info.folder, info.name);
  return result;
}

function specOrThrow(t: Transform<unknown, unknown> | null, what: string): TransformSpec | null {
  if (t === null) return null;
  if (typeof (t as { spec?: unknown }).spec !== 'function') fail('ARGUMENT', what, 'the transform has no spec() method, so the dataset cannot be rebuilt in a DataLoader worker', 'use transforms with spec() (all built-ins), or numWorkers: 0');
  return t.spec();
}

function normIndex(op: string, index: number, length: number): number {
  if (!Number.isInteger(index)) fail('ARGUMENT', op, `index must be an integer; got ${String(index)}`);
  const i = index < 0 ? index + length : index;
  if (i < 0 || i >= length) fail('ARGUMENT', op, `index ${index} is out of range for a dataset of length ${length}`);
  return i;
}

/** Shared implementation of CIFAR10 and CIFAR100. */
abstract class CifarDataset<X, Y> extends Dataset<[X, Y]> {
  readonly root: string;
  readonly train: boolean;
  /** Class names, index = label. */
  readonly classes: string[];
  readonly classToIdx: Record<string, number>;
  /** All images, N x 3072 bytes: per image the R, G and B planes of 32x32 (NCHW order). */
  readonly data: Uint8Array;
  /** Labels (fine labels for CIFAR-100). */
  readonly targets: Int32Array;
  readonly transform: Transform<Image, X> | null;
  readonly targetTransform: Transform<number, Y> | null;
  protected abstract readonly info: CifarInfo;
  protected readonly loaded: CifarPreloaded;

  protected constructor(info: CifarInfo, root: string, opts: CifarOptions<X, Y>) {
    super();
    if (typeof root !== 'string' || root === '') fail('ARGUMENT', info.name, `root must be a folder path; got ${JSON.stringify(root)}`);
    this.root = absPath(root);
    this.train = opts.train ?? true;
    this.transform = opts.transform == null ? null : toTransform(opts.transform, `${info.name}: transform`);
    this.targetTransform = opts.targetTransform == null ? null : toTransform(opts.targetTransform, `${info.name}: targetTransform`);
    this.loaded = opts.preloaded ?? loadSplit(info, locate(info, this.root, this.train, opts as CifarOptions<unknown, unknown>), this.train);
    this.data = this.loaded.data;
    this.targets = this.loaded.targets;
    this.classes = this.loaded.classes;
    this.classToIdx = Object.fromEntries(this.classes.map((c, i) => [c, i]));
  }

  get length(): number {
    return this.targets.length;
  }

  /** The raw image i (uint8 32x32x3, HWC), before transforms. */
  getImage(index: number): Image {
    const i = normIndex(`${this.info.name}.getImage`, index, this.length);
    const out = new Uint8Array(CIFAR_IMAGE_BYTES);
    const base = i * CIFAR_IMAGE_BYTES;
    const d = this.data;
    for (let p = 0; p < 1024; p++) {
      out[p * 3] = d[base + p];
      out[p * 3 + 1] = d[base + 1024 + p];
      out[p * 3 + 2] = d[base + 2048 + p];
    }
    return { data: out, height: 32, width: 32, channels: 3 };
  }

  /** [image, label], each through its transform when given. */
  getItem(index: number): [X, Y] {
    const i = normIndex(`${this.info.name}.getItem`, index, this.length);
    const img = this.getImage(i);
    const label = this.targets[i];
    const x = this.transform ? this.transform.apply(img) : (img as unknown as X);
    const y = this.targetTransform ? this.targetTransform.apply(label) : (label as unknown as Y);
    return [x, y];
  }

  /**
   * The whole split as tensors, for batched pipelines: images uint8 [N, 3, 32, 32] and labels
   * int32 [N]. Copies by default; `copy: false` shares the dataset's memory (do not write into it).
   */
  asTensors(opts: { copy?: boolean } = {}): { images: Tensor; labels: Tensor } {
    const copy = opts.copy ?? true;
    const data = copy ? this.data.slice() : this.data;
    const targets = copy ? this.targets.slice() : this.targets;
    return {
      images: tensor(data, { shape: [this.length, 3, 32, 32], dtype: 'uint8', copy: false }),
      labels: tensor(targets, { shape: [this.length], dtype: 'int32', copy: false }),
    };
  }

  /** How a DataLoader worker rebuilds this dataset: the arrays are shared memory, transforms travel as specs. */
  workerSpec(): WorkerSpec {
    const name = this.info.name;
    const opts: CifarOptions<unknown, unknown> = {
      train: this.train,
      transform: specOrThrow(this.transform as Transform<unknown, unknown> | null, `${name}: transform`),
      targetTransform: specOrThrow(this.targetTransform as Transform<unknown, unknown> | null, `${name}: targetTransform`),
      preloaded: this.loaded,
    };
    return { module: workerModule(), exportName: name, args: [this.root, opts] };
  }

  override toString(): string {
    return `Dataset ${this.info.name}\n    Number of datapoints: ${this.length}\n    Root location: ${this.root}\n    Split: ${this.train ? 'Train' : 'Test'}${this.transform ? `\n    Transform: ${this.transform.toString()}` : ''}`;
  }
}

/**
 * CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 training, 10,000 test).
 *
 *     const train = new datasets.CIFAR10('data', { transform: new transforms.ToTensor() });
 *     const [x, y] = train.getItem(0); // x: float32 [3, 32, 32] in [0, 1], y: label 0..9
 */
export class CIFAR10<X = Image, Y = number> extends CifarDataset<X, Y> {
  protected readonly info = CIFAR10_INFO;
  constructor(root: string, opts: CifarOptions<X, Y> = {}) {
    super(CIFAR10_INFO, root, opts);
  }
  /** Download the archive into root when neither the folder nor the archive is there, then extract it. Returns null when nothing had to be downloaded. */
  static download(root: string, opts: CifarOptions<unknown, unknown> = {}): Promise<DownloadResult | null> {
    return downloadInto(CIFAR10_INFO, root, opts);
  }
  /** As the constructor, downloading first when `download: true` and the data is missing. */
  static async create<X = Image, Y = number>(root: string, opts: CifarOptions<X, Y> = {}): Promise<CIFAR10<X, Y>> {
    if (opts.download) await downloadInto(CIFAR10_INFO, root, opts as CifarOptions<unknown, unknown>);
    return new CIFAR10<X, Y>(root, opts);
  }
}

/** CIFAR-100: 100 fine classes (`classes`, `targets`) grouped in 20 coarse ones (`coarseClasses`, `coarseTargets`). */
export class CIFAR100<X = Image, Y = number> extends CifarDataset<X, Y> {
  protected readonly info = CIFAR100_INFO;
  /** Coarse (superclass) labels. */
  readonly coarseTargets: Int32Array;
  readonly coarseClasses: string[];
  constructor(root: string, opts: CifarOptions<X, Y> = {}) {
    super(CIFAR100_INFO, root, opts);
    this.coarseTargets = this.loaded.coarseTargets as Int32Array;
    this.coarseClasses = this.loaded.coarseClasses as string[];
  }
  static download(root: string, opts: CifarOptions<unknown, unknown> = {}): Promise<DownloadResult | null> {
    return downloadInto(CIFAR100_INFO, root, opts);
  }
  static async create<X = Image, Y = number>(root: string, opts: CifarOptions<X, Y> = {}): Promise<CIFAR100<X, Y>> {
    if (opts.download) await downloadInto(CIFAR100_INFO, root, opts as CifarOptions<unknown, unknown>);
    return new CIFAR100<X, Y>(root, opts);
  }
}
