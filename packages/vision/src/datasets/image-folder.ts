/**
 * ImageFolder (torchvision.datasets.ImageFolder): images arranged one folder per class,
 *
 *     root/dog/xxx.png
 *     root/dog/nested/xxy.jpg
 *     root/cat/123.jpg
 *
 * Classes are the sorted names of root's sub-folders (class index = position); the samples of
 * each class are the files found below its folder (recursively, in sorted order) whose names
 * end with one of the extensions. Images are decoded when fetched (JPEG or PNG, converted to
 * RGB by default, as torchvision's loader).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset } from '@dl/data';
import type { WorkerSpec } from '@dl/data';
import { fail, reasonOf } from '../errors.js';
import { readImage } from '../io/image.js';
import type { Image, ImageMode } from '../io/image.js';
import { toTransform } from '../transforms/transforms.js';
import type { Transform, TransformLike } from '../transforms/transforms.js';
import { workerModule } from '../worker-module.js';
import { absPath } from './download.js';

export const IMG_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

export interface ImageFolderOptions<X = Image, Y = number> {
  transform?: TransformLike<Image, X> | null;
  targetTransform?: TransformLike<number, Y> | null;
  /** File name endings that count as images, compared case-insensitively (default .jpg, .jpeg, .png). */
  extensions?: readonly string[];
  /** What images are converted to (default 'rgb'). */
  mode?: ImageMode;
  /** Allow class folders without images (default false: an error names them). */
  allowEmpty?: boolean;
}

function listDir(op: string, dir: string): import('node:fs').Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    return fail('IO', op, `cannot read the folder ${dir}: ${reasonOf(e)}`);
  }
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Is this entry a directory (following symlinks, as torchvision's os.walk(followlinks=True))? */
function isDir(dir: string, e: import('node:fs').Dirent): boolean {
  if (e.isDirectory()) return true;
  if (!e.isSymbolicLink()) return false;
  try {
    return statSync(join(dir, e.name)).isDirectory();
  } catch {
    return false;
  }
}

/** The sorted class folders of root and their indices. */
export function findClasses(root: string): { classes: string[]; classToIdx: Record<string, number> } {
  const classes = listDir('ImageFolder', root)
    .filter((e) => isDir(root, e))
    .map((e) => e.name)
    .sort(byCodePoint);
  if (classes.length === 0) fail('IO', 'ImageFolder', `couldn't find any class folder in ${root}`, 'ImageFolder expects root/<class>/<image files>');
  return { classes, classToIdx: Object.fromEntries(classes.map((c, i) => [c, i])) };
}

/** [path, classIndex] for every image file below each class folder. */
export function makeDataset(root: string, classToIdx: Record<string, number>, extensions: readonly string[], allowEmpty = false): [string, number][] {
  const exts = extensions.map((e) => e.toLowerCase());
  const ok = (name: string) => exts.some((e) => name.toLowerCase().endsWith(e));
  const samples: [string, number][] = [];
  const empty: string[] = [];
  // torchvision: for root, _, fnames in sorted(os.walk(dir)): for fname in sorted(fnames),
  // i.e. ordered by (folder path, file name).
  const walk = (dir: string, out: [string, string][]) => {
    for (const e of listDir('ImageFolder', dir)) {
      if (isDir(dir, e)) walk(join(dir, e.name), out);
      else if (ok(e.name)) out.push([dir, e.name]);
    }
  };
  for (const cls of Object.keys(classToIdx).sort(byCodePoint)) {
    const files: [string, string][] = [];
    walk(join(root, cls), files);
    files.sort((a, b) => byCodePoint(a[0], b[0]) || byCodePoint(a[1], b[1]));
    const found = files.map(([d, f]): [string, number] => [join(d, f), classToIdx[cls]]);
    if (found.length === 0) empty.push(cls);
    samples.push(...found);
  }
  if (empty.length > 0 && !allowEmpty) {
    fail('IO', 'ImageFolder', `found no valid file for the class${empty.length > 1 ? 'es' : ''} ${empty.join(', ')} in ${root}; supported extensions are: ${exts.join(', ')}`, 'add images, pass extensions: [...] or allowEmpty: true');
  }
  return samples;
}

export class ImageFolder<X = Image, Y = number> extends Dataset<[X, Y]> {
  readonly root: string;
  readonly classes: string[];
  readonly classToIdx: Record<string, number>;
  /** [path, classIndex] pairs. */
  readonly samples: [string, number][];
  /** The class index of each sample. */
  readonly targets: number[];
  readonly extensions: string[];
  readonly mode: ImageMode;
  readonly allowEmpty: boolean;
  readonly transform: Transform<Image, X> | null;
  readonly targetTransform: Transform<number, Y> | null;

  constructor(root: string, opts: ImageFolderOptions<X, Y> = {}) {
    super();
    if (typeof root !== 'string' || root === '') fail('ARGUMENT', 'ImageFolder', `root must be a folder path; got ${JSON.stringify(root)}`);
    this.root = absPath(root);
    this.extensions = [...(opts.extensions ?? IMG_EXTENSIONS)];
    if (this.extensions.length === 0 || this.extensions.some((e) => typeof e !== 'string')) fail('ARGUMENT', 'ImageFolder', `extensions must be a non-empty array of strings; got ${JSON.stringify(opts.extensions)}`);
    this.mode = opts.mode ?? 'rgb';
    this.allowEmpty = opts.allowEmpty ?? false;
    this.transform = opts.transform == null ? null : toTransform(opts.transform, 'ImageFolder: transform');
    this.targetTransform = opts.targetTransform == null ? null : toTransform(opts.targetTransform, 'ImageFolder: targetTransform');
    const { classes, classToIdx } = findClasses(this.root);
    this.classes = classes;
    this.classToIdx = classToIdx;
    this.samples = makeDataset(this.root, classToIdx, this.extensions, this.allowEmpty);
    this.targets = this.samples.map((s) => s[1]);
  }

  get length(): number {
    return this.samples.length;
  }

  /** [image, classIndex]; an unreadable image is an error naming the file and the decoder's reason. */
  getItem(index: number): [X, Y] {
    if (!Number.isInteger(index)) fail('ARGUMENT', 'ImageFolder.getItem', `index must be an integer; got ${String(index)}`);
    const i = index < 0 ? index + this.length : index;
    if (i < 0 || i >= this.length) fail('ARGUMENT', 'ImageFolder.getItem', `index ${index} is out of range for a dataset of length ${this.length}`);
    const [path, target] = this.samples[i];
    const img = readImage(path, { mode: this.mode });
    return [this.transform ? this.transform.apply(img) : (img as unknown as X), this.targetTransform ? this.targetTransform.apply(target) : (target as unknown as Y)];
  }

  workerSpec(): WorkerSpec {
    const spec = (t: Transform<unknown, unknown> | null) => (t === null ? null : t.spec());
    return {
      module: workerModule(),
      exportName: 'ImageFolder',
      args: [
        this.root,
        {
          transform: spec(this.transform as Transform<unknown, unknown> | null),
          targetTransform: spec(this.targetTransform as Transform<unknown, unknown> | null),
          extensions: this.extensions,
          mode: this.mode,
          allowEmpty: this.allowEmpty,
        },
      ],
    };
  }
}
