/**
 * The one dispatch point. Every op, kernel or view, goes through `dispatch`:
 * registered layers (autograd records the graph here) wrap the execution, which
 * either runs a backend kernel on freshly allocated outputs or builds a view.
 */
import { type KernelAttrs, type OpName, type TensorArg, ZEROED_OUTPUTS } from './backend/types.js';
import type { DType } from './dtype.js';
import { fail, fmtShape } from './errors.js';
import { contiguousStrides, numel, viewStrides } from './layout.js';
import type { Shape } from './layout.js';
import { Storage } from './memory.js';
import { backendFor } from './device.js';
import type { Device } from './device.js';
import { Tensor } from './tensor.js';

/** View ops: a new layout over the same storage, no kernel. */
export interface ViewAttrs {
  /** A layout-compatible reshape (callers copy first when a view is impossible). */
  reshape: { readonly shape: Shape };
  permute: { readonly dims: readonly number[] };
  /** Broadcast to `shape` (same rank), stride 0 in expanded dims. */
  expand: { readonly shape: Shape };
  /** Elements start, start+step, ... < end along dim (0 <= start <= end <= size, step >= 1). */
  slice: { readonly dim: number; readonly start: number; readonly end: number; readonly step: number };
  /**
   * Consecutive pieces along dim, of the given sizes (summing to its size): one view per piece.
   * One op rather than a slice per piece, so that autograd joins the pieces' gradients with one
   * cat instead of padding each back to the whole tensor and adding.
   */
  split: { readonly dim: number; readonly sizes: readonly number[] };
}
export type ViewOp = keyof ViewAttrs;
export type AllAttrs = KernelAttrs & ViewAttrs;
export type AnyOp = keyof AllAttrs;

export interface OutMeta {
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface OpCall<K extends AnyOp = AnyOp> {
  readonly op: K;
  readonly inputs: readonly Tensor[];
  readonly attrs: AllAttrs[K];
  /** Output shapes and dtypes for kernel ops (computed and validated by the front end). */
  readonly outs: readonly OutMeta[];
  /** Device for ops without inputs (creation). */
  readonly device: Device;
  /** In-place write: the kernel's single output is this existing tensor (copy_). */
  readonly into?: Tensor;
}

export type Next = (call: OpCall) => Tensor[];
export type DispatchLayer = (call: OpCall, next: Next) => Tensor[];

const layers: DispatchLayer[] = [];

/** Install a layer above the kernels (autograd does); the last installed runs first. */
export function registerDispatchLayer(layer: DispatchLayer): void {
  if (!layers.includes(layer)) layers.push(layer);
}

const VIEW_OPS: ReadonlySet<string> = new Set<ViewOp>(['reshape', 'permute', 'expand', 'slice', 'split']);
export function isViewOp(op: AnyOp): op is ViewOp {
  return VIEW_OPS.has(op);
}

function run(call: OpCall, depth: number): Tensor[] {
  if (depth < 0) return execute(call);
  return layers[depth](call, (c) => run(c, depth - 1));
}

/** Run a kernel op; returns its outputs. */
export function dispatch<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  attrs: KernelAttrs[K],
  outs: readonly OutMeta[],
  device?: Device,
): Tensor[] {
  return run({ op, inputs, attrs, outs, device: device ?? commonDevice(op, inputs) }, layers.length - 1);
}

/**
 * Write `src` (already of dst's dtype and broadcast to dst's shape) into dst in
 * place, bumping dst's version counter. Every in-place op ends here.
 */
export function dispatchCopyInto(dst: Tensor, src: Tensor): Tensor {
  return run(
    { op: 'copy', inputs: [src], attrs: {}, outs: [{ shape: dst.shape, dtype: dst.dtype }], device: commonDevice('copy_', [dst, src]), into: dst },
    layers.length - 1,
  )[0];
}

/** Run a view op; returns the view. */
export function dispatchView<K extends Exclude<ViewOp, 'split'>>(op: K, input: Tensor, attrs: ViewAttrs[K]): Tensor {
  return run({ op, inputs: [input], attrs, outs: [], device: input.device }, layers.length - 1)[0];
}

