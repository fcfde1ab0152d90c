/** Creating tensors: from JavaScript data, constants, ranges. */
import { DEFAULT_FLOAT, arrayCtor, isDType, isFloating } from '../dtype.js';
import type { DType, TypedArray } from '../dtype.js';
import { allocTensor, dispatch } from '../dispatch.js';
import { backendFor, canonicalDevice } from '../device.js';
import { Storage } from '../memory.js';
import { Tensor } from '../tensor.js';
import { contiguousStrides } from '../layout.js';
import type { Device } from '../device.js';
import { fail } from '../errors.js';
import type { Shape } from '../layout.js';
import { numel } from '../layout.js';
import { shapeArgCheck } from './util.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device | string;
  requiresGrad?: boolean;
}

export type NestedArray = number | boolean | readonly NestedArray[];

function resolve(op: string, opts: CreateOptions | undefined, fallback: DType): { dtype: DType; device: Device } {
  const dtype = opts?.dtype ?? fallback;
  if (!isDType(dtype)) fail('DTYPE', op, `unknown dtype '${String(dtype)}'`);
  return { dtype, device: canonicalDevice(op, opts?.device ?? 'cpu') };
}

function finish(t: Tensor, opts: CreateOptions | undefined): Tensor {
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Check a value can be stored in an integer/bool dtype; returns it converted. */
export function valueFor(op: string, v: number | boolean, dtype: DType): number {
  const n = typeof v === 'boolean' ? Number(v) : v;
  if (typeof n !== 'number') fail('ARGUMENT', op, `expected a number; got ${typeof v}`);
  if (dtype === 'bool') return n !== 0 ? 1 : 0;
  if (!isFloating(dtype) && !Number.isFinite(n)) {
    fail('VALUE', op, `cannot store ${n} in a ${dtype} tensor`, 'integer dtypes hold finite values only; use a float dtype');
  }
  return n;
}

/**
 * Write host values into a new tensor on a device. With `copy: false` a backend
 * that keeps buffers as host typed arrays takes `data` itself (zero-copy: the
 * caller must not reuse it).
 */
export function fromHost(op: string, data: TypedArray, shape: Shape, dtype: DType, device: Device, copy = true): Tensor {
  if (!copy) {
    const backend = backendFor(op, device);
    const buf = backend.adopt?.(dtype, data);
    if (buf !== undefined) return new Tensor(new Storage(backend, device, buf, dtype, data.length), shape, contiguousStrides(shape), 0);
  }
  const t = allocTensor(device, shape, dtype);
  if (data.length > 0) t.storage.backend.write(t.storage.buf, dtype, 0, data);
  return t;
}

function flatten(op: string, data: NestedArray): { values: (number | boolean)[]; shape: number[] } {
  const shape: number[] = [];
  let probe: NestedArray = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0] as NestedArray;
  }
  const values: (number | boolean)[] = [];
  const walk = (v: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean') {
        fail('ARGUMENT', op, `expected numbers or booleans; got ${v === null ? 'null' : typeof v} at ${path || 'the top level'}`);
      }
      values.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      fail('SHAPE', op, `ragged nested array: expected ${shape[dim]} elements at ${path || 'the top level'} (dimension ${dim}); got ${Array.isArray(v) ? v.length : 'a scalar'}`, 'every row must have the same length');
    }
    v.forEach((x, i) => {
      walk(x, dim + 1, `${path}[${i}]`);
    });
  };
  walk(data, 0, '');
  return { values, shape };
}

const TYPED_DTYPES: [new (n: number) => TypedArray, DType][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int32Array, 'int32'],
  [Uint8Array, 'uint8'],
];

/**
 * A tensor from nested arrays, a typed array (shape = [length] unless given) or
 * a number. JavaScript has no integer literals, so numbers become float32 (like
 * torch.Tensor) unless a dtype is given; booleans become bool. `copy: false`
 * lets a CPU tensor use a typed array's memory as is (torch.from_numpy).
 */
export function tensor(data: NestedArray | TypedArray, opts?: CreateOptions & { shape?: Shape; copy?: boolean }): Tensor {
  const op = 'tensor';
  if (ArrayBuffer.isView(data)) {
    const entry = TYPED_DTYPES.find(([C]) => data instanceof C);
    if (!entry) fail('DTYPE', op, `unsupported typed array ${data.constructor.name}`, 'use Float32Array, Float64Array, Int32Array or Uint8Array');
    const { dtype, device } = resolve(op, opts, entry[1]);
    const shape = opts?.shape ? shapeArgCheck(op, opts.shape) : [data.length];
    if (numel(shape) !== data.length) fail('SHAPE', op, `shape [${shape}] needs ${numel(shape)} values; got ${data.length}`);
    let src: TypedArray = data;
    if (dtype !== entry[1]) src = convertValues(op, data, dtype);
    return finish(fromHost(op, src, shape, dtype, device, opts?.copy ?? true), opts);
  }
  const { values, shape } = flatten(op, data as NestedArray);
  const allBool = values.length > 0 && values.every((v) => typeof v === 'boolean');
  const { dtype, device } = resolve(op, opts, allBool ? 'bool' : DEFAULT_FLOAT);
  const Ctor = arrayCtor(dtype);
  const arr = new Ctor(values.length);
  for (let i = 0; i < values.length; i++) arr[i] = valueFor(op, values[i], dtype);
  return finish(fromHost(op, arr, shape, dtype, device), opts);
}

