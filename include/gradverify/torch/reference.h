#pragma once
// LibTorch's gradients for a problem, behind a torch-free header: of gradverify's libraries
// only gradverify::torch's sources (src/torch/) compile LibTorch's headers; everything else
// includes this.
#include <memory>

#include "gradverify/check/check.h"
#include "gradverify/net/op.h"
#include "gradverify/net/training.h"
#include "gradverify/problem/problem.h"
#include "gradverify/tensor.h"

namespace gradverify {

// Builds the LibTorch twin of the problem's network in its dtype, copies the weights in,
// runs forward and backward, and reads every parameter's and intermediate's gradient.
ReferenceResult compute_reference(const Problem& problem);

// compute_reference, then check_gradients (check.h): the whole check in one call, for
// programs linked to LibTorch (the GoogleTest assertions, the tests).
CheckReport check_against_libtorch(const Problem& problem, const GradientsUnderTest& under_test,
                                   const GradientCheckOptions& options = {});

// LibTorch's gradients for one backward piece of the grading protocol, by autograd: the
// op's forward on inputs that require grad, then backward with the upstream gradient (dh
// or dz) or, for a loss, of the mean loss. Keys as the protocol's answer: dz | dW, db, dx |
// dpred; dW in the [in, out] layout of W.
TensorMap compute_op_reference(const OpCase& op_case);

// The LibTorch side of a lockstep training run: the twin with the problem's weights, trained
// by torch::optim::SGD or torch::optim::Adam with the same hyperparameters.
class ReferenceTrainer {
 public:
  ReferenceTrainer(const Problem& problem, const OptimizerConfig& config);
  ~ReferenceTrainer();
  ReferenceTrainer(const ReferenceTrainer&) = delete;
  ReferenceTrainer& operator=(const ReferenceTrainer&) = delete;

  // One step: zero_grad, forward, backward, optimizer step. Returns the loss before the step.
  double step();
  // The current weights, W1, b1, ..., as doubles and in problem.json's layout.
  TensorMap params() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gradverify