/** Run the split view op; returns one view per piece. */
export function dispatchSplit(input: Tensor, attrs: ViewAttrs['split']): Tensor[] {
  return run({ op: 'split', inputs: [input], attrs, outs: [], device: input.device }, layers.length - 1);
}

export function commonDevice(op: string, inputs: readonly Tensor[]): Device {
  if (inputs.length === 0) return 'cpu';
  const d = inputs[0].device;
  for (const t of inputs) {
    if (t.device !== d) {
      fail('DEVICE', op, `expected all tensors on the same device; got ${inputs.map((x) => x.device).join(' and ')}`, `move them first, e.g. x.to('${d}')`);
    }
  }
  return d;
}

export function toArg(t: Tensor): TensorArg {
  return { buf: t.storage.buf, dtype: t.dtype, shape: t.shape, strides: t.strides, offset: t.offset };
}

/** Allocate a contiguous tensor on a device (contents zero, or unspecified with `zeroed` false). */
export function allocTensor(device: Device, shape: Shape, dtype: DType, zeroed = true): Tensor {
  const backend = backendFor('alloc', device);
  const n = numel(shape);
  const storage = new Storage(backend, device, backend.alloc(dtype, n, zeroed), dtype, n);
  return new Tensor(storage, shape, contiguousStrides(shape), 0);
}

function execute(call: OpCall): Tensor[] {
  for (const t of call.inputs) {
    if (t.isDisposed) fail('DISPOSED', call.op, `an input tensor of shape ${fmtShape(t.shape)} was disposed`, 'keep tensors you still use out of scope() results or do not dispose them');
  }
  if (isViewOp(call.op)) return makeViews(call as OpCall<ViewOp>);
  const backend = backendFor(call.op, call.device);
  if (call.into?.isDisposed) fail('DISPOSED', 'copy_', 'the destination tensor was disposed');
  const zeroed = ZEROED_OUTPUTS.has(call.op as OpName);
  const outs = call.into ? [call.into] : call.outs.map((m) => allocTensor(call.device, m.shape, m.dtype, zeroed));
  const kernel = backend.kernels[call.op as OpName] as (ins: TensorArg[], o: TensorArg[], a: unknown) => void;
  kernel(call.inputs.map(toArg), outs.map(toArg), call.attrs);
  if (call.into) call.into.storage.version++;
  return outs;
}

function makeViews(call: OpCall<ViewOp>): Tensor[] {
  const x = call.inputs[0];
  switch (call.op) {
    case 'reshape': {
      const { shape } = call.attrs as ViewAttrs['reshape'];
      const strides = viewStrides(x.shape, x.strides, shape);
      if (!strides) fail('SHAPE', 'view', `shape ${fmtShape(shape)} is not compatible with the input's strides`, 'use reshape(), which copies when a view is impossible');
      return [x.viewWithLayout(shape, strides, x.offset)];
    }
    case 'permute': {
      const { dims } = call.attrs as ViewAttrs['permute'];
      return [
        x.viewWithLayout(
          dims.map((d) => x.shape[d]),
          dims.map((d) => x.strides[d]),
          x.offset,
        ),
      ];
    }
    case 'expand': {
      const { shape } = call.attrs as ViewAttrs['expand'];
      return [
        x.viewWithLayout(
          shape,
          shape.map((d, i) => (x.shape[i] === d ? x.strides[i] : 0)),
          x.offset,
        ),
      ];
    }
    case 'slice': {
      const { dim, start, end, step } = call.attrs as ViewAttrs['slice'];
      const shape = [...x.shape];
      const strides = [...x.strides];
      shape[dim] = Math.max(0, Math.ceil((end - start) / step));
      strides[dim] = x.strides[dim] * step;
      return [x.viewWithLayout(shape, strides, x.offset + start * x.strides[dim])];
    }
    case 'split': {
      const { dim, sizes } = call.attrs as ViewAttrs['split'];
      let start = 0;
      return sizes.map((n) => {
        const view = x.viewWithLayout(
          x.shape.map((d, i) => (i === dim ? n : d)),
          x.strides,
          x.offset + start * x.strides[dim],
        );
        start += n;
        return view;
      });
    }
  }
}