function convertValues(op: string, data: TypedArray, dtype: DType): TypedArray {
  const out = new (arrayCtor(dtype))(data.length);
  for (let i = 0; i < data.length; i++) out[i] = valueFor(op, data[i], dtype);
  return out;
}

export function full(shape: Shape, value: number | boolean, opts?: CreateOptions): Tensor {
  const op = 'full';
  shapeArgCheck(op, shape);
  const { dtype, device } = resolve(op, opts, typeof value === 'boolean' ? 'bool' : DEFAULT_FLOAT);
  const t = dispatch('fill', [], { value: valueFor(op, value, dtype) }, [{ shape, dtype }], device)[0];
  return finish(t, opts);
}

/** A zero-dim tensor holding v (used for scalar operands). */
export function scalarTensor(v: number | boolean, dtype: DType, device: Device): Tensor {
  return full([], v, { dtype, device });
}

export function zeros(shape: Shape, opts?: CreateOptions): Tensor {
  const { dtype, device } = resolve('zeros', opts, DEFAULT_FLOAT);
  return finish(allocTensor(device, shapeArgCheck('zeros', shape), dtype), opts);
}

export function ones(shape: Shape, opts?: CreateOptions): Tensor {
  return full(shape, 1, opts);
}

function likeOpts(x: Tensor, opts?: CreateOptions): CreateOptions {
  return { dtype: x.dtype, device: x.device, ...opts };
}
export function zerosLike(x: Tensor, opts?: CreateOptions): Tensor {
  return zeros(x.shape, likeOpts(x, opts));
}
export function onesLike(x: Tensor, opts?: CreateOptions): Tensor {
  return ones(x.shape, likeOpts(x, opts));
}
export function fullLike(x: Tensor, value: number | boolean, opts?: CreateOptions): Tensor {
  return full(x.shape, value, likeOpts(x, opts));
}

/**
 * Values from start (inclusive) to end (exclusive) by step. All-integer
 * arguments give int32 (PyTorch: int64), otherwise float32.
 */
export function arange(start: number, end?: number, step = 1, opts?: CreateOptions): Tensor {
  const op = 'arange';
  if (end === undefined) {
    end = start;
    start = 0;
  }
  for (const [n, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail('ARGUMENT', op, `${n} must be a finite number; got ${String(v)}`);
  }
  if (step === 0) fail('ARGUMENT', op, 'step must be non-zero');
  if ((end - start) / step < 0) fail('ARGUMENT', op, `the range [${start}, ${end}) is empty or reversed for step ${step}`, 'the sign of step must match end - start');
  const allInt = [start, end, step].every(Number.isInteger);
  const { dtype, device } = resolve(op, opts, allInt ? 'int32' : DEFAULT_FLOAT);
  const n = Math.ceil((end - start) / step);
  const arr = new (arrayCtor(dtype))(n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return finish(fromHost(op, arr, [n], dtype, device), opts);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts?: CreateOptions): Tensor {
  const op = 'linspace';
  if (!Number.isInteger(steps) || steps < 0) fail('ARGUMENT', op, `steps must be a non-negative integer; got ${steps}`);
  const { dtype, device } = resolve(op, opts, DEFAULT_FLOAT);
  const arr = new (arrayCtor(dtype))(steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  const half = Math.floor(steps / 2);
  // Symmetric evaluation (as PyTorch): both ends are exact.
  for (let i = 0; i < steps; i++) arr[i] = i < half || steps === 1 ? start + i * step : end - (steps - 1 - i) * step;
  return finish(fromHost(op, arr, [steps], dtype, device), opts);
}

export function eye(n: number, m = n, opts?: CreateOptions): Tensor {
  const op = 'eye';
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(m) || m < 0) fail('ARGUMENT', op, `sizes must be non-negative integers; got ${n}, ${m}`);
  const { dtype, device } = resolve(op, opts, DEFAULT_FLOAT);
  const arr = new (arrayCtor(dtype))(n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return finish(fromHost(op, arr, [n, m], dtype, device), opts);
}
