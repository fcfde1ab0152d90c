/**
 * The safetensors format, in memory: an 8-byte little-endian header length N,
 * N bytes of UTF-8 JSON (padded with spaces), then the data buffer.
 *
 * The JSON maps tensor names to `{ dtype, shape, data_offsets: [begin, end] }`
 * (offsets into the data buffer, end exclusive) plus an optional
 * `__metadata__` of string values. Data is little-endian and row-major.
 *
 * Reading never trusts the file: every field is checked, the tensors must cover
 * the data buffer exactly (no holes, no overlaps), sizes are bounded by the
 * file's own length before anything is allocated, and every problem is a
 * DLError with code 'IO' naming the part of the file and the value.
 */
import { canonicalDevice } from '../device.js';
import type { Device } from '../device.js';
import type { DType, TypedArray } from '../dtype.js';
import { itemSize } from '../dtype.js';
import { fail, fmtShape } from '../errors.js';
import { fromHost } from '../ops/creation.js';
import { Tensor } from '../tensor.js';

/** Options for reading safetensors data. */
export interface SafetensorsLoadOptions {
  /** Device of the loaded tensors (default 'cpu'). */
  device?: Device;
}

/** Tensors (in file order) and the `__metadata__` strings of a safetensors file. */
export interface DecodedSafetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** The largest header we read (the reference implementation uses the same bound). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
/** The most dimensions a tensor in a file may have. */
const MAX_DIMS = 64;

interface FileDType {
  /** Bytes per element in the file. */
  size: number;
  /** The dtype the values load as. */
  dtype: DType;
}

/** File dtype codes we read, and what they become. */
const FILE_DTYPES: ReadonlyMap<string, FileDType> = new Map([
  ['BOOL', { size: 1, dtype: 'bool' }],
  ['U8', { size: 1, dtype: 'uint8' }],
  ['I8', { size: 1, dtype: 'int32' }],
  ['I16', { size: 2, dtype: 'int32' }],
  ['U16', { size: 2, dtype: 'int32' }],
  ['I32', { size: 4, dtype: 'int32' }],
  ['U32', { size: 4, dtype: 'int32' }],
  ['I64', { size: 8, dtype: 'int32' }],
  ['U64', { size: 8, dtype: 'int32' }],
  ['F16', { size: 2, dtype: 'float32' }],
  ['BF16', { size: 2, dtype: 'float32' }],
  ['F32', { size: 4, dtype: 'float32' }],
  ['F64', { size: 8, dtype: 'float64' }],
]);
const FILE_DTYPE_LIST = [...FILE_DTYPES.keys()].join(', ');

/** The code each of our dtypes is written as. */
const WRITE_CODES: Readonly<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ------------------------------------------------------------------ messages

/** Where an error happened: the op and, for files, the path (as a message prefix). */
export interface IOContext {
  op: string;
  where: string;
}

/** A string for a message: quoted, escaped, cut to `max` characters. */
export function quote(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  return `'${JSON.stringify(cut).slice(1, -1)}'`;
}

/** A JSON value for a message, without recursing into nested structures. */
export function show(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) {
    const flat = v.length <= 8 && v.every((x) => x === null || (typeof x !== 'object' && typeof x !== 'function'));
    return flat ? `[${v.map(show).join(', ')}]` : `an array of ${v.length} items`;
  }
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return quote(v, 40);
  return String(v);
}

