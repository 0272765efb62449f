#pragma once
// A hand-written op to check against LibTorch (op_check_report.h): its description
// (op_description.h) and the same forward written with LibTorch. Include this in the test that
// describes the op; it brings <torch/torch.h> with it. To keep LibTorch out of that file,
// describe the op with OpDescription and register its LibTorch forward elsewhere
// (torch_forward_registry.h).
#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

#include "gradverify/torch/op_check_report.h"
#include "gradverify/torch/op_description.h"

namespace gradverify {

// LibTorch's forward of an op, on tensors of its dtype (integer inputs as kLong) keyed like the
// inputs: one output, or several by name.
using TorchForward = std::function<torch::Tensor(const std::map<std::string, torch::Tensor>& inputs)>;
using TorchForwardOutputs =
    std::function<std::map<std::string, torch::Tensor>(const std::map<std::string, torch::Tensor>& inputs)>;

struct HandWrittenOp : OpDescription {
  // The same forward in LibTorch. Without one (an op LibTorch has no equivalent of), finite
  // differences alone judge the backward, at their own tolerances, which the table states.
  TorchForward torch_forward;
  TorchForwardOutputs torch_forward_outputs;  // with forward_outputs: every output by name
};

}  // namespace gradverify
