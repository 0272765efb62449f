#include "gradverify/grading/results_formats.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "core/problem/json_tensor.h"
#include "digest.h"
#include "gradverify/net/mlp_spec.h"
#include "gradverify/version.h"

namespace gradverify {
namespace {

bool visible(const CaseResult& c) { return c.visibility == "visible"; }

// Where hidden cases are shown: nowhere a student looks (Gradescope enforces each test's
// visibility), or as points under a neutral name (PrairieLearn, GitHub Classroom).
enum class HiddenCases { unseen, as_points };

// The top line every format shares. With unseen hidden cases it counts the visible ones only,
// so no student can subtract to learn how the hidden ones went; the total reaches staff and the
// gradebook through the score itself.
std::string summary_line(const GradeResult& r, HiddenCases hidden_cases) {
  if (!r.build_failure.empty()) return fmt::format("0 / {:g} points: the submission did not build, so no case ran", r.max_score);
  int64_t passed = 0, hidden = 0;
  for (const auto& c : r.cases) passed += c.passed ? 1 : 0, hidden += visible(c) ? 0 : 1;
  const std::string all = fmt::format("{:g} / {:g} points; {} of {} cases passed", r.score, r.max_score, passed, r.cases.size());
  if (hidden == 0) return all;
  if (hidden_cases == HiddenCases::as_points)
    return all + fmt::format("; the inputs and feedback of the {} hidden case{} are not shown", hidden, hidden == 1 ? "" : "s");
  double score = 0, max_score = 0;
  bool after_due = false, after_published = false, never = false;
  for (const auto& c : r.cases) {
    if (visible(c)) score += c.score, max_score += c.points;
    after_due |= c.visibility == "after_due_date";
    after_published |= c.visibility == "after_published";
    never |= c.visibility == "hidden";
  }
  const int kinds = int{after_due} + int{after_published} + int{never};
  const char* when = kinds > 1         ? "shown later"
                     : after_due       ? "shown after the due date"
                     : after_published ? "shown when grades are published"
                                       : "seen by course staff only";
  return fmt::format("Visible: {:g} / {:g} points; hidden cases are graded too, and {}", score, max_score, when);
}

std::string build_failure_text(const GradeResult& r) {
  return "Your submission did not build, so no case ran: 0 of " + fmt::format("{:g}", r.max_score) +
         " points. The build said:\n\n" + printable(r.build_failure) + (r.build_failure.back() == '\n' ? "" : "\n");
}

// A failing tensor's fingerprint (fingerprint.h), for the class report; null without one.
nlohmann::json wrong_answer_json(const CaseResult& c, const std::string& answer_name) {
  const auto it = c.wrong_answers.find(answer_name);
  if (it == c.wrong_answers.end()) return nullptr;
  return {{"sha256", it->second.digest}, {"distinct_values", it->second.distinct_values}};
}

// A case's gradients by the answer's names (dW1, dz), with what staff analytics need.
nlohmann::json gradient_analytics(const CaseResult& c) {
  nlohmann::json gradients = nlohmann::json::object();
  for (const auto& t : c.tensors) {
    const std::string name = c.kind == CaseKind::mlp ? gradient_key(t.name) : t.name;
    gradients[name] = {{"passed", t.passed},
                       {"missing", t.missing},
                       {"max_abs_diff", detail::number_to_json(t.max_abs_diff)},
                       {"max_rel_diff", detail::number_to_json(t.max_rel_diff)},
                       {"mismatched", t.mismatched},
                       {"elements", t.elements},
                       {"hint", t.hint},
                       {"hint_kinds", t.hint_kinds},
                       {"wrong_answer", wrong_answer_json(c, name)}};
  }
  return gradients;
}

std::vector<std::string> case_hint_kinds(const CaseResult& c) {
  std::vector<std::string> kinds;
  for (const auto& t : c.tensors)
    for (const auto& k : t.hint_kinds)
      if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  return kinds;
}

// How PrairieLearn and GitHub Classroom, which show every test, name a hidden case.
std::string shown_name(const CaseResult& c, int hidden_number) {
  return visible(c) ? c.name : fmt::format("Hidden case {}", hidden_number);
}
constexpr const char* kHiddenMessage = "a hidden case: graded, but its inputs and feedback are not shown";

std::string xml_escape(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        // XML 1.0 allows tab, newline and carriage return below 0x20, nothing else.
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') out += fmt::format("\\x{:02x}", ch);
        else out += static_cast<char>(ch);
    }
  }
  return out;
}

}  // namespace