function ioFail(ctx: IOContext, part: string, what: string, got: string, expected: string, hint?: string): never {
  return fail('IO', ctx.op, `${ctx.where}${part}: ${what}; got ${got}, expected ${expected}`, hint);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Set an own, enumerable property (never a prototype, whatever the key). */
export function setOwn(o: object, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

// ------------------------------------------------------------------ header

interface Entry {
  name: string;
  code: string;
  file: FileDType;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

interface Header {
  entries: Entry[];
  metadata: Record<string, string>;
}

/** The header length from the first 8 bytes, checked against the file's length. */
function headerLength(ctx: IOContext, first8: Uint8Array, fileLength: number): number {
  const big = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (big > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    ioFail(ctx, 'header length', 'the header is absurdly large', `${big} bytes`, `at most ${SAFETENSORS_MAX_HEADER_BYTES}`, 'the file is corrupt or not a safetensors file');
  }
  const n = Number(big);
  if (8 + n > fileLength) {
    ioFail(ctx, 'header length', `the header runs past the end of the file (${fileLength} bytes)`, `${n} bytes`, `at most ${fileLength - 8}`, 'the file is truncated or not a safetensors file');
  }
  return n;
}

function checkShape(ctx: IOContext, part: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) ioFail(ctx, part, 'shape must be an array', show(shape), 'an array of non-negative integers');
  if (shape.length > MAX_DIMS) ioFail(ctx, part, 'shape has too many dimensions', `${shape.length}`, `at most ${MAX_DIMS}`);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      ioFail(ctx, part, `shape dimension ${i} is not a non-negative integer`, show(d), 'a non-negative integer');
    }
  }
  return shape as number[];
}

/** Number of elements, or Infinity if it is past 2^53 (no dimension may hide a zero). */
function shapeNumel(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Number.POSITIVE_INFINITY;
  }
  return n;
}

function checkOffsets(ctx: IOContext, part: string, offsets: unknown, dataLength: number): [number, number] {
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    ioFail(ctx, part, 'data_offsets must be a pair [begin, end]', show(offsets), 'an array of two non-negative integers');
  }
  for (const v of offsets) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      ioFail(ctx, part, 'data_offsets must be non-negative integers', show(offsets), 'an array of two non-negative integers');
    }
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) ioFail(ctx, part, 'data_offsets are reversed', `[${begin}, ${end}]`, 'begin <= end');
  if (end > dataLength) {
    ioFail(ctx, part, `data_offsets run past the end of the data buffer (${dataLength} bytes)`, `[${begin}, ${end}]`, `end <= ${dataLength}`, 'the file is truncated or its header is corrupt');
  }
  return [begin, end];
}

function parseEntry(ctx: IOContext, name: string, raw: unknown, dataLength: number): Entry {
  const part = `header entry ${quote(name)}`;
  if (name === '__proto__') ioFail(ctx, part, 'this tensor name is not allowed', quote(name), 'any other name');
  if (!isObject(raw)) ioFail(ctx, part, 'an entry must be an object', show(raw), 'an object with dtype, shape and data_offsets');
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(raw, field)) {
      ioFail(ctx, part, `the entry is missing '${field}'`, `fields ${show(Object.keys(raw))}`, 'dtype, shape and data_offsets');
    }
  }
  const code = raw.dtype;
  if (typeof code !== 'string') ioFail(ctx, part, 'dtype must be a string', show(code), `one of ${FILE_DTYPE_LIST}`);
  const file = FILE_DTYPES.get(code);
  if (!file) ioFail(ctx, part, 'unsupported dtype', quote(code, 40), `one of ${FILE_DTYPE_LIST}`, 'convert the tensor to a supported dtype before saving it');
  const shape = checkShape(ctx, part, raw.shape);
  const [begin, end] = checkOffsets(ctx, part, raw.data_offsets, dataLength);
  const numel = shapeNumel(shape);
  if (numel === Number.POSITIVE_INFINITY) ioFail(ctx, part, `shape ${fmtShape(shape)} has too many elements`, 'more than 2^53', `a shape that fits the ${end - begin} bytes of its data_offsets`);
  const need = numel * file.size;
  if (need !== end - begin) {
    ioFail(ctx, part, `data_offsets [${begin}, ${end}] do not match shape ${fmtShape(shape)} of ${code} (${numel} elements of ${file.size} bytes)`, `${end - begin} bytes`, `${need}`);
  }
  return { name, code, file, shape: shape.slice(), numel, begin, end };
}

