// The same inputs and seed give byte-identical reports, in every format, apart from the
// fields that are times by nature. Those are named here, and only they are blanked before
// comparing:
//   check --format json:        finite_differences.seconds
//   grade --format json:        seconds (the run's and each case's)
//   grade --format gradescope:  execution_time
//   grade --format classroom:   duration (each test's milliseconds)
//   grade --format junit:       time="..." on testsuites, testsuite and testcase
//   grade --format table:       "in N.N s" on the summary line
// (bench's timings are its purpose, and are not compared.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "support/run_command.h"

namespace gradverify {
namespace {

using testing::run_shell;
using testing::temp_path;

const std::string kBin = GRADVERIFY_BIN, kData = GRADVERIFY_TEST_DATA;
// The commands run in (a copy of) the test submission's directory, which holds them.
const std::string kSubmissionDir = std::string(" --submission-dir ") + GRADVERIFY_TEST_SUBMISSION;
const std::string kSolution = "./student_runner_solution";
// A submission with a bug and stderr output, so the feedback has tables, hints and excerpts.
const std::string kBuggyPython = "python3 python_student.py relu_ge";
const std::string kRubric = " --rubric " + kData + "/determinism_rubric.json";

const std::set<std::string> kTimeKeys = {"seconds", "execution_time", "duration"};

void blank_time_keys(nlohmann::json& doc) {
  if (doc.is_object()) {
    for (auto& [key, value] : doc.items()) {
      if (kTimeKeys.count(key) && value.is_number()) value = 0;
      else blank_time_keys(value);
    }
  } else if (doc.is_array()) {
    for (auto& value : doc) blank_time_keys(value);
  }
}

std::string without_times(const std::string& report, const std::string& format) {
  if (format == "json" || format == "gradescope" || format == "prairielearn" || format == "classroom") {
    nlohmann::json doc = nlohmann::json::parse(report);
    blank_time_keys(doc);
    return doc.dump(1);
  }
  if (format == "junit") return std::regex_replace(report, std::regex(R"( time="[0-9.]+")"), R"( time="")");
  return std::regex_replace(report, std::regex(R"( in [0-9.]+ s\n)"), " in _ s\n");
}

// Runs `command` (which writes its report to `output`) and returns the report.
std::string report_of(const std::string& command, const std::string& output) {
  const auto run = run_shell(command);
  EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << command << "\n" << run.err;
  return testing::slurp(output);
}

struct Report {
  std::string name, arguments, format;
};
void PrintTo(const Report& r, std::ostream* os) { *os << r.name; }

class Determinism : public ::testing::TestWithParam<Report> {};

TEST_P(Determinism, RepeatedRunsGiveIdenticalReportsApartFromNamedTimes) {
  const Report& r = GetParam();
  std::vector<std::string> reports;
  for (int i = 0; i < 2; ++i) {
    const std::string output = temp_path("determinism_" + r.name + "_" + std::to_string(i) + ".out");
    reports.push_back(report_of(kBin + " " + r.arguments + " --format " + r.format + " --output " + output, output));
  }
  ASSERT_GT(reports[0].size(), 200u) << reports[0];
  EXPECT_EQ(without_times(reports[0], r.format), without_times(reports[1], r.format));
}

INSTANTIATE_TEST_SUITE_P(
    All, Determinism,
    ::testing::Values(
        Report{"check_table", "check --layers 3,5,4,2 --loss bce_with_logits --data random:6 --seed 7", "table"},
        Report{"check_json", "check --layers 3,5,4,2 --loss bce_with_logits --data random:6 --seed 7", "json"},
        Report{"check_gradients_json", "check --problem " + kData + "/pytorch/relu_bce_float32_problem.json --gradients " +
                                           kData + "/pytorch/relu_bce_float32_gradients.json", "json"},
        Report{"grade_solution_table", "grade -q" + kSubmissionDir + " --submission-cmd " + kSolution, "table"},
        Report{"grade_buggy_json", "grade -q" + kSubmissionDir + kRubric + " --submission-cmd '" + kBuggyPython + "'", "json"},
        Report{"grade_buggy_gradescope", "grade -q" + kSubmissionDir + kRubric + " --submission-cmd '" + kBuggyPython + "'", "gradescope"},
        Report{"grade_buggy_junit", "grade -q" + kSubmissionDir + kRubric + " --submission-cmd '" + kBuggyPython + "'", "junit"},
        Report{"grade_buggy_table", "grade -q" + kSubmissionDir + kRubric + " --submission-cmd '" + kBuggyPython + "'", "table"},
        Report{"grade_buggy_prairielearn",
               "grade -q" + kSubmissionDir + kRubric + " --submission-cmd '" + kBuggyPython + "'", "prairielearn"},
        Report{"grade_buggy_classroom",
               "grade -q" + kSubmissionDir + kRubric + " --submission-cmd '" + kBuggyPython + "'", "classroom"}),
    [](const auto& test_info) { return test_info.param.name; });

// The blanking is narrow: a report that differs anywhere else is still caught.
TEST(Determinism, TheComparisonSeesAnyChangeOutsideTheTimeFields) {
  EXPECT_NE(without_times(R"({"seconds": 1, "score": 2})", "json"), without_times(R"({"seconds": 3, "score": 2.5})", "json"));
  EXPECT_EQ(without_times(R"({"seconds": 1, "score": 2})", "json"), without_times(R"({"seconds": 3, "score": 2})", "json"));
  EXPECT_NE(without_times(R"(<testcase name="a" time="0.100">)", "junit"),
            without_times(R"(<testcase name="b" time="0.200">)", "junit"));
}

}  // namespace
}  // namespace gradverify
