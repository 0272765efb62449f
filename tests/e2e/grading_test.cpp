// Course grading end to end: `gradverify grade` on the student kit's runners, on student code
// in Python this project never wrote into its grader, and on hostile submissions. The grader
// runs as a user runs it (the binary); the expectations are computed independently here.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "gradverify/check/compare.h"
#include "gradverify/grading/isolation.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/grading/sandbox.h"
#include "support/run_command.h"

namespace gradverify {
namespace {

using testing::processes_with;

using testing::run_shell;
using testing::slurp;
using testing::temp_path;
using testing::write_temp;
using nlohmann::json;

const std::string kBin = GRADVERIFY_BIN;
// The commands run in (a copy of) the test submission's directory, which holds them all.
const std::string kSubmission = GRADVERIFY_TEST_SUBMISSION;
const std::string kGrade = kBin + " grade --submission-dir " + kSubmission;
const std::string kSolution = "./student_runner_solution";
const std::string kSkeleton = "./student_runner_skeleton";
const std::string kDbAveraged = "./student_runner_db_averaged";
const std::string kPython = "python3 python_student.py";

// Grades with the built-in rubric (or `extra` options) and returns the JSON report.
json grade(const std::string& command, const std::string& extra = "") {
  // Named per process: ctest -j runs tests that grade the same command at the same time.
  const std::string out = temp_path("grade_" + std::to_string(getpid()) + "_" +
                                    std::to_string(std::hash<std::string>{}(command + extra)) + ".json");
  const auto run = run_shell(kGrade + " -q --format json --output " + out + " --submission-cmd '" + command + "' " + extra);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return json::parse(slurp(out));
}

// Gradescope's results.json contract: what its harness reads, with the types it expects.
void expect_gradescope_contract(const json& r) {
  ASSERT_TRUE(r.is_object());
  ASSERT_TRUE(r["score"].is_number());
  ASSERT_TRUE(r["execution_time"].is_number());
  ASSERT_TRUE(r["output"].is_string());
  ASSERT_TRUE(r["tests"].is_array());
  ASSERT_FALSE(r["tests"].empty());
  double total = 0;
  for (const auto& t : r["tests"]) {
    SCOPED_TRACE(t.dump().substr(0, 200));
    for (const char* key : {"name", "status", "output", "visibility"}) ASSERT_TRUE(t[key].is_string()) << key;
    ASSERT_TRUE(t["score"].is_number());
    ASSERT_TRUE(t["max_score"].is_number());
    EXPECT_TRUE(t["status"] == "passed" || t["status"] == "failed");
    EXPECT_TRUE(std::set<std::string>({"visible", "hidden", "after_due_date", "after_published"})
                    .count(t["visibility"].get<std::string>()));
    EXPECT_GE(t["score"].get<double>(), 0);
    EXPECT_LE(t["score"].get<double>(), t["max_score"].get<double>());
    total += t["score"].get<double>();
  }
  EXPECT_NEAR(r["score"].get<double>(), total, 1e-9);
}

TEST(Grading, TheReferenceSolutionScoresFullMarksInAValidResultsJson) {
  const std::string out = temp_path("solution_results.json");
  const auto run = run_shell(kGrade + " -q --format gradescope --output " + out + " --submission-cmd " + kSolution);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(slurp(out));
  expect_gradescope_contract(r);
  const Rubric rubric = builtin_rubric();
  EXPECT_EQ(r["score"].get<double>(), rubric.max_score());
  ASSERT_EQ(r["tests"].size(), rubric.cases.size());
  for (const auto& t : r["tests"]) EXPECT_EQ(t["status"], "passed") << t["output"];
}

TEST(Grading, TheUntouchedSkeletonScoresZeroWithoutUpsettingTheGrader) {
  const json r = grade(kSkeleton);
  EXPECT_EQ(r["score"].get<double>(), 0);
  for (const auto& c : r["cases"]) {
    EXPECT_FALSE(c["passed"].get<bool>());
    EXPECT_EQ(c["failure"], "") << "it answered: zeros, not a crash";
    EXPECT_NE(c["feedback"].get<std::string>().find("FAIL"), std::string::npos);
  }
}

TEST(Grading, TheKitsSolutionScoresFullMarksOnTheNextLabsRubricAndItsSkeletonZero) {
  const json solution = grade(kSolution, "--rubric builtin:multiclass");
  EXPECT_EQ(solution["score"].get<double>(), builtin_rubric("multiclass").max_score());
  EXPECT_EQ(solution["cases"].size(), builtin_rubric("multiclass").cases.size());
  const json skeleton = grade(kSkeleton, "--rubric builtin:multiclass");
  EXPECT_EQ(skeleton["score"].get<double>(), 0);
  for (const auto& c : skeleton["cases"]) EXPECT_EQ(c["failure"], "") << "it answered zeros: " << c["feedback"];
}

TEST(Grading, CorrectPythonScoresFullMarks) {
  const json r = grade(kPython);
  EXPECT_EQ(r["score"], r["max_score"]);
}

// ---- buggy submissions lose exactly the cases their bugs touch ------------------------------

// The answers of one submission to every case of the built-in rubric, run directly.
std::vector<json> answers_of(const std::string& command, const Rubric& rubric) {
  std::vector<json> answers;
  SandboxLimits limits;
  limits.working_directory = kSubmission;
  for (const auto& c : rubric.cases) {
    const SandboxResult run = run_sandboxed(command, case_request_json(c), limits);
    EXPECT_TRUE(run.exited_cleanly()) << command << ": " << run.failure() << run.err;
    answers.push_back(json::parse(run.out));
  }
  return answers;
}

struct Touched {
  std::set<std::string> cases;              // where any scored tensor differs
  std::map<std::string, double> scores;     // what each case should score
  std::map<std::string, std::set<std::string>> tensors;  // which tensors differ
};

// Which cases a bug touches: where the buggy answer differs from the correct one (the plain
// Python, or the reference solution) beyond the case's tolerance. No LibTorch involved: the
// grader's verdicts, against LibTorch, must agree with this.
Touched touched_by(const std::vector<json>& correct, const std::vector<json>& buggy, const Rubric& rubric) {
  Touched t;
  for (size_t i = 0; i < rubric.cases.size(); ++i) {
    const GradingCase& c = rubric.cases[i];
    std::vector<std::string> names = c.kind == CaseKind::op ? op_answer_names(c.op.op) : std::vector<std::string>{};
    if (c.kind == CaseKind::mlp)
      for (const auto& p : parameter_names(c.problem.spec)) names.push_back("d" + p);
    int passed = 0;
    for (const auto& name : names) {
      Tensor want;
      want.shape = {static_cast<int64_t>(correct[i][name].size())};
      for (const auto& row : correct[i][name])
        if (row.is_array()) for (double v : row) want.values.push_back(v);
        else want.values.push_back(row.get<double>());
      Tensor got = want;
      got.values.clear();
      for (const auto& row : buggy[i][name])
        if (row.is_array()) for (double v : row) got.values.push_back(v);
        else got.values.push_back(row.get<double>());
      if (compare_tensor(name, SubmittedGradient{got, ""}, want, c.tolerances).passed) ++passed;
      else t.tensors[c.name].insert(name);
    }
    if (passed < static_cast<int>(names.size())) t.cases.insert(c.name);
    t.scores[c.name] = c.credit == Credit::per_tensor ? c.points * passed / static_cast<double>(names.size())
                                                      : (passed == static_cast<int>(names.size()) ? c.points : 0);
  }
  return t;
}

struct Bug {
  std::string name, command;
};
void PrintTo(const Bug& b, std::ostream* os) { *os << b.name; }
class BuggySubmission : public ::testing::TestWithParam<Bug> {};

TEST_P(BuggySubmission, LosesExactlyTheCasesItsBugTouchesWithTheFailingGradientNamed) {
  const Rubric rubric = builtin_rubric();
  const bool cpp = GetParam().name == "cpp_db_averaged";
  Touched expected = touched_by(answers_of(cpp ? kSolution : kPython, rubric),
                                      answers_of(GetParam().command, rubric), rubric);
  ASSERT_FALSE(expected.cases.empty()) << "a bug that touches no case tests nothing";
  // The C++ bug is planted in the solution's linear backward alone: the MLP calls the
  // solution's own, so only the linear op cases can change.
  if (cpp) {
    EXPECT_EQ(expected.cases, (std::set<std::string>{"Linear backward", "Linear backward (hidden)"}));
  }
  const json r = grade(GetParam().command);
  std::set<std::string> lost;
  for (const auto& c : r["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    if (!c["passed"].get<bool>()) lost.insert(name);
    EXPECT_NEAR(c["score"].get<double>(), expected.scores.at(name), 1e-9);
    for (const auto& tensor : expected.tensors[name]) {
      // The feedback names the gradient: "dz", "dW", ... for an op, "W2", "b1", ... for a net.
      const std::string shown = tensor.size() > 2 && tensor[0] == 'd' && std::isdigit(tensor.back()) ? tensor.substr(1) : tensor;
      EXPECT_NE(c["feedback"].get<std::string>().find("\n  " + shown + " "), std::string::npos) << shown;
    }
  }
  EXPECT_EQ(lost, expected.cases);
}

INSTANTIATE_TEST_SUITE_P(
    All, BuggySubmission,
    ::testing::Values(Bug{"relu_ge", kPython + " relu_ge"}, Bug{"sigmoid_of_output", kPython + " sigmoid_of_output"},
                      Bug{"mse_no_two", kPython + " mse_no_two"}, Bug{"bce_sum", kPython + " bce_sum"},
                      Bug{"linear_db_mean", kPython + " linear_db_mean"},
                      Bug{"dx_untransposed", kPython + " dx_untransposed"},
                      Bug{"mlp_bias_mean", kPython + " mlp_bias_mean"}, Bug{"tanh_forgot", kPython + " tanh_forgot"},
                      Bug{"cpp_db_averaged", kDbAveraged}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(Grading, HintsNameTheClassicMistakes) {
  const json relu = grade(kPython + " relu_ge");
  EXPECT_NE(relu["cases"][0]["feedback"].get<std::string>().find("ReLU'(0) must be 0"), std::string::npos);
  const json mse = grade(kPython + " mse_no_two");
  for (const auto& c : mse["cases"]) {
    if (c["name"] == "MSE backward") {
      EXPECT_NE(c["feedback"].get<std::string>().find("the factor 2 of the squared error"), std::string::npos);
    }
  }
}

TEST(Grading, RightAnswersInColumnLayoutsScoreFullMarksWithNoFailLineOrHint) {
  // Nielsen's layout: biases as (n, 1) columns, dz and dh column-per-sample.
  const json r = grade(kPython + " column_layout");
  EXPECT_EQ(r["score"], r["max_score"]);
  bool said_columns = false;
  for (const auto& c : r["cases"]) {
    const std::string feedback = c["feedback"];
    EXPECT_EQ(feedback.find("FAIL"), std::string::npos) << feedback;
    EXPECT_EQ(feedback.find("hint"), std::string::npos) << feedback;
    said_columns = said_columns || feedback.find("column-per-sample") != std::string::npos;
  }
  EXPECT_TRUE(said_columns) << "a net case says its intermediates were read transposed";
}

TEST(Grading, MisnamedKeysAreNamedWithWhatTheyMeantAndGetNoDiagnosis) {
  const json r = grade(kPython + " misnamed");
  EXPECT_EQ(r["score"].get<double>(), 0);
  for (const auto& c : r["cases"]) {
    const std::string feedback = c["feedback"];
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_NE(feedback.find("is in your answer; it has"), std::string::npos) << feedback;
    EXPECT_NE(feedback.find("did you mean d"), std::string::npos) << feedback;
    for (const char* diagnosis : {"first divergence", "hint", "dead ReLU"})
      EXPECT_EQ(feedback.find(diagnosis), std::string::npos) << diagnosis << "\n" << feedback;
    for (const auto& t : c["tensors"]) {
      EXPECT_FALSE(t["passed"].get<bool>());
      EXPECT_TRUE(t["hint_kinds"].empty());
    }
  }
}

// ---- hostile submissions ----------------------------------------------------------------------

// Two cases, three seconds each: enough to see every failure, with room for a loaded machine.
std::string small_rubric() {
  const std::string path = write_temp("small_rubric_" + std::to_string(getpid()) + ".json", R"({"name": "small", "timeout_seconds": 3, "memory_mb": 256, "cases": [
    {"name": "relu", "points": 1, "kind": "op", "op": "relu", "seed": 1},
    {"name": "net", "points": 2, "kind": "mlp", "layers": [2, 3, 1], "data": "xor", "seed": 1}]})");
  chmod(path.c_str(), 0600);  // private, as a rubric with hidden seeds is kept
  return path;
}

struct Hostile {
  std::string name, command, feedback;  // feedback: what each case's feedback must say
  std::string leftover;                 // a process it leaves behind, which must not survive
};
void PrintTo(const Hostile& h, std::ostream* os) { *os << h.name; }
class HostileSubmission : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileSubmission, GetsZeroWhileTheResultsFileStaysCompleteAndValid) {
  const std::string results = temp_path("hostile_" + GetParam().name + ".json");
  std::filesystem::remove(results);
  std::string command = GetParam().command;
  for (auto at = command.find("RESULTS"); at != std::string::npos; at = command.find("RESULTS"))
    command.replace(at, 7, results);
  const auto run = run_shell(kGrade + " -q --rubric " + small_rubric() + " --format gradescope --output " + results +
                             " --submission-cmd \"" + command + "\"");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(slurp(results));
  expect_gradescope_contract(r);
  EXPECT_EQ(r["score"].get<double>(), 0);
  ASSERT_EQ(r["tests"].size(), 2u) << "every case is in the results";
  for (const auto& t : r["tests"]) {
    EXPECT_EQ(t["status"], "failed");
    EXPECT_NE(t["output"].get<std::string>().find(GetParam().feedback), std::string::npos) << t["output"];
  }
  if (!GetParam().leftover.empty()) {
    EXPECT_EQ(processes_with(GetParam().leftover), 0) << "nothing it started outlives grading";
  }
  if (GetParam().name == "garbage_output" || GetParam().name == "invalid_utf8_json") {
    // Arbitrary bytes in what the feedback quotes must not break the other formats either.
    const auto as_json = run_shell(kGrade + " -q --rubric " + small_rubric() + " --format json --submission-cmd \"" +
                                   command + "\"");
    ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
    EXPECT_EQ(json::parse(as_json.out)["score"].get<double>(), 0);
    EXPECT_EQ(run_shell(kGrade + " -q --rubric " + small_rubric() + " --format junit --submission-cmd \"" + command +
                        "\"").exit_code, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, HostileSubmission,
    ::testing::Values(
        Hostile{"segfault", "kill -SEGV \\$\\$", "SIGSEGV", ""},
        Hostile{"abort", "python3 -c 'import os; os.abort()'", "SIGABRT", ""},
        Hostile{"infinite_loop", "while :; do :; done", "timed out", ""},
        Hostile{"unbounded_allocation", "python3 -c 'x = [bytearray(10**8) for _ in iter(int, 1)]'", "MemoryError", ""},
        Hostile{"garbage_output", "head -c 3000 /dev/urandom", "stdout", ""},
        Hostile{"invalid_utf8_json", "printf '{\\\"dz\\\": \\300\\377}'; printf '\\300\\301' >&2", "stdout: dz: not valid JSON", ""},
        Hostile{"no_output", "true", "printed nothing on stdout", ""},
        Hostile{"extra_printing", "echo debugging; echo '{}'", "print debugging output to stderr instead", ""},
        Hostile{"fake_score", "echo '{\\\"score\\\": 100, \\\"tests\\\": []}'", "missing", ""},
        Hostile{"writes_results_file",
                "echo '{\\\"score\\\": 100, \\\"tests\\\": []}' > RESULTS; echo '{\\\"score\\\": 100}'", "missing", ""},
        Hostile{"child_left_running", "sleep 31 & echo '{}'", "left processes running", "sleep 31"},
        Hostile{"escaped_child", "setsid sleep 32 >/dev/null 2>&1 & echo '{}'", "left processes running", "sleep 32"},
        Hostile{"stdout_flood", "yes", "too much to stdout", ""},
        Hostile{"never_built", "./runner_never_built", "command not found", ""},
        Hostile{"not_executable", "./python_student.py", "command not executable", ""}),
    [](const auto& test_info) { return test_info.param.name; });

// ---- rubrics ----------------------------------------------------------------------------------

TEST(GradingRubric, AMistakeInARubricNamesTheFileAndTheField) {
  const std::string path = write_temp("bad_rubric.json", R"({"cases": [{"name": "a", "kind": "op", "op": "softmax"}]})");
  const auto run = run_shell(kGrade + " --rubric " + path + " --submission-cmd true");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find(path + ": cases[0].op: expected one of relu, sigmoid, tanh, identity, leaky_relu, linear, "
                                "mse, bce, bce_with_logits, cross_entropy, got 'softmax'"),
            std::string::npos)
      << run.err;
}

// A clone under /root (0700) is where a root user's submission lives: the grader copies it
// for each case and hands the copy to the case's uid, so it is graded like any other.
TEST(GradingRubric, ASubmissionInADirectoryOnlyItsOwnerMayEnterIsGraded) {
  namespace fs = std::filesystem;
  const fs::path dir = temp_path("private_submission");
  fs::remove_all(dir);
  fs::create_directories(dir / "inner");
  fs::copy_file(kSubmission + "/student_runner_solution", dir / "inner/runner");
  fs::permissions(dir, fs::perms::owner_all);
  fs::permissions(dir / "inner", fs::perms::owner_all);
  const std::string out = temp_path("private_submission.json");
  const auto run = run_shell(kBin + " grade -q --submission-cmd ./runner --format json --output " + out +
                             " --submission-dir " + (dir / "inner").string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(slurp(out));
  EXPECT_EQ(r["score"], r["max_score"]) << r.dump().substr(0, 2000);
}

TEST(GradingRubric, ACaseThatCannotTellRightFromSkeletonIsRefused) {
  // The lab notebook's seed-42 net: layer 2's ReLUs are dead, so dW1 is all zero.
  const std::string path = write_temp("dead_rubric.json", R"({"cases": [{"name": "dead net", "kind": "mlp",
    "layers": [2, 4, 3, 2, 1], "data": "xor", "seed": 42}]})");
  const auto run = run_shell(kGrade + " --rubric " + path + " --submission-cmd " + kSolution);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("case 'dead net': LibTorch's dW1 is all zero"), std::string::npos) << run.err;
}

