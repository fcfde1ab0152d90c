/**
 * The Optimizer base class (torch.optim.Optimizer): parameter groups, per-parameter
 * state, zeroGrad, step (under noGrad, in place on the parameters) and state dicts
 * in PyTorch's layout.
 */
import { DLError, Tensor, hasFusedOptimizer, isFloating, keep, scope } from '@dl/tensor';
import { enableGrad, noGrad } from '@dl/autograd';

/** A hyperparameter value: numbers, booleans, strings, tuples such as Adam's betas. */
export type HyperValue = number | boolean | string | null | readonly HyperValue[];

/**
 * A parameter group: its parameters and its hyperparameters (the optimizer's
 * defaults overridden by the group's own options). Schedulers add entries such
 * as `initialLr`.
 */
export type ParamGroup<O extends object = Record<string, HyperValue>> = O & {
  params: Tensor[];
  lr: number;
  initialLr?: number;
  [key: string]: unknown;
};

/** A parameter group as passed to a constructor or to addParamGroup. */
export type ParamGroupInput<O extends object = Record<string, HyperValue>> = Partial<O> & {
  params: Iterable<Tensor> | Tensor;
  [key: string]: unknown;
};

/** What an optimizer may be given: parameters, or parameter groups. */
export type Params<O extends object = Record<string, HyperValue>> = Iterable<Tensor> | readonly ParamGroupInput<O>[];

/** The state of one parameter (momentum buffers, moments, step counts). */
export type ParamState = Record<string, Tensor | number>;

/** PyTorch's optimizer state dict: parameters are replaced by their indices in order of appearance across groups. */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: Array<{ params: number[]; [key: string]: unknown }>;
}

/** The result of step(closure): the closure's loss. */
export type Closure = () => Tensor | number;

export interface ZeroGradOptions {
  /** Dispose each gradient and set `.grad = null` (default), instead of zeroing it in place. */
  setToNone?: boolean;
}

/** Deep copy of plain data (arrays and plain objects); tensors and other values are shared. */
export function copyPlain<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => copyPlain(x)) as T;
  if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = copyPlain(x);
    return out as T;
  }
  return v;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Tensor) return 'a Tensor';
  return typeof v;
}

