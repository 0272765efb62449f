#include "gradverify/net/training.h"

#include <cmath>

#include "gradverify/errors.h"
#include "gradverify/net/mlp.h"

namespace gradverify {

const char* to_string(OptimizerKind kind) { return kind == OptimizerKind::adam ? "adam" : "sgd"; }

std::optional<OptimizerKind> parse_optimizer(const std::string& name) {
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "adam") return OptimizerKind::adam;
  return std::nullopt;
}

void validate_optimizer(const OptimizerConfig& c, const std::string& source) {
  const auto in_unit = [](double v) { return std::isfinite(v) && v >= 0 && v < 1; };
  if (!(std::isfinite(c.lr) && c.lr > 0)) throw InputError(source, "lr", "expected a learning rate > 0");
  if (!in_unit(c.momentum)) throw InputError(source, "momentum", "expected a momentum in [0, 1)");
  if (!in_unit(c.beta1)) throw InputError(source, "beta1", "expected beta1 in [0, 1)");
  if (!in_unit(c.beta2)) throw InputError(source, "beta2", "expected beta2 in [0, 1)");
  if (!(std::isfinite(c.eps) && c.eps > 0)) throw InputError(source, "eps", "expected eps > 0");
}

namespace {

// One parameter tensor's update, the optimizer state beside it.
template <typename T>
struct ParameterState {
  std::vector<T> velocity;  // SGD momentum buffer
  std::vector<T> first;     // Adam m1
  std::vector<T> second;    // Adam m2
};

template <typename T>
void sgd_update(std::vector<T>& p, const std::vector<T>& g, ParameterState<T>& s, const OptimizerConfig& c,
                int64_t step) {
  const T lr = static_cast<T>(c.lr), momentum = static_cast<T>(c.momentum);
  if (c.momentum == 0) {
    for (size_t i = 0; i < p.size(); ++i) p[i] -= lr * g[i];
    return;
  }
  if (step == 1) s.velocity = g;  // torch clones the first gradient into the buffer
  else
    for (size_t i = 0; i < p.size(); ++i) s.velocity[i] = momentum * s.velocity[i] + g[i];
  for (size_t i = 0; i < p.size(); ++i) p[i] -= lr * s.velocity[i];
}

template <typename T>
void adam_update(std::vector<T>& p, const std::vector<T>& g, ParameterState<T>& s, const OptimizerConfig& c,
                 int64_t step) {
  if (s.first.empty()) {
    s.first.assign(p.size(), T(0));
    s.second.assign(p.size(), T(0));
  }
  // Scalars as torch forms them: 1 - beta in double, then cast once (in float32, 1 - 0.9f
  // would be 0.100000024f, not torch's 0.1f).
  const T beta1 = static_cast<T>(c.beta1), beta2 = static_cast<T>(c.beta2), eps = static_cast<T>(c.eps);
  const T one_minus_beta1 = static_cast<T>(1 - c.beta1), one_minus_beta2 = static_cast<T>(1 - c.beta2);
  const double correction1 = 1 - std::pow(c.beta1, static_cast<double>(step));
  const double correction2 = 1 - std::pow(c.beta2, static_cast<double>(step));
  const T step_size = static_cast<T>(c.lr / correction1);
  const T sqrt_correction2 = static_cast<T>(std::sqrt(correction2));
  for (size_t i = 0; i < p.size(); ++i) {
    s.first[i] = s.first[i] * beta1 + one_minus_beta1 * g[i];
    s.second[i] = s.second[i] * beta2 + one_minus_beta2 * g[i] * g[i];
    const T denom = std::sqrt(s.second[i]) / sqrt_correction2 + eps;
    p[i] -= step_size * (s.first[i] / denom);
  }
}

}  // namespace

struct ManualTrainer::Impl {
  virtual ~Impl() = default;
  virtual double step() = 0;
  virtual TensorMap params() const = 0;
};

namespace {

template <typename T>
struct TypedTrainer : ManualTrainer::Impl {
  TypedTrainer(const Problem& problem, const OptimizerConfig& optimizer)
      : spec(problem.spec),
        config(optimizer),
        weights(params_from_tensors<T>(problem.spec, problem.params)),
        X(to_matrix<T>(problem.X)),
        y(to_matrix<T>(problem.y)),
        states(2 * static_cast<size_t>(problem.spec.num_layers())) {}

  double step() override {
    ++steps;
    const double loss = static_cast<double>(mlp_forward(cache, spec, weights, X, y));
    mlp_backward(grads, cache, spec, weights);
    for (size_t i = 0; i < weights.W.size(); ++i) {
      update(weights.W[i].data, grads.params.W[i].data, states[2 * i]);
      update(weights.b[i].data, grads.params.b[i].data, states[2 * i + 1]);
    }
    return loss;
  }

  void update(std::vector<T>& p, const std::vector<T>& g, ParameterState<T>& s) {
    if (config.kind == OptimizerKind::adam) adam_update(p, g, s, config, steps);
    else sgd_update(p, g, s, config, steps);
  }

  TensorMap params() const override {
    TensorMap out;
    for (int64_t k = 1; k <= spec.num_layers(); ++k) {
      const auto i = static_cast<size_t>(k - 1);
      out[weight_name(k)] = to_tensor(weights.W[i], expected_shape(spec, weight_name(k), 0));
      out[bias_name(k)] = to_tensor(weights.b[i], expected_shape(spec, bias_name(k), 0));
    }
    return out;
  }

  MlpSpec spec;
  OptimizerConfig config;
  MlpParams<T> weights;
  Matrix<T> X, y;
  MlpForwardCache<T> cache;
  MlpGradients<T> grads;
  std::vector<ParameterState<T>> states;  // W1, b1, W2, ...
  int64_t steps = 0;
};

}  // namespace

ManualTrainer::ManualTrainer(const Problem& problem, const OptimizerConfig& config) {
  if (problem.spec.dtype == Dtype::float32) impl_ = std::make_unique<TypedTrainer<float>>(problem, config);
  else impl_ = std::make_unique<TypedTrainer<double>>(problem, config);
}
ManualTrainer::~ManualTrainer() = default;
double ManualTrainer::step() { return impl_->step(); }
TensorMap ManualTrainer::params() const { return impl_->params(); }

double loss_at(const Problem& problem, const TensorMap& params) {
  const auto run = [&](auto zero) {
    using T = decltype(zero);
    MlpForwardCache<T> cache;
    return static_cast<double>(mlp_forward(cache, problem.spec, params_from_tensors<T>(problem.spec, params),
                                           to_matrix<T>(problem.X), to_matrix<T>(problem.y)));
  };
  return problem.spec.dtype == Dtype::float32 ? run(0.0f) : run(0.0);
}

}  // namespace gradverify