function parseMetadata(ctx: IOContext, raw: unknown): Record<string, string> {
  const part = '__metadata__';
  if (!isObject(raw)) ioFail(ctx, part, '__metadata__ must be an object of strings', show(raw), 'an object mapping keys to strings');
  const out: Record<string, string> = {};
  for (const k of Object.keys(raw)) {
    if (k === '__proto__') ioFail(ctx, part, 'this key is not allowed', quote(k), 'any other key');
    const v = raw[k];
    if (typeof v !== 'string') ioFail(ctx, `${part} key ${quote(k)}`, 'metadata values must be strings', show(v), 'a string');
    setOwn(out, k, v);
  }
  return out;
}

function parseHeader(ctx: IOContext, bytes: Uint8Array, dataLength: number): Header {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return ioFail(ctx, 'header', 'the header is not valid UTF-8', `${bytes.length} bytes that do not decode`, 'UTF-8 JSON text');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return ioFail(ctx, 'header', 'the header is not valid JSON', quote(e instanceof Error ? e.message : String(e)), 'a JSON object', 'the file is corrupt or not a safetensors file');
  }
  if (!isObject(json)) ioFail(ctx, 'header', 'the header must be a JSON object', show(json), 'an object mapping tensor names to entries');
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const name of Object.keys(json)) {
    if (name === '__metadata__') metadata = parseMetadata(ctx, json[name]);
    else entries.push(parseEntry(ctx, name, json[name], dataLength));
  }
  // The tensors must tile the data buffer: sorted by offsets, each starts where the last ended.
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin > pos) {
      ioFail(ctx, `header entry ${quote(e.name)}`, `data bytes [${pos}, ${e.begin}) are not covered by any tensor`, `data_offsets [${e.begin}, ${e.end}]`, `begin ${pos}`, 'the tensors must cover the data buffer without holes');
    }
    if (e.begin < pos) {
      ioFail(ctx, `header entry ${quote(e.name)}`, `its data overlaps tensor ${quote(prev?.name ?? '')} (bytes up to ${pos})`, `data_offsets [${e.begin}, ${e.end}]`, `begin ${pos}`, 'tensors must not share bytes');
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLength) {
    ioFail(ctx, 'data buffer', `bytes [${pos}, ${dataLength}) are not covered by any tensor`, `${dataLength} bytes of data`, `${pos}`, 'the file has trailing bytes or a tensor is missing from its header');
  }
  return { entries, metadata };
}

// ------------------------------------------------------------------ values

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

const F32_BITS = new Uint32Array(1);
const F32_VIEW = new Float32Array(F32_BITS.buffer);

function halfToFloat(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) {
    const v = frac * 2 ** -24; // zero or subnormal: exact in float32
    return sign ? -v : v;
  }
  F32_BITS[0] = exp === 0x1f ? sign | 0x7f800000 | (frac << 13) : sign | ((exp + 112) << 23) | (frac << 13);
  return F32_VIEW[0];
}

/**
 * The values of one entry as a typed array of its load dtype. `raw` is a fresh,
 * aligned copy of the entry's bytes (little-endian, as in the file).
 */
