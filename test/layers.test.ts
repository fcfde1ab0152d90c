import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Which @dl packages each package may depend on (ARCHITECTURE.md). */
const ALLOWED: Record<string, string[]> = {
  '@dl/tensor': [],
  '@dl/autograd': ['@dl/tensor'],
  '@dl/optim': ['@dl/tensor', '@dl/autograd'],
  '@dl/data': ['@dl/tensor'],
  '@dl/nn': ['@dl/tensor', '@dl/autograd'],
  '@dl/vision': ['@dl/tensor', '@dl/autograd', '@dl/nn', '@dl/data'],
  '@dl/tensorboard': ['@dl/tensor'],
};

const root = join(import.meta.dirname, '..');
// apps/ may not exist yet in a clone (git keeps no empty directories)
const manifests = ['packages', 'apps'].filter((dir) => existsSync(join(root, dir))).flatMap((dir) =>
  readdirSync(join(root, dir))
    .map((name) => join(root, dir, name, 'package.json'))
    .filter(existsSync)
    .map((file) => JSON.parse(readFileSync(file, 'utf8')) as { name: string; private?: boolean; dependencies?: Record<string, string> }),
);

describe('package layering', () => {
  it.each(manifests.filter((m) => !m.private).map((m) => [m.name, m] as const))('%s depends only on the layers below it', (name, m) => {
    expect(ALLOWED[name], `${name} is missing from the layer table`).toBeDefined();
    const deps = Object.keys(m.dependencies ?? {}).filter((d) => d.startsWith('@dl/'));
    expect(deps.filter((d) => !ALLOWED[name].includes(d))).toEqual([]);
  });
});
