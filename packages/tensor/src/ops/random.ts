/**
 * Seeded random numbers: a Generator deterministic given its seed, a default generator reset
 * by manualSeed, and the sampling functions.
 *
 * A Generator holds two streams, as PyTorch's CPU and CUDA generators do:
 * - Host samples (every device without device-side sampling, and integer samples everywhere)
 *   come from MT19937 with PyTorch's CPU transformations, so after the same seed `rand`,
 *   `randint`, `randperm`, `bernoulli`, `uniform_` and the layers' default initialisation give
 *   the same values as PyTorch on the CPU, bit for bit; `randn`/`normal_` agree to a few float32
 *   ulps (PyTorch's AVX2 path evaluates log/sin/cos with vector approximations).
 * - Float samples on a device with `RandomKernels` (CUDA: rand, randn, uniform_, normal_,
 *   bernoulli with a scalar p, so dropout and the nn.init functions) come from Philox keyed by
 *   the seed, at a counter offset that each such sample advances by ceil(numel / 4). A device
 *   sample depends only on (seed, offset, element index): rand([8]) equals rand([2, 4])
 *   flattened, and equals rand([4]) followed by rand([4]). They differ from the host's values.
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

const MT_N = 624;
const MT_M = 397;
/**
 * Words of Generator state: the MT19937 words and index, the seed (2), the Philox counter
 * offset (2), the cached normal sample (valid flag and a float64 as 2 words); low words first.
 */
const STATE_WORDS = MT_N + 1 + 2 + 2 + 3;
const TWO_32 = 2 ** 32;
const U64 = 1n << 64n;
const I63 = 1n << 63n;
const fround = Math.fround;

const f32 = new Float32Array(1);
const f32Bits = new Int32Array(f32.buffer);

/**
 * fround(a * b + c) rounded once, as a float32 fused multiply-add: a, b, c are float32 values,
 * so a * b is exact in float64; the sum is rounded to float64 and then to float32, and where
 * that double rounding lands on a float32 midpoint the exact sum's error decides the side.
 */
function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = fround(s);
  if (r === s || !Number.isFinite(s)) return r;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err === 0) return r;
  // The float32 neighbour of r on the side of s; s is a midpoint when it is as far from both.
  let other = Math.sign(s) * 2 ** -149;
  if (r !== 0) {
    f32[0] = r;
    f32Bits[0] += s > r === r > 0 ? 1 : -1; // the bits count up with the magnitude
    other = f32[0];
  }
  if (s - r !== other - s) return r;
  return err > 0 === other > r ? other : r;
}

/** A seed as PyTorch takes it: an integer (number or bigint), reduced modulo 2^64 (so -1 is 2^64 - 1). */
function seedValue(op: string, seed: number | bigint): bigint {
  if (typeof seed === 'bigint') return ((seed % U64) + U64) % U64;
  if (!Number.isSafeInteger(seed)) fail('ARGUMENT', op, `seed must be an integer (a number up to 2^53 or a bigint); got ${seed}`);
  return ((BigInt(seed) % U64) + U64) % U64;
}

