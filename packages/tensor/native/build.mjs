#!/usr/bin/env node
// Builds the native addon of @dl/tensor: native/build/Release/dl_native.node.
//
//   pnpm --filter @dl/tensor build:native        (= node native/build.mjs)
//
// No network and no node-gyp: it compiles native/src/*.cc with the C++ compiler (CXX, else
// g++, else c++) against the Node-API headers that ship with the running Node
// (<prefix of process.execPath>/include/node; override with DL_NODE_INCLUDE) and
// node-addon-api's headers (a dependency of @dl/tensor). Objects are cached in
// native/build/obj and rebuilt when a source, a header or the flags change.
//
// Options:
//   --best-effort  a failed build prints one warning and exits 0 (the package `build` script
//                  uses it: without a compiler the TypeScript kernels still work)
//   --prebuild     copy the result to prebuilds/<platform>-<arch>/dl_native.node (what the
//                  published package ships; CI runs the package build before packing). An
//                  existing copy there is refreshed on every build, since the loader prefers it.
//   --clean        remove native/build first
//   --verbose      print the compiler commands
//
// The binary targets the baseline of the architecture (x86-64: SSE2), so one prebuilt runs on
// any x86-64 CPU; the AVX2/FMA kernels are compiled with function target attributes and
// picked at run time by cpuid. libstdc++ and libgcc are linked statically for the same reason.
//
// CUDA (issue 6) plugs in here: when nvcc is found, compile native/src/cuda/*.cu, add
// -DDL_WITH_CUDA to the C++ flags and link the CUDA objects (the runtime is loaded at run time).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PKG = dirname(HERE);
const SRC = join(HERE, 'src');
const BUILD = join(HERE, 'build');
const OBJ = join(BUILD, 'obj');
const OUT = join(BUILD, 'Release', 'dl_native.node');

const args = new Set(process.argv.slice(2));
const bestEffort = args.has('--best-effort');
const verbose = args.has('--verbose');

class BuildError extends Error {
  constructor(message, fix) {
    super(message);
    this.fix = fix;
  }
}

function nodeInclude() {
  const candidates = [
    process.env.DL_NODE_INCLUDE,
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  ].filter(Boolean);
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')));
  if (!found) {
    throw new BuildError(
      `Node-API headers not found (looked for node_api.h in ${candidates.join(', ')})`,
      'use an official Node build (it ships include/node next to bin/node), or set DL_NODE_INCLUDE to a folder holding node_api.h',
    );
  }
  return found;
}

function addonApiInclude() {
  try {
    const require = createRequire(join(PKG, 'package.json'));
    return dirname(require.resolve('node-addon-api/package.json'));
  } catch {
    throw new BuildError('node-addon-api is not installed', 'run `pnpm install` (node-addon-api is a dependency of @dl/tensor)');
  }
}

function run(cmd, argv) {
  if (verbose) console.log([cmd, ...argv].join(' '));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', (e) => reject(new BuildError(`cannot run ${cmd}: ${e.message}`, 'install a C++17 compiler (e.g. apt-get install g++) or set CXX')));
    child.on('close', (code) => {
      if (err && (code !== 0 || verbose)) process.stderr.write(err);
      if (code === 0) resolve();
      else reject(new BuildError(`${cmd} exited with ${code} (${argv.find((a) => a.endsWith('.cc')) ?? 'link'})`));
    });
  });
}

function findCompiler() {
  const names = [process.env.CXX, 'g++', 'c++', 'clang++'].filter(Boolean);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const n of names) {
      if (n.includes('/') ? existsSync(n) : existsSync(join(dir, n))) return n;
    }
  }
  throw new BuildError(`no C++ compiler found (tried ${names.join(', ')})`, 'install one (e.g. apt-get install g++) or set CXX');
}

const mtime = (f) => statSync(f).mtimeMs;

