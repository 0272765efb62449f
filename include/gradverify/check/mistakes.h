#pragma once
// Classic backward-pass mistakes, replayed. replay_mistake runs the manual MLP's backward
// with one known mistake planted and returns the gradients that mistake produces on this
// problem; replay_op_mistake does the same for one op. The diagnosis compares a failing submission with each replay: a match within
// tolerance is the mistake's signature, reproduced number for number rather than guessed
// from a resemblance, which is how a hint stays right when it is given at all.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradverify/net/op.h"
#include "gradverify/problem/problem.h"
#include "gradverify/tensor.h"

namespace gradverify {

enum class Mistake {
  loss_summed,                      // dL/dpred without the 1/N of the batch mean: x N
  loss_summed_over_all,             // without the 1/(N*D) of the mean over all elements: x N*D
  loss_mean_over_batch_only,        // averaged over the batch, summed over the D outputs: x D
  loss_sign_flipped,                // y - pred instead of pred - y: x -1
  mse_factor_two_missing,           // (pred - y) instead of 2 (pred - y): x 1/2
  mse_factor_two_doubled,           // 4 (pred - y): x 2
  bias_averaged,                    // db_k = the mean of dz_k over the batch, not its sum
  bias_first_row,                   // db_k = dz_k[0], one sample's row
  relu_grad_one_at_zero,            // relu'(z) = 1 at z = 0 (z >= 0 instead of z > 0)
  derivative_of_output,             // sigma'(sigma(z)) or tanh'(tanh(z)): the derivative taken at h, not z
  activation_derivative_forgotten,  // dz_k = dh_k
  bce_extra_sigmoid_derivative,     // the fused (pred - y)/n for BCE after a sigmoid, times sigma'(z) again
};

// Where a mistake is planted: layer 0 means every layer it can apply to, as a shared helper
// function would; with `activation` set, every layer of that activation (a student's
// sigmoid_derivative(h) is wrong in each sigmoid layer and nowhere else); layer k (1-based)
// that layer alone.
struct MistakeSite {
  Mistake mistake = Mistake::loss_summed;
  int64_t layer = 0;
  std::optional<Activation> activation;  // only with layer 0
};

const char* to_string(Mistake mistake);

// Whether the mistake can be made on this net at all: a ReLU mistake needs a ReLU layer
// (layer k must be one), the factor 2 needs MSE, x D needs D > 1, and so on. Loss mistakes
// only take layer 0.
bool mistake_applies(const MlpSpec& spec, int64_t batch, const MistakeSite& site);

// Every distinct site where a mistake applies on this net: each mistake in every layer, in
// every layer of one activation (when that is neither all of them nor a single layer), and
// in each layer it applies to.
std::vector<MistakeSite> applicable_sites(const MlpSpec& spec, int64_t batch);

// The gradients (W1, b1, ..., z1, h1, ...) the backward pass with this mistake produces,
// computed in the problem's dtype. Requires mistake_applies.
TensorMap replay_mistake(const Problem& problem, const MistakeSite& site);

// One line a student can act on, e.g. "the loss was summed over the batch, not averaged:
// every gradient is N = 4 times LibTorch's". Names the layer for a layer-specific site.
std::string mistake_hint(const MlpSpec& spec, int64_t batch, const MistakeSite& site);

// The same mistakes in one op of the grading protocol (op.h): those an op's backward can make
// on this case (its activation's, the bias's for linear, the loss's factors, the factor 2 for
// mse alone), each replayed as the op's whole answer, and its hint.
std::vector<Mistake> op_mistakes(const OpCase& op_case);
TensorMap replay_op_mistake(const OpCase& op_case, Mistake mistake);  // requires op_mistakes to list it
std::string op_mistake_hint(const OpCase& op_case, Mistake mistake);

}  // namespace gradverify
