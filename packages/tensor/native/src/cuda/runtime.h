// The CUDA runtime side of the addon: errors as C++ exceptions, the probe, per-device state
// (current device, one non-blocking stream, the caching allocator, the cuBLAS and cuDNN handles, pinned
// staging for transfers, the device error flag) and synchronisation. See runtime.cc.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "alloc.h"
#include "kernels.h"

namespace dl::cuda {

/** Every failure of the CUDA part (a CUDA or cuBLAS call, a bad argument); the binding makes it a JS Error. */
using Error = std::runtime_error;

/** Throws "call failed: cudaErrorX (text) at cuda/file.cc:line" (+ what to do for some errors). */
[[noreturn]] void throw_cuda(cudaError_t e, const char* call, const char* file, int line);

#define DL_CUDA_CHECK(call)                                                              \
  do {                                                                                   \
    const cudaError_t dl_cuda_status_ = (call);                                          \
    if (dl_cuda_status_ != cudaSuccess) ::dl::cuda::throw_cuda(dl_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

/** After a kernel launch: a bad launch configuration is reported at once, naming the kernel. */
#define DL_CUDA_CHECK_LAUNCH(kernel)                                                     \
  do {                                                                                   \
    const cudaError_t dl_cuda_status_ = cudaGetLastError();                              \
    if (dl_cuda_status_ != cudaSuccess) ::dl::cuda::throw_cuda(dl_cuda_status_, "launch of " kernel, __FILE__, __LINE__); \
  } while (0)

/** Held by every entry point of the binding (worker threads may share the process state). */
std::recursive_mutex& api_mutex();

struct DeviceInfo {
  std::string name;
  size_t total_memory;
  int major, minor, multiprocessors;
};

struct ProbeResult {
  bool available;
  std::string reason;  // empty when available
  int device_count, driver_version, runtime_version;
  std::vector<DeviceInfo> devices;
};

/** Never throws: what the driver and runtime say. */
ProbeResult probe() noexcept;
/** The architectures compiled into the addon (DL_CUDA_ARCHS from build.mjs). */
std::vector<std::string> compiled_archs();

class Device {
 public:
  /** The launch context of op `code` on this device. */
  Ctx ctx(int code) const { return Ctx{stream_, ErrSite{err_dev_, code}, cublas_, cudnn_}; }
  /** Copies host bytes to dst through pinned staging; src may be reused on return. */
  void upload(uintptr_t dst, const void* src, size_t bytes);
  /** Copies device bytes to dst, waiting for the stream; reports a pending device error. */
  void download(void* dst, uintptr_t src, size_t bytes);
  /** Enqueues a fill of `bytes` at dst with the byte `value`. */
  void memset(uintptr_t dst, size_t bytes, int value);
  /** Waits for the stream; reports (and clears) a pending device error. */
  void synchronize();

  int index() const { return index_; }
  Allocator alloc;

  /** Creates the state of device `index` (the caller has checked that it exists). */
  static Device* create(int index);

 private:
  static constexpr int kStagingChunks = 4;
  static constexpr size_t kStagingBytes = size_t(4) << 20;

  void ensure_staging();
  char* staging_take(size_t n, bool whole_chunk);
  void staging_mark();

  int index_ = 0;
  cudaStream_t stream_ = nullptr;
  void* cublas_ = nullptr;
  void* cudnn_ = nullptr;
  DeviceError* err_dev_ = nullptr;
  DeviceError* err_host_ = nullptr;  // pinned
  bool staging_ready_ = false;
  char* staging_[kStagingChunks] = {};
  cudaEvent_t staging_done_[kStagingChunks] = {};
  int staging_cur_ = 0;
  size_t staging_fill_ = 0;
};

/** The current device's state, created on first use; throws when CUDA cannot be used. */
Device& current_device();
/** Makes `index` current (creating its state); throws for a device that does not exist. */
void set_device(int index);
/** Returns a block to the cache of whichever device allocated it. */
void free_block(uintptr_t ptr);

/** Scratch device memory of the current device for one launcher, cached again when it goes out of scope. */
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : dev_(&current_device()), ptr_(dev_->alloc.malloc(bytes)) {}
  ~DeviceBuffer() {
    try {
      dev_->alloc.free(ptr_);
    } catch (...) {
    }
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return reinterpret_cast<T*>(ptr_);
  }

 private:
  Device* dev_;
  uintptr_t ptr_;
};

}  // namespace dl::cuda
