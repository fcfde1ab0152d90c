/**
 * Transform specs: how a transform crosses to a DataLoader worker thread. Every built-in
 * transform has `spec(): { name, args }` (structured-cloneable: numbers, strings, arrays,
 * plain objects, nested specs), and `transformFromSpec(spec)` rebuilds it as
 * `new Registered[name](...args)`. A dataset's constructor accepts a spec wherever it accepts a
 * transform, so a dataset's workerSpec() can carry its transforms as specs.
 *
 * Your own transform classes can take part: `registerTransform('MyCrop', MyCrop)` in a module
 * that the worker also imports (e.g. the module of a DataLoader workerInitFn, or the dataset
 * module itself). Functions (Lambda) cannot cross threads.
 */
import { fail } from '../errors.js';

/** A transform as data: the registered name and its constructor arguments. */
export interface TransformSpec {
  name: string;
  args: unknown[];
}

/** What transformFromSpec constructs: a class whose instances have apply(). */
export type TransformFactory = new (...args: never[]) => { apply(input: unknown): unknown; spec(): TransformSpec };

const registry = new Map<string, TransformFactory>();

/** Make a transform class constructible from `{ name, args }` (the built-ins are registered already). */
export function registerTransform(name: string, ctor: TransformFactory): void {
  if (typeof name !== 'string' || name === '') fail('ARGUMENT', 'registerTransform', `name must be a non-empty string; got ${JSON.stringify(name)}`);
  if (typeof ctor !== 'function') fail('ARGUMENT', 'registerTransform', `expected a class for '${name}'; got ${typeof ctor}`);
  registry.set(name, ctor);
}

/** The names transformFromSpec knows. */
export function registeredTransforms(): string[] {
  return [...registry.keys()].sort();
}

export function isTransformSpec(x: unknown): x is TransformSpec {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) return false;
  const s = x as Partial<TransformSpec>;
  return typeof s.name === 'string' && Array.isArray(s.args);
}

/** Rebuild a transform from its spec. */
export function transformFromSpec<T = { apply(input: unknown): unknown; spec(): TransformSpec }>(spec: TransformSpec): T {
  const op = 'transformFromSpec';
  if (!isTransformSpec(spec)) fail('ARGUMENT', op, `expected { name: string, args: unknown[] }; got ${JSON.stringify(spec)}`);
  const Ctor = registry.get(spec.name);
  if (!Ctor) {
    fail('ARGUMENT', op, `no transform is registered as '${spec.name}' (known: ${registeredTransforms().join(', ')})`, `call registerTransform('${spec.name}', TheClass) in this thread first (in a DataLoader worker: from a module the worker imports)`);
  }
  return new Ctor(...(spec.args as never[])) as T;
}
