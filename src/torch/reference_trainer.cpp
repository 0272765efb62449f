// LibTorch's half of `gradverify train`: the twin trained by torch::optim, stepped one step
// at a time so that the caller can compare it with the manual MLP after every step.
#include "gradverify/torch/mlp_twin.h"
#include "gradverify/torch/reference.h"
#include "gradverify/torch/reference_backend.h"

namespace gradverify {

struct ReferenceTrainer::Impl {
  Impl(const Problem& problem, const OptimizerConfig& config)
      : twin(problem.spec),
        X(to_torch(problem.X, to_torch_dtype(problem.spec.dtype))),
        y(to_torch(problem.y, to_torch_dtype(problem.spec.dtype))) {
    twin->load_params(problem.params);
    if (config.kind == OptimizerKind::adam)
      optimizer = std::make_unique<torch::optim::Adam>(
          twin->parameters(),
          torch::optim::AdamOptions(config.lr).betas({config.beta1, config.beta2}).eps(config.eps));
    else
      optimizer = std::make_unique<torch::optim::SGD>(
          twin->parameters(), torch::optim::SGDOptions(config.lr).momentum(config.momentum));
  }

  MlpTwin twin;
  torch::Tensor X, y;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
};

ReferenceTrainer::ReferenceTrainer(const Problem& problem, const OptimizerConfig& config) {
  torch::set_num_threads(1);  // the best setting on this class of machine, as compute_reference
  impl_ = std::make_unique<Impl>(problem, config);
}

ReferenceTrainer::~ReferenceTrainer() = default;

double ReferenceTrainer::step() {
  impl_->optimizer->zero_grad();
  auto loss = impl_->twin->loss(impl_->twin->forward(impl_->X).prediction, impl_->y);
  loss.backward();
  impl_->optimizer->step();
  return loss.item<double>();
}

TensorMap ReferenceTrainer::params() const {
  TensorMap out;
  const auto& twin = impl_->twin;
  for (int64_t k = 1; k <= twin->spec.num_layers(); ++k) {
    const auto& layer = twin->fc[static_cast<size_t>(k - 1)];
    out[weight_name(k)] = from_torch(layer->weight.t());
    out[bias_name(k)] = from_torch(layer->bias);
  }
  return out;
}

// ---- the step gradverify bench times -----------------------------------------------------

namespace {

// The twin's training step as a LibTorch user writes it, in LibTorch's best setting here (1
// intra-op thread, OpenBLAS threads for the products). No retain_grad on intermediates: a
// training step doesn't keep them, and the benchmark should not charge LibTorch for them.
class TwinStepTimer final : public ReferenceStepTimer {
 public:
  explicit TwinStepTimer(const Problem& problem)
      : twin_(problem.spec),
        X_(to_torch(problem.X, to_torch_dtype(problem.spec.dtype))),
        y_(to_torch(problem.y, to_torch_dtype(problem.spec.dtype))) {
    twin_->load_params(problem.params);
  }

  void run(int64_t steps) override {
    for (int64_t s = 0; s < steps; ++s) {
      twin_->zero_grad();
      torch::Tensor h = X_;
      for (int64_t k = 1; k <= twin_->spec.num_layers(); ++k)
        h = apply_twin_activation(twin_->spec.activation(k), twin_->fc[static_cast<size_t>(k - 1)]->forward(h),
                                  twin_->spec.negative_slope);
      twin_->loss(h, y_).backward();
    }
  }

 private:
  MlpTwin twin_;
  torch::Tensor X_, y_;
};

}  // namespace

std::unique_ptr<ReferenceStepTimer> make_reference_step_timer(const Problem& problem) {
  torch::set_num_threads(1);
  return std::make_unique<TwinStepTimer>(problem);
}

const ReferenceBackend& linked_reference_backend() {
  static const ReferenceBackend backend{
      kReferenceBackendAbi,  &compute_reference,       &compute_op_reference, &train_lockstep,
      &make_reference_step_timer, &check_layernorm_example, TORCH_VERSION,
      [] { return static_cast<int>(torch::get_num_threads()); }};
  return backend;
}

}  // namespace gradverify
