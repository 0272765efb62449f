#include "student_backward.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gradverify::testing {

const char* to_string(StudentBug bug) {
  switch (bug) {
    case StudentBug::none: return "none";
    case StudentBug::loss_summed_over_batch: return "loss_summed_over_batch";
    case StudentBug::loss_summed_over_all: return "loss_summed_over_all";
    case StudentBug::loss_mean_over_batch_only: return "loss_mean_over_batch_only";
    case StudentBug::sign_flipped: return "sign_flipped";
    case StudentBug::mse_factor_two_missing: return "mse_factor_two_missing";
    case StudentBug::mse_factor_two_doubled: return "mse_factor_two_doubled";
    case StudentBug::bias_averaged: return "bias_averaged";
    case StudentBug::bias_row_not_summed: return "bias_row_not_summed";
    case StudentBug::bias_full_batch: return "bias_full_batch";
    case StudentBug::relu_grad_one_at_zero: return "relu_grad_one_at_zero";
    case StudentBug::derivative_of_output: return "derivative_of_output";
    case StudentBug::sigmoid_derivative_of_output: return "sigmoid_derivative_of_output";
    case StudentBug::activation_derivative_forgotten: return "activation_derivative_forgotten";
    case StudentBug::bce_extra_sigmoid_derivative: return "bce_extra_sigmoid_derivative";
    case StudentBug::gradient_left_zero: return "gradient_left_zero";
    case StudentBug::nan_entry: return "nan_entry";
    case StudentBug::missing_array: return "missing_array";
    case StudentBug::transposed_weight: return "transposed_weight";
    case StudentBug::relu_mask_on_upstream: return "relu_mask_on_upstream";
    case StudentBug::derivative_formula_on_z: return "derivative_formula_on_z";
    case StudentBug::derivative_of_output_hidden_only: return "derivative_of_output_hidden_only";
    case StudentBug::logits_extra_sigmoid_derivative: return "logits_extra_sigmoid_derivative";
    case StudentBug::softmax_onehot_not_subtracted: return "softmax_onehot_not_subtracted";
    case StudentBug::softmax_jacobian_after_fused: return "softmax_jacobian_after_fused";
    case StudentBug::softmax_without_max_shift: return "softmax_without_max_shift";
    case StudentBug::weight_decay_on_biases: return "weight_decay_on_biases";
    case StudentBug::weight_decay_forgotten: return "weight_decay_forgotten";
    case StudentBug::cross_entropy_mean_over_classes: return "cross_entropy_mean_over_classes";
    case StudentBug::float32_arithmetic: return "float32_arithmetic";
    case StudentBug::weight_decay_doubled: return "weight_decay_doubled";
    case StudentBug::weight_decay_halved: return "weight_decay_halved";
    case StudentBug::leaky_slope_forgotten: return "leaky_slope_forgotten";
    case StudentBug::batch_mean_twice: return "batch_mean_twice";
    case StudentBug::update_returned: return "update_returned";
    case StudentBug::dh_untransposed: return "dh_untransposed";
    case StudentBug::mse_half_summed: return "mse_half_summed";
  }
  return "?";
}

std::vector<StudentBug> all_student_bugs() {
  std::vector<StudentBug> bugs;
  for (int b = static_cast<int>(StudentBug::none); b <= static_cast<int>(StudentBug::mse_half_summed); ++b)
    bugs.push_back(static_cast<StudentBug>(b));
  return bugs;
}

double update_learning_rate(int64_t batch) {
  const double rates[] = {0.1, 0.05, 0.01, 0.5, 0.001};
  return rates[batch % 5];
}

namespace {

// Row-major matrices as nested vectors: the way a student would write it.
template <typename T>
using Mat = std::vector<std::vector<T>>;

template <typename T>
Mat<T> to_mat(const Tensor& t) {
  const size_t rows = t.shape.size() == 2 ? static_cast<size_t>(t.shape[0]) : 1;
  const size_t cols = static_cast<size_t>(t.shape.back());
  Mat<T> m(rows, std::vector<T>(cols));
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) m[i][j] = static_cast<T>(t.values[i * cols + j]);
  return m;
}

