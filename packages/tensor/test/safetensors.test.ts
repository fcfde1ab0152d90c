import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DLError,
  type Tensor,
  arange,
  decodeSafetensors,
  decodeState,
  encodeSafetensors,
  memoryStats,
  scope,
  encodeState,
  loadSafetensors,
  loadState,
  saveSafetensors,
  saveState,
  tensor,
  zeros,
} from '../src/index.js';

// ------------------------------------------------------------------ helpers

/** Safetensors bytes from a header (JSON text or value), data bytes, and optionally a forged header length. */
function build(header: string | object, data: ArrayLike<number> = [], opts: { length?: bigint; pad?: boolean } = {}): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (opts.pad !== false) json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, opts.length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(Array.from(data), 8 + h.length);
  return out;
}

function le(kind: 'f32' | 'f64' | 'i32' | 'u32' | 'i64' | 'u16' | 'i16', values: readonly (number | bigint)[]): number[] {
  const size = { f32: 4, f64: 8, i32: 4, u32: 4, i64: 8, u16: 2, i16: 2 }[kind];
  const v = new DataView(new ArrayBuffer(size * values.length));
  values.forEach((x, i) => {
    const o = i * size;
    if (kind === 'f32') v.setFloat32(o, Number(x), true);
    else if (kind === 'f64') v.setFloat64(o, Number(x), true);
    else if (kind === 'i32') v.setInt32(o, Number(x), true);
    else if (kind === 'u32') v.setUint32(o, Number(x), true);
    else if (kind === 'u16') v.setUint16(o, Number(x), true);
    else if (kind === 'i16') v.setInt16(o, Number(x), true);
    else v.setBigInt64(o, BigInt(x), true);
  });
  return Array.from(new Uint8Array(v.buffer));
}

