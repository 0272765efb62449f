#pragma once
// The side under test, as it arrived: from gradients.json, a student's answer, or a program's
// own TensorMap. Torch-free; compared by check/compare.h.
#include <map>
#include <optional>
#include <string>

#include "gradverify/tensor.h"

namespace gradverify {

// A gradient as it was submitted: a tensor, or why there is none usable. A missing or
// malformed entry is a failed parameter, never an input error.
struct SubmittedGradient {
  std::optional<Tensor> tensor;  // empty when missing or malformed
  std::string problem;           // why tensor is empty: "not in your answer", "dW1[0][1]: expected a number..."
  bool malformed = false;        // there, but not readable as numbers
};
using SubmittedGradients = std::map<std::string, SubmittedGradient>;  // keyed W1, b1, z1, ...

// Wraps complete gradients (e.g. the manual MLP's) as submitted ones.
SubmittedGradients as_submitted(const TensorMap& gradients);
// The submitted gradients that are tensors, leaving out missing and malformed ones.
TensorMap present_tensors(const SubmittedGradients& submitted);

}  // namespace gradverify