function convert(ctx: IOContext, e: Entry, raw: Uint8Array): TypedArray {
  const part = `tensor ${quote(e.name)} (${e.code})`;
  if (!HOST_LE && e.file.size > 1) swapBytes(raw, e.file.size);
  const buf = raw.buffer;
  const n = e.numel;
  const out32 = (): Int32Array => new Int32Array(n);
  const tooBig = (i: number, v: bigint | number): never =>
    ioFail(ctx, part, `the value at index ${i} does not fit int32`, `${v}`, 'values in [-2147483648, 2147483647]', 'int64 values load as int32 here; this tensor needs float64 or smaller values');
  switch (e.code) {
    case 'F32':
      return new Float32Array(buf, 0, n);
    case 'F64':
      return new Float64Array(buf, 0, n);
    case 'I32':
      return new Int32Array(buf, 0, n);
    case 'U8':
      return raw;
    case 'BOOL': {
      for (let i = 0; i < n; i++) {
        if (raw[i] > 1) ioFail(ctx, part, `the value at index ${i} is not a boolean`, `byte ${raw[i]}`, '0 or 1');
      }
      return raw;
    }
    case 'I8': {
      const src = new Int8Array(buf, 0, n);
      const out = out32();
      out.set(src);
      return out;
    }
    case 'I16': {
      const out = out32();
      out.set(new Int16Array(buf, 0, n));
      return out;
    }
    case 'U16': {
      const out = out32();
      out.set(new Uint16Array(buf, 0, n));
      return out;
    }
    case 'U32': {
      const src = new Uint32Array(buf, 0, n);
      for (let i = 0; i < n; i++) if (src[i] > 0x7fffffff) tooBig(i, src[i]);
      return new Int32Array(buf, 0, n);
    }
    case 'I64':
    case 'U64': {
      const words = new Int32Array(buf, 0, 2 * n);
      const [lo, hi] = HOST_LE ? [0, 1] : [1, 0];
      const out = out32();
      const signed = e.code === 'I64';
      for (let i = 0; i < n; i++) {
        const l = words[2 * i + lo];
        const h = words[2 * i + hi];
        // Fits int32 iff the high word is the sign extension of the low word (and U64 is not negative).
        if (h !== (l < 0 ? -1 : 0) || (!signed && l < 0)) {
          const v = new DataView(buf, 8 * i, 8);
          tooBig(i, signed ? v.getBigInt64(0, HOST_LE) : v.getBigUint64(0, HOST_LE));
        }
        out[i] = l;
      }
      return out;
    }
    case 'F16': {
      const src = new Uint16Array(buf, 0, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]);
      return out;
    }
    case 'BF16': {
      const src = new Uint16Array(buf, 0, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return out;
    }
    default:
      return ioFail(ctx, part, 'unsupported dtype', e.code, FILE_DTYPE_LIST);
  }
}

// ------------------------------------------------------------------ reading

/** Read `len` bytes at `pos` into a fresh array (offset 0, so any typed view is aligned). */
export type ReadAt = (pos: number, len: number) => Uint8Array;

/** Resolve the device option up front, before anything is read. */
export function loadDevice(op: string, opts: SafetensorsLoadOptions | undefined): Device {
  return canonicalDevice(op, opts?.device ?? 'cpu');
}

/**
 * Decode a safetensors file of `fileLength` bytes given a way to read ranges of
 * it. Tensors are made only once the whole header is valid; if a value cannot
 * be converted, the tensors already made are disposed.
 */
