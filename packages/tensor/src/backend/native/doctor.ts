/**
 * doctor(): what this process can run on and why not more. Reports the backends registered,
 * the CPU backend chosen and why, the CPU features detected (cpuid, in the addon) and the
 * kernels in use, threads, the addon's path and build, the system BLAS, CUDA (driver and
 * runtime versions, GPUs, compiled architectures, cuBLAS), and for each missing piece the
 * reason and the fix. `doctor({ print: true })` also writes the text to stdout.
 */
import { listBackends } from '../../device.js';
import type { CudaLibraryInfo, CudaProbe } from '../cuda/addon.js';
import { cuda, cudaVersion, runsOn } from '../cuda/runtime.js';
import type { NativeInfo, SystemBlasInfo } from './addon.js';
import { BUILD_FIX, currentSelection, failureSummary, selectCpuBackend } from './index.js';
import type { LoadAttempt } from './loader.js';

export interface DoctorIssue {
  what: string;
  reason: string;
  fix: string;
}

export interface DoctorReport {
  /** Registered backends by device type. */
  backends: { deviceType: string; name: string }[];
  cpu: {
    backend: string;
    /** How DL_BACKEND chose it. */
    mode: string;
    /** cpuid features detected (empty without the addon: the TypeScript kernels need none). */
    features: string[];
    brand: string | null;
    /** GEMM micro-kernels: 'avx512' (float32; float64 AVX2), 'avx2+fma', 'portable' or 'typescript'. */
    kernels: string;
    /** Direct-convolution kernels: 'avx512', 'avx2+fma', 'portable' or 'typescript'. */
    convKernels: string;
    threads: number;
    threadsSource: string;
  };
  addon: {
    loaded: boolean;
    path: string | null;
    source: string | null;
    version: string | null;
    build: NativeInfo['build'] | null;
    attempts: LoadAttempt[];
  };
  blas: SystemBlasInfo | null;
  cuda: {
    available: boolean;
    /** Why not (null when available). */
    reason: string | null;
    /** e.g. '13.0'; null when the addon has no usable CUDA part. */
    driverVersion: string | null;
    runtimeVersion: string | null;
    gpus: { index: number; name: string; totalMemory: number; computeCapability: string; multiProcessors: number }[];
    /** SM architectures compiled into the addon. */
    archs: string[];
    /** The device is the host CPU of a DL_CUDA=emulate build (CudaProbe.emulated). */
    emulated: boolean;
    cublas: CudaLibraryInfo | null;
    cudnn: CudaLibraryInfo | null;
  };
  missing: DoctorIssue[];
  text: string;
}

/** The libraries the CUDA part loads at run time, and how to get each. */
const CUDA_LIBRARIES = [
  {
    key: 'cublas',
    name: 'cuBLAS',
    fix: "install cuBLAS (part of the CUDA toolkit: libcublas.so.13 or .12) or add its folder to LD_LIBRARY_PATH; without it matmul and convolution use dl's own CUDA kernels (slower)",
  },
  {
    key: 'cudnn',
    name: 'cuDNN',
    fix: "install cuDNN 8 or 9 (libcudnn.so.9; pip's nvidia-cudnn-cu12/cu13 has it under site-packages/nvidia/cudnn/lib) and set DL_CUDNN_PATH to its folder or add that folder to LD_LIBRARY_PATH; without it convolutions use dl's own CUDA kernels",
  },
] as const;

/** cuBLAS or cuDNN not found, or found but unusable (its handle could not be made), with the fix. */
export function cudaLibraryIssues(probe: Pick<CudaProbe, 'cublas' | 'cudnn'>): DoctorIssue[] {
  return CUDA_LIBRARIES.filter((lib) => !probe[lib.key].found || probe[lib.key].error).map((lib) => ({
    what: `${lib.name} (optional)`,
    reason: probe[lib.key].error ?? 'not found',
    fix: lib.fix,
  }));
}

