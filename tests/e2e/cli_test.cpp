// The gradverify binary as a user meets it: exit codes, messages, and the file interface.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <regex>
#include <set>

#include "gradverify/problem/gradients_file.h"
#include "gradverify/problem/problem.h"
#include "gradverify/problem/problem_file.h"
#include "support/run_command.h"

namespace gradverify {
namespace {

using CliRun = testing::CommandRun;
using testing::run_shell;
using testing::slurp;
using testing::temp_path;
using testing::write_temp;

// A number as Python prints a float that round(4) left: shortest digits, no trailing zeros.
std::string fmt_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

CliRun gradverify(const std::string& args) { return run_shell(std::string(GRADVERIFY_BIN) + " " + args); }

// The binary with its LibTorch plug-in path broken: whatever still works never loaded
// LibTorch (a process that tried would fail with exit 4).
CliRun gradverify_without_torch(const std::string& args) {
  return run_shell(std::string("env GRADVERIFY_TORCH_BACKEND=/nonexistent/libgradverify_torch_backend.so ") +
                   GRADVERIFY_BIN + " " + args);
}

// `script` gives the command a terminal, as a user's shell does; the rest of the suite pipes.
CliRun on_a_terminal(const std::string& env, const std::string& args) {
  return run_shell("script -qec '" + env + " " + std::string(GRADVERIFY_BIN) + " " + args + "' /dev/null");
}

bool coloured(const std::string& text) { return text.find("\033[") != std::string::npos; }



std::set<std::string> failed_in_json(const std::string& report) {
  std::set<std::string> failed;
  const auto doc = nlohmann::json::parse(report);  // named: a temporary would die before the loop
  for (const auto& p : doc["parameters"])
    if (!p["passed"].get<bool>()) failed.insert(p["name"].get<std::string>());
  return failed;
}

TEST(Cli, DefaultCheckIsTheLabsNetAndPasses) {
  const CliRun r = gradverify("check");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2-4-3-2-1  relu,relu,relu,sigmoid  loss mse  float64"), std::string::npos) << r.out;
  for (const char* name : {"W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"}) {
    const auto row = r.out.find(std::string("\n  ") + name + " ");
    ASSERT_NE(row, std::string::npos) << name << "\n" << r.out;
    const std::string line = r.out.substr(row + 1, r.out.find('\n', row + 1) - row - 1);
    EXPECT_EQ(line.substr(line.size() - 2), "ok") << line;
  }
  EXPECT_NE(r.out.find("PASS: all 16 gradients match LibTorch"), std::string::npos) << r.out;
}

TEST(Cli, TheNotebooksSeed42IsVacuousNotAPass) {
  // The notebook's np.random.seed(42): its printed predictions and loss, and why its own
  // gradient check proved nothing: a dead layer, and every parameter gradient vacuous.
  const CliRun r = gradverify("check --init numpy --seed 42");
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("output   LibTorch [0.5, 0.5, 0.5, 0.5]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loss     under test 0.25, LibTorch 0.25"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(all 8 parameter gradients)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("VACUOUS: nothing differs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layer 2: 3 of 3"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
}

TEST(Cli, JsonReportHasTheDocumentedFields) {
  const CliRun r = gradverify("check --dtype float32 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_TRUE(doc["passed"].get<bool>());
  EXPECT_EQ(doc["verdict"], "pass");
  EXPECT_EQ(doc["dtype"], "float32");
  ASSERT_EQ(doc["parameters"].size(), 8u);
  const auto& w1 = doc["parameters"][0];
  EXPECT_EQ(w1["name"], "W1");
  EXPECT_EQ(w1["shape"], nlohmann::json({2, 4}));
  for (const char* field : {"passed", "max_abs_diff", "max_rel_diff", "worst_index", "vacuous", "message"})
    EXPECT_TRUE(w1.contains(field)) << field;
  EXPECT_EQ(doc["intermediates"].size(), 8u);
  EXPECT_TRUE(doc["first_divergence"].is_null());
  EXPECT_EQ(doc["finite_differences"]["mode"], "elements");  // auto: the lab's net is small
  EXPECT_EQ(doc["finite_differences"]["reference_disagreements"], 0);
}

TEST(Cli, FiniteDifferencesModes) {
  const auto fd = [](const std::string& args) {
    const CliRun r = gradverify("check --format json " + args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return nlohmann::json::parse(r.out)["finite_differences"];
  };
  EXPECT_TRUE(fd("--finite-differences off").is_null());
  const auto direction = fd("--finite-differences direction --layers 3,8,2 --data random:5");
  EXPECT_EQ(direction["mode"], "direction");
  EXPECT_TRUE(direction["direction"]["reference_agrees"].get<bool>());
  EXPECT_TRUE(direction["direction"]["actual_agrees"].get<bool>());
  const CliRun table = gradverify("check --finite-differences direction");
  EXPECT_NE(table.out.find("finite differences (float64 loss) along one random direction"), std::string::npos)
      << table.out;
}

TEST(Cli, PerElementFiniteDifferencesOnABigNetAreRefusedBeforeAnyWork) {
  const CliRun r = gradverify("check --finite-differences elements --layers 1000,998,1 --data random:64");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--finite-differences: per-element finite differences on 1000-998-1 with a batch of 64 would "
                       "take about"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--force-finite-differences"), std::string::npos) << r.err;
}

TEST(CliTrain, LearnsXorInLockstepWithBothOptimizers) {
  for (const std::string optimizer : {"sgd", "adam"}) {
    const CliRun r = gradverify("train --format json --optimizer " + optimizer);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_TRUE(doc["lockstep"].get<bool>());
    EXPECT_EQ(doc["seed"], 1);
    EXPECT_EQ(doc["curve"].size(), 2000u);
    EXPECT_TRUE(doc["final"]["reached_target"].get<bool>()) << doc["final"];
    EXPECT_LT(doc["final"]["manual_loss"].get<double>(), 0.01);
    EXPECT_LE(doc["final"]["max_drift"]["difference"].get<double>(), doc["drift_tolerance"].get<double>());
    EXPECT_TRUE(doc["departure"].is_null());
  }
}

TEST(CliTrain, TrainsTheNextLabsSoftmaxNetWithWeightDecayInLockstep) {
  // Cross-entropy over leaky ReLU, with the penalty: both sides descend the same loss, so the
  // drift stays at rounding, and the loss falls (to the penalty's floor, not to 0).
  for (const std::string optimizer : {"sgd", "adam"}) {
    SCOPED_TRACE(optimizer);
    const CliRun r = gradverify("train --format json --layers 4,16,3 --activations leaky_relu:0.1,identity --loss "
                                "cross_entropy --weight-decay 1e-3 --data random:32 --steps 300 --lr " +
                                std::string(optimizer == "sgd" ? "0.5" : "0.01") + " --optimizer " + optimizer);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_TRUE(doc["lockstep"].get<bool>());
    EXPECT_LE(doc["final"]["max_drift"]["difference"].get<double>(), doc["drift_tolerance"].get<double>());
    EXPECT_LT(doc["final"]["manual_loss"].get<double>(), doc["curve"][0]["manual_loss"].get<double>() / 4)
        << doc["final"];
  }
}

bool is_png(const std::string& path) { return slurp(path).rfind("\x89PNG\r\n\x1a\n", 0) == 0; }

TEST(CliTrain, TheHeadlineClaimsLockstepButNotLearningWhenTheLossMissedItsTarget) {
  const CliRun slow = gradverify("train --lr 0.001 --steps 20");
  EXPECT_EQ(slow.exit_code, 0) << slow.err;
  EXPECT_NE(slow.out.find("PASS: the manual MLP and LibTorch trained in lockstep for 20 steps, but the loss did not "
                          "reach the target 0.01: try another --lr or more --steps\n"),
            std::string::npos)
      << slow.out;
  // Diverging: no "drift at most nan", which would read as a measurement.
  const CliRun wild = gradverify("train --layers 2,8,1 --activations identity --lr 1000 --steps 200");
  EXPECT_EQ(wild.out.find("at most nan"), std::string::npos) << wild.out;
  EXPECT_NE(wild.out.find("FAIL: the loss became NaN or Inf at step"), std::string::npos) << wild.out;
}

TEST(CliTrain, ShowsProgressWhileItWorksAsPlainLinesIntoALog) {
  const CliRun r = gradverify("train --steps 500 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 10) << r.err;
  EXPECT_EQ(r.err.rfind("train: step 50/500, loss ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("train: step 500/500, loss "), std::string::npos) << r.err;
  EXPECT_EQ(gradverify("train --steps 50 -q").err, "");
  const CliRun terminal = on_a_terminal("TERM=xterm", "train --steps 300 -o /dev/null");
  EXPECT_NE(terminal.out.find("\rtrain: step 300/300"), std::string::npos) << terminal.out;
}

TEST(CliTrain, WritesBothPlotsAsPngWithTheirDataAndScripts) {
  const std::string dir = temp_path("plots_" + std::to_string(getpid()));
  const CliRun r = gradverify("train --steps 300 --plots " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* name : {"training_curve", "loss_landscape"}) {
    EXPECT_TRUE(is_png(dir + "/" + name + ".png")) << name << "\n" << r.out;
    EXPECT_NE(slurp(dir + "/" + name + ".csv"), "") << name;
    EXPECT_NE(slurp(dir + "/" + name + ".gp").find("set output"), std::string::npos) << name;
    EXPECT_NE(r.out.find(std::string("wrote ") + dir + "/" + name + ".png"), std::string::npos) << r.out;
  }
  // 300 steps, one row each, after the header.
  const std::string curve = slurp(dir + "/training_curve.csv");
  EXPECT_EQ(std::count(curve.begin(), curve.end(), '\n'), 301);
}

TEST(CliTrain, PlotScriptsSurviveAQuoteInTheirPathAndRunFromAnyDirectory) {
  namespace fs = std::filesystem;
  const std::string dir = temp_path("it's plots " + std::to_string(getpid()));
  fs::remove_all(dir);
  const CliRun r = gradverify("train --steps 50 -q --landscape-resolution 5 --plots \"" + dir + "\"");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(is_png(dir + "/training_curve.png")) << r.out;
  // The script names its files absolutely: run from elsewhere, it draws the same picture.
  fs::remove(dir + "/training_curve.png");
  const auto again = run_shell("cd / && gnuplot \"" + dir + "/training_curve.gp\"");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(is_png(dir + "/training_curve.png"));
  fs::remove_all(dir);
}

TEST(CliTrain, AGnuplotFailureQuotesGnuplotsOwnError) {
  namespace fs = std::filesystem;
  const std::string dir = temp_path("plots_blocked_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir + "/training_curve.png");  // where the picture must go
  const CliRun r = gradverify("train --steps 20 -q --landscape-resolution 5 --plots " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("gnuplot failed on " + dir + "/training_curve.gp: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot open file"), std::string::npos) << "gnuplot's words\n" << r.out;
  EXPECT_NE(r.out.find("the data is in " + dir + "/training_curve.csv"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(CliTrain, WithoutGnuplotTheDataIsStillWrittenAndTheMessageSaysHowToPlot) {
  const std::string dir = temp_path("plots_nognuplot_" + std::to_string(getpid()));
  const std::string command = std::string("PATH=/nonexistent ") + GRADVERIFY_BIN + " train --steps 50 --landscape-resolution 5 --plots " + dir;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  EXPECT_EQ(WEXITSTATUS(pclose(pipe)), 0) << out;
  EXPECT_NE(out.find("gnuplot is not installed (apt-get install gnuplot-nox); the data is in " + dir +
                     "/training_curve.csv, plot it with: gnuplot " + dir + "/training_curve.gp"),
            std::string::npos)
      << out;
  EXPECT_NE(slurp(dir + "/loss_landscape.csv"), "");
}

TEST(CliTrain, BadSettingsAreUsageErrors) {
  for (const auto& [args, message] :
       {std::pair{"train --lr -1", "gradverify: error: train: --lr: expected a number > 0, got '-1'\n"},
        std::pair{"train --momentum 1", "momentum: expected a momentum in [0, 1)"},
        std::pair{"train --optimizer rmsprop", "--optimizer"},
        std::pair{"train --steps 0", "--steps"},
        std::pair{"train --plots /proc/no/such/dir", "cannot create the plot directory"}}) {
    const CliRun r = gradverify(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
  }
}

TEST(CliTrain, ALearningRateThatBlowsUpFailsWithAClearMessage) {
  const CliRun r = gradverify("train --layers 3,4,1 --activations identity --data random:8 --lr 1000");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL: the loss became NaN or Inf at step"), std::string::npos) << r.out;
}

nlohmann::json notebook_values() {
  std::ifstream in(std::string(GRADVERIFY_TEST_DATA) + "/numpy/lab_values.json");
  return nlohmann::json::parse(in);
}

TEST(CliLab, NeuronPrintsTheNotebooksStepsAndVerifiesThem) {
  const CliRun r = gradverify("neuron");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* line : {"z = w·x + b = 0.5·2 + 0.1 = 1.1", "ŷ = relu(z) = relu(1.1) = 1.1",
                           "L = (ŷ - y)² = (1.1 - 1)² = 0.01", "∂L/∂ŷ = 2(ŷ - y) = 2(1.1 - 1) = 0.2",
                           "∂L/∂w = ∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂w = 0.2 × 1 × 2 = 0.4",
                           "∂L/∂b = ∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂b = 0.2 × 1 × 1 = 0.2", "PASS: ∂L/∂w and ∂L/∂b match LibTorch"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;

  // Every value, as numpy computed it from the notebook's code.
  const auto expected = notebook_values()["neuron"];
  const CliRun j = gradverify("neuron --format json");
  ASSERT_EQ(j.exit_code, 0) << j.out << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  for (const char* key : {"z", "y_hat", "loss", "dL_dy_hat", "dL_dw", "dL_db"})
    EXPECT_DOUBLE_EQ(doc[key].get<double>(), expected[key].get<double>()) << key;
  EXPECT_DOUBLE_EQ(doc["libtorch"]["dL_dw"].get<double>(), expected["dL_dw"].get<double>());
}

TEST(CliLab, ADeadNeuronIsVacuousAndOtherSettingsVerify) {
  const CliRun dead = gradverify("neuron --w -1");
  EXPECT_EQ(dead.exit_code, 3) << dead.out;
  EXPECT_NE(dead.out.find("VACUOUS: both gradients are exactly 0"), std::string::npos) << dead.out;
  for (const std::string args : {"--dtype float32", "--activation sigmoid --dtype float32", "--activation tanh --x -3",
                                 "--activation identity --y 5"}) {
    const CliRun r = gradverify("neuron " + args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.out << r.err;
  }
}

TEST(CliLab, BcePrintsTheNotebooksValuesAndTheDerivationChecked) {
  const auto expected = notebook_values()["bce"];
  const auto list = [](const nlohmann::json& values) {
    std::string s;
    for (const auto& v : values) s += (s.empty() ? "" : ", ") + fmt_g(v.get<double>());
    return "[" + s + "]";
  };
  const CliRun r = gradverify("bce");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ŷ = σ(z)       " + list(expected["predictions_printed"])), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BCE            " + list(expected["losses_printed"])), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mean BCE       " + expected["mean_printed"].get<std::string>()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("full chain rule   " + list(expected["grad_full_printed"])), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("simplified ŷ - y  " + list(expected["grad_simple_printed"])), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("= -y(1-ŷ) + (1-y)ŷ = -y + yŷ + ŷ - yŷ = ŷ - y"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-log P = -[y·log(ŷ) + (1-y)·log(1-ŷ)] = BCE"), std::string::npos) << r.out;

  const CliRun j = gradverify("bce --format json --dtype float32");
  ASSERT_EQ(j.exit_code, 0) << j.out << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_TRUE(doc["passed"].get<bool>());
  EXPECT_EQ(doc["checks"].size(), 6u);
}

TEST(CliLab, SoftmaxDerivesSMinusOneHotAndAgreesWithLibTorch) {
  // The softmax of CS231n's example logits, computed here the plain way.
  const double e[] = {std::exp(2.0), std::exp(1.0), std::exp(0.1)};
  const double sum = e[0] + e[1] + e[2];
  const auto rounded = [](double v) { return fmt_g(std::round(v * 1e4) / 1e4 + 0.0); };
  const CliRun r = gradverify("softmax");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("s = softmax(z)    [" + rounded(e[0] / sum) + ", " + rounded(e[1] / sum) + ", " +
                       rounded(e[2] / sum) + "]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fused s - onehot  [" + rounded(e[0] / sum - 1) + ", " + rounded(e[1] / sum) + ", " +
                       rounded(e[2] / sum) + "]"), std::string::npos) << r.out;
  char loss[32];
  std::snprintf(loss, sizeof loss, "%.4f", -std::log(e[0] / sum));
  EXPECT_NE(r.out.find(std::string("CE = -log s_y     ") + loss), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("= -(1/s_y) · s_y([i=y] - s_i) = s_i - [i=y]"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("note:"), std::string::npos) << r.out;

  // Logits of 1000: the stable forms stay exact on both sides; the chain rule through s_y = 0
  // can't (a finding, with its reason), and an unshifted softmax would overflow (said).
  const CliRun big = gradverify("softmax --logits 1000,-1000,0 --label 1 --dtype float32");
  EXPECT_EQ(big.exit_code, 1) << big.out << big.err;
  EXPECT_NE(big.out.find("s - onehot vs LibTorch               max |diff| 0.000e+00  ok"), std::string::npos) << big.out;
  EXPECT_NE(big.out.find("note: here e^(max z) overflows the dtype"), std::string::npos) << big.out;
  EXPECT_NE(big.out.find("note: s_y underflows to 0 here"), std::string::npos) << big.out;
  // Its own class at 1000: the loss and every gradient are exactly 0 on both sides, which
  // proves nothing about the gradient: vacuous (exit 3), never a pass.
  const CliRun json = gradverify("softmax --logits 1000,-1000,0 --label 0 --dtype float32 --format json");
  ASSERT_EQ(json.exit_code, 3) << json.out << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_FALSE(doc["passed"].get<bool>());
  EXPECT_EQ(doc["verdict"], "vacuous");
  EXPECT_TRUE(doc["unshifted_softmax_overflows"].get<bool>());
  EXPECT_EQ(doc["checks"].size(), 4u);
  EXPECT_EQ(doc["cross_entropy"].get<double>(), 0);
  EXPECT_EQ(doc["grad_fused"], nlohmann::json::parse("[0.0, 0.0, 0.0]"));
  const CliRun shifted = gradverify("softmax --logits 1000,999,0 --label 0 --format json");
  ASSERT_EQ(shifted.exit_code, 0) << shifted.out << shifted.err;  // the same size of logits, not degenerate
  EXPECT_EQ(nlohmann::json::parse(shifted.out)["verdict"], "pass");
}

TEST(CliLab, SaturatedBceIsAFindingWithItsReason) {
  const CliRun r = gradverify("bce --labels 1,0 --logits 30,30");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("note: some ŷ are saturated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ŷ - y vs LibTorch BCE-with-logits    max |diff| 0.000e+00  ok"), std::string::npos) << r.out;
}

TEST(Cli, OutputGoesToTheFileAndASummaryToStdout) {
  const std::string path = temp_path("report.json");
  std::remove(path.c_str());
  const CliRun r = gradverify("check --format json --output " + path);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("report written to " + path), std::string::npos) << r.out;
  EXPECT_TRUE(nlohmann::json::parse(slurp(path))["passed"].get<bool>());
}

TEST(Cli, OtherNetsDataAndDtypesFromOptions) {
  for (const std::string args :
       {"--layers 3,8,8,2 --activations tanh,sigmoid,identity --loss bce_with_logits --data random:12 --seed 5",
        "--layers 4,6,1 --loss bce --dtype float32 --init xavier --seed 9",
        "--layers 2,5,1 --activations tanh --data random:3"}) {
    const CliRun r = gradverify("check " + args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.out << r.err;
  }
}

TEST(Cli, CsvData) {
  const std::string csv = write_temp("data.csv", "x1,x2,y\n0.5,-1,0.25\n2,0.125,-1\n-0.5,0.5,0\n");
  const CliRun r = gradverify("check --layers 2,3,1 --activations tanh,identity --data " + csv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(csv + ", batch 3"), std::string::npos) << r.out;
}

TEST(Cli, HelpExplainsTheCheckAndItsExitCodes) {
  const CliRun r = gradverify("check --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"--problem", "--gradients", "|a - b| <= atol + rtol * |b|", "float64 rtol 1e-7", "VACUOUS",
                           "Exit status", "--save-problem"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text;
  EXPECT_EQ(gradverify("--version").out, "gradverify 0.2.0\n");
}

struct UsageError {
  std::string name, args, message;
};
void PrintTo(const UsageError& c, std::ostream* os) { *os << c.name; }
class CliUsageError : public ::testing::TestWithParam<UsageError> {};

// Every usage error is found before LibTorch loads, so it costs milliseconds.

TEST_P(CliUsageError, ExitsTwoWithOneClearLine) {
  const CliRun r = gradverify_without_torch(GetParam().args);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
  // One voice: one line, with the prefix, whoever found the mistake (CLI11 or gradverify).
  EXPECT_EQ(r.err.rfind("gradverify: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.out, "") << "errors go to stderr";
}

INSTANTIATE_TEST_SUITE_P(
    All, CliUsageError,
    ::testing::Values(
        UsageError{"unknown_command", "chekc",
                   "gradverify: error: unknown command 'chekc' (did you mean check?); the commands are check, train, "
                   "neuron, bce, softmax, grade, references, merge, report, autograder-bundle, bench\n"},
        UsageError{"help_unknown_command", "help grde", "gradverify: error: unknown command 'grde' (did you mean grade?)"},
        UsageError{"unknown_option", "check --frobnicate", "gradverify: error: check: unknown option --frobnicate\n"},
        UsageError{"near_miss_option", "check --layer 2,1", "gradverify: error: check: unknown option --layer; did you mean --layers?\n"},
        UsageError{"positional_argument", "train extra",
                   "gradverify: error: train: unexpected argument 'extra': train takes options only (see --help)\n"},
        UsageError{"value_missing", "check --layers", "gradverify: error: check: --layers: expected a value after it\n"},
        UsageError{"negative_tolerance", "check --rtol -1", "gradverify: error: check: --rtol: expected a number ≥ 0, got '-1'\n"},
        UsageError{"tolerance_not_a_number", "check --rtol abc",
                   "gradverify: error: check: --rtol: expected a number ≥ 0, got 'abc'\n"},
        UsageError{"seed_not_whole", "check --seed 1.5",
                   "gradverify: error: check: --seed: expected a whole number from 0 to 4294967295, got '1.5'\n"},
        UsageError{"timeout_out_of_range", "grade --submission-cmd true --timeout 0",
                   "gradverify: error: grade: --timeout: expected a number from 0.1 to 3600, got '0'\n"},
        UsageError{"near_miss_choice", "check --format jsn",
                   "gradverify: error: check: --format: expected one of table, json, got 'jsn'; did you mean json?\n"},
        UsageError{"directory_for_a_file", "check --problem /tmp",
                   "gradverify: error: check: --problem: expected a file, got the directory '/tmp'\n"},
        UsageError{"too_many_parameters", "check --layers 2,60000,60000,1",
                   "command line: layers: 2-60000-60000-1 has 3600300001 parameters; at most 67108864 are accepted"},
        UsageError{"batch_too_large", "check --layers 100,60000,1 --data random:1200",
                   "--data random:1200: X: a batch of 1200 through 100-60000-1 needs more than 67108864 activations"},
        UsageError{"unknown_loss", "check --loss hinge", "--loss: unknown loss 'hinge'; expected one of mse, bce, bce_with_logits"},
        UsageError{"bad_layers", "check --layers 2,x,1", "--layers: expected comma-separated integer widths"},
        UsageError{"unknown_activation", "check --activations relu,relu,softmax,sigmoid", "unknown activation 'softmax'"},
        UsageError{"wrong_activation_count", "check --activations relu,sigmoid", "activations: expected 4"},
        UsageError{"random_zero", "check --data random:0", "--data: expected random:N with N from 1"},
        UsageError{"negative_seed", "check --seed -1", "--seed"},
        UsageError{"missing_problem", "check --problem /nonexistent.json",
                   "gradverify: error: check: --problem: no such file: '/nonexistent.json'\n"},
        UsageError{"missing_csv", "check --data /nonexistent.csv", "/nonexistent.csv: cannot open the file for reading"},
        UsageError{"problem_with_layers", "check --problem /dev/null --layers 2,1",
                   "gradverify: error: check: --problem and --layers can't be given together\n"},
        UsageError{"bad_format", "check --format xml", "--format"},
        UsageError{"bad_finite_differences", "check --finite-differences sometimes", "--finite-differences"},
        UsageError{"neuron_nan", "neuron --x nan", "command line: X[0][0]: expected a finite number, got nan"},
        UsageError{"neuron_float32_range", "neuron --w 1e39 --dtype float32", "outside the float32 range"},
        UsageError{"neuron_activation", "neuron --activation softmax", "--activation"},
        UsageError{"bce_counts", "bce --labels 1,0,1 --logits 1,2", "--logits: expected one logit per label: 3 labels, 2 logits"},
        UsageError{"bce_label_range", "bce --labels 2 --logits 1", "needs targets in [0, 1], got 2"},
        UsageError{"bce_not_numbers", "bce --labels a --logits 1", "--labels: expected comma-separated numbers"},
        UsageError{"bce_empty", "bce --labels , --logits 1", "--labels"},
        UsageError{"softmax_one_logit", "softmax --logits 1", "--logits: expected at least 2 logits, one per class"},
        UsageError{"softmax_label_range", "softmax --label 3",
                   "--label: expected a class index, an integer from 0 to 2 (the last layer has 3 classes), got 3"},
        UsageError{"softmax_not_numbers", "softmax --logits 1,x", "--logits: expected comma-separated numbers"},
        UsageError{"bench_unknown_case", "bench --cases tiny,huge", "--cases: unknown 'huge'; expected some of mnist, softmax, tiny, wide"},
        UsageError{"bench_unknown_dtype", "bench --dtypes float16", "--dtypes: unknown 'float16'"},
        UsageError{"bench_zero_rounds", "bench --rounds 0", "--rounds"},
        UsageError{"grade_without_command", "grade", "--submission-cmd: required"},
        UsageError{"grade_class_without_output", "grade --submissions /tmp --submission-cmd ./run",
                   "--output: grading a class needs --output DIR"},
        UsageError{"grade_bad_format", "grade --submission-cmd true --format csv", "--format"},
        UsageError{"grade_rubric_not_json", "grade --submission-cmd true --rubric /dev/null", "/dev/null: not valid JSON"},
        // Each case copies the submission's directory: a system directory is refused, naming the option.
        UsageError{"grade_system_directory", "grade --submission-cmd true --submission-dir /usr",
                   "gradverify: error: --submission-dir: /usr: is a system directory"},
        UsageError{"bundle_rubric_not_json", "autograder-bundle --rubric /dev/null", "/dev/null: not valid JSON"},
        // The bundle's target is checked before the rubric's references are computed.
        UsageError{"bundle_output_directory", "autograder-bundle -o /tmp",
                   "gradverify: error: /tmp: is a directory; expected the path of a file to write\n"},
        UsageError{"bundle_output_empty", "autograder-bundle -o ''",
                   "gradverify: error: --output: expected the path of the zip to write, got ''\n"},
        UsageError{"options_without_a_command", "--color never",
                   "gradverify: error: expected a command, one of check, train, neuron, bce, softmax, grade, references, merge, "
                   "report, autograder-bundle, bench (gradverify help lists them)\n"},
        UsageError{"unknown_command_after_an_option", "--color never chek",
                   "gradverify: error: unknown command 'chek' (did you mean check?); the commands are check, train, "
                   "neuron, bce, softmax, grade, references, merge, report, autograder-bundle, bench\n"},
        UsageError{"near_miss_global_option", "--colour never check",
                   "gradverify: error: check: unknown option --colour; did you mean --color?\n"},
        UsageError{"option_twice", "check --rtol 1e-5 --rtol 1e-6",
                   "gradverify: error: check: --rtol: given more than once; give it once\n"},
        UsageError{"learning_rate_zero", "train --lr 0", "gradverify: error: train: --lr: expected a number > 0, got '0'\n"},
        UsageError{"bundle_output_unwritable", "autograder-bundle -o /nonexistent/a.zip",
                   "gradverify: error: /nonexistent/a.zip: cannot write the file: No such file or directory\n"},
        // An output that can't be written is found before any work: LibTorch is never loaded.
        UsageError{"check_output_unwritable", "check --output /nonexistent/r.json",
                   "gradverify: error: /nonexistent/r.json: cannot write the file: No such file or directory"},
        UsageError{"check_output_directory", "check --output /tmp", "gradverify: error: /tmp: is a directory"},
        UsageError{"check_save_problem_unwritable", "check --save-problem /nonexistent/p.json",
                   "/nonexistent/p.json: cannot write the file"},
        UsageError{"train_output_unwritable", "train --output /nonexistent/t.json", "/nonexistent/t.json: cannot write"},
        UsageError{"train_plots_a_file", "train --plots /etc/passwd", "/etc/passwd: cannot create the plot directory"},
        UsageError{"bench_output_unwritable", "bench --output /nonexistent/b.json", "/nonexistent/b.json: cannot write"},
        UsageError{"grade_output_unwritable", "grade --submission-cmd true --output /nonexistent/r.json",
                   "/nonexistent/r.json: cannot write"},
        UsageError{"grade_class_output_a_file", "grade --submissions /tmp --submission-cmd true --output /etc/passwd",
                   "/etc/passwd: cannot create the results directory"}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(CliStartup, HelpAndVersionNeverLoadLibTorch) {
  for (const char* args : {"--help", "--version", "check --help", "train --help", "neuron --help", "bce --help", "",
                           "help", "help grade"}) {
    const CliRun r = gradverify_without_torch(args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    EXPECT_EQ(r.err, "") << args;
  }
}

TEST(CliStartup, EveryCommandsHelpGivesItsExitStatusWithoutCli11Artefacts) {
  for (const std::string command : {"check", "train", "neuron", "bce", "grade", "autograder-bundle", "bench"}) {
    const std::string help = gradverify_without_torch(command + " --help").out;
    SCOPED_TRACE(command);
    EXPECT_NE(help.find("Exit status"), std::string::npos) << help;
    for (const char* artefact : {"Excludes:", "{false}", "{true}", ":NONNEGATIVE", ":FILE", ":DIR", "INT in [", ":{"})
      EXPECT_EQ(help.find(artefact), std::string::npos) << artefact << "\n" << help;
  }
}

TEST(CliStartup, TheBundleNeverReplacesWhatIsNotARegularFile) {
  // A FIFO stands for any device: -o /dev/null as root must not turn it into a zip.
  const std::string fifo = temp_path("bundle_fifo_" + std::to_string(getpid()));
  std::filesystem::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const CliRun r = gradverify_without_torch("autograder-bundle -o " + fifo);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.err, "gradverify: error: " + fifo + ": is not a regular file; expected the path of a zip to write (or replace)\n");
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  std::filesystem::remove(fifo);
}

TEST(CliStartup, GradverifyAloneAndHelpPrintTheHelp) {
  const std::string help = gradverify_without_torch("--help").out;
  EXPECT_NE(help.find("Subcommands:"), std::string::npos) << help;
  EXPECT_EQ(gradverify_without_torch("").out, help);
  EXPECT_EQ(gradverify_without_torch("help").out, help);
  EXPECT_EQ(gradverify_without_torch("help grade").out, gradverify_without_torch("grade --help").out);
}

TEST(CliOutput, VerdictsAreColouredOnATerminalOnlyAndNoColorIsHonoured) {
  const CliRun terminal = on_a_terminal("TERM=xterm", "neuron");
  ASSERT_EQ(terminal.exit_code, 0) << terminal.out << terminal.err;
  EXPECT_NE(terminal.out.find("\033[1;32mPASS\033[0m: ∂L/∂w and ∂L/∂b match LibTorch"), std::string::npos) << terminal.out;
  EXPECT_FALSE(coloured(on_a_terminal("TERM=xterm NO_COLOR=1", "neuron").out));
  EXPECT_FALSE(coloured(on_a_terminal("TERM=dumb", "neuron").out));
  EXPECT_FALSE(coloured(on_a_terminal("TERM=xterm", "neuron --color never").out));
  EXPECT_FALSE(coloured(gradverify("neuron").out)) << "a pipe gets plain text";
  EXPECT_TRUE(coloured(gradverify("--color always neuron").out));
  EXPECT_TRUE(coloured(run_shell("NO_COLOR=1 " + std::string(GRADVERIFY_BIN) + " neuron --color always").out))
      << "the flag overrides NO_COLOR";
  EXPECT_FALSE(coloured(on_a_terminal("TERM=xterm", "neuron --format json").out)) << "JSON is never coloured";
}

TEST(CliOutput, HintsAreWrappedToTheTerminalButNeverInAPipe) {
  // A failing check with long hint lines: every gradient's sign flipped.
  const std::string problem = temp_path("wrap_problem.json"), grads = temp_path("wrap_grads.json");
  ASSERT_EQ(gradverify("check --finite-differences off --save-problem " + problem + " --save-gradients " + grads).exit_code, 0);
  auto doc = nlohmann::json::parse(slurp(grads));
  for (auto& [key, value] : doc.items())
    for (auto& row : value) {
      if (row.is_array()) {
        for (auto& v : row) v = -v.get<double>();
      } else {
        row = -row.get<double>();
      }
    }
  std::ofstream(grads) << doc.dump();
  const std::string args = "check --finite-differences off --problem " + problem + " --gradients " + grads;
  const CliRun terminal = on_a_terminal("TERM=xterm COLUMNS=72", args + " --color never");
  ASSERT_NE(terminal.out.find("hint ("), std::string::npos) << terminal.out;
  std::istringstream lines(terminal.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the terminal's line ends
    const auto text = line.find_first_not_of(' ');
    const bool table_row = text != std::string::npos && line.find("   ", text) != std::string::npos;
    const auto columns = std::count_if(line.begin(), line.end(), [](char c) { return (c & 0xC0) != 0x80; });
    if (!table_row) {
      EXPECT_LE(columns, 72) << line;
    }
  }
  const std::string piped = gradverify(args).out;
  EXPECT_NE(piped.find("hint (W1, b1, W2, b2, W3, b3, W4, b4, z1, h1, z2, h2, z3, h3, z4, h4): a sign is flipped: every "
                       "gradient is -1 times LibTorch's"),
            std::string::npos)
      << "a pipe keeps each hint on one line\n" << piped;
}

TEST(CliOutput, EveryCommandThatWritesAReportTakesDashO) {
  // neuron and bce are quick and need LibTorch; the others' -o is refused before any work.
  for (const std::string command : {"neuron", "bce"}) {
    const std::string out = temp_path(command + "_report.txt");
    const CliRun r = gradverify(command + " -o " + out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "gradverify: pass; report written to " + out + "\n");
    EXPECT_NE(slurp(out).find("PASS"), std::string::npos);
  }
  for (const std::string command : {"check", "train", "neuron", "bce", "bench", "grade --submission-cmd true"}) {
    const CliRun r = gradverify_without_torch(command + " -o /nonexistent/r.json");
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_NE(r.err.find("/nonexistent/r.json: cannot write the file"), std::string::npos) << command << ": " << r.err;
  }
}

TEST(CliStartup, AMissingPluginIsNamedWithTheWayToFixIt) {
  const CliRun r = gradverify_without_torch("check");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("cannot load the LibTorch plug-in /nonexistent/libgradverify_torch_backend.so"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("cmake --build build"), std::string::npos) << r.err;
}

// The benchmark's report, not its speed (timings are never asserted): the documented JSON
// fields, speedup computed from the two medians, the gradients checked, targets stated.
TEST(CliBench, AYesOrNoTargetReadsYesOrNo) {
  const CliRun r = gradverify("bench --cases tiny --dtypes float64 --rounds 1 --round-ms 2 --process-runs 1 --no-scale");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("tiny float64: gradients agree with LibTorch +yes\n"))) << r.out;
  EXPECT_EQ(r.out.find("(needs >= 1)"), std::string::npos) << r.out;
}

TEST(CliBench, JsonReportHasTheDocumentedFieldsAndChecksTheGradients) {
  const CliRun r = gradverify("bench --cases tiny,mnist --dtypes float32 --rounds 3 --round-ms 2 --process-runs 1 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["cases"].size(), 2u);
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c.dump());
    for (const char* key : {"name", "layers", "batch", "dtype", "manual_us", "libtorch_us", "speedup"})
      EXPECT_TRUE(c.contains(key)) << key;
    EXPECT_EQ(c["dtype"], "float32");
    EXPECT_GT(c["manual_us"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(c["speedup"].get<double>(), c["libtorch_us"].get<double>() / c["manual_us"].get<double>());
    EXPECT_LE(c["manual"]["min_us"].get<double>(), c["manual_us"].get<double>());
    EXPECT_GE(c["manual"]["max_us"].get<double>(), c["manual_us"].get<double>());
    EXPECT_EQ(c["gradients"]["verdict"], "pass");
  }
  EXPECT_EQ(doc["cases"][0]["layers"], nlohmann::json({2, 4, 3, 2, 1}));
  EXPECT_EQ(doc["cases"][1]["batch"], 64);
  EXPECT_EQ(doc["settings"]["libtorch_intra_op_threads"], 1);
  // Both names of the LibTorch version, where a package installed it: 1.13.0 is Debian's 1.13.1.
  const std::string package = doc["settings"]["libtorch_package"];
  if (!package.empty()) {
    EXPECT_EQ(package.rfind("libtorch-dev ", 0), 0u) << package;
  }
  EXPECT_GT(doc["gemm"]["dgemm_gflops"].get<double>(), 0);
  EXPECT_GT(doc["check_latency"]["process"]["median_us"].get<double>(), 0);
  // The kit's reference runner is built next to the binary, so a submission is graded too.
  EXPECT_EQ(doc["grading"]["cases_per_submission"].get<int>(), 15);
  EXPECT_GT(doc["grading"]["cases_per_second_per_worker"].get<double>(), 0);
  // Every target is listed with its value; the overall flag is their conjunction.
  bool all_met = true;
  for (const auto& t : doc["targets"]) all_met = all_met && t["met"].get<bool>();
  EXPECT_EQ(doc["targets_met"].get<bool>(), all_met);
  // Speedup and gradients for each case, the direction check, the op check's time and verdict,
  // and grading with stored references: the grader's own time and its peak memory.
  EXPECT_EQ(doc["targets"].size(), 9u);
  const auto& stored = doc["grading"]["stored_references"];
  EXPECT_GT(stored["submission"]["median_us"].get<double>(), 0);
  EXPECT_GT(stored["peak_mb"].get<double>(), 1) << "measured: a process's peak memory is never near zero";
  EXPECT_LT(stored["peak_mb"].get<double>(), doc["grading"]["computed_references"]["peak_mb"].get<double>())
      << "without LibTorch the grader is smaller";
  // At 10^6 parameters the direction check agrees and per-element differences are refused.
  EXPECT_TRUE(doc["checks_at_scale"]["direction_check_agrees"].get<bool>());
  EXPECT_TRUE(doc["checks_at_scale"]["elements_refused"].get<bool>());
  EXPECT_NE(doc["checks_at_scale"]["elements_refusal"].get<std::string>().find("--force-finite-differences"),
            std::string::npos);
  // The op check at scale ran on llm.c's layernorm and found the example right.
  EXPECT_EQ(doc["checks_at_scale"]["op_check"]["rows"], 64);
  EXPECT_EQ(doc["checks_at_scale"]["op_check"]["cols"], 768);
  EXPECT_EQ(doc["checks_at_scale"]["op_check"]["verdict"], "pass");
  EXPECT_GT(doc["checks_at_scale"]["op_check"]["timing"]["median_us"].get<double>(), 0);
  EXPECT_NE(r.err.find("bench: [2/2] mnist"), std::string::npos) << "progress goes to stderr";
}

TEST(Cli, XorDataNeedsATwoInputOneOutputNet) {
  const CliRun r = gradverify("check --layers 3,4,1 --data xor");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradverify: error: --data xor: layers: XOR has 2 inputs and 1 output, so layers must start with 2 "
                   "and end with 1, got 3-4-1\n");
}

TEST(Cli, ABadProblemFileGivesOneLineNamingFileAndField) {
  const std::string path = write_temp("bad_problem.json",
      R"({"layers":[2,1],"activations":["sigmoid"],"loss":"mse","X":[[1,2],[3]],"y":[[1],[0]]})");
  const CliRun r = gradverify_without_torch("check --problem " + path);  // validated before LibTorch loads
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradverify: error: " + path + ": X[1]: ragged array: expected 2 entries, got 1\n");
}

// --init only makes weights for a problem without them. With a file's params it used to be
// ignored silently; now it is refused, so nobody believes they checked xavier weights.
TEST(Cli, InitIsRefusedForAProblemFileWithItsOwnParams) {
  const std::string problem = temp_path("p_with_params.json");
  ASSERT_EQ(gradverify("check --save-problem " + problem).exit_code, 0);
  const CliRun r = gradverify_without_torch("check --problem " + problem + " --init xavier");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gradverify: error: --init: " + problem +
                       " has its own params, so --init xavier would not change them; drop --init, or the file's "
                       "params\n");
  EXPECT_EQ(gradverify("check --problem " + problem + " --seed 3").exit_code, 0) << "--seed still picks FD directions";
}

TEST(Cli, InitSetsTheWeightsOfAProblemFileWithoutParams) {
  const std::string path = write_temp("p_without_params.json",
      R"({"layers":[2,3,1],"activations":["tanh","sigmoid"],"loss":"mse","X":[[1,2],[3,4]],"y":[[1],[0]]})");
  const CliRun he = gradverify("check --format json --problem " + path + " --init he --seed 5");
  const CliRun xavier = gradverify("check --format json --problem " + path + " --init xavier --seed 5");
  ASSERT_EQ(he.exit_code, 0) << he.err;
  ASSERT_EQ(xavier.exit_code, 0) << xavier.err;
  const auto loss = [](const CliRun& r) { return nlohmann::json::parse(r.out).at("loss_value").at("reference").get<double>(); };
  EXPECT_NE(loss(he), loss(xavier)) << "--init must reach the weights";
}

TEST(Cli, AGradientsFileThatIsNotAnObjectIsAnInputError) {
  const std::string problem = temp_path("p_for_bad_grads.json");
  ASSERT_EQ(gradverify("check --save-problem " + problem).exit_code, 0);
  const CliRun r = gradverify("check --problem " + problem + " --gradients " + write_temp("list.json", "[1, 2]"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("list.json: expected a JSON object"), std::string::npos) << r.err;
}

// ---- the file interface, end to end, with gradients real PyTorch computed -------------------
// tests/data/make_pytorch_fixtures.py wrote each problem and PyTorch's gradients for it.

// The last four are cross_entropy: with class indices, with class probabilities as targets,
// with L2 weight decay in the loss, and after a leaky ReLU of slope 0.2.
const char* const kPytorchFixtures[] = {"tanh_relu_sigmoid_mse_float64",      "relu_bce_float32",
                                        "sigmoid_logits_float32",             "relu_softmax_indices_float64",
                                        "tanh_softmax_probabilities_float32", "relu_softmax_weight_decay_float64",
                                        "leaky_softmax_float32"};

std::string fixture(const std::string& name, const std::string& kind) {
  return std::string(GRADVERIFY_TEST_DATA) + "/pytorch/" + name + "_" + kind + ".json";
}

// The fixture's gradients keyed by variable (W1, b1, ..., z1, h1, ...).
TensorMap pytorch_gradients(const std::string& name, const MlpSpec& spec) {
  const GradientsFile file = load_gradients_file(fixture(name, "gradients"), spec);
  TensorMap grads;
  for (const auto& [key, entry] : file.gradients) grads[key] = *entry.tensor;
  return grads;
}

TEST(CliFiles, PytorchsGradientsPassWithTheirIntermediates) {
  for (const std::string name : kPytorchFixtures) {
    const CliRun r = gradverify("check --problem " + fixture(name, "problem") + " --gradients " + fixture(name, "gradients"));
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("intermediates"), std::string::npos) << r.out;
  }
}

TEST(CliFiles, EachClassicBugFailsExactlyTheParametersItChanges) {
  for (const std::string name : kPytorchFixtures) {
    const Problem problem = load_problem_file(fixture(name, "problem"));
    const MlpSpec& spec = problem.spec;
    const int64_t L = spec.num_layers();
    const TensorMap all = pytorch_gradients(name, spec);
    TensorMap correct;  // parameters only, as a student's file would have them
    for (const auto& p : parameter_names(spec)) correct[p] = all.at(p);
    std::set<std::string> every_parameter, every_bias;
    for (const auto& p : parameter_names(spec)) (p[0] == 'b' ? every_bias : every_parameter).insert(p);
    every_parameter.insert(every_bias.begin(), every_bias.end());

    struct Bug {
      std::string name;
      std::function<void(TensorMap&)> plant;
      std::set<std::string> fails;
      std::string hint_kind;  // the hint every failing parameter must carry, among others that give the
                              // same numbers here (x N is also the ½‖ŷ - y‖² summed when D = 2); empty: none
    };
    const double batch = static_cast<double>(problem.batch());
    // A loss mistake changes the data gradient; weight decay's λW is added after it, unchanged.
    const auto on_data_gradient = [&](double factor) {
      return [&problem, factor](TensorMap& g) {
        for (auto& [param, t] : g)
          for (size_t i = 0; i < t.values.size(); ++i) {
            const double decay = param[0] == 'W' ? problem.spec.weight_decay * problem.params.at(param).values[i] : 0;
            t.values[i] = factor * (t.values[i] - decay) + decay;
          }
      };
    };
    const std::vector<Bug> bugs{
        {"batch_mean_forgotten", on_data_gradient(batch), every_parameter, "loss_summed"},
        {"sign_flipped", on_data_gradient(-1), every_parameter, "loss_sign_flipped"},
        {"bias_not_summed", [&](TensorMap& g) {  // db_k = the first row of dz_k
           for (int64_t k = 1; k <= L; ++k) {
             const Tensor& dz = all.at(preactivation_name(k));
             g[bias_name(k)].values.assign(dz.values.begin(), dz.values.begin() + dz.shape[1]);
           }
         }, every_bias, "bias_first_row"},
        {"nan_entry", [](TensorMap& g) { g["W2"].values[1] = NAN; }, {"W2"}, "nonfinite"},
        {"inf_entry", [&](TensorMap& g) { g[bias_name(L)].values[0] = -INFINITY; }, {bias_name(L)}, "nonfinite"},
        {"missing_array", [](TensorMap& g) { g.erase("b1"); }, {"b1"}, ""},
        {"transposed_weight", [](TensorMap& g) { g["W1"] = transposed(g["W1"]); }, {"W1"}, "transposed"},
    };
    for (const auto& bug : bugs) {
      SCOPED_TRACE(name + ": " + bug.name);
      TensorMap grads = correct;
      bug.plant(grads);
      const std::string path = write_temp(name + "_" + bug.name + ".json", gradients_to_json(grads));
      const CliRun r = gradverify("check --format json --problem " + fixture(name, "problem") + " --gradients " + path);
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_EQ(failed_in_json(r.out), bug.fails) << r.out;
      const auto doc = nlohmann::json::parse(r.out);
      // Missing is not wrong maths: it gets no localisation and no hint.
      EXPECT_EQ(doc["first_divergence"].is_null(), bug.hint_kind.empty());
      for (const auto& param : doc["parameters"]) {
        if (param["passed"].get<bool>()) continue;
        const auto kinds = param["hint_kinds"].get<std::vector<std::string>>();
        if (bug.hint_kind.empty()) {
          EXPECT_TRUE(kinds.empty()) << param["name"] << ": " << param["hint"];
        } else {
          EXPECT_NE(std::find(kinds.begin(), kinds.end(), bug.hint_kind), kinds.end())
              << param["name"] << ": " << param["hint"];
        }
      }
    }
  }
}

TEST(CliFiles, PythonsBareNanTokensReadAsNan) {
  const std::string name = kPytorchFixtures[0];
  std::string text = slurp(fixture(name, "gradients"));
  const auto pos = text.find("\"dW2\": [[") + 9;  // the first number of dW2
  text.replace(pos, text.find(',', pos) - pos, "NaN");
  const CliRun r = gradverify("check --format json --problem " + fixture(name, "problem") + " --gradients " +
                              write_temp("python_nan.json", text));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(failed_in_json(r.out), (std::set<std::string>{"W2"}));
}

TEST(CliFiles, SavedProblemAndGradientsRoundTripThroughTheCli) {
  const std::string problem = temp_path("rt_problem.json"), grads = temp_path("rt_grads.json");
  ASSERT_EQ(gradverify("check --layers 2,6,1 --activations sigmoid,identity --data random:5 --save-problem " + problem +
                       " --save-gradients " + grads).exit_code, 0);
  const CliRun r = gradverify("check --problem " + problem + " --gradients " + grads);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("intermediates"), std::string::npos) << "saved intermediates are checked too\n" << r.out;
}

TEST(CliFiles, UnknownGradientKeysAreReportedNotSilentlyDropped) {
  const std::string problem = temp_path("uk_problem.json"), grads = temp_path("uk_grads.json");
  ASSERT_EQ(gradverify("check --save-problem " + problem + " --save-gradients " + grads).exit_code, 0);
  auto doc = nlohmann::json::parse(slurp(grads));
  doc["dW5"] = {1, 2};
  doc["W1"] = {1, 2};  // a near miss: named with what it may have meant
  std::ofstream(grads) << doc.dump();
  const CliRun r = gradverify("check --problem " + problem + " --gradients " + grads);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("note: ignored W1, dW5 in " + grads + ": they name no gradient here: did you mean dW1?"),
            std::string::npos)
      << r.out;
}

// ---- the README's samples ------------------------------------------------------------------

// A README code block that starts with "$ ./build/gradverify ARGS": the lines it shows.
struct ReadmeSample {
  std::string args;
  std::vector<std::string> lines;
};

std::vector<ReadmeSample> readme_samples() {
  std::istringstream readme(slurp(std::string(GRADVERIFY_SOURCE_DIR) + "/README.md"));
  std::vector<ReadmeSample> samples;
  bool in_block = false, in_sample = false;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("```", 0) == 0) {  // a fence opens or closes a block; a sample ends with it
      in_block = !in_block;
      in_sample = false;
      continue;
    }
    if (in_block && line.rfind("$ ./build/gradverify ", 0) == 0 && !in_sample) {
      samples.push_back({line.substr(21), {}});
      in_sample = true;
      continue;
    }
    if (in_sample) samples.back().lines.push_back(line);
  }
  return samples;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Whether the output shows the sample: its lines in order, consecutive where the sample has
// them consecutive; "..." stands for lines left out (at the start and the end too).
std::string sample_mismatch(const std::vector<std::string>& sample, const std::vector<std::string>& output) {
  size_t at = 0;
  bool gap = false;
  for (const auto& line : sample) {
    if (line.find_first_not_of(' ') != std::string::npos && line.substr(line.find_first_not_of(' ')) == "...") {
      gap = true;
      continue;
    }
    size_t found = at;
    if (gap)
      while (found < output.size() && output[found] != line) ++found;
    if (found >= output.size() || output[found] != line)
      return "the sample's line\n" + line + "\nis not " + (gap ? "in the rest of the output" : "the next line, which is\n" +
                                                                       (at < output.size() ? output[at] : "(the end)"));
    at = found + 1;
    gap = false;
  }
  if (!gap && at != output.size()) return "the output goes on, where the sample has no \"...\":\n" + output[at];
  return "";
}

TEST(CliReadme, EverySampleShowsWhatTheCommandPrints) {
  const auto samples = readme_samples();
  ASSERT_GE(samples.size(), 3u);
  for (const auto& sample : samples) {
    SCOPED_TRACE("$ ./build/gradverify " + sample.args);
    // In a scratch directory: a sample that writes plots writes them there.
    const std::string dir = temp_path("readme_sample_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const CliRun r = run_shell("cd " + dir + " && " + std::string(GRADVERIFY_BIN) + " " + sample.args + " 2>/dev/null");
    EXPECT_EQ(sample_mismatch(sample.lines, lines_of(r.out)), "") << r.out;
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace gradverify
