#pragma once
// Grading a submission: every case of a rubric is sent to the submission's command in its
// own sandbox (sandbox.h), the answer is compared with the reference the grader computed
// itself, and points are given by the case's credit rule:
//
//     all_or_nothing:  score = points   if every answer tensor passes, else 0
//     per_tensor:      score = points · (tensors passing) / (tensors in the answer)
//
// where "passes" is check's condition, |a - b| <= atol + rtol·|b| elementwise (compare.h).
// For whole-net cases the answer tensors are dW_k and db_k; dz_k and dh_k, when given, are
// compared and shown (they localise a mistake) but carry no points. Nothing the submission
// prints or writes reaches a score except its answer on stdout.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gradverify/check/compare.h"
#include "gradverify/grading/fingerprint.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/grading/sandbox.h"

namespace gradverify {

// A case with LibTorch's answer, computed by the grader before any submission runs.
struct PreparedCase {
  GradingCase spec;
  TensorMap reference;       // op: dz | dW, db, dx | dpred; mlp: W1, b1, ..., z1, h1, ...
  double reference_loss = 0;  // mlp cases
  std::string inputs_sha256;  // of its request (case_request_json): which students had the same inputs
};

// Refuses a case whose reference is all zero in some answer tensor: such a case can't tell a
// right answer from an untouched skeleton (the lab notebook's dead-net mistake). Throws
// InputError naming the rubric, the case and the tensor.
void require_informative_reference(const PreparedCase& prepared, const std::string& rubric_source);

struct CaseResult {
  std::string name, description, visibility;
  CaseKind kind = CaseKind::op;
  double points = 0, score = 0;
  bool passed = false;                     // every answer tensor passes
  std::string failure;                     // why there is no answer to compare; empty when there is
  std::vector<TensorComparison> tensors;   // the answer tensors (then intermediates), compared
  int64_t tensors_passed = 0, tensors_scored = 0;
  std::string feedback;                    // what a student reads: the table, the hints, stderr
  double seconds = 0;                      // the submission's wall time on this case
  std::vector<std::string> tags;           // what it tests: {"op", "activation", "relu"}, {"net", "mse", "float64"}
  std::string inputs_sha256;               // the PreparedCase's
  // Each failing tensor with numbers, by the answer's name (dW1, dz): its fingerprint, for
  // the class report's identical wrong answers.
  std::map<std::string, AnswerFingerprint> wrong_answers;
};

struct GradeResult {
  std::string submission;  // the command
  std::string rubric;      // its name
  std::vector<CaseResult> cases;
  double score = 0, max_score = 0;
  double seconds = 0;      // the whole grading run
  std::vector<std::string> notes;  // for the whole submission, e.g. a build log
  std::string isolation;   // the protections in force (IsolationStatus::summary), for staff
  int64_t variant = -1;    // the stored references' variant graded (references.h); -1: computed here
  // Set when the submission did not build: what the compiler said. No case ran, and every
  // format shows one failed "Build" test worth the rubric's points (build_failure_result).
  std::string build_failure;
  // Set when the grader itself failed on this submission (it must not): why. No case scored,
  // each says so (grader_error_result), and a class run goes on with the next student.
  std::string grader_error;
};

// What a case tests, as tags for the results: {"op", "activation", "relu", "float64"},
// {"op", "linear", ...}, {"op", "loss", "bce", ...} or {"net", "mse", "float32"}.
std::vector<std::string> case_tags(const GradingCase& grading_case);

// Scores one case from what the submission did. Pure: no processes, so it is testable alone.
CaseResult score_case(const PreparedCase& prepared, const SandboxResult& run);

// Runs every case, visible ones first, until cases_stopped(); the results keep the rubric's
// order. `on_case` sees each result as it is scored (for progress), with its place in the run.
// A `budget_seconds` above 0 bounds the whole submission: no case runs past it (each one's
// wall clock is cut to what is left), and the cases it leaves score 0 with that reason.
GradeResult grade_submission(const std::vector<PreparedCase>& cases, const std::string& command,
                             const SandboxLimits& limits,
                             const std::function<void(const CaseResult&, size_t index, size_t total)>& on_case = {},
                             double budget_seconds = 0);

// The result of a submission the grader failed on: every case 0 points, with `message`.
GradeResult grader_error_result(const std::vector<PreparedCase>& cases, const std::string& message);

// The result of a submission that did not build: no case ran, 0 of the rubric's points, and
// `compiler_output` shown as the reason (results_formats.h shows it as one "Build" test).
GradeResult build_failure_result(const Rubric& rubric, const std::string& compiler_output);

// What a submission wrote, made safe for a terminal, a browser or JSON: valid UTF-8, with
// every terminal control character but tab and newline written out (ESC as \x1b). Every
// format of results_formats.h applies it to everything a submission wrote.
std::string printable(const std::string& text);

}  // namespace gradverify
