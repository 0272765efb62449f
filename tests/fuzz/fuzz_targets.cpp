#include "fuzz_targets.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "gradverify/check/check.h"
#include "gradverify/check/compare.h"
#include "gradverify/check/report.h"
#include "gradverify/errors.h"
#include "gradverify/grading/grading.h"
#include "gradverify/grading/results_formats.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/problem/data.h"
#include "gradverify/problem/gradients_file.h"
#include "gradverify/problem/init.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/problem/problem.h"
#include "gradverify/problem/problem_file.h"

namespace gradverify::fuzz {
namespace {

// A broken invariant is a finding like a crash: say which, then abort so libFuzzer keeps
// the input.
void require(bool holds, const char* invariant) {
  if (holds) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
  std::abort();
}

// The lab's net and data, with the reference from the manual MLP (which agrees with LibTorch:
// torch_agreement_test), so the targets need no LibTorch and run thousands of inputs a second.
struct LabProblem {
  Problem problem;
  ManualResult reference;
};

const LabProblem& lab() {
  static const LabProblem instance = [] {
    LabProblem l;
    l.problem.spec = MlpSpec{{2, 4, 3, 2, 1},
                             {Activation::relu, Activation::relu, Activation::relu, Activation::sigmoid},
                             Loss::mse,
                             Dtype::float64};
    set_xor_data(l.problem);
    l.problem.params = init_params(l.problem.spec, Init::he, 3);
    l.reference = run_manual_mlp(l.problem);
    return l;
  }();
  return instance;
}

// The first lab's built-in rubric's cases and the next lab's op cases (its 784-64-10 nets would
// slow every run), each with its reference.
const std::vector<PreparedCase>& builtin_cases() {
  static const std::vector<PreparedCase> cases = [] {
    std::vector<GradingCase> chosen = builtin_rubric("lab").cases;
    for (const GradingCase& c : builtin_rubric("multiclass").cases)
      if (c.kind == CaseKind::op) chosen.push_back(c);
    std::vector<PreparedCase> prepared;
    for (const GradingCase& c : chosen) {
      PreparedCase p;
      p.spec = c;
      if (c.kind == CaseKind::op) {
        p.reference = manual_op_gradients(c.op);
      } else {
        const ManualResult m = run_manual_mlp(c.problem);
        p.reference = m.gradients;
        p.reference_loss = m.loss;
      }
      prepared.push_back(std::move(p));
    }
    return prepared;
  }();
  return cases;
}

// Every element of a passing tensor really is within the stated tolerance: the verdict is
// recomputed here from the pass condition, independently of compare.cpp.
void require_pass_is_right(const SubmittedGradient& submitted, const Tensor& reference, const Tolerances& tol) {
  require(submitted.tensor.has_value(), "a passing gradient was submitted");
  const Tensor& a = *submitted.tensor;
  require(a.values.size() == reference.values.size(), "a passing gradient has the reference's size");
  double scale = 0;
  for (double b : reference.values) scale = std::max(scale, std::fabs(b));
  for (size_t i = 0; i < a.values.size(); ++i) {
    const double x = a.values[i], b = reference.values[i];
    require(std::isfinite(x) && std::isfinite(b), "a passing gradient is finite");
    require(std::fabs(x - b) <= tol.atol_for_scale(scale) + tol.rtol * std::fabs(b),
            "every element of a passing gradient is within atol + rtol |b|");
  }
}

void problem_file(std::string_view input) {
  Problem p;
  try {
    p = parse_problem_json(std::string(input), "fuzz.json");
  } catch (const InputError&) {
    return;
  }
  if (p.params.empty()) return;  // weights come later, from --seed
  // What was accepted is written back and read as the same problem, and the net runs on it.
  const Problem again = parse_problem_json(problem_to_json(p), "written");
  require(again.X.values == p.X.values && again.y.values == p.y.values, "X and y survive a round trip");
  for (const auto& [name, tensor] : p.params)
    require(again.params.at(name).values == tensor.values, "parameters survive a round trip");
  run_manual_mlp(p);
}

void gradients_file(std::string_view input) {
  const LabProblem& l = lab();
  GradientsFile file;
  try {
    file = parse_gradients_json(std::string(input), "fuzz.json", l.problem.spec);
  } catch (const InputError&) {
    return;
  }
  const Tolerances tol = default_tolerances(l.problem.spec.dtype);
  const CheckReport report = check_gradients(l.problem, {file.gradients, "fuzz.json", std::nullopt, file.ignored_keys},
                                             {l.reference.loss, l.reference.gradients, {}});
  for (const TensorComparison& c : report.parameters)
    if (c.passed) require_pass_is_right(file.gradients.at(c.name), l.reference.gradients.at(c.name), tol);
  format_report_table(report);
  require(nlohmann::json::accept(format_report_json(report)), "the JSON report is valid JSON");
}

void protocol_answer(std::string_view input) {
  if (input.empty()) return;
  const auto& cases = builtin_cases();
  const PreparedCase& p = cases[static_cast<unsigned char>(input[0]) % cases.size()];
  SandboxResult run;
  run.started = true;
  run.exit_code = 0;
  run.out = std::string(input.substr(1));
  run.err = run.out;  // stderr reaches the feedback too
  GradeResult result;
  result.cases.push_back(score_case(p, run));
  const CaseResult& r = result.cases.back();
  require(r.score >= 0 && r.score <= r.points, "0 <= score <= points");
  require(!r.passed || r.score == r.points, "a passing case has all its points");
  require(r.passed || p.spec.credit == Credit::per_tensor || r.score == 0, "all-or-nothing means nothing on a fail");
  result.score = r.score;
  result.max_score = r.points;
  // Whatever a submission prints, the files graders read stay valid.
  require(nlohmann::json::accept(format_gradescope(result)), "results.json is valid JSON");
  require(nlohmann::json::accept(format_grade_json(result)), "the JSON results are valid JSON");
  format_junit(result);
  format_grade_table(result);
}

void rubric_file(std::string_view input) {
  Rubric rubric;
  try {
    // No problem files: relative paths resolve in a directory that doesn't exist.
    rubric = parse_rubric_json(std::string(input), "fuzz.json", "/nonexistent-fuzz-directory");
  } catch (const InputError&) {
    return;
  }
  require(!rubric.cases.empty() && rubric.cases.size() <= kMaxRubricCases, "a rubric has 1 to 1000 cases");
  for (const GradingCase& c : rubric.cases) {
    require(c.points >= 0, "points are not negative");
    require(nlohmann::json::accept(case_request_json(c)), "the request to a submission is valid JSON");
  }
}

// ---- seeds ------------------------------------------------------------------------------------

using Seeds = std::vector<std::pair<std::string, std::string>>;

Seeds problem_seeds() {
  Seeds seeds{{"lab.json", problem_to_json(lab().problem)}};
  Problem logits;
  logits.spec = MlpSpec{{3, 5, 2}, {Activation::tanh, Activation::identity}, Loss::bce_with_logits, Dtype::float32};
  set_random_data(logits, 3, 7);
  logits.params = init_params(logits.spec, Init::xavier, 7);
  seeds.emplace_back("logits_float32.json", problem_to_json(logits));
  seeds.emplace_back("no_params.json",
                     R"({"layers": [2, 3, 1], "activations": ["relu", "sigmoid"], "loss": "bce", "X": [[0, 1], [1, 0]], "y": [1, 0]})");
  return seeds;
}

Seeds gradient_seeds() {
  Seeds seeds{{"lab_correct.json", gradients_to_json(lab().reference.gradients)}};
  TensorMap wrong = lab().reference.gradients;
  wrong.at("W2").values[0] = NAN;
  wrong.at("b1").values[1] *= 2;
  seeds.emplace_back("lab_wrong.json", gradients_to_json(wrong));
  seeds.emplace_back("python_tokens.json", R"({"dW1": [[NaN, -Infinity, 0, 1], [2, 3, 4, 5]], "db1": [0, 0, 0, 0], "lr": 0.1})");
  return seeds;
}

Seeds answer_seeds() {
  Seeds seeds;
  const auto& cases = builtin_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    TensorMap answer;  // {"dz": ...} for op cases; {"dW1": ..., "dz1": ...} for whole nets
    for (const auto& [name, tensor] : cases[i].reference)
      answer[cases[i].spec.kind == CaseKind::op ? name.substr(1) : name] = tensor;
    seeds.emplace_back("case" + std::to_string(i) + ".json",
                       std::string(1, static_cast<char>(i)) + nlohmann::json::parse(gradients_to_json(answer)).dump());
  }
  return seeds;
}

Seeds rubric_seeds() {
  return {{"builtin.json", builtin_rubric_json()},
          {"small.json", R"({"name": "r", "timeout_seconds": 2.5, "memory_mb": 512, "cases": [
             {"name": "lin", "kind": "op", "op": "linear", "credit": "per_tensor", "batch": 2, "width": 3, "out_width": 2,
              "seed": 4, "tolerance": {"rtol": 1e-6, "atol": 1e-9, "atol_scale": 0}},
             {"name": "net", "kind": "mlp", "layers": [3, 4, 2], "loss": "bce_with_logits", "data": "random:5", "init": "xavier",
              "dtype": "float32", "visibility": "hidden", "points": 3}]})"}};
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {{"problem_file", problem_file, problem_seeds},
                                          {"gradients_file", gradients_file, gradient_seeds},
                                          {"protocol_answer", protocol_answer, answer_seeds},
                                          {"rubric_file", rubric_file, rubric_seeds}};
  return all;
}

}  // namespace gradverify::fuzz
