#include "gradverify/net/kernels.h"

#include "gradverify/net/gemm.h"

#include <algorithm>
#include <cmath>

namespace gradverify::kernels {

// ---- linear ------------------------------------------------------------------------------

template <typename T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IN, int64_t OUT) {
  // out is (N,OUT), inp is (N,IN), weight is (IN,OUT), bias is (OUT)
  // Every row starts as the bias, then out += inp @ W.
  for (int64_t n = 0; n < N; ++n) std::copy(bias, bias + OUT, out + n * OUT);
  gemm(false, false, N, OUT, IN, T(1), inp, IN, weight, OUT, T(1), out, OUT);
}

template <typename T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, int64_t N,
                     int64_t IN, int64_t OUT) {
  // dinp is (N,IN) or nullptr, dweight is (IN,OUT), dbias is (OUT), dout is (N,OUT)
  // dW = inp^T @ dout and db = sum over the batch of dout: every sample contributes.
  gemm(true, false, IN, OUT, N, T(1), inp, IN, dout, OUT, T(0), dweight, OUT);
  std::fill(dbias, dbias + OUT, T(0));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < OUT; ++o) dbias[o] += dout[n * OUT + o];
  if (dinp == nullptr) return;
  // dinp = dout @ W^T
  gemm(false, true, N, IN, OUT, T(1), dout, OUT, weight, OUT, T(0), dinp, IN);
}

// ---- activations -------------------------------------------------------------------------

template <typename T>
void relu_forward(T* out, const T* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] > T(0) ? inp[i] : T(0);
}
template <typename T>
void relu_backward(T* dinp, const T* dout, const T* out, int64_t n) {
  // relu'(0) = 0: gradient flows only where the output is positive, as in torch. Both loads
  // are unconditional so the compiler turns the choice into a vector blend: a branch here
  // mispredicts half the time and cost 5% of a 1024-wide training step.
  for (int64_t i = 0; i < n; ++i) {
    const T g = dout[i];
    dinp[i] = out[i] > T(0) ? g : T(0);
  }
}

template <typename T>
void leaky_relu_forward(T* out, const T* inp, int64_t n, T negative_slope) {
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] > T(0) ? inp[i] : negative_slope * inp[i];
}
template <typename T>
void leaky_relu_backward(T* dinp, const T* dout, const T* out, int64_t n, T negative_slope) {
  // The slope at 0 too, as torch's leaky_relu_backward (z > 0 ? 1 : slope); with a positive
  // slope the output has z's sign, so the cached output decides.
  for (int64_t i = 0; i < n; ++i) {
    const T g = dout[i];
    dinp[i] = out[i] > T(0) ? g : negative_slope * g;
  }
}

template <typename T>
void sigmoid_forward(T* out, const T* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = T(1) / (T(1) + std::exp(-inp[i]));
}
template <typename T>
void sigmoid_backward(T* dinp, const T* dout, const T* out, int64_t n) {
  // sigma'(z) = s (1 - s) with s = sigma(z): the cached output, not z.
  for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * (T(1) - out[i]) * out[i];
}

template <typename T>
void tanh_forward(T* out, const T* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(inp[i]);
}
template <typename T>
void tanh_backward(T* dinp, const T* dout, const T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * (T(1) - out[i] * out[i]);
}

template <typename T>
void identity_forward(T* out, const T* inp, int64_t n) {
  std::copy(inp, inp + n, out);
}
template <typename T>
void identity_backward(T* dinp, const T* dout, const T* /*out*/, int64_t n) {
  std::copy(dout, dout + n, dinp);
}

template <typename T>
void activation_forward(Activation act, T* out, const T* inp, int64_t n, double negative_slope) {
  switch (act) {
    case Activation::relu: return relu_forward(out, inp, n);
    case Activation::leaky_relu: return leaky_relu_forward(out, inp, n, static_cast<T>(negative_slope));
    case Activation::sigmoid: return sigmoid_forward(out, inp, n);
    case Activation::tanh: return tanh_forward(out, inp, n);
    case Activation::identity: return identity_forward(out, inp, n);
  }
}
template <typename T>
void activation_backward(Activation act, T* dinp, const T* dout, const T* out, int64_t n, double negative_slope) {
  switch (act) {
    case Activation::relu: return relu_backward(dinp, dout, out, n);
    case Activation::leaky_relu: return leaky_relu_backward(dinp, dout, out, n, static_cast<T>(negative_slope));
    case Activation::sigmoid: return sigmoid_backward(dinp, dout, out, n);
    case Activation::tanh: return tanh_backward(dinp, dout, out, n);
    case Activation::identity: return identity_backward(dinp, dout, out, n);
  }
}

