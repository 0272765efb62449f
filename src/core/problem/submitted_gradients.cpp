#include "gradverify/problem/submitted_gradients.h"

namespace gradverify {

SubmittedGradients as_submitted(const TensorMap& gradients) {
  SubmittedGradients submitted;
  for (const auto& [name, tensor] : gradients) submitted[name].tensor = tensor;
  return submitted;
}

TensorMap present_tensors(const SubmittedGradients& submitted) {
  TensorMap tensors;
  for (const auto& [name, gradient] : submitted)
    if (gradient.tensor) tensors[name] = *gradient.tensor;
  return tensors;
}

}  // namespace gradverify
