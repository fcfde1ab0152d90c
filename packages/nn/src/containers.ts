/**
 * Containers: Sequential (chains its modules), ModuleList and ModuleDict
 * (hold submodules so that they register; they have no forward of their own).
 */
import { DLError } from '@dl/tensor';
import { Module } from './module.js';

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
