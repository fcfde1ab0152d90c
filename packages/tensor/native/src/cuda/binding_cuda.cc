// The N-API face of the CUDA part: `exports.cuda` (contract: src/backend/cuda/addon.ts).
// Unpacks arguments (numbers, typed arrays, the Float64Array P) and calls the plain C++ of
// runtime.h / launch.h under one process-wide lock; every C++ exception becomes a JS Error
// with its message (the call, the CUDA error name and text, the source location, or the op
// and operand that was refused). Nothing here aborts the process.
#include <napi.h>

#include <cmath>
#include <string>

#include "cublas.h"
#include "cudnn.h"
#include "launch.h"
#include "runtime.h"

namespace dl::cuda {

namespace {

/** Bumped with CUDA_ABI in src/backend/cuda/addon.ts whenever a function's arguments change. */
constexpr int kCudaAbi = 4;

/** Runs f under the API lock; a C++ exception becomes a JS Error. */
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F f) {
  Napi::Env env = info.Env();
  try {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    return f(env);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

/** A non-negative integer below 2^53 (a device address or a byte count). */
uint64_t whole(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d < 9007199254740992.0) || d != std::floor(d))
    throw Napi::RangeError::New(env, std::string(what) + " must be an integer in [0, 2^53), got " + std::to_string(d));
  return static_cast<uint64_t>(d);
}

struct Bytes {
  char* data;
  size_t size;
};

Bytes typed_bytes(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + " must be a typed array");
  const Napi::TypedArray a = v.As<Napi::TypedArray>();
  return Bytes{static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset(), a.ByteLength()};
}

/** The current device, once [ptr, ptr + bytes) is checked to lie inside one of its live blocks. */
Device& device_for(uint64_t ptr, size_t bytes, const char* what) {
  Device& dev = current_device();
  if (bytes > 0) dev.alloc.check_range(ptr, ptr, ptr + bytes, what);
  return dev;
}

Napi::Object library_info(const Napi::Env& env, const LibraryInfo& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("found", c.found);
  o.Set("path", c.found ? Napi::Value(Napi::String::New(env, c.path)) : env.Null());
  o.Set("error", c.error.empty() ? env.Null() : Napi::Value(Napi::String::New(env, c.error)));
  o.Set("version", c.version ? Napi::Value(Napi::Number::New(env, c.version)) : env.Null());
  o.Set("calls", Napi::Number::New(env, static_cast<double>(c.calls)));
  return o;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    const ProbeResult r = probe();
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", r.available);
    o.Set("reason", r.available ? env.Null() : Napi::Value(Napi::String::New(env, r.reason)));
    o.Set("deviceCount", r.device_count);
    o.Set("driverVersion", r.driver_version);
    o.Set("runtimeVersion", r.runtime_version);
    Napi::Array devices = Napi::Array::New(env, r.devices.size());
    for (size_t i = 0; i < r.devices.size(); i++) {
      const DeviceInfo& d = r.devices[i];
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("name", d.name);
      dev.Set("totalMemory", static_cast<double>(d.total_memory));
      Napi::Array cc = Napi::Array::New(env, 2);
      cc.Set(uint32_t(0), d.major);
      cc.Set(uint32_t(1), d.minor);
      dev.Set("computeCapability", cc);
      dev.Set("multiProcessors", d.multiprocessors);
      devices.Set(static_cast<uint32_t>(i), dev);
    }
    o.Set("devices", devices);
    o.Set("cublas", library_info(env, cublas_info()));
    o.Set("cudnn", library_info(env, cudnn_info()));
    const auto archs = compiled_archs();
    Napi::Array a = Napi::Array::New(env, archs.size());
    for (size_t i = 0; i < archs.size(); i++) a.Set(static_cast<uint32_t>(i), archs[i]);
    o.Set("archs", a);
#ifdef DL_CUDA_EMULATED
    o.Set("emulated", true);
#else
    o.Set("emulated", false);
#endif
    return Napi::Value(o);
  });
}

Napi::Value SetDevice(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "setDevice: the device index must be a number");
    const double d = info[0].As<Napi::Number>().DoubleValue();
    if (d != std::floor(d) || !(std::fabs(d) < 1e9)) throw Napi::RangeError::New(env, "setDevice: the device index must be an integer");
    set_device(static_cast<int>(d));
    return env.Undefined();
  });
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    current_device().synchronize();
    return env.Undefined();
  });
}

