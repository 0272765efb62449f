#include "gradverify/problem/manual_mlp.h"

#include "gradverify/net/mlp.h"

namespace gradverify {

namespace {

template <typename T>
ManualResult run_manual_mlp_as(const Problem& problem) {
  const MlpSpec& spec = problem.spec;
  const auto params = params_from_tensors<T>(spec, problem.params);
  MlpForwardCache<T> cache;
  MlpGradients<T> grads;
  ManualResult result;
  result.loss = static_cast<double>(mlp_forward(cache, spec, params, to_matrix<T>(problem.X), to_matrix<T>(problem.y)));
  mlp_backward(grads, cache, spec, params);
  result.gradients = gradients_to_tensors(spec, grads, problem.batch());
  return result;
}

template <typename T>
std::vector<DeadUnits> dead_relu_units_as(const Problem& problem) {
  const MlpSpec& spec = problem.spec;
  MlpForwardCache<T> cache;
  mlp_forward(cache, spec, params_from_tensors<T>(spec, problem.params), to_matrix<T>(problem.X), to_matrix<T>(problem.y));
  std::vector<DeadUnits> result;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    if (spec.activation(k) != Activation::relu) continue;
    const Matrix<T>& z = cache.z[static_cast<size_t>(k - 1)];
    DeadUnits d{k, 0, z.cols};
    for (int64_t j = 0; j < z.cols; ++j) {
      bool alive = false;
      for (int64_t n = 0; n < z.rows && !alive; ++n) alive = z(n, j) > T(0);
      d.dead += alive ? 0 : 1;
    }
    result.push_back(d);
  }
  return result;
}

}  // namespace

ManualResult run_manual_mlp(const Problem& problem) {
  return problem.spec.dtype == Dtype::float32 ? run_manual_mlp_as<float>(problem) : run_manual_mlp_as<double>(problem);
}

std::vector<DeadUnits> dead_relu_units(const Problem& problem) {
  return problem.spec.dtype == Dtype::float32 ? dead_relu_units_as<float>(problem) : dead_relu_units_as<double>(problem);
}

}  // namespace gradverify
