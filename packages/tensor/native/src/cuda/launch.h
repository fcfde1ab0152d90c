// launch(code, P): the decoder of the parameter array of src/backend/cuda/addon.ts (launch.cc).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace dl::cuda {

/**
 * Checks every operand and attribute of launch `code` (operand count, ranks, dtype codes,
 * shapes, non-null pointers, extents inside live blocks of the current device) and enqueues
 * its kernels on the current device's stream. Throws an Error naming the op on bad input.
 */
void launch(int code, const double* P, size_t len);

/** The launch codes' names in order (CUDA_OPS of addon.ts). */
std::vector<std::string> ops();

}  // namespace dl::cuda
