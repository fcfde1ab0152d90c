/**
 * Collation: turning a list of samples into a batch (torch.utils.data.default_collate) and
 * converting a single sample (default_convert, used when batchSize is null).
 */
import { stack, tensor } from '@dl/tensor';
import type { DType, Tensor, TypedArray } from '@dl/tensor';
import { isPlainObject, isTensor } from './protocol.js';

/** Makes a batch from a list of samples; may be async. */
export type CollateFn<T = unknown, B = unknown> = (batch: T[]) => B | Promise<B>;

type NonTensorView = Exclude<ArrayBufferView, Tensor>;

/** The type defaultCollate gives a batch of samples of type T. */
export type Collated<T> = T extends Tensor
  ? Tensor
  : T extends number | boolean
    ? Tensor
    : T extends string
      ? string[]
      : T extends NonTensorView
        ? Tensor
        : T extends readonly unknown[]
          ? { -readonly [K in keyof T]: Collated<T[K]> }
          : T extends object
            ? { -readonly [K in keyof T]: Collated<T[K]> }
            : never;

/** What defaultConvert makes of a sample: typed arrays become tensors. */
export type Converted<T> = T extends Tensor
  ? Tensor
  : T extends NonTensorView
    ? Tensor
    : T extends readonly unknown[]
      ? { -readonly [K in keyof T]: Converted<T[K]> }
      : T extends object
        ? { -readonly [K in keyof T]: Converted<T[K]> }
        : T;

