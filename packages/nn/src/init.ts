/**
 * torch.nn.init: fill tensors in place (without recording gradients, so they
 * work on parameters). Random fills draw from the default generator of
 * @dl/tensor (manualSeed makes them repeatable) unless a generator is given.
 * Each returns the tensor it filled.
 */
import { DLError, scope, tensor, where } from '@dl/tensor';
import type { Generator, Tensor } from '@dl/tensor';
import { noGrad } from '@dl/autograd';

export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'convTranspose1d'
  | 'convTranspose2d'
  | 'convTranspose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leakyRelu'
  | 'selu';

export type FanMode = 'fanIn' | 'fanOut';

export interface InitOptions {
  generator?: Generator;
}

const SNAKE: Record<string, Nonlinearity> = {
  leaky_relu: 'leakyRelu',
  conv_transpose1d: 'convTranspose1d',
  conv_transpose2d: 'convTranspose2d',
  conv_transpose3d: 'convTranspose3d',
};

/**
 * The recommended gain for a nonlinearity: 1 for linear, convolutions and
 * sigmoid; 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for
 * leakyRelu (slope = param, default 0.01); 3/4 for selu. PyTorch's snake_case
 * names are accepted too.
 */
export function calculateGain(nonlinearity: Nonlinearity | 'leaky_relu', param?: number): number {
  const name = SNAKE[nonlinearity] ?? nonlinearity;
  switch (name) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'convTranspose1d':
    case 'convTranspose2d':
    case 'convTranspose3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new DLError('ARGUMENT', 'calculateGain', `negative slope ${String(slope)} is not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new DLError('ARGUMENT', 'calculateGain', `unsupported nonlinearity '${String(nonlinearity)}'`, "use 'linear', 'conv2d', 'sigmoid', 'tanh', 'relu', 'leakyRelu' or 'selu'");
  }
}

/** fanIn = size(1) * receptive field, fanOut = size(0) * receptive field (receptive field = product of dims 2..). */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) {
    throw new DLError('SHAPE', 'calculateFanInAndFanOut', `fan in and fan out can not be computed for a tensor with fewer than 2 dimensions; got shape [${t.shape.join(', ')}]`);
  }
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive };
}

function fan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new DLError('ARGUMENT', 'init', `mode must be 'fanIn' or 'fanOut'; got ${JSON.stringify(mode)}`);
  const f = calculateFanInAndFanOut(t);
  return mode === 'fanIn' ? f.fanIn : f.fanOut;
}

/** Fill with samples from U(a, b). */
export function uniform_<T extends Tensor>(t: T, a = 0, b = 1, opts: InitOptions = {}): T {
  return noGrad(() => t.uniform_(a, b, { generator: opts.generator }));
}

/** Fill with samples from N(mean, std^2). */
export function normal_<T extends Tensor>(t: T, mean = 0, std = 1, opts: InitOptions = {}): T {
  return noGrad(() => t.normal_(mean, std, { generator: opts.generator }));
}

/**
 * Fill with N(mean, std^2) truncated to [a, b] (absolute bounds, default [-2, 2] as PyTorch's
 * trunc_normal_). PyTorch's method: uniform draws between the normal CDF at a and at b, mapped
 * back through the inverse CDF, so the same seed gives PyTorch's values up to float rounding.
 * The inverse is computed in float64: Newton's method on erf from Winitzki's approximation.
 */
export function truncNormal_<T extends Tensor>(t: T, mean = 0, std = 1, a = -2, b = 2, opts: InitOptions = {}): T {
  const op = 'truncNormal_';
  if (!(std > 0) || !Number.isFinite(std)) throw new DLError('VALUE', op, `std must be a positive number; got ${std}`);
  if (!(a < b)) throw new DLError('VALUE', op, `the bounds must satisfy a < b; got a = ${a}, b = ${b}`);
  if (!Number.isFinite(mean)) throw new DLError('VALUE', op, `mean must be finite; got ${mean}`);
  return noGrad(() =>
    scope(() => {
      const [lo, hi] = tensor([(a - mean) / std, (b - mean) / std], { dtype: 'float64' }).div(Math.SQRT2).erf().dataSync();
      t.uniform_(lo, hi, { generator: opts.generator }); // 2 * cdf - 1 = erf(z / sqrt 2): PyTorch's draws
      const x = t.to('float64');
      // erfinv(x): Winitzki's closed form (relative error < 2e-3), then Newton steps on erf.
      const ln = x.mul(x).neg().add(1).log();
      const c = ln.div(2).add(2 / (Math.PI * 0.147));
      let y = c.mul(c).sub(ln.div(0.147)).sqrt().sub(c).sqrt().mul(x.sign());
      for (let i = 0; i < 3; i++) y = y.sub(y.erf().sub(x).div(y.mul(y).neg().exp().mul(2 / Math.sqrt(Math.PI))));
      // |x| = 1 (a bound at a CDF of exactly 0 or 1) is +-infinity before the clamp, as erfinv.
      y = where(x.abs().eq(1), x.mul(Number.POSITIVE_INFINITY), y);
      t.copy_(y.mul(std * Math.SQRT2).add(mean).clamp(a, b));
      return t;
    }),
  );
}

export function constant_<T extends Tensor>(t: T, value: number): T {
  return noGrad(() => t.fill_(value));
}

export function zeros_<T extends Tensor>(t: T): T {
  return constant_(t, 0);
}

export function ones_<T extends Tensor>(t: T): T {
  return constant_(t, 1);
}

export interface KaimingOptions extends InitOptions {
  /** The negative slope of the rectifier after this layer (leakyRelu only; default 0). */
  a?: number;
  /** 'fanIn' (default) preserves the variance of the forward pass, 'fanOut' of the backward pass. */
  mode?: FanMode;
  /** Default 'leakyRelu' (as PyTorch). */
  nonlinearity?: Nonlinearity | 'leaky_relu';
}

function kaimingStd(t: Tensor, opts: KaimingOptions): number {
  const f = fan(t, opts.mode ?? 'fanIn');
  if (f === 0) throw new DLError('SHAPE', 'init', `cannot initialise an empty tensor of shape [${t.shape.join(', ')}]`);
  return calculateGain(opts.nonlinearity ?? 'leakyRelu', opts.a ?? 0) / Math.sqrt(f);
}

/** He et al. (2015), uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan). */
export function kaimingUniform_<T extends Tensor>(t: T, opts: KaimingOptions = {}): T {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform_(t, -bound, bound, opts);
}

/** He et al. (2015), normal: N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal_<T extends Tensor>(t: T, opts: KaimingOptions = {}): T {
  return normal_(t, 0, kaimingStd(t, opts), opts);
}

export interface XavierOptions extends InitOptions {
  gain?: number;
}

function xavierStd(t: Tensor, gain: number): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return gain * Math.sqrt(2 / (fanIn + fanOut));
}

/** Glorot & Bengio (2010), uniform: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform_<T extends Tensor>(t: T, opts: XavierOptions = {}): T {
  const a = Math.sqrt(3) * xavierStd(t, opts.gain ?? 1);
  return uniform_(t, -a, a, opts);
}

/** Glorot & Bengio (2010), normal: N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_<T extends Tensor>(t: T, opts: XavierOptions = {}): T {
  return normal_(t, 0, xavierStd(t, opts.gain ?? 1), opts);
}
