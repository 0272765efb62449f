#include "class_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <regex>
#include <set>

#include "class_results.h"
#include "core/problem/json_tensor.h"
#include "gradverify/errors.h"
#include "gradverify/grading/results_formats.h"

namespace gradverify::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// ---- reading ---------------------------------------------------------------------------------

struct Reader {
  const json& doc;
  std::string source, field;

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    throw InputError(source, field + (field.empty() || key.empty() ? "" : ".") + key, expected);
  }
  std::string text(const std::string& key, const std::string& fallback = "") const {
    if (!doc.contains(key) || doc[key].is_null()) return fallback;
    if (!doc[key].is_string()) fail(key, "expected a string, got " + detail::describe(doc[key]));
    return doc[key].get<std::string>();
  }
  double number(const std::string& key) const {
    if (!doc.contains(key) || !doc[key].is_number()) fail(key, "expected a number");
    return doc[key].get<double>();
  }
  bool boolean(const std::string& key) const {
    if (!doc.contains(key) || !doc[key].is_boolean()) fail(key, "expected true or false");
    return doc[key].get<bool>();
  }
  std::vector<std::string> texts(const std::string& key) const {
    std::vector<std::string> out;
    if (!doc.contains(key)) return out;
    if (!doc[key].is_array()) fail(key, "expected a list of strings");
    for (const auto& v : doc[key]) {
      if (!v.is_string()) fail(key, "expected a list of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  }
};

// One tensor's outcome, as both formats write it: gradverify's JSON in a case's "tensors",
// Gradescope's in a test's extra_data "gradients".
TensorOutcome read_tensor_outcome(const Reader& r, const std::string& name) {
  if (!r.doc.is_object()) r.fail("", "expected a tensor object");
  TensorOutcome t;
  t.name = name;
  t.passed = r.boolean("passed");
  t.hint = r.text("hint");
  t.hint_kinds = r.texts("hint_kinds");
  if (r.doc.contains("wrong_answer") && !r.doc["wrong_answer"].is_null()) {
    const Reader w{r.doc["wrong_answer"], r.source, r.field + ".wrong_answer"};
    if (!w.doc.is_object()) r.fail("wrong_answer", "expected {\"sha256\": ..., \"distinct_values\": ...} or null");
    t.wrong_answer = w.text("sha256");
    t.distinct_values = static_cast<int64_t>(w.number("distinct_values"));
  }
  return t;
}

// A net's tensor as the answer names it: W2 -> dW2 (gradverify's JSON names the variable).
std::string answer_name(const std::string& name) {
  static const std::regex variable("[Wbzh][0-9]+");
  return std::regex_match(name, variable) ? "d" + name : name;
}

// gradverify's own JSON (grade --format json, and the journal's entries).
StudentResults read_gradverify_json(const json& doc, const std::string& source, const std::string& student) {
  const Reader r{doc, source, ""};
  StudentResults s;
  s.student = student;
  s.source = source;
  s.rubric = r.text("rubric");
  s.score = r.number("score");
  s.max_score = r.number("max_score");
  s.build_failed = !r.text("build_failure").empty();
  s.grader_error = r.text("grader_error");
  if (!doc.contains("cases") || !doc["cases"].is_array()) r.fail("cases", "expected a list of cases");
  for (size_t i = 0; i < doc["cases"].size(); ++i) {
    const Reader c{doc["cases"][i], source, "cases[" + std::to_string(i) + "]"};
    if (!c.doc.is_object()) c.fail("", "expected a case object");
    CaseOutcome o;
    o.name = c.text("name");
    o.visibility = c.text("visibility", "visible");
    o.inputs_sha256 = c.text("inputs_sha256");
    o.points = c.number("points");
    o.score = c.number("score");
    o.passed = c.boolean("passed");
    if (c.doc.contains("tensors") && !c.doc["tensors"].is_array()) c.fail("tensors", "expected a list");
    for (size_t j = 0; c.doc.contains("tensors") && j < c.doc["tensors"].size(); ++j) {
      const Reader t{c.doc["tensors"][j], source, c.field + ".tensors[" + std::to_string(j) + "]"};
      o.tensors.push_back(read_tensor_outcome(t, answer_name(t.text("name"))));
    }
    s.cases.push_back(std::move(o));
  }
  return s;
}

// Gradescope's results.json, as grade --format gradescope writes it: each test's extra_data.
StudentResults read_gradescope_json(const json& doc, const std::string& source, const std::string& student) {
  const Reader r{doc, source, ""};
  StudentResults s;
  s.student = student;
  s.source = source;
  s.score = r.number("score");
  if (doc.contains("extra_data") && doc["extra_data"].is_object()) {
    const Reader extra{doc["extra_data"], source, "extra_data"};
    s.rubric = extra.text("rubric");
    s.grader_error = extra.text("grader_error");
  }
  for (size_t i = 0; i < doc["tests"].size(); ++i) {
    const Reader t{doc["tests"][i], source, "tests[" + std::to_string(i) + "]"};
    if (!t.doc.is_object()) t.fail("", "expected a test object");
    s.max_score += t.number("max_score");
    const std::vector<std::string> tags = t.texts("tags");
    if (std::find(tags.begin(), tags.end(), "build") != tags.end()) {
      s.build_failed = true;
      continue;
    }
    CaseOutcome o;
    o.name = t.text("name");
    o.visibility = t.text("visibility", "visible");
    o.points = t.number("max_score");
    o.score = t.number("score");
    o.passed = t.text("status") == "passed";
    if (!t.doc.contains("extra_data") || !t.doc["extra_data"].is_object())
      t.fail("extra_data", "missing: these results were not written by gradverify grade --format gradescope");
    const Reader extra{t.doc["extra_data"], source, t.field + ".extra_data"};
    o.inputs_sha256 = extra.text("inputs_sha256");
    if (extra.doc.contains("gradients")) {
      if (!extra.doc["gradients"].is_object()) extra.fail("gradients", "expected an object of gradients");
      for (const auto& [name, value] : extra.doc["gradients"].items()) {
        o.tensors.push_back(read_tensor_outcome({value, source, extra.field + ".gradients." + name}, name));
      }
    }
    s.cases.push_back(std::move(o));
  }
  return s;
}

// One results file; nullopt for a JSON file that is not one (a metadata file beside it, a
// class report's own report.json) unless `must_be`.
std::optional<StudentResults> read_results_file(const fs::path& path, const std::string& student, bool must_be) {
  const auto not_results = [&](const std::string& why) -> std::optional<StudentResults> {
    if (!must_be) return std::nullopt;
    throw InputError(path.string(), "", why + ": report reads gradverify's JSON (grade --format json) or Gradescope's "
                                              "results.json (grade --format gradescope)");
  };
  json doc;
  try {
    doc = detail::parse_json_file(path.string());
  } catch (const InputError&) {
    if (must_be) throw;
    return std::nullopt;
  }
  if (!doc.is_object() || doc.value("format", "") == "gradverify-class-report") return not_results("not a results file");
  if (doc.contains("cases") && doc.contains("max_score")) return read_gradverify_json(doc, path.string(), student);
  if (doc.contains("tests") && doc["tests"].is_array()) {
    // PrairieLearn's and GitHub Classroom's have tests too, with points instead of max_score.
    if (!doc["tests"].empty() && doc["tests"][0].is_object() && !doc["tests"][0].contains("max_score"))
      return not_results("results of another platform (PrairieLearn's? its tests have no max_score)");
    return read_gradescope_json(doc, path.string(), student);
  }
  return not_results("not a results file");
}

// A results file's student: the folder a results.json sits in, else the file's name.
std::string student_of(const fs::path& file) {
  const fs::path absolute = fs::absolute(file).lexically_normal();
  return file.filename() == "results.json" ? absolute.parent_path().filename().string() : absolute.stem().string();
}

void add_student(std::vector<StudentResults>& all, StudentResults s) {
  for (const auto& other : all)
    if (other.student == s.student)
      throw InputError(s.source, "", "student '" + s.student + "' again: " + other.source + " holds their results too");
  all.push_back(std::move(s));
}

}  // namespace

std::vector<StudentResults> read_class_results(const std::vector<std::string>& paths, std::vector<std::string>* skipped) {
  std::vector<StudentResults> all;
  for (const auto& path : paths) {
    std::error_code error;
    if (fs::is_regular_file(path, error)) {
      add_student(all, *read_results_file(path, student_of(path), true));
      continue;
    }
    if (!fs::is_directory(path, error)) throw InputError(path, "", "no such file or folder");
    // A class's folder: its journal holds every student's results whatever --format was.
    if (read_class_run(path)) {
      for (const JournalEntry& e : read_journal(path)) {
        const std::string source = (fs::path(journal_directory(path)) / "students" / (e.student + ".json")).string();
        add_student(all, read_gradverify_json(json::parse(e.results_json), source, e.student));
      }
      continue;
    }
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(path, error); !error && it != fs::recursive_directory_iterator();
         it.increment(error))
      if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
    if (error) throw InputError(path, "", "cannot read the folder: " + error.message());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      // One folder per submission with its results.json, or a file per student.
      if (auto s = read_results_file(file, student_of(file), file.filename() == "results.json"))
        add_student(all, std::move(*s));
      else if (skipped)
        skipped->push_back(file.string());
    }
  }
  if (all.empty())
    throw InputError(paths.empty() ? "report" : paths.front(), "",
                     "no results in it: give a class's results folder (grade --submissions ... --output DIR), or "
                     "results files");
  return all;
}

