/**
 * Seeded random numbers: a Generator (xoshiro128** seeded through splitmix32)
 * that is deterministic given its seed, a default generator reset by
 * manualSeed, and the sampling functions.
 */
import { DEFAULT_FLOAT, arrayCtor, isFloating } from '../dtype.js';
import type { DType } from '../dtype.js';
import { fail } from '../errors.js';
import type { Shape } from '../layout.js';
import { numel } from '../layout.js';
import type { Tensor } from '../tensor.js';
import type { CreateOptions } from './creation.js';
import { fromHost } from './creation.js';
import { canonicalDevice } from '../device.js';
import { copy_ } from './convert.js';
import { assertAlive, shapeArgCheck } from './util.js';

export class Generator {
  private s = new Uint32Array(4);
  private seedValue = 0;
  constructor(seed = 0) {
    this.manualSeed(seed);
  }
  manualSeed(seed: number): this {
    if (!Number.isInteger(seed) || seed < 0) fail('ARGUMENT', 'manualSeed', `seed must be a non-negative integer; got ${seed}`);
    this.seedValue = seed;
    // splitmix32 over the low and high 32 bits of the seed fills the state.
    let x = (seed >>> 0) ^ Math.floor(seed / 2 ** 32);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
    return this;
  }
  initialSeed(): number {
    return this.seedValue;
  }
  /** The state, to save and restore a stream exactly. */
  getState(): Uint32Array {
    return this.s.slice();
  }
  setState(state: Uint32Array): this {
    if (state.length !== 4) fail('ARGUMENT', 'Generator.setState', `expected 4 words of state; got ${state.length}`);
    this.s.set(state);
    return this;
  }
  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
  /** Uniform in [0, 1) with 53 random bits. */
  nextDouble(): number {
    return ((this.nextUint32() >>> 5) * 67108864 + (this.nextUint32() >>> 6)) / 9007199254740992;
  }
  /** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
  nextFloat(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }
  /** Uniform integer in [0, n) without modulo bias. */
  nextBelow(n: number): number {
    if (n <= 2 ** 32) {
      const limit = 2 ** 32 - (2 ** 32 % n);
      let r: number;
      do r = this.nextUint32();
      while (r >= limit);
      return r % n;
    }
    return Math.floor(this.nextDouble() * n);
  }
  /** Standard normal by Box-Muller (one value per two uniforms; deterministic). */
  nextNormal(): number {
    const u1 = 1 - this.nextDouble();
    const u2 = this.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export const defaultGenerator = new Generator(0);

/** Seed the default generator (torch.manual_seed). */
export function manualSeed(seed: number): Generator {
  return defaultGenerator.manualSeed(seed);
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function sample(op: string, shape: Shape, opts: RandomOptions | undefined, fallback: DType, draw: (g: Generator, dtype: DType) => number): Tensor {
  shapeArgCheck(op, shape);
  const dtype = opts?.dtype ?? fallback;
  const device = canonicalDevice(op, opts?.device ?? 'cpu');
  const g = opts?.generator ?? defaultGenerator;
  const arr = new (arrayCtor(dtype))(numel(shape));
  for (let i = 0; i < arr.length; i++) arr[i] = draw(g, dtype);
  const t = fromHost(op, arr, shape, dtype, device);
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function floatOnly(op: string, dtype: DType): void {
  if (!isFloating(dtype)) fail('DTYPE', op, `expected a floating dtype; got ${dtype}`);
}

const uniformDraw = (g: Generator, dtype: DType) => (dtype === 'float64' ? g.nextDouble() : g.nextFloat());

/** Uniform samples in [0, 1). */
export function rand(shape: Shape, opts?: RandomOptions): Tensor {
  floatOnly('rand', opts?.dtype ?? DEFAULT_FLOAT);
  return sample('rand', shape, opts, DEFAULT_FLOAT, uniformDraw);
}

/** Standard normal samples. */
export function randn(shape: Shape, opts?: RandomOptions): Tensor {
  floatOnly('randn', opts?.dtype ?? DEFAULT_FLOAT);
  return sample('randn', shape, opts, DEFAULT_FLOAT, (g) => g.nextNormal());
}

/** Integers uniform in [low, high) (int32; PyTorch: int64). */
export function randint(low: number, high: number, shape: Shape, opts?: RandomOptions): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    fail('ARGUMENT', 'randint', `expected integers low < high; got low=${low}, high=${high}`);
  }
  return sample('randint', shape, opts, 'int32', (g) => low + g.nextBelow(high - low));
}

/** A random permutation of 0..n-1 (int32), by Fisher-Yates. */
export function randperm(n: number, opts?: RandomOptions): Tensor {
  if (!Number.isInteger(n) || n < 0) fail('ARGUMENT', 'randperm', `n must be a non-negative integer; got ${n}`);
  const g = opts?.generator ?? defaultGenerator;
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = g.nextBelow(i + 1);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  const dtype = opts?.dtype ?? 'int32';
  return fromHost('randperm', dtype === 'int32' ? perm : Float64Array.from(perm), [n], dtype, canonicalDevice('randperm', opts?.device ?? 'cpu'));
}

/** 0/1 samples with probability p (a number, or a tensor of probabilities). */
export function bernoulli(p: Tensor | number, opts?: RandomOptions & { shape?: Shape }): Tensor {
  const g = opts?.generator ?? defaultGenerator;
  if (typeof p === 'number') {
    if (!(p >= 0 && p <= 1)) fail('VALUE', 'bernoulli', `p must be in [0, 1]; got ${p}`);
    return sample('bernoulli', opts?.shape ?? [], opts, DEFAULT_FLOAT, (gen) => (gen.nextDouble() < p ? 1 : 0));
  }
  assertAlive('bernoulli', p);
  const probs = p.dataSync();
  for (let i = 0; i < probs.length; i++) {
    if (!(probs[i] >= 0 && probs[i] <= 1)) fail('VALUE', 'bernoulli', `probabilities must be in [0, 1]; got ${probs[i]} at flat index ${i}`);
  }
  const dtype = opts?.dtype ?? (isFloating(p.dtype) ? p.dtype : DEFAULT_FLOAT);
  const arr = new (arrayCtor(dtype))(probs.length);
  for (let i = 0; i < arr.length; i++) arr[i] = g.nextDouble() < probs[i] ? 1 : 0;
  return fromHost('bernoulli', arr, p.shape, dtype, p.device);
}

function fillRandom<T extends Tensor>(op: string, t: T, opts: RandomOptions | undefined, draw: (g: Generator) => number): T {
  assertAlive(op, t);
  floatOnly(op, t.dtype);
  const src = sample(op, t.shape, { ...opts, dtype: t.dtype, device: t.device, requiresGrad: false }, t.dtype, draw);
  copy_(t, src);
  src.dispose();
  return t;
}

/** Fill in place with samples uniform in [from, to). */
export function uniform_<T extends Tensor>(t: T, from = 0, to = 1, opts?: RandomOptions): T {
  if (!(to >= from)) fail('ARGUMENT', 'uniform_', `expected from <= to; got from=${from}, to=${to}`);
  const f64 = t.dtype === 'float64';
  return fillRandom('uniform_', t, opts, (g) => from + (to - from) * (f64 ? g.nextDouble() : g.nextFloat()));
}

/** Fill in place with normal samples of the given mean and standard deviation. */
export function normal_<T extends Tensor>(t: T, mean = 0, std = 1, opts?: RandomOptions): T {
  if (!(std >= 0)) fail('ARGUMENT', 'normal_', `std must be >= 0; got ${std}`);
  return fillRandom('normal_', t, opts, (g) => mean + std * g.nextNormal());
}

export function randLike(x: Tensor, opts?: RandomOptions): Tensor {
  return rand(x.shape, { dtype: x.dtype, device: x.device, ...opts });
}
export function randnLike(x: Tensor, opts?: RandomOptions): Tensor {
  return randn(x.shape, { dtype: x.dtype, device: x.device, ...opts });
}
