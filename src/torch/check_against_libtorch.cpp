// Torch-free itself: LibTorch runs inside compute_reference (mlp_twin.cpp).
#include "gradverify/torch/reference.h"

namespace gradverify {

CheckReport check_against_libtorch(const Problem& problem, const GradientsUnderTest& under_test,
                                   const GradientCheckOptions& options) {
  return check_gradients(problem, under_test, compute_reference(problem), options);
}

}  // namespace gradverify
