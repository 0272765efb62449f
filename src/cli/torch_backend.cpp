#include "torch_backend.h"

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "gradverify/errors.h"

namespace gradverify::cli {
namespace {

double load_seconds = 0;


const ReferenceBackend& load() {
#ifdef GRADVERIFY_WITHOUT_TORCH
  throw InputError("LibTorch", "",
                   "not in this build of gradverify (GRADVERIFY_WITH_TORCH=OFF, a grading image's build): it grades "
                   "with stored references, `grade --references FILE`; check, train, bench and references need a "
                   "build with LibTorch");
#endif
  const std::string path = torch_backend_path();
  const auto start = std::chrono::steady_clock::now();
  // RTLD_LOCAL: LibTorch's symbols stay inside the plug-in; RTLD_NOW: a broken install fails
  // here, with the loader's message, rather than at the first call.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr)
    throw std::runtime_error("cannot load the LibTorch plug-in " + path + ": " + dlerror() +
                             ". It is built next to the gradverify binary (cmake --build build); "
                             "GRADVERIFY_TORCH_BACKEND may point elsewhere.");
  using Entry = const ReferenceBackend* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "gradverify_reference_backend"));
  if (entry == nullptr)
    throw std::runtime_error(path + " is not a gradverify LibTorch plug-in (no gradverify_reference_backend)");
  const ReferenceBackend* backend = entry();
  if (backend == nullptr || backend->abi != kReferenceBackendAbi)
    throw std::runtime_error(path + " is from another gradverify build (plug-in ABI " +
                             std::to_string(backend ? backend->abi : -1) + ", this binary expects " +
                             std::to_string(kReferenceBackendAbi) + "); rebuild both");
  load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return *backend;  // never dlclose'd: LibTorch does not support unloading
}

}  // namespace

std::string running_binary_directory() {
  std::vector<char> buffer(4096);
  const ssize_t n = readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n <= 0) return ".";
  std::string path(buffer.data(), static_cast<size_t>(n));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string torch_backend_path() {
  if (const char* override_path = std::getenv("GRADVERIFY_TORCH_BACKEND"); override_path && *override_path)
    return override_path;
  // Built next to the binary; installed in <prefix>/lib/gradverify beside <prefix>/bin.
  const std::string beside = running_binary_directory() + "/libgradverify_torch_backend.so";
  const std::string installed = running_binary_directory() + "/../lib/gradverify/libgradverify_torch_backend.so";
  return access(beside.c_str(), F_OK) != 0 && access(installed.c_str(), F_OK) == 0 ? installed : beside;
}

const ReferenceBackend& torch_backend() {
  static const ReferenceBackend& backend = load();
  return backend;
}

ReferenceSource torch_reference_source() {
  const ReferenceBackend& backend = torch_backend();
  return {backend.compute_op_reference, backend.compute_reference, backend.torch_version};
}

double torch_backend_load_seconds() { return load_seconds; }

}  // namespace gradverify::cli
