/**
 * The Tensor: a storage (a backend buffer shared with views) plus a layout
 * (shape, strides, offset), a dtype and a device. Methods are thin wrappers
 * over the op functions in ./ops; nothing here touches memory directly.
 */
import type { DType, TypedArray } from './dtype.js';
import { arrayCtor } from './dtype.js';
import { fail, fmtShape } from './errors.js';
import type { Device } from './device.js';
import type { Shape } from './layout.js';
import { isContiguous, numel } from './layout.js';
import { type Storage, adopt, countTensor, unwatch, watch } from './memory.js';
import * as ops from './ops/index.js';
import type { PadMode } from './ops/shape.js';
import type { Conv2dOptions } from './ops/nn.js';
import { formatTensor } from './format.js';

/**
 * A node of the autograd graph; opaque to @dl/tensor (defined by @dl/autograd). A tensor holds
 * the node that made it while the tensor lives: `hold` when it starts pointing at it, `letGo`
 * when it stops (disposed, or pointed elsewhere), so a graph no live tensor leads to is freed
 * then and there, as PyTorch frees a graph nothing refers to.
 */
export interface GradFn {
  readonly name: string;
  hold(): void;
  letGo(): void;
}

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
}

/** Set by @dl/autograd when it loads. */
let autogradImpl: { backward(t: Tensor, gradient: Tensor | undefined, opts: BackwardOptions): void } | undefined;
export function setAutogradImpl(impl: typeof autogradImpl): void {
  autogradImpl = impl;
}

type Scalar = number | boolean;
type Operand = Tensor | Scalar;

export class Tensor {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  /** Set by autograd: whether gradients are recorded for ops on this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaf tensors), set by backward(). */
  grad: Tensor | null = null;
  #gradFn: GradFn | null = null;
  /** @internal See memory.ts: whether the FinalizationRegistry holds this tensor. */
  watched = false;
  private disposed = false;

  /** @internal Tensors are made by ops and creation functions, not by `new`. */
  constructor(storage: Storage, shape: Shape, strides: readonly number[], offset: number) {
    this.storage = storage;
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    storage.refs++;
    countTensor(storage.device, 1);
    adopt(this);
  }

