// The LibTorch plug-in's entry point (see reference_backend.h). Torch-free itself: the
// table it hands out is built in reference_trainer.cpp.
#include "gradverify/torch/reference_backend.h"

extern "C" const gradverify::ReferenceBackend* gradverify_reference_backend() {
  return &gradverify::linked_reference_backend();
}
