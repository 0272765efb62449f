#include "gradverify/net/mlp.h"

#include <limits>
#include <utility>

#include "gradverify/net/kernels.h"

namespace gradverify {

template <typename T>
T mlp_forward(MlpForwardCache<T>& cache, const MlpSpec& spec, const MlpParams<T>& params, const Matrix<T>& X,
              const Matrix<T>& y) {
  // X is (N, layers[0]), y is (N, layers[L])
  const int64_t N = X.rows;
  const auto L = static_cast<size_t>(spec.num_layers());
  cache.X = X;
  cache.y = y;
  cache.z.resize(L);
  cache.h.resize(L);
  const Matrix<T>* input = &cache.X;
  for (size_t i = 0; i < L; ++i) {
    const int64_t k = static_cast<int64_t>(i) + 1;
    const int64_t in = spec.fan_in(k), out = spec.fan_out(k);
    // NaN when first allocated: every entry is written below, and a NaN shows a kernel that
    // skipped one.
    cache.z[i].ensure_shape(N, out, std::numeric_limits<T>::quiet_NaN());
    cache.h[i].ensure_shape(N, out, std::numeric_limits<T>::quiet_NaN());
    kernels::linear_forward(cache.z[i].data.data(), input->data.data(), params.W[i].data.data(),
                            params.b[i].data.data(), N, in, out);
    kernels::activation_forward(spec.activation(k), cache.h[i].data.data(), cache.z[i].data.data(), N * out,
                                spec.negative_slope);
    input = &cache.h[i];
  }
  const Matrix<T>& prediction = cache.h[L - 1];
  cache.loss = kernels::loss_forward(spec.loss, prediction.data.data(), y.data.data(), N, prediction.cols);
  if (spec.weight_decay > 0)
    for (size_t i = 0; i < L; ++i)
      cache.loss += kernels::l2_penalty_forward(params.W[i].data.data(), params.W[i].size(), spec.weight_decay);
  return cache.loss;
}

template <typename T>
void shape_gradients(MlpGradients<T>& grads, const MlpSpec& spec, int64_t N, T fill) {
  const auto L = static_cast<size_t>(spec.num_layers());
  grads.params.W.resize(L);
  grads.params.b.resize(L);
  grads.dz.resize(L);
  grads.dh.resize(L);
  for (size_t i = 0; i < L; ++i) {
    const int64_t k = static_cast<int64_t>(i) + 1;
    grads.params.W[i].ensure_shape(spec.fan_in(k), spec.fan_out(k), fill);
    grads.params.b[i].ensure_shape(1, spec.fan_out(k), fill);
    grads.dz[i].ensure_shape(N, spec.fan_out(k), fill);
    grads.dh[i].ensure_shape(N, spec.fan_out(k), fill);
  }
}

template <typename T>
void mlp_backward(MlpGradients<T>& grads, const MlpForwardCache<T>& cache, const MlpSpec& spec,
                  const MlpParams<T>& params, const BackwardHook<T>& hook) {
  const int64_t N = cache.X.rows;
  const auto L = static_cast<size_t>(spec.num_layers());
  const T nan = std::numeric_limits<T>::quiet_NaN();
  // NaN-filled when allocated (dlib's habit), so an entry backward never writes shows up as
  // NaN in the comparison instead of as 0. Buffers kept from a previous call of the same
  // shape are reused as they are, so a training step does not allocate or refill.
  shape_gradients(grads, spec, N, nan);

  // dL/dprediction from the loss, then back through each layer: activation, then linear.
  const Matrix<T>& prediction = cache.h[L - 1];
  kernels::loss_backward(spec.loss, grads.dh[L - 1].data.data(), prediction.data.data(), cache.y.data.data(), N,
                         prediction.cols);
  if (hook) hook(BackwardStep::loss, 0, grads);
  for (size_t i = L; i-- > 0;) {
    const int64_t k = static_cast<int64_t>(i) + 1;
    const int64_t in = spec.fan_in(k), out = spec.fan_out(k);
    kernels::activation_backward(spec.activation(k), grads.dz[i].data.data(), grads.dh[i].data.data(),
                                 cache.h[i].data.data(), N * out, spec.negative_slope);
    if (hook) hook(BackwardStep::activation, k, grads);
    const Matrix<T>& input = i == 0 ? cache.X : cache.h[i - 1];
    T* dinput = i == 0 ? nullptr : grads.dh[i - 1].data.data();  // dL/dX is not needed
    kernels::linear_backward(dinput, grads.params.W[i].data.data(), grads.params.b[i].data.data(),
                             grads.dz[i].data.data(), input.data.data(), params.W[i].data.data(), N, in, out);
    if (spec.weight_decay > 0)
      kernels::l2_penalty_backward(grads.params.W[i].data.data(), params.W[i].data.data(), in * out, spec.weight_decay);
    if (hook) hook(BackwardStep::linear, k, grads);
  }
}

template <typename T>
MlpParams<T> params_from_tensors(const MlpSpec& spec, const TensorMap& params) {
  MlpParams<T> p;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    p.W.push_back(to_matrix<T>(params.at(weight_name(k))));
    p.b.push_back(to_matrix<T>(params.at(bias_name(k))));
  }
  return p;
}

template <typename T>
TensorMap gradients_to_tensors(const MlpSpec& spec, const MlpGradients<T>& grads, int64_t batch) {
  TensorMap out;
  for (int64_t k = 1; k <= spec.num_layers(); ++k) {
    const auto i = static_cast<size_t>(k - 1);
    for (const auto& [name, matrix] : {std::pair{weight_name(k), &grads.params.W[i]}, std::pair{bias_name(k), &grads.params.b[i]},
                                       std::pair{preactivation_name(k), &grads.dz[i]}, std::pair{activation_name(k), &grads.dh[i]}})
      out[name] = to_tensor(*matrix, expected_shape(spec, name, batch));
  }
  return out;
}

template float mlp_forward<float>(MlpForwardCache<float>&, const MlpSpec&, const MlpParams<float>&,
                                  const Matrix<float>&, const Matrix<float>&);
template double mlp_forward<double>(MlpForwardCache<double>&, const MlpSpec&, const MlpParams<double>&,
                                    const Matrix<double>&, const Matrix<double>&);
template void mlp_backward<float>(MlpGradients<float>&, const MlpForwardCache<float>&, const MlpSpec&,
                                  const MlpParams<float>&, const BackwardHook<float>&);
template void mlp_backward<double>(MlpGradients<double>&, const MlpForwardCache<double>&, const MlpSpec&,
                                   const MlpParams<double>&, const BackwardHook<double>&);
template void shape_gradients<float>(MlpGradients<float>&, const MlpSpec&, int64_t, float);
template void shape_gradients<double>(MlpGradients<double>&, const MlpSpec&, int64_t, double);
template MlpParams<float> params_from_tensors<float>(const MlpSpec&, const TensorMap&);
template MlpParams<double> params_from_tensors<double>(const MlpSpec&, const TensorMap&);
template TensorMap gradients_to_tensors<float>(const MlpSpec&, const MlpGradients<float>&, int64_t);
template TensorMap gradients_to_tensors<double>(const MlpSpec&, const MlpGradients<double>&, int64_t);

}  // namespace gradverify
