/**
 * The graph: a Node per recorded op, with an edge per input (to the node that
 * made it, or to a leaf tensor), the tensors its gradient rule needs (saved as
 * views of their own, with the version each had), and the rule.
 *
 * Lifetime, as PyTorch's reference counting gives it: a node is held by the live
 * tensors that point at it (their gradFn, see Tensor.gradFn) and by the edges of
 * the nodes after it. When the last holder goes (e.g. scope() disposes the outputs
 * of a forward pass that never ran backward, or a branch backward did not reach),
 * the node frees its saved tensors and lets go of the nodes before it.
 */
import { DLError, type Tensor, keep } from '@dl/tensor';
import type { AnyOp, DType, GradFn, OpCall, Shape } from '@dl/tensor';
import type { GradEntry } from './grads/types.js';

// biome-ignore lint/suspicious/noConfusingVoidType: a hook may return nothing (keep the gradient) or a replacement
export type Hook = (grad: Tensor) => Tensor | undefined | void;

/** Where a gradient goes: output `index` of `node`, or a leaf tensor. */
export type Edge = { node: Node; index: number; leaf?: undefined } | { leaf: Tensor; node?: undefined; index?: undefined } | null;

/** What a tensor made by a recorded op points at (its `gradFn`). */
export class OutputRef implements GradFn {
  readonly hooks: Hook[] = [];
  retain = false;
  /**
   * @param held whether tensors pointing here hold the node: false for the node's own saved
   *   outputs, which would otherwise keep it alive forever.
   */
  constructor(
    readonly node: Node,
    readonly index: number,
    private readonly held = true,
  ) {}
  get name(): string {
    return `${this.node.op}Backward`;
  }
  hold(): void {
    if (this.held) this.node.holders++;
  }
  letGo(): void {
    if (this.held) letGo(this.node);
  }
}

/** Nodes whose last holder went, freed one at a time (no recursion along a long graph). */
const dying: Node[] = [];
let draining = false;

function letGo(node: Node): void {
  if (--node.holders > 0) return;
  dying.push(node);
  if (draining) return;
  draining = true;
  try {
    for (let n = dying.pop(); n; n = dying.pop()) {
      n.free();
      for (const e of n.edges) if (e?.node) letGo(e.node);
    }
  } finally {
    draining = false;
  }
}

/**
 * Save a tensor for backward: a view of its own (so the caller may dispose the
 * original) that keeps the original's place in the graph, which double
 * backward (createGraph) needs. A leaf is saved as itself: gradients must
 * reach that very tensor.
 */
function save(t: Tensor): { t: Tensor; owned: boolean } {
  if (t.requiresGrad && t.isLeaf) return { t, owned: false };
  const v = keep(t.detach());
  v.requiresGrad = t.requiresGrad;
  v.gradFn = t.gradFn;
  return { t: v, owned: true };
}

export class Node {
  readonly edges: Edge[];
  readonly inputShapes: Shape[];
  readonly inputDtypes: DType[];
  readonly outputShapes: Shape[];
  readonly needsGrad: boolean[];
  savedInputs: (Tensor | null)[] = [];
  savedOutputs: (Tensor | null)[] = [];
  private versions: number[] = [];
  private owned: Tensor[] = [];
  freed = false;
  /** Filled in by makeNode once outputs exist. */
  outputRefs: OutputRef[] = [];
  /** Live tensors pointing at this node plus edges of later nodes (see the file comment). */
  holders = 0;

  constructor(
    readonly op: AnyOp | string,
    readonly attrs: unknown,
    inputs: readonly Tensor[],
    outputs: readonly Tensor[],
    readonly entry: GradEntry,
  ) {
    this.edges = inputs.map(edgeFor);
    for (const e of this.edges) if (e?.node) e.node.holders++;
    this.needsGrad = this.edges.map((e) => e !== null);
    this.inputShapes = inputs.map((t) => t.shape);
    this.inputDtypes = inputs.map((t) => t.dtype);
    this.outputShapes = outputs.map((t) => t.shape);
    const keepOne = (t: Tensor): Tensor => {
      const s = save(t);
      if (s.owned) this.owned.push(s.t);
      return s.t;
    };
    const which = entry.saveInputs;
    if (which) this.savedInputs = inputs.map((t, i) => (which === true || which.includes(i) ? keepOne(t) : null));
    // Outputs are saved before they join the graph, so they are plain views.
    const outs = entry.saveOutputs;
    if (outs) this.savedOutputs = outputs.map((t, i) => (outs === true || outs.includes(i) ? keepOne(t) : null));
    this.versions = [...this.savedInputs, ...this.savedOutputs].map((t) => t?.version ?? 0);
  }

  /** Saved tensors, checked against in-place changes since they were saved. */
  checkVersions(): void {
    [...this.savedInputs, ...this.savedOutputs].forEach((t, i) => {
      if (t && t.version !== this.versions[i]) {
        throw new DLError(
          'AUTOGRAD',
          'backward',
          `one of the tensors needed for the gradient of ${this.op} (shape [${t.shape.join(', ')}]) has been modified by an in-place operation: it is at version ${t.version}, expected version ${this.versions[i]}`,
          'use the out-of-place op (e.g. x.add(y) instead of x.add_(y)), or clone() the tensor before changing it',
        );
      }
    });
  }

  /** Drop saved tensors (after a backward without retainGraph). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const t of this.owned) t.dispose();
    this.owned = [];
    this.savedInputs = [];
    this.savedOutputs = [];
  }
}

export function isDifferentiable(t: Tensor): boolean {
  return t.dtype === 'float32' || t.dtype === 'float64';
}

function edgeFor(t: Tensor): Edge {
  if (!t.requiresGrad) return null;
  const fn = t.gradFn;
  if (fn instanceof OutputRef) return { node: fn.node, index: fn.index };
  return { leaf: t };
}

/** Hooks on leaf tensors (non-leaf hooks live on their OutputRef). */
export const leafHooks = new WeakMap<Tensor, Hook[]>();

/**
 * Record a call: a node whose differentiable outputs (float) now require grad and point at it
 * (their gradFn). A node none of whose outputs can hold it is let go at once.
 */
export function makeNode(call: OpCall, outputs: readonly Tensor[], entry: GradEntry): Node {
  const node = new Node(call.op, call.attrs, call.inputs, outputs, entry);
  node.outputRefs = outputs.map((_, i) => new OutputRef(node, i));
  // The saved outputs point here too (double backward goes through them), without holding the node.
  node.savedOutputs.forEach((v, i) => {
    if (!v || !isDifferentiable(v)) return;
    v.requiresGrad = true;
    v.gradFn = new OutputRef(node, i, false);
  });
  outputs.forEach((o, i) => {
    if (!isDifferentiable(o)) return;
    o.requiresGrad = true;
    o.gradFn = node.outputRefs[i];
  });
  if (node.holders === 0) {
    node.holders = 1;
    letGo(node);
  }
  return node;
}