TEST(GradingRubric, ThePrintedRubricWrittenWithOutputIsReadableByItsOwnerOnly) {
  // It holds the hidden cases' seeds: private from the start, so grading never warns about it.
  const std::string path = temp_path("printed_rubric_" + std::to_string(getpid()) + ".json");
  std::filesystem::remove(path);
  const auto run = run_shell(kBin + " grade --print-rubric -o " + path);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(slurp(path), run_shell(kBin + " grade --print-rubric").out);
}

TEST(GradingRubric, ThePrintedBuiltInRubricGradesTheSameAsTheBuiltIn) {
  const auto printed = run_shell(kGrade + " --print-rubric");
  ASSERT_EQ(printed.exit_code, 0);
  const std::string path = write_temp("printed_rubric.json", printed.out);
  const json r = grade(kPython + " tanh_forgot", "--rubric " + path);
  const json builtin = grade(kPython + " tanh_forgot");
  EXPECT_EQ(r["score"], builtin["score"]);
  EXPECT_LT(r["score"].get<double>(), r["max_score"].get<double>());
  // The next lab's, printed and graded from the file, as the built-in: the skeleton's 0 and the
  // solution's full marks alike.
  const auto multiclass = run_shell(kGrade + " --print-rubric --rubric builtin:multiclass");
  ASSERT_EQ(multiclass.exit_code, 0) << multiclass.err;
  EXPECT_NE(multiclass.out, printed.out);
  const std::string multiclass_path = write_temp("printed_multiclass_rubric.json", multiclass.out);
  EXPECT_EQ(grade(kSolution, "--rubric " + multiclass_path)["score"], grade(kSolution, "--rubric builtin:multiclass")["score"]);
}

