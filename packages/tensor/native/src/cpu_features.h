// CPU features detected at run time with cpuid (and xgetbv: the OS must save the wide registers).
#pragma once

namespace dl {

struct CpuFeatures {
  char vendor[13];
  char brand[49];
  bool sse2;
  bool avx;
  bool fma;
  bool avx2;
  bool avx512f;
  bool avx512vl;
  bool avx512bw;
  /** The OS saves ymm (and zmm) state on context switches (XCR0), so AVX (AVX-512) is usable. */
  bool os_ymm;
  bool os_zmm;
};

const CpuFeatures& cpu_features();

/** AVX2 and FMA both present and enabled by the OS: the AVX2 micro-kernels may run. */
bool cpu_has_avx2_fma();

/** AVX-512 F (and VL, BW) with zmm state enabled by the OS. */
bool cpu_has_avx512();

}  // namespace dl