function expectIO(fn: () => unknown, message: RegExp): DLError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected an error matching ${message}`).toBeInstanceOf(DLError);
  const err = caught as DLError;
  expect(err.code).toBe('IO');
  expect(err.message).toMatch(message);
  return err;
}

function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

/** Element-wise Object.is (tells -0 from 0 and matches NaN). */
function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Object.is(actual[i], expected[i]), `index ${i}: ${actual[i]} vs ${expected[i]}`).toBe(true);
  }
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dl-safetensors-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ format

describe('safetensors encoding', () => {
  it('writes exactly the bytes of the format (hand-assembled)', () => {
    const bytes = encodeSafetensors(
      { a: tensor([1, 2]), b: tensor([[-1]], { dtype: 'int32' }), c: tensor([true, false]) },
      { k: 'v' },
    );
    const json =
      '{"__metadata__":{"k":"v"},' +
      '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]},' +
      '"c":{"dtype":"BOOL","shape":[2],"data_offsets":[12,14]}}';
    expect(json.length).toBe(191);
    const expected = [
      0xc0, 0, 0, 0, 0, 0, 0, 0, // header length 192, little-endian u64
      ...Array.from(json, (ch) => ch.charCodeAt(0)),
      0x20, // one space pads the header to a multiple of 8
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0x40, // 2.0f
      0xff, 0xff, 0xff, 0xff, // int32 -1
      0x01, 0x00, // true, false
    ];
    expect(Array.from(bytes)).toEqual(expected);
  });

  it('pads the header with spaces to a multiple of 8 and keeps the key order', () => {
    for (const name of ['x', 'xy', 'xyz', 'weight', 'a-long-tensor-name']) {
      const bytes = encodeSafetensors({ [name]: tensor([1]), z: tensor([2]), b: tensor([3]) });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).toBe(0);
      const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
      expect(text.trimEnd().length).toBeGreaterThan(n - 8);
      expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
      expect(Object.keys(JSON.parse(text))).toEqual([name, 'z', 'b']);
      expect(Object.keys(decodeSafetensors(bytes).tensors)).toEqual([name, 'z', 'b']);
    }
    const empty = encodeSafetensors({});
    expect(Buffer.from(empty.subarray(8)).toString()).toBe('{}      ');
    expect(decodeSafetensors(empty)).toEqual({ tensors: {}, metadata: {} });
  });

  it('rejects bad arguments when writing', () => {
    expect(() => encodeSafetensors({ a: [1, 2] as unknown as Tensor })).toThrowError(/encodeSafetensors: tensors\['a'\] must be a Tensor; got \[1, 2\]/);
    expect(() => encodeSafetensors({ __metadata__: tensor([1]) })).toThrowError(/tensor name '__metadata__' is reserved/);
    expect(() => encodeSafetensors({ a: tensor([1]) }, { n: 1 as unknown as string })).toThrowError(/metadata values must be strings; got 1 for key 'n'/);
    expect(() => encodeSafetensors(null as unknown as Record<string, Tensor>)).toThrowError(/tensors must be an object/);
  });
});

describe('safetensors round trip', () => {
  it('every dtype, with extreme values', () => {
    const f32 = new Float32Array([0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45, 3.4028234663852886e38]);
    const f64 = new Float64Array([1 / 3, -0, Number.NaN, 1e308, 5e-324, -Number.MAX_VALUE]);
    const i32 = new Int32Array([-2147483648, 2147483647, 0, -1, 7]);
    const u8 = new Uint8Array([0, 1, 127, 128, 255]);
    const src = {
      f32: tensor(f32, { shape: [2, 4] }),
      f64: tensor(f64, { shape: [3, 2] }),
      i32: tensor(i32),
      u8: tensor(u8),
      b: tensor([[true, false, true], [false, false, true]]),
    };
    const { tensors, metadata } = decodeSafetensors(encodeSafetensors(src));
    expect(metadata).toEqual({});
    expect(Object.keys(tensors)).toEqual(['f32', 'f64', 'i32', 'u8', 'b']);
    for (const [k, t] of Object.entries(src)) {
      expect(tensors[k].dtype).toBe(t.dtype);
      expect(tensors[k].shape).toEqual(t.shape);
      expectSame(tensors[k].dataSync(), t.dataSync());
    }
    expect(tensors.b.toArray()).toEqual([[true, false, true], [false, false, true]]);
  });

  it('scalars, empty tensors and metadata', () => {
    const bytes = encodeSafetensors(
      { s: tensor(3.5), e: zeros([0, 3]), e2: zeros([2, 0, 4], { dtype: 'int32' }), one: tensor([[[9]]], { dtype: 'float64' }) },
      { format: 'pt', note: 'ünïcödé ✓ "quoted"', '': 'empty key' },
    );
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(tensors.s.shape).toEqual([]);
    expect(tensors.s.item()).toBe(3.5);
    expect(tensors.e.shape).toEqual([0, 3]);
    expect(tensors.e.numel).toBe(0);
    expect(tensors.e2.shape).toEqual([2, 0, 4]);
    expect(tensors.e2.dtype).toBe('int32');
    expect(tensors.one.toArray()).toEqual([[[9]]]);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcödé ✓ "quoted"', '': 'empty key' });
  });

  it('saves the logical values of non-contiguous views', () => {
    const base = arange(12, undefined, 1, { dtype: 'float32' }).reshape(3, 4);
    const views = {
      transposed: base.t(),
      narrowed: base.narrow(1, 1, 2),
      stepped: base.slice(1, 0, 4, 2),
      expanded: tensor([1, 2, 3]).expand(2, 3),
      selected: base.select(1, 3),
      permuted: arange(24, undefined, 1, { dtype: 'int32' }).reshape(2, 3, 4).permute(2, 0, 1),
    };
    expect(views.transposed.isContiguous()).toBe(false);
    const { tensors } = decodeSafetensors(encodeSafetensors(views));
    for (const [k, v] of Object.entries(views)) {
      expect(tensors[k].shape).toEqual(v.shape);
      expect(tensors[k].isContiguous()).toBe(true);
      expect(tensors[k].toArray()).toEqual(v.toArray());
    }
    expect(tensors.transposed.toArray()).toEqual([[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]);
    expect(tensors.expanded.toArray()).toEqual([[1, 2, 3], [1, 2, 3]]);
  });

  it('loads onto the requested device', () => {
    const { tensors } = decodeSafetensors(encodeSafetensors({ w: tensor([1, 2, 3]) }), { device: 'reference' });
    expect(tensors.w.device).toBe('reference');
    expect(values(tensors.w)).toEqual([1, 2, 3]);
    expect(() => decodeSafetensors(encodeSafetensors({}), { device: 'tpu' as 'cpu' })).toThrowError(/unknown device 'tpu'/);
  });

  it('works with scope(): loaded tensors survive when returned, and a failed load frees what it made', () => {
    const bytes = encodeSafetensors({ a: tensor([1]), b: tensor([2]) });
    const r = scope(() => decodeSafetensors(bytes));
    expect(r.tensors.a.isDisposed).toBe(false);
    expect(values(r.tensors.b)).toEqual([2]);
    const st = scope(() => decodeState(encodeState({ m: { w: tensor([3]) } }))) as { m: { w: Tensor } };
    expect(st.m.w.isDisposed).toBe(false);
    // The second entry fails to convert: the first, already made, is disposed.
    const bad = build({ ok: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, big: { dtype: 'I64', shape: [1], data_offsets: [4, 12] } }, [...le('f32', [1]), ...le('i64', [2n ** 40n])]);
    const before = memoryStats().liveTensors;
    expectIO(() => decodeSafetensors(bad), /tensor 'big' \(I64\)/);
    expect(memoryStats().liveTensors).toBe(before);
    // Entries a state does not refer to are freed too.
    const json = JSON.stringify({ format: 'dl.state', version: 1, value: { x: { $dl: 'tensor', key: 't' } } });
    const extra = encodeSafetensors({ t: tensor([4]), unused: tensor([5]) }, { 'dl.state': json });
    const before2 = memoryStats().liveTensors;
    const loaded = decodeState(extra) as { x: Tensor };
    expect(memoryStats().liveTensors).toBe(before2 + 1);
    expect(values(loaded.x)).toEqual([4]);
  });

  it('names that are Object.prototype members are plain entries', () => {
    const { tensors } = decodeSafetensors(encodeSafetensors({ constructor: tensor([1]), toString: tensor([2]), hasOwnProperty: tensor([3]) }));
    expect(Object.keys(tensors)).toEqual(['constructor', 'toString', 'hasOwnProperty']);
    expect(values(tensors.constructor as unknown as Tensor)).toEqual([1]);
    expect(values(tensors.hasOwnProperty as unknown as Tensor)).toEqual([3]);
  });

  it('reads data at unaligned offsets (unpadded header)', () => {
    const data = [...le('f64', [1.25, -2]), ...le('f32', [0.5]), 1, ...le('i32', [-7])];
    const header = '{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"f":{"dtype":"F32","shape":[],"data_offsets":[16,20]},"u":{"dtype":"U8","shape":[1],"data_offsets":[20,21]},"i":{"dtype":"I32","shape":[1],"data_offsets":[21,25]}}';
    expect(header.length % 8).not.toBe(0);
    const { tensors } = decodeSafetensors(build(header, data, { pad: false }));
    expect(values(tensors.d)).toEqual([1.25, -2]);
    expect(tensors.f.item()).toBe(0.5);
    expect(values(tensors.u)).toEqual([1]);
    expect(values(tensors.i)).toEqual([-7]);
  });

  it('reads from a Buffer that is a view into a larger pool', () => {
    const bytes = encodeSafetensors({ w: tensor(new Float64Array([1, 2, 3])) });
    const pool = Buffer.alloc(bytes.length + 3);
    pool.set(bytes, 3);
    const view = pool.subarray(3);
    expect(values(decodeSafetensors(view).tensors.w)).toEqual([1, 2, 3]);
  });
});

describe('loading PyTorch / Hugging Face dtypes', () => {
  it('converts I64, I8, I16, U16, U32, U64 to int32 and F16, BF16 to float32', () => {
    const u64 = new Uint8Array(16);
    new DataView(u64.buffer).setBigUint64(0, 5n, true);
    new DataView(u64.buffer).setBigUint64(8, 2147483647n, true);
    const f16 = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x8000, 0x3555];
    const bf16 = [0x3f80, 0xc040, 0x7f80, 0x0001, 0x4049];
    const parts: [string, string, number[], number[]][] = [
      ['i64', 'I64', [4], le('i64', [0n, -1n, 2147483647n, -2147483648n])],
      ['i8', 'I8', [3], [0x80, 0x7f, 0xff]],
      ['i16', 'I16', [2], le('i16', [-32768, 32767])],
      ['u16', 'U16', [2], le('u16', [65535, 1])],
      ['u32', 'U32', [2], le('u32', [2147483647, 3])],
      ['u64', 'U64', [2], Array.from(u64)],
      ['f16', 'F16', [9], le('u16', f16)],
      ['bf16', 'BF16', [5], le('u16', bf16)],
    ];
    const header: Record<string, unknown> = {};
    const data: number[] = [];
    for (const [name, dtype, shape, bytes] of parts) {
      header[name] = { dtype, shape, data_offsets: [data.length, data.length + bytes.length] };
      data.push(...bytes);
    }
    const { tensors } = decodeSafetensors(build(header, data));
    expect(values(tensors.i64)).toEqual([0, -1, 2147483647, -2147483648]);
    expect(values(tensors.i8)).toEqual([-128, 127, -1]);
    expect(values(tensors.i16)).toEqual([-32768, 32767]);
    expect(values(tensors.u16)).toEqual([65535, 1]);
    expect(values(tensors.u32)).toEqual([2147483647, 3]);
    expect(values(tensors.u64)).toEqual([5, 2147483647]);
    for (const k of ['i64', 'i8', 'i16', 'u16', 'u32', 'u64']) expect(tensors[k].dtype).toBe('int32');
    expect(tensors.f16.dtype).toBe('float32');
    expectSame(tensors.f16.dataSync(), [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, -0, Math.fround(0.333251953125)]);
    expect(tensors.bf16.dtype).toBe('float32');
    expectSame(tensors.bf16.dataSync(), [1, -3, Infinity, Math.fround(2 ** -133), 3.140625]);
    const nan = decodeSafetensors(build({ n: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, le('u16', [0x7e00, 0xffff]))).tensors.n;
    expect(values(nan).every(Number.isNaN)).toBe(true);
  });

  it('refuses integer values that do not fit int32', () => {
    const one = (dtype: string, bytes: number[], shape = [bytes.length / 8]) => () =>
      decodeSafetensors(build({ x: { dtype, shape, data_offsets: [0, bytes.length] } }, bytes));
    expectIO(one('I64', le('i64', [1n, 2147483648n])), /decodeSafetensors: tensor 'x' \(I64\): the value at index 1 does not fit int32; got 2147483648, expected values in \[-2147483648, 2147483647\]/);
    expectIO(one('I64', le('i64', [-2147483649n])), /index 0 does not fit int32; got -2147483649/);
    expectIO(one('I64', le('i64', [2n ** 62n])), /got 4611686018427387904/);
    expectIO(one('U32', le('u32', [1, 4294967295]), [2]), /tensor 'x' \(U32\): the value at index 1 does not fit int32; got 4294967295/);
    const u64 = new Uint8Array(8).fill(0xff);
    expectIO(one('U64', Array.from(u64)), /tensor 'x' \(U64\): the value at index 0 does not fit int32; got 18446744073709551615/);
    expectIO(one('BOOL', [1, 0, 2], [3]), /tensor 'x' \(BOOL\): the value at index 2 is not a boolean; got byte 2, expected 0 or 1/);
  });

  const hasPython = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!hasPython)('loads a file written by an independent Python implementation (skipped only where python3 is missing)', () => {
    const script = [
      'import json, struct, sys',
      'f32 = [1.5, -2.0, 0.25, 3.0e38, float("-inf"), 0.0]',
      'i64 = [0, -1, 2147483647, -2147483648, 42]',
      'f16 = [1.0, -2.5, 65504.0, 2.0**-24, float("inf"), -0.0]',
      'bf16_src = [1.0, -3.0, 0.15625, 2.0**100]',
      'def bf16(v): return struct.unpack("<I", struct.pack("<f", v))[0] >> 16',
      'blobs = {',
      '  "bf16": ("BF16", [2, 2], struct.pack("<4H", *[bf16(v) for v in bf16_src])),',
      '  "weight": ("F32", [2, 3], struct.pack("<6f", *f32)),',
      '  "step": ("I64", [], struct.pack("<q", 1234567)),',
      '  "labels": ("I64", [5], struct.pack("<5q", *i64)),',
      '  "half": ("F16", [6], struct.pack("<6e", *f16)),',
      '}',
      'header, data = {}, b""',
      'for name in ["bf16", "weight", "step", "labels", "half"]:',
      '  dtype, shape, raw = blobs[name]',
      '  header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}',
      '  data += raw',
      // header keys in an order different from the data order, metadata in the middle
      'ordered = {"weight": header["weight"], "__metadata__": {"format": "pt", "source": "python"}}',
      'for k in ["half", "labels", "step", "bf16"]: ordered[k] = header[k]',
      'h = json.dumps(ordered).encode("utf-8")',
      'h += b" " * ((8 - len(h) % 8) % 8)',
      'open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + data)',
    ].join('\n');
    const path = join(dir, 'python.safetensors');
    execFileSync('python3', ['-c', script, path]);
    const { tensors, metadata } = loadSafetensors(path);
    expect(metadata).toEqual({ format: 'pt', source: 'python' });
    expect(Object.keys(tensors)).toEqual(['weight', 'half', 'labels', 'step', 'bf16']);
    expect(tensors.weight.dtype).toBe('float32');
    expect(tensors.weight.shape).toEqual([2, 3]);
    expectSame(tensors.weight.dataSync(), [1.5, -2, 0.25, Math.fround(3e38), -Infinity, 0]);
    expect(tensors.labels.dtype).toBe('int32');
    expect(values(tensors.labels)).toEqual([0, -1, 2147483647, -2147483648, 42]);
    expect(tensors.step.shape).toEqual([]);
    expect(tensors.step.item()).toBe(1234567);
    expectSame(tensors.half.dataSync(), [1, -2.5, 65504, 2 ** -24, Infinity, -0]);
    expect(tensors.bf16.toArray()).toEqual([[1, -3], [0.15625, 2 ** 100]]);
  });
});

// ------------------------------------------------------------------ malformed input

describe('malformed safetensors', () => {
  const f32 = (shape: unknown, offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });

  it('file and header length', () => {
    expectIO(() => decodeSafetensors(new Uint8Array(0)), /decodeSafetensors: file: the file is too short to hold the 8-byte header length; got 0 bytes, expected at least 8/);
    expectIO(() => decodeSafetensors(new Uint8Array(7)), /too short.*got 7 bytes/);
    expectIO(() => decodeSafetensors(build('{}', [], { length: 100n })), /header length: the header runs past the end of the file \(16 bytes\); got 100 bytes, expected at most 8/);
    expectIO(() => decodeSafetensors(build('{}', [], { length: 2n ** 40n })), /header length: the header is absurdly large; got 1099511627776 bytes, expected at most 100000000/);
    expectIO(() => decodeSafetensors(build('{}', [], { length: 2n ** 64n - 1n })), /absurdly large; got 18446744073709551615 bytes/);
    expectIO(() => decodeSafetensors(build('', [])), /header: the header is not valid JSON/);
  });

  it('header text', () => {
    const bad = new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0xff, 0xfe, 0x7d, 0x20, 0x20, 0x20, 0x20]);
    expectIO(() => decodeSafetensors(bad), /header: the header is not valid UTF-8/);
    expectIO(() => decodeSafetensors(build('{"a":')), /header: the header is not valid JSON; got '.*', expected a JSON object/);
    expectIO(() => decodeSafetensors(build('[1, 2]')), /header: the header must be a JSON object; got \[1, 2\], expected an object/);
    expectIO(() => decodeSafetensors(build('null')), /header must be a JSON object; got null/);
    expectIO(() => decodeSafetensors(build('"s"')), /header must be a JSON object; got 's'/);
    // Deeply nested JSON must not blow the stack in our own code.
    const deep = `{"a":{"dtype":"F32","shape":${'['.repeat(100000)}${']'.repeat(100000)},"data_offsets":[0,0]}}`;
    expectIO(() => decodeSafetensors(build(deep)), /header/);
  });

  it('entries', () => {
    const d = (header: object, data: number[] = []) => () => decodeSafetensors(build(header, data));
    expectIO(d({ a: 5 }), /header entry 'a': an entry must be an object; got 5, expected an object with dtype, shape and data_offsets/);
    expectIO(d({ a: [1] }), /header entry 'a': an entry must be an object; got \[1\]/);
    expectIO(d({ a: { dtype: 'F32', shape: [1] } }), /header entry 'a': the entry is missing 'data_offsets'; got fields \['dtype', 'shape'\]/);
    expectIO(d({ a: { shape: [1], data_offsets: [0, 4] } }), /missing 'dtype'/);
    expectIO(d({ a: { dtype: 5, shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /header entry 'a': dtype must be a string; got 5, expected one of BOOL, U8/);
    expectIO(d({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /header entry 'a': unsupported dtype; got 'Q4', expected one of BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64/);
    expectIO(d({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, [0]), /unsupported dtype; got 'F8_E4M3'/);
    expectIO(d({ a: { dtype: 'f32', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]), /unsupported dtype; got 'f32'/);
  });

  it('shapes', () => {
    const d = (header: object, data: number[] = []) => () => decodeSafetensors(build(header, data));
    expectIO(d({ a: f32(3, [0, 12]) }), /header entry 'a': shape must be an array; got 3/);
    expectIO(d({ a: f32([-1], [0, 0]) }), /header entry 'a': shape dimension 0 is not a non-negative integer; got -1, expected a non-negative integer/);
    expectIO(d({ a: f32([2, 1.5], [0, 12]) }), /shape dimension 1 is not a non-negative integer; got 1.5/);
    expectIO(d({ a: f32([2, '2'], [0, 16]) }), /shape dimension 1 is not a non-negative integer; got '2'/);
    expectIO(d({ a: f32([2, null], [0, 8]) }), /dimension 1 is not a non-negative integer; got null/);
    expectIO(d({ a: f32([1e300], [0, 4]) }), /dimension 0 is not a non-negative integer; got 1e\+300/);
    expectIO(d({ a: f32([2 ** 40, 2 ** 40], [0, 4]) }, [0, 0, 0, 0]), /header entry 'a': shape \[1099511627776, 1099511627776\] has too many elements; got more than 2\^53/);
    expectIO(d({ a: f32(new Array(65).fill(1), [0, 4]) }, [0, 0, 0, 0]), /shape has too many dimensions; got 65, expected at most 64/);
    expectIO(d({ a: f32([2, 3], [0, 16]) }, new Array(16).fill(0)), /header entry 'a': data_offsets \[0, 16\] do not match shape \[2, 3\] of F32 \(6 elements of 4 bytes\); got 16 bytes, expected 24/);
    expectIO(d({ a: { dtype: 'I64', shape: [3], data_offsets: [0, 12] } }, new Array(12).fill(0)), /do not match shape \[3\] of I64 \(3 elements of 8 bytes\); got 12 bytes, expected 24/);
    // A zero dimension makes any other (valid) dimension harmless.
    const { tensors } = decodeSafetensors(build({ a: f32([0, 2 ** 50], [0, 0]) }));
    expect(tensors.a.shape).toEqual([0, 2 ** 50]);
    expect(tensors.a.numel).toBe(0);
  });

  it('offsets', () => {
    const d = (header: object, data: number[] = []) => () => decodeSafetensors(build(header, data));
    const z = (n: number) => new Array(n).fill(0);
    expectIO(d({ a: f32([1], [0]) }, z(4)), /header entry 'a': data_offsets must be a pair \[begin, end\]; got \[0\]/);
    expectIO(d({ a: f32([1], '0,4') }, z(4)), /data_offsets must be a pair \[begin, end\]; got '0,4'/);
    expectIO(d({ a: f32([1], [0, '4']) }, z(4)), /data_offsets must be non-negative integers; got \[0, '4'\]/);
    expectIO(d({ a: f32([1], [-4, 0]) }, z(4)), /data_offsets must be non-negative integers; got \[-4, 0\]/);
    expectIO(d({ a: f32([1], [0.5, 4.5]) }, z(4)), /non-negative integers; got \[0.5, 4.5\]/);
    expectIO(d({ a: f32([1], [8, 4]) }, z(8)), /header entry 'a': data_offsets are reversed; got \[8, 4\], expected begin <= end/);
    expectIO(d({ a: f32([25], [0, 100]) }, z(8)), /header entry 'a': data_offsets run past the end of the data buffer \(8 bytes\); got \[0, 100\], expected end <= 8/);
    expectIO(d({ a: f32([1], [2 ** 60, 2 ** 60 + 4]) }, z(4)), /non-negative integers|run past the end/);
  });

  it('coverage of the data buffer: overlaps, holes, trailing bytes', () => {
    const d = (header: object, data: number[]) => () => decodeSafetensors(build(header, data));
    const z = (n: number) => new Array(n).fill(0);
    expectIO(d({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, z(12)), /header entry 'b': its data overlaps tensor 'a' \(bytes up to 8\); got data_offsets \[4, 12\], expected begin 8/);
    expectIO(d({ a: f32([2], [0, 8]), b: f32([2], [0, 8]) }, z(8)), /overlaps tensor 'a'/);
    expectIO(d({ a: f32([2], [0, 8]), e: f32([0], [4, 4]) }, z(8)), /header entry 'e': its data overlaps tensor 'a'/);
    expectIO(d({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, z(12)), /header entry 'b': data bytes \[4, 8\) are not covered by any tensor; got data_offsets \[8, 12\], expected begin 4/);
    expectIO(d({ b: f32([1], [4, 8]) }, z(8)), /header entry 'b': data bytes \[0, 4\) are not covered/);
    expectIO(d({ a: f32([1], [0, 4]) }, z(8)), /data buffer: bytes \[4, 8\) are not covered by any tensor; got 8 bytes of data, expected 4/);
    expectIO(d({}, z(3)), /data buffer: bytes \[0, 3\) are not covered/);
    // Empty tensors may sit anywhere on a boundary.
    const ok = decodeSafetensors(build({ a: f32([1], [0, 4]), e: f32([0], [4, 4]), s: f32([0, 1], [0, 0]), b: f32([1], [4, 8]) }, le('f32', [1, 2])));
    expect(values(ok.tensors.b)).toEqual([2]);
  });

  it('metadata', () => {
    const d = (header: object) => () => decodeSafetensors(build(header));
    expectIO(d({ __metadata__: [1] }), /__metadata__: __metadata__ must be an object of strings; got \[1\]/);
    expectIO(d({ __metadata__: 'x' }), /__metadata__ must be an object of strings; got 'x'/);
    expectIO(d({ __metadata__: null }), /__metadata__ must be an object of strings; got null/);
    expectIO(d({ __metadata__: { ok: 'yes', n: 1 } }), /__metadata__ key 'n': metadata values must be strings; got 1, expected a string/);
    expectIO(d({ __metadata__: { o: { x: 'y' } } }), /__metadata__ key 'o': metadata values must be strings; got an object/);
    expectIO(() => decodeSafetensors(build('{"__metadata__":{"__proto__":"x"}}')), /__metadata__: this key is not allowed; got '__proto__'/);
  });

  it('never uses file content as a prototype key', () => {
    const header = `{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`;
    expectIO(() => decodeSafetensors(build(header, le('f32', [1]))), /header entry '__proto__': this tensor name is not allowed; got '__proto__', expected any other name/);
    expect(({} as Record<string, unknown>).dtype).toBeUndefined();
    // With duplicate keys JSON keeps the last; the first range becomes a hole, which is refused.
    const dup = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expectIO(() => decodeSafetensors(build(dup, le('f32', [1, 2]))), /header entry 'a': data bytes \[0, 4\) are not covered/);
    const dupSame = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect(values(decodeSafetensors(build(dupSame, le('f32', [5]))).tensors.a)).toEqual([5]);
  });

  it('long names are cut in messages', () => {
    const name = 'n'.repeat(10000);
    const err = expectIO(() => decodeSafetensors(build({ [name]: 1 })), /header entry 'n+\.\.\.': an entry must be an object/);
    expect(err.message.length).toBeLessThan(400);
  });

  it('rejects non-bytes', () => {
    expect(() => decodeSafetensors('abc' as unknown as Uint8Array)).toThrowError(/decodeSafetensors: bytes must be a Uint8Array; got 'abc'/);
  });
});

// ------------------------------------------------------------------ files

describe('safetensors files', () => {
  it('save and load', () => {
    const path = join(dir, 'model.safetensors');
    saveSafetensors(path, { w: tensor([[1, 2], [3, 4]]), b: tensor([0.5]) }, { epoch: '3' });
    const { tensors, metadata } = loadSafetensors(path);
    expect(tensors.w.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(values(tensors.b)).toEqual([0.5]);
    expect(metadata).toEqual({ epoch: '3' });
    expect(readFileSync(path)).toEqual(Buffer.from(encodeSafetensors({ w: tensor([[1, 2], [3, 4]]), b: tensor([0.5]) }, { epoch: '3' })));
    // Overwriting replaces the content.
    saveSafetensors(path, { only: tensor([7], { dtype: 'int32' }) });
    expect(Object.keys(loadSafetensors(path).tensors)).toEqual(['only']);
    expect(loadSafetensors(path, { device: 'reference' }).tensors.only.device).toBe('reference');
  });

  it('reading errors name the path', () => {
    const missing = join(dir, 'missing.safetensors');
    expectIO(() => loadSafetensors(missing), /loadSafetensors: cannot open '.*missing\.safetensors': ENOENT/);
    expectIO(() => loadSafetensors(dir), /loadSafetensors: '.*dl-safetensors-.*': not a regular file; got a directory/);
    const corrupt = join(dir, 'corrupt.safetensors');
    writeFileSync(corrupt, build({ a: f32x([2, 3], [0, 16]) }, new Array(16).fill(0)));
    expectIO(() => loadSafetensors(corrupt), /loadSafetensors: '.*corrupt\.safetensors': header entry 'a': data_offsets \[0, 16\] do not match shape \[2, 3\]/);
    const short = join(dir, 'short.safetensors');
    writeFileSync(short, Buffer.from([1, 2, 3]));
    expectIO(() => loadSafetensors(short), /'.*short\.safetensors': file: the file is too short/);
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, encodeSafetensors({ a: tensor([1, 2, 3]) }).subarray(0, 60));
    expectIO(() => loadSafetensors(truncated), /'.*truncated\.safetensors': header length: the header runs past the end of the file/);
  });

  it('an interrupted save leaves the previous file intact and no temporary files', () => {
    const sub = join(dir, 'atomic');
    mkdirSync(sub);
    const path = join(sub, 'ckpt.safetensors');
    saveSafetensors(path, { w: tensor([1, 2, 3]) });
    const before = readFileSync(path);
    const gone = tensor([4, 5, 6]);
    gone.dispose();
    // The first tensor is written to the temporary file, then reading the second fails.
    expect(() => saveSafetensors(path, { w: tensor(new Float32Array(1000)), gone }, { note: 'new' })).toThrowError(/the tensor of shape \[3\] was disposed/);
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(sub)).toEqual(['ckpt.safetensors']);
    expect(() => saveState(path, { model: { gone } })).toThrowError(/disposed/);
    expect(readdirSync(sub)).toEqual(['ckpt.safetensors']);
    expect(readFileSync(path)).toEqual(before);
  });

  it('file-system errors when writing are IO errors naming the path, with no leftovers', () => {
    const sub = join(dir, 'fs-errors');
    mkdirSync(sub);
    const target = join(sub, 'is-a-dir');
    mkdirSync(target);
    expectIO(() => saveSafetensors(target, { a: tensor([1]) }), /saveSafetensors: cannot write '.*is-a-dir': /);
    expect(readdirSync(sub)).toEqual(['is-a-dir']);
    expectIO(() => saveSafetensors(join(sub, 'no', 'such', 'dir.safetensors'), { a: tensor([1]) }), /cannot write '.*dir\.safetensors': ENOENT/);
    expect(readdirSync(sub)).toEqual(['is-a-dir']);
  });
});

function f32x(shape: unknown, offsets: unknown) {
  return { dtype: 'F32', shape, data_offsets: offsets };
}

// ------------------------------------------------------------------ nested state

describe('saveState / loadState', () => {
  function checkpoint() {
    const weight = tensor([[1, 2], [3, 4]]).requiresGrad_();
    const embed = tensor([[0.5, -0.5]]);
    return {
      model: {
        conv1: { weight, bias: tensor([0.1, -0.2]) },
        embed: { weight: embed },
        head: { weight: embed }, // tied to embed.weight
        labels: tensor([3, 1], { dtype: 'int32' }),
        mask: tensor([true, false]),
      },
      optimizer: {
        state: [{ step: 10, momentumBuffer: tensor([[0.01, 0.02], [0.03, 0.04]]) }, { step: 10, momentumBuffer: null }],
        paramGroups: [{ lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, nesterov: false, name: 'default' }],
      },
      scheduler: { lastEpoch: 4, bestLoss: Number.POSITIVE_INFINITY, minLoss: Number.NEGATIVE_INFINITY, lastValue: Number.NaN, zero: -0 },
      epoch: 5,
      rng: { key: new Uint32Array([0xdeadbeef, 0, 1, 0xffffffff]), spare: new Float64Array([Number.NaN, -0, 1.5]), seed: 12345678901234567890n },
      history: [[1, 2.5], [], [null, 'x', true, undefined]],
      empty: {},
      tagged: { $dl: 'not a tag', nested: { $dl: 'tensor', key: 'nope' } },
      scalar: tensor(2.5, { dtype: 'float64' }),
    };
  }

  function expectCheckpoint(loaded: ReturnType<typeof checkpoint>, original: ReturnType<typeof checkpoint>): void {
    expect(loaded.model.conv1.weight.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(loaded.model.conv1.weight.requiresGrad).toBe(true);
    expect(loaded.model.conv1.bias.requiresGrad).toBe(false);
    expect(values(loaded.model.conv1.bias)).toEqual(values(original.model.conv1.bias));
    expect(loaded.model.head.weight).toBe(loaded.model.embed.weight);
    expect(loaded.model.labels.dtype).toBe('int32');
    expect(loaded.model.mask.toArray()).toEqual([true, false]);
    expect(loaded.optimizer.state[0].momentumBuffer?.toArray()).toEqual(original.optimizer.state[0].momentumBuffer?.toArray());
    expect(loaded.optimizer.state[1]).toEqual({ step: 10, momentumBuffer: null });
    expect(loaded.optimizer.paramGroups).toEqual(original.optimizer.paramGroups);
    expect(loaded.scheduler.bestLoss).toBe(Number.POSITIVE_INFINITY);
    expect(loaded.scheduler.minLoss).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(loaded.scheduler.lastValue)).toBe(true);
    expect(Object.is(loaded.scheduler.zero, -0)).toBe(true);
    expect(loaded.epoch).toBe(5);
    expect(loaded.rng.key).toBeInstanceOf(Uint32Array);
    expect(Array.from(loaded.rng.key)).toEqual([0xdeadbeef, 0, 1, 0xffffffff]);
    expect(loaded.rng.spare).toBeInstanceOf(Float64Array);
    expectSame(loaded.rng.spare, [Number.NaN, -0, 1.5]);
    expect(loaded.rng.seed).toBe(12345678901234567890n);
    expect(loaded.history).toEqual([[1, 2.5], [], [null, 'x', true, undefined]]);
    expect(loaded.history[2].length).toBe(4);
    expect(loaded.empty).toEqual({});
    expect(loaded.tagged).toEqual({ $dl: 'not a tag', nested: { $dl: 'tensor', key: 'nope' } });
    expect(loaded.scalar.shape).toEqual([]);
    expect(loaded.scalar.dtype).toBe('float64');
    expect(loaded.scalar.item()).toBe(2.5);
    expect(Object.getPrototypeOf(loaded.model)).toBe(Object.prototype);
  }

  it('round trips a checkpoint through a file', () => {
    const path = join(dir, 'checkpoint.safetensors');
    const original = checkpoint();
    saveState(path, original);
    const loaded = loadState(path) as ReturnType<typeof checkpoint>;
    expectCheckpoint(loaded, original);
    // Tensors are ordinary entries under their dotted paths; the structure is in the metadata.
    const raw = loadSafetensors(path);
    expect(Object.keys(raw.tensors)).toEqual([
      'model.conv1.weight',
      'model.conv1.bias',
      'model.embed.weight',
      'model.labels',
      'model.mask',
      'optimizer.state.0.momentumBuffer',
      'scalar',
    ]);
    expect(Object.keys(raw.metadata)).toEqual(['dl.state']);
    expect(JSON.parse(raw.metadata['dl.state']).value.model.head.weight).toEqual({ $dl: 'tensor', key: 'model.embed.weight' });
  });

  it('round trips in memory, onto a device', () => {
    const original = checkpoint();
    const loaded = decodeState(encodeState(original), { device: 'reference' }) as ReturnType<typeof checkpoint>;
    expectCheckpoint(loaded, original);
    expect(loaded.model.conv1.weight.device).toBe('reference');
  });

  it('plain values and odd keys', () => {
    for (const v of [5, 'text', null, true, [], {}, [1, [2, [3]]], Number.NaN]) {
      expect(decodeState(encodeState(v))).toEqual(v);
    }
    const t = decodeState(encodeState(tensor([1, 2]))) as Tensor;
    expect(values(t)).toEqual([1, 2]);
    const odd = JSON.parse('{"__proto__": {"x": 1}, "constructor": 2, "__metadata__": {"w": 3}}');
    odd.__metadata__.t = tensor([9]);
    odd.constructor = 2;
    const loaded = decodeState(encodeState(odd)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
    expect(Object.keys(loaded)).toEqual(['__proto__', 'constructor', '__metadata__']);
    expect(Object.getOwnPropertyDescriptor(loaded, '__proto__')?.value).toEqual({ x: 1 });
    expect(values((loaded.__metadata__ as { t: Tensor }).t)).toEqual([9]);
    // Paths that collide with each other or with reserved names get distinct entries.
    const collide = { a: { b: tensor([1]) }, 'a.b': tensor([2]), __metadata__: tensor([3]) };
    const names = Object.keys(decodeSafetensors(encodeState(collide)).tensors);
    expect(names).toEqual(['a.b', 'a.b~1', '__metadata__~1']);
    const back = decodeState(encodeState(collide)) as typeof collide;
    expect(values(back.a.b)).toEqual([1]);
    expect(values(back['a.b'])).toEqual([2]);
    expect(values(back.__metadata__)).toEqual([3]);
  });

  it('refuses what it cannot save', () => {
    expect(() => encodeState({ m: new Map() })).toThrowError(/encodeState: cannot save a Map at 'm'/);
    expect(() => encodeState({ d: [new Date()] })).toThrowError(/cannot save a Date at 'd.0'/);
    expect(() => encodeState({ f: () => 1 })).toThrowError(/cannot save a function at 'f'/);
    expect(() => encodeState({ b: Buffer.from([1]) })).toThrowError(/cannot save a Buffer at 'b'/);
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = { back: cyc };
    expect(() => encodeState(cyc)).toThrowError(/encodeState: state contains a circular reference at 'self.back'/);
    // Shared (non-circular) containers are fine.
    const shared = [1, 2];
    expect(decodeState(encodeState({ x: shared, y: shared }))).toEqual({ x: [1, 2], y: [1, 2] });
  });

  it('refuses state metadata that is missing or corrupt', () => {
    const plain = encodeSafetensors({ w: tensor([1]) });
    expectIO(() => decodeState(plain), /decodeState: __metadata__: there is no 'dl.state' entry; got keys \[\], expected a file written by saveState/);
    const path = join(dir, 'plain.safetensors');
    saveSafetensors(path, { w: tensor([1]) }, { format: 'pt' });
    expectIO(() => loadState(path), /loadState: '.*plain\.safetensors': __metadata__: there is no 'dl.state' entry; got keys \['format'\]/);
    const st = (json: string, tensors: Record<string, Tensor> = {}) => () => decodeState(encodeSafetensors(tensors, { 'dl.state': json }));
    expectIO(st('{bad'), /__metadata__ key 'dl.state': not valid JSON/);
    expectIO(st('[1]'), /the state must be an object at the top level; got \[1\]/);
    expectIO(st('{"format":"dl.state","version":99,"value":1}'), /unknown state format at the top level; got format 'dl.state' version 99, expected format 'dl.state' version 1/);
    const v = (value: unknown) => JSON.stringify({ format: 'dl.state', version: 1, value });
    expectIO(st(v({ a: { $dl: 'tensor', key: 'missing' } })), /the placeholder names no tensor of the file at 'a'; got 'missing'/);
    expectIO(st(v({ a: [{ $dl: 'tensor', key: '__proto__' }] })), /placeholder names no tensor of the file at 'a.0'/);
    expectIO(st(v({ a: { $dl: 'eval', code: 'x' } })), /unknown tag at 'a'; got 'eval'/);
    expectIO(st(v({ a: { $dl: 'number', value: '1e5' } })), /bad special number at 'a'; got '1e5'/);
    expectIO(st(v({ a: { $dl: 'bigint', value: '12x' } })), /bad bigint at 'a'; got '12x'/);
    expectIO(st(v({ a: { $dl: 'typed', type: 'Function', base64: '' } })), /unknown typed array type at 'a'; got 'Function'/);
    expectIO(st(v({ a: { $dl: 'typed', type: 'Uint32Array', base64: 'AAE=' } })), /not a whole number of Uint32Array elements at 'a'; got 2 bytes, expected a multiple of 4/);
    expectIO(st(v({ a: { $dl: 'object', value: 3 } })), /a wrapped object must hold an object at 'a'; got 3/);
    let deep: unknown = 1;
    for (let i = 0; i < 2000; i++) deep = [deep];
    expectIO(st(JSON.stringify({ format: 'dl.state', version: 1, value: deep })), /nested too deeply/);
    // A tensor the structure refers to is used; unreferenced entries are ignored.
    const ok = decodeState(encodeSafetensors({ t: tensor([4]), extra: tensor([5]) }, { 'dl.state': v({ x: { $dl: 'tensor', key: 't' } }) })) as { x: Tensor };
    expect(values(ok.x)).toEqual([4]);
  });
});
