/**
 * Module (torch.nn.Module): the base class of every layer and model.
 *
 * Registration is by assignment and discovered by reflection: the own
 * enumerable fields of a module that hold a Parameter are its parameters, those
 * that hold a Module are its submodules, both in insertion order (so class
 * fields register in declaration order). Buffers (running statistics and other
 * state that is not trained) go through `registerBuffer`, which keeps them in a
 * map and makes them readable (and assignable) as `this.<name>`.
 *
 * JavaScript objects cannot be called, so PyTorch's `net(x)` is `net.forward(x)`.
 *
 * Caveat of reflection: JavaScript orders integer-like keys ('0', '1', ...)
 * before other keys, in ascending order. Sequential and ModuleList use only such
 * keys, so their order is their index order; a module that mixes both kinds of
 * field names sees its integer-named children first.
 */
import { DLError, DTYPES, Tensor, isFloating, keep } from '@dl/tensor';
import type { DType, Device } from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import { Parameter } from './parameter.js';

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictResult {
  /** Keys the module expects that the state dict lacks. */
  missingKeys: string[];
  /** Keys of the state dict that the module does not have. */
  unexpectedKeys: string[];
}

export interface NamedOptions {
  /** Prepended to every name (with a '.'). */
  prefix?: string;
  /** Include submodules (default true). */
  recurse?: boolean;
  /** Yield each tensor or module once, under the first name found (default true). */
  removeDuplicate?: boolean;
}

const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;
const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

function addIndent(s: string, n: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  const pad = ' '.repeat(n);
  return [lines[0], ...lines.slice(1).map((l) => pad + l)].join('\n');
}

function isDTypeName(x: string): x is DType {
  return (DTYPES as readonly string[]).includes(x);
}

function checkName(op: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || name.includes('.')) {
    throw new DLError('ARGUMENT', op, `name must be a non-empty string without '.'; got ${JSON.stringify(name)}`);
  }
}

/**
 * Called before forward with the module and its inputs; returning an array (or one value)
 * replaces the inputs, returning nothing keeps them.
 */
export type ForwardPreHook = (module: Module, inputs: unknown[]) => unknown;
/** Called after forward with the module, its inputs and output; returning a value replaces the output. */
export type ForwardHook = (module: Module, inputs: unknown[], output: unknown) => unknown;

/** What registerForwardHook / registerForwardPreHook return: `remove()` unregisters the hook. */
export interface RemovableHandle {
  remove(): void;
}

export class Module {
  /** Training mode (true) or evaluation mode (false); set with train()/eval(). */
  training = true;
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #nonPersistent = new Set<string>();
  readonly #preHooks = new Map<symbol, ForwardPreHook>();
  readonly #hooks = new Map<symbol, ForwardHook>();

  /**
   * The computation. Subclasses define it (with `override` under
   * noImplicitOverride); `module.forward(x)` is PyTorch's `module(x)`.
   */
  /**
   * Runs `hook(module, inputs)` before every forward of this module, in registration order
   * (torch's register_forward_pre_hook). Hooks see every call of `forward`, from user code or
   * from a parent module, since while any is registered `forward` is wrapped on the instance.
   */
  registerForwardPreHook(hook: ForwardPreHook): RemovableHandle {
    return this.#addHook(this.#preHooks, hook, 'registerForwardPreHook');
  }

  /** Runs `hook(module, inputs, output)` after every forward (torch's register_forward_hook). */
  registerForwardHook(hook: ForwardHook): RemovableHandle {
    return this.#addHook(this.#hooks, hook, 'registerForwardHook');
  }

