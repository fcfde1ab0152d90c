#include "blas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#include "thread_pool.h"

namespace dl {

namespace {

SystemBlas load() {
  SystemBlas b;
  const char* names[] = {"libopenblas.so.0", "libopenblas.so", "libblas.so.3"};
  std::string errors;
  for (const char* name : names) {
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      errors += std::string(errors.empty() ? "" : "; ") + (e ? e : name);
      continue;
    }
    auto s = reinterpret_cast<SystemBlas::Sgemm>(dlsym(h, "cblas_sgemm"));
    auto d = reinterpret_cast<SystemBlas::Dgemm>(dlsym(h, "cblas_dgemm"));
    if (!s || !d) {
      errors += std::string(errors.empty() ? "" : "; ") + name + ": no cblas_sgemm/cblas_dgemm";
      dlclose(h);
      continue;
    }
    b.sgemm = s;
    b.dgemm = d;
    b.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"));
    if (b.set_num_threads) b.set_num_threads(ThreadPool::configured_threads());
    char path[4096] = {0};
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(s), &info) && info.dli_fname) b.path = info.dli_fname;
    else b.path = name;
    (void)path;
    return b;
  }
  b.error = errors;
  return b;
}

}  // namespace

const SystemBlas& system_blas() {
  static const SystemBlas b = load();
  return b;
}

bool use_system_blas() {
  static const bool want = [] {
    const char* v = std::getenv("DL_BLAS");
    return v && (std::strcmp(v, "openblas") == 0 || std::strcmp(v, "system") == 0);
  }();
  return want && system_blas().loaded();
}

}  // namespace dl