// ---- losses ------------------------------------------------------------------------------
// Forwards sum in double and round once: the loss is reported, not differentiated.

template <typename T>
T mse_forward(const T* pred, const T* target, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(pred[i]) - static_cast<double>(target[i]);
    sum += d * d;
  }
  return static_cast<T>(sum / static_cast<double>(n));
}
template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n) {
  // d/dp mean((p - y)^2) = 2 (p - y) / n: the factor 2 and the 1/n are both part of it.
  const T norm = T(2) / static_cast<T>(n);
  for (int64_t i = 0; i < n; ++i) dpred[i] = norm * (pred[i] - target[i]);
}

template <typename T>
T bce_forward(const T* pred, const T* target, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double p = pred[i], y = target[i];
    const double log_p = std::max(std::log(p), -100.0);        // torch clamps each log at -100
    const double log_1mp = std::max(std::log1p(-p), -100.0);  // so that p = 0 or 1 stays finite
    sum -= y * log_p + (1 - y) * log_1mp;
  }
  return static_cast<T>(sum / static_cast<double>(n));
}
template <typename T>
void bce_backward(T* dpred, const T* pred, const T* target, int64_t n) {
  // dL/dp = (p - y) / (p (1 - p)) / n, with torch's floor of 1e-12 on p (1 - p).
  const T eps = T(1e-12);
  for (int64_t i = 0; i < n; ++i) {
    const T p = pred[i];
    dpred[i] = (p - target[i]) / std::max((T(1) - p) * p, eps) / static_cast<T>(n);
  }
}

template <typename T>
T bce_with_logits_forward(const T* pred, const T* target, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    // (1 - y) x + log(1 + e^-x), written with m = max(-x, 0) so no exp overflows.
    const double x = pred[i], y = target[i];
    const double m = std::max(-x, 0.0);
    sum += (1 - y) * x + m + std::log(std::exp(-m) + std::exp(-x - m));
  }
  return static_cast<T>(sum / static_cast<double>(n));
}
template <typename T>
void bce_with_logits_backward(T* dpred, const T* pred, const T* target, int64_t n) {
  // The fused gradient: sigma(x) - y, over n.
  const T inv_n = T(1) / static_cast<T>(n);
  for (int64_t i = 0; i < n; ++i) dpred[i] = (T(1) / (T(1) + std::exp(-pred[i])) - target[i]) * inv_n;
}

template <typename T>
T cross_entropy_forward(const T* pred, const T* target, int64_t N, int64_t C) {
  double sum = 0;
  for (int64_t r = 0; r < N; ++r) {
    const T* x = pred + r * C;
    const T* t = target + r * C;
    // -sum_c t_c log softmax(x)_c = lse(x) sum_c t_c - sum_c t_c x_c, with the log-sum-exp
    // taken after subtracting the row's max, so that no exp overflows (logits of +-1000).
    double max = x[0];
    for (int64_t c = 1; c < C; ++c) max = std::max(max, static_cast<double>(x[c]));
    double exps = 0, t_sum = 0, t_x = 0;
    for (int64_t c = 0; c < C; ++c) {
      exps += std::exp(static_cast<double>(x[c]) - max);
      t_sum += t[c];
      if (t[c] != 0) t_x += static_cast<double>(t[c]) * x[c];  // 0 * -inf would be NaN
    }
    sum += (max + std::log(exps)) * t_sum - t_x;
  }
  return static_cast<T>(sum / static_cast<double>(N));
}
template <typename T>
void cross_entropy_backward(T* dpred, const T* pred, const T* target, int64_t N, int64_t C) {
  // The fused gradient: (softmax(x) sum_c t_c - t) / N, which is (softmax - onehot) / N for
  // a class index. The softmax subtracts the row's max first, as torch's does.
  const T inv_n = T(1) / static_cast<T>(N);
  for (int64_t r = 0; r < N; ++r) {
    const T* x = pred + r * C;
    const T* t = target + r * C;
    T* d = dpred + r * C;
    T max = x[0], exps = 0, t_sum = 0;
    for (int64_t c = 1; c < C; ++c) max = std::max(max, x[c]);
    for (int64_t c = 0; c < C; ++c) {
      d[c] = std::exp(x[c] - max);  // the softmax's numerator, for now
      exps += d[c];
      t_sum += t[c];
    }
    for (int64_t c = 0; c < C; ++c) d[c] = (d[c] / exps * t_sum - t[c]) * inv_n;
  }
}

