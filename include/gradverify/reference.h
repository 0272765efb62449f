#pragma once
// LibTorch's gradients for a problem, behind a torch-free header: only the gradverify::torch
// library compiles <torch/torch.h>; everything else includes this.
#include "gradverify/problem.h"
#include "gradverify/tensor.h"

namespace gradverify {

struct ReferenceResult {
  double loss = 0;
  TensorMap gradients;  // W1, b1, ..., and z1, h1, ...: dL/d(that variable), from autograd
};

// Builds the LibTorch twin of the problem's network in its dtype, copies the weights in,
// runs forward and backward, and reads every parameter's and intermediate's gradient.
ReferenceResult compute_reference(const Problem& problem);

}  // namespace gradverify
