// The emulated stream as the host stand-ins of cuBLAS and cuDNN (host_*.cc) see it: they put
// their work on it, so that it runs in stream order with the kernels (emu.cc). The handle the
// addon passes to cublasSetStream / cudnnSetStream points to this.
#pragma once

struct CUstream_st {
  /** Enqueues run(arg) behind everything on the stream; run owns arg. */
  void (*enqueue)(void (*run)(void* arg), void* arg);
};

#ifdef __cplusplus
#include <functional>
#include <utility>

namespace dl_emu {

/** Puts `work` on `stream` (a stand-in's deferred part: what the library would run on the GPU). */
inline void enqueue_on(CUstream_st* stream, std::function<void()> work) {
  stream->enqueue(
      [](void* p) {
        auto* f = static_cast<std::function<void()>*>(p);
        (*f)();
        delete f;
      },
      new std::function<void()>(std::move(work)));
}

}  // namespace dl_emu
#endif
