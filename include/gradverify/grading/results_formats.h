#pragma once
// A grading run's results in the files of the platforms that show them to students:
//
//   gradescope    results.json, Gradescope's autograder specification
//   prairielearn  /grade/results/results.json, PrairieLearn's external grader
//   classroom     the command grader's result, GitHub Classroom's autograding reporter
//   junit         JUnit XML, for CI
//   json          gradverify's own: every case with its per-tensor comparisons, for staff
//   table         for a person at a terminal
//
// What a submission wrote passes through printable() (grading.h) in every format. A case whose
// visibility is not "visible" is a hidden case, and nothing at the top of a student-facing
// format counts it: Gradescope's output counts visible cases only, and its tests carry their
// own visibility, which Gradescope enforces. PrairieLearn and GitHub Classroom show every test
// to the student, so there a hidden case is named "Hidden case N", with its points but no
// description, inputs or feedback (docs/grading.md).
#include <cstddef>
#include <string>

#include "gradverify/grading/grading.h"

namespace gradverify {

// Output as text, not Markdown or HTML: the feedback is fixed-width tables, which text keeps
// aligned in Gradescope's <pre>, and nothing a submission prints can become markup (a link,
// an image that calls home). Tests carry number, tags and their own extra_data (hint kinds and
// each gradient's differences, for staff analytics), so that the case's visibility covers it.
std::string format_gradescope(const GradeResult& result);

// PrairieLearn: gradable, score in [0, 1], message, output, tests[] with name, description,
// points, max_points, message, output. A build failure is gradable: false, so the attempt does
// not count. Outputs are shortened, with a note, to keep the file under PrairieLearn's 1 MiB.
std::string format_prairielearn(const GradeResult& result);
constexpr size_t kPrairieLearnMaxBytes = size_t{1} << 20;

// GitHub Classroom's command grader schema: {version: 1, status: pass|fail|error, max_score,
// tests: [{name, status, score, message, test_code, filename, line_no, duration}]}.
std::string format_classroom(const GradeResult& result);
// What the grading step appends to $GITHUB_OUTPUT: "result=<base64 of format_classroom>\n",
// the form the reporter decodes.
std::string classroom_step_output(const GradeResult& result);
// A Markdown table of the cases, for $GITHUB_STEP_SUMMARY.
std::string classroom_step_summary(const GradeResult& result);

// JUnit XML: one testsuite, one testcase per case, a <failure> with the feedback when it fails.
std::string format_junit(const GradeResult& result);
// Every case with its per-tensor comparisons.
std::string format_grade_json(const GradeResult& result);
// For a person at a terminal: one line per case, then the feedback of the failing ones.
std::string format_grade_table(const GradeResult& result);

}  // namespace gradverify
