/**
 * @dl/tensor/testing: the op-spec table and helpers that every backend's tests
 * run. One spec per op (or op variant): how to make sample inputs from a fixed
 * seed, how to call the op, tolerances for float32, and the misuses that must
 * raise a clear error. The float64 'reference' backend is the specification:
 * each spec runs on it and on the backend under test, on contiguous and on
 * non-contiguous views of the same values.
 */
import type { OpName } from './backend/types.js';
import type { DType } from './dtype.js';
import type { Device } from './device.js';
import type { ErrorCode } from './errors.js';
import { DLError } from './errors.js';
import { memoryStats } from './memory.js';
import * as T from './index.js';
import { Tensor } from './index.js';

export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface ErrorCase {
  name: string;
  call: () => unknown;
  code: ErrorCode;
  match: RegExp;
}

export interface OpSpec {
  /** A unique label, e.g. 'conv2d stride 2 groups 2'. */
  name: string;
  /** The primitive kernels this spec exercises (coverage is checked against the kernel table). */
  covers: readonly OpName[];
  /** Sample inputs, made on 'cpu' from the generator. */
  inputs: (g: T.Generator) => Tensor[];
  /** The call under test; returns one tensor or several. */
  fn: (...xs: Tensor[]) => Tensor | Tensor[];
  /** Float32 tolerance against the float64 reference (default rtol 1e-5, atol 1e-6). */
  tol?: Partial<Tolerance>;
  /** Whether @dl/autograd should gradcheck this spec (float inputs, differentiable op). */
  grad?: boolean;
  errors?: ErrorCase[];
}

const gen = (shape: number[], g: T.Generator) => T.randn(shape, { generator: g });
const pos = (shape: number[], g: T.Generator) => T.rand(shape, { generator: g }).add_(0.2);
const ints = (lo: number, hi: number, shape: number[], g: T.Generator) => T.randint(lo, hi, shape, { generator: g });
const bools = (shape: number[], g: T.Generator) => T.rand(shape, { generator: g }).gt(0.5);

function expectError(call: () => unknown, code: ErrorCode, match: RegExp, name: string): ErrorCase {
  return { name, call, code, match };
}

const unarySpecs: OpSpec[] = (
  [
    ['neg', gen], ['abs', gen], ['exp', gen], ['log', pos], ['sqrt', pos], ['rsqrt', pos], ['sin', gen], ['cos', gen],
    ['tanh', gen], ['sigmoid', gen], ['relu', gen], ['gelu', gen], ['erf', gen], ['sign', gen], ['floor', gen], ['ceil', gen], ['round', gen],
  ] as const
).map(([op, make]) => ({
  name: op,
  covers: [op],
  inputs: (g: T.Generator) => [make([3, 4, 5], g).mul_(3)],
  fn: (x: Tensor) => (x as unknown as Record<string, () => Tensor>)[op](),
  grad: !['sign', 'floor', 'ceil', 'round'].includes(op),
}));

/**
 * NaN, +-inf, +-0, tiny and huge magnitudes, the region boundaries of erf (|x| = 1, 6) and
 * gelu (|x| = sqrt(2), 6 sqrt(2)) and gelu's negative tail, exp's float32 range (88, -87,
 * -100 subnormal, +-1000 past it), round's ties. No x in (88.8, 709.8): exp's reference value
 * there is a finite double past float32's range.
 */
const UNARY_EDGES = [
  Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1e-30, -1e-30, 0.5, -0.5, 1, -1, 1.5, -2.5, 2.5, Math.SQRT2, -Math.SQRT2,
  6, -6, 8.4, -8.4, 6 * Math.SQRT2, -6 * Math.SQRT2, -8.6, -9, -12, 20, -20, 88, -87, -100, 1000, -1000, 1e30, -1e30,
];
const edgeOps = ['exp', 'log', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu', 'erf', 'sign', 'floor', 'ceil', 'round'] as const;
const unaryEdgeSpec: OpSpec = {
  name: 'unary ops at special values',
  covers: edgeOps,
  inputs: () => [T.tensor(UNARY_EDGES)],
  fn: (x: Tensor) => edgeOps.map((op) => (x as unknown as Record<string, () => Tensor>)[op]()),
};

const binarySpecs: OpSpec[] = (['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).flatMap((op) => [
  {
    name: `${op} broadcast`,
    covers: [op],
    inputs: (g: T.Generator) => [gen([4, 1, 5], g), op === 'div' ? pos([3, 1], g) : gen([3, 1], g)],
    fn: (a: Tensor, b: Tensor) => (T as unknown as Record<string, (a: Tensor, b: Tensor) => Tensor>)[op](a, b),
    grad: true,
  },
  {
    name: `${op} int32`,
    covers: [op],
    inputs: (g: T.Generator) => [ints(-20, 20, [3, 4], g), ints(1, 9, [4], g)],
    fn: (a: Tensor, b: Tensor) => (T as unknown as Record<string, (a: Tensor, b: Tensor) => Tensor>)[op](a, b),
  },
]);

const compareSpecs: OpSpec[] = (['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((op) => ({
  name: op,
  covers: [op],
  // Rounded values so that ties (eq, le, ge) really occur.
  inputs: (g: T.Generator) => [gen([4, 5], g).mul_(2).round(), gen([5], g).mul_(2).round()],
  fn: (a: Tensor, b: Tensor) => (T as unknown as Record<string, (a: Tensor, b: Tensor) => Tensor>)[op](a, b),
}));

const REDUCERS = { sum: T.sum, prod: T.prod, amax: T.amax, amin: T.amin };