export function decodeFrom(ctx: IOContext, fileLength: number, read: ReadAt, device: Device): DecodedSafetensors {
  if (fileLength < 8) ioFail(ctx, 'file', 'the file is too short to hold the 8-byte header length', `${fileLength} bytes`, 'at least 8', 'the file is empty, truncated or not a safetensors file');
  const n = headerLength(ctx, read(0, 8), fileLength);
  const header = parseHeader(ctx, read(8, n), fileLength - 8 - n);
  const tensors: Record<string, Tensor> = {};
  const made: Tensor[] = [];
  try {
    for (const e of header.entries) {
      const values = convert(ctx, e, read(8 + n + e.begin, e.end - e.begin));
      const t = fromHost(ctx.op, values, e.shape, e.file.dtype, device);
      made.push(t);
      setOwn(tensors, e.name, t);
    }
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
  return { tensors, metadata: header.metadata };
}

/**
 * Read safetensors bytes: tensors in file order (values converted to our dtypes:
 * I64/U64/I8/I16/U16/U32 to int32 when they fit, F16/BF16 to float32) and the
 * `__metadata__` strings. Malformed input raises DLError code 'IO'.
 */
export function decodeSafetensors(bytes: Uint8Array, opts?: SafetensorsLoadOptions): DecodedSafetensors {
  return decodeBytes('decodeSafetensors', bytes, opts);
}

/** decodeSafetensors under another op's name. */
export function decodeBytes(op: string, bytes: Uint8Array, opts: SafetensorsLoadOptions | undefined): DecodedSafetensors {
  if (!(bytes instanceof Uint8Array)) fail('ARGUMENT', op, `bytes must be a Uint8Array; got ${show(bytes)}`);
  const device = loadDevice(op, opts);
  // A copy per range (not a view): Buffer pools make views unaligned, and values are converted in place.
  const read: ReadAt = (pos, len) => {
    const out = new Uint8Array(len);
    out.set(bytes.subarray(pos, pos + len));
    return out;
  };
  return decodeFrom({ op, where: '' }, bytes.length, read, device);
}

// ------------------------------------------------------------------ writing

interface WriteEntry {
  tensor: Tensor;
  byteLength: number;
}

/** What to write: the padded header (with its 8-byte length) and the tensors in order. */
export interface WritePlan {
  head: Uint8Array;
  entries: WriteEntry[];
  totalLength: number;
}

/** Check the arguments of a write and lay out the file (no tensor data is read yet). */
export function planWrite(op: string, tensors: Record<string, Tensor>, metadata: Record<string, string> | undefined): WritePlan {
  if (!isObject(tensors)) fail('ARGUMENT', op, `tensors must be an object mapping names to tensors; got ${show(tensors)}`);
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isObject(metadata)) fail('ARGUMENT', op, `metadata must be an object of strings; got ${show(metadata)}`);
    const keys = Object.keys(metadata);
    const items: string[] = [];
    for (const k of keys) {
      if (k === '__proto__') fail('ARGUMENT', op, `metadata key '__proto__' is not allowed`);
      const v = metadata[k];
      if (typeof v !== 'string') fail('ARGUMENT', op, `metadata values must be strings; got ${show(v)} for key ${quote(k)}`, 'convert numbers with String() or JSON.stringify()');
      items.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    if (items.length > 0) parts.push(`"__metadata__":{${items.join(',')}}`);
  }
  const entries: WriteEntry[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors)) {
    const t = tensors[name];
    if (!(t instanceof Tensor)) fail('ARGUMENT', op, `tensors[${quote(name)}] must be a Tensor; got ${show(t)}`);
    if (name === '__metadata__' || name === '__proto__') fail('ARGUMENT', op, `the tensor name ${quote(name)} is reserved`, 'rename the tensor');
    const byteLength = t.numel * itemSize(t.dtype);
    parts.push(`${JSON.stringify(name)}:{"dtype":"${WRITE_CODES[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + byteLength}]}`);
    entries.push({ tensor: t, byteLength });
    offset += byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  if (headerLen > SAFETENSORS_MAX_HEADER_BYTES) {
    fail('IO', op, `the header would be too large to read back; got ${headerLen} bytes, expected at most ${SAFETENSORS_MAX_HEADER_BYTES}`, 'save fewer tensors or less metadata per file');
  }
  const head = new Uint8Array(8 + headerLen).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLen), true);
  head.set(json, 8);
  return { head, entries, totalLength: head.length + offset };
}

/** The little-endian bytes of a tensor's logical values (row-major, views resolved). */
export function tensorBytes(op: string, e: WriteEntry): Uint8Array {
  const data = e.tensor.dataSync();
  let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length !== e.byteLength) {
    fail('IO', op, `a tensor changed size while it was written; got ${bytes.length} bytes, expected ${e.byteLength}`);
  }
  if (!HOST_LE && data.BYTES_PER_ELEMENT > 1) {
    bytes = bytes.slice();
    swapBytes(bytes, data.BYTES_PER_ELEMENT);
  }
  return bytes;
}

/**
 * Safetensors bytes of named tensors (written in the given key order, header
 * padded with spaces to a multiple of 8 bytes) and optional string metadata.
 */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  return encodeBytes('encodeSafetensors', tensors, metadata);
}

/** encodeSafetensors under another op's name. */
export function encodeBytes(op: string, tensors: Record<string, Tensor>, metadata: Record<string, string> | undefined): Uint8Array {
  const plan = planWrite(op, tensors, metadata);
  const out = new Uint8Array(plan.totalLength);
  out.set(plan.head, 0);
  let pos = plan.head.length;
  for (const e of plan.entries) {
    out.set(tensorBytes(op, e), pos);
    pos += e.byteLength;
  }
  return out;
}