template <typename T>
T l2_penalty_forward(const T* weight, int64_t n, double lambda) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(weight[i]) * weight[i];
  return static_cast<T>(lambda / 2 * sum);
}
template <typename T>
void l2_penalty_backward(T* dweight, const T* weight, int64_t n, double lambda) {
  // d/dW (lambda/2) ||W||^2 = lambda W: the 1/2 cancels the square's 2.
  const T l = static_cast<T>(lambda);
  for (int64_t i = 0; i < n; ++i) dweight[i] += l * weight[i];
}

template <typename T>
T loss_forward(Loss loss, const T* pred, const T* target, int64_t N, int64_t C) {
  switch (loss) {
    case Loss::mse: return mse_forward(pred, target, N * C);
    case Loss::bce: return bce_forward(pred, target, N * C);
    case Loss::bce_with_logits: return bce_with_logits_forward(pred, target, N * C);
    case Loss::cross_entropy: return cross_entropy_forward(pred, target, N, C);
  }
  return T(0);
}
template <typename T>
void loss_backward(Loss loss, T* dpred, const T* pred, const T* target, int64_t N, int64_t C) {
  switch (loss) {
    case Loss::mse: return mse_backward(dpred, pred, target, N * C);
    case Loss::bce: return bce_backward(dpred, pred, target, N * C);
    case Loss::bce_with_logits: return bce_with_logits_backward(dpred, pred, target, N * C);
    case Loss::cross_entropy: return cross_entropy_backward(dpred, pred, target, N, C);
  }
}

#define GRADVERIFY_INSTANTIATE_KERNELS(T)                                                                    \
  template void linear_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t);             \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, int64_t);    \
  template void relu_forward<T>(T*, const T*, int64_t);                                                      \
  template void relu_backward<T>(T*, const T*, const T*, int64_t);                                           \
  template void sigmoid_forward<T>(T*, const T*, int64_t);                                                   \
  template void sigmoid_backward<T>(T*, const T*, const T*, int64_t);                                        \
  template void tanh_forward<T>(T*, const T*, int64_t);                                                      \
  template void tanh_backward<T>(T*, const T*, const T*, int64_t);                                           \
  template void identity_forward<T>(T*, const T*, int64_t);                                                  \
  template void identity_backward<T>(T*, const T*, const T*, int64_t);                                       \
  template void leaky_relu_forward<T>(T*, const T*, int64_t, T);                                            \
  template void leaky_relu_backward<T>(T*, const T*, const T*, int64_t, T);                                  \
  template void activation_forward<T>(Activation, T*, const T*, int64_t, double);                            \
  template void activation_backward<T>(Activation, T*, const T*, const T*, int64_t, double);                 \
  template T mse_forward<T>(const T*, const T*, int64_t);                                                    \
  template void mse_backward<T>(T*, const T*, const T*, int64_t);                                            \
  template T bce_forward<T>(const T*, const T*, int64_t);                                                    \
  template void bce_backward<T>(T*, const T*, const T*, int64_t);                                            \
  template T bce_with_logits_forward<T>(const T*, const T*, int64_t);                                        \
  template void bce_with_logits_backward<T>(T*, const T*, const T*, int64_t);                                \
  template T cross_entropy_forward<T>(const T*, const T*, int64_t, int64_t);                                 \
  template void cross_entropy_backward<T>(T*, const T*, const T*, int64_t, int64_t);                         \
  template T l2_penalty_forward<T>(const T*, int64_t, double);                                               \
  template void l2_penalty_backward<T>(T*, const T*, int64_t, double);                                       \
  template T loss_forward<T>(Loss, const T*, const T*, int64_t, int64_t);                                    \
  template void loss_backward<T>(Loss, T*, const T*, const T*, int64_t, int64_t);

GRADVERIFY_INSTANTIATE_KERNELS(float)
GRADVERIFY_INSTANTIATE_KERNELS(double)

}  // namespace gradverify::kernels
