// Given: the forward passes. You don't need to change this file.
#include <cmath>
#include <stdexcept>

#include "backprop.h"

namespace lab {

Matrix matmul(const Matrix& a, const Matrix& b) {
  Matrix out(a.rows, b.cols);
  for (int i = 0; i < a.rows; ++i)
    for (int k = 0; k < a.cols; ++k)
      for (int j = 0; j < b.cols; ++j) out(i, j) += a(i, k) * b(k, j);
  return out;
}

Matrix transpose(const Matrix& a) {
  Matrix t(a.cols, a.rows);
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < a.cols; ++j) t(j, i) = a(i, j);
  return t;
}

double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

Matrix activation_forward(const std::string& activation, const Matrix& z, double negative_slope) {
  Matrix h = z;
  for (double& v : h.data) {
    if (activation == "relu") v = v > 0 ? v : 0;
    else if (activation == "leaky_relu") v = v > 0 ? v : negative_slope * v;
    else if (activation == "sigmoid") v = sigmoid(v);
    else if (activation == "tanh") v = std::tanh(v);
    else if (activation != "identity") throw std::invalid_argument("unknown activation " + activation);
  }
  return h;
}

MlpForward mlp_forward(const Mlp& net, const Matrix& X) {
  MlpForward f;
  const Matrix* input = &X;
  for (size_t k = 0; k < net.W.size(); ++k) {
    Matrix z = matmul(*input, net.W[k]);
    for (int i = 0; i < z.rows; ++i)
      for (int j = 0; j < z.cols; ++j) z(i, j) += net.b[k](0, j);
    f.h.push_back(activation_forward(net.activations[k], z, net.negative_slope));
    f.z.push_back(std::move(z));
    input = &f.h.back();
  }
  return f;
}

}  // namespace lab