std::string format_gradescope(const GradeResult& r) {
  nlohmann::json doc;
  doc["score"] = r.score;
  doc["execution_time"] = static_cast<int64_t>(std::ceil(r.seconds));
  doc["output_format"] = "text";
  doc["test_output_format"] = "text";
  doc["test_name_format"] = "text";
  // Staff see the grader's own stdout and stderr (the isolation in force, each case's
  // progress, hidden ones included); students must not.
  doc["stdout_visibility"] = "hidden";
  nlohmann::json extra = {{"gradverify_version", kVersion}, {"rubric", r.rubric}};
  if (!r.isolation.empty()) extra["isolation"] = r.isolation;
  if (r.variant >= 0) extra["variant"] = r.variant;
  if (!r.grader_error.empty()) extra["grader_error"] = printable(r.grader_error);
  doc["extra_data"] = extra;
  doc["tests"] = nlohmann::json::array();
  if (!r.build_failure.empty()) {
    doc["output"] = build_failure_text(r);
    doc["tests"].push_back({{"name", "Build"},
                            {"number", "0"},
                            {"score", 0},
                            {"max_score", r.max_score},
                            {"status", "failed"},
                            {"output", build_failure_text(r)},
                            {"tags", {"build"}},
                            {"visibility", "visible"}});
    return doc.dump(2) + "\n";
  }
  std::string output = "gradverify: " + summary_line(r, HiddenCases::unseen) + " (rubric: " + r.rubric + ")\n";
  for (const auto& note : r.notes) output += "\n" + note + "\n";
  doc["output"] = printable(output);
  for (size_t i = 0; i < r.cases.size(); ++i) {
    const CaseResult& c = r.cases[i];
    doc["tests"].push_back({{"name", c.name},
                            {"number", std::to_string(i + 1)},
                            {"score", c.score},
                            {"max_score", c.points},
                            {"status", c.passed ? "passed" : "failed"},
                            {"output", printable(c.feedback)},
                            {"tags", c.tags},
                            {"visibility", c.visibility},
                            {"extra_data", {{"hint_kinds", case_hint_kinds(c)},
                                            {"inputs_sha256", c.inputs_sha256},
                                            {"gradients", gradient_analytics(c)}}}});
  }
  return doc.dump(2) + "\n";
}

std::string format_prairielearn(const GradeResult& r) {
  nlohmann::json doc;
  doc["tests"] = nlohmann::json::array();
  if (!r.build_failure.empty()) {
    // Not gradable: PrairieLearn counts no attempt and takes no points for it.
    doc["gradable"] = false;
    doc["score"] = 0.0;
    doc["message"] = "Your submission did not build, so it was not graded; this attempt does not count.";
    doc["output"] = build_failure_text(r);
  } else {
    doc["gradable"] = true;
    doc["score"] = r.max_score > 0 ? std::clamp(r.score / r.max_score, 0.0, 1.0) : 0.0;
    doc["message"] = "gradverify: " + summary_line(r, HiddenCases::as_points);
    std::string output;
    for (const auto& note : r.notes) output += note + "\n";
    doc["output"] = printable(output);
    int hidden = 0;
    for (const auto& c : r.cases) {
      const bool shown = visible(c);
      hidden += shown ? 0 : 1;
      doc["tests"].push_back({{"name", shown_name(c, hidden)},
                              {"description", shown ? c.description : ""},
                              {"points", c.score},
                              {"max_points", c.points},
                              {"message", shown ? (c.passed ? "passed" : printable(c.failure.empty() ? "failed" : c.failure))
                                                : kHiddenMessage},
                              {"output", shown ? printable(c.feedback) : ""}});
    }
  }
  // Under PrairieLearn's cap: every output and message shortened, to less each round, until
  // it fits; what never would (thousands of cases) is replaced by one message that says so.
  std::string text = doc.dump(2) + "\n";
  for (size_t keep = 8000; text.size() >= kPrairieLearnMaxBytes && keep >= 64; keep /= 2) {
    const auto shorten = [&](nlohmann::json& field) {
      std::string s = field.get<std::string>();
      if (s.size() <= keep) return;
      s.resize(keep);
      while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();  // a whole character
      if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) s.pop_back();
      field = s + "\n... (shortened to fit PrairieLearn's 1 MiB results)\n";
    };
    shorten(doc["output"]);
    for (auto& t : doc["tests"]) shorten(t["output"]), shorten(t["message"]), shorten(t["description"]);
    text = doc.dump(2) + "\n";
  }
  if (text.size() >= kPrairieLearnMaxBytes) {
    const double score = doc["score"].get<double>();
    doc = {{"gradable", doc["gradable"]}, {"score", score},
           {"message", "gradverify: " + summary_line(r, HiddenCases::as_points) +
                           "; the per-case results are too many for PrairieLearn's 1 MiB"},
           {"output", ""}, {"tests", nlohmann::json::array()}};
    text = doc.dump(2) + "\n";
  }
  return text;
}

