/**
 * torch.nn.utils: gradient clipping, parameters <-> one vector,
 * functionalCall (torch.func.functional_call) to run a module with other
 * tensors in place of its parameters and buffers, and `rnn` (torch.nn.utils.rnn:
 * padded and packed batches of sequences, see rnn-utils.ts).
 */
import { DLError, Tensor, cat, scope, tensor } from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import type { Module } from './module.js';

export * as rnn from './rnn-utils.js';

type Params = Tensor | Iterable<Tensor>;

function asList(params: Params): Tensor[] {
  return params instanceof Tensor ? [params] : [...params];
}

/**
 * Scale the gradients of `params` in place so that their total norm (of type
 * normType: a p-norm, or Infinity for the max norm) is at most maxNorm.
 * Returns the total norm before clipping (a 0-dim tensor).
 */
export function clipGradNorm_(params: Params, maxNorm: number, normType = 2, opts: { errorIfNonfinite?: boolean } = {}): Tensor {
  const op = 'clipGradNorm_';
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new DLError('ARGUMENT', op, `maxNorm must be a number; got ${String(maxNorm)}`);
  if (typeof normType !== 'number' || !(normType > 0)) throw new DLError('ARGUMENT', op, `normType must be a positive number or Infinity; got ${String(normType)}`);
  const grads = asList(params)
    .map((p) => p.grad)
    .filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return tensor(0);
  return noGrad(() => {
    const total = scope(() => {
      if (normType === Infinity) return grads.map((g) => g.abs().amax()).reduce((a, b) => a.maximum(b));
      const sum = grads.map((g) => g.abs().pow(normType).sum().to('float64')).reduce((a, b) => a.add(b));
      return sum.pow(1 / normType);
    });
    const norm = total.item();
    if (opts.errorIfNonfinite && !Number.isFinite(norm)) {
      throw new DLError('VALUE', op, `the total norm of order ${normType} of the gradients is non-finite (${norm}), so they cannot be clipped`, 'pass { errorIfNonfinite: false } to clip anyway');
    }
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const g of grads) g.mul_(coef);
    const out = total.to(grads[0].dtype);
    if (out !== total) total.dispose();
    return out;
  });
}

/** Clamp every gradient of `params` to [-clipValue, clipValue] in place. */
export function clipGradValue_(params: Params, clipValue: number): void {
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw new DLError('ARGUMENT', 'clipGradValue_', `clipValue must be a non-negative number; got ${String(clipValue)}`);
  noGrad(() => {
    for (const p of asList(params)) p.grad?.clamp_(-clipValue, clipValue);
  });
}

/** All parameters flattened and concatenated into one 1-D tensor (a copy). */
export function parametersToVector(params: Params): Tensor {
  const list = asList(params);
  if (list.length === 0) throw new DLError('ARGUMENT', 'parametersToVector', 'expected at least one parameter');
  return scope(() => cat(list.map((p) => p.reshape([-1]))));
}

/** Copy consecutive slices of a 1-D vector into the parameters, in place (the inverse of parametersToVector). */
export function vectorToParameters(vec: Tensor, params: Params): void {
  const op = 'vectorToParameters';
  const list = asList(params);
  const total = list.reduce((n, p) => n + p.numel, 0);
  if (vec.ndim !== 1 || vec.numel !== total) throw new DLError('SHAPE', op, `expected a 1-D vector of ${total} elements (the parameters' total); got shape [${vec.shape.join(', ')}]`);
  noGrad(() =>
    scope(() => {
      let offset = 0;
      for (const p of list) {
        p.copy_(vec.narrow(0, offset, p.numel).reshape(p.shape as number[]));
        offset += p.numel;
      }
    }),
  );
}

/**
 * Call `module.forward(...args)` with some parameters and buffers replaced by
 * the given tensors (by dotted name, as in namedParameters()), then restore
 * them. The replacements may be any tensors, e.g. float64 leaves for gradcheck.
 */
// biome-ignore lint/suspicious/noExplicitAny: forwards whatever the module takes and returns.
export function functionalCall(module: Module, tensors: Record<string, Tensor> | ReadonlyMap<string, Tensor>, ...args: any[]): any {
  const op = 'functionalCall';
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors as Record<string, Tensor>);
  const restore: (() => void)[] = [];
  try {
    for (const [name, t] of entries) {
      const i = name.lastIndexOf('.');
      const owner = module.getSubmodule(i < 0 ? '' : name.slice(0, i));
      const key = name.slice(i + 1);
      const target = owner as unknown as Record<string, unknown>;
      const isBuffer = owner.namedBuffers({ recurse: false }).some(([k]) => k === key);
      const isParam = owner.namedParameters({ recurse: false }).some(([k]) => k === key);
      if (!isBuffer && !isParam) throw new DLError('VALUE', op, `${module.constructor.name} has no parameter or buffer '${name}'`);
      if (!(t instanceof Tensor)) throw new DLError('ARGUMENT', op, `the value for '${name}' must be a Tensor`);
      const saved = Object.getOwnPropertyDescriptor(target, key) as PropertyDescriptor;
      // Shadow the field (or the buffer's accessor) for the duration of the call.
      Object.defineProperty(target, key, { configurable: true, enumerable: saved.enumerable, writable: true, value: t });
      restore.push(() => Object.defineProperty(target, key, saved));
    }
    return module.forward(...args);
  } finally {
    for (const r of restore.reverse()) r();
  }
}

type StateDictLike = Record<string, Tensor> | ReadonlyMap<string, Tensor>;

function renameKeys(op: string, sd: StateDictLike, rename: (key: string) => string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const from: Record<string, string> = {};
  for (const [key, t] of sd instanceof Map ? sd : Object.entries(sd as Record<string, Tensor>)) {
    const k = rename(key);
    if (k in out) throw new DLError('VALUE', op, `keys '${from[k]}' and '${key}' both become '${k}'`, 'rename one of them before converting');
    out[k] = t;
    from[k] = key;
  }
  return out;
}

/**
 * A state dict saved by PyTorch with dl's key names: PyTorch's snake_case attribute names in
 * camelCase (running_mean -> runningMean, in_proj_weight -> inProjWeight, weight_ih_l0_reverse ->
 * weightIhL0Reverse), so `model.loadStateDict(utils.stateDictFromPyTorch(loadSafetensors(f)))`
 * loads weights trained in PyTorch into the same architecture. An underscore before a letter or
 * digit is dropped and that character upper-cased; the tensors are the same objects.
 */
export function stateDictFromPyTorch(stateDict: StateDictLike): Record<string, Tensor> {
  return renameKeys('stateDictFromPyTorch', stateDict, (k) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

/**
 * dl's state dict with PyTorch's key names (runningMean -> running_mean, weightIhL0 ->
 * weight_ih_l0), for PyTorch's `load_state_dict` after safetensors' `load_file`: an upper-case
 * letter becomes an underscore and its lower case. The inverse of stateDictFromPyTorch except for
 * PyTorch names with an underscore before a digit (layer_1 -> layer1 -> layer1).
 */
export function stateDictToPyTorch(stateDict: StateDictLike): Record<string, Tensor> {
  return renameKeys('stateDictToPyTorch', stateDict, (k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
}
