/**
 * Containers: Sequential (chains its modules), ModuleList and ModuleDict
 * (hold submodules so that they register; they have no forward of their own),
 * ParameterList and ParameterDict (hold parameters so that they register).
 */
import { DLError, Tensor } from '@dl/tensor';
import { Module } from './module.js';
import { Parameter } from './parameter.js';

function checkModule(op: string, m: unknown, what: string): Module {
  if (!(m instanceof Module)) throw new DLError('ARGUMENT', op, `${what} must be a Module; got ${m === null ? 'null' : typeof m}`);
  return m;
}

/** Shared by Sequential and ModuleList: children stored in fields '0', '1', ... */
abstract class IndexedContainer extends Module {
  /** Number of submodules. */
  get length(): number {
    return this.namedChildrenAll().length;
  }

  /** @internal All child entries, duplicates included (a module may appear twice). */
  protected namedChildrenAll(): [string, Module][] {
    return this.memberEntries().filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  protected index(op: string, i: number): number {
    const n = this.length;
    if (!Number.isInteger(i) || i < -n || i >= n) throw new DLError('DIM', op, `index ${i} is out of range for a ${this.constructor.name} of length ${n}`);
    return i < 0 ? i + n : i;
  }

  /** The i-th module (negative i counts from the end), PyTorch's `seq[i]`. */
  get(i: number): Module {
    return this.namedChildrenAll()[this.index(`${this.constructor.name}.get`, i)][1];
  }

  /** Append a module at the end; returns this. */
  append(module: Module): this {
    checkModule(`${this.constructor.name}.append`, module, 'module');
    this.setMember(String(this.length), module);
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.namedChildrenAll()
      .map(([, m]) => m)
      [Symbol.iterator]();
  }
}

/**
 * Modules applied in order: `new Sequential(conv, new ReLU(), pool)`; the
 * output of each is the input of the next. Children are named '0', '1', ...
 * (or by the keys of a Map given instead).
 */
export class Sequential extends IndexedContainer {
  constructor(...modules: Module[] | [ReadonlyMap<string, Module>]) {
    super();
    const [first] = modules;
    if (modules.length === 1 && first instanceof Map) {
      for (const [k, m] of first) this.registerModule(k, checkModule('Sequential', m, `module '${k}'`));
    } else {
      (modules as Module[]).forEach((m, i) => {
        this.setMember(String(i), checkModule('Sequential', m, `argument ${i}`));
      });
    }
  }

  // biome-ignore lint/suspicious/noExplicitAny: modules of any signature chain.
  override forward(input: any): any {
    let x = input;
    for (const m of this) x = m.forward(x);
    return x;
  }
}

/** A list of submodules (registered, unlike a plain array). */
export class ModuleList extends IndexedContainer {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Append every module of an iterable; returns this. */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Insert a module before index i (i = length appends). */
  insert(i: number, module: Module): this {
    checkModule('ModuleList.insert', module, 'module');
    const list = [...this];
    const n = list.length;
    if (!Number.isInteger(i) || i < -n || i > n) throw new DLError('DIM', 'ModuleList.insert', `index ${i} is out of range for a ModuleList of length ${n}`);
    list.splice(i < 0 ? i + n : i, 0, module);
    list.forEach((m, k) => {
      this.setMember(String(k), m);
    });
    return this;
  }

  /** Replace the module at index i. */
  set(i: number, module: Module): this {
    checkModule('ModuleList.set', module, 'module');
    this.setMember(String(this.index('ModuleList.set', i)), module);
    return this;
  }
}

/**
 * Submodules by name, in insertion order. They are held in the dict, not as
 * fields: use get/set (PyTorch's `d[key]`), has, delete, keys, values, entries.
 */
export class ModuleDict extends Module {
  readonly #modules = new Map<string, Module>();

  constructor(modules?: Record<string, Module> | Iterable<readonly [string, Module]>) {
    super();
    if (modules) this.update(modules);
  }

