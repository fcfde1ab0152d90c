/**
 * Where CIFAR-10 comes from: --data-dir, else $DL_CIFAR10_DIR, else the repository's shared
 * dataset (../shared/datasets/cifar10 from the repository root) when present, else ./data
 * (downloaded there on a machine with internet). A read-only directory holding only the
 * archive is extracted once into a cache ($DL_CACHE_DIR or ~/.cache/dl/cifar10).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasets } from '@dl/vision';
import { UsageError } from './config.js';

const EXTRACTED = 'cifar-10-batches-bin';
const ARCHIVE = 'cifar-10-binary.tar.gz';

function sharedDataset(): string | undefined {
  // dist/cli.js (or src/*.ts) -> apps/cifar-trainer -> repository root -> ../shared
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const dir = resolve(repoRoot, '..', 'shared', 'datasets', 'cifar10');
  return existsSync(join(dir, ARCHIVE)) || existsSync(join(dir, EXTRACTED)) ? dir : undefined;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A directory that holds (or will hold, after extraction or download) cifar-10-batches-bin/. */
export async function resolveDataDir(option: string | undefined, log: (s: string) => void): Promise<string> {
  const dir = resolve(option ?? process.env.DL_CIFAR10_DIR ?? sharedDataset() ?? 'data');
  if (existsSync(join(dir, EXTRACTED))) return dir;
  const archive = join(dir, ARCHIVE);
  if (existsSync(archive) && !writable(dir)) {
    const cache = resolve(process.env.DL_CACHE_DIR ?? join(homedir(), '.cache', 'dl'), 'cifar10');
    if (!existsSync(join(cache, EXTRACTED))) {
      log(`extracting ${archive} into ${cache}`);
      await datasets.CIFAR10.download(cache, { download: true, mirrors: [archive] });
    }
    return cache;
  }
  // Writable: extract the archive in place, or download it (offline, this fails with a message
  // that says where to put the archive).
  try {
    await datasets.CIFAR10.download(dir, { download: true });
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new UsageError(`CIFAR-10 is not in ${dir} and could not be downloaded (${why}); put ${ARCHIVE} into ${dir}, or pass --data-dir with a folder that holds it or ${EXTRACTED}/`);
  }
  return dir;
}
