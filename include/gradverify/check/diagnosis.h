#pragma once
// Diagnosis of a failing check: where the backward pass first goes wrong, and which classic
// mistake the numbers show. The one hint engine, for whole nets and single ops alike.
//
// First divergence. The backward pass runs, for k = L down to 1:
//     dL/dh_L = loss'(ŷ)                          (the loss backward)
//     dL/dz_k = dL/dh_k ⊙ act_k'(z_k)             (layer k's activation backward)
//     dW_k = h_{k-1}ᵀ dL/dz_k,  db_k = Σ_batch dL/dz_k,  dL/dh_{k-1} = dL/dz_k W_kᵀ
// Walking that order, the first gradient that fails, after the last one that matches, names
// the steps that can explain it. Intermediates (z_k, h_k) pin it to one step; without them,
// matching dW_k and db_k stand for a right dL/dz_k.
//
// Hints. A hint is given only when the failing numbers carry the mistake's signature:
//  - a mistake (mistakes.h) is replayed on the problem; the hint fires when every submitted
//    gradient matches the replay within the check's own tolerance, and the replay of each
//    failing one is not itself within tolerance of zero. When several match, the hint names
//    them all and says the numbers can't tell them apart;
//  - otherwise, per tensor: NaN or Inf, all zeros, LibTorch's transposed, a bias with one
//    row per sample, or an exact constant multiple of LibTorch's.
// Each failing tensor also gets its signature: best-fit scale, cosine, transposed.
//
// One voice: when a replay names the mistake, the first divergence names that mistake's step
// (or steps, for several) instead of every step the walk leaves open.
//
// Missing is not wrong: a gradient absent or malformed is left out of the walk and the
// replays and gets no hint; when every failure is such, there is no diagnosis at all.
#include "gradverify/check/check.h"
#include "gradverify/net/op.h"
#include "gradverify/problem/problem.h"

namespace gradverify {

// Fills in report.first_divergence and, for each failing tensor, its signature and hint.
// `reference` holds LibTorch's gradients including intermediates (z_k, h_k). Does nothing
// to a report that passes. Replays are skipped, with a note, on nets too large to replay
// quickly.
void diagnose(CheckReport& report, const Problem& problem, const SubmittedGradients& actual,
              const TensorMap& reference);

// The same for one op's answer tensors (op.h), by the same rules: a mistake replayed on the op
// (replay_op_mistake) when the whole answer matches it, otherwise what each tensor alone shows.
void diagnose_op(std::vector<TensorComparison>& tensors, const OpCase& op_case, const SubmittedGradients& answer,
                 const TensorMap& reference, const Tolerances& tolerances);

// One failing tensor alone, for checks that replay no mistakes (a user's own op, check_op):
// its signature, and the per-tensor hints only (NaN or Inf, all zero, transposed, a constant
// factor, -1 for a flipped sign). Does nothing to a comparison that passed.
void diagnose_tensor(TensorComparison& comparison, const SubmittedGradient& actual, const Tensor& reference,
                     const Tolerances& tolerances);

}  // namespace gradverify