// ---- analysis --------------------------------------------------------------------------------

namespace {

// "layer 2" for a net's dW2, db2, dz2 or dh2; "the op" for an op's dz, dW, dlogits.
std::string layer_of(const std::string& tensor) {
  static const std::regex net("d[Wbzh]([0-9]+)");
  std::smatch m;
  return std::regex_match(tensor, m, net) ? "layer " + m[1].str() : "the op";
}

}  // namespace

ClassReport analyse_class(std::vector<StudentResults> all) {
  ClassReport report;
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.student < b.student; });
  for (const auto& s : all)
    if (s.rubric != all.front().rubric || s.max_score != all.front().max_score)
      throw InputError(s.source, "",
                       fmt::format("results of another rubric ('{}', {:g} points) than {}'s ('{}', {:g} points): report "
                                   "one class, one rubric, at a time",
                                   s.rubric, s.max_score, all.front().source, all.front().rubric, all.front().max_score));
  report.rubric = all.front().rubric;
  report.max_score = all.front().max_score;
  // Those the grader failed on have no scores to count: they are named, and regraded.
  std::vector<std::string> failed_on;
  std::vector<StudentResults> students;
  for (auto& s : all) {
    if (!s.grader_error.empty()) failed_on.push_back(s.student);
    else students.push_back(s);
  }
  report.histogram.assign(10, 0);
  std::vector<double> scores;
  for (const auto& s : students) {
    const double share = s.max_score > 0 ? s.score / s.max_score : 0;
    report.histogram[static_cast<size_t>(std::clamp(static_cast<int>(share * 10), 0, 9))]++;
    scores.push_back(s.score);
  }
  std::sort(scores.begin(), scores.end());
  if (!scores.empty()) {
    report.mean = std::accumulate(scores.begin(), scores.end(), 0.0) / static_cast<double>(scores.size());
    report.median = scores.size() % 2 ? scores[scores.size() / 2]
                                      : (scores[scores.size() / 2 - 1] + scores[scores.size() / 2]) / 2;
  }

  // Cases in the order the first student's results list them, then any others.
  std::map<std::string, size_t> case_index;
  for (const auto& s : students)
    for (const auto& c : s.cases)
      if (case_index.emplace(c.name, report.cases.size()).second)
        report.cases.push_back({c.name, c.visibility, c.points, 0, 0, 0});
  for (const auto& s : students)
    for (const auto& c : s.cases) {
      CaseSummary& summary = report.cases[case_index.at(c.name)];
      ++summary.graded;
      summary.passed += c.passed ? 1 : 0;
      summary.mean_score += c.score;
    }
  for (auto& c : report.cases) {
    if (c.graded > 0) c.mean_score /= c.graded;
    if (c.graded > 0 && c.passed == 0) report.nobody_passed.push_back(c.name);
    if (c.graded > 0 && c.passed == c.graded) report.everybody_passed.push_back(c.name);
  }

  // Mistakes: each hint kind, once per student, with where it showed.
  std::map<std::string, MistakeCount> mistakes;
  for (const auto& s : students) {
    std::map<std::string, std::set<std::string>> cases_of, layers_of;  // kind -> cases, layers
    for (const auto& c : s.cases)
      for (const auto& t : c.tensors)
        for (const auto& kind : t.hint_kinds) {
          MistakeCount& m = mistakes[kind];
          m.kind = kind;
          if (m.hint.empty()) m.hint = t.hint;
          cases_of[kind].insert(c.name);
          layers_of[kind].insert(layer_of(t.name));
        }
    for (const auto& [kind, cases] : cases_of) {
      MistakeCount& m = mistakes[kind];
      m.students.push_back(s.student);
      for (const auto& c : cases) m.cases[c]++;
      for (const auto& l : layers_of[kind]) m.layers[l]++;
    }
  }
  for (auto& [kind, m] : mistakes) report.mistakes.push_back(std::move(m));
  std::stable_sort(report.mistakes.begin(), report.mistakes.end(),
                   [](const auto& a, const auto& b) { return a.students.size() > b.students.size(); });

  // Identical wrong answers, case by case, among students with the same inputs.
  std::map<std::string, IdenticalAnswers> groups;  // case, inputs and answer -> the students
  std::set<std::string> varied;
  std::map<std::string, std::string> inputs_seen;
  for (const auto& s : students)
    for (const auto& c : s.cases) {
      if (const auto [it, fresh] = inputs_seen.emplace(c.name, c.inputs_sha256); !fresh && it->second != c.inputs_sha256)
        varied.insert(c.name);
      if (c.passed) continue;
      std::string answer;
      IdenticalAnswers g;
      g.case_name = c.name;
      bool compared = true;
      // By name: gradverify's JSON lists the tensors in the answer's order, Gradescope's by key.
      std::vector<TensorOutcome> tensors = c.tensors;
      std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
      for (const auto& t : tensors) {
        if (t.passed) {
          answer += t.name + " right\n";
          continue;
        }
        if (t.wrong_answer.empty()) compared = false;  // missing or malformed: no numbers to compare
        answer += t.name + " " + t.wrong_answer + "\n";
        g.wrong_tensors.push_back(t.name);
        g.bits += t.distinct_values > 1 ? std::log2(static_cast<double>(t.distinct_values)) : 0;
        for (const auto& k : t.hint_kinds)
          if (std::find(g.hint_kinds.begin(), g.hint_kinds.end(), k) == g.hint_kinds.end()) g.hint_kinds.push_back(k);
      }
      if (!compared || g.wrong_tensors.empty() || g.bits <= 0) continue;
      const std::string key = c.name + "\n" + c.inputs_sha256 + "\n" + answer;
      auto [it, fresh] = groups.emplace(key, g);
      it->second.students.push_back(s.student);
    }
  for (auto& [key, g] : groups) {
    if (g.students.size() < 2) continue;
    g.unlikeliness = g.bits / static_cast<double>(g.students.size() - 1) / (g.hint_kinds.empty() ? 1 : 10);
    report.identical.push_back(std::move(g));
  }
  std::stable_sort(report.identical.begin(), report.identical.end(),
                   [](const auto& a, const auto& b) { return a.unlikeliness > b.unlikeliness; });
  if (!varied.empty())
    report.notes.push_back(fmt::format("{} case{} had per-student variants ({}): answers are compared only between "
                                       "students whose inputs were the same",
                                       varied.size(), varied.size() == 1 ? "" : "s",
                                       joined(std::vector<std::string>(varied.begin(), varied.end()), ", ")));
  int not_built = 0;
  for (const auto& s : students) not_built += s.build_failed ? 1 : 0;
  if (not_built > 0)
    report.notes.push_back(fmt::format("{} student{} did not build: no case ran for them", not_built,
                                       not_built == 1 ? "" : "s"));
  if (!failed_on.empty())
    report.notes.push_back(fmt::format("the grader failed on {} student{} ({}), who are not counted here: run the "
                                       "class's grade again to regrade them",
                                       failed_on.size(), failed_on.size() == 1 ? "" : "s", joined(failed_on, ", ")));
  report.students = std::move(all);
  return report;
}