std::string format_classroom(const GradeResult& r) {
  nlohmann::json doc;
  doc["version"] = 1;
  doc["max_score"] = r.max_score;
  doc["tests"] = nlohmann::json::array();
  if (!r.build_failure.empty()) {
    doc["status"] = "error";
    doc["tests"].push_back({{"name", "Build"},
                            {"status", "error"},
                            {"score", 0},
                            {"message", build_failure_text(r)},
                            {"test_code", ""},
                            {"filename", ""},
                            {"line_no", 0},
                            {"duration", 0}});
    return doc.dump(2) + "\n";
  }
  bool all_passed = true;
  int hidden = 0;
  for (const auto& c : r.cases) {
    const bool shown = visible(c);
    hidden += shown ? 0 : 1;
    all_passed &= c.passed;
    // The reporter sums every test's score: each one has a number.
    doc["tests"].push_back({{"name", shown_name(c, hidden)},
                            {"status", c.passed ? "pass" : "fail"},
                            {"score", c.score},
                            {"message", shown ? printable(c.feedback) : kHiddenMessage},
                            {"test_code", ""},
                            {"filename", ""},
                            {"line_no", 0},
                            {"duration", static_cast<int64_t>(std::lround(c.seconds * 1000))}});
  }
  doc["status"] = all_passed ? "pass" : "fail";
  return doc.dump(2) + "\n";
}

std::string classroom_step_output(const GradeResult& r) {
  return "result=" + detail::base64(nlohmann::json::parse(format_classroom(r)).dump()) + "\n";
}

std::string classroom_step_summary(const GradeResult& r) {
  // Markdown: a case's name is escaped so that it stays in its cell and links nowhere.
  const auto cell = [](const std::string& text) {
    std::string out;
    for (char ch : printable(text)) {
      if (std::string("|\\`*_[]<>#!").find(ch) != std::string::npos) out += '\\';
      out += ch == '\n' ? ' ' : ch;
    }
    return out;
  };
  std::string md = "### gradverify: " + cell(summary_line(r, HiddenCases::as_points)) + "\n\n";
  if (!r.build_failure.empty()) return md + "The build's message is in this step's log.\n";
  md += "| case | points | |\n|---|---:|---|\n";
  int hidden = 0;
  for (const auto& c : r.cases) {
    const bool shown = visible(c);
    hidden += shown ? 0 : 1;
    md += fmt::format("| {} | {:g} / {:g} | {} |\n", cell(shown_name(c, hidden)), c.score, c.points,
                      c.passed ? "passed" : "failed");
  }
  return md + "\nEach case's feedback is in the Autograding Reporter's log.\n";
}