export abstract class Optimizer<O extends { lr: number } = { lr: number }> {
  /** The hyperparameters every group starts from. */
  readonly defaults: O;
  /** The parameter groups, each `{ params, lr, ...hyperparameters }`. Schedulers write `lr` here. */
  paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state (created on the parameter's first update). */
  state = new Map<Tensor, ParamState>();

  constructor(params: Params<O>, defaults: O) {
    this.defaults = copyPlain(defaults);
    if (params instanceof Tensor || params === null || params === undefined || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      this.fail('ARGUMENT', `params must be an iterable of Tensors or of parameter groups; got ${describe(params)}`, 'pass model.parameters(), an array of tensors, or [{ params: [...], lr: ... }, ...]');
    }
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) this.fail('VALUE', 'optimizer got an empty parameter list', 'pass at least one parameter');
    const groups: ParamGroupInput<O>[] = list.every((x) => x instanceof Tensor)
      ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<O>]
      : (list as ParamGroupInput<O>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** The name used in error messages (the class name, e.g. "SGD"). */
  protected get name(): string {
    return this.constructor.name;
  }

  protected fail(code: 'ARGUMENT' | 'VALUE' | 'SHAPE', message: string, hint?: string): never {
    throw new DLError(code, this.name, message, hint);
  }

  /**
   * Check one group's hyperparameters (called for every group added); subclasses
   * throw with `this.fail('VALUE', ...)` on invalid values.
   */
  protected validateGroup(_group: ParamGroup<O>): void {}

  /** Add a parameter group; options missing from it are taken from the defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    if (typeof group !== 'object' || group === null || Array.isArray(group) || group instanceof Tensor) {
      this.fail('ARGUMENT', `a parameter group must be an object { params, ...options }; got ${describe(group)}`, 'pass either tensors only or parameter groups only');
    }
    const raw = group.params;
    if (raw === undefined || raw === null) this.fail('ARGUMENT', "a parameter group must have a 'params' entry");
    let params: unknown[];
    if (raw instanceof Tensor) params = [raw];
    else if (typeof (raw as Iterable<unknown>)[Symbol.iterator] === 'function') params = [...(raw as Iterable<unknown>)];
    else this.fail('ARGUMENT', `the 'params' of a parameter group must be a Tensor or an iterable of Tensors; got ${describe(raw)}`);
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) this.fail('ARGUMENT', `optimizer can only optimize Tensors; got ${describe(p)} at params[${i}]`);
      if (p.isDisposed) this.fail('ARGUMENT', `params[${i}] (shape ${fmtShape(p.shape)}) was disposed`);
      if (!p.isLeaf) this.fail('ARGUMENT', `can't optimize a non-leaf Tensor (params[${i}], shape ${fmtShape(p.shape)})`, 'optimize the leaf tensors (parameters) instead, or detach() the tensor');
    });
    const tensors = params as Tensor[];
    if (new Set(tensors).size !== tensors.length) {
      this.fail('VALUE', 'a parameter group contains the same parameter more than once', 'list each parameter once');
    }
    const existing = new Set(this.paramGroups.flatMap((g) => g.params));
    if (tensors.some((p) => existing.has(p))) this.fail('VALUE', 'some parameters appear in more than one parameter group', 'list each parameter in one group only');

    const full: Record<string, unknown> = copyPlain(this.defaults) as Record<string, unknown>;
    for (const [k, v] of Object.entries(group)) if (k !== 'params') full[k] = copyPlain(v);
    full.params = tensors;
    this.validateGroup(full as ParamGroup<O>);
    this.paramGroups.push(full as ParamGroup<O>);
  }

  /** Reset the gradients: dispose them and set `.grad = null` (default), or zero them in place. */
  zeroGrad({ setToNone = true }: ZeroGradOptions = {}): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const g = p.grad;
        if (g === null) continue;
        if (setToNone) {
          p.grad = null;
          if (!g.isDisposed) g.dispose();
        } else {
          if (g.isDisposed) {
            p.grad = null;
            continue;
          }
          // As PyTorch: a gradient with history is detached in place, then zeroed.
          if (g.gradFn !== null) g.gradFn = null;
          g.requiresGrad = false;
          noGrad(() => g.zero_());
        }
      }
    }
  }

  /**
   * Update every parameter that has a gradient, in place and without recording
   * the graph. With a closure, it is called first (with gradients enabled) and
   * its loss returned, as torch.optim's step(closure).
   */
  step(closure?: Closure): Tensor | number | undefined {
    const loss = closure ? enableGrad(closure) : undefined;
    noGrad(() =>
      scope(() => {
        this.followParameters();
        for (const group of this.paramGroups) this.updateGroup(group);
      }),
    );
    return loss;
  }

  /**
   * State tensors follow their parameter to its device (and floating dtype) when the module
   * moved after the state was made (`net.to('cuda')` once training started, or after loading a
   * CPU checkpoint). PyTorch fails that step with a device mismatch; here the state moves once.
   */
  private followParameters(): void {
    for (const [p, s] of this.state) {
      for (const [k, v] of Object.entries(s)) {
        if (!(v instanceof Tensor)) continue;
        const dtype = isFloating(v.dtype) && isFloating(p.dtype) ? p.dtype : v.dtype;
        if (v.device === p.device && v.dtype === dtype) continue;
        const moved = v.to(p.device);
        const cast = moved.to(dtype);
        if (moved !== v && moved !== cast) moved.dispose();
        this.setState(s, k, cast);
      }
    }
  }

  /**
   * Update the parameters of one group that have a gradient. Runs inside noGrad
   * and scope(): temporaries are freed, state tensors must be made with
   * `this.newState(...)` (or keep()-ed).
   */
  protected abstract updateGroup(group: ParamGroup<O>): void;

  /** The state of p, created empty on first use. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** Take a tensor made inside step() out of the step's scope so it can live in the state. */
  protected newState(t: Tensor): Tensor {
    return keep(t);
  }

  /** Store a state tensor, disposing the one it replaces. */
  protected setState(state: ParamState, key: string, t: Tensor): Tensor {
    const old = state[key];
    keep(t);
    if (old instanceof Tensor && old !== t && !old.isDisposed) old.dispose();
    state[key] = t;
    return t;
  }

  /** The state and the hyperparameters, with parameters replaced by their indices; tensors are cloned. */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((group) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(group)) if (k !== 'params') out[k] = copyPlain(v);
      out.params = group.params.map((p) => {
        const known = index.get(p);
        if (known !== undefined) return known;
        index.set(p, index.size);
        return index.size - 1;
      });
      return out as { params: number[] };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i === undefined || Object.keys(s).length === 0) continue;
      const entry: ParamState = {};
      for (const [k, v] of Object.entries(s)) entry[k] = v instanceof Tensor ? noGrad(() => v.clone()) : v;
      state[i] = entry;
    }
    return { state, paramGroups };
  }

  /**
   * Load a state dict made by stateDict() of an optimizer with the same groups
   * and parameter counts. Hyperparameters are replaced by the saved ones, state
   * tensors are copied (cast to each parameter's dtype and device); the previous
   * state is disposed.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const op = 'loadStateDict';
    const sd = stateDict as unknown as Record<string, unknown>;
    if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object' || sd.state === null) {
      this.fail('ARGUMENT', `${op}: expected { state, paramGroups } as made by stateDict(); got ${describe(sd)}${typeof sd === 'object' && sd !== null ? ` with keys ${Object.keys(sd).join(', ') || '(none)'}` : ''}`);
    }
    const saved = stateDict.paramGroups;
    if (saved.length !== this.paramGroups.length) {
      this.fail('VALUE', `${op}: the loaded state dict has ${saved.length} parameter group(s); this optimizer has ${this.paramGroups.length}`, 'load a state dict saved from an optimizer built with the same parameter groups');
    }
    const idMap = new Map<number, Tensor>();
    saved.forEach((g, gi) => {
      if (!Array.isArray(g?.params)) this.fail('ARGUMENT', `${op}: paramGroups[${gi}].params must be an array of parameter indices`);
      const mine = this.paramGroups[gi].params;
      if (g.params.length !== mine.length) {
        this.fail('VALUE', `${op}: parameter group ${gi} of the loaded state dict has ${g.params.length} parameter(s); the optimizer's group ${gi} has ${mine.length}`, 'load a state dict saved from an optimizer over the same parameters');
      }
      g.params.forEach((id, j) => {
        if (!Number.isInteger(id)) this.fail('ARGUMENT', `${op}: paramGroups[${gi}].params[${j}] must be an integer index; got ${String(id)}`);
        if (idMap.has(id)) this.fail('VALUE', `${op}: parameter index ${id} appears more than once in the loaded state dict's groups`);
        idMap.set(id, mine[j]);
      });
    });

    // Validate every state entry before changing anything.
    const entries: [Tensor, ParamState][] = [];
    for (const [key, s] of Object.entries(stateDict.state)) {
      const id = Number(key);
      const p = idMap.get(id);
      if (p === undefined) this.fail('VALUE', `${op}: the loaded state dict has state for parameter index ${key}, which none of its parameter groups lists`);
      if (typeof s !== 'object' || s === null) this.fail('ARGUMENT', `${op}: state[${key}] must be an object; got ${describe(s)}`);
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor) {
          if (v.isDisposed) this.fail('ARGUMENT', `${op}: state[${key}].${k} was disposed`);
          if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
            this.fail('SHAPE', `${op}: state[${key}].${k} has shape ${fmtShape(v.shape)}, but parameter ${key} has shape ${fmtShape(p.shape)}`, 'load a state dict saved from an optimizer over parameters of the same shapes');
          }
        } else if (typeof v !== 'number') {
          this.fail('ARGUMENT', `${op}: state[${key}].${k} must be a Tensor or a number; got ${describe(v)}`);
        }
      }
      entries.push([p, s]);
    }

    const next = new Map<Tensor, ParamState>();
    noGrad(() => {
      for (const [p, s] of entries) {
        const copy: ParamState = {};
        for (const [k, v] of Object.entries(s)) {
          if (v instanceof Tensor) {
            const moved = v.to(p.device);
            const cast = moved.to(p.dtype);
            const owned = cast === v ? v.clone() : cast;
            if (moved !== v && moved !== cast) moved.dispose();
            copy[k] = keep(owned);
          } else copy[k] = v;
        }
        next.set(p, copy);
      }
    });
    for (const s of this.state.values()) {
      for (const v of Object.values(s)) if (v instanceof Tensor && !v.isDisposed) v.dispose();
    }
    this.state = next;
    this.paramGroups = this.paramGroups.map((group, gi) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(saved[gi])) if (k !== 'params') out[k] = copyPlain(v);
      out.params = group.params;
      return out as ParamGroup<O>;
    });
  }
}

/** Whether t can be a fused update's operand for parameter p: contiguous, of p's shape, dtype and device, no graph. */
export function fitsFused(t: unknown, p: Tensor): t is Tensor {
  return (
    t instanceof Tensor &&
    !t.requiresGrad &&
    t.isContiguous() &&
    t.dtype === p.dtype &&
    t.device === p.device &&
    t.shape.length === p.shape.length &&
    t.shape.every((d, i) => d === p.shape[i])
  );
}

