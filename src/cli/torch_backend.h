#pragma once
// Loads the LibTorch plug-in (reference_backend.h) the first time a command needs autograd.
#include <string>

#include "gradverify/grading/references.h"
#include "gradverify/torch/reference_backend.h"

namespace gradverify::cli {

// The directory of the running gradverify binary (where the plug-in and the kit's runners
// are built).
std::string running_binary_directory();

// The plug-in's path: $GRADVERIFY_TORCH_BACKEND if set, else libgradverify_torch_backend.so
// in the directory of the running binary, or in ../lib/gradverify from it (an install).
std::string torch_backend_path();

// Loads it once per process. Throws std::runtime_error naming the file and the loader's
// reason when it is missing, unloadable or from another build.
const ReferenceBackend& torch_backend();

// The plug-in as what computes grading references (references.h).
ReferenceSource torch_reference_source();

// Seconds the first torch_backend() call spent loading (LibTorch's start-up); 0 before.
double torch_backend_load_seconds();

}  // namespace gradverify::cli