  protected override memberEntries(): [string, unknown][] {
    return [...super.memberEntries(), ...this.#modules];
  }

  protected override setMember(name: string, value: unknown): void {
    if (this.#modules.has(name) || value instanceof Module) {
      if (value === null) this.#modules.delete(name);
      else this.#modules.set(name, checkModule('ModuleDict', value, `module '${name}'`));
    } else super.setMember(name, value);
  }

  get(key: string): Module {
    const m = this.#modules.get(key);
    if (!m) throw new DLError('VALUE', 'ModuleDict.get', `no module named '${key}'; the keys are ${JSON.stringify([...this.#modules.keys()])}`);
    return m;
  }

  set(key: string, module: Module): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) throw new DLError('ARGUMENT', 'ModuleDict.set', `key must be a non-empty string without '.'; got ${JSON.stringify(key)}`);
    this.#modules.set(key, checkModule('ModuleDict.set', module, `module '${key}'`));
    return this;
  }

  has(key: string): boolean {
    return this.#modules.has(key);
  }

  /** Remove a module and return it (PyTorch's pop). */
  delete(key: string): Module {
    const m = this.get(key);
    this.#modules.delete(key);
    return m;
  }

  /** Add every (key, module) pair; returns this. */
  update(modules: Record<string, Module> | Iterable<readonly [string, Module]>): this {
    const entries = Symbol.iterator in modules ? (modules as Iterable<readonly [string, Module]>) : Object.entries(modules as Record<string, Module>);
    for (const [k, m] of entries) this.set(k, m);
    return this;
  }