async function build() {
  if (args.has('--clean')) rmSync(BUILD, { recursive: true, force: true });
  if (process.platform === 'win32') throw new BuildError('building on Windows is not supported yet', 'use the TypeScript kernels (DL_BACKEND=ts)');
  const cxx = findCompiler();
  const version = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')).version;
  const includes = [nodeInclude(), addonApiInclude(), SRC];
  const flags = [
    '-std=c++17', '-O3', '-fPIC', '-fvisibility=hidden', '-pthread', '-fexceptions', '-fno-math-errno',
    '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers',
    '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DBUILDING_NODE_EXTENSION',
    `-DDL_ADDON_VERSION="${version}"`,
    ...includes.map((d) => `-I${d}`),
  ];
  const shownFlags = '-std=c++17 -O3 -fPIC -fvisibility=hidden -pthread -fno-math-errno (AVX2/FMA kernels via target attributes)';
  const linkFlags = ['-shared', '-pthread', '-static-libstdc++', '-static-libgcc', ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : ['-ldl', '-s'])];
  const sources = readdirSync(SRC).filter((f) => f.endsWith('.cc')).sort();
  const headers = readdirSync(SRC).filter((f) => f.endsWith('.h')).map((f) => join(SRC, f));
  headers.push(join(includes[1], 'napi.h'), join(includes[1], 'napi-inl.h'));
  mkdirSync(OBJ, { recursive: true });
  mkdirSync(dirname(OUT), { recursive: true });

  // Flags changed: rebuild everything.
  const stamp = join(OBJ, 'flags.txt');
  const flagText = JSON.stringify({ cxx, flags, linkFlags });
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== flagText) {
    for (const f of readdirSync(OBJ)) rmSync(join(OBJ, f), { force: true });
    writeFileSync(stamp, flagText);
  }
  const newestHeader = Math.max(...headers.filter(existsSync).map(mtime), mtime(stamp));
  const stale = sources.filter((s) => {
    const o = join(OBJ, s.replace(/\.cc$/, '.o'));
    return !existsSync(o) || mtime(o) < Math.max(mtime(join(SRC, s)), newestHeader);
  });
  const objects = sources.map((s) => join(OBJ, s.replace(/\.cc$/, '.o')));
  if (stale.length === 0 && existsSync(OUT) && mtime(OUT) >= Math.max(...objects.map(mtime))) {
    console.log(`dl native: up to date (${relative(process.cwd(), OUT)})`);
    return;
  }
  const t0 = Date.now();
  console.log(`dl native: compiling ${stale.length} of ${sources.length} sources with ${cxx}`);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const queue = [...stale];
  const jobs = Math.max(1, Math.min(queue.length, os.availableParallelism?.() ?? os.cpus().length));
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        const extra = s === 'binding.cc' ? [`-DDL_BUILD_DATE="${date}"`, `-DDL_BUILD_FLAGS="${shownFlags}"`] : [];
        await run(cxx, [...flags, ...extra, '-c', join(SRC, s), '-o', join(OBJ, s.replace(/\.cc$/, '.o'))]);
      }
    }),
  );
  const tmp = `${OUT}.tmp`;
  await run(cxx, [...objects, ...linkFlags, '-o', tmp]);
  // Replace by rename, never in place: a running process may have the old binary mapped.
  renameSync(tmp, OUT);
  console.log(`dl native: built ${relative(process.cwd(), OUT)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

function prebuild() {
  const dir = join(PKG, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dir, { recursive: true });
  const dst = join(dir, 'dl_native.node');
  if (existsSync(dst) && readFileSync(dst).equals(readFileSync(OUT))) return;
  copyFileSync(OUT, `${dst}.tmp`);
  renameSync(`${dst}.tmp`, dst);
  console.log(`dl native: copied to ${relative(process.cwd(), join(dir, 'dl_native.node'))}`);
}

try {
  await build();
  // --prebuild makes the prebuilt copy; an existing one is always refreshed, since the loader
  // prefers it to native/build (a stale copy would shadow this build).
  if (args.has('--prebuild') || existsSync(join(PKG, 'prebuilds', `${process.platform}-${process.arch}`, 'dl_native.node'))) prebuild();
} catch (e) {
  const fix = e instanceof BuildError && e.fix ? `; fix: ${e.fix}` : '';
  const msg = `dl native: build failed: ${e.message}${fix}`;
  if (bestEffort) {
    console.warn(`${msg}\ndl native: continuing without the native addon (the TypeScript CPU kernels will be used)`);
    process.exit(0);
  }
  console.error(msg);
  process.exit(1);
}
