// The dlopen search shared by the cuBLAS and cuDNN loaders (dynlib.h).
#include "dynlib.h"

#include <dlfcn.h>

#include <cstdlib>

namespace dl::cuda {

std::vector<std::string> toolkit_candidates(const std::vector<std::string>& names) {
#ifdef DL_CUDA_EMULATED
  // The emulated device looks only in the folder of its host stand-ins (emu/host_*.cc).
  const char* emu = std::getenv("DL_CUDA_EMU_LIBS");
  std::vector<std::string> stand_ins;
  if (emu && *emu)
    for (const auto& n : names) stand_ins.push_back(std::string(emu) + "/" + n);
  return stand_ins;
#endif
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
  std::string tried;
#ifdef DL_CUDA_EMULATED
  if (candidates.empty()) {
    info.error = "the emulated CUDA device loads only its host stand-ins, from the folder DL_CUDA_EMU_LIBS names (unset)";
    return nullptr;
  }
#endif
  for (const auto& c : candidates) {
    void* lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      tried += (tried.empty() ? "" : "; ") + (e ? std::string(e) : c + ": not found");
      continue;
    }
#ifdef DL_CUDA_EMULATED
    // The emulated device's memory is host memory: a real library would fault on it.
    if (!dlsym(lib, "dl_emu_host_library")) {
      tried += (tried.empty() ? "" : "; ") + c + ": not a host stand-in (the emulated CUDA device loads only those)";
      dlclose(lib);
      continue;
    }
#endif
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
