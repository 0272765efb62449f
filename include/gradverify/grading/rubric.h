#pragma once
// Grading cases and the rubric that lists them. A case is one request a submission answers
// over the protocol (docs/grading.md):
//   - an mlp case: a problem.json plus "kind":"mlp"; the answer is gradients.json;
//   - an op case: one backward piece (an activation, linear, or a loss) on given inputs.
// Cases are generated from their seeds when the grader runs, so hidden cases exist nowhere
// a student can read them. Torch-free: the grader computes references through
// torch/reference_backend.h, and grading.h scores the answers.
#include <optional>
#include <string>
#include <vector>

#include "gradverify/check/tolerances.h"
#include "gradverify/net/op.h"
#include "gradverify/problem/problem.h"
#include "gradverify/tensor.h"

namespace gradverify {

enum class CaseKind { mlp, op };

// Per-case credit: all points when every answer tensor passes, or a share per tensor.
enum class Credit { all_or_nothing, per_tensor };

struct GradingCase {
  std::string name;
  double points = 1;
  std::string visibility = "visible";  // visible, hidden, after_due_date, after_published
  Credit credit = Credit::all_or_nothing;
  Tolerances tolerances;               // the dtype's defaults unless the rubric sets them
  std::string description;             // "relu backward, 4x3, float64, seed 1" or "2-4-3-2-1 relu,... xor, ..."
  CaseKind kind = CaseKind::op;
  Problem problem;  // mlp cases
  OpCase op;        // op cases
  std::string problem_path;  // the problem_file it was read from, if any: kept out of every case's sight
  // What its variants are made from (references.h): the case's object in the rubric, as JSON,
  // and its seed. Generated cases (op cases, mlp cases without a problem_file) have variants.
  std::string definition;
  bool generated = false;
  uint32_t seed = 0;
};

struct Rubric {
  std::string name = "gradverify";
  std::string source;      // the file, or "built-in rubric"
  double timeout_seconds = 10;  // per case, wall clock
  int64_t memory_mb = 1024;     // per case, address space
  std::vector<GradingCase> cases;
  std::string definition;  // the rubric as parsed, in canonical JSON: what its fingerprint hashes
  double max_score() const;
};

// Limits on a rubric (docs/hardening.md): cases per rubric, and numbers in one case's answer
// (2^19 full-precision numbers fit in the 16 MiB a submission may print).
constexpr size_t kMaxRubricCases = 1000;
constexpr int64_t kMaxAnswerNumbers = int64_t{1} << 19;

// Reads a rubric file; every case is generated (or its problem file read) and validated.
// Throws InputError naming the file and the field, e.g. "cases[3].op: unknown op 'softmax'".
Rubric load_rubric(const std::string& path);
// The same for a rubric in memory; relative problem_file paths are read from `base_dir`.
Rubric parse_rubric_json(const std::string& text, const std::string& source, const std::string& base_dir);
// The built-in rubrics, by name:
//   lab         the first lab's: op cases for every piece and whole-net cases over several
//               architectures, activations, losses and dtypes, the XOR net among them;
//   multiclass  the next lab's: leaky ReLU and softmax cross-entropy ops (large logits among
//               them), and MNIST-shaped 784-64-10 nets with weight decay on random data.
// Some cases of each are hidden.
const std::vector<std::string>& builtin_rubric_names();
std::string builtin_rubric_list();  // "lab, multiclass": for messages
Rubric builtin_rubric(const std::string& name = "lab");  // throws InputError for an unknown name
// A built-in rubric as a rubric file, a starting point for a course's own.
std::string builtin_rubric_json(const std::string& name = "lab");
// What `--rubric` takes: "builtin" or "builtin:NAME" names a built-in rubric (the name, or
// nullopt for a file's path).
std::optional<std::string> builtin_rubric_named(const std::string& rubric_argument);

// What some ops' cases take besides their shape: leaky_relu's slope, and for cross_entropy a
// number added to the logits of even rows and taken from odd ones (1000 makes an unshifted
// softmax overflow, and underflow, where the stable one is exact).
struct OpCaseOptions {
  double negative_slope = MlpSpec{}.negative_slope;
  double logit_offset = 0;
};

// An op case from a seed: inputs of the given shape drawn from mt19937(seed). ReLU and leaky
// ReLU cases put exact zeros in z, where the derivative at 0 (0, or the slope) is tested; BCE
// gets probabilities and 0/1 labels; cross_entropy gets `width` classes and one-hot targets.
OpCase generate_op_case(Op op, int64_t batch, int64_t width, int64_t out_width, Dtype dtype,
                        uint32_t seed, const OpCaseOptions& options = {});

// The same generated case drawn from another seed: a variant of it (references.h). Everything
// but the inputs (name, points, shape, tolerances) is the rubric's.
GradingCase case_with_seed(const GradingCase& grading_case, uint32_t seed);

// The JSON request a submission reads on stdin.
std::string case_request_json(const GradingCase& grading_case);

}  // namespace gradverify
