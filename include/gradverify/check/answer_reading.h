#pragma once
// How an answer is read before it is judged: the layouts that carry LibTorch's numbers in
// another arrangement, and the names that don't match.
//
// The protocol fixes dW_k as [fan_in, fan_out] (what h_{k-1}ᵀ·dz_k gives), db_k as [fan_out],
// and dz_k, dh_k as [batch, width]. Accepted besides, because they are the same numbers:
//  - a bias as [1, n] (numpy's keepdims=True) or as an [n, 1] column (Nielsen's network.py,
//    The Independent Code, Andrew Ng's course): the same n numbers in the same order, so
//    compare_tensor takes either as [n] without a word;
//  - dz_k and dh_k column-per-sample, [width, batch], as the same codes keep them: judged
//    transposed back, and said once in a note. When every intermediate whose shape can tell
//    ([width, batch] with width != batch) is so; a mix is judged as given. When none can tell
//    (every width is the batch), by the answer's own numbers (db_k = Σ dz_k, dh_{k-1} =
//    dz_k·W_kᵀ hold in one orientation, right or wrong), then by LibTorch's;
//  - dz_k and dh_k per example, N times LibTorch's (Andrew Ng's dZ = A - Y, the 1/N left for
//    dW and db): judged divided by N, with a note, when every dW and db is right and every
//    intermediate is exactly that. Only then: a summed loss with wrong dW is a mistake.
// A non-square dW_k transposed stays a shape error: the protocol fixes its layout, and the
// hint names the transposition. (A square one can't be told by its shape; its numbers fail.)
//
// An entry whose name is no gradient of the net is never guessed at, only named: "did you
// mean dW1?" for W1, w1, dw1, DW1, grad_W1, W1_grad, dL_dW1 or dW_1.
#include <optional>
#include <string>
#include <vector>

#include "gradverify/check/tolerances.h"
#include "gradverify/problem/problem.h"
#include "gradverify/problem/submitted_gradients.h"

namespace gradverify {

struct AnswerReading {
  SubmittedGradients gradients;    // as judged: intermediates transposed back when they came column-per-sample
  std::vector<std::string> notes;  // the layouts seen, once each
};

// Reads a net's answer (keyed W1, b1, ..., z1, h1, ...) to `problem`; `reference` (LibTorch's
// gradients) and `tolerances` decide what the shapes leave open.
AnswerReading read_answer_layouts(const SubmittedGradients& answer, const Problem& problem, const TensorMap& reference,
                                  const Tolerances& tolerances);

// The expected key a near miss was meant as, if any: "dW1" for "W1" among {"dW1", "db1", ...}.
std::optional<std::string> meant_key(const std::string& key, const std::vector<std::string>& expected);

// The keys an answer may have: `required` ones (dW1, db1, ...) and `optional` ones (dz1, dh1, ...).
struct ExpectedKeys {
  std::vector<std::string> required, optional;
};

// One note for every entry of `source` that names no gradient: which, what they may have meant,
// and what is expected. When no required key is among the `present` ones, it says so first:
// "none of dW1, db1, ... is in your answer; it has W1, b1, ...: did you mean dW1, db1, ...?".
// Empty when nothing was ignored and some required key is present.
std::string unknown_keys_note(const std::vector<std::string>& ignored, const ExpectedKeys& expected,
                              const std::vector<std::string>& present, const std::string& source);

}  // namespace gradverify
