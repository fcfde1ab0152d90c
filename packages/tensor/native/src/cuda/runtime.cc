// Errors, probe, per-device state, transfers and synchronisation (see runtime.h).
//
// Transfers go through pinned staging: kStagingChunks chunks of kStagingBytes, each with an
// event recorded after the last copy that used it. An upload copies the JS bytes into the
// current chunk (several small uploads share one) and enqueues cudaMemcpyAsync; a chunk is
// written again only after its event completed. A download takes whole chunks, up to
// kStagingChunks copies in flight, waits for each and copies it out; at the end it checks
// the device error flag (which waits for the stream).
//
// Device state is created on first use and never destroyed: freeing CUDA resources from
// static destructors at exit races the driver's own teardown.
#include "runtime.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "cublas.h"
#include "cudnn.h"
#include "ops.h"

#ifndef DL_CUDA_ARCHS
#define DL_CUDA_ARCHS ""
#endif

namespace dl::cuda {

namespace {

/** "…/native/src/cuda/alloc.cc" -> "cuda/alloc.cc". */
const char* short_path(const char* file) {
  const char* p = std::strstr(file, "src/cuda/");
  return p ? p + 4 : file;
}

/** Errors after which the context cannot be used any more. */
bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string describe(const DeviceError& e) {
  std::string m = op_name(e.op);
  const std::string limit = number(e.limit);
  switch (e.kind) {
    case kErrTarget:
      m += ": target " + number(e.value) + " is out of range for " + limit + " classes (expected 0.." +
           number(e.limit - 1) + ", or ignoreIndex " + number(e.extra) + ")";
      break;
    case kErrIndex:
      m += ": index " + number(e.value) + " is out of range for a dimension of size " + limit;
      break;
    case kErrNonFinite:
      m += ": cannot convert the non-finite value " + number(e.value) + " to " +
           dtype_name(static_cast<int>(e.extra)) + "; replace NaN and Infinity first";
      break;
    default:
      m += ": device error of unknown kind " + std::to_string(e.kind);
  }
  return m + " (found on the device by an earlier launch, reported at this synchronising call)";
}

int g_current = 0;
std::vector<Device*> g_devices;  // by index; never freed (see the file comment)
thread_local int t_device = -1;  // the device cudaSetDevice last made current on this thread

int device_count() {
  int count = 0;
  DL_CUDA_CHECK(cudaGetDeviceCount(&count));
  return count;
}

}  // namespace

void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  std::string msg = std::string(call) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ") at " +
                    short_path(file) + ":" + std::to_string(line);
  if (is_sticky(e)) {
    msg += "; the CUDA context is unusable after this error: restart the process (CUDA_LAUNCH_BLOCKING=1 reports "
           "it at the launch that caused it)";
  } else {
    cudaGetLastError();  // clear it, so that it does not resurface at the next call
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)
      msg += "; no usable NVIDIA GPU and driver here (nvidia-smi should list a GPU): use device 'cpu'";
  }
  throw Error(msg);
}

std::recursive_mutex& api_mutex() {
  static std::recursive_mutex m;
  return m;
}

ProbeResult probe() noexcept {
  ProbeResult r{false, "", 0, 0, 0, {}};
  try {
    if (cudaDriverGetVersion(&r.driver_version) != cudaSuccess) {
      r.driver_version = 0;
      cudaGetLastError();
    }
    if (cudaRuntimeGetVersion(&r.runtime_version) != cudaSuccess) {
      r.runtime_version = 0;
      cudaGetLastError();
    }
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      r.reason = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
      cudaGetLastError();
      return r;
    }
    r.device_count = count;
    for (int i = 0; i < count; i++) {
      cudaDeviceProp p;
      if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
        cudaGetLastError();
        continue;
      }
      r.devices.push_back(DeviceInfo{p.name, p.totalGlobalMem, p.major, p.minor, p.multiProcessorCount});
    }
    r.available = count > 0;
    if (!r.available) r.reason = "no CUDA device found (cudaGetDeviceCount returned 0)";
  } catch (const std::exception& ex) {
    r.available = false;
    r.reason = ex.what();
  }
  return r;
}

std::vector<std::string> compiled_archs() {
  std::vector<std::string> out;
  std::istringstream in(DL_CUDA_ARCHS);
  for (std::string a; in >> a;) out.push_back(a);
  return out;
}

Device* Device::create(int index) {
  DL_CUDA_CHECK(cudaSetDevice(index));
  t_device = index;
  auto* d = new Device();
  d->index_ = index;
  DL_CUDA_CHECK(cudaStreamCreateWithFlags(&d->stream_, cudaStreamNonBlocking));
  DL_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d->err_dev_), sizeof(DeviceError)));
  DL_CUDA_CHECK(cudaMemsetAsync(d->err_dev_, 0, sizeof(DeviceError), d->stream_));
  DL_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&d->err_host_), sizeof(DeviceError), cudaHostAllocDefault));
  std::memset(d->err_host_, 0, sizeof(DeviceError));
  d->alloc.bind(index, d->stream_);
  d->cublas_ = cublas_create(d->stream_, index);
  d->cudnn_ = cudnn_create(d->stream_, index);
  return d;
}

