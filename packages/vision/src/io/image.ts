/**
 * Images in memory and on disk: the "PIL-like" image object every dataset hands out before
 * transforms (uint8, height x width x channels, row-major, channels interleaved), decoding of
 * JPEG (jpeg-js) and PNG (pngjs) files, and PNG encoding. Also the conversions between images
 * and tensors (torchvision's pil_to_tensor / to_pil_image).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { ColorType } from 'pngjs';
import { Tensor, tensor } from '@dl/tensor';
import { fail, reasonOf } from '../errors.js';

/** A uint8 image, height x width x channels (1: gray, 3: RGB, 4: RGBA), channels interleaved. */
export interface Image {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

/** What a decoded image is converted to: 'rgb' (the default, as torchvision's loader), 'gray' (PIL's 'L'), 'rgba', or 'unchanged'. */
export type ImageMode = 'rgb' | 'gray' | 'rgba' | 'unchanged';

export interface DecodeOptions {
  mode?: ImageMode;
  /** The file name, for error messages. */
  name?: string;
  /**
   * The most pixels (height x width) an image may have; larger ones are refused before any
   * pixel is decoded, so a small file cannot expand into gigabytes. Default: PIL's limit,
   * 2 x 89,478,485 pixels (PIL warns above half of it).
   */
  maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 2 * 89_478_485;

/** A new image (zero-filled unless `data` is given; `data` is used as is, not copied). */
export function createImage(height: number, width: number, channels: number, data?: Uint8Array): Image {
  for (const [n, v] of [['height', height], ['width', width], ['channels', channels]] as const) {
    if (!Number.isInteger(v) || v < 0) fail('ARGUMENT', 'createImage', `${n} must be a non-negative integer; got ${v}`);
  }
  if (![1, 2, 3, 4].includes(channels)) fail('ARGUMENT', 'createImage', `channels must be 1, 2, 3 or 4; got ${channels}`);
  const n = height * width * channels;
  if (data !== undefined && (!(data instanceof Uint8Array) || data.length !== n)) {
    fail('SHAPE', 'createImage', `data must be a Uint8Array of height * width * channels = ${n} values; got ${data instanceof Uint8Array ? data.length : typeof data}`);
  }
  return { data: data ?? new Uint8Array(n), height, width, channels };
}

/** Whether x is an image object ({ data: Uint8Array, height, width, channels } with matching sizes). */
export function isImage(x: unknown): x is Image {
  if (typeof x !== 'object' || x === null || x instanceof Tensor) return false;
  const i = x as Partial<Image>;
  return (
    i.data instanceof Uint8Array &&
    Number.isInteger(i.height) &&
    Number.isInteger(i.width) &&
    Number.isInteger(i.channels) &&
    i.data.length === (i.height as number) * (i.width as number) * (i.channels as number)
  );
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function imageFormat(bytes: Uint8Array): 'png' | 'jpeg' | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/**
 * Width and height from the header (PNG: IHDR; JPEG: the first start-of-frame segment), or
 * null when the header is cut short (the decoder then says what is wrong).
 */
export function imageSize(bytes: Uint8Array, format: 'png' | 'jpeg'): { width: number; height: number } | null {
  const u16 = (i: number) => (bytes[i] << 8) | bytes[i + 1];
  if (format === 'png') {
    if (bytes.length < 24) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  // JPEG: segments FF xx <length u16> after the FF D8 start marker; SOF0..SOF15 carry the size,
  // except C4 (Huffman tables), C8 (reserved) and CC (arithmetic coding conditioning).
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { height: u16(i + 5), width: u16(i + 7) };
    i += 2 + u16(i + 2);
  }
  return null;
}

/** Decode JPEG or PNG bytes (the format is recognised from the bytes, not the file name). */
export function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Image {
  const op = 'decodeImage';
  const what = opts.name ?? 'the image';
  if (!(bytes instanceof Uint8Array)) fail('ARGUMENT', op, `expected the file's bytes as a Uint8Array or Buffer; got ${typeof bytes}`);
  const format = imageFormat(bytes);
  if (format === null) {
    const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    fail('IO', op, `cannot decode ${what}: not a JPEG or PNG file (${bytes.length === 0 ? 'the file is empty' : `it starts with bytes ${head}`})`, 'only JPEG and PNG images are supported; convert the file or remove it from the folder');
  }
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const size = imageSize(bytes, format);
  if (size !== null && size.height * size.width > maxPixels) {
    fail('IO', op, `cannot decode ${what}: it is ${size.width}x${size.height} = ${size.width * size.height} pixels, over the limit of ${maxPixels}`, 'resize the image first, or raise the limit with { maxPixels } if the file is trusted');
  }
  let img: Image;
  try {
    if (format === 'jpeg') {
      // 3 interleaved channels (gray JPEGs come out as RGB with equal channels).
      const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024, maxResolutionInMP: Math.max(100, maxPixels / 1e6) });
      img = { data: d.data, height: d.height, width: d.width, channels: 3 };
    } else {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      // pngjs always hands out RGBA; keep the channels the file has.
      const channels = (png.color ? 3 : 1) + (png.alpha ? 1 : 0);
      const rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
      img = fromRgba(rgba, png.height, png.width, channels);
    }
  } catch (e) {
    fail('IO', op, `cannot decode ${what} as ${format === 'jpeg' ? 'JPEG' : 'PNG'}: ${reasonOf(e)}`, 'the file is corrupt or truncated; re-create or remove it');
  }
  return convertImage(img, opts.mode ?? 'rgb');
}

/** Read and decode a JPEG or PNG file (synchronously). Errors name the file. */
export function readImage(path: string, opts: Omit<DecodeOptions, 'name'> = {}): Image {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    fail('IO', 'readImage', `cannot read ${path}: ${reasonOf(e)}`);
  }
  return decodeImage(bytes, { ...opts, name: path });
}

