// GEMM: C = alpha * A @ B + beta * C on strided float32 / float64 operands.
//
// Goto/BLIS structure: for each NC-wide block of columns and KC-deep slice of K, B is packed
// into NR-wide column panels; for each MC-tall block of rows, A is packed into MR-tall row
// panels; then a register-blocked MR x NR micro-kernel runs over every (panel of A, panel of
// B) pair, its B panel staying in L1 while the A block streams from L2. Edge panels are zero
// padded, so the micro-kernel always runs full tiles and only writes back the valid part.
//
// The micro-kernel is chosen at run time: AVX2 + FMA (6 x 16 floats / 6 x 8 doubles, twelve
// ymm accumulators; gemm_x86.cc) when cpuid says so, else portable C++ (gemm.cc); for float32
// with AVX-512, a 6 x 32 kernel over pairs of B panels (gemm_x86_512.cc).
// `gemm_blocked` takes packing functors, so convolution reuses the whole driver with packers
// that read through offset tables (im2col without materialising the column matrix).
#pragma once

#include <cstring>
#include <functional>
#include <type_traits>

#include "common.h"
#include "thread_pool.h"

namespace dl {

template <typename T>
struct GemmTraits;
template <>
struct GemmTraits<float> {
  static constexpr int MR = 6, NR = 16;
  static constexpr i64 KC = 256, MC = 240, NC = 4080;
};
template <>
struct GemmTraits<double> {
  static constexpr int MR = 6, NR = 8;
  static constexpr i64 KC = 256, MC = 72, NC = 2040;
};

/**
 * The micro-kernel: acc[i][j] = sum_p pa[p*MR + i] * pb[p*NR + j] over p < kc, then
 * C[i*rsC + j*csC] = alpha * acc + beta * C for i < mr, j < nr (beta == 0: C is not read).
 * pb is 64-byte aligned.
 */
template <typename T>
using MicroKernel = void (*)(i64 kc, const T* pa, const T* pb, T* c, i64 rsC, i64 csC, int mr, int nr, T alpha, T beta);

template <typename T>
MicroKernel<T> micro_kernel();

/**
 * A wide micro-kernel: the MR x 2NR tile over two consecutive B panels pb0 and pb1 (nr <= 2*NR),
 * otherwise as MicroKernel. wide_kernel() is null where there is none (it is the AVX-512 one for
 * float32; the driver then pairs B panels).
 */
template <typename T>
using WideKernel = void (*)(i64 kc, const T* pa, const T* pb0, const T* pb1, T* c, i64 rsC, i64 csC, int mr, int nr,
                            T alpha, T beta);

template <typename T>
WideKernel<T> wide_kernel();

/** 'avx2+fma' or 'portable': the micro-kernels in use. */
const char* gemm_kernel_name();
/** Whether the AVX2 + FMA micro-kernels are in use (cpuid, unless the portable ones were forced). */
bool kernels_use_avx2();
/** Whether the AVX-512 convolution kernels are in use (cpuid + OS zmm state, unless forced off). */
bool kernels_use_avx512();
/**
 * Forces the kernel family: "auto", "portable", "avx2" (AVX2 + FMA, no AVX-512) or "avx512"
 * (false if unknown or unsupported by this CPU).
 */
bool set_gemm_kernel(const char* name);

// ------------------------------------------------------------------ packing

/** Packs an mc x kc block of A (A[i*rsA + p*csA]) into MR-tall panels: pa[r*kc*MR + p*MR + i]. */
template <typename T, int MR>
void pack_a_strided(const T* A, i64 rsA, i64 csA, i64 mc, i64 kc, T* pa) {
  for (i64 ir = 0; ir < mc; ir += MR) {
    const int mr = static_cast<int>(imin(MR, mc - ir));
    const T* a = A + ir * rsA;
    if (mr == MR && rsA == 1) {
      for (i64 p = 0; p < kc; p++) {
        const T* s = a + p * csA;
        for (int i = 0; i < MR; i++) pa[p * MR + i] = s[i];
      }
    } else if (mr == MR) {
      const T* r[MR];
      for (int i = 0; i < MR; i++) r[i] = a + i * rsA;
      if (csA == 1) {
        for (i64 p = 0; p < kc; p++)
          for (int i = 0; i < MR; i++) pa[p * MR + i] = r[i][p];
      } else {
        for (i64 p = 0; p < kc; p++)
          for (int i = 0; i < MR; i++) pa[p * MR + i] = r[i][p * csA];
      }
    } else {
      for (i64 p = 0; p < kc; p++) {
        int i = 0;
        for (; i < mr; i++) pa[p * MR + i] = a[i * rsA + p * csA];
        for (; i < MR; i++) pa[p * MR + i] = T(0);
      }
    }
    pa += MR * kc;
  }
}

/** Packs a kc x nc block of B (B[p*rsB + j*csB]) into NR-wide panels: pb[r*kc*NR + p*NR + j]. */
template <typename T, int NR>
void pack_b_strided(const T* B, i64 rsB, i64 csB, i64 kc, i64 nc, T* pb) {
  for (i64 jr = 0; jr < nc; jr += NR) {
    const int nr = static_cast<int>(imin(NR, nc - jr));
    const T* b = B + jr * csB;
    if (nr == NR && csB == 1) {
      for (i64 p = 0; p < kc; p++) std::memcpy(pb + p * NR, b + p * rsB, NR * sizeof(T));
    } else if (nr == NR && rsB == 1) {
      for (int j = 0; j < NR; j++) {
        const T* s = b + j * csB;
        for (i64 p = 0; p < kc; p++) pb[p * NR + j] = s[p];
      }
    } else {
      for (i64 p = 0; p < kc; p++) {
        int j = 0;
        for (; j < nr; j++) pb[p * NR + j] = b[p * rsB + j * csB];
        for (; j < NR; j++) pb[p * NR + j] = T(0);
      }
    }
    pb += NR * kc;
  }
}

/**
 * A matrix read through offset tables: M[r][c] = src[rowOff[r] + colOff[c]] (im2col and its
 * transpose, strided 4-D tensors viewed as matrices). `contig[c / NR]` (optional) says that
 * panel's NR columns are consecutive in memory (colOff[c + j] == colOff[c] + j).
 */
template <typename T>
struct TableMatrix {
  const T* src;
  const i64* rowOff;
  const i64* colOff;
  const unsigned char* contig;  // per NR-wide column panel, or null
};

/** Packs rows [r0, r0+mc) x cols [c0, c0+kc) of a TableMatrix as A (MR-tall panels). */
template <typename T, int MR>
void pack_a_table(const TableMatrix<T>& m, i64 r0, i64 mc, i64 c0, i64 kc, T* pa) {
  const i64* co = m.colOff + c0;
  for (i64 ir = 0; ir < mc; ir += MR) {
    const int mr = static_cast<int>(imin(MR, mc - ir));
    const i64* ro = m.rowOff + r0 + ir;
    for (i64 p = 0; p < kc; p++) {
      const T* s = m.src + co[p];
      int i = 0;
      for (; i < mr; i++) pa[p * MR + i] = s[ro[i]];
      for (; i < MR; i++) pa[p * MR + i] = T(0);
    }
    pa += MR * kc;
  }
}

/** Packs rows [r0, r0+kc) x cols [c0, c0+nc) of a TableMatrix as B (NR-wide panels); c0 % NR == 0. */
template <typename T, int NR>
void pack_b_table(const TableMatrix<T>& m, i64 r0, i64 kc, i64 c0, i64 nc, T* pb) {
  const i64* ro = m.rowOff + r0;
  for (i64 jr = 0; jr < nc; jr += NR) {
    const int nr = static_cast<int>(imin(NR, nc - jr));
    const i64* co = m.colOff + c0 + jr;
    if (nr == NR && m.contig && m.contig[(c0 + jr) / NR]) {
      const T* s = m.src + co[0];
      for (i64 p = 0; p < kc; p++) std::memcpy(pb + p * NR, s + ro[p], NR * sizeof(T));
    } else if (nr == NR) {
      for (i64 p = 0; p < kc; p++) {
        const T* s = m.src + ro[p];
        for (int j = 0; j < NR; j++) pb[p * NR + j] = s[co[j]];
      }
    } else {
      for (i64 p = 0; p < kc; p++) {
        const T* s = m.src + ro[p];
        int j = 0;
        for (; j < nr; j++) pb[p * NR + j] = s[co[j]];
        for (; j < NR; j++) pb[p * NR + j] = T(0);
      }
    }
    pb += NR * kc;
  }
}

/** Flags the NR-wide panels of colOff (length n) whose columns are consecutive in memory. */
void contiguous_panels(const i64* colOff, i64 n, int NR, unsigned char* flags);

// ------------------------------------------------------------------ drivers

/** C = beta * C over an M x N strided matrix (beta == 0 writes zeros). */
template <typename T>
void scale_matrix(i64 M, i64 N, T beta, T* C, i64 rsC, i64 csC) {
  for (i64 i = 0; i < M; i++)
    for (i64 j = 0; j < N; j++) {
      T& c = C[i * rsC + j * csC];
      c = beta == T(0) ? T(0) : beta * c;
    }
}

/**
 * An operand packed once for a whole product, in the layout the packers write block by block:
 * for each KC-deep slice [pc, pc+kc) of K, the R-wide panels of all `lines` rows of A (R = MR)
 * or columns of B (R = NR). Tiles of a product then read their blocks in place (`block`)
 * instead of each packing its own copy: a tiling tm x tn packs A tn times and B tm times.
 */
template <typename T, int R>
struct Prepacked {
  T* data;
  i64 lines;