/** An error in the style of @dl/tensor: the problem, then a hint line. */
function collateError(message: string, hint?: string): TypeError {
  return new TypeError(`defaultCollate: ${message}${hint ? `\nhint: ${hint}` : ''}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return typeof v;
}

/** dtype and array type for a typed array kind; smaller integer kinds widen losslessly. */
function typedKind(a: ArrayBufferView): { dtype: DType; Ctor: new (n: number) => TypedArray } | undefined {
  if (a instanceof Float32Array) return { dtype: 'float32', Ctor: Float32Array };
  if (a instanceof Float64Array) return { dtype: 'float64', Ctor: Float64Array };
  if (a instanceof Int32Array || a instanceof Int16Array || a instanceof Int8Array || a instanceof Uint16Array) return { dtype: 'int32', Ctor: Int32Array };
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return { dtype: 'uint8', Ctor: Uint8Array };
  if (a instanceof Uint32Array) return { dtype: 'float64', Ctor: Float64Array };
  return undefined;
}

/** The shape of a typed array sample: its `shape` property when it has a valid one, else [length]. */
function typedShape(a: ArrayLike<number>, where: string): number[] {
  const s = (a as { shape?: unknown }).shape;
  if (s === undefined) return [a.length];
  if (!Array.isArray(s) || !s.every((d) => Number.isInteger(d) && d >= 0) || s.reduce((p: number, d: number) => p * d, 1) !== a.length) {
    throw collateError(`the typed array at ${where} has shape ${JSON.stringify(s)}, which does not match its ${a.length} elements`);
  }
  return [...s];
}

function isTypedArray(v: unknown): v is ArrayBufferView & ArrayLike<number> {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

function typedToTensor(arrays: readonly (ArrayBufferView & ArrayLike<number>)[], where: string, batched: boolean): Tensor {
  const kind = typedKind(arrays[0]);
  if (!kind) {
    throw collateError(`unsupported typed array ${arrays[0].constructor.name} at ${where}`, 'use Float32Array, Float64Array, Int32Array or Uint8Array (smaller integer arrays are widened to int32)');
  }
  const shape = typedShape(arrays[0], where);
  const len = arrays[0].length;
  arrays.forEach((a, i) => {
    if (a.constructor !== arrays[0].constructor) {
      throw collateError(`samples at ${where} mix ${arrays[0].constructor.name} and ${a.constructor.name} (sample ${i})`);
    }
    const s = typedShape(a, where);
    if (s.length !== shape.length || s.some((d, k) => d !== shape[k])) {
      throw collateError(`typed arrays at ${where} must have the same shape; sample 0 has [${shape.join(', ')}], sample ${i} has [${s.join(', ')}]`, 'pad the samples or pass a collateFn');
    }
  });
  const out = new kind.Ctor(arrays.length * len);
  arrays.forEach((a, i) => {
    out.set(a, i * len);
  });
  return tensor(out, { shape: batched ? [arrays.length, ...shape] : shape, dtype: kind.dtype, copy: false });
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function collateAt(batch: readonly unknown[], where: string): unknown {
  const elem = batch[0];
  const mismatch = (i: number, what: string): never => {
    throw collateError(`samples at ${where} mix types: sample 0 is ${what}, sample ${i} is ${describe(batch[i])}`);
  };
  if (isTensor(elem)) {
    batch.forEach((t, i) => {
      if (!isTensor(t)) mismatch(i, 'a Tensor');
      const s = (t as Tensor).shape;
      if (s.length !== elem.shape.length || s.some((d, k) => d !== elem.shape[k])) {
        throw collateError(
          `tensors at ${where} must have the same shape to be stacked; sample 0 has [${elem.shape.join(', ')}], sample ${i} has [${s.join(', ')}]`, 'pad the samples (e.g. in the dataset) or pass a collateFn',
        );
      }
    });
    return stack(batch as Tensor[], 0);
  }
  if (typeof elem === 'number') {
    let allInt = true;
    let inInt32 = true;
    batch.forEach((v, i) => {
      if (typeof v !== 'number') mismatch(i, 'a number');
      if (!Number.isInteger(v)) allInt = false;
      else if ((v as number) < INT32_MIN || (v as number) > INT32_MAX) inInt32 = false;
    });
    const values = batch as number[];
    if (allInt && inInt32) return tensor(Int32Array.from(values), { copy: false });
    if (allInt) return tensor(Float64Array.from(values), { copy: false });
    return tensor(Float32Array.from(values), { copy: false });
  }
  if (typeof elem === 'boolean') {
    batch.forEach((v, i) => {
      if (typeof v !== 'boolean') mismatch(i, 'a boolean');
    });
    return tensor(batch as boolean[], { dtype: 'bool' });
  }
  if (typeof elem === 'string') {
    batch.forEach((v, i) => {
      if (typeof v !== 'string') mismatch(i, 'a string');
    });
    return [...batch];
  }
  if (isTypedArray(elem)) {
    batch.forEach((v, i) => {
      if (!isTypedArray(v)) mismatch(i, 'a typed array');
    });
    return typedToTensor(batch as (ArrayBufferView & ArrayLike<number>)[], where, true);
  }
  if (Array.isArray(elem)) {
    const n = elem.length;
    batch.forEach((v, i) => {
      if (!Array.isArray(v)) mismatch(i, 'an array');
      if ((v as unknown[]).length !== n) {
        throw collateError(`each array at ${where} should be of equal size; sample 0 has ${n} elements, sample ${i} has ${(v as unknown[]).length}`);
      }
    });
    return Array.from({ length: n }, (_, k) => collateAt(batch.map((v) => (v as unknown[])[k]), `${where}[${k}]`));
  }
  if (isPlainObject(elem)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(elem)) {
      const column = batch.map((v, i) => {
        if (!isPlainObject(v)) mismatch(i, 'an object');
        if (!(key in (v as object))) throw collateError(`sample ${i} has no key '${key}' (found in sample 0) at ${where}`);
        return (v as Record<string, unknown>)[key];
      });
      out[key] = collateAt(column, `${where}.${key}`);
    }
    return out;
  }
  throw collateError(`batch must contain tensors, typed arrays, numbers, booleans, strings, arrays or plain objects; found ${describe(elem)} at ${where}`);
}

/**
 * Stack a list of samples into a batch (torch.utils.data.default_collate), recursively:
 * - tensors: stacked along a new dim 0 (all must have one shape);
 * - numbers: a 1-D tensor, int32 when all are integers (in int32 range; float64 beyond it),
 *   else float32. JavaScript cannot tell 1 from 1.0, so a batch of whole floats becomes int32;
 *   PyTorch gives int64 for Python ints and float64 for Python floats;
 * - booleans: a bool tensor;
 * - typed arrays: stacked into a tensor of shape [batch, ...shape], where shape is the array's
 *   `shape` property when it has one, else [length] (dtype from the array type);
 * - arrays (tuples): collated per position; plain objects: per key;
 * - strings: kept as an array of strings.
 */
export function defaultCollate<T>(batch: readonly T[]): Collated<T> {
  if (!Array.isArray(batch) || batch.length === 0) throw new TypeError('defaultCollate: expected a non-empty array of samples');
  return collateAt(batch, 'sample') as Collated<T>;
}

function convertAt(v: unknown, where: string): unknown {
  if (isTensor(v)) return v;
  if (isTypedArray(v)) return typedToTensor([v], where, false);
  if (Array.isArray(v)) return v.map((x, k) => convertAt(x, `${where}[${k}]`));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = convertAt(x, `${where}.${k}`);
    return out;
  }
  return v;
}

/**
 * Convert one sample without batching (torch.utils.data.default_convert; the DataLoader's
 * default with `batchSize: null`): typed arrays become tensors (of their `shape` when they have
 * one), arrays and plain objects are converted recursively, everything else is kept.
 */
export function defaultConvert<T>(sample: T): Converted<T> {
  return convertAt(sample, 'sample') as Converted<T>;
}