TEST(GradingRubric, AnUnknownBuiltInRubricIsNamedWithTheOnesThereAre) {
  const auto run = run_shell(kGrade + " --rubric builtin:multiclas --submission-cmd true");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no built-in rubric is named 'multiclas'; there are lab, multiclass; did you mean "
                         "builtin:multiclass?"),
            std::string::npos)
      << run.err;
  const auto file = run_shell(kGrade + " --print-rubric --rubric " + write_temp("some_rubric.json", "{}"));
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_NE(file.err.find("prints a built-in rubric"), std::string::npos) << file.err;
}

TEST(GradingOutputs, JunitHasOneTestcasePerCaseAndAFailureForEachLoss) {
  const std::string out = temp_path("junit.xml");
  ASSERT_EQ(run_shell(kGrade + " -q --format junit --output " + out + " --submission-cmd '" + kPython +
                      " mse_no_two'").exit_code, 0);
  const std::string xml = slurp(out);
  const Rubric rubric = builtin_rubric();
  size_t testcases = 0, failures = 0;
  for (size_t at = xml.find("<testcase "); at != std::string::npos; at = xml.find("<testcase ", at + 1)) ++testcases;
  for (size_t at = xml.find("<failure "); at != std::string::npos; at = xml.find("<failure ", at + 1)) ++failures;
  EXPECT_EQ(testcases, rubric.cases.size());
  EXPECT_EQ(failures, 4u);  // the two MSE op cases and the two MSE nets
  EXPECT_NE(xml.find("failures=\"4\""), std::string::npos);
}

// ---- isolation through the binary ------------------------------------------------------------

