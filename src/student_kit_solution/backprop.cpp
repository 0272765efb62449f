// The reference solution of the student kit (for course staff: don't hand it out). It scores
// full marks on both built-in rubrics, lab and multiclass; the grading tests hold it to that.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "backprop.h"

namespace lab {
namespace {

// dL/dz = dL/dh * f'(z), elementwise.
template <typename Derivative>
Matrix times_derivative(const Matrix& z, const Matrix& dh, Derivative derivative) {
  Matrix dz(z.rows, z.cols);
  for (size_t i = 0; i < z.data.size(); ++i) dz.data[i] = dh.data[i] * derivative(z.data[i]);
  return dz;
}

Matrix activation_backward(const Mlp& net, const std::string& activation, const Matrix& z, const Matrix& dh) {
  if (activation == "relu") return relu_backward(z, dh);
  if (activation == "leaky_relu") return leaky_relu_backward(z, dh, net.negative_slope);
  if (activation == "sigmoid") return sigmoid_backward(z, dh);
  if (activation == "tanh") return tanh_backward(z, dh);
  if (activation == "identity") return identity_backward(z, dh);
  throw std::invalid_argument("unknown activation " + activation);
}

Matrix loss_backward(const std::string& loss, const Matrix& pred, const Matrix& y) {
  if (loss == "mse") return mse_backward(pred, y);
  if (loss == "bce") return bce_backward(pred, y);
  if (loss == "bce_with_logits") return bce_with_logits_backward(pred, y);
  if (loss == "cross_entropy") return cross_entropy_backward(pred, y);
  throw std::invalid_argument("unknown loss " + loss);
}

}  // namespace

Matrix relu_backward(const Matrix& z, const Matrix& dh) {
  return times_derivative(z, dh, [](double v) { return v > 0 ? 1.0 : 0.0; });
}

Matrix sigmoid_backward(const Matrix& z, const Matrix& dh) {
  return times_derivative(z, dh, [](double v) {
    const double s = sigmoid(v);
    return s * (1 - s);
  });
}

Matrix tanh_backward(const Matrix& z, const Matrix& dh) {
  return times_derivative(z, dh, [](double v) { return 1 - std::tanh(v) * std::tanh(v); });
}

Matrix identity_backward(const Matrix& z, const Matrix& dh) {
  return times_derivative(z, dh, [](double) { return 1.0; });
}

Matrix leaky_relu_backward(const Matrix& z, const Matrix& dh, double negative_slope) {
  return times_derivative(z, dh, [negative_slope](double v) { return v > 0 ? 1.0 : negative_slope; });
}

LinearGrads linear_backward(const Matrix& x, const Matrix& W, const Matrix& dz) {
  LinearGrads g{matmul(transpose(x), dz), Matrix(1, dz.cols), matmul(dz, transpose(W))};
  for (int i = 0; i < dz.rows; ++i)
    for (int j = 0; j < dz.cols; ++j) g.db(0, j) += dz(i, j);  // every sample contributes
  return g;
}

Matrix mse_backward(const Matrix& pred, const Matrix& y) {
  Matrix d(pred.rows, pred.cols);
  const double n = static_cast<double>(pred.data.size());
  for (size_t i = 0; i < d.data.size(); ++i) d.data[i] = 2 * (pred.data[i] - y.data[i]) / n;
  return d;
}

Matrix bce_backward(const Matrix& pred, const Matrix& y) {
  // d/dp of -(y log p + (1-y) log(1-p)) is (p - y) / (p (1 - p)); PyTorch floors the
  // denominator at 1e-12.
  Matrix d(pred.rows, pred.cols);
  const double n = static_cast<double>(pred.data.size());
  for (size_t i = 0; i < d.data.size(); ++i) {
    const double p = pred.data[i];
    d.data[i] = (p - y.data[i]) / std::max(p * (1 - p), 1e-12) / n;
  }
  return d;
}

Matrix bce_with_logits_backward(const Matrix& logits, const Matrix& y) {
  Matrix d(logits.rows, logits.cols);
  const double n = static_cast<double>(logits.data.size());
  for (size_t i = 0; i < d.data.size(); ++i) d.data[i] = (sigmoid(logits.data[i]) - y.data[i]) / n;
  return d;
}

Matrix cross_entropy_backward(const Matrix& logits, const Matrix& y) {
  // (softmax - y)/N per row, the softmax shifted by the row's max so that exp never overflows;
  // y's row sum is 1 for class probabilities, and taking it keeps any other row exact as well.
  Matrix d(logits.rows, logits.cols);
  for (int i = 0; i < logits.rows; ++i) {
    double max = logits(i, 0), sum = 0, target_sum = 0;
    for (int j = 1; j < logits.cols; ++j) max = std::max(max, logits(i, j));
    for (int j = 0; j < logits.cols; ++j) sum += std::exp(logits(i, j) - max), target_sum += y(i, j);
    for (int j = 0; j < logits.cols; ++j)
      d(i, j) = (std::exp(logits(i, j) - max) / sum * target_sum - y(i, j)) / logits.rows;
  }
  return d;
}

MlpGrads mlp_backward(const Mlp& net, const Matrix& X, const Matrix& y) {
  const MlpForward f = mlp_forward(net, X);
  const size_t L = net.W.size();
  MlpGrads g;
  g.dW.resize(L), g.db.resize(L), g.dz.resize(L), g.dh.resize(L);
  Matrix dh = loss_backward(net.loss, f.h.back(), y);
  for (size_t k = L; k-- > 0;) {
    g.dh[k] = dh;
    g.dz[k] = activation_backward(net, net.activations[k], f.z[k], dh);
    LinearGrads lin = linear_backward(k == 0 ? X : f.h[k - 1], net.W[k], g.dz[k]);
    // The penalty (λ/2)·‖W‖² adds λ·W to dW, and nothing to db.
    for (size_t i = 0; i < lin.dW.data.size(); ++i) lin.dW.data[i] += net.weight_decay * net.W[k].data[i];
    g.dW[k] = std::move(lin.dW);
    g.db[k] = std::move(lin.db);
    dh = std::move(lin.dx);
  }
  return g;
}

}  // namespace lab