  get size(): number {
    return this.#modules.size;
  }
  keys(): string[] {
    return [...this.#modules.keys()];
  }
  values(): Module[] {
    return [...this.#modules.values()];
  }
  entries(): [string, Module][] {
    return [...this.#modules.entries()];
  }
  [Symbol.iterator](): Iterator<string> {
    return this.keys()[Symbol.iterator]();
  }
}

/** A Parameter as it is; another tensor wrapped in one (sharing its storage, requiring grad), as PyTorch does. */
function asParameter(op: string, v: unknown, what: string): Parameter {
  if (v instanceof Parameter) return v;
  if (v instanceof Tensor) return new Parameter(v);
  throw new DLError('ARGUMENT', op, `${what} must be a Parameter or a Tensor; got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`, Array.isArray(v) ? 'wrap arrays with tensor(...)' : undefined);
}

/**
 * The parameter containers' print, PyTorch's: one line per entry, `(key): Parameter containing:
 * [float32 of size 3x4]` (a device other than the CPU in parentheses), indented by four. One entry
 * gets its own line too (PyTorch glues it to the opening parenthesis).
 */
function parametersString(name: string, entries: [string, Parameter][]): string {
  if (entries.length === 0) return `${name}()`;
  const lines = entries.map(([k, p]) => {
    const where = p.device === 'cpu' ? '' : p.device.startsWith('cuda:') ? ` (GPU ${p.device.slice(5)})` : ` (${p.device})`;
    return `    (${k}): Parameter containing: [${p.dtype} of size ${p.shape.join('x')}${where}]`;
  });
  return `${name}(\n${lines.join('\n')}\n)`;
}

/**
 * A list of parameters (registered, unlike a plain array): `namedParameters()` and the state dict
 * name them '0', '1', ... (prefixed by the list's own name in a parent). They are the list's
 * fields '0', '1', ..., so `to()`, `loadStateDict` and `utils.functionalCall` reach them as any
 * module's. Tensors that are not Parameters are wrapped in one (sharing storage), as PyTorch does.
 */
export class ParameterList extends Module {
  #length = 0;

  constructor(params: Iterable<Parameter | Tensor> = []) {
    super();
    this.extend(params);
  }

  /** Number of parameters. */
  get length(): number {
    return this.#length;
  }

  #index(op: string, i: number): number {
    const n = this.#length;
    if (!Number.isInteger(i) || i < -n || i >= n) throw new DLError('DIM', op, `index ${i} is out of range for a ParameterList of length ${n}`, n ? `use an index in [${-n}, ${n})` : 'the list is empty: append() first');
    return i < 0 ? i + n : i;
  }

  /** The i-th parameter (negative i counts from the end), PyTorch's `plist[i]`. */
  get(i: number): Parameter {
    return (this as unknown as Record<string, Parameter>)[String(this.#index('ParameterList.get', i))];
  }

  /** Replace the parameter at index i; returns this. */
  set(i: number, param: Parameter | Tensor): this {
    const k = this.#index('ParameterList.set', i);
    this.setMember(String(k), asParameter('ParameterList.set', param, 'param'));
    return this;
  }

  /** Append a parameter at the end; returns this. */
  append(param: Parameter | Tensor): this {
    this.setMember(String(this.#length), asParameter('ParameterList.append', param, 'param'));
    this.#length += 1;
    return this;
  }

  /** Append every parameter of an iterable; returns this. */
  extend(params: Iterable<Parameter | Tensor>): this {
    for (const p of params) this.append(p);
    return this;
  }

  [Symbol.iterator](): Iterator<Parameter> {
    return Array.from({ length: this.#length }, (_, i) => this.get(i))[Symbol.iterator]();
  }

  override toString(): string {
    return parametersString('ParameterList', Array.from({ length: this.#length }, (_, i) => [String(i), this.get(i)]));
  }
}

/**
 * Parameters by name, in insertion order (PyTorch 1.13 sorts the keys of a plain dict given to
 * it; here an object's keys keep their order too). `namedParameters()` and the state dict use the
 * keys. Held in the dict, not as fields (keys may be any name, 'get' or 'training' too): use
 * get/set (PyTorch's `d[key]`), has, delete, update, keys, values, items; `utils.functionalCall`,
 * which shadows fields, cannot replace them. Tensors that are not Parameters are wrapped in one, as
 * PyTorch does.
 */
export class ParameterDict extends Module {
  readonly #params = new Map<string, Parameter>();

  constructor(params?: Record<string, Parameter | Tensor> | Iterable<readonly [string, Parameter | Tensor]>) {
    super();
    if (params) this.update(params);
  }

  protected override memberEntries(): [string, unknown][] {
    return [...super.memberEntries(), ...this.#params];
  }

  /** registerParameter(name, p) on the dict is set(name, p); null removes the entry. */
  protected override setMember(name: string, value: unknown): void {
    if (this.#params.has(name) || value instanceof Tensor) {
      if (value === null) this.#params.delete(name);
      else this.#params.set(name, asParameter('ParameterDict', value, `parameter '${name}'`));
    } else super.setMember(name, value);
  }

  get(key: string): Parameter {
    const p = this.#params.get(key);
    if (!p) throw new DLError('VALUE', 'ParameterDict.get', `no parameter named '${key}'; the keys are ${JSON.stringify([...this.#params.keys()])}`, 'check has(key) first');
    return p;
  }

  set(key: string, param: Parameter | Tensor): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) throw new DLError('ARGUMENT', 'ParameterDict.set', `key must be a non-empty string without '.'; got ${JSON.stringify(key)}`);
    this.#params.set(key, asParameter('ParameterDict.set', param, `parameter '${key}'`));
    return this;
  }

  has(key: string): boolean {
    return this.#params.has(key);
  }

  /** Remove a parameter and return it (PyTorch's pop). */
  delete(key: string): Parameter {
    const p = this.get(key);
    this.#params.delete(key);
    return p;
  }

  /** Add every (key, parameter) pair of an object, an iterable of pairs or another ParameterDict, in their order; returns this. */
  update(params: Record<string, Parameter | Tensor> | Iterable<readonly [string, Parameter | Tensor]> | ParameterDict): this {
    const entries = params instanceof ParameterDict ? params.items() : Symbol.iterator in params ? (params as Iterable<readonly [string, Parameter | Tensor]>) : Object.entries(params as Record<string, Parameter | Tensor>);
    for (const [k, p] of entries) this.set(k, p);
    return this;
  }

  get size(): number {
    return this.#params.size;
  }
  keys(): string[] {
    return [...this.#params.keys()];
  }
  values(): Parameter[] {
    return [...this.#params.values()];
  }
  /** The (key, parameter) pairs (PyTorch's items(); entries() as a Map). */
  items(): [string, Parameter][] {
    return [...this.#params.entries()];
  }
  entries(): [string, Parameter][] {
    return this.items();
  }
  [Symbol.iterator](): Iterator<string> {
    return this.keys()[Symbol.iterator]();
  }

  override toString(): string {
    return parametersString('ParameterDict', this.items());
  }
}
