/** Shared by the tensor package's tests. */
import { backendFor } from '../src/device.js';
import type { Backend } from '../src/index.js';
import { registerBackend } from '../src/index.js';

/** Runs `fn` with `backend` registered, then restores the backend that served 'cpu' before. */
export function withBackend<R>(backend: Backend, fn: () => R): R {
  const original = backendFor('test', 'cpu');
  registerBackend(backend);
  try {
    return fn();
  } finally {
    registerBackend(original);
  }
}
