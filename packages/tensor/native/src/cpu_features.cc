#include "cpu_features.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DL_X86 1
#endif

namespace dl {

namespace {

#ifdef DL_X86
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  // xgetbv with ecx = 0 (encoded as bytes: not every assembler knows the mnemonic).
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
  std::memset(&f, 0, sizeof f);
  std::strcpy(f.vendor, "unknown");
  std::strcpy(f.brand, "unknown");
#ifdef DL_X86
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned int max_leaf = a;
  std::memcpy(f.vendor + 0, &b, 4);
  std::memcpy(f.vendor + 4, &d, 4);
  std::memcpy(f.vendor + 8, &c, 4);
  f.vendor[12] = 0;

  __get_cpuid(1, &a, &b, &c, &d);
  f.sse2 = (d >> 26) & 1;
  const bool osxsave = (c >> 27) & 1;
  const bool avx_bit = (c >> 28) & 1;
  const bool fma_bit = (c >> 12) & 1;
  if (osxsave) {
    const unsigned long long xcr0 = read_xcr0();
    f.os_ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
    f.os_zmm = (xcr0 & 0xe6) == 0xe6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
  }
  f.avx = avx_bit && f.os_ymm;
  f.fma = fma_bit && f.os_ymm;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = ((b >> 5) & 1) && f.os_ymm;
    f.avx512f = ((b >> 16) & 1) && f.os_zmm;
    f.avx512bw = ((b >> 30) & 1) && f.os_zmm;
    f.avx512vl = ((b >> 31) & 1) && f.os_zmm;
  }

  unsigned int ext = __get_cpuid_max(0x80000000u, nullptr);
  if (ext >= 0x80000004u) {
    unsigned int regs[12];
    for (unsigned int i = 0; i < 3; i++) {
      __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    }
    std::memcpy(f.brand, regs, 48);
    f.brand[48] = 0;
    // Trim the padding some CPUs put around the brand string.
    char* s = f.brand;
    while (*s == ' ') s++;
    std::memmove(f.brand, s, std::strlen(s) + 1);
    for (int i = static_cast<int>(std::strlen(f.brand)) - 1; i >= 0 && f.brand[i] == ' '; i--) f.brand[i] = 0;
  }
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool cpu_has_avx512() {
  const CpuFeatures& f = cpu_features();
  return f.avx512f && f.avx512vl && f.avx512bw;
}

bool cpu_has_avx2_fma() {
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma;
}

}  // namespace dl