// ---- JSON and CSV ----------------------------------------------------------------------------

namespace {

std::vector<std::string> student_kinds(const StudentResults& s) {
  std::set<std::string> kinds;
  for (const auto& c : s.cases)
    for (const auto& t : c.tensors) kinds.insert(t.hint_kinds.begin(), t.hint_kinds.end());
  return {kinds.begin(), kinds.end()};
}

std::string counted(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [name, n] : counts) out += (out.empty() ? "" : "; ") + fmt::format("{}: {}", name, n);
  return out;
}

}  // namespace

std::string report_json(const ClassReport& r) {
  json doc;
  doc["format"] = "gradverify-class-report";
  doc["students"] = r.students.size();
  doc["max_score"] = r.max_score;
  doc["histogram"] = {{"bins", "score / max_score in [0, 0.1), ..., [0.9, 1]"}, {"counts", r.histogram}};
  doc["cases"] = json::array();
  for (const auto& c : r.cases)
    doc["cases"].push_back({{"name", c.name}, {"visibility", c.visibility}, {"points", c.points},
                            {"passed", c.passed}, {"graded", c.graded},
                            {"pass_rate", c.graded > 0 ? static_cast<double>(c.passed) / c.graded : 0.0},
                            {"mean_score", c.mean_score}});
  doc["nobody_passed"] = r.nobody_passed;
  doc["everybody_passed"] = r.everybody_passed;
  doc["mistakes"] = json::array();
  for (const auto& m : r.mistakes)
    doc["mistakes"].push_back({{"kind", m.kind}, {"students", m.students.size()}, {"who", m.students},
                               {"hint", printable(m.hint)}, {"cases", m.cases}, {"layers", m.layers}});
  doc["identical_wrong_answers"] = json::array();
  for (const auto& g : r.identical)
    doc["identical_wrong_answers"].push_back({{"case", g.case_name}, {"students", g.students},
                                              {"wrong_tensors", g.wrong_tensors}, {"explained_by", g.hint_kinds},
                                              {"bits", g.bits}, {"unlikeliness", g.unlikeliness}});
  doc["table"] = json::array();
  for (const auto& s : r.students)
    doc["table"].push_back({{"student", s.student}, {"score", s.score}, {"max_score", s.max_score},
                            {"mistakes", student_kinds(s)}, {"build_failed", s.build_failed},
                            {"grader_error", !s.grader_error.empty()}});
  doc["notes"] = r.notes;
  doc["mean"] = r.mean;
  doc["median"] = r.median;
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string students_csv(const ClassReport& r) {
  std::string out = "student,score,max_score,mistakes\n";
  for (const auto& s : r.students)
    out += fmt::format("{},{:g},{:g},{}\n", csv_field(s.student), s.score, s.max_score, csv_field(joined(student_kinds(s), " ")));
  return out;
}

std::string cases_csv(const ClassReport& r) {
  std::string out = "case,points,passed,graded,pass_rate,mean_score\n";
  for (const auto& c : r.cases)
    out += fmt::format("{},{:g},{},{},{:.4g},{:.4g}\n", csv_field(c.name), c.points, c.passed, c.graded,
                       c.graded > 0 ? static_cast<double>(c.passed) / c.graded : 0.0, c.mean_score);
  return out;
}

std::string mistakes_csv(const ClassReport& r) {
  std::string out = "kind,students,cases,layers,hint\n";
  for (const auto& m : r.mistakes)
    out += fmt::format("{},{},{},{},{}\n", csv_field(m.kind), m.students.size(), csv_field(counted(m.cases)), csv_field(counted(m.layers)),
                       csv_field(m.hint));
  return out;
}

std::string identical_csv(const ClassReport& r) {
  std::string out = "case,students,wrong_tensors,explained_by,unlikeliness\n";
  for (const auto& g : r.identical)
    out += fmt::format("{},{},{},{},{:.4g}\n", csv_field(g.case_name), csv_field(joined(g.students, "; ")),
                       csv_field(joined(g.wrong_tensors, " ")), csv_field(joined(g.hint_kinds, " ")), g.unlikeliness);
  return out;
}

// ---- the page --------------------------------------------------------------------------------

namespace {

std::string html(const std::string& raw) {
  std::string out;
  for (const char ch : printable(raw)) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

// The score distribution as an SVG bar chart, drawn here.
std::string histogram_svg(const ClassReport& r) {
  const int width = 600, height = 220, left = 40, bottom = 30, bar = (width - left) / 10;
  const int most = std::max(1, *std::max_element(r.histogram.begin(), r.histogram.end()));
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" "
      "aria-label=\"score distribution\">\n",
      width, height);
  for (size_t i = 0; i < r.histogram.size(); ++i) {
    const int h = r.histogram[i] * (height - bottom - 20) / most;
    const int x = left + static_cast<int>(i) * bar;
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"bar\"><title>{}–{}%: {}</title></rect>\n",
                       x + 2, height - bottom - h, bar - 4, h, i * 10, i * 10 + 10, r.histogram[i]);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"count\" data-bin=\"{}\">{}</text>\n", x + bar / 2,
                       height - bottom - h - 4, i, r.histogram[i]);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">{}%</text>\n", x + bar / 2, height - bottom + 16, i * 10);
  }
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"baseline\"/>\n</svg>\n", left,
                     height - bottom, width, height - bottom);
  return svg;
}