template <typename T>
Tensor to_tensor(const Mat<T>& m, bool flat) {
  Tensor t;
  t.shape = flat ? Shape{static_cast<int64_t>(m[0].size())}
                 : Shape{static_cast<int64_t>(m.size()), static_cast<int64_t>(m[0].size())};
  for (const auto& row : m)
    for (T v : row) t.values.push_back(static_cast<double>(v));
  return t;
}

template <typename T>
T act(Activation a, T z, T slope = T(0.01)) {
  switch (a) {
    case Activation::relu: return z > 0 ? z : T(0);
    case Activation::leaky_relu: return z > 0 ? z : slope * z;
    case Activation::sigmoid: return T(1) / (T(1) + std::exp(-z));
    case Activation::tanh: return std::tanh(z);
    case Activation::identity: return z;
  }
  return z;
}

// The derivative written in terms of z, as the lab does. With derivative_of_output the
// student passes the layer's output h instead, and the helper applies the activation again.
template <typename T>
T act_grad(Activation a, T z, T h, T dh, StudentBug bug, T slope) {
  if (bug == StudentBug::activation_derivative_forgotten) return 1;
  const bool of_output = bug == StudentBug::derivative_of_output || bug == StudentBug::derivative_of_output_hidden_only ||
                         (bug == StudentBug::sigmoid_derivative_of_output && a == Activation::sigmoid);
  const T at = of_output ? h : z;
  switch (a) {
    case Activation::relu:
      if (bug == StudentBug::relu_mask_on_upstream) return T(dh > 0);
      return bug == StudentBug::relu_grad_one_at_zero ? T(z >= 0) : T(z > 0);
    case Activation::sigmoid: {
      if (bug == StudentBug::derivative_formula_on_z) return z * (1 - z);  // s(1 - s) with z for s
      const T s = act(a, at);
      return s * (1 - s);
    }
    case Activation::tanh: {
      if (bug == StudentBug::derivative_formula_on_z) return 1 - z * z;  // 1 - h² with z for h
      const T t = std::tanh(at);
      return 1 - t * t;
    }
    case Activation::identity: return 1;
    case Activation::leaky_relu:
      if (bug == StudentBug::leaky_slope_forgotten) return T(z > 0);  // ReLU's derivative
      if (bug == StudentBug::relu_grad_one_at_zero) return z >= 0 ? T(1) : slope;
      return z > 0 ? T(1) : slope;
  }
  return 1;
}