export class Generator {
  private mt = new Uint32Array(MT_N);
  private index = MT_N;
  private seed = 0n;
  /** The device stream's key: the seed's low 53 bits (PhiloxStream's range). */
  private philoxKey = 0;
  private philoxOffset = 0;
  /** The second value of the last Box-Muller pair of `nextNormal`, as PyTorch caches it. */
  private normalCache: number | null = null;
  constructor(seed: number | bigint = 0) {
    this.manualSeed(seed);
  }
  /** Reseed both streams (torch.Generator.manual_seed). MT19937 takes the seed's low 32 bits, as PyTorch's does. */
  manualSeed(seed: number | bigint): this {
    const s = seedValue('manualSeed', seed);
    this.seed = s;
    this.philoxKey = Number(s % 2n ** 53n);
    this.philoxOffset = 0;
    this.normalCache = null;
    const mt = this.mt;
    mt[0] = Number(s & 0xffffffffn);
    for (let i = 1; i < MT_N; i++) mt[i] = Math.imul(1812433253, mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
    this.index = MT_N;
    return this;
  }
  /** The seed this generator was last seeded with (torch.initial_seed), in [0, 2^64). */
  initialSeed(): bigint {
    return this.seed;
  }
  /** The state of both streams, to save and restore them exactly. */
  getState(): Uint32Array {
    const out = new Uint32Array(STATE_WORDS);
    out.set(this.mt);
    let k = MT_N;
    out[k++] = this.index;
    out[k++] = Number(this.seed & 0xffffffffn);
    out[k++] = Number(this.seed >> 32n);
    out[k++] = this.philoxOffset >>> 0;
    out[k++] = Math.floor(this.philoxOffset / TWO_32);
    out[k++] = this.normalCache === null ? 0 : 1;
    if (this.normalCache !== null) out.set(new Uint32Array(Float64Array.of(this.normalCache).buffer), k);
    return out;
  }
  /** Restores a getState(). */
  setState(state: Uint32Array): this {
    if (!(state instanceof Uint32Array) || state.length !== STATE_WORDS) {
      fail('ARGUMENT', 'Generator.setState', `expected a Uint32Array of ${STATE_WORDS} words from getState(); got ${state instanceof Uint32Array ? `${state.length} words` : typeof state} (a state of 4 or 8 words comes from an earlier dl, whose generator was xoshiro128**: it cannot be restored)`);
    }
    if (state[MT_N] > MT_N) fail('ARGUMENT', 'Generator.setState', `the MT19937 index must be at most ${MT_N}; got ${state[MT_N]}: not a state from getState()`);
    this.mt.set(state.subarray(0, MT_N));
    let k = MT_N;
    this.index = state[k++];
    this.seed = BigInt(state[k++]) | (BigInt(state[k++]) << 32n);
    this.philoxKey = Number(this.seed % 2n ** 53n);
    this.philoxOffset = state[k++] + state[k++] * TWO_32;
    const cached = state[k++] === 1;
    this.normalCache = cached ? new Float64Array(state.slice(k, k + 2).buffer)[0] : null;
    return this;
  }
  /** Reserves the Philox counters of a device sample of `numel` values (4 per counter). */
  philox(numel: number): PhiloxStream {
    const stream = { seed: this.philoxKey, offset: this.philoxOffset };
    this.philoxOffset += Math.ceil(numel / 4);
    return stream;
  }
  /** A uniform 32-bit unsigned integer: MT19937's next output (PyTorch's random()). */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= MT_N) {
      for (let k = 0; k < MT_N; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % MT_N] & 0x7fffffff);
        mt[k] = mt[(k + MT_M) % MT_N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
  /** A uniform 64-bit unsigned integer from two outputs, the first in the high word (PyTorch's random64()). */
  nextUint64(): bigint {
    const hi = this.nextUint32();
    return (BigInt(hi) << 32n) | BigInt(this.nextUint32());
  }
  /** A uniform integer in [0, 2^63): what `torch.empty((), dtype=torch.int64).random_()` draws (DataLoader's seeds). */
  nextInt64(): bigint {
    return this.nextUint64() % I63;
  }
  /** Uniform in [0, 1): the low 53 bits of a 64-bit draw (PyTorch's float64 uniform). */
  nextDouble(): number {
    const hi = this.nextUint32() & 0x1fffff;
    return (hi * TWO_32 + this.nextUint32()) / 2 ** 53;
  }
  /** Uniform in [0, 1) with 24 random bits, the low 24 of one draw (PyTorch's float32 uniform). */
  nextFloat(): number {
    return (this.nextUint32() & 0xffffff) / 16777216;
  }
  /**
   * A uniform float32 in [low, high) as PyTorch's `uniform_` computes it: u * (high - low) + low
   * as one fused multiply-add on float32 values (its CPU kernels are built with FMA contraction).
   */
  nextFloat32In(low: number, high: number): number {
    const lo = fround(low);
    return fma32(this.nextFloat(), fround(fround(high) - lo), lo);
  }
  /**
   * An integer in [0, n), as PyTorch's `random_(0, n)`: one draw modulo n (two for n > 2^32).
   * The modulo bias is below n / 2^32 (1e-5 for n = 50,000); matching PyTorch's draws keeps
   * seeded orders and crops equal to its.
   */
  nextBelow(n: number): number {
    if (n <= TWO_32) return this.nextUint32() % n;
    return Number(this.nextUint64() % BigInt(n));
  }
  /** Standard normal (PyTorch's serial normal_distribution<double>: Box-Muller, the pair's sine cached for the next call). */
  nextNormal(): number {
    if (this.normalCache !== null) {
      const v = this.normalCache;
      this.normalCache = null;
      return v;
    }
    const u1 = this.nextDouble();
    const u2 = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.normalCache = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

export const defaultGenerator = new Generator(0);

/** Seed the default generator (torch.manual_seed). */
export function manualSeed(seed: number | bigint): Generator {
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
  return finish(fromHost(op, arr, shape, dtype, device), opts);
}

function finish(t: Tensor, opts: RandomOptions | undefined): Tensor {
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function floatOnly(op: string, dtype: DType): void {
  if (!isFloating(dtype)) fail('DTYPE', op, `expected a floating dtype; got ${dtype}`);
}

type Distribution = { kind: 'uniform'; low: number; high: number } | { kind: 'normal'; mean: number; std: number };

/**
 * Normal samples as PyTorch's CPU kernel draws them: 16 or more values (of a contiguous
 * tensor) are filled with uniforms first and transformed 16 at a time by Box-Muller (a
 * length that is not a multiple of 16 redraws and transforms its last 16); fewer values come
 * one by one from `nextNormal`. float32 arithmetic for float32, as PyTorch's.
 */
function hostNormal(g: Generator, n: number, dtype: DType, contiguous: boolean, mean: number, std: number): Float32Array | Float64Array {
  const out = new (arrayCtor(dtype) as Float32ArrayConstructor | Float64ArrayConstructor)(n);
  if (n < 16 || !contiguous) {
    for (let i = 0; i < n; i++) out[i] = g.nextNormal() * std + mean;
    return out;
  }
  const f32 = dtype !== 'float64';
  const r = f32 ? fround : (v: number) => v;
  const fma = f32 ? fma32 : (x: number, y: number, z: number) => x * y + z;
  const m = r(mean);
  const sd = r(std);
  const uniform = () => (f32 ? g.nextFloat() : g.nextDouble());
  const transform16 = (o: number) => {
    for (let j = 0; j < 8; j++) {
      const u1 = r(1 - out[o + j]);
      const u2 = out[o + j + 8];
      const radius = r(Math.sqrt(r(-2 * r(Math.log(u1)))));
      const theta = r(2 * Math.PI * u2);
      out[o + j] = fma(r(radius * r(Math.cos(theta))), sd, m);
      out[o + j + 8] = fma(r(radius * r(Math.sin(theta))), sd, m);
    }
  };
  for (let i = 0; i < n; i++) out[i] = uniform();
  for (let i = 0; i + 16 <= n; i += 16) transform16(i);
  if (n % 16 !== 0) {
    for (let i = n - 16; i < n; i++) out[i] = uniform();
    transform16(n - 16);
  }
  return out;
}

/** Host values of a float distribution, drawn as PyTorch's CPU kernels draw them (see the header). */
function hostFloat(g: Generator, n: number, dtype: DType, contiguous: boolean, dist: Distribution): Float32Array | Float64Array {
  if (dist.kind === 'normal') return hostNormal(g, n, dtype, contiguous, dist.mean, dist.std);
  const out = new (arrayCtor(dtype) as Float32ArrayConstructor | Float64ArrayConstructor)(n);
  const { low, high } = dist;
  if (dtype === 'float64') for (let i = 0; i < n; i++) out[i] = g.nextDouble() * (high - low) + low;
  else for (let i = 0; i < n; i++) out[i] = g.nextFloat32In(low, high);
  return out;
}

/** A float sample drawn on the device when its backend samples there (see the header), else on the host. */
function sampleFloat(op: string, shape: Shape, opts: RandomOptions | undefined, dist: Distribution, contiguous = true): Tensor {
  shapeArgCheck(op, shape);
  const dtype = opts?.dtype ?? DEFAULT_FLOAT;
  floatOnly(op, dtype);
  const device = canonicalDevice(op, opts?.device ?? 'cpu');
  const g = opts?.generator ?? defaultGenerator;
  const random = backendFor(op, device).random;
  if (!random) return finish(fromHost(op, hostFloat(g, numel(shape), dtype, contiguous, dist), shape, dtype, device), opts);
  const t = allocTensor(device, shape, dtype);
  const stream = g.philox(t.numel);
  if (dist.kind === 'uniform') random.uniform(toArg(t), stream, dist.low, dist.high);
  else random.normal(toArg(t), stream, dist.mean, dist.std);
  return finish(t, opts);
}

/** Uniform samples in [0, 1). */
export function rand(shape: Shape, opts?: RandomOptions): Tensor {
  return sampleFloat('rand', shape, opts, { kind: 'uniform', low: 0, high: 1 });
}

/** Standard normal samples. */
export function randn(shape: Shape, opts?: RandomOptions): Tensor {
  return sampleFloat('randn', shape, opts, { kind: 'normal', mean: 0, std: 1 });
}

/** Integers uniform in [low, high) (int32; PyTorch: int64), drawn as PyTorch's randint draws them. */
export function randint(low: number, high: number, shape: Shape, opts?: RandomOptions): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    fail('ARGUMENT', 'randint', `expected integers low < high; got low=${low}, high=${high}`);
  }
  return sample('randint', shape, opts, 'int32', (g) => low + g.nextBelow(high - low));
}

/** A random permutation of 0..n-1 (int32): PyTorch's CPU Fisher-Yates, so the same seed gives PyTorch's permutation. */
export function randperm(n: number, opts?: RandomOptions): Tensor {
  if (!Number.isInteger(n) || n < 0) fail('ARGUMENT', 'randperm', `n must be a non-negative integer; got ${n}`);
  const g = opts?.generator ?? defaultGenerator;
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  // Position i takes a uniform pick of the n - i values not yet placed (PyTorch draws 64 bits
  // once n reaches 2^32 / 20).
  const wide = n >= Math.floor((TWO_32 - 1) / 20);
  for (let i = 0; i < n - 1; i++) {
    const z = i + (wide ? Number(g.nextUint64() % BigInt(n - i)) : g.nextUint32() % (n - i));
    const t = perm[i];
    perm[i] = perm[z];
    perm[z] = t;
  }
  const dtype = opts?.dtype ?? 'int32';
  return fromHost('randperm', dtype === 'int32' ? perm : Float64Array.from(perm), [n], dtype, canonicalDevice('randperm', opts?.device ?? 'cpu'));
}

/**
 * 0/1 samples with probability p: a number (a float64 uniform per element, below p) or a
 * tensor of probabilities (a float32 uniform per element), as PyTorch's CPU kernels draw them.
 */
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
  for (let i = 0; i < arr.length; i++) arr[i] = g.nextFloat() < probs[i] ? 1 : 0;
  return fromHost('bernoulli', arr, p.shape, dtype, p.device);
}

/** bernoulli(p) on a device that samples there: u < p with u uniform on the device (dropout masks). */
function deviceBernoulli(p: number, device: Device, opts: (RandomOptions & { shape?: Shape }) | undefined): Tensor {
  const dtype = opts?.dtype ?? DEFAULT_FLOAT;
  const u = sampleFloat('bernoulli', opts?.shape ?? [], { generator: opts?.generator, device, dtype: isFloating(dtype) ? dtype : DEFAULT_FLOAT }, { kind: 'uniform', low: 0, high: 1 });
  const mask = lt(u, p);
  const out = cast(mask, dtype);
  for (const t of new Set([u, mask])) if (t !== out) t.dispose();
  return finish(out, opts);
}

function fillRandom<T extends Tensor>(op: string, t: T, opts: RandomOptions | undefined, dist: Distribution): T {
  assertAlive(op, t);
  const src = sampleFloat(op, t.shape, { ...opts, dtype: t.dtype, device: t.device, requiresGrad: false }, dist, t.isContiguous());
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
