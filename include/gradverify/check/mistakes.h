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
  // The loss backward: dL/dŷ off by a factor (N the batch, D the outputs per sample).
  loss_summed,                      // dL/dŷ without the 1/N of the batch mean: x N
  loss_summed_over_all,             // without the 1/(N*D) of the mean over all elements: x N*D
  loss_mean_over_batch_only,        // averaged over the batch, summed over the D outputs: x D
  loss_sign_flipped,                // y - ŷ instead of ŷ - y: x -1
  mse_factor_two_missing,           // (ŷ - y) instead of 2 (ŷ - y): x 1/2
  mse_factor_two_doubled,           // 4 (ŷ - y): x 2
  mse_half_summed,                  // ½‖ŷ - y‖² per sample summed over the batch (Nielsen's cost): x N*D/2
  bce_extra_sigmoid_derivative,     // the fused (ŷ - y)/n for BCE after a sigmoid, times σ'(z) again
  logits_extra_sigmoid_derivative,  // BCE with logits: (σ(ŷ) - y)/n, times σ'(ŷ) again
  // A layer's bias or weight gradient.
  bias_averaged,                    // db_k = the mean of dz_k over the batch, not its sum
  bias_first_row,                   // db_k = dz_k[0], one sample's row
  batch_mean_twice,                 // dW_k and db_k divided by N again, the loss's mean already in dz_k
  update_returned,                  // lr x every parameter gradient: the update returned; dz, dh right
  // A layer's activation backward.
  relu_grad_one_at_zero,            // relu'(z) = 1 at z = 0 (z >= 0 instead of z > 0); leaky ReLU's too
  relu_mask_on_upstream,            // dz = dh where dh > 0: ReLU's mask taken on dh instead of z
  derivative_of_output,             // σ'(σ(z)) or tanh'(tanh(z)): the derivative taken at h, not z
  derivative_formula_on_z,          // 1 - z² or z(1 - z): the formula in terms of h used with z
  activation_derivative_forgotten,  // dz_k = dh_k
  // A layer's backward to its input.
  input_gradient_untransposed,      // dh_{k-1} = dz_k W_k instead of dz_k W_kᵀ (a square W_k)
  // Softmax cross-entropy's backward.
  softmax_onehot_not_subtracted,    // softmax(ŷ)/N: the one-hot target never subtracted
  softmax_jacobian_after_fused,     // (softmax - onehot)/N, then through the softmax's Jacobian again
  softmax_without_max_shift,        // exp(ŷ)/Σexp(ŷ) without subtracting the row's max: inf/inf = NaN
                                    // once a logit passes ~709 (or every exp underflows to 0)
  cross_entropy_mean_over_classes,  // (softmax - onehot)/(N·C): averaged over every logit, x 1/C
  // L2 weight decay's term, λW_k in each dW_k.
  weight_decay_on_biases,           // db_k gets λ b_k too
  weight_decay_doubled,             // 2λ W_k: λ‖W‖² differentiated, not (λ/2)‖W‖²
  weight_decay_halved,              // (λ/2) W_k: the ½ kept, not cancelled by the square's 2
  weight_decay_forgotten,           // no λ W_k at all: the data gradient alone
  // Leaky ReLU's backward (relu_grad_one_at_zero applies to it too: slope, not 1, at 0).
  leaky_slope_forgotten,            // ReLU's derivative: 0 for z <= 0 instead of the negative slope
};
// The last of the catalogue, for loops over every mistake.
constexpr Mistake kLastMistake = Mistake::leaky_slope_forgotten;

// Where a mistake is planted: layer 0 means every layer it can apply to, as a shared helper
// function would; with `activation` set, every layer of that activation (a student's
// sigmoid_derivative(h) is wrong in each sigmoid layer and nowhere else); with `hidden_only`,
// every layer but the output layer (Nielsen's loop computes the output delta apart); layer k
// (1-based) that layer alone. update_returned also carries the learning rate it scales by.
struct MistakeSite {
  Mistake mistake = Mistake::loss_summed;
  int64_t layer = 0;
  std::optional<Activation> activation;  // only with layer 0
  bool hidden_only = false;              // only with layer 0
  double learning_rate = 0;              // update_returned only: learning_rate_near's
};

const char* to_string(Mistake mistake);

// Whether the mistake can be made on this net at all: a ReLU mistake needs a ReLU layer
// (layer k must be one), the factor 2 needs MSE, x D needs D > 1, and so on. Loss mistakes
// and update_returned only take layer 0.
bool mistake_applies(const MlpSpec& spec, int64_t batch, const MistakeSite& site);

// The layers a site plants its mistake in (1-based); empty for a loss mistake.
std::vector<int64_t> planted_layers(const MlpSpec& spec, int64_t batch, const MistakeSite& site);

// Every distinct site where a mistake applies on this net: each mistake in every layer, in
// every layer of one activation, in the hidden layers, and in each layer it applies to, each
// set of layers once. update_returned is not among them: its site needs a learning rate.
std::vector<MistakeSite> applicable_sites(const MlpSpec& spec, int64_t batch);

// The learning rate a student would have used, when `scale` (a failing gradient's best fit)
// is within a relative 1e-3 of one: 1, 2, 2.5, 3 or 5 times a power of ten from 1e-6 to 10, or minus
// one of those (the step -lr·gradient); never ±1, which is the gradient or its sign flipped.
std::optional<double> learning_rate_near(double scale);

// The gradients (W1, b1, ..., z1, h1, ...) the backward pass with this mistake produces,
// computed in the problem's dtype. Requires mistake_applies.
TensorMap replay_mistake(const Problem& problem, const MistakeSite& site);

// One line a student can act on, e.g. "the loss was summed over the batch, not averaged:
// every gradient is N = 4 times LibTorch's". Names the layer for a layer-specific site;
// `intermediates_given` says whether the answer had dz and dh to vouch for.
std::string mistake_hint(const MlpSpec& spec, int64_t batch, const MistakeSite& site, bool intermediates_given = true);

// The same mistakes in one op of the grading protocol (op.h): those an op's backward can make
// on this case (its activation's; the bias's, the batch mean twice and, for a square W, the
// untransposed dx for linear; the loss's factors, with the factor 2 and ½ summed for mse alone,
// the extra σ' for bce_with_logits and the softmax's for cross_entropy, whose unshifted softmax
// is listed only where it overflows), each replayed as the op's whole answer, and its hint.
std::vector<Mistake> op_mistakes(const OpCase& op_case);
TensorMap replay_op_mistake(const OpCase& op_case, Mistake mistake);  // requires op_mistakes to list it
std::string op_mistake_hint(const OpCase& op_case, Mistake mistake);

}  // namespace gradverify
