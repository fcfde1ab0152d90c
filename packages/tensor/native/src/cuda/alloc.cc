// The caching device allocator (see alloc.h). Out of memory: the cache is emptied and
// cudaMalloc retried once; a second failure throws an Error that says what was asked, what
// dl holds, what the cache gave back and what the device has left, and how to fix it.
#include "alloc.h"

#include <cstdio>
#include <string>

#include "runtime.h"

namespace dl::cuda {

namespace {

constexpr size_t kSmallMax = size_t(1) << 20;    // small blocks: up to 1 MiB, multiples of 512 B
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t(2) << 20;  // large blocks: multiples of 2 MiB

size_t round_size(size_t bytes) {
  if (bytes <= kSmallMax) return bytes <= kSmallRound ? kSmallRound : (bytes + kSmallRound - 1) / kSmallRound * kSmallRound;
  return (bytes + kLargeRound - 1) / kLargeRound * kLargeRound;
}

std::string human(uint64_t bytes) {
  char buf[64];
  if (bytes >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(bytes) / double(uint64_t(1) << 30));
  else if (bytes >= (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(1 << 20));
  else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", double(bytes) / 1024.0);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  return buf;
}

std::string hex(uintptr_t p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(p));
  return buf;
}

}  // namespace

uintptr_t Allocator::malloc(size_t bytes) {
  if (bytes > (size_t(1) << 52)) throw Error("malloc: " + std::to_string(bytes) + " bytes is beyond any device");
  stats_.allocations++;
  const size_t size = round_size(bytes);
  const bool small = size <= kSmallMax;
  auto& pool = small ? small_ : large_;
  // A cached block is reused for a request of at most its size and at least half (small) or
  // four fifths (large) of it.
  const size_t limit = small ? 2 * size : size + size / 4;
  uintptr_t block;
  size_t block_size;
  auto it = pool.lower_bound(size);
  if (it != pool.end() && it->first <= limit) {
    block_size = it->first;
    block = it->second;
    pool.erase(it);
    stats_.cached_bytes -= block_size;
    stats_.cache_hits++;
  } else {
    block_size = size;
    block = device_malloc(size);
  }
  live_.emplace(block, block_size);
  stats_.allocated_bytes += block_size;
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  return block;
}

uintptr_t Allocator::device_malloc(size_t size) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, size);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear the (non-sticky) error before going on
    const uint64_t freed = stats_.cached_bytes;
    release_cached();
    stats_.oom_retries++;
    e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) cudaGetLastError();
      throw Error("CUDA out of memory on device " + std::to_string(device_) + ": cannot allocate " + human(size) + " (" +
                  std::to_string(size) + " bytes); dl holds " + human(stats_.allocated_bytes) +
                  " in live tensors, the cache gave back " + human(freed) + " before a retry, and the device has " +
                  human(free_b) + " free of " + human(total_b) +
                  ". Fix: use a smaller batch, free tensors you no longer need (dispose() / scope()), or call "
                  "emptyCache(); memoryStats() shows what is allocated and cached");
    }
  }
  if (e != cudaSuccess) throw_cuda(e, "cudaMalloc(&p, size)", __FILE__, __LINE__);
  stats_.device_allocations++;
  stats_.reserved_bytes += size;
  if (stats_.reserved_bytes > stats_.peak_reserved_bytes) stats_.peak_reserved_bytes = stats_.reserved_bytes;
  return reinterpret_cast<uintptr_t>(p);
}

void Allocator::free(uintptr_t ptr) {
  auto it = live_.find(ptr);
  if (it == live_.end()) throw Error("free: " + hex(ptr) + " is not a live block (freed twice, or not from malloc)");
  const size_t size = it->second;
  live_.erase(it);
  (size <= kSmallMax ? small_ : large_).emplace(size, ptr);
  stats_.allocated_bytes -= size;
  stats_.cached_bytes += size;
}

void Allocator::release_cached() {
  if (stats_.cached_bytes == 0) return;
  DL_CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (auto* pool : {&small_, &large_}) {
    for (auto it = pool->begin(); it != pool->end();) {
      DL_CUDA_CHECK(cudaFree(reinterpret_cast<void*>(it->second)));
      stats_.reserved_bytes -= it->first;
      stats_.cached_bytes -= it->first;
      it = pool->erase(it);
    }
  }
}

void Allocator::empty_cache() { release_cached(); }

void Allocator::check_range(uintptr_t base, uintptr_t lo, uintptr_t hi, const std::string& what) const {
  auto it = live_.upper_bound(base);
  if (it == live_.begin() || base >= std::prev(it)->first + std::prev(it)->second) {
    throw Error(what + ": device address " + hex(base) + " is not inside a live block of device " + std::to_string(device_) +
                " (freed, never allocated, or on another device)");
  }
  --it;
  const uintptr_t start = it->first, end = it->first + it->second;
  if (lo < start || hi > end || hi < lo) {
    throw Error(what + ": reaches bytes [" + std::to_string(static_cast<long long>(lo - start)) + ", " +
                std::to_string(static_cast<long long>(hi - start)) + ") of a block of " + std::to_string(it->second) +
                " bytes");
  }
}

}  // namespace dl::cuda