function reduceSpec(op: keyof typeof REDUCERS, covers: OpName): OpSpec[] {
  const f = REDUCERS[op];
  return [
    { name: `${op} all`, covers: [covers], inputs: (g) => [gen([3, 4, 5], g)], fn: (x) => f(x), grad: true, tol: { atol: 1e-5 } },
    { name: `${op} dims [0, 2] keepdim`, covers: [covers], inputs: (g) => [gen([3, 4, 5], g)], fn: (x) => f(x, [0, 2], true), grad: true },
    { name: `${op} dim -1`, covers: [covers], inputs: (g) => [gen([6, 7], g)], fn: (x) => f(x, -1), grad: true },
    { name: `${op} int32`, covers: [covers], inputs: (g) => [ints(-3, 4, [4, 5], g)], fn: (x) => f(x, 1) },
  ];
}

export const OP_SPECS: readonly OpSpec[] = [
  ...unarySpecs,
  unaryEdgeSpec,
  {
    name: 'logicalNot',
    covers: ['logicalNot'],
    inputs: (g) => [bools([3, 4], g)],
    fn: (x) => x.logicalNot(),
  },
  {
    name: 'clamp',
    covers: ['clamp'],
    inputs: (g) => [gen([4, 6], g)],
    fn: (x) => [x.clamp(-0.5, 0.7), x.clamp(null, 0.1), x.clamp(0)],
    grad: true,
    errors: [expectError(() => T.zeros([2]).clamp(), 'ARGUMENT', /clamp: at least one of min or max/, 'no bounds')],
  },
  ...binarySpecs,
  {
    // Zeros (both signs), negatives and NaN in relu's output give 0; a broadcast output row too.
    name: 'reluBackward',
    covers: ['reluBackward'],
    inputs: (g) => [gen([4, 6], g), T.tensor([[0, -0, -1.5, 2, Number.NaN, 1e-30], [3, -2, 0.5, 0, -0.1, 7], [1, 1, -1, -1, 0, 0], [Number.NaN, 4, 4, -4, 2, -0]]), gen([6], g).round()],
    fn: (gr, y, row) => [T.reluBackward(gr, y), T.reluBackward(gr, row), gr.reluBackward(y)],
  },
  {
    // Random gradients and inputs, a broadcast input row, int32 promoted to float32; the gradient
    // is checked too (geluBackward's own rule gives gelu's second derivative).
    name: 'geluBackward',
    covers: ['geluBackward'],
    inputs: (g) => [gen([4, 6], g), gen([4, 6], g).mul_(3), gen([6], g)],
    fn: (gr, x, row) => [T.geluBackward(gr, x), T.geluBackward(gr, row), T.geluBackward(T.tensor([2, -1], { dtype: 'int32' }), T.tensor([1, 0], { dtype: 'int32' }))],
    grad: true,
  },
  {
    // The tails (1 + erf as erfc below -sqrt 2, underflow of the density), zeros, infinities, NaN.
    name: 'geluBackward special values',
    covers: ['geluBackward'],
    inputs: () => [T.tensor([-12, -9, -6, -3, -1.5, -1e-7, -0, 0, 1e-7, 1.5, 3, 6, 9, 40, -40, Infinity, -Infinity, Number.NaN])],
    fn: (x) => T.geluBackward(T.onesLike(x), x),
  },
  {
    // Over the last dim and the last two, with and without the affine parts, a non-default eps.
    name: 'layerNorm',
    covers: ['layerNorm'],
    inputs: (g) => [gen([3, 4, 5], g).mul_(3).add_(1), gen([5], g), gen([5], g), gen([4, 5], g)],
    fn: (x, w, b, w2) => [T.layerNorm(x, 1, w, b, 1e-5), T.layerNorm(x, 2, w2, null, 0.1), T.layerNorm(x, 1, null, b, 1e-5), T.layerNorm(x, 1, null, null, 1e-5)],
    grad: true,
    errors: [
      expectError(() => T.layerNorm(T.zeros([2, 3]), 1, T.ones([2]), null, 1e-5), 'SHAPE', /layerNorm: weight must have the normalized dims' shape \[3\]; got \[2\]/, 'weight shape'),
      expectError(() => T.layerNorm(T.zeros([2, 3]), 3, null, null, 1e-5), 'ARGUMENT', /layerNorm: normalizedDims must be an integer in \[1, 2\]/, 'too many dims'),
    ],
  },
  {
    // The statistics passed in as layerNorm computes them (biased variance).
    name: 'layerNormBackward',
    covers: ['layerNormBackward'],
    inputs: (g) => [gen([6, 7], g), gen([6, 7], g).mul_(2), gen([7], g)],
    fn: (gy, x, w) => {
      const mean = x.mean([1]);
      const rstd = x.sub(mean.unsqueeze(1)).pow(2).mean([1]).add(1e-5).rsqrt();
      return [...T.layerNormBackward(gy, x, mean, rstd, w), ...T.layerNormBackward(gy, x, mean, rstd, null)];
    },
  },
  {
    // Over (N, C), (N, C, L) with runs longer than the kernels' eight lanes and (N, C, H, W); with
    // and without the affine parts, a non-default eps. The statistics are outputs too (and get gradients).
    name: 'batchNorm',
    covers: ['batchNorm'],
    inputs: (g) => [gen([4, 3, 2, 5], g).mul_(3).add_(1), gen([3], g), gen([3], g), gen([6, 3], g), gen([3, 2, 19], g).add_(2), gen([2], g)],
    fn: (x, w, b, x2, x3, w3) => [
      ...T.batchNorm(x, w, b, 1e-5),
      T.batchNorm(x, null, b, 0.1)[0],
      T.batchNorm(x2, w, null, 1e-5)[0],
      ...T.batchNorm(x2, null, null, 1e-5),
      ...T.batchNorm(x3, w3, w3, 1e-5),
    ],
    grad: true,
    errors: [
      expectError(() => T.batchNorm(T.zeros([2, 3]), T.ones([2]), null, 1e-5), 'SHAPE', /batchNorm: weight must have shape \[3\] \(the channels of input \[2, 3\]\); got \[2\]/, 'weight shape'),
      expectError(() => T.batchNorm(T.zeros([3]), null, null, 1e-5), 'SHAPE', /batchNorm: expected an input of shape \(N, C, \*\) with at least 2 dims; got \[3\]/, 'one dim'),
      expectError(() => T.batchNorm(T.zeros([0, 3]), null, null, 1e-5), 'VALUE', /batchNorm: expected at least one value per channel; got an input of shape \[0, 3\]/, 'empty batch'),
      expectError(() => T.batchNorm(T.zeros([2, 3]), null, null, -1), 'ARGUMENT', /batchNorm: eps must be a number >= 0; got -1/, 'negative eps'),
    ],
  },
  {
    // The statistics passed in as batchNorm computes them (biased variance), over (N, C, L).
    name: 'batchNormBackward',
    covers: ['batchNormBackward'],
    inputs: (g) => [gen([5, 3, 11], g), gen([5, 3, 11], g).mul_(2), gen([3], g)],
    fn: (gy, x, w) => {
      const mean = x.mean([0, 2]);
      const variance = x.sub(mean.reshape([1, 3, 1])).pow(2).mean([0, 2]);
      return [...T.batchNormBackward(gy, x, mean, variance, w, 1e-5), ...T.batchNormBackward(gy, x, mean, variance, null, 0.5)];
    },
    errors: [
      expectError(() => T.batchNormBackward(T.zeros([2, 3]), T.zeros([2, 3]), T.zeros([2]), T.zeros([3]), null, 1e-5), 'SHAPE', /batchNormBackward: mean must have shape \[3\]; got \[2\]/, 'mean shape'),
    ],
  },
  {
    name: 'pow',
    covers: ['pow'],
    inputs: (g) => [pos([3, 4], g).mul_(2), gen([3, 4], g)],
    fn: (a, b) => [a.pow(b), a.pow(2), a.pow(0.5)],
    grad: true,
    errors: [expectError(() => T.tensor([2, 3], { dtype: 'int32' }).pow(-1), 'VALUE', /pow: integers to negative integer powers/, 'int to negative power')],
  },
  { name: 'pow int32', covers: ['pow'], inputs: (g) => [ints(-5, 6, [10], g), ints(0, 4, [10], g)], fn: (a, b) => a.pow(b) },
  {
    name: 'add errors',
    covers: ['add'],
    inputs: (g) => [gen([2, 3], g), gen([3], g)],
    fn: (a, b) => a.add(b, 2),
    errors: [
      expectError(() => T.zeros([2, 3]).add(T.zeros([4])), 'BROADCAST', /add: shapes \[2, 3\] and \[4\] cannot be broadcast/, 'broadcast failure'),
      expectError(() => T.zeros([2]).add(T.zeros([2], { device: 'reference' })), 'DEVICE', /add: expected all tensors on the same device/, 'mixed devices'),
      expectError(() => T.zeros([2]).add('x' as unknown as number), 'ARGUMENT', /add: operands must be Tensors, numbers or booleans; got string/, 'wrong type'),
      expectError(() => T.add([1, 2] as unknown as Tensor, T.zeros([2])), 'ARGUMENT', /add: input must be a Tensor; got an array/, 'array instead of tensor'),
      expectError(() => { const t = T.zeros([2]); t.dispose(); return t.add(1); }, 'DISPOSED', /add: .*disposed/, 'use after dispose'),
    ],
  },
  ...compareSpecs,
  { name: 'logicalAnd / logicalOr', covers: ['logicalAnd', 'logicalOr'], inputs: (g) => [bools([3, 4], g), bools([4], g)], fn: (a, b) => [a.logicalAnd(b), a.logicalOr(b)] },
  {
    name: 'where',
    covers: ['where'],
    inputs: (g) => [bools([3, 4], g), gen([3, 4], g), gen([4], g)],
    fn: (c, a, b) => [T.where(c, a, b), T.where(c, a, 0.5)],
    errors: [expectError(() => T.where(T.zeros([2]), T.zeros([2]), 1), 'DTYPE', /where: condition must be a bool tensor; got float32/, 'non-bool condition')],
  },
  ...reduceSpec('sum', 'sum'),
  ...reduceSpec('prod', 'prod'),
  ...reduceSpec('amax', 'max'),
  ...reduceSpec('amin', 'min'),
  { name: 'all / any', covers: ['all', 'any'], inputs: (g) => [bools([4, 3], g)], fn: (x) => [x.all(), x.any(), x.all(1), x.any(0, true)] },
  {
    name: 'argmax / argmin / max(dim)',
    covers: ['argmax', 'argmin', 'max', 'min'],
    inputs: (g) => [gen([4, 6], g)],
    fn: (x) => {
      const mx = x.max(1);
      const mn = x.min(0, true);
      return [x.argmax(), x.argmin(1), x.argmax(0, true), mx.values, mx.indices, mn.values, mn.indices];
    },
    errors: [expectError(() => T.zeros([2, 3]).argmax(2), 'DIM', /argmax: dim 2 is out of range for a tensor of rank 2; expected a dim in \[-2, 1\]/, 'dim out of range')],
  },
  {
    name: 'mean / var / std / logsumexp',
    covers: ['sum', 'max'],
    inputs: (g) => [gen([5, 6], g)],
    fn: (x) => [x.mean(), x.mean(1, true), x.var(), x.var(0, { correction: 0 }), x.std(1), x.logsumexp(1), x.logsumexp([0, 1], true)],
    grad: true,
    errors: [expectError(() => T.zeros([2], { dtype: 'int32' }).mean(), 'DTYPE', /mean: could not infer output dtype/, 'int mean')],
  },
  { name: 'softmax', covers: ['softmax'], inputs: (g) => [gen([4, 5, 3], g).mul_(4)], fn: (x) => [x.softmax(1), x.softmax(-1)], grad: true },
  { name: 'logSoftmax', covers: ['logSoftmax'], inputs: (g) => [gen([4, 7], g).mul_(4)], fn: (x) => [x.logSoftmax(1), x.logSoftmax(0)], grad: true },
  {
    name: 'crossEntropy / crossEntropyBackward: weight, ignoreIndex, label smoothing',
    covers: ['crossEntropy', 'crossEntropyBackward'],
    inputs: (g) => [gen([6, 5], g).mul_(3), T.tensor([1, -100, 4, 0, 2, 2], { dtype: 'int32' }), pos([5], g), gen([6], g)],
    fn: (x, t, w, gy) => {
      const a = T.crossEntropyWithLse(x, t, { weight: w, labelSmoothing: 0.2 });
      const lse = x.logsumexp(1);
      return [
        a.loss,
        a.lse,
        T.crossEntropy(x, t),
        // ignoreIndex may be a real class
        T.crossEntropy(x, t.clamp(0, 4), { ignoreIndex: 2, labelSmoothing: 0.1 }),
        T.crossEntropyBackward(gy, x, t, lse, { weight: w, labelSmoothing: 0.2 }),
        T.crossEntropyBackward(gy, x, t, lse),
        T.crossEntropyBackward(gy, x, t.clamp(0, 4), lse, { ignoreIndex: 2, labelSmoothing: 1 }),
      ];
    },
    errors: [
      expectError(() => T.crossEntropy(T.zeros([2, 3]), T.tensor([1, 3], { dtype: 'int32' })), 'VALUE', /crossEntropy: target 3 is out of bounds: there are 3 classes, so class indices must lie in \[0, 2\] \(or equal ignoreIndex -100\); got 3 at flat position 1 of the target\nhint: map labels to 0..2/, 'target out of range'),
      expectError(() => T.crossEntropy(T.zeros([2, 3]), T.tensor([-1, 0], { dtype: 'int32' }), { ignoreIndex: -2 }), 'VALUE', /crossEntropy: target -1 is out of bounds: .*\(or equal ignoreIndex -2\)/, 'negative target'),
      expectError(() => T.crossEntropy(T.zeros([2, 3]), T.tensor([1, 0])), 'DTYPE', /crossEntropy: target must have dtype int32; got float32/, 'float target'),
      expectError(() => T.crossEntropy(T.zeros([2, 3, 4]), T.zeros([2], { dtype: 'int32' })), 'SHAPE', /crossEntropy: expected a 2-D \(N, C\) input; got shape \[2, 3, 4\]\nhint: reshape/, '3-D input'),
      expectError(() => T.crossEntropy(T.zeros([2, 3]), T.zeros([3], { dtype: 'int32' })), 'SHAPE', /crossEntropy: expected a target of shape \[2\]/, 'target length'),
      expectError(() => T.crossEntropy(T.zeros([2, 3]), T.zeros([2], { dtype: 'int32' }), { weight: T.ones([2]) }), 'SHAPE', /crossEntropy: weight must be a 1-D tensor with one entry per class \(3\); got shape \[2\]/, 'weight size'),
      expectError(() => T.crossEntropy(T.zeros([2, 3]), T.zeros([2], { dtype: 'int32' }), { labelSmoothing: 1.5 }), 'VALUE', /crossEntropy: labelSmoothing has to be between 0 and 1; got 1.5/, 'label smoothing'),
      expectError(() => T.crossEntropyBackward(T.ones([2]), T.zeros([2, 3]), T.zeros([2], { dtype: 'int32' }), T.zeros([3])), 'SHAPE', /crossEntropyBackward: lse must have shape \[2\]/, 'lse shape'),
    ],
  },
  {
    name: 'crossEntropy / crossEntropyBackward gradients',
    covers: ['crossEntropy', 'crossEntropyBackward'],
    inputs: (g) => [gen([5, 4], g).mul_(2), T.tensor([3, 0, -100, 1, 3], { dtype: 'int32' }), gen([5], g)],
    fn: (x, t, gy) => {
      // A constant weight (weights get no gradient, as in PyTorch).
      const w = T.tensor([0.5, 1.5, 1, 2], { dtype: x.dtype, device: x.device });
      const a = T.crossEntropyWithLse(x, t, { weight: w, labelSmoothing: 0.2 });
      return [a.loss, a.lse, T.crossEntropy(x, t), T.crossEntropyBackward(gy, x, t, x.logsumexp(1), { weight: w, labelSmoothing: 0.3 })];
    },
    grad: true,
  },
  {
    name: 'matmul 2-D',
    covers: ['matmul'],
    inputs: (g) => [gen([7, 9], g), gen([9, 5], g)],
    fn: (a, b) => a.matmul(b),
    grad: true,
    tol: { atol: 1e-5 },
    errors: [
      expectError(() => T.zeros([2, 3]).matmul(T.zeros([4, 2])), 'SHAPE', /matmul: shapes \[2, 3\] and \[4, 2\] cannot be multiplied \(2x3 and 4x2\)/, 'inner dims differ'),
      expectError(() => T.zeros([2, 3], { dtype: 'int32' }).matmul(T.zeros([3, 2], { dtype: 'int32' })), 'DTYPE', /matmul: expected float32 or float64/, 'int matmul'),
    ],
  },
  {
    name: 'matmul batched broadcast and 1-D',
    covers: ['matmul'],
    inputs: (g) => [gen([2, 1, 4, 6], g), gen([3, 6, 5], g), gen([6], g)],
    fn: (a, b, v) => [a.matmul(b), v.matmul(b), a.matmul(v), v.matmul(v), T.bmm(b.transpose(1, 2), b)],
    grad: true,
    tol: { atol: 1e-5 },
  },
  {
    name: 'conv2d',
    covers: ['conv2d'],
    inputs: (g) => [gen([2, 3, 9, 8], g), gen([4, 3, 3, 3], g), gen([4], g)],
    fn: (x, w, b) => [T.conv2d(x, w, b), T.conv2d(x, w, null, { padding: 1, stride: 2 }), T.conv2d(x, w, b, { padding: 'same', dilation: 2 })],
    grad: true,
    tol: { atol: 1e-5 },
    errors: [
      expectError(() => T.conv2d(T.zeros([1, 2, 5, 5]), T.zeros([4, 3, 3, 3])), 'SHAPE', /conv2d: expected input with 3 channels/, 'channel mismatch'),
      expectError(() => T.conv2d(T.zeros([1, 3, 2, 2]), T.zeros([4, 3, 3, 3])), 'SHAPE', /conv2d: the input of spatial size 2 is too small for kernel 3/, 'input too small'),
      expectError(() => T.conv2d(T.zeros([1, 3, 5, 5]), T.zeros([4, 3, 3, 3]), null, { padding: 'same', stride: 2 }), 'ARGUMENT', /conv2d: padding='same' is not supported for strided/, 'same with stride'),
    ],
  },
  {
    name: 'conv2d groups, even kernel same',
    covers: ['conv2d', 'pad'],
    inputs: (g) => [gen([2, 4, 7, 7], g), gen([6, 2, 2, 2], g)],
    fn: (x, w) => [T.conv2d(x, w, null, { groups: 2 }), T.conv2d(x, w, null, { groups: 2, padding: 'same' })],
    grad: true,
    tol: { atol: 1e-5 },
  },
  {
    name: 'conv2d gradients (tutorial shapes)',
    covers: ['conv2dBackwardInput', 'conv2dBackwardWeight'],
    // conv2 of the tutorial: x [2, 6, 14, 14], w [16, 6, 5, 5], gradY [2, 16, 10, 10]
    inputs: (g) => [gen([2, 16, 10, 10], g), gen([16, 6, 5, 5], g), gen([2, 6, 14, 14], g)],
    fn: (gy, w, x) => [T.conv2dBackwardInput(gy, w, [2, 6, 14, 14]), T.conv2dBackwardWeight(gy, x, [16, 6, 5, 5])],
    tol: { atol: 1e-4 },
    errors: [
      expectError(() => T.conv2dBackwardInput(T.zeros([2, 6, 10, 10]), T.zeros([16, 6, 5, 5]), [2, 6, 14, 14]), 'SHAPE', /conv2dBackwardInput: weight must have gradOutput's channels as its first dim/, 'gradOutput channels differ from the weight\'s'),
      expectError(() => T.conv2dBackwardWeight(T.zeros([2, 16, 9, 9]), T.zeros([2, 6, 14, 14]), [16, 6, 5, 5]), 'SHAPE', /conv2dBackwardWeight: gradOutput's spatial size must be the convolution's output size \[10, 10\]/, 'wrong output size'),
    ],
  },
  {
    name: 'conv2d gradients strided, dilated, grouped',
    covers: ['conv2dBackwardInput', 'conv2dBackwardWeight'],
    inputs: (g) => [gen([2, 4, 4, 4], g), gen([4, 2, 3, 3], g), gen([2, 4, 9, 9], g)],
    fn: (gy, w, x) => {
      const o = { stride: 2, padding: 1, dilation: 2, groups: 2 } as const;
      return [T.conv2dBackwardInput(gy, w, [2, 4, 9, 9], o), T.conv2dBackwardWeight(gy, x, [4, 2, 3, 3], o)];
    },
    tol: { atol: 1e-5 },
  },
  {
    name: 'maxPool2d with indices',
    covers: ['maxPool2d'],
    inputs: (g) => [gen([2, 3, 9, 8], g)],
    fn: (x) => {
      const a = T.maxPool2dWithIndices(x, 2);
      const b = T.maxPool2dWithIndices(x, 3, { stride: 2, padding: 1, ceilMode: true });
      return [a.values, a.indices, b.values, b.indices, T.maxPool2d(x, [2, 3], { dilation: 2 })];
    },
    grad: true,
    errors: [expectError(() => T.maxPool2d(T.zeros([1, 1, 4, 4]), 2, { padding: 2 }), 'ARGUMENT', /maxPool2d: padding should be at most half of the kernel size/, 'padding too large')],
  },
  {
    name: 'maxPool2dBackward',
    covers: ['maxPool2dBackward'],
    inputs: (g) => [gen([2, 3, 8, 8], g), gen([2, 3, 4, 4], g)],
    fn: (x, gy) => {
      const { indices } = T.maxPool2dWithIndices(x, 3, { stride: 2, padding: 1 });
      return T.maxPool2dBackward(gy, indices, x.shape);
    },
  },
  {
    name: 'avgPool2d',
    covers: ['avgPool2d', 'avgPool2dBackward'],
    inputs: (g) => [gen([2, 3, 7, 8], g), gen([2, 3, 4, 4], g)],
    fn: (x, gy) => [
      T.avgPool2d(x, 2),
      T.avgPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }),
      T.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
      T.avgPool2d(x, 2, { divisorOverride: 3 }),
      T.avgPool2dBackward(gy, x.shape, 3, { stride: 2, padding: 1, countIncludePad: false }),
    ],
    grad: true,
  },
  {
    name: 'adaptive pools',
    covers: ['adaptiveAvgPool2d', 'adaptiveAvgPool2dBackward', 'adaptiveMaxPool2d'],
    inputs: (g) => [gen([2, 3, 7, 5], g), gen([2, 3, 3, 2], g)],
    fn: (x, gy) => {
      const m = T.adaptiveMaxPool2dWithIndices(x, [3, 2]);
      return [T.adaptiveAvgPool2d(x, [3, 2]), T.adaptiveAvgPool2d(x, 1), T.adaptiveAvgPool2dBackward(gy, x.shape), m.values, m.indices];
    },
    grad: true,
  },
  {
    name: 'cast',
    covers: ['cast'],
    inputs: (g) => [gen([3, 5], g).mul_(100)],
    fn: (x) => [x.to('int32'), x.to('uint8'), x.to('bool'), x.to('float64'), x.to('int32').to('float32')],
    errors: [
      expectError(() => T.tensor([1, Number.NaN]).to('int32'), 'VALUE', /cast: .*NaN/, 'NaN to int'),
      expectError(() => T.tensor([Number.POSITIVE_INFINITY]).to('uint8'), 'VALUE', /cast: .*Infinity/, 'Infinity to uint8'),
      expectError(() => T.zeros([2]).to('int64' as DType), 'DTYPE', /to: unknown dtype 'int64'/, 'unknown dtype'),
    ],
  },
  {
    name: 'copy / contiguous / clone',
    covers: ['copy'],
    inputs: (g) => [gen([3, 4, 5], g)],
    fn: (x) => [x.permute(2, 0, 1).contiguous(), x.clone(), x.transpose(0, 1).reshape([4, 15])],
    grad: true,
  },
  { name: 'fill / full', covers: ['fill'], inputs: () => [], fn: () => [T.full([2, 3], 1.5), T.ones([3], { dtype: 'int32' }), T.full([2], true)] },
  {
    name: 'pad',
    covers: ['pad', 'indexSelect'],
    inputs: (g) => [gen([2, 3, 4, 5], g)],
    fn: (x) => [x.pad([1, 2]), x.pad([1, 1, 2, 0], 'constant', -1), x.pad([2, 1, 1, 2], 'reflect'), x.pad([1, 2, 2, 1], 'replicate'), x.pad([1, 2, 3, 0], 'circular')],
    grad: true,
    errors: [expectError(() => T.zeros([2, 2]).pad([2, 0], 'reflect'), 'ARGUMENT', /pad: reflect padding \(2, 0\) must be smaller than dimension 1's size 2/, 'reflect too large')],
  },
  {
    name: 'cat / stack / split / chunk',
    covers: ['cat'],
    inputs: (g) => [gen([2, 3, 4], g), gen([2, 1, 4], g), ints(0, 5, [2, 3, 4], g)],
    fn: (a, b, i) => [T.cat([a, b], 1), T.stack([a, a], 2), ...a.split(2, 2), ...a.chunk(3, 1), T.cat([a, i], 0)],
    grad: true,
    errors: [expectError(() => T.cat([T.zeros([2, 3]), T.zeros([3, 3])], 1), 'SHAPE', /cat: sizes of tensors must match except in dimension 1/, 'mismatched sizes')],
  },
  {
    // Distinct values: sorting is differentiable there (at ties it is not, and gradcheck would disagree).
    name: 'sort / argsort / topk',
    covers: ['sort'],
    inputs: (g) => [gen([3, 7], g), gen([5], g)],
    fn: (x, v) => {
      const [a, b, t, s, w] = [x.sort(), x.sort(0, true), x.topk(3), x.topk(2, 0, false), v.sort(0, true)];
      return [a.values, a.indices, b.values, b.indices, t.values, t.indices, s.values, s.indices, w.values, w.indices, x.argsort(1, true), x.topk(7).values];
    },
    grad: true,
    errors: [
      expectError(() => T.zeros([2, 3]).topk(4), 'ARGUMENT', /topk: k must be an integer in \[0, 3\] \(the size of dim 1\); got 4/, 'k too large'),
      expectError(() => T.zeros([2, 3]).sort(2), 'DIM', /sort: dim 2 is out of range/, 'dim out of range'),
    ],
  },
  {
    name: 'cumsum',
    covers: ['cumsum'],
    inputs: (g) => [gen([4, 6], g), ints(-5, 5, [3, 7], g), bools([2, 5], g)],
    fn: (x, i, b) => [x.cumsum(1), x.cumsum(0), x.cumsum(-1).cumsum(0), i.cumsum(1), i.cumsum(0), b.cumsum(1), T.tensor(2.5).cumsum(0)],
    grad: true,
    errors: [expectError(() => (T.zeros([2]) as unknown as { cumsum(): Tensor }).cumsum(), 'ARGUMENT', /cumsum: dim must be given \(an integer\); got undefined/, 'no dim')],
  },
  {
    // Ties keep their order (stable), NaN above every number, every dtype, a 0-dim tensor.
    name: 'sort: ties, integers, NaN',
    covers: ['sort'],
    inputs: (g) => [gen([4, 9], g).mul_(2).round(), ints(-3, 4, [5, 6], g), T.tensor([[3, Number.NaN, -1, Number.NaN, 2, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, -1]]), bools([7], g), T.tensor(2.5)],
    fn: (x, i, n, b, s) => [x.sort(), x.sort(0, true), i.sort(1, true), i.sort(0), n.sort(), n.sort(-1, true), b.sort(), s.sort(), i.topk(2, 0)].flatMap((r) => [r.values, r.indices]),
  },
  {
    // Row 1 of z is zeros: the 1- and 2-norms' gradient there is 0 (no NaN), as central differences say.
    name: 'vectorNorm / norm',
    covers: ['sum', 'max', 'min', 'abs', 'mul', 'pow', 'sqrt', 'where', 'div'],
    inputs: (g) => [gen([3, 5], g), T.tensor([[0.5, -1, 2], [0, 0, 0]])],
    fn: (x, z) => [x.norm(), x.norm(2, 1), x.norm(1, 0, true), x.norm(3, -1), x.norm(Number.POSITIVE_INFINITY, 1), x.norm(Number.NEGATIVE_INFINITY), x.norm('fro', [0, 1]), z.norm(2, 1), z.norm(1, 1), z.norm(3, 1), T.vectorNorm(z.mul(0), 0, 1)],
    grad: true,
    errors: [expectError(() => T.tensor([1, 2], { dtype: 'int32' }).norm(), 'DTYPE', /vectorNorm: expected a floating point tensor; got int32/, 'integer input')],
  },
  {
    name: 'flip / roll / repeat / tile',
    covers: ['indexSelect', 'copy'],
    inputs: (g) => [gen([2, 3, 4], g), ints(0, 9, [3, 2], g)],
    fn: (x, i) => [x.flip(0, 2), x.flip(-1), x.roll(5), x.roll([1, -5], [2, 1]), x.roll([1, 2], [0, 0]), x.repeat(2, 1, 1, 2), x.tile([2]), x.repeat(1, 1, 1), i.flip(1), i.repeat(2, 2)],
    grad: true,
    errors: [
      expectError(() => T.zeros([2, 3]).repeat(2), 'SHAPE', /repeat: expected at least one repeat count per dimension \(2\); got \[2\]/, 'fewer repeat counts than dims'),
      expectError(() => T.zeros([2, 3]).roll([1, 2]), 'ARGUMENT', /roll: without dims, shifts must be one number; got \[1,2\]/, 'several shifts without dims'),
      expectError(() => T.zeros([2, 3]).roll([1, 2], 0), 'ARGUMENT', /roll: shifts and dims must have the same length; got 2 shifts and 1 dims/, 'shifts and dims of different lengths'),
      expectError(() => T.zeros([2, 3]).flip(0, 0), 'DIM', /flip: dims \[0,0\] repeat a dimension/, 'repeated dim'),
    ],
  },
  {
    name: 'tril / triu',
    covers: ['where'],
    inputs: (g) => [gen([2, 4, 5], g), ints(-5, 5, [3, 3], g)],
    fn: (x, i) => [x.tril(), x.tril(-1), x.triu(1), x.triu(-2), T.tril(x, 7), T.triu(x, 9), i.tril(), i.triu(1)],
    grad: true,
    errors: [expectError(() => T.zeros([3]).tril(), 'SHAPE', /tril: expects a tensor with at least 2 dimensions; got shape \[3\]/, 'rank 1')],
  },
  {
    name: 'isnan / isinf / isfinite / isclose',
    covers: ['ne', 'eq', 'lt', 'le', 'abs', 'sub', 'mul', 'add', 'logicalAnd', 'logicalOr'],
    inputs: () => [
      T.tensor([0, -1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-9, 3, 100]),
      T.tensor([1e-9, -1.50001, Number.NaN, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 0, 3.1, 100.0009]),
      T.tensor([1, -2, 3], { dtype: 'int32' }),
    ],
    fn: (a, b, i) => [a.isnan(), a.isinf(), a.isfinite(), a.isclose(b), a.isclose(b, { equalNan: true, rtol: 1e-4 }), a.isclose(3, { atol: 0.5 }), i.isnan(), i.isinf(), i.isfinite(), i.isclose(b.narrow(0, 5, 3), { atol: 1 })],
    errors: [expectError(() => T.zeros([2]).isclose(T.zeros([2]), { rtol: -1 }), 'ARGUMENT', /isclose: rtol must be a non-negative number; got -1/, 'negative rtol')],
  },
  {
    name: 'indexSelect / indexAdd',
    covers: ['indexSelect', 'indexAdd'],
    inputs: (g) => [gen([5, 4], g), T.tensor([4, 0, 4, 2], { dtype: 'int32' }), gen([5, 4], g)],
    fn: (x, i, y) => [x.indexSelect(0, i), x.indexSelect(1, i.slice(0, 0, 3).clamp(0, 3)), x.indexAdd(0, i, y.indexSelect(0, i), 0.5)],
    grad: true,
    errors: [
      expectError(() => T.zeros([3]).indexSelect(0, T.tensor([3], { dtype: 'int32' })), 'VALUE', /indexSelect: index 3 is out of bounds for dimension 0 with size 3/, 'index out of range'),
      expectError(() => T.zeros([3]).indexSelect(0, T.tensor([1])), 'DTYPE', /indexSelect: index must have dtype int32; got float32/, 'float index'),
    ],
  },
  {
    name: 'gather / scatter / scatterAdd',
    covers: ['gather', 'scatter', 'scatterAdd'],
    inputs: (g) => [gen([3, 5], g), ints(0, 3, [2, 5], g), gen([2, 5], g), ints(0, 5, [3, 4], g)],
    fn: (x, i0, src, i1) => [x.gather(0, i0), x.gather(1, i1), x.scatter(1, i1.slice(1, 0, 1), 7), x.scatterAdd(0, i0, src), x.scatter(0, i0.slice(0, 0, 1), src)],
    grad: true,
  },
  {
    name: 'maskedSelect / oneHot / maskedFill',
    covers: ['indexSelect', 'eq', 'where'],
    inputs: (g) => [gen([3, 4], g), ints(0, 5, [6], g)],
    fn: (x, labels) => [x.maskedSelect(x.gt(0)), T.oneHot(labels, 5), x.maskedFill(x.lt(0), 0)],
  },
];

/** Values of a tensor as float64, as precise as its backend holds them. */
export function preciseValues(t: Tensor): Float64Array {
  const c = t.contiguous();
  const raw = c.storage.backend.read(c.storage.buf, c.dtype, c.offset, c.numel);
  if (c !== t) c.dispose();
  return Float64Array.from(raw);
}

/**
 * A non-contiguous view holding the same values (strides doubled in the last
 * dim, plus a transposed layout for rank >= 2).
 */
export function nonContiguous(x: Tensor): Tensor {
  if (x.numel <= 1) return x.clone();
  const wide = T.zeros([...x.shape, 2], { dtype: x.dtype, device: x.device });
  const v = wide.select(-1, 1);
  v.copy_(x);
  wide.dispose();
  if (x.ndim < 2) return v;
  const tr = v.transpose(0, x.ndim - 1).contiguous().transpose(0, x.ndim - 1);
  v.dispose();
  return tr;
}

export function assertClose(actual: Tensor, expected: Tensor, tol: Tolerance, label: string): void {
  const shape = (t: Tensor) => `[${t.shape.join(', ')}]`;
  if (shape(actual) !== shape(expected)) throw new Error(`${label}: shape ${shape(actual)}, expected ${shape(expected)}`);
  if (actual.dtype !== expected.dtype) throw new Error(`${label}: dtype ${actual.dtype}, expected ${expected.dtype}`);
  const a = preciseValues(actual);
  const e = preciseValues(expected);
  const exact = actual.dtype !== 'float32' && actual.dtype !== 'float64';
  const { rtol, atol } = actual.dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : tol;
  for (let i = 0; i < a.length; i++) {
    const ok = exact ? a[i] === e[i] : Object.is(a[i], e[i]) || (Number.isNaN(a[i]) && Number.isNaN(e[i])) || Math.abs(a[i] - e[i]) <= atol + rtol * Math.abs(e[i]);
    if (!ok) throw new Error(`${label}: element ${i} is ${a[i]}, expected ${e[i]} (rtol ${rtol}, atol ${atol})`);
  }
}

export function asList(r: Tensor | Tensor[]): Tensor[] {
  return Array.isArray(r) ? r : [r];
}

/**
 * Run a spec on `device` (contiguous, then non-contiguous inputs) and on the
 * reference backend; throws on the first mismatch.
 */
export function checkSpecAgainstReference(spec: OpSpec, device: Device, seed = 1234): void {
  const tol: Tolerance = { rtol: 1e-5, atol: 1e-6, ...spec.tol };
  const inputs = spec.inputs(new T.Generator(seed));
  const ref = spec.fn(...inputs.map((x) => x.to('reference')));
  const refList = asList(ref);
  for (const layout of ['contiguous', 'non-contiguous'] as const) {
    const ins = inputs.map((x) => {
      const d = x.to(device);
      return layout === 'contiguous' ? d : nonContiguous(d);
    });
    const out = asList(spec.fn(...ins));
    if (out.length !== refList.length) throw new Error(`${spec.name}: ${out.length} outputs, reference gave ${refList.length}`);
    // A spec whose reference is all NaN tests nothing (NaN matches NaN): refuse it.
    refList.forEach((r, i) => {
      if ((r.dtype === 'float32' || r.dtype === 'float64') && r.numel > 0 && preciseValues(r).every(Number.isNaN)) {
        throw new Error(`${spec.name}: reference output ${i} is all NaN; the spec's inputs are inconsistent`);
      }
    });
    out.forEach((o, i) => {
      assertClose(o.to('reference'), refList[i], tol, `${spec.name} (${layout}) output ${i}`);
    });
  }
}

/** Check every error case of a spec: the right DLError code and message. */
export function checkSpecErrors(spec: OpSpec): void {
  for (const e of spec.errors ?? []) {
    let thrown: unknown;
    try {
      e.call();
    } catch (err) {
      thrown = err;
    }
    if (!(thrown instanceof DLError)) throw new Error(`${spec.name} / ${e.name}: expected a DLError, got ${String(thrown)}`);
    if (thrown.code !== e.code || !e.match.test(thrown.message)) {
      throw new Error(`${spec.name} / ${e.name}: got ${thrown.code} "${thrown.message}", expected ${e.code} ${e.match}`);
    }
  }
}

/** Live buffer count, for tests that check memory returns to its baseline. */
export function liveBuffers(): number {
  return memoryStats().liveBuffers;
}

export { Tensor };

/**
 * Names for tests that need a CUDA device, or its absence: a test that skips says why in its
 * name, and one that ran on the emulated device of a DL_CUDA=emulate build says so.
 */
export function cudaTestNames() {
  const status = T.cuda.probe();
  const gpu = status.available;
  const libs = status.probe?.cublas.found && status.probe.cudnn.found ? ', with host stand-ins of cuBLAS and cuDNN' : '';
  const where = status.probe?.emulated ? ` (on the emulated CUDA device${libs})` : '';
  return {
    status,
    gpu,
    needsGpu: (name: string) => `${name}${gpu ? where : ` (skipped: ${status.reason})`}`,
    withoutGpu: (name: string) => `${name}${gpu ? ' (skipped: CUDA is available here)' : ''}`,
  };
}