  static i64 size(i64 lines, i64 K) { return round_up(lines, R) * K; }
  /** The packed block of lines [l0, ...) (l0 % R == 0) for the slice starting at pc (pc % KC == 0). */
  T* block(i64 pc, i64 l0, i64 kc) const { return data + pc * round_up(lines, R) + l0 * kc; }
};

/**
 * Packs a whole operand of K x lines into `out` with pack(l0, nl, pc, kc, dst), lines cut into
 * parallel tasks of whole panels (KC from GemmTraits<T>).
 */
template <typename T, int R, class Pack>
void prepack(const Prepacked<T, R>& out, i64 K, i64 KC, Pack&& pack) {
  ThreadPool& pool = ThreadPool::instance();
  const i64 panels = (out.lines + R - 1) / R;
  const i64 chunks = imin(panels, 4 * static_cast<i64>(pool.size()));
  const i64 per = (panels + chunks - 1) / chunks;
  const i64 slices = (K + KC - 1) / KC;
  pool.run(slices * chunks, pool.size(), [&](i64 t, int) {
    const i64 pc = (t / chunks) * KC, kc = imin(KC, K - pc);
    const i64 l0 = (t % chunks) * per * R, nl = imin(per * R, out.lines - l0);
    if (nl > 0) pack(l0, nl, pc, kc, out.block(pc, l0, kc));
  });
}

/** What a packer produced: a packer may return the block to read (prepacked), or fill `buf`. */
template <typename T, class Pack>
const T* packed(Pack& pack, i64 a, i64 b, i64 c, i64 d, T* buf) {
  if constexpr (std::is_void_v<decltype(pack(a, b, c, d, buf))>) {
    pack(a, b, c, d, buf);
    return buf;
  } else {
    return pack(a, b, c, d, buf);
  }
}

/**
 * The blocked algorithm on the calling thread. packA(ic, mc, pc, kc, pa) packs rows
 * [ic, ic+mc) x k [pc, pc+kc) of A; packB(pc, kc, jc, nc, pb) packs k [pc, pc+kc) x columns
 * [jc, jc+nc) of B; either may instead return a pointer to that block packed beforehand
 * (Prepacked). C[i*rsC + j*csC] for i < M, j < N.
 */
template <typename T, class PackA, class PackB>
void gemm_blocked(i64 M, i64 N, i64 K, T alpha, PackA&& packA, PackB&& packB, T beta, T* C, i64 rsC, i64 csC) {
  using G = GemmTraits<T>;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_matrix(M, N, beta, C, rsC, csC);
    return;
  }
  const MicroKernel<T> uk = micro_kernel<T>();
  const WideKernel<T> wide = wide_kernel<T>();
  const i64 kcMax = imin(G::KC, K);
  T* pa = scratch<T>(kPackA, static_cast<std::size_t>(round_up(imin(G::MC, M), G::MR) * kcMax));
  T* pb = scratch<T>(kPackB, static_cast<std::size_t>(round_up(imin(G::NC, N), G::NR) * kcMax));
  for (i64 jc = 0; jc < N; jc += G::NC) {
    const i64 nc = imin(G::NC, N - jc);
    for (i64 pc = 0; pc < K; pc += G::KC) {
      const i64 kc = imin(G::KC, K - pc);
      const T* pbb = packed<T>(packB, pc, kc, jc, nc, pb);
      const T b = pc == 0 ? beta : T(1);
      for (i64 ic = 0; ic < M; ic += G::MC) {
        const i64 mc = imin(G::MC, M - ic);
        const T* pab = packed<T>(packA, ic, mc, pc, kc, pa);
        for (i64 jr = 0; jr < nc;) {
          const T* pbj = pbb + jr * kc;
          T* cj = C + ic * rsC + (jc + jr) * csC;
          if (wide && nc - jr > G::NR) {
            const int nr = static_cast<int>(imin(2 * G::NR, nc - jr));
            for (i64 ir = 0; ir < mc; ir += G::MR) {
              const int mr = static_cast<int>(imin(G::MR, mc - ir));
              wide(kc, pab + ir * kc, pbj, pbj + G::NR * kc, cj + ir * rsC, rsC, csC, mr, nr, alpha, b);
            }
            jr += 2 * G::NR;
          } else {
            const int nr = static_cast<int>(imin(G::NR, nc - jr));
            for (i64 ir = 0; ir < mc; ir += G::MR) {
              const int mr = static_cast<int>(imin(G::MR, mc - ir));
              uk(kc, pab + ir * kc, pbj, cj + ir * rsC, rsC, csC, mr, nr, alpha, b);
            }
            jr += G::NR;
          }
        }
      }
    }
  }
}

