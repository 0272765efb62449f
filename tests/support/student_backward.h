#pragma once
// A student's backward pass for the lab's MLP, written independently of gradverify's kernels,
// with a switch for each classic mistake. Negative controls run the checker on its output:
// each bug is a real buggy backward pass, not a perturbation of the right answer.
#include <ostream>
#include <string>
#include <vector>

#include "gradverify/check/compare.h"
#include "gradverify/problem/problem.h"

namespace gradverify::testing {

enum class StudentBug {
  none,
  loss_summed_over_batch,     // dL/dpred divided by D only: the loss summed over the batch (x N)
  loss_summed_over_all,       // dL/dpred without any 1/count: summed over all N*D elements
  loss_mean_over_batch_only,  // dL/dpred divided by N only: summed over the outputs (x D)
  sign_flipped,               // dL/dpred = y - p instead of p - y
  mse_factor_two_missing,     // (p - y) instead of 2 (p - y); MSE only
  mse_factor_two_doubled,     // 4 (p - y); MSE only
  bias_averaged,              // db_k = the mean of dz_k over the batch
  bias_row_not_summed,        // db_k = the first row of dz_k instead of its sum over the batch
  bias_full_batch,            // db_k = dz_k itself, shape [n, fan_out]: numpy without the sum
  relu_grad_one_at_zero,      // relu'(z) = 1 for z >= 0 instead of z > 0
  derivative_of_output,       // sigmoid'(h) and tanh'(h) with h = act(z): the derivative of the output
  sigmoid_derivative_of_output,     // the same in sigmoid layers only: the lab's sigmoid_derivative(h)
  activation_derivative_forgotten,  // dz_k = dh_k
  bce_extra_sigmoid_derivative,     // BCE after a sigmoid: the fused (p - y)/n, times s(1 - s) again
  gradient_left_zero,         // dW_k allocated with zeros and never filled
  nan_entry,                  // dW_k[0][0] = NaN
  missing_array,              // dW2 never written
  transposed_weight,          // dW_k written as [fan_out, fan_in]
  // Found in real student and tutorial code (Nielsen's network.py, nnfs, micrograd):
  relu_mask_on_upstream,      // relu: dz = dh where dh > 0, the mask taken on dh instead of z
  derivative_formula_on_z,    // tanh: 1 - z², sigmoid: z(1 - z), the output-form formula at z
  derivative_of_output_hidden_only,  // σ'(σ(z)), tanh'(tanh(z)) in hidden layers; the output delta right
  logits_extra_sigmoid_derivative,   // BCE with logits: (σ(p) - y)/n, times σ'(p) again
  batch_mean_twice,           // dW_k and db_k divided by n once more, after the loss's mean
  update_returned,            // lr·gradient returned for every parameter (lr from the batch size)
  dh_untransposed,            // dh_{k-1} = dz_k W_k instead of dz_k W_kᵀ, in square layers
  mse_half_summed,            // the cost ½‖a - y‖² per sample, summed over the batch: dL/dpred = p - y
  // The next lab's (cross_entropy, weight decay); not in all_student_bugs, whose sweep is of
  // the first lab's nets.
  softmax_onehot_not_subtracted,  // cross_entropy: softmax(p)/n, the one-hot never subtracted
  softmax_jacobian_after_fused,   // cross_entropy: (softmax - y)/n, then through the softmax's Jacobian
  softmax_without_max_shift,      // cross_entropy: exp(p)/Σexp(p), no max subtracted: NaN for large logits
  weight_decay_on_biases,         // db_k += λ b_k as well
  weight_decay_doubled,           // dW_k += 2λ W_k: the gradient of λ‖W‖²
  weight_decay_halved,            // dW_k += (λ/2) W_k: the ½ kept
  leaky_slope_forgotten,          // leaky_relu's derivative taken as ReLU's: 0 for z <= 0, not the slope
  weight_decay_forgotten,         // no λ W_k in dW_k
  cross_entropy_mean_over_classes,  // (softmax - y)/(n·C), the mean over every logit
  float32_arithmetic,             // the right backward, computed in float for a float64 problem
};
const char* to_string(StudentBug bug);
double update_learning_rate(int64_t batch);  // the learning rate update_returned scales by
inline void PrintTo(StudentBug bug, std::ostream* os) { *os << to_string(bug); }
std::vector<StudentBug> all_student_bugs();

// Computes the gradients in the problem's dtype, as a student's program would print them.
// `layer` plants a layer-specific bug (bias, activation, zero, NaN, transposed, dh) in that
// layer alone (1-based); 0 plants it in every layer it fits (the weight bugs then go in layer
// 1). Loss bugs, the hidden-layers bug and update_returned ignore it.
SubmittedGradients student_backward(const Problem& problem, StudentBug bug, int64_t layer = 0);

}  // namespace gradverify::testing
