// One of gradverify's three translation units that compile LibTorch's headers (with
// reference_trainer.cpp and op_check.cpp), each 13-16 s and ~1.1 GB: keep them small.
#include "gradverify/torch/mlp_twin.h"

#include <string>

#include "gradverify/torch/reference.h"

namespace gradverify {

torch::ScalarType to_torch_dtype(Dtype dtype) {
  return dtype == Dtype::float32 ? torch::kFloat32 : torch::kFloat64;
}

torch::Tensor to_torch(const Tensor& tensor, torch::ScalarType dtype) {
  // from_blob borrows; clone owns. Converting from double rounds to nearest, exactly as the
  // manual side's static_cast<float> does, so both sides start from identical weights.
  auto doubles = torch::from_blob(const_cast<double*>(tensor.values.data()), tensor.shape, torch::kFloat64);
  return doubles.to(dtype).clone();
}

Tensor from_torch(const torch::Tensor& tensor) {
  auto doubles = tensor.detach().to(torch::kFloat64).contiguous();
  Tensor out;
  out.shape.assign(doubles.sizes().begin(), doubles.sizes().end());
  const double* data = doubles.data_ptr<double>();
  out.values.assign(data, data + doubles.numel());
  return out;
}

MlpTwinImpl::MlpTwinImpl(const MlpSpec& spec_) : spec(spec_) {
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    auto layer = torch::nn::Linear(spec.fan_in(k), spec.fan_out(k));
    layer->to(to_torch_dtype(spec.dtype));
    fc.push_back(register_module("fc" + std::to_string(k), layer));
  }
}

void MlpTwinImpl::load_params(const TensorMap& params) {
  torch::NoGradGuard no_grad;
  const auto dtype = to_torch_dtype(spec.dtype);
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    auto& layer = fc[static_cast<size_t>(k - 1)];
    layer->weight.copy_(to_torch(params.at(weight_name(k)), dtype).t());
    layer->bias.copy_(to_torch(params.at(bias_name(k)), dtype).reshape({spec.fan_out(k)}));
  }
}

torch::Tensor apply_twin_activation(Activation act, const torch::Tensor& z, double negative_slope) {
  switch (act) {
    case Activation::relu: return torch::relu(z);
    case Activation::leaky_relu:
      return torch::nn::functional::leaky_relu(z, torch::nn::functional::LeakyReLUFuncOptions().negative_slope(negative_slope));
    case Activation::sigmoid: return torch::sigmoid(z);
    case Activation::tanh: return torch::tanh(z);
    case Activation::identity: return z.view_as(z);  // a new node, so h_k has its own grad
  }
  return z;
}

MlpTwinOutput MlpTwinImpl::forward(const torch::Tensor& X) {
  MlpTwinOutput out;
  torch::Tensor h = X;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    auto z = fc[static_cast<size_t>(k - 1)]->forward(h);
    z.retain_grad();
    h = apply_twin_activation(spec.activation(k), z, spec.negative_slope);
    h.retain_grad();
    out.z.push_back(z);
    out.h.push_back(h);
  }
  out.prediction = h;
  return out;
}

torch::Tensor apply_twin_loss(Loss loss, const torch::Tensor& prediction, const torch::Tensor& target) {
  namespace F = torch::nn::functional;
  switch (loss) {
    case Loss::mse: return F::mse_loss(prediction, target);
    case Loss::bce: return F::binary_cross_entropy(prediction, target);
    case Loss::bce_with_logits: return F::binary_cross_entropy_with_logits(prediction, target);
    case Loss::cross_entropy: return F::cross_entropy(prediction, target);
  }
  return {};
}

torch::Tensor MlpTwinImpl::loss(const torch::Tensor& prediction, const torch::Tensor& target) const {
  torch::Tensor loss = apply_twin_loss(spec.loss, prediction, target);
  // Weight decay as an explicit term, not the optimiser's: both sides differentiate the same loss.
  if (spec.weight_decay > 0)
    for (const auto& layer : fc) loss = loss + spec.weight_decay / 2 * layer->weight.pow(2).sum();
  return loss;
}

ReferenceResult compute_reference(const Problem& problem) {
  // One intra-op thread: the best setting on small machines, and these nets are small.
  torch::set_num_threads(1);
  const auto dtype = to_torch_dtype(problem.spec.dtype);
  MlpTwin twin(problem.spec);
  twin->load_params(problem.params);
  const auto X = to_torch(problem.X, dtype);
  const auto y = to_torch(problem.y, dtype);

  auto out = twin->forward(X);
  auto loss = twin->loss(out.prediction, y);
  loss.backward();

  ReferenceResult result;
  result.loss = loss.item<double>();
  result.prediction = from_torch(out.prediction);
  for (int64_t k = 1; k <= problem.spec.num_layers(); ++k) {
    const auto& layer = twin->fc[static_cast<size_t>(k - 1)];
    const auto i = static_cast<size_t>(k - 1);
    result.gradients[weight_name(k)] = from_torch(layer->weight.grad().t());  // back to [in, out]
    result.gradients[bias_name(k)] = from_torch(layer->bias.grad());
    result.gradients[preactivation_name(k)] = from_torch(out.z[i].grad());
    result.gradients[activation_name(k)] = from_torch(out.h[i].grad());
  }
  return result;
}

TensorMap compute_op_reference(const OpCase& c) {
  torch::set_num_threads(1);
  namespace F = torch::nn::functional;
  const auto dtype = to_torch_dtype(c.dtype);
  const auto input = [&](const char* name, bool requires_grad) {
    return to_torch(c.inputs.at(name), dtype).set_requires_grad(requires_grad);
  };
  TensorMap out;
  if (c.op == Op::linear) {
    auto x = input("x", true), W = input("W", true), b = input("b", true);
    auto z = torch::matmul(x, W) + b;  // W is [in, out], as in problem.json
    z.backward(input("dz", false));
    out["dW"] = from_torch(W.grad()), out["db"] = from_torch(b.grad()), out["dx"] = from_torch(x.grad());
  } else if (const auto loss_kind = op_loss(c.op)) {
    auto pred = input(op_loss_input(c.op).c_str(), true);
    const auto y = input("y", false);
    apply_twin_loss(*loss_kind, pred, y).backward();
    out[op_answer_names(c.op)[0]] = from_torch(pred.grad());
  } else {
    auto z = input("z", true);
    apply_twin_activation(*op_activation(c.op), z, c.negative_slope).backward(input("dh", false));
    out["dz"] = from_torch(z.grad());
  }
  return out;
}

}  // namespace gradverify
