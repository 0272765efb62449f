#pragma once
// Training the manual MLP and its LibTorch twin in lockstep (training.h, reference.h): the
// same weights, data and hyperparameters, one step at a time, comparing every parameter
// after every step. They stay in lockstep while
//
//     max |manual - LibTorch| <= tol * max(1, max|θ|)     over every parameter element
//     tol = 1e-10 (float64) or 1e-4 (float32)
//
// Measured on the lab's XOR net, 2000 steps of SGD or Adam: at most 3e-15 (float64) and
// 9e-7 (float32) of max(1, max|θ|). A wrong update rule moves parameters by lr·g per step.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/net/training.h"
#include "gradverify/problem/problem.h"

namespace gradverify {

inline double lockstep_tolerance(Dtype dtype) { return dtype == Dtype::float32 ? 1e-4 : 1e-10; }

struct LockstepStep {
  int64_t step = 0;
  double manual_loss = 0;     // before the step
  double reference_loss = 0;
  double drift = 0;           // max |manual - LibTorch| over every parameter element, after the step
};

// Where two sets of parameters differ most.
struct ParameterGap {
  double value = 0;  // |manual - reference|
  std::string parameter;
  std::vector<int64_t> index;
  double manual = 0, reference = 0;
};

struct LockstepResult {
  double tolerance = 0;                   // the rounding-level bound, before max(1, max|θ|)
  std::vector<LockstepStep> curve;        // every step run
  ParameterGap largest;                   // the largest drift of the run, and where
  std::optional<int64_t> departure_step;  // the first step where drift left rounding level
  ParameterGap departure;                 // ... and where, then
  std::optional<int64_t> diverged_at;     // the first step with a NaN or Inf loss; training stops
  TensorMap manual_params, reference_params;  // the weights at the end

  bool in_lockstep() const { return !departure_step && !diverged_at; }
};

// Runs `steps` steps on both sides. `reference` is LibTorch's optimizer, normally the same
// as `manual`; a test gives a different one to prove that drift is caught. `on_step` sees
// each step as it finishes (for progress).
LockstepResult train_lockstep(const Problem& problem, const OptimizerConfig& manual, const OptimizerConfig& reference,
                              int64_t steps, const std::function<void(const LockstepStep&)>& on_step = {});

}  // namespace gradverify