Device& current_device() {
  if (g_current >= static_cast<int>(g_devices.size())) g_devices.resize(g_current + 1, nullptr);
  if (!g_devices[g_current]) {
    const int count = device_count();
    if (g_current >= count)
      throw Error("CUDA device " + std::to_string(g_current) + " does not exist (" + std::to_string(count) + " found)");
    g_devices[g_current] = Device::create(g_current);
  }
  if (t_device != g_current) {
    DL_CUDA_CHECK(cudaSetDevice(g_current));
    t_device = g_current;
  }
  return *g_devices[g_current];
}

void set_device(int index) {
  if (index < 0) throw Error("setDevice: the device index must be >= 0, got " + std::to_string(index));
  const int count = device_count();
  if (index >= count)
    throw Error("setDevice(" + std::to_string(index) + "): there " + (count == 1 ? "is " : "are ") +
                std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s"));
  g_current = index;
  current_device();
}

void free_block(uintptr_t ptr) {
  for (Device* d : g_devices) {
    if (d && d->alloc.owns(ptr)) {
      d->alloc.free(ptr);
      return;
    }
  }
  current_device().alloc.free(ptr);  // throws: not a live block
}

// ------------------------------------------------------------------ transfers

void Device::ensure_staging() {
  if (staging_ready_) return;
  for (int i = 0; i < kStagingChunks; i++) {
    DL_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&staging_[i]), kStagingBytes, cudaHostAllocDefault));
    DL_CUDA_CHECK(cudaEventCreateWithFlags(&staging_done_[i], cudaEventDisableTiming));
  }
  staging_cur_ = 0;
  staging_fill_ = 0;
  staging_ready_ = true;
}

/**
 * n bytes of staging (n <= kStagingBytes): the rest of the current chunk, else the next chunk
 * once its last copy completed. `whole_chunk`: always a fresh chunk, marked full.
 */
char* Device::staging_take(size_t n, bool whole_chunk) {
  if (whole_chunk || staging_fill_ + n > kStagingBytes) {
    staging_cur_ = (staging_cur_ + 1) % kStagingChunks;
    DL_CUDA_CHECK(cudaEventSynchronize(staging_done_[staging_cur_]));
    staging_fill_ = 0;
  }
  char* p = staging_[staging_cur_] + staging_fill_;
  staging_fill_ = whole_chunk ? kStagingBytes : (staging_fill_ + n + 255) / 256 * 256;
  return p;
}

/** Records the current chunk's event after the copies enqueued so far. */
void Device::staging_mark() { DL_CUDA_CHECK(cudaEventRecord(staging_done_[staging_cur_], stream_)); }

void Device::upload(uintptr_t dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  ensure_staging();
  const char* s = static_cast<const char*>(src);
  for (size_t off = 0; off < bytes; off += kStagingBytes) {
    const size_t n = bytes - off < kStagingBytes ? bytes - off : kStagingBytes;
    char* buf = staging_take(n, false);
    std::memcpy(buf, s + off, n);
    DL_CUDA_CHECK(cudaMemcpyAsync(reinterpret_cast<void*>(dst + off), buf, n, cudaMemcpyHostToDevice, stream_));
    staging_mark();
  }
}

void Device::download(void* dst, uintptr_t src, size_t bytes) {
  char* d = static_cast<char*>(dst);
  if (bytes > 0) ensure_staging();
  size_t off = 0;
  while (off < bytes) {
    struct Piece {
      char* buf;
      int chunk;
      size_t off, n;
    } pieces[kStagingChunks];
    int np = 0;
    for (; np < kStagingChunks && off < bytes; np++) {
      const size_t n = bytes - off < kStagingBytes ? bytes - off : kStagingBytes;
      char* buf = staging_take(n, true);
      DL_CUDA_CHECK(cudaMemcpyAsync(buf, reinterpret_cast<const void*>(src + off), n, cudaMemcpyDeviceToHost, stream_));
      staging_mark();
      pieces[np] = Piece{buf, staging_cur_, off, n};
      off += n;
    }
    for (int i = 0; i < np; i++) {
      DL_CUDA_CHECK(cudaEventSynchronize(staging_done_[pieces[i].chunk]));
      std::memcpy(d + pieces[i].off, pieces[i].buf, pieces[i].n);
    }
  }
  synchronize();
}

void Device::memset(uintptr_t dst, size_t bytes, int value) {
  if (bytes > 0) DL_CUDA_CHECK(cudaMemsetAsync(reinterpret_cast<void*>(dst), value, bytes, stream_));
}

void Device::synchronize() {
  DL_CUDA_CHECK(cudaMemcpyAsync(err_host_, err_dev_, sizeof(DeviceError), cudaMemcpyDeviceToHost, stream_));
  DL_CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (err_host_->flag == 0) return;
  const DeviceError e = *err_host_;
  err_host_->flag = 0;
  DL_CUDA_CHECK(cudaMemsetAsync(err_dev_, 0, sizeof(DeviceError), stream_));
  throw Error(describe(e));
}

}  // namespace dl::cuda