export function doctor(options: { print?: boolean } = {}): DoctorReport {
  const sel = currentSelection() ?? selectCpuBackend(process.env, { quiet: true });
  const addon = sel.load?.addon ?? null;
  const info = addon?.info() ?? null;
  const blas = addon?.probeBlas() ?? null;
  const missing: DoctorIssue[] = [];
  if (sel.mode === 'ts') {
    missing.push({ what: 'native CPU kernels', reason: 'DL_BACKEND=ts forces the TypeScript kernels', fix: 'unset DL_BACKEND to use the native kernels when the addon is built' });
  } else if (!addon && sel.load) {
    missing.push({ what: 'native CPU kernels', reason: failureSummary(sel.load) || 'no candidate', fix: BUILD_FIX });
  }
  const features: string[] = [];
  if (info) {
    for (const f of ['sse2', 'avx', 'fma', 'avx2', 'avx512f', 'avx512bw', 'avx512vl'] as const) if (info.cpu[f]) features.push(f);
    if (info.gemmKernel === 'portable') {
      missing.push({
        what: 'AVX2/FMA kernels',
        reason: info.cpu.avx2 && info.cpu.fma ? 'the portable kernels were forced (DL_CPU_KERNELS)' : 'this CPU (or OS) does not offer AVX2 and FMA',
        fix: info.cpu.avx2 && info.cpu.fma ? 'unset DL_CPU_KERNELS' : 'none needed: the portable C++ kernels run instead (slower)',
      });
    }
  }
  if (blas && !blas.found) {
    missing.push({ what: 'system OpenBLAS (optional)', reason: blas.error ?? 'not found', fix: 'apt-get install libopenblas0 (only used with DL_BLAS=openblas; our GEMM is used otherwise)' });
  }
  const cudaStatus = cuda.probe();
  const probe = cudaStatus.probe;
  if (!cudaStatus.available) missing.push({ what: 'CUDA', reason: cudaStatus.reason ?? 'unknown', fix: cudaStatus.fix ?? 'none known' });
  // Read again: the handles are made after the first probe, and the call counts move.
  const libraries = probe && cudaStatus.available ? cuda.libraries() : null;
  // The emulated device never loads cuBLAS or cuDNN, and runs on any CPU: nothing is missing for it.
  const emulated = probe?.emulated === true;
  if (libraries && !emulated) missing.push(...cudaLibraryIssues(libraries));
  const gpus = (probe?.devices ?? []).map((d, index) => ({
    index,
    name: d.name,
    totalMemory: d.totalMemory,
    computeCapability: d.computeCapability.join('.'),
    multiProcessors: d.multiProcessors,
  }));
  if (probe && cudaStatus.available && !emulated) {
    for (const g of gpus) {
      const cc = g.computeCapability.replace('.', '');
      if (!runsOn(probe.archs, probe.devices[g.index].computeCapability)) {
        missing.push({
          what: `code for GPU ${g.index} (${g.name}, sm_${cc})`,
          reason: `the addon was compiled for ${probe.archs.join(', ') || 'no architecture'} only, so its kernels cannot run on this GPU`,
          fix: `rebuild the addon for this GPU: DL_CUDA_ARCHS=${cc} pnpm --filter @dl/tensor build:native (a list such as 80,90,${cc} serves several)`,
        });
      }
    }
  }
  const report: Omit<DoctorReport, 'text'> = {
    backends: listBackends(),
    cpu: {
      backend: sel.backend.name,
      mode: sel.mode,
      features,
      brand: info?.cpu.brand ?? null,
      kernels: info ? info.gemmKernel : 'typescript',
      convKernels: info ? info.convKernel : 'typescript',
      threads: info ? info.threads : 1,
      threadsSource: info ? info.threadsSource : 'JavaScript main thread',
    },
    addon: {
      loaded: addon !== null,
      path: sel.load?.path ?? null,
      source: sel.load?.source ?? null,
      version: info?.version ?? null,
      build: info?.build ?? null,
      attempts: sel.load?.attempts ?? [],
    },
    blas,
    cuda: {
      available: cudaStatus.available,
      reason: cudaStatus.reason,
      driverVersion: probe ? cudaVersion(probe.driverVersion) : null,
      runtimeVersion: probe ? cudaVersion(probe.runtimeVersion) : null,
      gpus,
      archs: probe?.archs ?? [],
      emulated,
      cublas: libraries?.cublas ?? probe?.cublas ?? null,
      cudnn: libraries?.cudnn ?? probe?.cudnn ?? null,
    },
    missing,
  };
  const text = formatDoctor(report);
  if (options.print) process.stdout.write(`${text}\n`);
  return { ...report, text };
}