// A horizontal bar for a share, as inline SVG.
std::string share_bar(double share) {
  return fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"12\"><rect width=\"120\" "
                     "height=\"12\" class=\"track\"/><rect width=\"{:.1f}\" height=\"12\" class=\"fill\"/></svg>",
                     120 * std::clamp(share, 0.0, 1.0));
}

std::string student_rows(std::vector<const StudentResults*> order) {
  std::string rows;
  for (const auto* s : order) {
    std::string kinds;
    for (const auto& k : student_kinds(*s)) kinds += "<code>" + html(k) + "</code> ";
    rows += fmt::format("<tr><td>{}</td><td class=\"num\" data-student-score=\"{}\">{:g}</td><td class=\"num\">{:g}</td>"
                        "<td>{}{}</td></tr>\n",
                        html(s->student), html(s->student), s->score, s->max_score, kinds,
                        s->build_failed ? "<em>did not build</em>" : !s->grader_error.empty() ? "<em>grader error</em>" : "");
  }
  return rows;
}

}  // namespace

std::string report_html(const ClassReport& r) {
  const double mean = r.mean, median = r.median;
  std::string page = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradverify: what the class gets wrong</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 0.25em 0.6em; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: top; } th { background: #f4f4f4; } td.num { text-align: right; }
code { background: #f4f4f4; padding: 0 0.2em; } .hint { font-size: 0.9em; color: #444; max-width: 40em; }
.bar { fill: #4a7bb7; } .count, .axis { font-size: 11px; text-anchor: middle; } .baseline { stroke: #888; }
.track { fill: #eee; } .fill { fill: #4a7bb7; } .note { color: #8a4b00; }
.sorted { display: none; } .sorted:target { display: table; } #by-name { display: table; }
.sorted:target ~ #by-name { display: none; }
.flag { font-size: 0.85em; padding: 0 0.3em; border-radius: 3px; background: #fde2e1; }
.flag.all { background: #dff3e1; }
</style>
</head>
<body>
)";
  page += fmt::format("<h1>What the class gets wrong</h1>\n<p><span data-key=\"students\">{}</span> students; scores out "
                      "of {:g}: mean <span data-key=\"mean\">{:.4g}</span>, median <span data-key=\"median\">{:.4g}</span>."
                      "</p>\n",
                      r.students.size(), r.max_score, mean, median);
  for (const auto& note : r.notes) page += "<p class=\"note\">" + html(note) + "</p>\n";

  page += "<h2>Scores</h2>\n" + histogram_svg(r);

  page += "<h2>Cases</h2>\n<table>\n<tr><th>case</th><th>points</th><th>passed</th><th>pass rate</th><th>mean</th></tr>\n";
  for (const auto& c : r.cases) {
    const double share = c.graded > 0 ? static_cast<double>(c.passed) / c.graded : 0;
    const bool none = std::find(r.nobody_passed.begin(), r.nobody_passed.end(), c.name) != r.nobody_passed.end();
    const bool all = std::find(r.everybody_passed.begin(), r.everybody_passed.end(), c.name) != r.everybody_passed.end();
    page += fmt::format("<tr><td>{}{}</td><td class=\"num\">{:g}</td><td class=\"num\" data-case-passed=\"{}\">{}</td>"
                        "<td>{} {:.0f}%</td><td class=\"num\">{:.3g}</td></tr>\n",
                        html(c.name), none ? " <span class=\"flag\">no one passed</span>"
                                      : all ? " <span class=\"flag all\">everyone passed</span>"
                                            : "",
                        c.points, html(c.name), c.passed, share_bar(share), 100 * share, c.mean_score);
  }
  page += "</table>\n";
  if (!r.nobody_passed.empty())
    page += "<p>No one passed: " + html(joined(r.nobody_passed, ", ")) +
            ". A case nobody gets right is a wrong case, or a gap in the lecture.</p>\n";

  page += "<h2>Mistakes, by how many students made them</h2>\n";
  if (r.mistakes.empty()) page += "<p>No failing gradient carries a named mistake.</p>\n";
  else page += "<table>\n<tr><th>mistake</th><th>students</th><th>what they read</th><th>where</th></tr>\n";
  for (const auto& m : r.mistakes) {
    std::string where;
    for (const auto& [c, n] : m.cases) where += fmt::format("{} ({})<br>", html(c), n);
    for (const auto& [l, n] : m.layers) where += fmt::format("<small>{}: {}</small><br>", html(l), n);
    page += fmt::format("<tr><td><code>{}</code></td><td class=\"num\" data-mistake=\"{}\">{}</td>"
                        "<td class=\"hint\">{}</td><td>{}</td></tr>\n",
                        html(m.kind), html(m.kind), m.students.size(), html(m.hint), where);
  }
  if (!r.mistakes.empty()) page += "</table>\n";

  page += "<h2>Identical wrong answers: look at these</h2>\n<p>Students whose wrong answers to a case, on the same "
          "inputs, are the same numbers. Right answers are the same by nature and are never listed. A wrong answer "
          "a known mistake explains is common by nature too, and ranks low. This is a list to look at, not a "
          "finding.</p>\n";
  if (r.identical.empty()) page += "<p>None.</p>\n";
  else page += "<table>\n<tr><th>case</th><th>students</th><th>wrong</th><th>explained by</th><th>rank</th></tr>\n";
  for (const auto& g : r.identical)
    page += fmt::format("<tr><td>{}</td><td data-identical=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.3g}</td>"
                        "</tr>\n",
                        html(g.case_name), html(joined(g.students, " ")), html(joined(g.students, ", ")),
                        html(joined(g.wrong_tensors, ", ")),
                        g.hint_kinds.empty() ? std::string("nothing in the catalogue") : html(joined(g.hint_kinds, ", ")),
                        g.unlikeliness);
  if (!r.identical.empty()) page += "</table>\n";

  // The students' table, three ways; links pick one (CSS :target), so no script is needed.
  std::vector<const StudentResults*> by_name, by_score;
  for (const auto& s : r.students) by_name.push_back(&s), by_score.push_back(&s);
  std::stable_sort(by_score.begin(), by_score.end(), [](const auto* a, const auto* b) { return a->score < b->score; });
  std::vector<const StudentResults*> by_score_down(by_score.rbegin(), by_score.rend());
  const std::string head = "<tr><th>student</th><th>score</th><th>of</th><th>mistakes</th></tr>\n";
  page += "<h2>Students</h2>\n<p>Sort: <a href=\"#by-name\">by name</a> · <a href=\"#by-score\">lowest score first</a> · "
          "<a href=\"#by-score-down\">highest first</a></p>\n";
  page += "<table class=\"sorted\" id=\"by-score\">\n" + head + student_rows(by_score) + "</table>\n";
  page += "<table class=\"sorted\" id=\"by-score-down\">\n" + head + student_rows(by_score_down) + "</table>\n";
  page += "<table class=\"sorted\" id=\"by-name\">\n" + head + student_rows(by_name) + "</table>\n";
  page += "<p><small>Written by gradverify report; the same numbers are in report.json and the CSV files beside "
          "it.</small></p>\n</body>\n</html>\n";
  return page;
}

}  // namespace gradverify::cli