/**
 * The parameters of a group that have a gradient, when one fused call can update them all
 * (fusedSgdStep / fusedAdamStep of @dl/tensor): contiguous float32/float64 tensors on one
 * device whose backend has fused kernels for their dtypes, each gradient a plain tensor (no
 * graph) of its parameter's shape, dtype and layout. Null otherwise: the optimizer runs its
 * per-tensor ops.
 */
export function fusableParams(params: readonly Tensor[]): Tensor[] | null {
  const withGrad = params.filter((p) => p.grad !== null);
  if (withGrad.length === 0) return null;
  const device = withGrad[0].device;
  const ok = withGrad.every((p) => (p.dtype === 'float32' || p.dtype === 'float64') && p.device === device && p.isContiguous() && fitsFused(p.grad, p));
  return ok && withGrad.every((p) => hasFusedOptimizer(device, p.dtype)) ? withGrad : null;
}

/**
 * Check a hyperparameter: a finite number (or Infinity where `ok` allows it)
 * for which `ok` holds, else `<op>: invalid <what>: <value>; expected <expected>`.
 */
export function checkHyper(op: string, what: string, value: unknown, ok: (x: number) => boolean, expected: string): void {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok(value)) {
    const shown = typeof value === 'number' ? String(value) : Array.isArray(value) ? `[${value.join(', ')}]` : `${String(value)} (${typeof value})`;
    throw new DLError('VALUE', op, `invalid ${what}: ${shown}; expected ${expected}`);
  }
}

