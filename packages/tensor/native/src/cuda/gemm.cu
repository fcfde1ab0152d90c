// GEMM: cuBLAS when present and the layout allows, else a shared-memory tiled kernel (64 x 64
// tiles of C, 16-deep slices of K, 256 threads with 4 x 4 results each) over arbitrary
// strides. Both accumulate in the operands' precision in a fixed order (deterministic). cuBLAS
// runs with the default math mode: float32 stays float32 (no TF32), as PyTorch's matmul.
#include "cublas.h"
#include "gemm.cuh"

namespace dl::cuda {

namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;

template <typename T>
struct GemmParams {
  const T* A;
  const T* B;
  T* C;
  int64_t M, N, K, batch0, batch1, tiles_n, tiles;
  int64_t ars, acs, abs0, abs1, brs, bcs, bbs0, bbs1, crs, ccs, cbs0, cbs1;
  bool accumulate;
};

template <typename T>
__global__ void __launch_bounds__(256) gemm_kernel(GemmParams<T> p) {
  __shared__ T As[kTileK][kTileM + 1];
  __shared__ T Bs[kTileK][kTileN + 1];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t batches = p.batch0 * p.batch1;
  for (int64_t z = blockIdx.y; z < batches; z += gridDim.y) {
    const int64_t b0 = z / p.batch1, b1 = z - b0 * p.batch1;
    const T* A = p.A + b0 * p.abs0 + b1 * p.abs1;
    const T* B = p.B + b0 * p.bbs0 + b1 * p.bbs1;
    T* C = p.C + b0 * p.cbs0 + b1 * p.cbs1;
    for (int64_t t = blockIdx.x; t < p.tiles; t += gridDim.x) {
      const int64_t m0 = (t / p.tiles_n) * kTileM, n0 = (t % p.tiles_n) * kTileN;
      T acc[4][4];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = T(0);
      for (int64_t k0 = 0; k0 < p.K; k0 += kTileK) {
#pragma unroll
        for (int l = 0; l < 4; l++) {
          const int e = tid + 256 * l;
          const int ar = e / kTileK, ac = e % kTileK;  // A tile: 64 rows x 16 columns
          const int64_t m = m0 + ar, ka = k0 + ac;
          As[ac][ar] = (m < p.M && ka < p.K) ? A[m * p.ars + ka * p.acs] : T(0);
          const int br = e / kTileN, bc = e % kTileN;  // B tile: 16 rows x 64 columns
          const int64_t kb = k0 + br, n = n0 + bc;
          Bs[br][bc] = (kb < p.K && n < p.N) ? B[kb * p.brs + n * p.bcs] : T(0);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kTileK; kk++) {
          T av[4], bv[4];
#pragma unroll
          for (int i = 0; i < 4; i++) av[i] = As[kk][ty + 16 * i];
#pragma unroll
          for (int j = 0; j < 4; j++) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
          for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();
      }
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int64_t m = m0 + ty + 16 * i;
        if (m >= p.M) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const int64_t n = n0 + tx + 16 * j;
          if (n >= p.N) continue;
          T* cp = C + m * p.crs + n * p.ccs;
          *cp = p.accumulate ? *cp + acc[i][j] : acc[i][j];
        }
      }
    }
  }
}

template <typename T>
void run_kernel(const Ctx& ctx, const Gemm& g) {
  GemmParams<T> p;
  p.A = reinterpret_cast<const T*>(g.a.data);
  p.B = reinterpret_cast<const T*>(g.b.data);
  p.C = reinterpret_cast<T*>(g.c.data);
  p.M = g.M;
  p.N = g.N;
  p.K = g.K;
  p.batch0 = g.batch0;
  p.batch1 = g.batch1;
  p.tiles_n = (g.N + kTileN - 1) / kTileN;
  p.tiles = (g.M + kTileM - 1) / kTileM * p.tiles_n;
  p.ars = g.a.rs, p.acs = g.a.cs, p.abs0 = g.a.bs0, p.abs1 = g.a.bs1;
  p.brs = g.b.rs, p.bcs = g.b.cs, p.bbs0 = g.b.bs0, p.bbs1 = g.b.bs1;
  p.crs = g.c.rs, p.ccs = g.c.cs, p.cbs0 = g.c.bs0, p.cbs1 = g.c.bs1;
  p.accumulate = g.accumulate;
  const int64_t batches = g.batch0 * g.batch1;
  const dim3 grid(blocks_for(p.tiles, 1), static_cast<unsigned>(batches < 65535 ? batches : 65535));
  gemm_kernel<T><<<grid, 256, 0, ctx.stream>>>(p);
  DL_CUDA_CHECK_LAUNCH("gemm_kernel");
}

