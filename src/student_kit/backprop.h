#pragma once
// The manual-backprop lab, in C++: what you implement is declared here, and you write it in
// backprop.cpp. Everything else (the forward passes, the runner that talks to the grader) is
// given. Shapes follow the lab's notebook:
//
//   z = x @ W + b        x is (N, in), W is (in, out), b is (1, out), z is (N, out)
//   h = act(z)           relu, leaky_relu, sigmoid, tanh or identity
//   L = mean over all elements of loss(h_L, y)           mse, bce, bce_with_logits
//   L = mean over the N samples of -Σ_c y log softmax(h_L)  cross_entropy (h_L are logits)
//     + (λ/2)·Σ_k ‖W_k‖²                                  with weight decay λ (weights only)
//
// Every gradient has the shape of what it differentiates: dW like W, db like b, and so on.
// The first lab needs the mse, bce and the four activations; the next lab adds leaky_relu,
// cross_entropy and weight decay.
#include <string>
#include <vector>

namespace lab {

// A row-major matrix of doubles.
struct Matrix {
  int rows = 0, cols = 0;
  std::vector<double> data;

  Matrix() = default;
  Matrix(int r, int c, double fill = 0.0) : rows(r), cols(c), data(static_cast<size_t>(r) * c, fill) {}
  double& operator()(int i, int j) { return data[static_cast<size_t>(i) * cols + j]; }
  double operator()(int i, int j) const { return data[static_cast<size_t>(i) * cols + j]; }
};

// ---- given (forward.cpp) ----------------------------------------------------------------------
Matrix matmul(const Matrix& a, const Matrix& b);
Matrix transpose(const Matrix& a);
Matrix activation_forward(const std::string& activation, const Matrix& z, double negative_slope = 0.01);
double sigmoid(double x);

struct Mlp {
  std::vector<Matrix> W, b;              // W[k] is layer k+1's weights, b[k] its (1, out) bias
  std::vector<std::string> activations;  // one per layer
  std::string loss;             // mse, bce (on probabilities), bce_with_logits or cross_entropy
  double negative_slope = 0.01;  // leaky_relu's slope for z < 0, one for the whole net
  double weight_decay = 0;       // λ: the loss adds (λ/2)·Σ‖W_k‖² (not the biases)
};

struct MlpForward {
  std::vector<Matrix> z, h;  // z[k] and h[k] of layer k+1; h.back() is the prediction
};
MlpForward mlp_forward(const Mlp& net, const Matrix& X);

// ---- yours (backprop.cpp) ---------------------------------------------------------------------

// Activations: given the pre-activation z and dL/dh, return dL/dz.
Matrix relu_backward(const Matrix& z, const Matrix& dh);
Matrix sigmoid_backward(const Matrix& z, const Matrix& dh);
Matrix tanh_backward(const Matrix& z, const Matrix& dh);
Matrix identity_backward(const Matrix& z, const Matrix& dh);
Matrix leaky_relu_backward(const Matrix& z, const Matrix& dh, double negative_slope);

// Linear: given the layer's input x, its weights W and dL/dz, return dL/dW, dL/db, dL/dx.
struct LinearGrads {
  Matrix dW, db, dx;  // (in, out), (1, out), (N, in)
};
LinearGrads linear_backward(const Matrix& x, const Matrix& W, const Matrix& dz);

// Losses: the gradient of the MEAN loss over every element, with respect to pred.
Matrix mse_backward(const Matrix& pred, const Matrix& y);
Matrix bce_backward(const Matrix& pred, const Matrix& y);              // pred are probabilities
Matrix bce_with_logits_backward(const Matrix& logits, const Matrix& y);  // pred are logits
// Softmax cross-entropy, the mean over the N samples (rows): the gradient with respect to the
// logits. y holds one row of class probabilities per sample (one-hot for a class index).
Matrix cross_entropy_backward(const Matrix& logits, const Matrix& y);

// The whole net: dW and db for every layer, and (optional, but they help the grader tell you
// where a mistake is) dL/dz and dL/dh of every layer. Leave dz and dh empty to skip them.
// With net.weight_decay, dW includes the penalty's term.
struct MlpGrads {
  std::vector<Matrix> dW, db, dz, dh;
};
MlpGrads mlp_backward(const Mlp& net, const Matrix& X, const Matrix& y);

}  // namespace lab
