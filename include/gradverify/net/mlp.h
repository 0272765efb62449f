#pragma once
// The manual MLP: forward and backward written out by hand, in plain C++ with no LibTorch.
// It is the reference implementation students read, and the "manual" side of `check`.
//
//   z_k = h_{k-1} @ W_k + b_k      (h_0 = X, W_k is [fan_in, fan_out], b_k is [fan_out])
//   h_k = act_k(z_k)               (h_L is the prediction)
//   L   = loss(h_L, y)             (the mean over all elements of h_L)
#include <cstdint>
#include <functional>
#include <vector>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/tensor.h"

namespace gradverify {

// Parameters and their gradients share one type, so they line up one-to-one by layer.
// Index k-1 holds layer k. Biases are 1 x fan_out.
template <typename T>
struct MlpParams {
  std::vector<Matrix<T>> W;
  std::vector<Matrix<T>> b;
};

// What forward stores for backward: the input, every pre-activation z_k and output h_k.
template <typename T>
struct MlpForwardCache {
  Matrix<T> X;               // (N, layers[0])
  Matrix<T> y;               // (N, layers[L]), the targets
  std::vector<Matrix<T>> z;  // z[k-1] is (N, layers[k])
  std::vector<Matrix<T>> h;  // h[k-1] is (N, layers[k]); h[L-1] is the prediction
  T loss = T(0);
};

template <typename T>
struct MlpGradients {
  MlpParams<T> params;        // dW_k, db_k
  std::vector<Matrix<T>> dz;  // dL/dz_k
  std::vector<Matrix<T>> dh;  // dL/dh_k; dh[L-1] is dL/dprediction
};

// X is (N, layers[0]), y is (N, layers[L]); returns the loss and fills the cache. The cache's
// buffers are reused from call to call; passing cache.X and cache.y themselves as the data
// (a training loop over fixed data) skips copying them.
template <typename T>
T mlp_forward(MlpForwardCache<T>& cache, const MlpSpec& spec, const MlpParams<T>& params, const Matrix<T>& X,
              const Matrix<T>& y);

// The steps of the backward pass, in the order it runs them: the loss backward once, then for
// k = L down to 1 layer k's activation backward and its linear backward.
enum class BackwardStep {
  loss,        // grads.dh[L-1] = dL/dh_L is written
  activation,  // grads.dz[k-1] = dL/dz_k is written
  linear,      // grads.params.W[k-1], .b[k-1] and grads.dh[k-2] (for k > 1) are written
};
// Called right after each step, with the layer (0 for the loss) and the gradients so far; what
// it changes, the rest of the pass uses. The mistake replay (check/mistakes.h) plants a
// classic mistake this way, so it runs this very backward pass rather than a copy of it.
template <typename T>
using BackwardHook = std::function<void(BackwardStep step, int64_t layer, MlpGradients<T>& grads)>;

// Fills grads from a forward cache. New buffers are NaN-prefilled (dlib's habit), so an
// entry the backward pass never wrote shows up as NaN in the comparison instead of as 0.
// Buffers already of the right shape, from a previous step, are reused without refilling.
template <typename T>
void mlp_backward(MlpGradients<T>& grads, const MlpForwardCache<T>& cache, const MlpSpec& spec,
                  const MlpParams<T>& params, const BackwardHook<T>& hook = {});

// Gives grads the shapes of spec's gradients for a batch of N. Buffers that are new or change
// shape are filled with `fill`; buffers already of the right shape are left as they are.
template <typename T>
void shape_gradients(MlpGradients<T>& grads, const MlpSpec& spec, int64_t N, T fill);

// Converts W1, b1, ... from a TensorMap (as in problem.json) into the compute dtype.
template <typename T>
MlpParams<T> params_from_tensors(const MlpSpec& spec, const TensorMap& params);

// The gradients as named tensors in double, each named for the variable it is taken with
// respect to (W1, b1, ..., z1, h1, ...) and shaped as problem.json and gradients.json have it.
template <typename T>
TensorMap gradients_to_tensors(const MlpSpec& spec, const MlpGradients<T>& grads, int64_t batch);

}  // namespace gradverify