std::string format_junit(const GradeResult& r) {
  int64_t failures = 0;
  for (const auto& c : r.cases) failures += c.passed ? 0 : 1;
  const bool broken = !r.build_failure.empty();
  const size_t tests = broken ? 1 : r.cases.size();
  if (broken) failures = 1;
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += fmt::format("<testsuites name=\"gradverify\" tests=\"{}\" failures=\"{}\" time=\"{:.3f}\">\n", tests, failures,
                   r.seconds);
  x += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3f}\">\n",
                   xml_escape(r.rubric), tests, failures, r.seconds);
  x += fmt::format("    <properties><property name=\"score\" value=\"{:g}\"/><property name=\"max_score\" "
                   "value=\"{:g}\"/><property name=\"isolation\" value=\"{}\"/></properties>\n",
                   r.score, r.max_score, xml_escape(r.isolation));
  if (broken)
    x += fmt::format("    <testcase name=\"Build\" classname=\"gradverify.build\" time=\"0.000\">\n      <failure "
                     "message=\"did not build\">{}</failure>\n    </testcase>\n",
                     xml_escape(build_failure_text(r)));
  for (const auto& c : r.cases) {
    x += fmt::format("    <testcase name=\"{}\" classname=\"gradverify.{}\" time=\"{:.3f}\">\n", xml_escape(c.name),
                     xml_escape(c.visibility), c.seconds);
    if (!c.passed)
      x += fmt::format("      <failure message=\"{}\">{}</failure>\n",
                       xml_escape(fmt::format("{:g} of {:g} points{}", c.score, c.points,
                                              c.failure.empty() ? "" : ": " + printable(c.failure))),
                       xml_escape(printable(c.feedback)));
    x += "    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

std::string format_grade_json(const GradeResult& r) {
  nlohmann::json doc;
  doc["submission"] = printable(r.submission);
  doc["rubric"] = r.rubric;
  doc["score"] = r.score;
  doc["max_score"] = r.max_score;
  doc["seconds"] = r.seconds;
  doc["isolation"] = r.isolation;
  doc["variant"] = r.variant >= 0 ? nlohmann::json(r.variant) : nlohmann::json();
  doc["build_failure"] = printable(r.build_failure);
  doc["grader_error"] = printable(r.grader_error);
  doc["notes"] = nlohmann::json::array();
  for (const auto& note : r.notes) doc["notes"].push_back(printable(note));
  doc["cases"] = nlohmann::json::array();
  for (const auto& c : r.cases) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : c.tensors)
      tensors.push_back({{"name", t.name},
                         {"shape", t.shape},
                         {"passed", t.passed},
                         {"missing", t.missing},
                         {"malformed", t.malformed},
                         {"elements", t.elements},
                         {"mismatched", t.mismatched},
                         {"max_abs_diff", detail::number_to_json(t.max_abs_diff)},
                         {"max_rel_diff", detail::number_to_json(t.max_rel_diff)},
                         {"worst_index", t.worst_index},
                         {"message", printable(t.message)},
                         {"hint", t.hint},
                         {"hint_kinds", t.hint_kinds},
                         {"wrong_answer", wrong_answer_json(c, c.kind == CaseKind::mlp ? gradient_key(t.name) : t.name)}});
    doc["cases"].push_back({{"name", c.name},
                            {"description", c.description},
                            {"visibility", c.visibility},
                            {"tags", c.tags},
                            {"inputs_sha256", c.inputs_sha256},
                            {"points", c.points},
                            {"score", c.score},
                            {"passed", c.passed},
                            {"failure", printable(c.failure)},
                            {"tensors", tensors},
                            {"seconds", c.seconds},
                            {"feedback", printable(c.feedback)}});
  }
  return doc.dump(2) + "\n";
}

std::string format_grade_table(const GradeResult& r) {
  std::string t = "gradverify grade: " + r.rubric + "\n  submission: " + printable(r.submission) + "\n";
  if (!r.isolation.empty()) t += "  isolation: " + r.isolation + "\n";
  if (r.variant >= 0) t += fmt::format("  variant: {} of the stored references\n", r.variant);
  t += "\n";
  if (!r.build_failure.empty()) return t + build_failure_text(r);
  for (const auto& c : r.cases)
    t += fmt::format("  {:<4} {:>5g}/{:<3g} {:<40} {}\n", c.passed ? "ok" : "FAIL", c.score, c.points, c.name,
                     visible(c) ? "" : "(" + c.visibility + ")");
  for (const auto& note : r.notes) t += "\n" + printable(note) + "\n";
  for (const auto& c : r.cases)
    if (!c.passed) t += "\n--- " + c.name + " ---\n" + printable(c.feedback);
  int64_t passed = 0;
  for (const auto& c : r.cases) passed += c.passed ? 1 : 0;
  // Staff's view: the whole count, hidden cases included.
  t += fmt::format("\n{:g} / {:g} points; {} of {} cases passed in {:.1f} s\n", r.score, r.max_score, passed,
                   r.cases.size(), r.seconds);
  return t;
}

}  // namespace gradverify
