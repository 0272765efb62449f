#pragma once
// LibTorch forwards registered by name, for ops described with OpDescription (op_description.h)
// in files that must not include <torch/torch.h>. In a file of its own, compiled into the same
// executable (a registration in a static library may be dropped by the linker):
//
//   #include <gradverify/torch/torch_forward_registry.h>
//   GRADVERIFY_TORCH_FORWARD(gelu, [](const auto& in) { return torch::gelu(in.at("x")); });
//
// and in the op's description, op.torch_forward_name = "gelu".
#include <string>

#include "gradverify/torch/op_check.h"

namespace gradverify {

// Registers `forward` (one output) or `forward_outputs` (several) under `name`; returns true.
// Throws std::logic_error when the name is already taken.
bool register_torch_forward(const std::string& name, TorchForward forward);
bool register_torch_forward_outputs(const std::string& name, TorchForwardOutputs forward_outputs);

}  // namespace gradverify

#define GRADVERIFY_TORCH_FORWARD(name, ...) \
  static const bool gradverify_torch_forward_registered_##name = ::gradverify::register_torch_forward(#name, __VA_ARGS__)
#define GRADVERIFY_TORCH_FORWARD_OUTPUTS(name, ...)                       \
  static const bool gradverify_torch_forward_outputs_registered_##name = \
      ::gradverify::register_torch_forward_outputs(#name, __VA_ARGS__)