// Ctrl-C, kill, a closed terminal: every running case is killed and its files removed, and the
// grader exits 128 + the signal. With namespaces even SIGKILL takes the cases with it.
TEST(GradingIsolation, AStoppedGraderLeavesNoCaseRunning) {
  for (const auto& [signal, exit_code] : {std::pair{"TERM", 143}, std::pair{"INT", 130}, std::pair{"KILL", 137}}) {
    SCOPED_TRACE(signal);
    const std::string marker = "43." + std::to_string(getpid() % 10000) + std::to_string(exit_code);
    if (std::string(signal) == "KILL" &&
        run_shell(kBin + " grade --check-isolation | grep -q '^  yes  processes end with the grader'").exit_code != 0)
      continue;  // without namespaces a SIGKILLed grader can't take a case's descendants with it
    const auto run = run_shell("(" + kGrade + " -q --rubric " + small_rubric() + " --timeout 30 --submission-cmd 'sleep " +
                               marker + "' & pid=$!; sleep 3; kill -" + signal + " $pid; wait $pid; echo \"exit $?\")");
    EXPECT_NE(run.out.find("exit " + std::to_string(exit_code)), std::string::npos) << run.out;
    if (std::string(signal) != "KILL") {
      EXPECT_NE(run.err.find("every running case was killed"), std::string::npos) << run.err;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(processes_with(marker), 0) << "a case outlived the grader";
  }
}

TEST(GradingIsolation, ARubricOthersMayReadIsRefusedWhereCasesCouldReadIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: only then do cases run as other users";
  const std::string rubric = small_rubric();
  std::filesystem::permissions(rubric, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                           std::filesystem::perms::others_read);
  const auto refused = run_shell(kGrade + " --isolation basic --rubric " + rubric + " --submission-cmd " + kSolution);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find(rubric + ": other users may read it (mode 0604)"), std::string::npos) << refused.err;
  EXPECT_EQ(run_shell(kGrade + " -q --isolation basic --allow-readable-rubric --rubric " + rubric +
                      " --submission-cmd " + kSolution).exit_code, 0);
  std::filesystem::permissions(rubric, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(run_shell(kGrade + " -q --isolation basic --rubric " + rubric + " --submission-cmd " + kSolution).exit_code, 0);
}

TEST(GradingIsolation, CheckIsolationReportsEveryProtectionAndContainsEveryProbeHere) {
  const auto run = run_shell(kBin + " grade --check-isolation");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("processes end with their case"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Hostile probes"), std::string::npos) << run.out;
  const bool full = run.out.find("  NO  ") == std::string::npos;
  if (full) {
    EXPECT_EQ(run.out.find("NOT CONTAINED"), std::string::npos) << run.out;
  }
  // The negative control: without namespaces the same probes get through, and it says so.
  const auto basic = run_shell(kBin + " grade --check-isolation --isolation basic");
  ASSERT_EQ(basic.exit_code, 0) << basic.err;
  EXPECT_NE(basic.out.find("NOT CONTAINED"), std::string::npos) << basic.out;
}

// A case plants a directory where the results go, in a world-writable folder. With namespaces
// it can't reach the folder; without, the grader still loses nothing: the results go to
// stdout and the error says so.
TEST(GradingIsolation, ADirectoryPlantedAtTheResultsPathLosesNoResults) {
  namespace fs = std::filesystem;
  for (const std::string mode : {"namespaces", "basic"}) {
    SCOPED_TRACE(mode);
    const fs::path folder = "/tmp/gv-planted-" + std::to_string(getpid());
    fs::remove_all(folder);
    fs::create_directories(folder);
    fs::permissions(folder, fs::perms::all | fs::perms::sticky_bit);
    const std::string results = (folder / "results.json").string();
    const auto run = run_shell(kGrade + " -q --isolation " + mode + " --rubric " + small_rubric() + " --format json " +
                               "--output " + results + " --submission-cmd 'mkdir -p " + results + " 2>/dev/null; echo {}'");
    if (mode == "namespaces" && run.err.find("unavailable on this machine") != std::string::npos) continue;
    if (mode == "namespaces") {
      EXPECT_EQ(run.exit_code, 0) << run.err;
      ASSERT_TRUE(fs::is_regular_file(results)) << "a case reached the results' folder";
      EXPECT_EQ(json::parse(slurp(results))["cases"].size(), 2u);
    } else {
      EXPECT_TRUE(fs::is_directory(results)) << "the plant worked: the basic sandbox can't stop it";
      EXPECT_EQ(run.exit_code, 2);
      EXPECT_NE(run.err.find(results + ": cannot write the file"), std::string::npos) << run.err;
      EXPECT_NE(run.err.find("the report was written to stdout instead"), std::string::npos) << run.err;
      EXPECT_EQ(json::parse(run.out)["cases"].size(), 2u) << "the results, on stdout";
    }
    fs::remove_all(folder);
  }
}

// Hidden cases run after every visible one, so none can signal its input to a visible case
// through the clock; the results keep the rubric's order.
TEST(GradingIsolation, HiddenCasesRunAfterEveryVisibleOne) {
  const json r = grade("cat >/dev/null; date +%s%N >&2; echo {}");
  double last_visible = 0, first_hidden = 1e30;
  std::vector<std::string> names;
  for (const auto& c : r["cases"]) {
    names.push_back(c["name"]);
    const std::string feedback = c["feedback"];
    const auto at = feedback.find("stderr:\n");
    ASSERT_NE(at, std::string::npos) << feedback;
    const double started = std::stod(feedback.substr(at + 8));
    if (c["visibility"] == "visible") last_visible = std::max(last_visible, started);
    else first_hidden = std::min(first_hidden, started);
  }
  EXPECT_LT(last_visible, first_hidden);
  std::vector<std::string> rubric_order;
  for (const auto& c : builtin_rubric().cases) rubric_order.push_back(c.name);
  EXPECT_EQ(names, rubric_order);
}

// A whole-net case answered by running the grader itself: the grader is not in the case's world.
TEST(GradingIsolation, ASubmissionCannotRunTheGrader) {
  const std::string out = temp_path("calls_grader.json");
  const auto run = run_shell(kGrade + " -q --isolation namespaces --rubric " + small_rubric() + " --format json --output " +
                             out + " --submission-cmd '" + kBin + " --version >&2 && echo {}'");
  if (run.err.find("unavailable on this machine") != std::string::npos) GTEST_SKIP() << run.err;
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(slurp(out));
  EXPECT_EQ(r["score"], 0);
  for (const auto& c : r["cases"])
    EXPECT_NE(c["failure"].get<std::string>().find("command not found"), std::string::npos) << c["failure"];
}

// There is no start-up probe: the first case finds out whether bwrap makes a world here. A
// bwrap that can't (a container that forbids namespaces) costs that case nothing: it runs
// again without namespaces, and every later case starts without them.
TEST(GradingIsolation, ABwrapThatCannotMakeAWorldIsFoundByTheFirstCaseWhichRunsAgainWithout) {
  const std::string bin = testing::machine_temp_dir("failing-bwrap");
  const std::string bwrap = bin + "/bwrap";
  {
    std::ofstream script(bwrap);
    script << "#!/bin/sh\ncase \"$1\" in --version) echo 'bubblewrap 0.8.0'; exit 0;; --help) echo '--size'; exit 0;; esac\n"
              "echo 'bwrap: Creating new namespace failed: Operation not permitted' >&2\nexit 1\n";
  }
  std::filesystem::permissions(bwrap, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                          std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                          std::filesystem::perms::others_exec);
  const std::string out = temp_path("failing_bwrap.json");
  const auto run = run_shell("PATH=" + bin + ":$PATH " + kGrade + " -q --format json --output " + out +
                             " --submission-cmd " + kSolution);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(slurp(out));
  EXPECT_EQ(r["score"], r["max_score"]) << r.dump().substr(0, 2000);
  EXPECT_EQ(r["isolation"].get<std::string>().rfind("no namespaces: " + bwrap +
                                                    " failed here: bwrap: Creating new namespace failed", 0), 0u)
      << r["isolation"];
  // Required, they are refused before any case, with bwrap's own reason.
  const auto required = run_shell("PATH=" + bin + ":$PATH " + kGrade + " -q --isolation namespaces --format json --output " +
                                  out + ".required --submission-cmd " + kSolution);
  EXPECT_EQ(required.exit_code, 2);
  EXPECT_NE(required.err.find("--isolation: namespaces: unavailable on this machine"), std::string::npos) << required.err;
  EXPECT_NE(required.err.find("Creating new namespace failed"), std::string::npos) << required.err;
  EXPECT_FALSE(std::filesystem::exists(out + ".required"));
}

// The hostile side of the same: a first case that fails the way a bwrap that can't make a
// world fails (its message, status 1, its wrapper killed so no count is written), after trying
// to read the wrapper's "ready" out of the pipe itself (through /proc/PPID/fd: this kernel
// refuses, a write end reopens write-only; where one allows it, the grader's empty trial case
// decides instead), must not talk the grader out of namespaces for the cases after it.
TEST(GradingIsolation, AFirstCaseThatPosesAsAFailedBwrapKeepsEveryCaseInNamespaces) {
  const IsolationStatus here = isolation_status(SandboxLimits{});  // a trial in this process, not the grader's
  if (!here.namespaces) GTEST_SKIP() << "no namespaces here: " << here.bubblewrap;
  const std::string out = temp_path("poses_as_bwrap.json");
  const auto run = run_shell(kGrade + " -q --rubric " + small_rubric() + " --format json --output " + out +
                             " --submission-cmd 'for f in /proc/$PPID/fd/*; do timeout 0.3 head -c 64 $f >/dev/null 2>&1; "
                             "done; echo \"bwrap: Creating new namespace failed\" >&2; kill -9 $PPID; exit 1'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json r = json::parse(slurp(out));
  EXPECT_EQ(r["isolation"].get<std::string>().rfind("namespaces (bubblewrap", 0), 0u) << r["isolation"];
  EXPECT_EQ(r["score"], 0);
}

TEST(Grading, ACommandThatIsNotThereIsWarnedAboutOnceEvenWhenQuiet) {
  const auto run = run_shell(kGrade + " -q --rubric " + small_rubric() + " --submission-cmd ./runner_never_built");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Each case says it once, not again in sh's own words.
  size_t said = 0;
  for (size_t at = run.out.find("not found"); at != std::string::npos; at = run.out.find("not found", at + 1)) ++said;
  EXPECT_EQ(said, 2u) << run.out;
  EXPECT_EQ(run.err, "grade: warning: --submission-cmd ./runner_never_built: not found; it runs in (a copy of) "
                     "--submission-dir " + kSubmission + "\n");
}

// ---- the Gradescope bundle, end to end ------------------------------------------------------

TEST(GradingBundle, TheBundleReplacesWhatWasAtItsPathWholeUnderTheNameGiven) {
  // No .zip added, nothing stale kept: a file that was there is replaced, not updated.
  namespace fs = std::filesystem;
  const fs::path bundle = temp_path("bundle_without_extension_" + std::to_string(getpid()));
  { std::ofstream(bundle) << "not a zip, and stale"; }
  const auto run = run_shell(kBin + " autograder-bundle -o " + bundle.string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.rfind("gradverify: wrote " + bundle.string() + " (15 cases, 54 points, 1 variant per generated case)", 0), 0u) << run.out;
  EXPECT_FALSE(fs::exists(bundle.string() + ".zip"));
  const auto listing = run_shell("unzip -l " + bundle.string());
  EXPECT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_NE(listing.out.find("rubric.json"), std::string::npos);
  for (const auto& entry : fs::directory_iterator(bundle.parent_path()))
    EXPECT_EQ(entry.path().filename().string().rfind(".gradverify-bundle-", 0), std::string::npos) << entry.path();
  fs::remove(bundle);
}

// A bundle made with `options` and unpacked as Gradescope does, into ROOT/source of a fresh
// ROOT (the test's /autograder), which is returned.
std::filesystem::path unpacked_bundle(const std::string& name, const std::string& options) {
  namespace fs = std::filesystem;
  const fs::path root = temp_path(name + "_root"), zip = temp_path(name + ".zip");
  fs::remove_all(root);
  fs::remove(zip);
  const auto made = run_shell(kBin + " autograder-bundle " + options + " --output " + zip.string());
  EXPECT_EQ(made.exit_code, 0) << made.err;
  fs::create_directories(root);
  const auto unpacked = run_shell("unzip -q " + zip.string() + " -d " + (root / "source").string());
  EXPECT_EQ(unpacked.exit_code, 0) << unpacked.err;
  return root;
}

// An empty ROOT/submission, and no results yet.
void fresh_submission(const std::filesystem::path& root) {
  std::filesystem::remove_all(root / "submission");
  std::filesystem::remove_all(root / "results");
  std::filesystem::create_directories(root / "submission");
}

// ROOT/source/run_autograder as Gradescope runs it, with this build's binary, a 3 s build
// limit, and LibTorch's plug-in made unloadable: the grading image has no LibTorch, so a
// grader that tried to load it would fail here. Bounded, so that a hang fails the test.
testing::CommandRun run_autograder(const std::filesystem::path& root) {
  return run_shell("timeout 120 env AUTOGRADER_ROOT=" + root.string() + " GRADVERIFY=" + kBin +
                   " GRADVERIFY_TORCH_BACKEND=/nonexistent/libtorch_backend.so GRADVERIFY_BUILD_SECONDS=3 " +
                   (root / "source/run_autograder").string());
}

TEST(GradingBundle, GradesKitSubmissionsEndToEndTheWayGradescopeDoes) {
  namespace fs = std::filesystem;
  // Gradescope unpacks the zip into /autograder/source and runs setup.sh there.
  const fs::path root = unpacked_bundle("autograder", "--variants 4");
  for (const char* file : {"setup.sh", "run_autograder", "build_submission.sh", "grade_prairielearn",
                           "prairielearn.Dockerfile", "language", "rubric.json", "references.json", "student_kit/backprop.h",
                           "student_kit/backprop.cpp", "gradverify/CMakeLists.txt", "gradverify/src/grading/grading.cpp"})
    EXPECT_TRUE(fs::exists(root / "source" / file)) << file;
  EXPECT_FALSE(fs::exists(root / "source/gradverify/src/student_kit_solution")) << "the solution stays with staff";
  EXPECT_EQ(run_shell("bash -n " + (root / "source/setup.sh").string()).exit_code, 0);
  // setup.sh's apt-get and its gradverify build are skipped (GRADVERIFY points at this build's
  // binary); its last step, compiling the kit's given files, runs as on Gradescope.
  ASSERT_EQ(run_shell((root / "source/build_kit_objects.sh").string()).exit_code, 0);

  struct Submission {
    std::string name, backprop_cpp;  // empty: no backprop.cpp at all
    bool full_marks;
    std::string output;  // in the top-level output
  };
  const std::string solution = slurp(std::string(GRADVERIFY_SOURCE) + "/src/student_kit_solution/backprop.cpp");
  const std::string skeleton = slurp(std::string(GRADVERIFY_SOURCE) + "/src/student_kit/backprop.cpp");
  for (const Submission& s : {Submission{"solution", solution, true, "backprop.cpp compiled"},
                              Submission{"skeleton", skeleton, false, "backprop.cpp compiled"},
                              Submission{"broken", "int main( {", false, "expected"},
                              Submission{"reads_rubric", "#include \"" + (root / "source/rubric.json").string() + "\"\n",
                                         false, "Permission denied"},
                              Submission{"reads_references",
                                         "#include \"" + (root / "source/references.json").string() + "\"\n", false,
                                         "Permission denied"},
                              Submission{"empty", "", false, "There is no backprop.cpp in the submission"},
                              // Builds that never end: cut by the build's memory cap and its timeout.
                              Submission{"endless_include", "#include \"/dev/zero\"\n", false, "out of memory"},
                              Submission{"endless_build",
                                         "constexpr long f() { long s = 0; for (long i = 0; i < 200000; ++i) "
                                         "for (long j = 0; j < 200000; ++j) s += i ^ j; return s; }\n"
                                         "constexpr long v = f();\n",
                                         false, "The build was stopped after 3 s"}}) {
    SCOPED_TRACE(s.name);
    fresh_submission(root);
    fs::create_directories(root / "submission/src");
    if (!s.backprop_cpp.empty()) std::ofstream(root / "submission/src/backprop.cpp") << s.backprop_cpp;
    std::ofstream(root / "submission_metadata.json") << R"({"id": 99, "users": [{"email": "a@b.edu", "id": 1234, "name": "A"}]})";
    const auto run = run_autograder(root);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    const json r = json::parse(slurp((root / "results/results.json").string()));
    expect_gradescope_contract(r);
    EXPECT_EQ(r["score"].get<double>(), s.full_marks ? builtin_rubric().max_score() : 0.0);
    const bool unbuilt = s.name == "broken" || s.name == "empty" || s.name.rfind("endless", 0) == 0;
    if (s.name == "solution") {
      EXPECT_TRUE(r["extra_data"]["variant"].is_number_integer()) << r["extra_data"];
    }
    if (unbuilt) {
      // Nothing was built: one failure that says so, not fifteen "command not found".
      ASSERT_EQ(r["tests"].size(), 1u) << r.dump(2);
      EXPECT_EQ(r["tests"][0]["name"], "Build");
      EXPECT_EQ(r["tests"][0]["max_score"].get<double>(), builtin_rubric().max_score());
      EXPECT_NE(r["tests"][0]["output"].get<std::string>().find(s.output), std::string::npos);
    }
    // Only root can hide the rubric and references from the student.
    if ((s.name == "reads_rubric" || s.name == "reads_references") && geteuid() != 0) continue;
    EXPECT_NE(r["output"].get<std::string>().find(s.output), std::string::npos) << r["output"];
  }
}

TEST(GradingBundle, AFolderNamedWithANewlineCannotPointTheBuildElsewhere) {
  // A folder "x\ny" holding backprop.cpp, beside "x": a symlink to the references (which a
  // compile error would quote, a line of them), or a FIFO (which a copy would wait on forever).
  // The build takes the one real backprop.cpp, whatever its folder's name.
  namespace fs = std::filesystem;
  const fs::path root = unpacked_bundle("autograder_newline", "--variants 2");
  for (const char* decoy : {"symlink", "fifo"}) {
    SCOPED_TRACE(decoy);
    fresh_submission(root);
    fs::create_directories(root / "submission" / "x\ny");
    std::ofstream(root / "submission" / "x\ny" / "backprop.cpp") << "this is not C++\n";
    if (std::string(decoy) == "symlink") fs::create_symlink(root / "source/references.json", root / "submission/x");
    else ASSERT_EQ(mkfifo((root / "submission/x").c_str(), 0644), 0);
    const auto run = run_autograder(root);
    EXPECT_EQ(run.exit_code, 0) << "no hang, and results written\n" << run.err;
    const std::string results = slurp((root / "results/results.json").string());
    EXPECT_EQ(results.find("inputs_sha256"), std::string::npos) << results.substr(0, 2000);
    EXPECT_NE(results.find("this is not C++"), std::string::npos) << "the real file was built\n" << results.substr(0, 2000);
  }
}

TEST(GradingBundle, GradesPythonAndNotebookSubmissionsEndToEndTheWayGradescopeDoes) {
  namespace fs = std::filesystem;
  const fs::path root = unpacked_bundle("autograder_python", "--language python --variants 2");
  EXPECT_EQ(slurp((root / "source/language").string()), "python\n");
  for (const char* file : {"student_kit/runner.py", "student_kit/forward.py", "student_kit/backprop.py",
                           "student_kit/.github/workflows/classroom.yml",
                           "student_kit/backprop.ipynb"})
    EXPECT_TRUE(fs::exists(root / "source" / file)) << file;
  EXPECT_FALSE(fs::exists(root / "source/gradverify/src/student_kit_python_solution")) << "the solution stays with staff";
  const std::string kit = std::string(GRADVERIFY_SOURCE) + "/src/student_kit_python";
  const std::string solution = slurp(std::string(GRADVERIFY_SOURCE) + "/src/student_kit_python_solution/backprop.py");
  // A notebook: the handout with the solution in a cell of its own, and a training cell.
  json notebook = json::parse(slurp(kit + "/backprop.ipynb"));
  notebook["cells"].push_back({{"cell_type", "code"}, {"metadata", json::object()}, {"outputs", json::array()},
                               {"execution_count", nullptr}, {"source", solution + "\nprint('trained')\n"}});
  struct Submission {
    std::string name, file, content;
    double score;  // < 0: partial credit
    std::string output;
  };
  std::string buggy = solution;
  buggy.replace(buggy.find("dz.sum(axis=0)"), 14, "dz.mean(axis=0)");
  for (const Submission& s : {Submission{"solution", "backprop.py", solution, builtin_rubric().max_score(), "defines"},
                              Submission{"skeleton", "backprop.py", slurp(kit + "/backprop.py"), 0, "defines"},
                              Submission{"planted_bug", "backprop.py", buggy, -1, "defines"},
                              Submission{"notebook", "My Lab (final).ipynb", notebook.dump(1),
                                         builtin_rubric().max_score(), "defines"},
                              Submission{"syntax_error", "backprop.py", "def relu_backward(z, dh)\n", 0, "line 1"},
                              Submission{"nothing", "", "", 0, "There is no backprop.py or notebook"}}) {
    SCOPED_TRACE(s.name);
    fresh_submission(root);
    if (!s.file.empty()) std::ofstream(root / "submission" / s.file) << s.content;
    std::ofstream(root / "submission_metadata.json") << R"({"users": [{"id": 4242}]})";
    const auto run = run_autograder(root);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    const json r = json::parse(slurp((root / "results/results.json").string()));
    expect_gradescope_contract(r);
    if (s.score >= 0) {
      EXPECT_EQ(r["score"].get<double>(), s.score) << r["output"];
    } else {
      EXPECT_GT(r["score"].get<double>(), 0);
      EXPECT_LT(r["score"].get<double>(), builtin_rubric().max_score());
    }
    if (s.name == "syntax_error" || s.name == "nothing") {
      ASSERT_EQ(r["tests"].size(), 1u) << r.dump(2);
      EXPECT_EQ(r["tests"][0]["name"], "Build");
    }
    EXPECT_NE(r["output"].get<std::string>().find(s.output), std::string::npos) << r["output"];
  }
}

// ---- a whole class ----------------------------------------------------------------------------

TEST(GradingClass, AStudentWhoseCasesHangCannotHoldTheClass) {
  // dave hangs on every case: within his budget of 2 s his cases time out, after it they are
  // not run, each with its reason; erin, graded beside him, gets her full marks.
  namespace fs = std::filesystem;
  const fs::path dir = temp_path("hanging_class_" + std::to_string(getpid()));
  fs::remove_all(dir);
  for (const auto& [name, script] : std::map<std::string, std::string>{{"dave", "sleep 30"}, {"erin", "exec " + kSolution}}) {
    fs::create_directories(dir / name);
    if (name == "erin") fs::copy_file(kSubmission + "/student_runner_solution", dir / name / "student_runner_solution");
    std::ofstream(dir / name / "run") << "#!/bin/sh\n" << script << "\n";
    fs::permissions(dir / name / "run", fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  }
  fs::permissions(dir, fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  const fs::path out = temp_path("hanging_results_" + std::to_string(getpid()));
  fs::remove_all(out);
  const auto run = run_shell(kGrade + " -q --submissions " + dir.string() + " --submission-cmd ./run --workers 2 "
                             "--timeout 1 --student-timeout 2 --format json --output " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json dave = json::parse(slurp((out / "dave.json").string()));
  EXPECT_EQ(dave["score"].get<double>(), 0);
  int not_run = 0;
  for (const auto& c : dave["cases"]) {
    const std::string failure = c["failure"];
    EXPECT_TRUE(failure.find("timed out") != std::string::npos ||
                failure == "not run: this submission's time budget of 2 s (--student-timeout) ran out before it")
        << failure;
    not_run += failure.rfind("not run", 0) == 0 ? 1 : 0;
  }
  EXPECT_GE(not_run, 12) << "at most three cases fit in 2 s of 1 s timeouts";
  const json erin = json::parse(slurp((out / "erin.json").string()));
  EXPECT_EQ(erin["score"], erin["max_score"]);
  fs::remove_all(dir);
  fs::remove_all(out);
}

TEST(GradingClass, EveryStudentGetsResultsAndTheSummaryAddsUp) {
  namespace fs = std::filesystem;
  const fs::path dir = temp_path("class");
  fs::remove_all(dir);
  // Each student's folder holds what they handed in: a runner, or the Python source.
  const std::map<std::string, std::pair<std::string, std::string>> students = {
      {"alice", {"student_runner_solution", "exec " + kSolution}},
      {"bob", {"student_runner_skeleton", "exec " + kSkeleton}},
      {"carol", {"python_student.py", "exec " + kPython + " mlp_bias_mean"}}};
  for (const auto& [name, handed_in] : students) {
    fs::create_directories(dir / name);
    fs::copy_file(kSubmission + "/" + handed_in.first, dir / name / handed_in.first);
    std::ofstream(dir / name / "run") << "#!/bin/sh\n" << handed_in.second << "\n";
    fs::permissions(dir / name / "run", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                            fs::perms::others_read | fs::perms::others_exec);
  }
  fs::permissions(dir, fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  const fs::path out = temp_path("class_results");
  fs::remove_all(out);
  const auto run = run_shell(kGrade + " --submissions " + dir.string() + " --submission-cmd ./run --workers 2 "
                             "--format gradescope --output " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("graded 3 submissions"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("3/3 students"), std::string::npos) << "a progress line";
  // Into a log (stderr is a pipe here): a line per student, no carriage returns.
  EXPECT_EQ(run.err.find('\r'), std::string::npos) << run.err;
  for (const char* n : {"1/3 students", "2/3 students"}) EXPECT_NE(run.err.find(n), std::string::npos) << run.err;
  const std::string csv = slurp((out / "summary.csv").string());
  std::map<std::string, double> totals;
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line.rfind("student,total,ReLU backward,", 0), 0u) << line;
  while (std::getline(lines, line)) totals[line.substr(0, line.find(','))] = std::stod(line.substr(line.find(',') + 1));
  ASSERT_EQ(totals.size(), 3u) << csv;
  for (const auto& [name, total] : totals) {
    const json r = json::parse(slurp((out / (name + ".json")).string()));
    expect_gradescope_contract(r);
    EXPECT_EQ(r["score"].get<double>(), total) << name;
  }
  EXPECT_EQ(totals["alice"], builtin_rubric().max_score());
  EXPECT_EQ(totals["bob"], 0);
  EXPECT_GT(totals["carol"], 0);
  EXPECT_LT(totals["carol"], totals["alice"]);
}

// The first is named "shard": its results file is shard.json, which a shard's own files must
// never be mistaken for.
std::string student_name(int i) { return i == 0 ? "shard" : "student" + std::to_string(100 + i); }

// A class folder of `n` students, each handing in one of the test submission's commands.
std::filesystem::path make_class(const std::string& name, int n) {
  namespace fs = std::filesystem;
  const fs::path dir = temp_path(name);
  fs::remove_all(dir);
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"student_runner_solution", "exec " + kSolution},
      {"student_runner_skeleton", "exec " + kSkeleton},
      {"python_student.py", "exec " + kPython + " mlp_bias_mean"},
      {"python_student.py", "exec " + kPython + " relu_ge"}};
  for (int i = 0; i < n; ++i) {
    const auto& [file, command] = kinds[static_cast<size_t>(i) % kinds.size()];
    const fs::path student = dir / student_name(i);
    fs::create_directories(student);
    fs::copy_file(kSubmission + "/" + file, student / file);
    std::ofstream(student / "run") << "#!/bin/sh\n" << command << "\n";
    fs::permissions(student / "run", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                         fs::perms::others_read | fs::perms::others_exec);
  }
  fs::permissions(dir, fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  return dir;
}

// A results file with its time fields taken out.
json without_times(json r) {
  r.erase("seconds");
  for (auto& c : r["cases"]) c.erase("seconds");
  return r;
}

TEST(GradingClass, ThreeShardsMergedEqualOneRunApartFromTheTimeFields) {
  namespace fs = std::filesystem;
  const fs::path dir = make_class("sharded_class", 7);
  const fs::path whole = temp_path("sharded_whole"), merged = temp_path("sharded_merged");
  for (const auto& d : {whole, merged}) fs::remove_all(d);
  const std::string common = kGrade + " -q --submissions " + dir.string() + " --submission-cmd ./run --format json";
  ASSERT_EQ(run_shell(common + " --output " + whole.string()).exit_code, 0);
  std::string shards;
  size_t graded = 0;
  for (int k = 1; k <= 3; ++k) {
    const fs::path out = temp_path("sharded_" + std::to_string(k));
    fs::remove_all(out);
    const auto run = run_shell(common + " --shard " + std::to_string(k) + "/3 --output " + out.string());
    ASSERT_EQ(run.exit_code, 0) << run.err;
    graded += json::parse(slurp((out / "gradverify-shard/manifest.json").string()))["students"].size();
    shards += " " + out.string();
  }
  EXPECT_EQ(graded, 7u) << "every student in exactly one shard";
  const auto merge = run_shell(kBin + " merge --output " + merged.string() + shards);
  ASSERT_EQ(merge.exit_code, 0) << merge.err;
  EXPECT_NE(merge.out.find("merged 3 shards (7 students"), std::string::npos) << merge.out;
  std::set<std::string> whole_files, merged_files;
  for (const auto& e : fs::directory_iterator(whole)) whole_files.insert(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(merged)) merged_files.insert(e.path().filename().string());
  EXPECT_EQ(merged_files, whole_files);
  EXPECT_EQ(slurp((merged / "summary.csv").string()), slurp((whole / "summary.csv").string())) << "byte for byte";
  for (const auto& name : whole_files) {
    if (name == "summary.csv" || fs::is_directory(whole / name)) continue;
    EXPECT_EQ(without_times(json::parse(slurp((merged / name).string()))),
              without_times(json::parse(slurp((whole / name).string()))))
        << name;
  }
}

// The students a journal records as done, each with its entry's inode and contents: an entry
// rewritten (a student graded again) has another inode, since entries are written by rename.
std::map<std::string, std::pair<ino_t, std::string>> journal_entries(const std::filesystem::path& out) {
  std::map<std::string, std::pair<ino_t, std::string>> entries;
  std::error_code error;
  for (const auto& e : std::filesystem::directory_iterator(out / "gradverify-journal/students", error)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;  // a temporary of write_file
    struct stat st {};
    if (stat(e.path().c_str(), &st) == 0) entries[name] = {st.st_ino, slurp(e.path().string())};
  }
  return entries;
}

TEST(GradingClass, AClassRunKilledAtARandomPointAndRunAgainEqualsOneNeverInterrupted) {
  namespace fs = std::filesystem;
  constexpr int kStudents = 8;
  const fs::path dir = make_class("killed_class", kStudents);
  const fs::path whole = temp_path("killed_whole"), resumed = temp_path("killed_resumed");
  for (const auto& d : {whole, resumed}) fs::remove_all(d);
  const std::string common =
      kGrade + " -q --submissions " + dir.string() + " --submission-cmd ./run --format json --workers 1";
  ASSERT_EQ(run_shell(common + " --output " + whole.string()).exit_code, 0);

  // Killed with SIGKILL once a random number of students are done: nothing is flushed or
  // cleaned up, as after an OOM kill or a power cut of the process.
  std::random_device random;
  const size_t kill_after = 1 + random() % (kStudents - 2);
  SCOPED_TRACE(::testing::Message() << "killed after " << kill_after << " students");
  const auto started = run_shell("(" + common + " --output " + resumed.string() + " >/dev/null 2>&1 & echo $!)");
  const pid_t pid = static_cast<pid_t>(std::stol(started.out));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (journal_entries(resumed).size() < kill_after && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  while (kill(pid, 0) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto done_before = journal_entries(resumed);
  ASSERT_GE(done_before.size(), kill_after);
  ASSERT_LT(done_before.size(), static_cast<size_t>(kStudents)) << "the run finished before it was killed";
  EXPECT_FALSE(fs::exists(resumed / "summary.csv")) << "no summary of a run that did not finish";

  const auto again = run_shell(kGrade + " --submissions " + dir.string() +
                               " --submission-cmd ./run --format json --workers 1 --output " + resumed.string());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find(fmt::format("resuming: {} of {} students were graded already", done_before.size(), kStudents)),
            std::string::npos)
      << again.err;
  EXPECT_NE(again.out.find(fmt::format("graded {} submission", kStudents - done_before.size())), std::string::npos)
      << again.out;
  // No student graded twice: the entries of the first run are the very same files.
  const auto done_after = journal_entries(resumed);
  EXPECT_EQ(done_after.size(), static_cast<size_t>(kStudents));
  for (const auto& [name, entry] : done_before) EXPECT_EQ(done_after.at(name), entry) << name << " was graded again";
  // The same results as a run never interrupted, apart from the time fields.
  EXPECT_EQ(slurp((resumed / "summary.csv").string()), slurp((whole / "summary.csv").string())) << "byte for byte";
  for (int i = 0; i < kStudents; ++i) {
    const std::string file = student_name(i) + ".json";
    EXPECT_EQ(without_times(json::parse(slurp((resumed / file).string()))),
              without_times(json::parse(slurp((whole / file).string()))))
        << file;
  }
}

TEST(GradingClass, ARerunRegradesOnlyTheStudentsWhoseFolderChangedOrWhomTheGraderFailed) {
  namespace fs = std::filesystem;
  const fs::path dir = make_class("rerun_class", 4);
  const fs::path out = temp_path("rerun_results");
  fs::remove_all(out);
  const std::string grade_class =
      kGrade + " --submissions " + dir.string() + " --submission-cmd ./run --format gradescope --output " + out.string();
  // The grader fails on one student (an injected fault: it must not happen on its own).
  const auto first = run_shell("GRADVERIFY_TEST_GRADER_ERROR=" + student_name(2) + " " + grade_class);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("graded 4 submissions"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("the grader failed on 1 student"), std::string::npos) << first.out;
  const json failed = json::parse(slurp((out / (student_name(2) + ".json")).string()));
  expect_gradescope_contract(failed);
  EXPECT_EQ(failed["score"].get<double>(), 0);
  EXPECT_NE(failed["tests"][0]["output"].get<std::string>().find("the grader failed on this submission"),
            std::string::npos);
  // One student hands in again; the rerun grades them and the one the grader failed, only.
  std::ofstream(dir / student_name(1) / "notes.txt") << "resubmitted\n";
  const auto before = journal_entries(out);
  const auto second = run_shell(grade_class);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("resuming: 2 of 4 students were graded already"), std::string::npos) << second.err;
  EXPECT_NE(second.out.find("graded 2 submissions"), std::string::npos) << second.out;
  const auto after = journal_entries(out);
  for (const int i : {0, 3}) EXPECT_EQ(after.at(student_name(i) + ".json"), before.at(student_name(i) + ".json"));
  for (const int i : {1, 2}) EXPECT_NE(after.at(student_name(i) + ".json"), before.at(student_name(i) + ".json"));
  EXPECT_GT(json::parse(slurp((out / (student_name(2) + ".json")).string()))["score"].get<double>(), 0);
  // Another run's journal is neither resumed nor overwritten: --fresh says to.
  const auto other = run_shell(kGrade + " --submissions " + dir.string() +
                               " --submission-cmd ./run --format json --output " + out.string());
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("a class run of another rubric, references, command or format (format 'json' here, "
                           "'gradescope' in the journal): give --fresh"),
            std::string::npos)
      << other.err;
  EXPECT_EQ(journal_entries(out), after) << "nothing of the journal was touched";
  const auto fresh = run_shell(kGrade + " -q --submissions " + dir.string() +
                               " --submission-cmd ./run --format json --fresh --output " + out.string());
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_NE(fresh.out.find("graded 4 submissions"), std::string::npos) << fresh.out;
  const fs::path empty = temp_path("rerun_no_journal");
  fs::remove_all(empty);
  const auto resume_nothing = run_shell(kGrade + " --submissions " + dir.string() + " --submission-cmd ./run --resume "
                                        "--output " + empty.string());
  EXPECT_EQ(resume_nothing.exit_code, 2);
  EXPECT_NE(resume_nothing.err.find("holds no journal of a class run to resume"), std::string::npos) << resume_nothing.err;
}

TEST(GradingClass, TheJournalCopesWithOddNamesCorruptStateChangedSettingsAndLostFiles) {
  namespace fs = std::filesystem;
  const fs::path dir = make_class("odd_class", 2);
  // A folder whose name is not UTF-8 (Latin-1's é), and the results folder inside the class's.
  fs::create_directories(dir / "Jos\xe9");
  fs::copy_file(kSubmission + "/student_runner_solution", dir / "Jos\xe9" / "student_runner_solution");
  std::ofstream(dir / "Jos\xe9" / "run") << "#!/bin/sh\nexec " << kSolution << "\n";
  fs::permissions(dir / "Jos\xe9" / "run", fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  const fs::path out = dir / "graded";
  const std::string grade_class = kGrade + " --submissions " + dir.string() + " --submission-cmd ./run --output " + out.string();
  const auto first = run_shell(grade_class);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("graded 3 submissions"), std::string::npos) << first.out << " (the results folder is no student)";
  EXPECT_TRUE(fs::exists(out / "Jos\xe9.txt"));
  // The journal is its owner's alone: it holds the hidden cases' seeds and references.
  EXPECT_EQ(fs::status(out / "gradverify-journal").permissions() & fs::perms::all, fs::perms::owner_all);
  // A lost results file is graded again; the others are kept.
  fs::remove(out / (student_name(1) + ".txt"));
  const auto lost = run_shell(grade_class);
  ASSERT_EQ(lost.exit_code, 0) << lost.err;
  EXPECT_NE(lost.err.find("resuming: 2 of 3 students"), std::string::npos) << lost.err;
  EXPECT_TRUE(fs::exists(out / (student_name(1) + ".txt")));
  // Everything done: said so, with no rate of nothing.
  const auto nothing = run_shell(grade_class);
  EXPECT_NE(nothing.out.find("3 students were graded by the run this one resumed; nothing was left to grade"),
            std::string::npos)
      << nothing.out;
  // Another setting is another run: the scores depend on it.
  const auto longer = run_shell(grade_class + " --student-timeout 90");
  EXPECT_EQ(longer.exit_code, 2);
  EXPECT_NE(longer.err.find("settings '--timeout 0 --student-timeout 90"), std::string::npos) << longer.err;
  // A run.json that is not one: refused, and --fresh recovers, as the message says.
  std::ofstream(out / "gradverify-journal/run.json") << "{\"rubric_sha256\": ";
  const auto corrupt = run_shell(grade_class);
  EXPECT_EQ(corrupt.exit_code, 2);
  EXPECT_NE(corrupt.err.find("run.json"), std::string::npos) << corrupt.err;
  const auto fresh = run_shell(grade_class + " --fresh");
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_NE(fresh.out.find("graded 3 submissions"), std::string::npos) << fresh.out;
}

TEST(GradingClass, ASecondRunIntoTheSameResultsFolderIsRefusedWhileTheFirstWrites) {
  namespace fs = std::filesystem;
  const fs::path dir = make_class("locked_class", 4);
  const fs::path out = temp_path("locked_results");
  fs::remove_all(out);
  const std::string grade_class = kGrade + " -q --submissions " + dir.string() + " --submission-cmd ./run --workers 1 "
                                  "--output " + out.string();
  const auto started = run_shell("(" + grade_class + " >/dev/null 2>&1 & echo $!)");
  const pid_t first = static_cast<pid_t>(std::stol(started.out));
  // run.json is written once the first run holds the lock.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(out / "gradverify-journal/run.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto second = run_shell(grade_class);
  const bool first_still_running = kill(first, 0) == 0;
  while (kill(first, 0) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!first_still_running) GTEST_SKIP() << "the first run finished before the second started";
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_NE(second.err.find("another gradverify grade is writing into it now"), std::string::npos) << second.err;
  EXPECT_EQ(journal_entries(out).size(), 4u) << "the first run finished its class";
}

TEST(GradingClass, MergeRefusesShardsThatAreNotOneWholeRun) {
  namespace fs = std::filesystem;
  const fs::path dir = make_class("merge_refusals_class", 3);
  const std::string common = kGrade + " -q --submissions " + dir.string() + " --submission-cmd ./run --format json";
  std::map<std::string, fs::path> out;
  for (const char* shard : {"1/2", "2/2", "1/3"}) {
    out[shard] = temp_path(std::string("merge_refusal_") + shard[0] + "_" + shard[2]);
    fs::remove_all(out[shard]);
    ASSERT_EQ(run_shell(common + " --shard " + shard + " --output " + out[shard].string()).exit_code, 0);
  }
  const fs::path target = temp_path("merge_refusal_target");
  const auto merge = [&](const std::string& dirs) { return run_shell(kBin + " merge -o " + target.string() + " " + dirs); };
  const auto missing = merge(out["1/2"].string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("shard 2 of 2 is missing"), std::string::npos) << missing.err;
  const auto twice = merge(out["1/2"].string() + " " + out["1/2"].string() + " " + out["2/2"].string());
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("shard: given twice (shard 1 of 2)"), std::string::npos) << twice.err;
  const auto mixed = merge(out["1/2"].string() + " " + out["1/3"].string());
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_NE(mixed.err.find("shards: '3', but"), std::string::npos) << mixed.err;
  const auto not_a_shard = merge(dir.string());
  EXPECT_EQ(not_a_shard.exit_code, 2);
  EXPECT_NE(not_a_shard.err.find("not a shard's results (no gradverify-shard/manifest.json)"), std::string::npos) << not_a_shard.err;
  // A tampered manifest can't make merge copy from, or write to, outside the folders.
  const fs::path tampered = temp_path("merge_refusal_tampered");
  fs::remove_all(tampered);
  fs::copy(out["1/2"], tampered, fs::copy_options::recursive);
  const fs::path manifest_path = tampered / "gradverify-shard/manifest.json";
  json manifest = json::parse(slurp(manifest_path.string()));
  const std::string first_student = manifest["students"][0];
  manifest["students"][0] = "../../escape";
  std::ofstream(manifest_path) << manifest.dump();
  const auto escape = merge(tampered.string() + " " + out["2/2"].string());
  EXPECT_EQ(escape.exit_code, 2);
  EXPECT_NE(escape.err.find("students: '../../escape' is not a folder name"), std::string::npos) << escape.err;
  // Nor follow a symlink put in place of a student's results.
  manifest["students"][0] = first_student;
  std::ofstream(manifest_path) << manifest.dump();
  fs::remove(tampered / (first_student + ".json"));
  fs::create_symlink("/etc/hostname", tampered / (first_student + ".json"));
  const auto linked = merge(tampered.string() + " " + out["2/2"].string());
  EXPECT_EQ(linked.exit_code, 2);
  EXPECT_NE(linked.err.find("not a regular file"), std::string::npos) << linked.err;
  EXPECT_FALSE(fs::exists(target / "summary.csv")) << "nothing written when refused";
  // More shards than students: the last is empty, and is graded (nothing) like any other.
  const fs::path empty = temp_path("merge_refusal_empty_shard");
  fs::remove_all(empty);
  const auto none = run_shell(common + " --shard 4/4 --output " + empty.string());
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(json::parse(slurp((empty / "gradverify-shard/manifest.json").string()))["students"].empty());
  const auto bad = run_shell(common + " --shard 4/3 --output " + target.string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--shard: expected K/N with 1 <= K <= N"), std::string::npos) << bad.err;
}

// One student's folder that can't be copied (300 MB, sparse) costs that student's cases, with
// the reason, and not the class; a classmate in a folder named with terminal codes is graded,
// and the codes reach neither the progress line nor summary.csv.
TEST(GradingClass, AFolderThatCannotBeCopiedCostsOnlyItsStudent) {
  namespace fs = std::filesystem;
  const fs::path dir = temp_path("class_one_bad");
  fs::remove_all(dir);
  const std::string odd = "odd\x1b[2J";
  for (const std::string& name : std::vector<std::string>{"alice", "huge", odd}) {
    fs::create_directories(dir / name);
    fs::copy_file(kSubmission + "/student_runner_solution", dir / name / "runner");
  }
  std::ofstream(dir / "huge/sparse").close();
  ASSERT_EQ(truncate((dir / "huge/sparse").c_str(), off_t{300} << 20), 0);
  const fs::path out = temp_path("class_one_bad_results");
  fs::remove_all(out);
  const auto run = run_shell(kBin + " grade --rubric " + small_rubric() + " --submissions " + dir.string() +
                             " --submission-cmd ./runner --format json --output " + out.string());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(json::parse(slurp((out / "alice.json").string()))["score"], 3);
  const json huge = json::parse(slurp((out / "huge.json").string()));
  EXPECT_EQ(huge["score"], 0);
  EXPECT_NE(huge["cases"][0]["failure"].get<std::string>().find("holds more than 256 MiB"), std::string::npos)
      << huge["cases"][0]["failure"];
  EXPECT_EQ(json::parse(slurp((out / (odd + ".json")).string()))["score"], 3);
  const std::string csv = slurp((out / "summary.csv").string());
  EXPECT_EQ(csv.find('\x1b'), std::string::npos) << csv;
  EXPECT_NE(csv.find("odd\\x1b[2J,3"), std::string::npos) << csv;
  EXPECT_EQ(run.err.find('\x1b'), std::string::npos) << "the progress line";
}

// As root, a rename onto /dev/null would replace the device with a regular file.
TEST(GradingOutputs, ADeviceAsTheOutputIsWrittenInPlace) {
  const auto run = run_shell(kGrade + " -q --rubric " + small_rubric() + " --format json --output /dev/null " +
                             "--submission-cmd " + kSolution);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  struct stat st {};
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null is still a device";
  const auto to_stdout = run_shell(kGrade + " -q --rubric " + small_rubric() + " --format json --output /dev/stdout " +
                                   "--submission-cmd " + kSolution);
  EXPECT_EQ(to_stdout.exit_code, 0) << to_stdout.err;
  EXPECT_EQ(json::parse(to_stdout.out.substr(0, to_stdout.out.rfind("gradverify:")))["score"], 3);
}

}  // namespace
}  // namespace gradverify
