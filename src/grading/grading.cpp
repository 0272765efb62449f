#include "gradverify/grading/grading.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "core/problem/json_tensor.h"
#include "gradverify/check/answer_reading.h"
#include "gradverify/check/check.h"
#include "gradverify/check/report.h"
#include "gradverify/errors.h"
#include "gradverify/problem/gradients_file.h"

namespace gradverify {
namespace {

constexpr size_t kStderrShown = 2000;  // characters of stderr in a case's feedback

// What a submission printed, as one JSON object, or a message saying what is wrong with it.
struct ParsedAnswer {
  nlohmann::json doc;
  std::string problem;
};

ParsedAnswer parse_answer(const std::string& out) {
  const auto first = out.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return {{}, "printed nothing on stdout: the answer must be one JSON object printed to stdout"};
  if (out[first] != '{') {
    const std::string head = out.substr(first, std::min<size_t>(60, out.find('\n', first) - first));
    return {{}, "stdout must hold only the JSON answer, but it starts with \"" + head +
                    "\": print debugging output to stderr instead"};
  }
  try {
    return {detail::parse_json_text(detail::quote_python_nonfinite(out), "stdout"), ""};
  } catch (const InputError& e) {
    // "stdout: X[2][0]: not valid JSON: parse error at line 1, column 40: ..."
    return {{}, std::string(e.what()) + "; if the program prints anything besides the answer, print that to stderr"};
  }
}

std::string stderr_excerpt(const SandboxResult& run) {
  if (run.err.empty()) return "";
  std::string shown = run.err.substr(0, kStderrShown);
  std::string text = "\nstderr:\n" + shown;
  if (shown.back() != '\n') text += "\n";
  if (run.stderr_total > static_cast<int64_t>(shown.size()))
    text += fmt::format("... ({} more bytes not shown)\n", run.stderr_total - static_cast<int64_t>(shown.size()));
  return text;
}

}  // namespace

void require_informative_reference(const PreparedCase& p, const std::string& rubric_source) {
  const GradingCase& g = p.spec;
  std::vector<std::string> names;
  if (g.kind == CaseKind::op) names = op_answer_names(g.op.op);
  else names = parameter_names(g.problem.spec);
  for (const auto& name : names) {
    const Tensor& t = p.reference.at(name);
    double max_abs = 0;
    for (double v : t.values) {
      // A reference that overflowed (a problem file with huge values) grades nothing either.
      if (!std::isfinite(v))
        throw InputError(rubric_source, "case '" + g.name + "'",
                         "LibTorch's " + (g.kind == CaseKind::op ? name : gradient_key(name)) +
                             " has NaN or Inf entries, so no answer could match it; use smaller values");
      max_abs = std::max(max_abs, std::fabs(v));
    }
    if (!(max_abs > g.tolerances.atol_abs))
      throw InputError(rubric_source, "case '" + g.name + "'",
                       "LibTorch's " + (g.kind == CaseKind::op ? name : gradient_key(name)) +
                           " is all zero, so this case can't tell a right answer from an untouched skeleton "
                           "(a dead ReLU layer?); choose another seed");
  }
}

std::vector<std::string> case_tags(const GradingCase& g) {
  if (g.kind == CaseKind::mlp)
    return {"net", to_string(g.problem.spec.loss), to_string(g.problem.spec.dtype)};
  const Op op = g.op.op;
  const std::string family = op_activation(op) ? "activation" : op == Op::linear ? "linear" : "loss";
  std::vector<std::string> tags = {"op", family};
  if (family != "linear") tags.push_back(to_string(op));
  tags.push_back(to_string(g.op.dtype));
  return tags;
}

GradeResult build_failure_result(const Rubric& rubric, const std::string& compiler_output) {
  GradeResult r;
  r.rubric = rubric.name;
  r.max_score = rubric.max_score();
  r.build_failure = compiler_output.empty() ? "the submission did not build (the build said nothing)" : compiler_output;
  return r;
}

namespace {

// The fingerprints of a case's failing tensors that came with numbers, and are wrong to 6
// digits: an answer right up to its rounding (printed to 6 digits, computed in float32) fails
// a float64 case, but every student who rounds alike would share it by nature.
void note_wrong_answers(CaseResult& r, const SubmittedGradients& submitted, const TensorMap& reference) {
  for (const auto& t : r.tensors) {
    const auto it = submitted.find(t.name);
    if (t.passed || it == submitted.end() || !it->second.tensor) continue;
    const AnswerFingerprint answer = answer_fingerprint(*it->second.tensor);
    const auto right = reference.find(t.name);
    const bool precision = std::find(t.hint_kinds.begin(), t.hint_kinds.end(), "precision") != t.hint_kinds.end();
    if (precision || (right != reference.end() && answer_fingerprint(right->second).digest == answer.digest)) continue;
    r.wrong_answers[r.kind == CaseKind::mlp ? gradient_key(t.name) : t.name] = answer;
  }
}

}  // namespace

CaseResult score_case(const PreparedCase& p, const SandboxResult& run) {
  const GradingCase& g = p.spec;
  CaseResult r;
  r.name = g.name;
  r.kind = g.kind;
  r.tags = case_tags(g);
  r.description = g.description;
  r.visibility = g.visibility;
  r.points = g.points;
  r.seconds = run.seconds;
  r.inputs_sha256 = p.inputs_sha256;
  std::string feedback = g.description + "\n";

  ParsedAnswer answer;
  if (!run.exited_cleanly()) {
    r.failure = "the submission " + run.failure();
    if (run.left_processes) r.failure += "; it left processes running, which were killed";
  } else {
    answer = parse_answer(run.out);
    if (!answer.problem.empty()) r.failure = answer.problem;
    else if (!answer.doc.is_object()) r.failure = "stdout is JSON but not an object: the answer is {\"...\": [...]}";
  }
  if (!r.failure.empty()) {
    // "command not found" is what sh's stderr says too: once is enough.
    const bool not_found = r.failure.find("command not found") != std::string::npos;
    r.feedback = feedback + "0 points: " + r.failure + "\n" + (not_found ? "" : stderr_excerpt(run));
    return r;
  }

  if (g.kind == CaseKind::op) {
    SubmittedGradients submitted;
    const std::vector<std::string> names = op_answer_names(g.op.op);
    std::vector<std::string> ignored;
    for (const auto& [key, value] : answer.doc.items())
      if (std::find(names.begin(), names.end(), key) == names.end()) ignored.push_back(key);
    for (const auto& name : names) {
      if (!answer.doc.contains(name)) continue;  // check_op_gradients reports it missing
      try {
        submitted[name].tensor = detail::read_tensor(answer.doc[name], name, detail::NonFinite::from_strings);
      } catch (const detail::FieldError& e) {
        submitted[name].problem = e.field + ": " + e.what();
        submitted[name].malformed = true;
      }
    }
    r.tensors = check_op_gradients(g.op, submitted, p.reference, g.tolerances);
    note_wrong_answers(r, submitted, p.reference);
    std::vector<std::string> present;
    for (const auto& [name, gradient] : submitted) present.push_back(name);
    const std::string keys_note = unknown_keys_note(ignored, {names, {}}, present, "your answer");
    feedback += format_comparison_table(r.tensors, "your answer",
                                        keys_note.empty() ? std::vector<std::string>{} : std::vector{keys_note});
  } else {
    const GradientsFile file = parse_gradients_json(answer.doc.dump(), "the answer", g.problem.spec);
    GradientCheckOptions options;
    options.tolerances = g.tolerances;
    const CheckReport report = check_gradients(g.problem, {file.gradients, "your answer", std::nullopt, file.ignored_keys},
                                               {p.reference_loss, p.reference, {}}, options);
    r.tensors = report.parameters;
    r.tensors.insert(r.tensors.end(), report.intermediates.begin(), report.intermediates.end());
    note_wrong_answers(r, file.gradients, p.reference);
    feedback += format_report_table(report);
  }
  const size_t scored = g.kind == CaseKind::op ? r.tensors.size() : parameter_names(g.problem.spec).size();
  r.tensors_scored = static_cast<int64_t>(scored);
  for (size_t i = 0; i < scored; ++i) r.tensors_passed += r.tensors[i].passed ? 1 : 0;
  r.passed = r.tensors_passed == r.tensors_scored;
  if (g.credit == Credit::per_tensor) r.score = g.points * static_cast<double>(r.tensors_passed) / static_cast<double>(scored);
  else r.score = r.passed ? g.points : 0;
  feedback += fmt::format("{:g} of {:g} points: {} of {} gradients right{}\n", r.score, r.points, r.tensors_passed,
                          r.tensors_scored, g.credit == Credit::per_tensor ? " (credit per gradient)" : "");
  if (run.left_processes) feedback += "note: the submission left processes running; they were killed\n";
  r.feedback = feedback + stderr_excerpt(run);
  return r;
}

namespace {

// A case that never ran: 0 points, and why, in the case's own feedback.
CaseResult not_run(const PreparedCase& p, const std::string& why) {
  CaseResult r;
  r.name = p.spec.name;
  r.kind = p.spec.kind;
  r.tags = case_tags(p.spec);
  r.description = p.spec.description;
  r.visibility = p.spec.visibility;
  r.points = p.spec.points;
  r.inputs_sha256 = p.inputs_sha256;
  r.failure = why;
  r.feedback = p.spec.description + "\n0 points: " + why + "\n";
  return r;
}

}  // namespace

GradeResult grader_error_result(const std::vector<PreparedCase>& cases, const std::string& message) {
  GradeResult result;
  result.grader_error = message;
  for (const auto& c : cases) {
    result.cases.push_back(not_run(c, "the grader failed on this submission (not your code's fault; course staff "
                                      "will regrade it): " + message));
    result.max_score += c.spec.points;
  }
  return result;
}

GradeResult grade_submission(const std::vector<PreparedCase>& cases, const std::string& command,
                             const SandboxLimits& limits,
                             const std::function<void(const CaseResult&, size_t, size_t)>& on_case,
                             double budget_seconds) {
  const auto start = std::chrono::steady_clock::now();
  // Visible cases run first: a hidden case could otherwise signal its input to a later visible
  // one through what no sandbox isolates, the clock (holding its answer until a chosen time).
  std::vector<size_t> order;
  for (size_t i = 0; i < cases.size(); ++i)
    if (cases[i].spec.visibility == "visible") order.push_back(i);
  for (size_t i = 0; i < cases.size(); ++i)
    if (cases[i].spec.visibility != "visible") order.push_back(i);
  std::vector<std::optional<CaseResult>> scored(cases.size());
  for (size_t done = 0; done < order.size() && !cases_stopped(); ++done) {
    const PreparedCase& c = cases[order[done]];
    SandboxLimits case_limits = limits;
    if (budget_seconds > 0) {
      const double left = budget_seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (left <= 0) {
        scored[order[done]] = not_run(c, fmt::format("not run: this submission's time budget of {:g} s "
                                                     "(--student-timeout) ran out before it", budget_seconds));
        if (on_case) on_case(*scored[order[done]], done, cases.size());
        continue;
      }
      case_limits.wall_seconds = std::min(case_limits.wall_seconds, left);
    }
    SandboxResult run;
    try {
      run = run_sandboxed(command, case_request_json(c.spec), case_limits);
    } catch (const std::runtime_error& e) {
      // The grader could not set the case up (its copy of the submission, say): the case scores
      // 0 with the reason, and the other cases, and other students, are still graded.
      run.start_error = std::string("the grader could not set it up: ") + e.what();
    }
    scored[order[done]] = score_case(c, run);
    if (on_case) on_case(*scored[order[done]], done, cases.size());
  }
  GradeResult result;  // in the rubric's order
  result.submission = command;
  for (auto& c : scored) {
    if (!c) continue;  // stopped before it ran
    result.score += c->score;
    result.max_score += c->points;
    result.cases.push_back(std::move(*c));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// What a submission wrote, made safe to show anywhere: valid UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF; anything else becomes U+FFFD), and no
// terminal control sequence. C0 controls but tab and newline, DEL and the C1 controls
// (U+0080-U+009F, CSI among them) are written out as \x1b or \u009b, so a submission's stderr
// can't clear the screen, fake a score or write the reader's clipboard (OSC 52). A CR before
// a newline is dropped; a lone CR, which overwrites its line, is escaped too.
std::string printable(const std::string& s) {
  std::string out;
  const auto byte = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  for (size_t i = 0; i < s.size();) {
    const unsigned c = byte(i);
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    bool ok = len > 0 && i + len <= s.size();
    if (ok && len > 1) ok = byte(i + 1) >= lo && byte(i + 1) <= hi;
    for (size_t k = 2; ok && k < len; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (!ok) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else if (len == 1 && (c < 0x20 || c == 0x7F) && c != '\t' && c != '\n') {
      if (!(c == '\r' && byte(i + 1) == '\n')) out += fmt::format("\\x{:02x}", c);
      ++i;
    } else if (len == 2 && c == 0xC2 && byte(i + 1) <= 0x9F) {
      out += fmt::format("\\u{:04x}", byte(i + 1));
      i += 2;
    } else {
      out.append(s, i, len);
      i += len;
    }
  }
  return out;
}

}  // namespace gradverify