template <typename T>
SubmittedGradients backward_as(const Problem& problem, StudentBug bug, int64_t layer) {
  const MlpSpec& s = problem.spec;
  const auto L = static_cast<size_t>(s.num_layers());
  std::vector<Mat<T>> W, b, z(L), h(L);
  for (int64_t k = 1; k <= s.num_layers(); ++k) {
    W.push_back(to_mat<T>(problem.params.at(weight_name(k))));
    b.push_back(to_mat<T>(problem.params.at(bias_name(k))));
  }
  const Mat<T> X = to_mat<T>(problem.X), Y = to_mat<T>(problem.y);
  const size_t n = X.size();

  // Forward.
  for (size_t l = 0; l < L; ++l) {
    const Mat<T>& in = l == 0 ? X : h[l - 1];
    const size_t fan_out = W[l][0].size();
    z[l] = h[l] = Mat<T>(n, std::vector<T>(fan_out));
    for (size_t r = 0; r < n; ++r)
      for (size_t o = 0; o < fan_out; ++o) {
        T sum = b[l][0][o];
        for (size_t i = 0; i < in[r].size(); ++i) sum += in[r][i] * W[l][i][o];
        z[l][r][o] = sum;
        h[l][r][o] = act(s.activations[l], sum, static_cast<T>(s.negative_slope));
      }
  }

  // dL/dpred of the mean loss.
  const Mat<T>& P = h[L - 1];
  const T D = static_cast<T>(P[0].size());
  T mean = T(1) / (static_cast<T>(n) * D);
  if (bug == StudentBug::loss_summed_over_batch) mean = T(1) / D;
  if (bug == StudentBug::loss_summed_over_all) mean = T(1);
  const bool half_summed = bug == StudentBug::mse_half_summed && s.loss == Loss::mse;
  if (half_summed) mean = T(1);
  if (bug == StudentBug::loss_mean_over_batch_only) mean = T(1) / static_cast<T>(n);
  const T sign = bug == StudentBug::sign_flipped ? T(-1) : T(1);
  const bool mse_bug = s.loss == Loss::mse;
  const T two = (mse_bug && bug == StudentBug::mse_factor_two_missing) || half_summed ? T(1)
                : mse_bug && bug == StudentBug::mse_factor_two_doubled              ? T(4)
                                                                                    : T(2);
  Mat<T> dh = P;
  // cross_entropy's mean is over the batch alone, and its gradient is a row's softmax - y.
  const T row_mean = bug == StudentBug::loss_summed_over_batch || bug == StudentBug::loss_summed_over_all
                         ? T(1)
                     : bug == StudentBug::cross_entropy_mean_over_classes ? T(1) / (static_cast<T>(n) * D)
                                                                          : T(1) / static_cast<T>(n);
  for (size_t r = 0; r < n; ++r)
    for (size_t o = 0; o < P[r].size(); ++o) {
      const T p = P[r][o], y = Y[r][o];
      T g = 0;
      switch (s.loss) {
        case Loss::cross_entropy: {
          T max = P[r][0], sum = 0;
          for (const T v : P[r]) max = std::max(max, v);
          if (bug == StudentBug::softmax_without_max_shift) max = 0;  // exp(p) itself
          for (const T v : P[r]) sum += std::exp(v - max);
          const T onehot = bug == StudentBug::softmax_onehot_not_subtracted ? T(0) : y;
          g = (std::exp(p - max) / sum - onehot) * row_mean / mean;  // times mean below
          break;
        }
        case Loss::mse: g = two * (p - y); break;
        case Loss::bce: g = (p - y) / std::max(p * (1 - p), T(1e-12)); break;
        case Loss::bce_with_logits: {
          const T sp = act(Activation::sigmoid, p);
          g = sp - y;
          if (bug == StudentBug::logits_extra_sigmoid_derivative) g *= sp * (1 - sp);
          break;
        }
      }
      dh[r][o] = sign * g * mean;
    }
  if (bug == StudentBug::softmax_jacobian_after_fused && s.loss == Loss::cross_entropy)
    for (size_t r = 0; r < n; ++r) {  // dh_c = s_c (f_c - Σ_j s_j f_j), f the fused gradient
      T max = P[r][0], sum = 0, dot = 0;
      for (const T v : P[r]) max = std::max(max, v);
      for (const T v : P[r]) sum += std::exp(v - max);
      for (size_t o = 0; o < P[r].size(); ++o) dot += std::exp(P[r][o] - max) / sum * dh[r][o];
      for (size_t o = 0; o < P[r].size(); ++o) dh[r][o] = std::exp(P[r][o] - max) / sum * (dh[r][o] - dot);
    }

  SubmittedGradients out;
  for (size_t l = L; l-- > 0;) {
    const int64_t k = static_cast<int64_t>(l) + 1;
    const Mat<T>& in = l == 0 ? X : h[l - 1];
    // A layer-specific bug acts in the planted layer only; the others run right.
    const bool here = bug == StudentBug::derivative_of_output_hidden_only ? l + 1 < L : layer == 0 || layer == k;
    const StudentBug layer_bug = here ? bug : StudentBug::none;
    Mat<T> dz = dh;
    for (size_t r = 0; r < n; ++r)
      for (size_t o = 0; o < dz[r].size(); ++o)
        dz[r][o] = dh[r][o] * act_grad(s.activations[l], z[l][r][o], h[l][r][o], dh[r][o], layer_bug,
                                       static_cast<T>(s.negative_slope));
    if (bug == StudentBug::bce_extra_sigmoid_derivative && s.loss == Loss::bce && l == L - 1)
      for (size_t r = 0; r < n; ++r)  // the fused gradient, then sigma'(z) once more
        for (size_t o = 0; o < dz[r].size(); ++o) {
          const T p = h[l][r][o];
          dz[r][o] = (p - Y[r][o]) / (static_cast<T>(n) * D) * p * (1 - p);
        }
    Mat<T> dW(in[0].size(), std::vector<T>(dz[0].size(), 0));
    Mat<T> db(1, std::vector<T>(dz[0].size(), 0));
    for (size_t r = 0; r < n; ++r)
      for (size_t o = 0; o < dz[r].size(); ++o) {
        for (size_t i = 0; i < in[r].size(); ++i) dW[i][o] += in[r][i] * dz[r][o];
        db[0][o] += dz[r][o];
      }
    if (layer_bug == StudentBug::bias_row_not_summed) db[0] = dz[0];
    if (layer_bug == StudentBug::bias_averaged || layer_bug == StudentBug::batch_mean_twice)
      for (T& v : db[0]) v /= static_cast<T>(n);
    if (layer_bug == StudentBug::batch_mean_twice)
      for (auto& row : dW)
        for (T& v : row) v /= static_cast<T>(n);
    // Weight decay's λW, added to the data gradient (or misplaced).
    const T lambda = static_cast<T>(s.weight_decay);
    const T decay = bug == StudentBug::weight_decay_doubled    ? 2 * lambda
                    : bug == StudentBug::weight_decay_halved   ? lambda / 2
                    : bug == StudentBug::weight_decay_forgotten ? T(0)
                                                                : lambda;
    for (size_t i = 0; i < dW.size(); ++i)
      for (size_t o = 0; o < dW[i].size(); ++o) dW[i][o] += decay * W[l][i][o];
    if (bug == StudentBug::weight_decay_on_biases)
      for (size_t o = 0; o < db[0].size(); ++o) db[0][o] += lambda * b[l][0][o];
    if (bug == StudentBug::update_returned) {
      const T lr = static_cast<T>(update_learning_rate(static_cast<int64_t>(n)));
      for (T& v : db[0]) v *= lr;
      for (auto& row : dW)
        for (T& v : row) v *= lr;
    }
    const bool weight_bug_here = layer == k || (layer == 0 && k == 1);
    if (weight_bug_here && bug == StudentBug::gradient_left_zero)  // the loop that fills dW never ran
      for (auto& row : dW) std::fill(row.begin(), row.end(), T(0));
    out[bias_name(k)].tensor = layer_bug == StudentBug::bias_full_batch ? to_tensor(dz, false) : to_tensor(db, true);
    out[weight_name(k)].tensor = to_tensor(dW, false);
    if (weight_bug_here && bug == StudentBug::nan_entry) out[weight_name(k)].tensor->values[0] = std::nan("");
    if (weight_bug_here && bug == StudentBug::transposed_weight) {
      Tensor& t = *out[weight_name(k)].tensor;
      t = transposed(t);
    }
    out[preactivation_name(k)].tensor = to_tensor(dz, false);
    out[activation_name(k)].tensor = to_tensor(dh, false);
    if (l > 0) {  // dh_{k-1} = dz_k @ W_k^T; the bug takes W_k as it is, where it is square
      const bool untransposed = layer_bug == StudentBug::dh_untransposed && W[l].size() == W[l][0].size();
      Mat<T> prev(n, std::vector<T>(W[l].size(), 0));
      for (size_t r = 0; r < n; ++r)
        for (size_t i = 0; i < W[l].size(); ++i)
          for (size_t o = 0; o < dz[r].size(); ++o) prev[r][i] += dz[r][o] * (untransposed ? W[l][o][i] : W[l][i][o]);
      dh = prev;
    }
  }

  if (bug == StudentBug::missing_array) out.erase("W2");
  return out;
}

}  // namespace

SubmittedGradients student_backward(const Problem& problem, StudentBug bug, int64_t layer) {
  if (bug == StudentBug::float32_arithmetic) return backward_as<float>(problem, StudentBug::none, layer);
  return problem.spec.dtype == Dtype::float32 ? backward_as<float>(problem, bug, layer)
                                              : backward_as<double>(problem, bug, layer);
}

}  // namespace gradverify::testing
