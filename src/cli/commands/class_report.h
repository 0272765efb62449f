#pragma once
// What `gradverify report` makes of a graded class (docs/grading.md, "What the class gets
// wrong"): every student's results in, a ClassReport out, written as a self-contained HTML
// page, JSON and CSV.
//
// Identical wrong answers. Two students' answers to a case are compared only when their
// inputs were the same (the case's inputs_sha256) and both got it wrong: right answers are the
// same by nature. They match when every answer tensor is right in both, or wrong in both with
// the same fingerprint (fingerprint.h: the values to 6 significant digits). A group is ranked
// by how unlikely it is that its students arrived at those numbers apart:
//     unlikeliness = bits / (students - 1) / (explained ? 10 : 1)
//     bits         = Σ over the wrong tensors of log2(distinct values)
// where `explained` says a hint kind names the answer: a catalogued mistake's replay (or a
// plain all-zero, NaN, transposed or constant-factor answer) that many students make alike.
// An answer of one repeated number carries no bits, and is never listed.
#include <map>
#include <string>
#include <vector>

namespace gradverify::cli {

struct TensorOutcome {
  std::string name;  // as the answer names it: dW2, db1, dz, dlogits
  bool passed = false;
  std::string hint;
  std::vector<std::string> hint_kinds;
  std::string wrong_answer;  // its fingerprint when it failed with numbers; empty otherwise
  int64_t distinct_values = 0;
};

struct CaseOutcome {
  std::string name, visibility, inputs_sha256;
  double points = 0, score = 0;
  bool passed = false;
  std::vector<TensorOutcome> tensors;
};

struct StudentResults {
  std::string student;
  std::string source;  // the file it was read from
  std::string rubric;  // its name, as the results say
  double score = 0, max_score = 0;
  bool build_failed = false;
  std::string grader_error;
  std::vector<CaseOutcome> cases;
};

// Reads each path: a class's results folder (grade --submissions, or merge's: its journal), a
// folder of results files (gradverify's JSON or Gradescope's results.json with gradverify's
// extra_data, found at any depth; a results.json is its folder's student), or one such file.
// Throws InputError naming the file and the field for a results file that is not one, and
// for a student found twice. A JSON file that is not results (a metadata file, a report of
// its own) is skipped, and named in `skipped`.
std::vector<StudentResults> read_class_results(const std::vector<std::string>& paths,
                                               std::vector<std::string>* skipped = nullptr);

struct MistakeCount {
  std::string kind, hint;                // the hint kind, and one student's hint text for it
  std::vector<std::string> students;     // who made it, sorted
  std::map<std::string, int> cases;      // case -> students it showed in there
  std::map<std::string, int> layers;     // "layer 2" (or "the op") -> students
};

struct CaseSummary {
  std::string name, visibility;
  double points = 0, mean_score = 0;
  int passed = 0, graded = 0;  // students who passed it, and who had it graded
};

struct IdenticalAnswers {
  std::string case_name;
  std::vector<std::string> students, wrong_tensors;
  std::vector<std::string> hint_kinds;  // what explains it; empty: nothing in the catalogue
  double bits = 0, unlikeliness = 0;
};

struct ClassReport {
  std::string rubric;
  double max_score = 0;
  std::vector<StudentResults> students;  // sorted by name
  std::vector<int> histogram;            // 10 bins of score / max_score: [0, 10%), ..., [90%, 100%]
  std::vector<CaseSummary> cases;        // in the rubric's order
  // The histogram, cases, mistakes and identical answers count the graded students only: not
  // those the grader failed on (they are regraded), whom the notes name.
  std::vector<std::string> nobody_passed, everybody_passed;
  std::vector<MistakeCount> mistakes;    // most students first
  std::vector<IdenticalAnswers> identical;  // most unlikely first
  std::vector<std::string> notes;        // variants compared apart, students who didn't build, ...
  double mean = 0, median = 0;           // of the graded students' scores
};

// Throws InputError when the results are of different rubrics: one class at a time.
ClassReport analyse_class(std::vector<StudentResults> students);

std::string report_json(const ClassReport& report);
std::string students_csv(const ClassReport& report);   // student, score, max, mistakes
std::string cases_csv(const ClassReport& report);      // case, points, passed, graded, pass rate, mean
std::string mistakes_csv(const ClassReport& report);   // kind, students, cases, layers, hint
std::string identical_csv(const ClassReport& report);  // case, students, tensors, explained by, unlikeliness
// The page: no network, no script, no external font; its histogram and bars are inline SVG;
// the students' table sorts by links (CSS :target), so it needs no JavaScript.
std::string report_html(const ClassReport& report);

}  // namespace gradverify::cli