/**
 * How cuBLAS (column-major) reads the row-major-strided matrix X (rows x cols) as X^T:
 * op N with ld = rs when X's columns are unit-stride, op T with ld = cs when its rows are.
 */
struct BlasOperand {
  bool ok;
  int op;
  int64_t ld;
};

BlasOperand blas_operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1)))
    return {true, kCublasOpN, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1)))
    return {true, kCublasOpT, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
  return {false, 0, 0};
}

/**
 * Row-major C = A B is column-major C^T = B^T A^T: cuBLAS gets m = N, n = M, k = K with B as
 * its first operand. False when the layouts or sizes do not fit cuBLAS.
 */
bool try_cublas(const Ctx& ctx, const Gemm& g) {
  if (!ctx.cublas || g.M == 0 || g.N == 0 || g.K == 0) return false;
  const BlasOperand oc = blas_operand(g.M, g.N, g.c.rs, g.c.cs);
  const BlasOperand ob = blas_operand(g.K, g.N, g.b.rs, g.b.cs);
  const BlasOperand oa = blas_operand(g.M, g.K, g.a.rs, g.a.cs);
  if (!oc.ok || oc.op != kCublasOpN || !ob.ok || !oa.ok) return false;
  constexpr int64_t kInt = 0x7fffffff;
  for (int64_t v : {g.M, g.N, g.K, g.batch1, oc.ld, ob.ld, oa.ld})
    if (v > kInt) return false;
  if (g.a.bs1 < 0 || g.b.bs1 < 0 || g.c.bs1 < 0 || (g.batch1 > 1 && g.c.bs1 == 0)) return false;
  const bool dbl = g.dtype == kFloat64;
  const int64_t es = dbl ? 8 : 4;
  for (int64_t b0 = 0; b0 < g.batch0; b0++) {
    const int status = cublas_gemm(ctx.cublas, dbl, ob.op, oa.op, static_cast<int>(g.N), static_cast<int>(g.M),
                                   static_cast<int>(g.K), g.b.data + b0 * g.b.bs0 * es, static_cast<int>(ob.ld),
                                   g.b.bs1, g.a.data + b0 * g.a.bs0 * es, static_cast<int>(oa.ld), g.a.bs1,
                                   g.accumulate, g.c.data + b0 * g.c.bs0 * es, static_cast<int>(oc.ld), g.c.bs1,
                                   static_cast<int>(g.batch1));
    if (status != 0) {
      throw Error(std::string(dbl ? "cublasDgemmStridedBatched" : "cublasSgemmStridedBatched") + " failed: " +
                  cublas_status_name(status) + " (" + std::to_string(status) + ") for M=" + std::to_string(g.M) +
                  " N=" + std::to_string(g.N) + " K=" + std::to_string(g.K) + " batch=" + std::to_string(g.batch1));
    }
  }
  return true;
}

}  // namespace

void gemm(const Ctx& ctx, const Gemm& g) {
  if (g.M == 0 || g.N == 0 || g.batch0 == 0 || g.batch1 == 0) return;
  if (try_cublas(ctx, g)) return;
  DL_SWITCH_FLOAT("matmul", DT, g.dtype, run_kernel<storage_t<DT>>(ctx, g))
}

void matmul(const Ctx& c, const Tensor& a, const Tensor& b, const Tensor& y) {
  Gemm g;
  g.dtype = a.dtype;
  g.M = a.shape[1];
  g.K = a.shape[2];
  g.N = b.shape[2];
  g.batch0 = 1;
  g.batch1 = a.shape[0];
  g.a = MatArg{a.data, a.strides[1], a.strides[2], 0, a.strides[0]};
  g.b = MatArg{b.data, b.strides[1], b.strides[2], 0, b.strides[0]};
  g.c = MatArg{y.data, y.strides[1], y.strides[2], 0, y.strides[0]};
  g.accumulate = false;
  gemm(c, g);
}

}  // namespace dl::cuda
