#pragma once
// The LibTorch twin of the manual MLP, in the PyTorch C++ frontend's module style. It and
// torch/op_check.h are the public headers that include <torch/torch.h>; see reference.h for
// the torch-free way to get the twin's gradients.
#include <torch/torch.h>

#include <vector>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/tensor.h"

namespace gradverify {

// Everything forward computed, with z_k and h_k kept (retain_grad) so that backward fills
// their .grad() too.
struct MlpTwinOutput {
  torch::Tensor prediction;       // h_L
  std::vector<torch::Tensor> z;   // z[k-1] = fc_k(h_{k-1})
  std::vector<torch::Tensor> h;   // h[k-1] = act_k(z[k-1]); h[L-1] is prediction
};

struct MlpTwinImpl : torch::nn::Module {
  // Layers fc1, fc2, ... as torch::nn::Linear in the spec's dtype, registered by name.
  explicit MlpTwinImpl(const MlpSpec& spec);

  // Copies W_k (stored [fan_in, fan_out]) into fc_k.weight, which Linear stores [out, in],
  // and b_k into fc_k.bias.
  void load_params(const TensorMap& params);

  MlpTwinOutput forward(const torch::Tensor& X);

  // The spec's loss, as apply_twin_loss computes it, plus (weight_decay/2)·Σ‖W_k‖².
  torch::Tensor loss(const torch::Tensor& prediction, const torch::Tensor& target) const;

  MlpSpec spec;
  std::vector<torch::nn::Linear> fc;  // fc[k-1] is layer k
};
TORCH_MODULE(MlpTwin);

torch::ScalarType to_torch_dtype(Dtype dtype);
// act(z) with torch's ops: relu, leaky_relu (with its negative slope), sigmoid, tanh, or z itself.
torch::Tensor apply_twin_activation(Activation act, const torch::Tensor& z, double negative_slope);
// The loss with torch's own semantics: mse_loss, binary_cross_entropy (log clamped at -100)
// and binary_cross_entropy_with_logits, each the mean over all elements; cross_entropy with
// class probabilities as targets (torch >= 1.10), the mean over the batch.
torch::Tensor apply_twin_loss(Loss loss, const torch::Tensor& prediction, const torch::Tensor& target);
// A gradverify Tensor as a torch tensor of the given dtype, and back to doubles.
torch::Tensor to_torch(const Tensor& tensor, torch::ScalarType dtype);
Tensor from_torch(const torch::Tensor& tensor);

}  // namespace gradverify
