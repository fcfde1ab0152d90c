/**
 * Fused optimizer updates: one call updates every parameter of a list in place through the
 * backend's `optim` kernels (OptimizerKernels in backend/types.ts), instead of a dozen tensor
 * ops per parameter. @dl/optim's SGD, Adam and AdamW use them when a whole parameter group
 * qualifies and fall back to tensor ops otherwise.
 *
 * Like every in-place write they bump the version counters of the tensors they change (so a
 * graph that saved one refuses to backward through it). Nothing is recorded for autograd:
 * call them under noGrad, as the optimizers do.
 */
import type { AdamStepAttrs, OptimizerKernels, SgdStepAttrs } from '../backend/types.js';
import type { Device } from '../device.js';
import { backendFor } from '../device.js';
import { commonDevice, toArg } from '../dispatch.js';
import type { DType } from '../dtype.js';
import { fail, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { asTensor } from './util.js';

/** Whether fused kernels exist and take parameters of `dtype` (any float dtype unless they list theirs). */
function takes(optim: OptimizerKernels | undefined, dtype: DType): optim is OptimizerKernels {
  return optim !== undefined && (optim.dtypes === undefined || optim.dtypes.includes(dtype));
}

/** Whether the backend serving `device` has fused optimizer kernels (for parameters of `dtype` when given); else the fused steps return false. */
export function hasFusedOptimizer(device: Device, dtype?: DType): boolean {
  const optim = backendFor('hasFusedOptimizer', device).optim;
  return dtype === undefined ? optim !== undefined : takes(optim, dtype);
}

/**
 * Checks the parameter list and the lists that go with it (one tensor per parameter, or null
 * where a list is absent): contiguous float tensors of their parameter's shape and dtype, all
 * on one device. Lists the kernel writes must hold leaves (no recorded history). Returns the device.
 */
function checkLists(op: string, params: readonly Tensor[], lists: readonly [name: string, ts: readonly Tensor[] | null, written: boolean][]): Device {
  if (!Array.isArray(params)) fail('ARGUMENT', op, `params must be an array of Tensors; got ${typeof params}`);
  const all: Tensor[] = [];
  const checked: readonly [string, readonly Tensor[] | null, boolean][] = [['params', params, true], ...lists];
  for (const [name, ts, written] of checked) {
    if (ts === null) continue;
    if (!Array.isArray(ts) || ts.length !== params.length) {
      fail('ARGUMENT', op, `${name} must be an array with one tensor per parameter (${params.length}); got ${Array.isArray(ts) ? `${ts.length} tensors` : typeof ts}`);
    }
    ts.forEach((t: Tensor, i: number) => {
      asTensor(op, `${name}[${i}]`, t);
      const p = params[i];
      if (t.dtype !== 'float32' && t.dtype !== 'float64') fail('DTYPE', op, `${name}[${i}] must be float32 or float64; got ${t.dtype}`);
      if (t.dtype !== p.dtype || t.shape.length !== p.shape.length || t.shape.some((d, k) => d !== p.shape[k])) {
        fail('SHAPE', op, `${name}[${i}] must have the shape and dtype of params[${i}] (${fmtShape(p.shape)} ${p.dtype}); got ${fmtShape(t.shape)} ${t.dtype}`);
      }
      if (!t.isContiguous()) fail('ARGUMENT', op, `${name}[${i}] (shape ${fmtShape(t.shape)}) is not contiguous`, 'fused updates take contiguous tensors; use the optimizer\'s per-tensor path for views');
      if (written && !t.isLeaf) {
        fail('AUTOGRAD', op, `${name}[${i}] (shape ${fmtShape(t.shape)}) has a recorded history (a gradFn) and would be written in place`, 'update leaf tensors only (parameters and optimizer state), under noGrad');
      }
      all.push(t);
    });
  }
  return commonDevice(op, all);
}

/** Bump the version counter of every storage written in place. */
function bumpVersions(written: readonly Tensor[]): void {
  for (const s of new Set(written.map((t) => t.storage))) s.version++;
}

/**
 * One SGD step over every parameter (torch.optim.SGD): `momentumBufs` has one buffer per
 * parameter when attrs.momentum != 0 (written with the gradient itself when attrs.firstStep),
 * else null. Returns false, having changed nothing, when the backend has no fused kernels
 * (for these dtypes).
 */
export function fusedSgdStep(params: readonly Tensor[], grads: readonly Tensor[], momentumBufs: readonly Tensor[] | null, attrs: SgdStepAttrs): boolean {
  const op = 'fusedSgdStep';
  const device = checkLists(op, params, [['grads', grads, false], ['momentumBufs', momentumBufs, true]]);
  if ((attrs.momentum !== 0) !== (momentumBufs !== null)) {
    fail('ARGUMENT', op, `momentumBufs must be given exactly when momentum != 0; got momentum ${attrs.momentum} and ${momentumBufs === null ? 'no buffers' : 'buffers'}`);
  }
  if (params.length === 0) return true;
  const optim = backendFor(op, device).optim;
  if (!optim || !params.every((p) => takes(optim, p.dtype))) return false;
  optim.sgd(params.map(toArg), grads.map(toArg), momentumBufs?.map(toArg) ?? null, attrs);
  bumpVersions([...params, ...(momentumBufs ?? [])]);
  return true;
}

/**
 * One Adam/AdamW step over every parameter (torch.optim.Adam / AdamW) at step number
 * attrs.step (>= 1, after incrementing): `maxExpAvgSqs` has one tensor per parameter when
 * attrs.amsgrad, else null. Returns false, having changed nothing, when the backend has no
 * fused kernels (for these dtypes).
 */
export function fusedAdamStep(
  params: readonly Tensor[],
  grads: readonly Tensor[],
  expAvgs: readonly Tensor[],
  expAvgSqs: readonly Tensor[],
  maxExpAvgSqs: readonly Tensor[] | null,
  attrs: AdamStepAttrs,
): boolean {
  const op = 'fusedAdamStep';
  const device = checkLists(op, params, [
    ['grads', grads, false],
    ['expAvgs', expAvgs, true],
    ['expAvgSqs', expAvgSqs, true],
    ['maxExpAvgSqs', maxExpAvgSqs, true],
  ]);
  if (attrs.amsgrad !== (maxExpAvgSqs !== null)) {
    fail('ARGUMENT', op, `maxExpAvgSqs must be given exactly when amsgrad is set; got amsgrad ${attrs.amsgrad} and ${maxExpAvgSqs === null ? 'no tensors' : 'tensors'}`);
  }
  if (!Number.isInteger(attrs.step) || attrs.step < 1) fail('ARGUMENT', op, `step must be an integer >= 1 (the step number after incrementing); got ${attrs.step}`);
  if (params.length === 0) return true;
  const optim = backendFor(op, device).optim;
  if (!optim || !params.every((p) => takes(optim, p.dtype))) return false;
  optim.adam(params.map(toArg), grads.map(toArg), expAvgs.map(toArg), expAvgSqs.map(toArg), maxExpAvgSqs?.map(toArg) ?? null, attrs);
  bumpVersions([...params, ...expAvgs, ...expAvgSqs, ...(maxExpAvgSqs ?? [])]);
  return true;
}
