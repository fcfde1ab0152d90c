/**
 * Seeded random numbers: a Generator (xoshiro128** seeded through splitmix32)
 * that is deterministic given its seed, a default generator reset by
 * manualSeed, and the sampling functions.
 *
 * A Generator holds two streams, as PyTorch's CPU and CUDA generators: samples made on the
 * host (every device without device-side sampling, and integer samples everywhere) come from
 * xoshiro128**; float samples on a device with `RandomKernels` (CUDA: rand, randn, uniform_,
 * normal_, bernoulli with a scalar p, so dropout and the nn.init functions) come from Philox
 * keyed by the seed, at a counter offset that each such sample advances by ceil(numel / 4).
 * Both are reproducible per seed, but the same call on 'cpu' and on 'cuda' gives different
 * values. A device sample depends only on (seed, offset, element index): rand([8]) equals
 * rand([2, 4]) flattened, and equals rand([4]) followed by rand([4]).
 */
import type { PhiloxStream } from '../backend/types.js';
import type { Device } from '../device.js';
import { backendFor, canonicalDevice } from '../device.js';
import { allocTensor, toArg } from '../dispatch.js';
import type { DType } from '../dtype.js';
import { arrayCtor, DEFAULT_FLOAT, isFloating } from '../dtype.js';
import { fail } from '../errors.js';
import type { Shape } from '../layout.js';
import { numel } from '../layout.js';
import type { Tensor } from '../tensor.js';
import { cast, copy_ } from './convert.js';
import type { CreateOptions } from './creation.js';
import { fromHost } from './creation.js';
import { lt } from './elementwise.js';
import { assertAlive, shapeArgCheck } from './util.js';

/** Words of Generator state: xoshiro128** (4), the Philox key (2) and counter offset (2), low word first. */
const STATE_WORDS = 8;

export class Generator {
  private s = new Uint32Array(4);
  private seedValue = 0;
  private philoxSeed = 0;
  private philoxOffset = 0;
  constructor(seed = 0) {
    this.manualSeed(seed);
  }
  manualSeed(seed: number): this {
    if (!Number.isInteger(seed) || seed < 0) fail('ARGUMENT', 'manualSeed', `seed must be a non-negative integer; got ${seed}`);
    this.seedValue = seed;
    this.philoxSeed = seed;
    this.philoxOffset = 0;
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
  /** The state of both streams (8 words), to save and restore them exactly. */
  getState(): Uint32Array {
    const split = (v: number) => [v >>> 0, Math.floor(v / 2 ** 32)];
    return Uint32Array.from([...this.s, ...split(this.philoxSeed), ...split(this.philoxOffset)]);
  }
  /** Restores a getState(); 4 words (a state saved before device sampling existed) restore the host stream only. */
  setState(state: Uint32Array): this {
    if (state.length !== STATE_WORDS && state.length !== 4) fail('ARGUMENT', 'Generator.setState', `expected ${STATE_WORDS} words of state (or 4: the host stream only); got ${state.length}`);
    this.s.set(state.subarray(0, 4));
    if (state.length === STATE_WORDS) {
      this.philoxSeed = state[4] + state[5] * 2 ** 32;
      this.philoxOffset = state[6] + state[7] * 2 ** 32;
    }
    return this;
  }
  /** Reserves the Philox counters of a device sample of `numel` values (4 per counter). */
  philox(numel: number): PhiloxStream {
    const stream = { seed: this.philoxSeed, offset: this.philoxOffset };
    this.philoxOffset += Math.ceil(numel / 4);
    return stream;
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

type Distribution = { kind: 'uniform'; low: number; high: number } | { kind: 'normal'; mean: number; std: number };

/** A float sample drawn on the device when its backend samples there (see the header), else on the host. */
function sampleFloat(op: string, shape: Shape, opts: RandomOptions | undefined, dist: Distribution): Tensor {
  shapeArgCheck(op, shape);
  const dtype = opts?.dtype ?? DEFAULT_FLOAT;
  floatOnly(op, dtype);
  const device = canonicalDevice(op, opts?.device ?? 'cpu');
  const random = backendFor(op, device).random;
  if (!random) {
    const f64 = dtype === 'float64';
    const draw =
      dist.kind === 'uniform'
        ? (g: Generator) => dist.low + (dist.high - dist.low) * (f64 ? g.nextDouble() : g.nextFloat())
        : (g: Generator) => dist.mean + dist.std * g.nextNormal();
    return sample(op, shape, opts, dtype, draw);
  }
  const t = allocTensor(device, shape, dtype);
  const stream = (opts?.generator ?? defaultGenerator).philox(t.numel);
  if (dist.kind === 'uniform') random.uniform(toArg(t), stream, dist.low, dist.high);
  else random.normal(toArg(t), stream, dist.mean, dist.std);
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Uniform samples in [0, 1). */
export function rand(shape: Shape, opts?: RandomOptions): Tensor {
  return sampleFloat('rand', shape, opts, { kind: 'uniform', low: 0, high: 1 });
}

/** Standard normal samples. */
export function randn(shape: Shape, opts?: RandomOptions): Tensor {
  return sampleFloat('randn', shape, opts, { kind: 'normal', mean: 0, std: 1 });
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
    const device = canonicalDevice('bernoulli', opts?.device ?? 'cpu');
    if (backendFor('bernoulli', device).random) return deviceBernoulli(p, device, opts);
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

/** bernoulli(p) on a device that samples there: u < p with u uniform on the device (dropout masks). */
function deviceBernoulli(p: number, device: Device, opts: (RandomOptions & { shape?: Shape }) | undefined): Tensor {
  const dtype = opts?.dtype ?? DEFAULT_FLOAT;
  const u = sampleFloat('bernoulli', opts?.shape ?? [], { generator: opts?.generator, device, dtype: isFloating(dtype) ? dtype : DEFAULT_FLOAT }, { kind: 'uniform', low: 0, high: 1 });
  const mask = lt(u, p);
  const out = cast(mask, dtype);
  for (const t of new Set([u, mask])) if (t !== out) t.dispose();
  if (opts?.requiresGrad) out.requiresGrad_(true);
  return out;
}

function fillRandom<T extends Tensor>(op: string, t: T, opts: RandomOptions | undefined, dist: Distribution): T {
  assertAlive(op, t);
  const src = sampleFloat(op, t.shape, { ...opts, dtype: t.dtype, device: t.device, requiresGrad: false }, dist);
  copy_(t, src);
  src.dispose();
  return t;
}

/** Fill in place with samples uniform in [from, to). */
export function uniform_<T extends Tensor>(t: T, from = 0, to = 1, opts?: RandomOptions): T {
  if (!(to >= from)) fail('ARGUMENT', 'uniform_', `expected from <= to; got from=${from}, to=${to}`);
  return fillRandom('uniform_', t, opts, { kind: 'uniform', low: from, high: to });
}

/** Fill in place with normal samples of the given mean and standard deviation. */
export function normal_<T extends Tensor>(t: T, mean = 0, std = 1, opts?: RandomOptions): T {
  if (!(std >= 0)) fail('ARGUMENT', 'normal_', `std must be >= 0; got ${std}`);
  return fillRandom('normal_', t, opts, { kind: 'normal', mean, std });
}

export function randLike(x: Tensor, opts?: RandomOptions): Tensor {
  return rand(x.shape, { dtype: x.dtype, device: x.device, ...opts });
}
export function randnLike(x: Tensor, opts?: RandomOptions): Tensor {
  return randn(x.shape, { dtype: x.dtype, device: x.device, ...opts });
}
