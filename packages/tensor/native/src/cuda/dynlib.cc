// The dlopen search shared by the cuBLAS and cuDNN loaders (dynlib.h).
#include "dynlib.h"

#include <dlfcn.h>

#include <cstdlib>

namespace dl::cuda {

std::vector<std::string> toolkit_candidates(const std::vector<std::string>& names) {
  std::vector<std::string> dirs;
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"}) {
    const char* v = std::getenv(env);
    if (v && *v) dirs.push_back(std::string(v) + "/lib64/");
  }
  dirs.push_back("/usr/local/cuda/lib64/");
  std::vector<std::string> out = names;
  for (const auto& d : dirs)
    for (const auto& n : names) out.push_back(d + n);
  return out;
}

void* find_symbol(void* lib, const char* name) { return dlsym(lib, name); }

void* open_first(const std::vector<std::string>& candidates, const std::function<std::string(void*)>& bind,
                 LibraryInfo& info) {
#ifdef DL_CUDA_EMULATED
  // The emulated device's memory is host memory that no real library may touch.
  info.error = "not loaded by the emulated CUDA device, which runs the built-in kernels only";
  return nullptr;
#endif
  std::string tried;
  for (const auto& c : candidates) {
    void* lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      tried += (tried.empty() ? "" : "; ") + (e ? std::string(e) : c + ": not found");
      continue;
    }
    const std::string missing = bind(lib);
    if (!missing.empty()) {
      tried += (tried.empty() ? "" : "; ") + c + ": missing " + missing;
      dlclose(lib);
      continue;
    }
    info.found = true;
    info.path = c;
    return lib;
  }
  info.error = tried;
  return nullptr;
}

}  // namespace dl::cuda
