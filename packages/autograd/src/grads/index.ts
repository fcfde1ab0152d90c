/**
 * The one table of gradient rules, keyed by op name: every kernel op and view
 * op of @dl/tensor has an entry, or null when it is not differentiable. A new
 * op without an entry here is a type error.
 */
import type { AnyOp } from '@dl/tensor';
import { binaryGrads, unaryGrads } from './elementwise.js';
import { indexingGrads } from './indexing.js';
import { lossGrads } from './loss.js';
import { nnGrads } from './nn.js';
import { normGrads } from './norm.js';
import { reduceGrads } from './reduce.js';
import { shapeGrads } from './shape.js';
import type { GradEntry } from './types.js';

export const GRADS = {
  ...unaryGrads,
  ...binaryGrads,
  ...reduceGrads,
  ...shapeGrads,
  ...nnGrads,
  ...normGrads,
  ...lossGrads,
  ...indexingGrads,
} satisfies { [K in AnyOp]: GradEntry<never> | null };

export type { GradCtx, GradEntry } from './types.js';
