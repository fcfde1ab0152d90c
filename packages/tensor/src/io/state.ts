/**
 * Nested state (a checkpoint: model, optimizer, scheduler, epoch, RNG state) as
 * one safetensors file. Every Tensor becomes an entry named by its dotted path
 * (`model.conv1.weight`, `optimizer.state.0.momentumBuffer`); the rest of the
 * structure is JSON in `__metadata__['dl.state']`, with placeholders where the
 * tensors were. Values JSON cannot hold are tagged objects `{ "$dl": kind, ... }`:
 * NaN, ±Infinity, -0, undefined, bigint, typed arrays (little-endian bytes in
 * base64) and tensors. A plain object that itself has a `$dl` key is wrapped
 * (`{ "$dl": "object", "value": ... }`), so no user data is mistaken for a tag.
 * The same Tensor object reached twice (tied weights) is stored once and comes
 * back as one object in both places.
 */
import { fail } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { DecodedSafetensors, IOContext, SafetensorsLoadOptions } from './safetensors.js';
import { decodeBytes, encodeBytes, planWrite, quote, setOwn, show } from './safetensors.js';
import { readSafetensorsFile, writePlan } from './file.js';

/** The metadata key holding the structure. */
export const STATE_METADATA_KEY = 'dl.state';
const FORMAT = 'dl.state';
const VERSION = 1;
const TAG = '$dl';
const MAX_DEPTH = 1000;

type TypedArrayCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

const TYPED_ARRAYS: ReadonlyMap<string, TypedArrayCtor> = new Map<string, TypedArrayCtor>([
  ['Int8Array', Int8Array],
  ['Uint8Array', Uint8Array],
  ['Uint8ClampedArray', Uint8ClampedArray],
  ['Int16Array', Int16Array],
  ['Uint16Array', Uint16Array],
  ['Int32Array', Int32Array],
  ['Uint32Array', Uint32Array],
  ['Float32Array', Float32Array],
  ['Float64Array', Float64Array],
  ['BigInt64Array', BigInt64Array],
  ['BigUint64Array', BigUint64Array],
]);

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Run fn with `key` pushed on the (shared, mutable) path. */
function inside<T>(path: string[], key: string, fn: () => T): T {
  path.push(key);
  const r = fn();
  path.pop();
  return r;
}

function pathString(path: readonly string[]): string {
  return path.length === 0 ? 'the top level' : quote(path.join('.'), 120);
}

// ------------------------------------------------------------------ encoding

