/** The op front ends, grouped by family. */
export * from './util.js';
export * from './creation.js';
export * from './random.js';
export * from './convert.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './linalg.js';
export * from './einsum.js';
export * from './nn.js';
export * from './loss.js';
export * from './optim.js';
export * from './indexing.js';