  #addHook<H>(hooks: Map<symbol, H>, hook: H, op: string): RemovableHandle {
    if (typeof hook !== 'function') throw new DLError('ARGUMENT', op, `hook must be a function; got ${typeof hook}`);
    const key = Symbol(op);
    hooks.set(key, hook);
    if (!Object.hasOwn(this, 'forward')) {
      const original = this.forward;
      // An own, non-enumerable property: invisible to the reflection that finds parameters and children.
      Object.defineProperty(this, 'forward', {
        configurable: true,
        writable: true,
        enumerable: false,
        value: (...args: unknown[]) => {
          let inputs = args;
          for (const pre of [...this.#preHooks.values()]) {
            const r = pre(this, inputs);
            if (r !== undefined) inputs = Array.isArray(r) ? r : [r];
          }
          let output = original.apply(this, inputs);
          for (const post of [...this.#hooks.values()]) {
            const r = post(this, inputs, output);
            if (r !== undefined) output = r;
          }
          return output;
        },
      });
    }
    return {
      remove: () => {
        hooks.delete(key);
        if (this.#preHooks.size === 0 && this.#hooks.size === 0) delete (this as { forward?: unknown }).forward;
      },
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: subclasses narrow the signature.
  forward(..._inputs: any[]): any {
    throw new DLError('ARGUMENT', `${this.constructor.name}.forward`, `module [${this.constructor.name}] is missing the required forward() method`, 'define forward(...) in your subclass');
  }

  // ---------------------------------------------------------------- reflection
  /**
   * @internal The module's own members in registration order: its own
   * enumerable fields. Containers that keep their children elsewhere override it.
   */
  protected memberEntries(): [string, unknown][] {
    return Object.keys(this).map((k) => [k, (this as Record<string, unknown>)[k]]);
  }

  /** @internal Replace a member (used by to()). */
  protected setMember(name: string, value: unknown): void {
    (this as Record<string, unknown>)[name] = value;
  }

  #ownParameters(): [string, Parameter][] {
    return this.memberEntries().filter((e): e is [string, Parameter] => e[1] instanceof Parameter);
  }

  #ownChildren(): [string, Module][] {
    return this.memberEntries().filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  #ownBuffers(): [string, Tensor][] {
    return [...this.#buffers].filter((e): e is [string, Tensor] => e[1] !== null);
  }

  // ---------------------------------------------------------------- registration
  /**
   * Register a tensor that is state but not a parameter (e.g. BatchNorm's
   * running mean). It is kept (outlives scopes), moves with to(), and is in the
   * state dict unless `persistent` is false. Readable and assignable as `this[name]`.
   */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    const op = 'registerBuffer';
    checkName(op, name);
    if (tensor !== null && !(tensor instanceof Tensor)) throw new DLError('ARGUMENT', op, `cannot assign a ${typeof tensor} as buffer '${name}'; expected a Tensor or null`);
    if (tensor instanceof Parameter) throw new DLError('ARGUMENT', op, `'${name}' is a Parameter`, 'assign parameters to a field instead');
    if (!this.#buffers.has(name) && Object.hasOwn(this, name) && (this as Record<string, unknown>)[name] !== undefined) {
      throw new DLError('ARGUMENT', op, `attribute '${name}' already exists`);
    }
    if (tensor) keep(tensor);
    this.#buffers.set(name, tensor);
    if (persistent) this.#nonPersistent.delete(name);
    else this.#nonPersistent.add(name);
    const buffers = this.#buffers;
    // A class-field placeholder (declared without a value) gives way to the accessor.
    delete (this as Record<string, unknown>)[name];
    Object.defineProperty(this, name, {
      configurable: true,
      enumerable: false,
      get: () => buffers.get(name) ?? null,
      set: (v: Tensor | null) => {
        if (v !== null && !(v instanceof Tensor)) throw new DLError('ARGUMENT', `${this.constructor.name}.${name}`, `cannot assign a ${typeof v} to buffer '${name}'; expected a Tensor or null`);
        if (v) keep(v);
        buffers.set(name, v);
      },
    });
  }

  /** register_parameter: the same as `this[name] = param`. */
  registerParameter(name: string, param: Parameter | null): void {
    checkName('registerParameter', name);
    const value: unknown = param;
    if (value !== null && !(value instanceof Parameter)) {
      throw new DLError('ARGUMENT', 'registerParameter', `cannot assign a ${value instanceof Tensor ? 'plain Tensor' : typeof value} as parameter '${name}'`, 'wrap it: new Parameter(tensor)');
    }
    this.setMember(name, param);
  }

  /** register_module / add_module: the same as `this[name] = module`. */
  registerModule(name: string, module: Module | null): void {
    checkName('registerModule', name);
    if ((module as unknown) !== null && !((module as unknown) instanceof Module)) throw new DLError('ARGUMENT', 'registerModule', `${typeof module} is not a Module`);
    this.setMember(name, module);
  }
  addModule(name: string, module: Module | null): void {
    this.registerModule(name, module);
  }

  // ---------------------------------------------------------------- iteration
  /** Submodules with their dotted names, this module first (as ''), depth first. */
  namedModules(opts: { prefix?: string; removeDuplicate?: boolean } = {}): [string, Module][] {
    const removeDuplicate = opts.removeDuplicate ?? true;
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, prefix: string) => {
      if (removeDuplicate) {
        if (seen.has(m)) return;
        seen.add(m);
      }
      out.push([prefix, m]);
      for (const [k, c] of m.#ownChildren()) visit(c, join(prefix, k));
    };
    visit(this, opts.prefix ?? '');
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Direct submodules (each once). */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    for (const [k, m] of this.#ownChildren()) {
      if (seen.has(m)) continue;
      seen.add(m);
      out.push([k, m]);
    }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  #namedMembers<T extends Tensor>(own: (m: Module) => [string, T][], opts: NamedOptions): [string, T][] {
    const prefix = opts.prefix ?? '';
    const removeDuplicate = opts.removeDuplicate ?? true;
    const mods: [string, Module][] = (opts.recurse ?? true) ? this.namedModules({ prefix, removeDuplicate }) : [[prefix, this]];
    const seen = new Set<Tensor>();
    const out: [string, T][] = [];
    for (const [mp, m] of mods) {
      for (const [k, t] of own(m)) {
        if (removeDuplicate) {
          if (seen.has(t)) continue;
          seen.add(t);
        }
        out.push([join(mp, k), t]);
      }
    }
    return out;
  }

  /** Parameters with dotted names ('conv1.weight'): this module's first, then each submodule's. */
  namedParameters(opts: NamedOptions = {}): [string, Parameter][] {
    return this.#namedMembers((m) => m.#ownParameters(), opts);
  }

  /** The parameters (each once, in registration order). */
  parameters(opts: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(opts).map(([, p]) => p);
  }

  namedBuffers(opts: NamedOptions = {}): [string, Tensor][] {
    return this.#namedMembers((m) => m.#ownBuffers(), opts);
  }

  buffers(opts: { recurse?: boolean } = {}): Tensor[] {
    return this.namedBuffers(opts).map(([, b]) => b);
  }

  /** The submodule at a dotted path ('' is this module). */
  getSubmodule(target: string): Module {
    if (target === '') return this;
    let m: Module = this;
    const parts = target.split('.');
    parts.forEach((part, i) => {
      const next = m.#ownChildren().find(([k]) => k === part)?.[1];
      if (!next) {
        throw new DLError('VALUE', 'getSubmodule', `${parts.slice(0, i).join('.') || m.constructor.name} has no submodule '${part}' (looking up '${target}')`);
      }
      m = next;
    });
    return m;
  }

  getParameter(target: string): Parameter {
    const i = target.lastIndexOf('.');
    const m = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const p = m.#ownParameters().find(([k]) => k === target.slice(i + 1))?.[1];
    if (!p) throw new DLError('VALUE', 'getParameter', `no parameter '${target}'`);
    return p;
  }

  getBuffer(target: string): Tensor {
    const i = target.lastIndexOf('.');
    const m = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const b = m.#buffers.get(target.slice(i + 1));
    if (!b) throw new DLError('VALUE', 'getBuffer', `no buffer '${target}'`);
    return b;
  }

  // ---------------------------------------------------------------- modes
  /** Set training mode on this module and every submodule; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new DLError('ARGUMENT', 'train', `mode must be a boolean; got ${typeof mode}`);
    this.training = mode;
    for (const c of this.children()) c.train(mode);
    return this;
  }

  /** Evaluation mode (train(false)); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Set requiresGrad on every parameter; returns this. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /** Apply fn to every submodule (children first) and then to this module; returns this. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Reset the gradients of all parameters: dispose them and set `.grad` to null
   * (default), or fill them with zeros in place ({ setToNone: false }).
   */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    const setToNone = opts.setToNone ?? true;
    for (const p of this.parameters()) {
      const g = p.grad;
      if (!g) continue;
      if (setToNone) {
        p.grad = null;
        if (!g.isDisposed) g.dispose();
      } else noGrad(() => g.zero_());
    }
  }

  // ---------------------------------------------------------------- devices and dtypes
  /**
   * Move every parameter and buffer to a device, or cast the floating ones to a dtype, in place
   * as PyTorch does: each parameter stays the same object (its data, and its gradient's, are
   * replaced), so an optimizer built before still updates it. Buffers are replaced by new
   * tensors and the old ones disposed. Tied parameters stay tied. Returns this.
   */
  to(target: Device | DType): this {
    const isDtype = typeof target === 'string' && isDTypeName(target);
    if (isDtype && !isFloating(target)) {
      throw new DLError('DTYPE', 'Module.to', `nn.Module.to only accepts floating point dtypes; got ${target}`);
    }
    const convert = (t: Tensor): Tensor => (isDtype && !isFloating(t.dtype) ? t : t.to(target));
    const moveInPlace = (t: Tensor): void => {
      const moved = convert(t);
      if (moved === t) return;
      t.replaceData(moved);
      moved.dispose();
    };
    const memo = new Map<Tensor, Tensor>();
    const old: Tensor[] = [];
    noGrad(() => {
      const done = new Set<Tensor>();
      for (const p of this.parameters()) {
        if (done.has(p)) continue;
        done.add(p);
        moveInPlace(p);
        if (p.grad) moveInPlace(p.grad);
      }
      for (const m of this.modules()) {
        for (const [k, b] of m.#ownBuffers()) {
          let nb = memo.get(b);
          if (!nb) {
            nb = convert(b);
            if (nb !== b) {
              keep(nb);
              old.push(b);
            }
            memo.set(b, nb);
          }
          m.#buffers.set(k, nb);
        }
      }
    });
    for (const t of old) if (!t.isDisposed) t.dispose();
    return this;
  }

  float(): this {
    return this.to('float32');
  }
  double(): this {
    return this.to('float64');
  }
  cpu(): this {
    return this.to('cpu');
  }
  /** Moves every parameter and buffer to GPU `index` (see to()). */
  cuda(index = 0): this {
    return this.to(`cuda:${index}`);
  }

  // ---------------------------------------------------------------- state dict
  #saveTo(out: StateDict, prefix: string, keepVars: boolean): void {
    for (const [k, p] of this.#ownParameters()) out[prefix + k] = keepVars ? p : p.detach();
    for (const [k, b] of this.#ownBuffers()) if (!this.#nonPersistent.has(k)) out[prefix + k] = keepVars ? b : b.detach();
    for (const [k, c] of this.#ownChildren()) c.#saveTo(out, `${prefix}${k}.`, keepVars);
  }

  /**
   * Parameters and persistent buffers by dotted name, in registration order
   * (each module's parameters, then its buffers, then its submodules'). The
   * values are detached tensors sharing memory with the module (keepVars: the
   * tensors themselves).
   */
  stateDict(opts: { prefix?: string; keepVars?: boolean } = {}): StateDict {
    const out: StateDict = {};
    const prefix = opts.prefix ? `${opts.prefix}.` : '';
    this.#saveTo(out, prefix, opts.keepVars ?? false);
    return out;
  }

  /**
   * Copy values from a state dict into the parameters and buffers, in place and
   * without recording gradients. With strict (default) the keys must match
   * exactly; shapes must always match. Nothing is copied when anything is
   * wrong: the DLError (code 'VALUE' for missing/unexpected keys, 'SHAPE' when
   * only shapes disagree) lists every problem.
   */
  loadStateDict(stateDict: StateDict | ReadonlyMap<string, Tensor>, opts: { strict?: boolean } = {}): LoadStateDictResult {
    const op = 'loadStateDict';
    const strict = opts.strict ?? true;
    if (typeof stateDict !== 'object' || stateDict === null) throw new DLError('ARGUMENT', op, `expected a state dict (an object or Map of tensors); got ${stateDict === null ? 'null' : typeof stateDict}`);
    const given = stateDict instanceof Map ? new Map(stateDict) : new Map(Object.entries(stateDict as StateDict));
    const own = this.stateDict({ keepVars: true });
    const missingKeys: string[] = [];
    const unexpectedKeys: string[] = [];
    const mismatches: string[] = [];
    const pairs: [Tensor, Tensor][] = [];
    for (const [k, dst] of Object.entries(own)) {
      if (!given.has(k)) {
        missingKeys.push(k);
        continue;
      }
      const src = given.get(k);
      if (!(src instanceof Tensor)) throw new DLError('ARGUMENT', op, `the value for '${k}' must be a Tensor; got ${src === null ? 'null' : typeof src}`);
      if (src.isDisposed) throw new DLError('DISPOSED', op, `the tensor for '${k}' was disposed`);
      if (src.ndim !== dst.ndim || src.shape.some((d, i) => d !== dst.shape[i])) {
        mismatches.push(`size mismatch for ${k}: copying a param with shape ${fmtShape(src.shape)} from checkpoint, the shape in current model is ${fmtShape(dst.shape)}`);
        continue;
      }
      pairs.push([dst, src]);
    }
    for (const k of given.keys()) if (!Object.hasOwn(own, k)) unexpectedKeys.push(k);
    const quote = (ks: string[]) => ks.map((k) => `"${k}"`).join(', ');
    const errors: string[] = [];
    const keyErrors = strict && (missingKeys.length > 0 || unexpectedKeys.length > 0);
    if (strict && missingKeys.length) errors.push(`Missing key(s) in stateDict: ${quote(missingKeys)}`);
    if (strict && unexpectedKeys.length) errors.push(`Unexpected key(s) in stateDict: ${quote(unexpectedKeys)}`);
    errors.push(...mismatches);
    if (errors.length) {
      throw new DLError(
        keyErrors ? 'VALUE' : 'SHAPE',
        op,
        `Error(s) in loading stateDict for ${this.constructor.name}:\n  ${errors.join('\n  ')}`,
        keyErrors ? 'pass { strict: false } to load the matching keys only (shapes must still match)' : undefined,
      );
    }
    noGrad(() => {
      for (const [dst, src] of pairs) {
        const s = src.device === dst.device ? src : src.to(dst.device);
        dst.copy_(s);
        if (s !== src) s.dispose();
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---------------------------------------------------------------- printing
  /** The layer's settings shown inside its parentheses by toString(). */
  extraRepr(): string {
    return '';
  }

  /** PyTorch's module print: the class name, extraRepr() and each child, indented. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines = this.#ownChildren().map(([k, m]) => `(${k}): ${addIndent(m.toString(), 2)}`);
    const lines = [...extraLines, ...childLines];
    let s = `${this.constructor.name}(`;
    if (lines.length) s += extraLines.length === 1 && childLines.length === 0 ? extraLines[0] : `\n  ${lines.join('\n  ')}\n`;
    return `${s})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