interface Flattened {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

function flattenState(op: string, state: unknown): Flattened {
  const tensors: Record<string, Tensor> = {};
  const used = new Set<string>(['__metadata__', '__proto__']);
  const names = new Map<Tensor, string>();
  const ancestors = new Set<object>();

  const nameFor = (path: readonly string[]): string => {
    const base = path.length === 0 ? 'tensor' : path.join('.');
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}~${i}`;
    used.add(name);
    return name;
  };

  const walk = (v: unknown, path: string[]): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        if (Number.isFinite(v) && !Object.is(v, -0)) return v;
        return { [TAG]: 'number', value: Object.is(v, -0) ? '-0' : String(v) };
      case 'undefined':
        return { [TAG]: 'undefined' };
      case 'bigint':
        return { [TAG]: 'bigint', value: v.toString() };
      case 'function':
      case 'symbol':
        return fail('ARGUMENT', op, `cannot save a ${typeof v} at ${pathString(path)}`, 'state may hold tensors, numbers, strings, booleans, null, bigints, typed arrays, arrays and plain objects');
    }
    if (v === null) return null;
    const obj = v as object;
    if (obj instanceof Tensor) {
      let name = names.get(obj);
      if (name === undefined) {
        name = nameFor(path);
        names.set(obj, name);
        setOwn(tensors, name, obj);
      }
      return obj.requiresGrad ? { [TAG]: 'tensor', key: name, requiresGrad: true } : { [TAG]: 'tensor', key: name };
    }
    if (path.length >= MAX_DEPTH) fail('ARGUMENT', op, `state is nested too deeply at ${pathString(path.slice(0, 8))}...; got more than ${MAX_DEPTH} levels, expected fewer`);
    if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) {
      const view: ArrayBufferView = obj;
      const ctorOf: { name?: string } | undefined = view.constructor;
      const name = ctorOf?.name ?? 'ArrayBufferView';
      const Ctor = TYPED_ARRAYS.get(name);
      // Exactly the built-in class (not Buffer or another subclass), so it comes back as it was.
      if (!Ctor || ctorOf !== Ctor) fail('ARGUMENT', op, `cannot save a ${name} at ${pathString(path)}`, `copy it into one of ${[...TYPED_ARRAYS.keys()].join(', ')}`);
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
      if (!HOST_LE) swapBytes(bytes, Ctor.BYTES_PER_ELEMENT);
      return { [TAG]: 'typed', type: name, base64: Buffer.from(bytes.buffer, 0, bytes.length).toString('base64') };
    }
    if (ancestors.has(obj)) fail('ARGUMENT', op, `state contains a circular reference at ${pathString(path)}`, 'a checkpoint must be a tree (tensors may be shared, containers may not)');
    if (Array.isArray(obj)) {
      ancestors.add(obj);
      const out: unknown[] = [];
      for (let i = 0; i < obj.length; i++) out.push(inside(path, String(i), () => walk(obj[i], path)));
      ancestors.delete(obj);
      return out;
    }
    if (!isPlainObject(obj)) {
      const kind = obj.constructor?.name ?? 'object';
      fail('ARGUMENT', op, `cannot save a ${kind} at ${pathString(path)}`, 'state may hold tensors, numbers, strings, booleans, null, bigints, typed arrays, arrays and plain objects (convert Maps with Object.fromEntries)');
    }
    ancestors.add(obj);
    const out: Record<string, unknown> = Object.create(null);
    const rec = obj as Record<string, unknown>;
    for (const k of Object.keys(rec)) out[k] = inside(path, k, () => walk(rec[k], path));
    ancestors.delete(obj);
    return Object.hasOwn(rec, TAG) ? { [TAG]: 'object', value: out } : out;
  };

  const value = walk(state, []);
  const metadata: Record<string, string> = {};
  setOwn(metadata, STATE_METADATA_KEY, JSON.stringify({ format: FORMAT, version: VERSION, value }));
  return { tensors, metadata };
}

/** Safetensors bytes of a nested state (see saveState). */
export function encodeState(state: unknown): Uint8Array {
  const op = 'encodeState';
  const { tensors, metadata } = flattenState(op, state);
  return encodeBytes(op, tensors, metadata);
}

/**
 * Save nested state (a checkpoint) as one safetensors file, atomically. Tensors
 * are entries named by their dotted paths; the structure and the other values
 * go to `__metadata__['dl.state']`.
 */
export function saveState(path: string, state: unknown): void {
  const op = 'saveState';
  const { tensors, metadata } = flattenState(op, state);
  writePlan(op, path, planWrite(op, tensors, metadata));
}

// ------------------------------------------------------------------ decoding

function rebuildState(ctx: IOContext, decoded: DecodedSafetensors): unknown {
  const { tensors, metadata } = decoded;
  const part = `__metadata__ key '${STATE_METADATA_KEY}'`;
  const bad = (where: readonly string[], what: string, got: string, expected: string): never =>
    fail('IO', ctx.op, `${ctx.where}${part}: ${what} at ${pathString(where)}; got ${got}, expected ${expected}`);
  if (!Object.hasOwn(metadata, STATE_METADATA_KEY)) {
    fail('IO', ctx.op, `${ctx.where}__metadata__: there is no '${STATE_METADATA_KEY}' entry; got keys ${show(Object.keys(metadata))}, expected a file written by saveState`, 'use loadSafetensors for plain safetensors files');
  }
  let root: unknown;
  try {
    root = JSON.parse(metadata[STATE_METADATA_KEY]);
  } catch (e) {
    fail('IO', ctx.op, `${ctx.where}${part}: not valid JSON; got ${quote(e instanceof Error ? e.message : String(e))}, expected JSON text`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) bad([], 'the state must be an object', show(root), `{ format: '${FORMAT}', version: ${VERSION}, value }`);
  const r = root as Record<string, unknown>;
  if (r.format !== FORMAT || r.version !== VERSION) {
    bad([], 'unknown state format', `format ${show(r.format)} version ${show(r.version)}`, `format '${FORMAT}' version ${VERSION}`);
  }
  const used = new Set<string>();

  const rebuild = (v: unknown, path: string[]): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (path.length >= MAX_DEPTH) bad(path.slice(0, 8), 'the state is nested too deeply', `more than ${MAX_DEPTH} levels`, 'fewer');
    if (Array.isArray(v)) return v.map((x, i) => inside(path, String(i), () => rebuild(x, path)));
    const o = v as Record<string, unknown>;
    if (!Object.hasOwn(o, TAG)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o)) setOwn(out, k, inside(path, k, () => rebuild(o[k], path)));
      return out;
    }
    const tag = o[TAG];
    switch (tag) {
      case 'number': {
        const table: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 };
        if (typeof o.value === 'string' && Object.hasOwn(table, o.value)) return table[o.value];
        return bad(path, 'bad special number', show(o.value), "'NaN', 'Infinity', '-Infinity' or '-0'");
      }
      case 'undefined':
        return undefined;
      case 'bigint':
        if (typeof o.value === 'string' && /^-?\d{1,10000}$/.test(o.value)) return BigInt(o.value);
        return bad(path, 'bad bigint', show(o.value), 'a string of decimal digits');
      case 'typed': {
        const Ctor = typeof o.type === 'string' ? TYPED_ARRAYS.get(o.type) : undefined;
        if (!Ctor) return bad(path, 'unknown typed array type', show(o.type), [...TYPED_ARRAYS.keys()].join(', '));
        if (typeof o.base64 !== 'string') return bad(path, 'typed array data must be a base64 string', show(o.base64), 'a string');
        const raw = Buffer.from(o.base64, 'base64');
        if (raw.length % Ctor.BYTES_PER_ELEMENT !== 0) return bad(path, `typed array data is not a whole number of ${o.type} elements`, `${raw.length} bytes`, `a multiple of ${Ctor.BYTES_PER_ELEMENT}`);
        const bytes = new Uint8Array(raw.length);
        bytes.set(raw);
        if (!HOST_LE) swapBytes(bytes, Ctor.BYTES_PER_ELEMENT);
        return new Ctor(bytes.buffer, 0, raw.length / Ctor.BYTES_PER_ELEMENT);
      }
      case 'tensor': {
        const key = o.key;
        if (typeof key !== 'string' || key === '__proto__' || !Object.hasOwn(tensors, key)) {
          return bad(path, 'the placeholder names no tensor of the file', show(key), 'the name of a tensor entry');
        }
        const t = tensors[key];
        used.add(key);
        if (o.requiresGrad === true && (t.dtype === 'float32' || t.dtype === 'float64')) t.requiresGrad_(true);
        return t;
      }
      case 'object': {
        const inner = o.value;
        if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return bad(path, 'a wrapped object must hold an object', show(inner), 'an object');
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(inner as Record<string, unknown>)) setOwn(out, k, inside(path, k, () => rebuild(x, path)));
        return out;
      }
      default:
        return bad(path, 'unknown tag', show(tag), "'number', 'undefined', 'bigint', 'typed', 'tensor' or 'object'");
    }
  };

  try {
    const value = rebuild(r.value, []);
    // Entries the structure does not mention cannot be reached: free them.
    for (const k of Object.keys(tensors)) if (!used.has(k)) tensors[k].dispose();
    return value;
  } catch (e) {
    for (const k of Object.keys(tensors)) tensors[k].dispose();
    throw e;
  }
}

/** Rebuild nested state from safetensors bytes written by encodeState/saveState. */
export function decodeState(bytes: Uint8Array, opts?: SafetensorsLoadOptions): unknown {
  const op = 'decodeState';
  return rebuildState({ op, where: '' }, decodeBytes(op, bytes, opts));
}

/** Load nested state saved by saveState: the same structure, with tensors in place. */
export function loadState(path: string, opts?: SafetensorsLoadOptions): unknown {
  const op = 'loadState';
  const decoded = readSafetensorsFile(op, path, opts);
  return rebuildState({ op, where: `${quote(path, 200)}: ` }, decoded);
}