/**
 * Runs tile(i0, m, j0, n) over tiles of the C of an M x N x K product (edges on MR x NR panel
 * boundaries) on the thread pool, or once over all of C on this thread when the product is small
 * or the caller is already inside a parallel region. A tile computes its block of C alone, so
 * every element of C is summed in the same order whatever the tiling.
 */
void for_gemm_tiles(i64 M, i64 N, i64 K, int MR, int NR, int max_threads,
                    const std::function<void(i64 i0, i64 m, i64 j0, i64 n)>& tile);

/**
 * Strided GEMM, multithreaded over tiles of C when large enough (and not already inside a
 * parallel region): C = alpha * A @ B + beta * C with A[i*rsA + p*csA], B[p*rsB + j*csB].
 * C must not overlap A or B. `max_threads` <= 0 means the pool's size.
 */
template <typename T>
void gemm(i64 M, i64 N, i64 K, T alpha, const T* A, i64 rsA, i64 csA, const T* B, i64 rsB, i64 csB, T beta, T* C,
          i64 rsC, i64 csC, int max_threads = 0);

/** Single-threaded strided GEMM (the body of one tile of `gemm`). */
template <typename T>
void gemm_serial(i64 M, i64 N, i64 K, T alpha, const T* A, i64 rsA, i64 csA, const T* B, i64 rsB, i64 csB, T beta,
                 T* C, i64 rsC, i64 csC);

/**
 * Batched strided GEMM: for b < batch, C + b*sC = A + b*sA @ B + b*sB (strides may be 0 for
 * A and B). Parallel over the batch when each product is small, else within each product.
 */
template <typename T>
void gemm_batched(i64 batch, i64 M, i64 N, i64 K, T alpha, const T* A, i64 sA, i64 rsA, i64 csA, const T* B, i64 sB,
                  i64 rsB, i64 csB, T beta, T* C, i64 sC, i64 rsC, i64 csC);

}  // namespace dl