function fromRgba(rgba: Uint8Array, height: number, width: number, channels: number): Image {
  const n = height * width;
  const out = new Uint8Array(n * channels);
  const pick = channels === 1 ? [0] : channels === 2 ? [0, 3] : channels === 3 ? [0, 1, 2] : [0, 1, 2, 3];
  for (let p = 0; p < n; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = rgba[p * 4 + pick[c]];
  return { data: out, height, width, channels };
}

/** ITU-R 601-2 luma in PIL's fixed point: L = R * 299/1000 + G * 587/1000 + B * 114/1000, rounded. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/** Convert between gray, gray+alpha, RGB and RGBA (PIL's Image.convert; alpha is dropped, not composited). */
export function convertImage(img: Image, mode: ImageMode): Image {
  if (mode === 'unchanged') return img;
  const want = mode === 'rgb' ? 3 : mode === 'gray' ? 1 : mode === 'rgba' ? 4 : fail('ARGUMENT', 'convertImage', `unknown mode '${String(mode)}'`, "use 'rgb', 'gray', 'rgba' or 'unchanged'");
  const c = img.channels;
  if (c === want) return img;
  const n = img.height * img.width;
  const src = img.data;
  const out = new Uint8Array(n * want);
  for (let p = 0; p < n; p++) {
    const s = p * c;
    const gray = c <= 2;
    const r = src[s];
    const g = gray ? r : src[s + 1];
    const b = gray ? r : src[s + 2];
    const a = c === 2 ? src[s + 1] : c === 4 ? src[s + 3] : 255;
    const o = p * want;
    if (want === 1) out[o] = gray ? r : luma(r, g, b);
    else {
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
      if (want === 4) out[o + 3] = a;
    }
  }
  return { data: out, height: img.height, width: img.width, channels: want };
}

/** PNG bytes of an image (gray, gray+alpha, RGB or RGBA; 8 bits per channel). */
export function encodePng(img: Image): Buffer {
  if (!isImage(img)) fail('ARGUMENT', 'encodePng', 'expected an image { data: Uint8Array, height, width, channels } with data.length = height * width * channels');
  // pngjs packs from RGBA input (its gray+alpha input path is not usable), so widen first.
  const colorType: ColorType = img.channels === 1 ? 0 : img.channels === 2 ? 4 : img.channels === 3 ? 2 : 6;
  const rgba = convertImage(img, 'rgba');
  if (img.channels === 2) for (let p = 0; p < img.height * img.width; p++) rgba.data[p * 4 + 3] = img.data[p * 2 + 1];
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(rgba.data.buffer, rgba.data.byteOffset, rgba.data.byteLength);
  return PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true });
}

/** Write a PNG file atomically (a temp file in the same folder, renamed over the target). */
export function writePng(path: string, img: Image): void {
  writeFileAtomic('writePng', path, encodePng(img));
}

/** Write bytes to `path` through a temp file in the same folder and a rename, so a reader never sees half a file. */
export function writeFileAtomic(op: string, path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    fail('IO', op, `cannot write ${path}: ${reasonOf(e)}`, 'check that the folder exists and is writable');
  }
}

/** A uint8 tensor [C, H, W] of the image's values (torchvision's pil_to_tensor). */
export function imageToTensor(img: Image): Tensor {
  if (!isImage(img)) fail('ARGUMENT', 'imageToTensor', 'expected an image { data: Uint8Array, height, width, channels }');
  const { height: h, width: w, channels: c, data } = img;
  const out = new Uint8Array(c * h * w);
  const hw = h * w;
  for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) out[k * hw + p] = data[p * c + k];
  return tensor(out, { shape: [c, h, w], dtype: 'uint8', copy: false });
}

/**
 * An image of a tensor [C, H, W] (or [H, W]) with 1 to 4 channels (torchvision's to_pil_image):
 * uint8 values as they are; floats are taken to be in [0, 1] and become floor(v * 255), clamped.
 */
export function tensorToImage(t: Tensor): Image {
  const op = 'tensorToImage';
  if (!(t instanceof Tensor)) fail('ARGUMENT', op, `expected a Tensor; got ${typeof t}`);
  if (t.ndim !== 2 && t.ndim !== 3) fail('SHAPE', op, `expected a tensor [C, H, W] or [H, W]; got shape [${t.shape.join(', ')}]`, 'for a batch, use utils.makeGrid first');
  const [c, h, w] = t.ndim === 2 ? [1, t.shape[0], t.shape[1]] : t.shape;
  if (c < 1 || c > 4) fail('SHAPE', op, `expected 1 to 4 channels; got ${c} (shape [${t.shape.join(', ')}])`);
  if (t.dtype === 'bool') fail('DTYPE', op, 'cannot make an image of a bool tensor', "cast it first, e.g. t.to('uint8').mul(255)");
  const src = t.dataSync();
  const scale = t.dtype === 'float32' || t.dtype === 'float64';
  const out = new Uint8Array(c * h * w);
  const hw = h * w;
  for (let k = 0; k < c; k++) {
    for (let p = 0; p < hw; p++) {
      const v = scale ? Math.floor(src[k * hw + p] * 255) : src[k * hw + p];
      out[p * c + k] = Math.min(Math.max(v, 0), 255);
    }
  }
  return { data: out, height: h, width: w, channels: c };
}
