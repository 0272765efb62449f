// The LibTorch side of op_description_test.cpp, in a file of its own: llm.c's gelu (the tanh
// approximation) written with LibTorch.
#include "gradverify/torch/torch_forward_registry.h"

GRADVERIFY_TORCH_FORWARD(llmc_gelu, [](const std::map<std::string, torch::Tensor>& in) {
  const torch::Tensor& x = in.at("x");
  return 0.5 * x * (1 + torch::tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
});

namespace gradverify {

// llmc_gelu is taken: a second registration under its name must be refused.
void register_torch_forward_twice_for_test() {
  register_torch_forward("llmc_gelu", [](const std::map<std::string, torch::Tensor>& in) { return in.at("x"); });
}

}  // namespace gradverify
