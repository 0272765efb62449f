// The Python student kit (src/student_kit_python), graded through the binary as a course
// grades it: the solution scores full marks and the skeleton 0, in a .py and in a notebook;
// a planted bug loses points; cells that train, plot or print are never run.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gradverify/grading/rubric.h"
#include "support/run_command.h"

namespace gradverify {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_shell;
using testing::slurp;
using testing::temp_path;

const std::string kBin = GRADVERIFY_BIN;
const std::string kKit = GRADVERIFY_TEST_PYTHON_KIT;

// A copy of the kit a test may add files to.
fs::path kit_copy(const std::string& name) {
  const fs::path dir = temp_path("python_kit_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::copy(kKit, dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                           fs::perms::others_exec);
  return dir;
}

json grade(const fs::path& dir, const std::string& submission, const std::string& rubric = "builtin:lab") {
  const std::string out = (dir / "results.json").string();
  const auto run = run_shell(kBin + " grade -q --format json --submission-dir " + dir.string() + " --rubric " +
                             rubric + " --submission-cmd 'python3 runner.py " + submission + "' --output " + out);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  fs::remove(dir / "results.json.tmp");
  return json::parse(slurp(out));
}

json notebook(const fs::path& path) { return json::parse(slurp(path.string())); }

void add_code_cell(json& nb, const std::string& source) {
  nb["cells"].push_back({{"cell_type", "code"}, {"execution_count", nullptr}, {"metadata", json::object()},
                         {"outputs", json::array()}, {"source", source}});
}

double max_score(const std::string& rubric = "lab") { return builtin_rubric(rubric).max_score(); }

// Both built-in rubrics: the first lab's, and the next lab's (softmax, leaky ReLU, weight decay).
class PythonKitOnRubric : public ::testing::TestWithParam<std::string> {};

TEST_P(PythonKitOnRubric, TheSolutionScoresFullMarksAndTheSkeletonZeroInAPyAndInANotebook) {
  const fs::path dir = kit_copy("py_" + GetParam());
  const std::string rubric = "builtin:" + GetParam();
  EXPECT_EQ(grade(dir, "solution.py", rubric)["score"].get<double>(), max_score(GetParam()));
  for (const char* skeleton_file : {"backprop.py", "backprop.ipynb"}) {
    const json skeleton = grade(dir, skeleton_file, rubric);
    EXPECT_EQ(skeleton["score"].get<double>(), 0) << skeleton_file;
    for (const auto& c : skeleton["cases"]) EXPECT_EQ(c["failure"], "") << "it answered zeros: " << c["feedback"];
  }
  json nb = notebook(dir / "backprop.ipynb");
  add_code_cell(nb, slurp((dir / "solution.py").string()));
  std::ofstream(dir / "answered.ipynb") << nb.dump(1);
  EXPECT_EQ(grade(dir, "answered.ipynb", rubric)["score"].get<double>(), max_score(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Builtin, PythonKitOnRubric, ::testing::ValuesIn(builtin_rubric_names()),
                         [](const auto& test_info) { return test_info.param; });

// The next lab's mistakes, planted in the solution: each loses exactly the cases it touches, and
// the failing tensors are named with the mistake's own hint kind.
struct NextLabBug {
  std::string name, right, wrong;  // the solution's line, and what the student wrote instead
  std::vector<std::string> cases_lost;
  std::string kind;
};
void PrintTo(const NextLabBug& b, std::ostream* os) { *os << b.name; }
class PythonKitNextLabBug : public ::testing::TestWithParam<NextLabBug> {};

TEST_P(PythonKitNextLabBug, LosesExactlyItsCasesWithItsHintKind) {
  const NextLabBug& bug = GetParam();
  const fs::path dir = kit_copy("next_lab_" + bug.name);
  std::string solution = slurp((dir / "solution.py").string());
  ASSERT_NE(solution.find(bug.right), std::string::npos) << bug.right;
  solution.replace(solution.find(bug.right), bug.right.size(), bug.wrong);
  std::ofstream(dir / "buggy.py") << solution;
  const json r = grade(dir, "buggy.py", "builtin:multiclass");
  std::vector<std::string> lost;
  for (const auto& c : r["cases"]) {
    if (c["passed"].get<bool>()) continue;
    lost.push_back(c["name"]);
    for (const auto& t : c["tensors"]) {
      if (t["passed"].get<bool>()) continue;
      EXPECT_EQ(t["hint_kinds"], json::array({bug.kind})) << c["name"] << " " << t["name"] << ": " << t["hint"];
    }
  }
  EXPECT_EQ(lost, bug.cases_lost);
}

INSTANTIATE_TEST_SUITE_P(
    All, PythonKitNextLabBug,
    ::testing::Values(
        NextLabBug{"softmax_without_max_shift", "np.exp(logits - logits.max(axis=1, keepdims=True))", "np.exp(logits)",
                   {"Softmax cross-entropy backward, logits of ±1000"}, "softmax_without_max_shift"},
        NextLabBug{"softmax_onehot_not_subtracted", "(s * y.sum(axis=1, keepdims=True) - y)", "s",
                   {"Softmax cross-entropy backward", "Softmax cross-entropy backward, logits of ±1000",
                    "Softmax cross-entropy backward, float32 (hidden)", "MNIST-shaped net, 784-64-10",
                    "MNIST-shaped net with weight decay", "Leaky ReLU net with weight decay",
                    "Softmax net, float32 (hidden)"},
                   "softmax_onehot_not_subtracted"},
        NextLabBug{"weight_decay_doubled", "dW + weight_decay *", "dW + 2 * weight_decay *",
                   {"MNIST-shaped net with weight decay", "Leaky ReLU net with weight decay",
                    "Softmax net, float32 (hidden)"},
                   "weight_decay_doubled"},
        NextLabBug{"leaky_slope_forgotten", "np.where(z > 0, 1.0, negative_slope)", "(z > 0)",
                   {"Leaky ReLU backward", "Leaky ReLU backward, slope 0.2 (hidden)",
                    "Leaky ReLU net with weight decay"},
                   "leaky_slope_forgotten"},
        NextLabBug{"leaky_one_at_zero", "np.where(z > 0, 1.0, negative_slope)", "np.where(z >= 0, 1.0, negative_slope)",
                   {"Leaky ReLU backward", "Leaky ReLU backward, slope 0.2 (hidden)"}, "relu_grad_one_at_zero"},
        NextLabBug{"weight_decay_forgotten", "dW + weight_decay * params[\"W%d\" % k]", "dW",
                   {"MNIST-shaped net with weight decay", "Leaky ReLU net with weight decay",
                    "Softmax net, float32 (hidden)"},
                   "weight_decay_forgotten"},
        NextLabBug{"mean_over_classes", "/ logits.shape[0]", "/ logits.size",
                   {"Softmax cross-entropy backward", "Softmax cross-entropy backward, logits of ±1000",
                    "Softmax cross-entropy backward, float32 (hidden)", "MNIST-shaped net, 784-64-10",
                    "MNIST-shaped net with weight decay", "Leaky ReLU net with weight decay",
                    "Softmax net, float32 (hidden)"},
                   "cross_entropy_mean_over_classes"}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(PythonKit, ANextLabSubmissionWithoutTheFirstLabsLossesIsGradedOnTheNextLabsRubric) {
  // Only mlp_backward is required; what a case needs is looked up when it runs.
  const fs::path dir = kit_copy("next_lab_only");
  std::string solution = slurp((dir / "solution.py").string());
  for (const std::string f : {"def sigmoid_backward", "def mse_backward", "def bce_backward", "def bce_with_logits_backward"}) {
    const size_t at = solution.find(f);
    ASSERT_NE(at, std::string::npos) << f;
    solution.replace(at, 4, "def unused_");  // renamed away, as a student who never wrote it
  }
  for (const auto& [with, without] :
       {std::pair<std::string, std::string>{"\"sigmoid\": sigmoid_backward, ", ""},
        std::pair<std::string, std::string>{
            "\"mse\": mse_backward, \"bce\": bce_backward, \"bce_with_logits\": bce_with_logits_backward,", ""}}) {
    ASSERT_NE(solution.find(with), std::string::npos) << with;
    solution.replace(solution.find(with), with.size(), without);
  }
  std::ofstream(dir / "next_lab.py") << solution;
  EXPECT_EQ(grade(dir, "next_lab.py", "builtin:multiclass")["score"].get<double>(), max_score("multiclass"));
  const auto check = run_shell("cd " + dir.string() + " && /usr/bin/python3 runner.py --check next_lab.py");
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("defines mlp_backward, but not sigmoid_backward, mse_backward, bce_backward, "
                           "bce_with_logits_backward"),
            std::string::npos)
      << check.out;
  // On the first lab's rubric, the cases that need them say which is missing.
  const json first = grade(dir, "next_lab.py");
  for (const auto& c : first["cases"])
    if (c["name"] == "MSE backward") {
      EXPECT_NE(c["feedback"].get<std::string>().find("does not define mse_backward, which this case needs"),
                std::string::npos)
          << c["feedback"];
    }
}

TEST(PythonKit, ALeakyNetWhoseSlopeIsNotPassedOnSaysSoAndAMalformedReturnIsNamed) {
  const fs::path dir = kit_copy("slope_not_passed");
  std::string solution = slurp((dir / "solution.py").string());
  const std::string passed_on = "mlp_forward(params, activations, X, negative_slope)";
  ASSERT_NE(solution.find(passed_on), std::string::npos);
  solution.replace(solution.find(passed_on), passed_on.size(), "mlp_forward(params, activations, X)");
  std::ofstream(dir / "slope.py") << solution;
  for (const auto& c : grade(dir, "slope.py", "builtin:multiclass")["cases"]) {
    if (c["name"] != "Leaky ReLU net with weight decay") continue;
    EXPECT_FALSE(c["passed"].get<bool>());
    EXPECT_NE(c["feedback"].get<std::string>().find("leaky_relu needs its slope: pass mlp_backward's negative_slope "
                                                    "to mlp_forward"),
              std::string::npos)
        << c["feedback"];
  }
  // A function that returns nothing, or a tuple where one array belongs: named, not a traceback.
  std::string none = slurp((dir / "solution.py").string());
  const std::string ce_return = "return (s * y.sum(axis=1, keepdims=True) - y) / logits.shape[0]";
  ASSERT_NE(none.find(ce_return), std::string::npos);
  std::string tuple = none;
  none.replace(none.find(ce_return), ce_return.size(), "(s - y) / logits.shape[0]");
  tuple.replace(tuple.find(ce_return), ce_return.size(), "return 0.0, (s - y) / logits.shape[0]");
  std::ofstream(dir / "none.py") << none;
  std::ofstream(dir / "tuple.py") << tuple;
  for (const auto& [file, message] : {std::pair{"none.py", "dlogits is None: the function that computes it returned "
                                                           "nothing (a missing return?)"},
                                      std::pair{"tuple.py", "dlogits is a tuple, not an array of numbers"}}) {
    const json r = grade(dir, file, "builtin:multiclass");
    for (const auto& c : r["cases"])
      if (c["name"] == "Softmax cross-entropy backward") {
        EXPECT_NE(c["feedback"].get<std::string>().find(message), std::string::npos) << file << ": " << c["feedback"];
        EXPECT_EQ(c["feedback"].get<std::string>().find("Traceback"), std::string::npos) << c["feedback"];
      }
  }
}

TEST(PythonKit, APlantedBugLosesTheCasesItTouchesOnly) {
  // db averaged instead of summed: the linear op and every net case, nothing else.
  const fs::path dir = kit_copy("bug");
  std::string solution = slurp((dir / "solution.py").string());
  const std::string sum = "dz.sum(axis=0)";
  ASSERT_NE(solution.find(sum), std::string::npos);
  solution.replace(solution.find(sum), sum.size(), "dz.mean(axis=0)");
  std::ofstream(dir / "buggy.py") << solution;
  const json r = grade(dir, "buggy.py");
  EXPECT_GT(r["score"].get<double>(), 0);
  EXPECT_LT(r["score"].get<double>(), max_score());
  for (const auto& c : r["cases"]) {
    const std::string description = c["description"];
    const bool touched = description.rfind("linear", 0) == 0 || c["tags"][0] == "net";
    EXPECT_EQ(c["passed"].get<bool>(), !touched) << c["name"];
  }
}

TEST(PythonKit, ANotebookIsGradedFromItsDefinitionsAloneWithItsOtherCellsNeverRun) {
  const fs::path dir = kit_copy("notebook");
  EXPECT_EQ(grade(dir, "backprop.ipynb")["score"].get<double>(), 0) << "the handed-out notebook is the skeleton";
  json nb = notebook(dir / "backprop.ipynb");
  // The student's answers in a later cell, then cells the grader must leave out: any of them,
  // run, would fail every case (stdout is the answer) or take longer than its timeout.
  add_code_cell(nb, slurp((dir / "solution.py").string()));
  add_code_cell(nb, "print('training...')\nimport time\ntime.sleep(120)\n");
  add_code_cell(nb, "raise RuntimeError('a cell that is not a definition ran')\n");
  add_code_cell(nb, "open('cell_ran', 'w').write('yes')\nlosses = [step for step in range(10**9)]\n");
  add_code_cell(nb, "!pip install torch\n%timeit relu_backward(1, 2)\n");
  add_code_cell(nb, "class Trainer:\n    for epoch in range(3):\n        print('epoch', epoch)\n    rate = 0.1\n");
  std::ofstream(dir / "answered.ipynb") << nb.dump(1);
  const json r = grade(dir, "answered.ipynb");
  EXPECT_EQ(r["score"].get<double>(), max_score()) << r["cases"][0]["feedback"];
  EXPECT_FALSE(fs::exists(dir / "cell_ran"));
}

TEST(PythonKit, ASubmissionThatImportsItselfIsStillGradedFromItsDefinitions) {
  // `import selfimport` would run the whole file, top-level prints included: it is left out.
  const fs::path dir = kit_copy("self_import");
  std::ofstream(dir / "selfimport.py") << slurp((dir / "solution.py").string())
                                       << "\nimport selfimport\nprint('the top level ran')\n";
  EXPECT_EQ(grade(dir, "selfimport.py")["score"].get<double>(), max_score());
}

struct Broken {
  std::string name, source, message;
};
void PrintTo(const Broken& b, std::ostream* os) { *os << b.name; }
class BrokenNotebook : public ::testing::TestWithParam<Broken> {};

TEST_P(BrokenNotebook, TheCheckNamesTheCellAndWhatIsWrong) {
  const fs::path dir = kit_copy("broken_" + GetParam().name);
  json nb = notebook(dir / "backprop.ipynb");
  if (GetParam().name == "missing_function") {
    for (auto& cell : nb["cells"]) {
      std::string source;
      for (const auto& line : cell["source"]) source += line.get<std::string>();
      if (source.find("def mlp_backward") != std::string::npos) cell["source"] = "# deleted\n";
    }
  } else {
    add_code_cell(nb, GetParam().source);
  }
  std::ofstream(dir / "broken.ipynb") << (GetParam().name == "not_json" ? std::string("{not json") : nb.dump(1));
  // The system Python, which has python3-numpy (as the grader's sandbox runs it).
  const auto run = run_shell("cd " + dir.string() + " && /usr/bin/python3 runner.py --check broken.ipynb");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(GetParam().message), std::string::npos) << run.err;
}

INSTANTIATE_TEST_SUITE_P(
    All, BrokenNotebook,
    ::testing::Values(Broken{"syntax", "def relu_backward(z, dh)\n    return dh\n",
                             "broken.ipynb, code cell 8: line 1: "},
                      Broken{"missing_function", "", "does not define mlp_backward"},
                      Broken{"not_json", "", "broken.ipynb is not a Jupyter notebook"}),
    [](const ::testing::TestParamInfo<Broken>& broken) { return broken.param.name; });

}  // namespace
}  // namespace gradverify
