#pragma once
// The manual MLP (net/mlp.h) run on a whole problem: the side under test when `check` checks
// gradverify's own backward pass.
#include <cstdint>
#include <vector>

#include "gradverify/problem/problem.h"
#include "gradverify/tensor.h"

namespace gradverify {

// The manual MLP run on a problem in its dtype: the loss and every gradient, named as the
// variable they are with respect to (W1, b1, ..., z1, h1, ...), converted to double.
struct ManualResult {
  double loss = 0;
  TensorMap gradients;
};
ManualResult run_manual_mlp(const Problem& problem);

// ReLU units that are zero for every sample of the batch: no gradient flows through them,
// so every weight feeding them is checked only against zero.
struct DeadUnits {
  int64_t layer = 0;  // 1-based
  int64_t dead = 0;
  int64_t units = 0;
};
std::vector<DeadUnits> dead_relu_units(const Problem& problem);

}  // namespace gradverify