  get dtype(): DType {
    return this.storage.dtype;
  }
  get device(): Device {
    return this.storage.device as Device;
  }
  /** Whether the tensor lives on a CUDA device (PyTorch's is_cuda). */
  get isCuda(): boolean {
    return this.device.startsWith('cuda');
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return numel(this.shape);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  /** The autograd node that produced this tensor (null for leaves), held while this tensor lives. */
  get gradFn(): GradFn | null {
    return this.#gradFn;
  }
  set gradFn(fn: GradFn | null) {
    if (fn === this.#gradFn) return;
    if (!this.disposed) {
      fn?.hold();
      this.#gradFn?.letGo();
    }
    this.#gradFn = fn;
  }
  /** True for tensors not produced by a recorded op (PyTorch's is_leaf). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  /** In-place modification counter, shared with views. */
  get version(): number {
    return this.storage.version;
  }
  isContiguous(): boolean {
    return isContiguous(this);
  }
  size(): Shape;
  size(dim: number): number;
  size(dim?: number): Shape | number {
    return dim === undefined ? this.shape : this.shape[ops.dimArg('size', dim, this.ndim)];
  }
  dim(): number {
    return this.ndim;
  }

  /** @internal A view sharing this tensor's storage. */
  viewWithLayout(shape: Shape, strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.storage, shape, strides, offset);
  }

  /**
   * @internal Makes this tensor refer to `src`'s storage and layout, dropping its own reference
   * (PyTorch's `t.data = src`): nn's Module.to() moves parameters this way, so they keep their
   * identity and what holds them (an optimizer) sees the moved values. Views taken before keep
   * the old storage; `src` stays owned by the caller.
   */
  replaceData(src: Tensor): void {
    ops.assertAlive('replaceData', this);
    ops.assertAlive('replaceData', src);
    if (src === this) return;
    src.storage.refs++;
    const watched = this.watched;
    unwatch(this);
    countTensor(this.storage.device, -1);
    this.storage.release();
    const self = this as { -readonly [K in 'storage' | 'shape' | 'strides' | 'offset']: Tensor[K] };
    self.storage = src.storage;
    self.shape = src.shape;
    self.strides = src.strides;
    self.offset = src.offset;
    countTensor(src.storage.device, 1);
    if (watched) watch(this); // under the safety net again, now holding the new storage
  }

  /** Free this tensor's reference to its storage (the buffer goes when no view holds it). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    unwatch(this);
    countTensor(this.storage.device, -1);
    this.storage.release();
    if (this.grad && !this.grad.isDisposed) this.grad.dispose();
    this.#gradFn?.letGo();
  }

  // ---------------------------------------------------------------- reading
  /** The values in row-major order as a typed array of the dtype (a copy). */
  dataSync(): TypedArray {
    ops.assertAlive('dataSync', this);
    const c = this.isContiguous() ? this : ops.contiguous(this);
    const raw = c.storage.backend.read(c.storage.buf, c.dtype, c.offset, c.numel);
    if (c !== this) c.dispose();
    const Ctor = arrayCtor(this.dtype);
    if (raw instanceof Ctor) return raw;
    const out = new Ctor(raw.length);
    out.set(raw);
    return out;
  }
  /** As dataSync, once the device has finished (no waiting on the CPU). */
  async data(): Promise<TypedArray> {
    return this.dataSync();
  }
  /** Nested arrays of numbers (booleans for bool tensors). */
  toArray(): unknown {
    const data = this.dataSync();
    const isBool = this.dtype === 'bool';
    const build = (dim: number, off: number): unknown => {
      if (dim === this.ndim) return isBool ? data[off] !== 0 : data[off];
      const inner = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * inner));
    };
    return build(0, 0);
  }
  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) {
      fail('SHAPE', 'item', `a tensor with ${this.numel} elements cannot be converted to a number; got shape ${fmtShape(this.shape)}`, 'index or reduce it to one element first');
    }
    return this.dataSync()[0];
  }
  toString(): string {
    return formatTensor(this);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---------------------------------------------------------------- autograd hooks
  /** Compute gradients of this tensor with respect to graph leaves (needs @dl/autograd). */
  backward(gradient?: Tensor, opts: BackwardOptions = {}): void {
    if (!autogradImpl) fail('AUTOGRAD', 'backward', '@dl/autograd is not loaded', "import '@dl/autograd' (or @dl/nn, which imports it) before calling backward()");
    autogradImpl.backward(this, gradient, opts);
  }
  /** Set requiresGrad in place (leaf tensors); returns this. */
  requiresGrad_(requiresGrad = true): this {
    if (requiresGrad && this.dtype !== 'float32' && this.dtype !== 'float64') {
      fail('DTYPE', 'requiresGrad_', `only floating point tensors can require gradients; got ${this.dtype}`, "cast first, e.g. x.to('float32')");
    }
    if (!requiresGrad && !this.isLeaf) fail('AUTOGRAD', 'requiresGrad_', 'cannot turn off requiresGrad of a non-leaf tensor', 'use detach() instead');
    this.requiresGrad = requiresGrad;
    return this;
  }
  /** A tensor sharing storage that is cut from the graph. */
  detach(): Tensor {
    return this.viewWithLayout(this.shape, this.strides, this.offset);
  }

  // ---------------------------------------------------------------- conversion
  /** Move to a device or cast to a dtype (a no-op returning this when nothing changes). */
  to(target: Device | DType): Tensor {
    return ops.to(this, target);
  }
  /** A copy on the CPU (this tensor itself when it is there already). */
  cpu(): Tensor {
    return ops.to(this, 'cpu');
  }
  /** A copy on GPU `index` (this tensor itself when it is there already). */
  cuda(index = 0): Tensor {
    return ops.to(this, `cuda:${index}`);
  }
  float(): Tensor {
    return ops.to(this, 'float32');
  }
  double(): Tensor {
    return ops.to(this, 'float64');
  }
  int(): Tensor {
    return ops.to(this, 'int32');
  }
  bool(): Tensor {
    return ops.to(this, 'bool');
  }
  contiguous(): Tensor {
    return ops.contiguous(this);
  }
  clone(): Tensor {
    return ops.clone(this);
  }

  // ---------------------------------------------------------------- views and shape
  reshape(...shape: ShapeArg): Tensor {
    return ops.reshape(this, shapeArg(shape));
  }
  view(...shape: ShapeArg): Tensor {
    return ops.view(this, shapeArg(shape));
  }
  permute(...dims: ShapeArg): Tensor {
    return ops.permute(this, shapeArg(dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return ops.transpose(this, dim0, dim1);
  }
  /** Transpose of a tensor of rank <= 2. */
  t(): Tensor {
    return ops.t(this);
  }
  get T(): Tensor {
    return ops.permute(this, this.shape.map((_, i) => this.ndim - 1 - i));
  }
  expand(...shape: ShapeArg): Tensor {
    return ops.expand(this, shapeArg(shape));
  }
  expandAs(other: Tensor): Tensor {
    return ops.expand(this, other.shape);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return ops.narrow(this, dim, start, length);
  }
  slice(dim: number, start?: number, end?: number, step?: number): Tensor {
    return ops.slice(this, dim, start, end, step);
  }
  select(dim: number, index: number): Tensor {
    return ops.select(this, dim, index);
  }
  squeeze(dim?: number | readonly number[]): Tensor {
    return ops.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return ops.unsqueeze(this, dim);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten(this, startDim, endDim);
  }
  split(splitSize: number | readonly number[], dim = 0): Tensor[] {
    return ops.split(this, splitSize, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return ops.chunk(this, chunks, dim);
  }
  pad(pads: readonly number[], mode: PadMode = 'constant', value = 0): Tensor {
    return ops.pad(this, pads, mode, value);
  }
  flip(...dims: number[] | [readonly number[]]): Tensor {
    return ops.flip(this, shapeArg(dims));
  }
  roll(shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
    return ops.roll(this, shifts, dims);
  }
  repeat(...sizes: ShapeArg): Tensor {
    return ops.repeat(this, shapeArg(sizes));
  }
  tile(...reps: ShapeArg): Tensor {
    return ops.tile(this, shapeArg(reps));
  }
  tril(diagonal = 0): Tensor {
    return ops.tril(this, diagonal);
  }
  triu(diagonal = 0): Tensor {
    return ops.triu(this, diagonal);
  }

  // ---------------------------------------------------------------- elementwise
  neg(): Tensor { return ops.neg(this); }
  abs(): Tensor { return ops.abs(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  relu(): Tensor { return ops.relu(this); }
  gelu(): Tensor { return ops.gelu(this); }
  erf(): Tensor { return ops.erf(this); }
  sign(): Tensor { return ops.sign(this); }
  floor(): Tensor { return ops.floor(this); }
  ceil(): Tensor { return ops.ceil(this); }
  round(): Tensor { return ops.round(this); }
  square(): Tensor { return ops.mul(this, this); }
  reciprocal(): Tensor { return ops.div(1, this); }
  logicalNot(): Tensor { return ops.logicalNot(this); }
  clamp(min?: number | null, max?: number | null): Tensor { return ops.clamp(this, min, max); }
  isnan(): Tensor { return ops.isnan(this); }
  isinf(): Tensor { return ops.isinf(this); }
  isfinite(): Tensor { return ops.isfinite(this); }
  isclose(other: Tensor | number, opts?: ops.IsCloseOptions): Tensor { return ops.isclose(this, other, opts); }
  allclose(other: Tensor | number, opts?: ops.IsCloseOptions): boolean { return ops.allclose(this, other, opts); }

  add(other: Operand, alpha?: number): Tensor { return ops.add(this, other, alpha); }
  sub(other: Operand, alpha?: number): Tensor { return ops.sub(this, other, alpha); }
  mul(other: Operand): Tensor { return ops.mul(this, other); }
  div(other: Operand): Tensor { return ops.div(this, other); }
  pow(exponent: Operand): Tensor { return ops.pow(this, exponent); }
  maximum(other: Operand): Tensor { return ops.maximum(this, other); }
  minimum(other: Operand): Tensor { return ops.minimum(this, other); }
  /** relu's gradient: this where `output` is positive, else 0 (see ops.reluBackward). */
  reluBackward(output: Operand): Tensor { return ops.reluBackward(this, output); }
  eq(other: Operand): Tensor { return ops.eq(this, other); }
  ne(other: Operand): Tensor { return ops.ne(this, other); }
  lt(other: Operand): Tensor { return ops.lt(this, other); }
  le(other: Operand): Tensor { return ops.le(this, other); }
  gt(other: Operand): Tensor { return ops.gt(this, other); }
  ge(other: Operand): Tensor { return ops.ge(this, other); }
  logicalAnd(other: Operand): Tensor { return ops.logicalAnd(this, other); }
  logicalOr(other: Operand): Tensor { return ops.logicalOr(this, other); }

  // ---------------------------------------------------------------- in place
  add_(other: Operand, alpha?: number): this { return ops.inplace(this, 'add_', ops.add(this, other, alpha)); }
  sub_(other: Operand, alpha?: number): this { return ops.inplace(this, 'sub_', ops.sub(this, other, alpha)); }
  mul_(other: Operand): this { return ops.inplace(this, 'mul_', ops.mul(this, other)); }
  div_(other: Operand): this { return ops.inplace(this, 'div_', ops.div(this, other)); }
  pow_(exponent: Operand): this { return ops.inplace(this, 'pow_', ops.pow(this, exponent)); }
  neg_(): this { return ops.inplace(this, 'neg_', ops.neg(this)); }
  exp_(): this { return ops.inplace(this, 'exp_', ops.exp(this)); }
  sqrt_(): this { return ops.inplace(this, 'sqrt_', ops.sqrt(this)); }
  relu_(): this { return ops.inplace(this, 'relu_', ops.relu(this)); }
  sigmoid_(): this { return ops.inplace(this, 'sigmoid_', ops.sigmoid(this)); }
  tanh_(): this { return ops.inplace(this, 'tanh_', ops.tanh(this)); }
  clamp_(min?: number | null, max?: number | null): this { return ops.inplace(this, 'clamp_', ops.clamp(this, min, max)); }
  zero_(): this { return ops.fill_(this, 0); }
  fill_(value: number | boolean): this { return ops.fill_(this, value); }
  copy_(src: Tensor): this { return ops.copy_(this, src); }
  uniform_(from = 0, to = 1, opts?: ops.RandomOptions): this { return ops.uniform_(this, from, to, opts); }
  normal_(mean = 0, std = 1, opts?: ops.RandomOptions): this { return ops.normal_(this, mean, std, opts); }

  // ---------------------------------------------------------------- reductions
  sum(dim?: number | readonly number[], keepdim = false): Tensor { return ops.sum(this, dim, keepdim); }
  mean(dim?: number | readonly number[], keepdim = false): Tensor { return ops.mean(this, dim, keepdim); }
  prod(dim?: number | readonly number[], keepdim = false): Tensor { return ops.prod(this, dim, keepdim); }
  all(dim?: number | readonly number[], keepdim = false): Tensor { return ops.all(this, dim, keepdim); }
  any(dim?: number | readonly number[], keepdim = false): Tensor { return ops.any(this, dim, keepdim); }
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ops.ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ops.ValuesIndices {
    return dim === undefined ? ops.amax(this) : ops.maxDim(this, dim, keepdim);
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ops.ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ops.ValuesIndices {
    return dim === undefined ? ops.amin(this) : ops.minDim(this, dim, keepdim);
  }
  amax(dim?: number | readonly number[], keepdim = false): Tensor { return ops.amax(this, dim, keepdim); }
  amin(dim?: number | readonly number[], keepdim = false): Tensor { return ops.amin(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return ops.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return ops.argmin(this, dim, keepdim); }
  sort(dim = -1, descending = false): ops.ValuesIndices { return ops.sort(this, dim, descending); }
  cumsum(dim: number): Tensor { return ops.cumsum(this, dim); }
  argsort(dim = -1, descending = false): Tensor { return ops.argsort(this, dim, descending); }
  topk(k: number, dim = -1, largest = true): ops.ValuesIndices { return ops.topk(this, k, dim, largest); }
  var(dim?: number | readonly number[], opts?: ops.VarOptions): Tensor { return ops.variance(this, dim, opts); }
  std(dim?: number | readonly number[], opts?: ops.VarOptions): Tensor { return ops.std(this, dim, opts); }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor { return ops.logsumexp(this, dim, keepdim); }
  /** torch.Tensor.norm for vectors: the `p`-norm over `dim` (all by default); see vectorNorm. */
  norm(p: ops.NormOrd = 2, dim?: number | readonly number[], keepdim = false): Tensor { return ops.vectorNorm(this, p, dim, keepdim); }
  softmax(dim: number): Tensor { return ops.softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return ops.logSoftmax(this, dim); }

  // ---------------------------------------------------------------- linear algebra, indexing
  matmul(other: Tensor): Tensor { return ops.matmul(this, other); }
  mm(other: Tensor): Tensor { return ops.mm(this, other); }
  bmm(other: Tensor): Tensor { return ops.bmm(this, other); }
  outer(other: Tensor): Tensor { return ops.outer(this, other); }
  diag(diagonal = 0): Tensor { return ops.diag(this, diagonal); }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor { return ops.diagonal(this, offset, dim1, dim2); }
  trace(): Tensor { return ops.trace(this); }
  conv2d(weight: Tensor, bias?: Tensor | null, opts?: Conv2dOptions): Tensor { return ops.conv2d(this, weight, bias, opts); }
  indexSelect(dim: number, index: Tensor): Tensor { return ops.indexSelect(this, dim, index); }
  gather(dim: number, index: Tensor): Tensor { return ops.gather(this, dim, index); }
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor { return ops.scatter(this, dim, index, src); }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return ops.scatterAdd(this, dim, index, src); }
  indexAdd(dim: number, index: Tensor, source: Tensor, alpha?: number): Tensor { return ops.indexAdd(this, dim, index, source, alpha); }
  maskedSelect(mask: Tensor): Tensor { return ops.maskedSelect(this, mask); }
  maskedFill(mask: Tensor, value: number): Tensor { return ops.maskedFill(this, mask, value); }
  where(condition: Tensor, other: Operand): Tensor { return ops.where(condition, this, other); }
}

type ShapeArg = number[] | [readonly number[]];
function shapeArg(args: ShapeArg): number[] {
  return (Array.isArray(args[0]) ? args[0] : args) as number[];
}
