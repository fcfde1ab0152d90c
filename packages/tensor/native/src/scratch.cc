#include <cstdlib>
#include <new>

#include "common.h"

namespace dl {

namespace {

struct Scratch {
  void* ptr[kScratchSlots] = {};
  std::size_t cap[kScratchSlots] = {};
  ~Scratch() {
    for (int i = 0; i < kScratchSlots; i++) std::free(ptr[i]);
  }
};

thread_local Scratch tl_scratch;

}  // namespace

void* scratch_bytes(int slot, std::size_t bytes) {
  Scratch& s = tl_scratch;
  if (bytes > s.cap[slot]) {
    std::free(s.ptr[slot]);
    // Round up (aligned_alloc wants a multiple of the alignment) and leave room to grow.
    std::size_t cap = (bytes + bytes / 4 + 63) & ~static_cast<std::size_t>(63);
    s.ptr[slot] = std::aligned_alloc(64, cap);
    s.cap[slot] = s.ptr[slot] ? cap : 0;
    if (!s.ptr[slot]) throw std::bad_alloc();
  }
  return s.ptr[slot];
}

void trim_scratch(std::size_t keep_bytes) {
  Scratch& s = tl_scratch;
  for (int i = 0; i < kScratchSlots; i++) {
    if (s.cap[i] > keep_bytes) {
      std::free(s.ptr[i]);
      s.ptr[i] = nullptr;
      s.cap[i] = 0;
    }
  }
}

}  // namespace dl