function formatDoctor(r: Omit<DoctorReport, 'text'>): string {
  const lines: string[] = ['dl doctor'];
  lines.push(`  backends: ${r.backends.map((b) => `${b.deviceType} -> ${b.name}`).join(', ')}`);
  lines.push(`  cpu backend: ${r.cpu.backend} (DL_BACKEND ${r.cpu.mode === 'auto' ? 'unset: native when available' : `=${r.cpu.mode}`})`);
  lines.push(`  cpu: ${r.cpu.brand ?? 'unknown (no addon)'}; features: ${r.cpu.features.join(' ') || 'n/a'}`);
  lines.push(`  kernels: GEMM ${r.cpu.kernels}, convolution ${r.cpu.convKernels}`);
  lines.push(`  threads: ${r.cpu.threads} (${r.cpu.threadsSource}; set DL_NUM_THREADS to change)`);
  if (r.addon.loaded) {
    lines.push(`  addon: ${r.addon.path} (${r.addon.source}), version ${r.addon.version}`);
    if (r.addon.build) lines.push(`  build: ${r.addon.build.compiler}, ${r.addon.build.flags}, N-API ${r.addon.build.napiVersion}, ${r.addon.build.date}`);
  } else {
    lines.push('  addon: not loaded');
  }
  for (const a of r.addon.attempts.filter((x) => !x.ok)) lines.push(`    tried ${a.source} ${a.path}: ${a.reason}`);
  if (r.blas) lines.push(`  system BLAS: ${r.blas.found ? r.blas.path : 'not found'}${r.blas.inUse ? ' (in use: DL_BLAS=openblas)' : r.blas.found ? ' (not used; DL_BLAS=openblas to use it for GEMM)' : ''}`);
  if (r.cuda.available) {
    if (r.cuda.emulated) lines.push('  cuda: available, emulated on the host CPU (a DL_CUDA=emulate build, for testing the CUDA path; not fast)');
    else lines.push(`  cuda: available; driver ${r.cuda.driverVersion}, runtime ${r.cuda.runtimeVersion}; compiled for ${r.cuda.archs.join(' ') || 'n/a'}`);
    for (const g of r.cuda.gpus) {
      lines.push(`    GPU ${g.index}: ${g.name}, ${(g.totalMemory / 2 ** 30).toFixed(1)} GiB, compute capability ${g.computeCapability}, ${g.multiProcessors} SMs`);
    }
    for (const lib of CUDA_LIBRARIES) {
      const l = r.cuda[lib.key];
      if (l) lines.push(`    ${lib.name}: ${l.found ? `${l.path} (version ${l.version ?? 'unknown'}, ${l.calls} calls so far)` : 'not found'}`);
    }
  } else {
    lines.push(`  cuda: not available (${r.cuda.reason})`);
    if (r.cuda.driverVersion !== null) lines.push(`    driver ${r.cuda.driverVersion}, runtime ${r.cuda.runtimeVersion}`);
  }
  if (r.missing.length === 0) lines.push('  nothing missing');
  for (const m of r.missing) lines.push(`  missing: ${m.what}: ${m.reason}\n    fix: ${m.fix}`);
  return lines.join('\n');
}
