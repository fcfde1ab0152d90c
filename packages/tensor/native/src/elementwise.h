// Elementwise kernels over flat runs: each operand is either contiguous (stride 1) or a single
// broadcast value (stride 0). Anything else is left to the TypeScript kernels (the caller
// checks). Large runs are split across the thread pool.
#pragma once

#include <cstdint>

#include "common.h"

namespace dl {

enum BinaryOp : int { kAdd = 0, kSub, kMul, kDiv, kMaximum, kMinimum, kReluBackward, kBinaryOps };
enum CompareOp : int { kEq = 0, kNe, kLt, kLe, kGt, kGe, kCompareOps };

/** y[i] = a[i*sa] op b[i*sb], sa, sb in {0, 1}. T: float, double, int32 (integer ops wrap). */
template <typename T>
void binary(int op, i64 n, const T* a, int sa, const T* b, int sb, T* y);

/** y[i] = a[i*sa] cmp b[i*sb] ? 1 : 0. T: float, double, int32, uint8. */
template <typename T>
void compare(int op, i64 n, const T* a, int sa, const T* b, int sb, std::uint8_t* y);

/** y[i] = c[i*sc] ? a[i*sa] : b[i*sb]. */
template <typename T>
void where(i64 n, const std::uint8_t* c, int sc, const T* a, int sa, const T* b, int sb, T* y);

/** y = max(x, 0), NaN kept, -0 becomes 0 (as Math.max(x, 0)). */
template <typename T>
void relu(i64 n, const T* x, T* y);

}  // namespace dl
