// Elementwise kernels over strided operands (broadcasting is a stride of 0). The caller
// coalesces the dims (`Strided`); the kernels split the elements into chunks over the thread
// pool and run each innermost row as a plain loop, one loop per combination of unit and zero
// inner strides (vectorised), a strided loop otherwise.
#pragma once

#include <cstdint>

#include "common.h"

namespace dl {

enum BinaryOp : int { kAdd = 0, kSub, kMul, kDiv, kMaximum, kMinimum, kReluBackward, kGeluBackward, kBinaryOps };
enum CompareOp : int { kEq = 0, kNe, kLt, kLe, kGt, kGe, kCompareOps };
enum UnaryOp : int {
  kRelu = 0, kNeg, kAbs, kSqrt, kRsqrt, kExp, kLog, kSin, kCos, kTanh, kSigmoid, kGelu, kErf, kSign, kFloor, kCeil, kRound,
  kCopy, kUnaryOps
};

constexpr int kMaxDims = 16;

/**
 * The iteration of an elementwise op: `rank` dims, innermost first, and the strides of each
 * operand (y first, then the inputs in argument order) along them. Element (i0, i1, ...) of
 * operand k is at its base pointer + sum of i_d * stride[k][d].
 */
struct Strided {
  int rank;
  i64 size[kMaxDims];
  i64 stride[4][kMaxDims];
};

/** y = a op b. T: float, double, int32 (integer ops wrap). */
template <typename T>
void binary(int op, const Strided& it, const T* a, const T* b, T* y);

/** y = a cmp b ? 1 : 0. T: float, double, int32, uint8. */
template <typename T>
void compare(int op, const Strided& it, const T* a, const T* b, std::uint8_t* y);

/** y = c ? a : b. */
template <typename T>
void where(const Strided& it, const std::uint8_t* c, const T* a, const T* b, T* y);

/**
 * y = op(x), as the TypeScript kernels compute it: relu = max(x, 0) with NaN kept and -0 made 0
 * (Math.max); neg and abs wrap on int32; sqrt and rsqrt in double, then rounded once
 * (1 / Math.sqrt), so both backends give the same bits. exp ... round are evaluated in double
 * too and rounded once, with the TypeScript kernels' special values (sigmoid never overflows,
 * gelu and erf by the fit of backend/cpu/erf.ts, sign(-0) = 0, round half to even); on int32
 * sign is -1, 0 or 1 and floor, ceil, round copy. kCopy copies (the copy, contiguous and cat
 * kernels: a strided layout to another). T: float, double, int32 (relu, neg, abs, sign, floor,
 * ceil, round, copy only).
 */
template <typename T>
void unary(int op, const Strided& it, const T* x, T* y);

}  // namespace dl