/** Check Adam-style betas: two numbers, each in [0, 1). */
export function checkBetas(op: string, betas: unknown): void {
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw new DLError('VALUE', op, `invalid betas: ${Array.isArray(betas) ? `[${betas.join(', ')}]` : String(betas)}; expected two numbers [beta1, beta2]`);
  }
  checkHyper(op, 'beta parameter at index 0', betas[0], (x) => x >= 0 && x < 1, '0 <= betas[0] < 1');
  checkHyper(op, 'beta parameter at index 1', betas[1], (x) => x >= 0 && x < 1, '0 <= betas[1] < 1');
}

/** Check a boolean option. */
export function checkBool(op: string, key: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new DLError('VALUE', op, `invalid ${key}: ${String(value)}; expected true or false`);
}

/**
 * The defaults overridden by the options a constructor was given (undefined
 * entries keep the default); unknown option names are an error.
 */
export function resolveOptions<O extends object>(op: string, defaults: O, options: Partial<O> | undefined): O {
  const out = { ...defaults } as Record<string, unknown>;
  if (options === undefined) return out as O;
  if (typeof options !== 'object' || options === null || Array.isArray(options) || options instanceof Tensor) {
    throw new DLError('ARGUMENT', op, `options must be an object; got ${describe(options)}`);
  }
  for (const [k, v] of Object.entries(options)) {
    if (!(k in defaults)) {
      const camel = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      throw new DLError('ARGUMENT', op, `unknown option '${k}'; expected one of ${Object.keys(defaults).join(', ')}`, camel !== k && camel in defaults ? `options are camelCase: use '${camel}'` : undefined);
    }
    if (v !== undefined) out[k] = v;
  }
  return out as O;
}
