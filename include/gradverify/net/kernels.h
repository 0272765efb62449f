#pragma once
// Paired forward/backward kernels of the manual MLP, in the style of llm.c: each op's
// forward sits next to its backward, outputs come first, gradients carry a `d` prefix,
// sizes come last. Every backward writes each of its outputs in full (it never accumulates
// into them), so a NaN-prefilled buffer shows any entry a kernel forgot.
//
// Conventions match LibTorch exactly, so that the comparison tests rounding, not semantics:
//  - relu'(0) = 0 (torch's threshold_backward passes gradient only where the output > 0);
//  - sigmoid and tanh backward use the cached output: s(1-s) and 1-t^2;
//  - losses are the mean over all elements (cross-entropy: over the batch); BCE clamps each log at -100 and its backward
//    divides by max(p(1-p), 1e-12), as torch::nn::functional::binary_cross_entropy does.
#include <cstdint>

#include "gradverify/net/mlp_spec.h"

namespace gradverify::kernels {

// ---- linear: z = x @ W + b -------------------------------------------------------------
// out is (N,OUT), inp is (N,IN), weight is (IN,OUT), bias is (OUT)
template <typename T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t IN, int64_t OUT);
// dinp is (N,IN) or nullptr when not needed, dweight is (IN,OUT), dbias is (OUT), dout is (N,OUT)
template <typename T>
void linear_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, int64_t N,
                     int64_t IN, int64_t OUT);

// ---- activations: out = act(inp), elementwise over n entries ------------------------------
// Backward takes the forward's output, which is all any of these derivatives needs.
template <typename T>
void relu_forward(T* out, const T* inp, int64_t n);
template <typename T>
void relu_backward(T* dinp, const T* dout, const T* out, int64_t n);

template <typename T>
void sigmoid_forward(T* out, const T* inp, int64_t n);
template <typename T>
void sigmoid_backward(T* dinp, const T* dout, const T* out, int64_t n);

template <typename T>
void tanh_forward(T* out, const T* inp, int64_t n);
template <typename T>
void tanh_backward(T* dinp, const T* dout, const T* out, int64_t n);

template <typename T>
void identity_forward(T* out, const T* inp, int64_t n);
template <typename T>
void identity_backward(T* dinp, const T* dout, const T* out, int64_t n);

// out = z for z > 0, negative_slope * z otherwise; the derivative at 0 is the slope, as torch's.
template <typename T>
void leaky_relu_forward(T* out, const T* inp, int64_t n, T negative_slope);
template <typename T>
void leaky_relu_backward(T* dinp, const T* dout, const T* out, int64_t n, T negative_slope);

// negative_slope is leaky_relu's (the net's MlpSpec::negative_slope); the others ignore it.
template <typename T>
void activation_forward(Activation act, T* out, const T* inp, int64_t n, double negative_slope);
template <typename T>
void activation_backward(Activation act, T* dinp, const T* dout, const T* out, int64_t n, double negative_slope);

// ---- losses: mse, bce and bce_with_logits are the mean over all n entries of pred and
// target; cross_entropy is the mean over the batch's rows ----------------------------------
// Forward returns the loss; backward writes dL/dpred for that mean.
template <typename T>
T mse_forward(const T* pred, const T* target, int64_t n);
template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n);

// pred holds probabilities in [0, 1].
template <typename T>
T bce_forward(const T* pred, const T* target, int64_t n);
template <typename T>
void bce_backward(T* dpred, const T* pred, const T* target, int64_t n);

// pred holds logits; the sigmoid is inside the loss, computed stably.
template <typename T>
T bce_with_logits_forward(const T* pred, const T* target, int64_t n);
template <typename T>
void bce_with_logits_backward(T* dpred, const T* pred, const T* target, int64_t n);

// pred holds logits, a row of C classes per sample; target holds each row's class
// probabilities (a one-hot row for a class index). The mean over the N rows of
// -sum_c target log softmax(pred), as torch's cross_entropy; the log-sum-exp is taken after
// subtracting the row's max, so logits of +-1000 stay finite.
template <typename T>
T cross_entropy_forward(const T* pred, const T* target, int64_t N, int64_t C);
// The fused gradient (softmax(pred) - target) / N, each row's softmax scaled by its targets' sum.
template <typename T>
void cross_entropy_backward(T* dpred, const T* pred, const T* target, int64_t N, int64_t C);

// ---- L2 weight decay: (lambda/2) * sum of weight^2, over one weight matrix of n entries ----
template <typename T>
T l2_penalty_forward(const T* weight, int64_t n, double lambda);
// Adds lambda * weight to the data gradient linear_backward wrote in dweight: the one kernel
// that accumulates, because it is the second term of the same gradient.
template <typename T>
void l2_penalty_backward(T* dweight, const T* weight, int64_t n, double lambda);

// pred and target are (N, C): N samples of C outputs.
template <typename T>
T loss_forward(Loss loss, const T* pred, const T* target, int64_t N, int64_t C);
template <typename T>
void loss_backward(Loss loss, T* dpred, const T* pred, const T* target, int64_t N, int64_t C);

}  // namespace gradverify::kernels
