/**
 * The backward pass: order the graph reachable from the roots, run each node's
 * gradient rule once all of its outputs' gradients are in, and hand gradients to
 * leaves (accumulated into `.grad`) or to the caller of `grad()`.
 */
import { DLError, type Tensor, keep, onesLike, scope } from '@dl/tensor';
import { type Node, OutputRef, leafHooks } from './graph.js';
import type { Hook } from './graph.js';
import { enableGrad, noGrad } from './mode.js';

export interface BackwardOptions {
  /** Keep the saved tensors so backward can run through the graph again. */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. */
  createGraph?: boolean;
}

function runHooks(hooks: readonly Hook[] | undefined, g: Tensor): Tensor {
  let out = g;
  for (const h of hooks ?? []) out = h(out) ?? out;
  return out;
}

function checkShape(where: string, g: Tensor, shape: readonly number[]): void {
  if (g.shape.length !== shape.length || g.shape.some((d, i) => d !== shape[i])) {
    throw new DLError('AUTOGRAD', 'backward', `gradient for ${where} has shape [${g.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}


/**
 * Run backward from `roots` (seeded with `seeds`). Leaf gradients are
 * accumulated into `.grad`, unless `capture` lists tensors whose gradients are
 * returned instead (then nothing is accumulated).
 */
export function runBackward(roots: readonly Tensor[], seeds: readonly Tensor[], opts: BackwardOptions, capture?: readonly Tensor[]): (Tensor | null)[] {
  const createGraph = opts.createGraph ?? false;
  const retainGraph = opts.retainGraph ?? createGraph;
  const run = () => scope(() => backwardPass(roots, seeds, retainGraph, createGraph, capture));
  const result = createGraph ? enableGrad(run) : noGrad(run);
  return result;
}

function backwardPass(roots: readonly Tensor[], seeds: readonly Tensor[], retainGraph: boolean, createGraph: boolean, capture?: readonly Tensor[]): (Tensor | null)[] {
  // Topological order of reachable nodes (depth-first, iterative).
  const order: Node[] = [];
  const seen = new Set<Node>();
  const stack: [Node, number][] = [];
  for (const r of roots) {
    if (r.gradFn instanceof OutputRef && !seen.has(r.gradFn.node)) {
      seen.add(r.gradFn.node);
      stack.push([r.gradFn.node, 0]);
    }
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i < node.edges.length) {
        top[1]++;
        const e = node.edges[i];
        if (e?.node && !seen.has(e.node)) {
          seen.add(e.node);
          stack.push([e.node, 0]);
        }
      } else {
        stack.pop();
        order.push(node);
      }
    }
  }

  const pending = new Map<Node, (Tensor | null)[]>();
  const captured = new Map<Tensor, Tensor>();
  const captureSet = new Set(capture ?? []);
  const add = (a: Tensor | null | undefined, b: Tensor) => (a ? a.add(b) : b);
  // A gradient a leaf can own: contiguous, not shared with another tensor, not handed out before.
  const given = new Set<Tensor>(seeds);
  const owned = (g: Tensor): Tensor => {
    const o = g.isContiguous() && g.storage.refs === 1 && !given.has(g) ? g : g.clone();
    given.add(g);
    return o;
  };

  const deliverLeaf = (leaf: Tensor, g: Tensor) => {
    checkShape('a leaf tensor', g, leaf.shape);
    if (capture) {
      if (captureSet.has(leaf)) captured.set(leaf, add(captured.get(leaf), g));
      return;
    }
    const h = runHooks(leafHooks.get(leaf), g);
    if (leaf.grad === null) {
      leaf.grad = keep(createGraph ? h : owned(h));
    } else if (createGraph) {
      const prev = leaf.grad;
      leaf.grad = keep(prev.add(h));
    } else {
      leaf.grad.add_(h);
    }
  };

  roots.forEach((r, i) => {
    const seed = seeds[i];
    if (r.gradFn instanceof OutputRef) {
      const slot = pending.get(r.gradFn.node) ?? [];
      slot[r.gradFn.index] = add(slot[r.gradFn.index], seed);
      pending.set(r.gradFn.node, slot);
    } else if (r.requiresGrad) deliverLeaf(r, seed);
  });

  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const slot = pending.get(node);
    pending.delete(node);
    if (!slot || slot.every((g) => !g)) continue;
    if (node.freed) {
      throw new DLError(
        'AUTOGRAD',
        'backward',
        `trying to backward through the graph a second time (through ${node.op}): its saved tensors were freed after the first backward`,
        'pass { retainGraph: true } to the first backward() if you need to backward twice',
      );
    }
    node.checkVersions();
    const grads = node.outputShapes.map((_, i) => {
      const g = slot[i];
      if (!g) return null;
      const ref = node.outputRefs[i];
      if (captureSet.size && ref && capture) {
        // grad() with a non-leaf input: capture its gradient here.
        for (const c of captureSet) if (c.gradFn === ref) captured.set(c, add(captured.get(c), g));
      }
      return runHooks(ref?.hooks, g);
    });
    const inputGrads = node.entry.backward(
      {
        attrs: node.attrs,
        inputs: node.savedInputs,
        outputs: node.savedOutputs,
        inputShapes: node.inputShapes,
        inputDtypes: node.inputDtypes,
        needsGrad: node.needsGrad,
      },
      grads,
    );
    node.edges.forEach((e, i) => {
      const g = inputGrads[i];
      if (!e || !g) return;
      checkShape(`input ${i} of ${node.op}`, g, node.inputShapes[i]);
      if (e.leaf) deliverLeaf(e.leaf, g);
      else {
        const s = pending.get(e.node) ?? [];
        s[e.index] = add(s[e.index], g);
        pending.set(e.node, s);
      }
    });
    if (!retainGraph) node.free();
  }
  if (!capture) return [];
  // Returned through runBackward's scope, which hands them to the caller's scope (keep() would
  // take them out of every scope, and a grad() call inside scope() would leak them).
  return capture.map((t) => captured.get(t) ?? null);
}

export function backward(t: Tensor, gradient: Tensor | undefined, opts: BackwardOptions): void {
  if (!t.requiresGrad) {
    throw new DLError('AUTOGRAD', 'backward', 'element 0 of tensors does not require grad and does not have a gradFn', 'set requiresGrad on the inputs (e.g. tensor(..., { requiresGrad: true }) or x.requiresGrad_()) before computing the output');
  }
  let seed = gradient;
  if (!seed) {
    if (t.numel !== 1) {
      throw new DLError('AUTOGRAD', 'backward', `grad can be implicitly created only for scalar outputs; got shape [${t.shape.join(', ')}]`, 'pass a gradient of the same shape, or reduce the output first (e.g. loss.sum())');
    }
    seed = onesLike(t);
  } else checkShape('the gradient argument', seed, t.shape);
  runBackward([t], [seed], opts);
  if (!gradient) seed.dispose();
}