Napi::Value Malloc(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    const uint64_t bytes = whole(env, info[0], "malloc: bytes");
    return Napi::Number::New(env, static_cast<double>(current_device().alloc.malloc(bytes)));
  });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    free_block(whole(env, info[0], "free: ptr"));
    return env.Undefined();
  });
}

Napi::Value GetMemoryStats(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    const dl::cuda::MemoryStats s = current_device().alloc.stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("allocatedBytes", static_cast<double>(s.allocated_bytes));
    o.Set("reservedBytes", static_cast<double>(s.reserved_bytes));
    o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
    o.Set("peakAllocatedBytes", static_cast<double>(s.peak_allocated_bytes));
    o.Set("peakReservedBytes", static_cast<double>(s.peak_reserved_bytes));
    o.Set("allocations", static_cast<double>(s.allocations));
    o.Set("cacheHits", static_cast<double>(s.cache_hits));
    o.Set("deviceAllocations", static_cast<double>(s.device_allocations));
    o.Set("oomRetries", static_cast<double>(s.oom_retries));
    return Napi::Value(o);
  });
}

Napi::Value ResetPeakMemoryStats(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    current_device().alloc.reset_peak();
    return env.Undefined();
  });
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    current_device().alloc.empty_cache();
    return env.Undefined();
  });
}

Napi::Value Memset(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    const uint64_t ptr = whole(env, info[0], "memset: ptr");
    const uint64_t bytes = whole(env, info[1], "memset: bytes");
    const uint64_t value = whole(env, info[2], "memset: value");
    if (value > 255) throw Napi::RangeError::New(env, "memset: value must be a byte (0 to 255), got " + std::to_string(value));
    device_for(ptr, bytes, "memset").memset(ptr, bytes, static_cast<int>(value));
    return env.Undefined();
  });
}

Napi::Value Upload(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    const uint64_t dst = whole(env, info[0], "upload: dst");
    const Bytes src = typed_bytes(env, info[1], "upload: src");
    device_for(dst, src.size, "upload").upload(dst, src.data, src.size);
    return env.Undefined();
  });
}

Napi::Value Download(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    const Bytes dst = typed_bytes(env, info[0], "download: dst");
    const uint64_t src = whole(env, info[1], "download: src");
    device_for(src, dst.size, "download").download(dst.data, src, dst.size);
    return env.Undefined();
  });
}

Napi::Value Launch(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "launch: the launch code must be a number");
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw Napi::TypeError::New(env, "launch: P must be a Float64Array");
    const Napi::Float64Array P = info[1].As<Napi::Float64Array>();
    launch(info[0].As<Napi::Number>().Int32Value(), P.Data(), P.ElementLength());
    return env.Undefined();
  });
}

Napi::Value Ops(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) {
    const auto names = ops();
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); i++) a.Set(static_cast<uint32_t>(i), names[i]);
    return Napi::Value(a);
  });
}

}  // namespace

}  // namespace dl::cuda

/** Called by binding.cc's Init in a CUDA build: creates exports.cuda. */
void dl_cuda_init(Napi::Env env, Napi::Object exports) {
  using namespace dl::cuda;
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("abi", Napi::Number::New(env, kCudaAbi));
  cuda.Set("probe", Napi::Function::New(env, Probe, "probe"));
  cuda.Set("setDevice", Napi::Function::New(env, SetDevice, "setDevice"));
  cuda.Set("synchronize", Napi::Function::New(env, Synchronize, "synchronize"));
  cuda.Set("malloc", Napi::Function::New(env, Malloc, "malloc"));
  cuda.Set("free", Napi::Function::New(env, Free, "free"));
  cuda.Set("memoryStats", Napi::Function::New(env, GetMemoryStats, "memoryStats"));
  cuda.Set("resetPeakMemoryStats", Napi::Function::New(env, ResetPeakMemoryStats, "resetPeakMemoryStats"));
  cuda.Set("emptyCache", Napi::Function::New(env, EmptyCache, "emptyCache"));
  cuda.Set("memset", Napi::Function::New(env, Memset, "memset"));
  cuda.Set("upload", Napi::Function::New(env, Upload, "upload"));
  cuda.Set("download", Napi::Function::New(env, Download, "download"));
  cuda.Set("launch", Napi::Function::New(env, Launch, "launch"));
  cuda.Set("ops", Napi::Function::New(env, Ops, "ops"));
  exports.Set("cuda", cuda);
}
