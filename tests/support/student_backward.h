#pragma once
// A student's backward pass for the lab's MLP, written independently of gradverify's kernels,
// with a switch for each classic mistake. Negative controls run the checker on its output:
// each bug is a real buggy backward pass, not a perturbation of the right answer.
#include <ostream>
#include <string>
#include <vector>

#include "gradverify/compare.h"
#include "gradverify/problem.h"

namespace gradverify::testing {

enum class StudentBug {
  none,
  batch_mean_forgotten,   // dL/dpred without the 1/n of the mean
  sign_flipped,           // dL/dpred = y - p instead of p - y
  bias_row_not_summed,    // db_k = the first row of dz_k instead of its sum over the batch
  bias_full_batch,        // db_k = dz_k itself, shape [n, fan_out]: numpy without the sum
  relu_grad_one_at_zero,  // relu'(z) = 1 for z >= 0 instead of z > 0
  nan_entry,              // dW1[0][0] = NaN
  missing_array,          // dW2 never written
  transposed_weight,      // dW1 written as [fan_out, fan_in]
};
const char* to_string(StudentBug bug);
inline void PrintTo(StudentBug bug, std::ostream* os) { *os << to_string(bug); }
std::vector<StudentBug> all_student_bugs();

// Computes the gradients in the problem's dtype, as a student's program would print them.
SubmittedGradients student_backward(const Problem& problem, StudentBug bug);

}  // namespace gradverify::testing
