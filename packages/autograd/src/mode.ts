/**
 * Grad mode: whether ops are recorded. Held in AsyncLocalStorage, so
 * `noGrad(async () => ...)` covers everything the function awaits and
 * concurrent tasks keep their own mode (unlike a global flag).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const store = new AsyncLocalStorage<boolean>();
let globalEnabled = true;

export function isGradEnabled(): boolean {
  return store.getStore() ?? globalEnabled;
}

/** torch.set_grad_enabled for code outside any noGrad/enableGrad. */
export function setGradEnabled(enabled: boolean): void {
  globalEnabled = enabled;
}

/** Run fn without recording the graph (sync or async). */
export function noGrad<T>(fn: () => T): T {
  return store.run(false, fn);
}

/** Run fn recording the graph, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return store.run(true, fn);
}

/**
 * Inference: like noGrad (PyTorch's inference mode also skips view and
 * version tracking; here views are free and versions are one counter, so
 * the two coincide).
 */
export function inferenceMode<T>(fn: () => T): T {
  return store.run(false, fn);
}
