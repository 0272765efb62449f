#pragma once
// A gradient check: the one entry point through which the CLI, EXPECT_GRADIENTS_MATCH,
// grading, bench and the tests check hand-written gradients against LibTorch's. (A hand-written
// op of your own, checked against autograd's vector-Jacobian product, goes through check_op in
// torch/op_check_report.h, which compares by the same pass condition.)
//
// Pass condition, element by element, for each gradient under test a and LibTorch's b:
//
//     |a - b| <= atol + rtol·|b|   and both a and b finite
//     atol = atol_abs + atol_scale · max|b|          (per tensor; compare.h says why)
//
// A tensor passes when every element does and its shape is b's. A check passes when every
// parameter gradient (W1, b1, ...), every intermediate given (z1, h1, ...) and, when the code
// under test reports one, the loss pass. It is vacuous, never passed, when nothing fails but
// some gradient proves nothing: exactly zero on both sides, or a reference within atol_abs.
//
// Beyond the verdict, check_gradients fills in what a person needs to act on it:
//  - on a failure, the first divergence and the hints (diagnosis.h);
//  - notes on what it could not use, such as entries naming no gradient of the net;
//  - when asked, finite differences, a second opinion needing no autograd
//    (finite_differences.h), which never changes the verdict.
// Torch-free: LibTorch's side comes in as data (torch/reference.h computes it).
#include <optional>
#include <string>
#include <vector>

#include "gradverify/check/compare.h"
#include "gradverify/check/finite_differences.h"
#include "gradverify/check/tolerances.h"
#include "gradverify/net/op.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/problem/problem.h"
#include "gradverify/tensor.h"

namespace gradverify {

// The first place, going backward from the loss, where the gradients stop matching.
struct FirstDivergence {
  int64_t layer = 0;                    // the layer of the first mismatching gradient (1-based)
  std::string last_match;               // the last gradient known right above it, e.g. "z4"; empty if none
  std::vector<std::string> mismatched;  // the mismatching gradients at that point, e.g. {"W3", "b3"}
  std::vector<std::string> suspects;    // the steps of the backward pass that can explain it
  std::string message;                  // all of the above in one sentence
};

enum class Verdict { pass, fail, vacuous };
const char* to_string(Verdict verdict);

struct CheckReport {
  // What was checked.
  MlpSpec spec;
  int64_t batch = 0;
  std::string data_description;
  std::string actual_source;  // "manual MLP" or the gradients file's path (GradientsUnderTest::source)
  Tolerances tolerances;

  // The forward pass: the loss both sides computed. actual_loss is empty when the gradients
  // came from a file, which carries no loss.
  std::optional<double> actual_loss;
  double reference_loss = 0;
  // With weight decay, the part of each loss that is (λ/2)·Σ‖W_k‖² (the same weights on both
  // sides); the rest is the data loss. 0 without.
  double weight_penalty = 0;
  bool loss_passed = true;  // the pass condition on the loss, when actual_loss is known
  Tensor reference_prediction;  // LibTorch's output h_L, when known: shown for small batches

  std::vector<TensorComparison> parameters;     // W1, b1, W2, b2, ...
  std::vector<TensorComparison> intermediates;  // z1, h1, ...: those the actual side provided
  std::vector<DeadUnits> dead_relu_units;       // per ReLU layer, over the batch
  std::vector<std::string> notes;               // e.g. unexpected entries that were ignored

  // Filled in by the diagnosis when something fails: where, going backward from the loss, the
  // gradients first stop matching (see diagnosis.h).
  std::optional<FirstDivergence> first_divergence;
  // Filled in when finite differences ran: a second opinion that needs no autograd. It
  // never changes the verdict, which is the comparison with LibTorch.
  std::optional<FiniteDifferenceReport> finite_differences;

  bool passed() const;  // loss and every tensor pass
  Verdict verdict() const;
  int64_t failed_count() const;
  int64_t vacuous_count() const;
};

// LibTorch's side of a check on a problem.
struct ReferenceResult {
  double loss = 0;
  TensorMap gradients;  // W1, b1, ..., and z1, h1, ...: dL/d(that variable), from autograd
  Tensor prediction;    // h_L, the net's output for each sample
};

// The side under test.
struct GradientsUnderTest {
  SubmittedGradients gradients;           // keyed W1, b1, ..., z1, h1, ...; absent ones fail as missing
  std::string source;                     // named in the report: "manual MLP", a file's path, ...
  std::optional<double> loss;             // when the code under test computed one, it is checked too
  std::vector<std::string> ignored_keys;  // entries of `source` that name no gradient: reported as notes
};

struct GradientCheckOptions {
  // Empty: default_tolerances of the problem's dtype, whose headroom over rounding is measured
  // (tolerances.h).
  std::optional<Tolerances> tolerances;
  // Off by default: a second opinion costs forward passes, and a program asks for it. The
  // CLI asks for automatic (per element when that takes under about a second).
  FiniteDifferenceMode finite_differences = FiniteDifferenceMode::off;
  bool force_finite_differences = false;  // per element even when estimated to take over a minute
  uint32_t seed = 0;                      // of the finite differences' random direction
};

// The manual MLP's own gradients and loss as the side under test, named "manual MLP": what
// `gradverify check` checks when it is given no gradients file.
GradientsUnderTest manual_mlp_under_test(const ManualResult& manual);

// Checks `under_test` against `reference` on `problem`: compare, diagnose a failure, note what
// was ignored, and take finite differences when asked. Throws InputError only for a finite-
// difference run refused as too long (see resolve_finite_difference_mode).
CheckReport check_gradients(const Problem& problem, const GradientsUnderTest& under_test,
                            const ReferenceResult& reference, const GradientCheckOptions& options = {});

// The same for one op of the grading protocol (op.h): each answer tensor (dz | dW, db, dx |
// dpred) against LibTorch's, under the same pass condition, with a hint for each failing one.
std::vector<TensorComparison> check_op_gradients(const OpCase& op_case, const SubmittedGradients& answer,
                                                 const TensorMap& reference, const Tolerances& tolerances);

}  // namespace gradverify
