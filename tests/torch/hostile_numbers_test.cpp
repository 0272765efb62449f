// Hostile numbers in every input a student or a course can write: problem files, gradients
// files, protocol answers and rubrics. Each number is read exactly (as the nearest double,
// which is what every decimal literal means) or refused with a message naming the field, and
// none of them can make a check pass that a careful person would call wrong. The verdicts
// are LibTorch's, and each acceptance is paired with a planted bug that must still fail.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cfloat>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include <unistd.h>

#include "gradverify/check/compare.h"
#include "gradverify/errors.h"
#include "gradverify/grading/grading.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/problem/gradients_file.h"
#include "gradverify/problem/problem_file.h"
#include "gradverify/torch/reference.h"
#include "support/problems.h"
#include "support/run_command.h"
#include "support/student_backward.h"

namespace gradverify {
namespace {

using testing::StudentBug;

// A 2-2-1 ReLU/sigmoid MSE problem, with any field replaced by raw JSON text.
std::string problem_text(const std::map<std::string, std::string>& replace = {}) {
  std::map<std::string, std::string> fields{
      {"layers", "[2,2,1]"}, {"activations", R"(["relu","sigmoid"])"}, {"loss", R"("mse")"},
      {"params", R"({"W1":[[0.5,-1.0],[1.5,0.25]],"b1":[0.1,-0.2],"W2":[[1.0],[-2.0]],"b2":[0.3]})"},
      {"X", "[[1,2],[-0.5,3],[2,-1]]"}, {"y", "[[1],[0],[0.5]]"}};
  for (const auto& [k, v] : replace) fields[k] = v;
  std::string s = "{";
  for (const auto& [k, v] : fields) s += (s.size() > 1 ? "," : "") + ("\"" + k + "\":" + v);
  return s + "}";
}

// The message of the InputError parsing `text` throws, or "accepted".
std::string refusal(const std::string& text) {
  try {
    parse_problem_json(text, "p.json");
    return "accepted";
  } catch (const InputError& e) {
    return e.what();
  }
}

// The verdict of checking a student's backward (with `bug` planted) against LibTorch.
Verdict verdict(const Problem& problem, StudentBug bug) {
  return check_against_libtorch(problem, {testing::student_backward(problem, bug), "student", std::nullopt, {}})
      .verdict();
}

// Accepted numbers must give the right verdicts: a correct backward passes, a buggy one fails.
void expect_checked_like_any_problem(const Problem& problem) {
  EXPECT_EQ(verdict(problem, StudentBug::none), Verdict::pass);
  EXPECT_EQ(verdict(problem, StudentBug::sign_flipped), Verdict::fail);
  EXPECT_EQ(verdict(problem, StudentBug::bias_averaged), Verdict::fail);
}

// ---- denormals ------------------------------------------------------------------------------

TEST(HostileNumbers, Float64DenormalsAreReadBitExactlyAndChecked) {
  const double smallest = std::numeric_limits<double>::denorm_min();  // 4.9e-324
  const double largest_denormal = std::nextafter(DBL_MIN, 0.0);       // 2.2250738585072009e-308
  const Problem p = parse_problem_json(
      problem_text({{"X", "[[4.9406564584124654e-324,2],[-2.2250738585072009e-308,3],[2,-1]]"}}), "p.json");
  EXPECT_EQ(p.X.values[0], smallest);
  EXPECT_EQ(p.X.values[2], -largest_denormal);
  expect_checked_like_any_problem(p);
}

TEST(HostileNumbers, Float32KeepsItsDenormalsAndRefusesWhatWouldVanish) {
  const std::string f32 = R"("float32")";
  // 1e-40 is a float32 denormal: kept, and the check runs on it.
  const Problem p = parse_problem_json(problem_text({{"dtype", f32}, {"X", "[[1e-40,2],[-0.5,3],[2,-1]]"}}), "p.json");
  EXPECT_EQ(static_cast<float>(p.X.values[0]), 1e-40f);
  expect_checked_like_any_problem(p);
  // 1e-46 would become 0 in float32: the check would not be about the number written.
  EXPECT_NE(refusal(problem_text({{"dtype", f32}, {"X", "[[1e-46,2],[-0.5,3],[2,-1]]"}}))
                .find("p.json: X[0][0]: value 1e-46 is not 0 but rounds to 0 in float32"),
            std::string::npos);
}

TEST(HostileNumbers, DenormalGradientsAreReadExactly) {
  const MlpSpec spec{{2, 2, 1}, {Activation::relu, Activation::sigmoid}, Loss::mse, Dtype::float64};
  const auto file = parse_gradients_json(R"({"db1": [4.9406564584124654e-324, -1e-310]})", "g.json", spec);
  ASSERT_TRUE(file.gradients.at("b1").tensor);
  EXPECT_EQ(file.gradients.at("b1").tensor->values[0], std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(file.gradients.at("b1").tensor->values[1], -1e-310);
}

// ---- signed zeros ---------------------------------------------------------------------------

TEST(HostileNumbers, NegativeZerosKeepTheirSignAndReluPrimeAtZeroIsStillChecked) {
  // The lab's XOR problem has z = 0 exactly at its (0, 0) sample with zero biases. Written as
  // -0.0, the zeros give the same verdicts: ReLU'(-0) = 0, and the z >= 0 bug still fails.
  Problem p = testing::lab_problem(0);
  for (double& v : p.X.values) v = v == 0 ? -0.0 : v;
  for (const auto& name : {"b1", "b2", "b3", "b4"})
    for (double& v : p.params.at(name).values) v = -0.0;
  const Problem read = parse_problem_json(problem_to_json(p), "p.json");
  EXPECT_TRUE(std::signbit(read.X.values[0]));
  EXPECT_TRUE(std::signbit(read.params.at("b1").values[0]));
  EXPECT_EQ(verdict(read, StudentBug::none), Verdict::pass);
  EXPECT_EQ(verdict(read, StudentBug::relu_grad_one_at_zero), Verdict::fail);
}

TEST(HostileNumbers, NegativeZeroEqualsZeroInAComparisonButNeverStandsInForAGradient) {
  const Tensor zero{{2}, {0.0, 0.0}}, nonzero{{2}, {1.0, -2.0}};
  const auto submitted = [](Tensor t) { return SubmittedGradient{std::move(t), ""}; };
  const Tolerances tol = default_tolerances(Dtype::float64);
  EXPECT_TRUE(compare_tensor("b1", submitted(Tensor{{2}, {-0.0, 1.0}}), Tensor{{2}, {0.0, 1.0}}, tol).passed);
  EXPECT_FALSE(compare_tensor("b1", submitted(Tensor{{2}, {-0.0, -0.0}}), nonzero, tol).passed);
  // Zero against zero agrees but proves nothing, whatever the signs.
  EXPECT_TRUE(compare_tensor("b1", submitted(Tensor{{2}, {-0.0, 0.0}}), zero, tol).vacuous);
  EXPECT_NE(refusal(problem_text({{"layers", "[2,-0.0,1]"}})).find("layers[1]: expected a positive integer width"),
            std::string::npos);
}

// ---- huge exponents -------------------------------------------------------------------------

TEST(HostileNumbers, NumbersBeyondFloat64AreRefusedNamingTheField) {
  for (const char* literal : {"1e999", "-1e999", "1.8e308", "123e4567"}) {
    SCOPED_TRACE(literal);
    const std::string params = std::string(R"({"W1":[[0.5,)") + literal + R"(],[1.5,0.25]],"b1":[0.1,-0.2],"W2":[[1.0],[-2.0]],"b2":[0.3]})";
    const std::string message = refusal(problem_text({{"params", params}}));
    EXPECT_NE(message.find(std::string("p.json: params.W1[0][1]: the number ") + literal +
                           " is beyond float64's range"),
              std::string::npos)
        << message;
  }
}

TEST(HostileNumbers, TinyExponentsRoundToZeroAsTheirNearestDouble) {
  const Problem p = parse_problem_json(problem_text({{"X", "[[1e-999,2],[-1e-400,3],[2,-1]]"}}), "p.json");
  EXPECT_EQ(p.X.values[0], 0.0);
  EXPECT_EQ(p.X.values[2], 0.0);
  EXPECT_TRUE(std::signbit(p.X.values[2]));
}

TEST(HostileNumbers, HugeFiniteInputsThatOverflowTheNetNeverPass) {
  // 1e308 is a finite float64, so the file is valid; the forward pass overflows on both sides.
  // Agreement on NaN and Inf is not agreement: the correct backward must not pass.
  const Problem p = parse_problem_json(problem_text({{"X", "[[1e308,1e308],[-0.5,3],[2,-1]]"}}), "p.json");
  EXPECT_NE(verdict(p, StudentBug::none), Verdict::pass);
}

TEST(HostileNumbers, GradientsBeyondFloat64AreRefusedNamingTheEntry) {
  const MlpSpec spec{{2, 2, 1}, {Activation::relu, Activation::sigmoid}, Loss::mse, Dtype::float64};
  try {
    parse_gradients_json(R"({"dW1": [[1, 2], [3, -1e999]], "db1": [0, 0]})", "g.json", spec);
    FAIL() << "accepted 1e999";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("g.json: dW1[1][1]: the number -1e999 is beyond float64's range"),
              std::string::npos)
        << e.what();
  }
}

// An op case of the built-in rubric with its reference computed by the torch-free kernels,
// which agree with LibTorch (op_check_test, grading_test); enough to score answers.
PreparedCase relu_case() {
  PreparedCase p;
  p.spec = builtin_rubric().cases.front();
  p.reference = manual_op_gradients(p.spec.op);
  return p;
}

SandboxResult printed(const std::string& stdout_text) {
  SandboxResult run;
  run.started = true;
  run.exit_code = 0;
  run.out = stdout_text;
  return run;
}

// The correct answer to an op case, as a submission prints it.
std::string correct_answer(const PreparedCase& p) {
  TensorMap answer;
  for (const auto& [name, tensor] : p.reference) answer[name.substr(1)] = tensor;  // "dz" -> {"dz": ...}
  return nlohmann::json::parse(gradients_to_json(answer)).dump();  // on one line: {"dz":[[...
}

// `text` with its first number after the first "[[" replaced by `literal`.
std::string with_first_number(std::string text, const std::string& literal) {
  const auto begin = text.find("[[") + 2;
  const auto end = text.find_first_of(",]", begin);
  return text.replace(begin, end - begin, literal);
}

TEST(HostileNumbers, AnAnswerBeyondFloat64ScoresZeroAndSaysWhere) {
  const PreparedCase p = relu_case();
  ASSERT_EQ(score_case(p, printed(correct_answer(p))).score, p.spec.points);  // the control
  const std::string hostile = with_first_number(correct_answer(p), "1e999");
  const CaseResult r = score_case(p, printed(hostile));
  EXPECT_EQ(r.score, 0);
  EXPECT_NE(r.failure.find("stdout: dz[0][0]: the number 1e999 is beyond float64's range"), std::string::npos)
      << r.failure;
}

TEST(HostileNumbers, AnAnswerWithNumbersWrittenOtherwiseScoresAsTheSameValues) {
  // 0.5 written as 5e-1, 2 as 2.0 or 2: the same doubles, so the same score. A value changed
  // by one part in 1e3 is no longer right.
  const PreparedCase p = relu_case();
  EXPECT_EQ(score_case(p, printed(with_first_number(correct_answer(p), "-0.0"))).score,
            p.reference.at("dz").values[0] == 0 ? p.spec.points : 0);
  const double first = p.reference.at("dz").values[0];
  char exp_form[64];
  std::snprintf(exp_form, sizeof exp_form, "%.17e", first);
  EXPECT_EQ(score_case(p, printed(with_first_number(correct_answer(p), exp_form))).score, p.spec.points);
  std::snprintf(exp_form, sizeof exp_form, "%.17e", first == 0 ? 1.0 : first * 1.001);
  EXPECT_EQ(score_case(p, printed(with_first_number(correct_answer(p), exp_form))).score, 0);
}

// ---- float32 range --------------------------------------------------------------------------

TEST(HostileNumbers, Float32ProblemsRefuseValuesBeyondFloat32) {
  const std::string f32 = R"("float32")";
  for (const char* literal : {"3.5e38", "-1e39", "1e300"}) {
    SCOPED_TRACE(literal);
    const std::string message = refusal(problem_text({{"dtype", f32}, {"X", std::string("[[1,2],[-0.5,") + literal + "],[2,-1]]"}}));
    EXPECT_NE(message.find("p.json: X[1][1]: value"), std::string::npos) << message;
    EXPECT_NE(message.find("is outside the float32 range"), std::string::npos) << message;
  }
  const std::string params = R"({"W1":[[0.5,-1.0],[1.5,0.25]],"b1":[0.1,-2e38],"W2":[[1.0],[-2.0]],"b2":[1e40]})";
  EXPECT_NE(refusal(problem_text({{"dtype", f32}, {"params", params}})).find("params.b2[0]: value 1e+40 is outside"),
            std::string::npos);
  // The same value is fine in float64, and float32's largest value is fine in float32.
  EXPECT_EQ(refusal(problem_text({{"X", "[[1,2],[-0.5,1e39],[2,-1]]"}})), "accepted");
  EXPECT_EQ(refusal(problem_text({{"dtype", f32}, {"X", "[[1,2],[-0.5,3.4028234663852886e38],[2,-1]]"}})), "accepted");
}

TEST(HostileNumbers, Float32ProblemsThatOverflowInTheForwardPassNeverPass) {
  // Every value is a float32, but 1e30 * 1e20 is not.
  const Problem p = parse_problem_json(
      problem_text({{"dtype", R"("float32")"},
                    {"params", R"({"W1":[[1e20,-1.0],[1.5,0.25]],"b1":[0.1,-0.2],"W2":[[1e20],[-2.0]],"b2":[0.3]})"},
                    {"X", "[[1e30,2],[-0.5,3],[2,-1]]"}}),
      "p.json");
  EXPECT_NE(verdict(p, StudentBug::none), Verdict::pass);
}

// ---- integers written as floats, floats written as integers --------------------------------

TEST(HostileNumbers, WidthsMayBeWrittenAsWholeFloatsButNotAsFractionsOrHugeNumbers) {
  const Problem p = parse_problem_json(problem_text({{"layers", "[2.0,2e0,1]"}}), "p.json");
  EXPECT_EQ(p.spec.layers, (std::vector<int64_t>{2, 2, 1}));
  for (const auto& [layers, message] : std::vector<std::pair<std::string, std::string>>{
           {"[2,2.5,1]", "layers[1]: expected a positive integer width, got 2.5"},
           {"[2,1e300,1]", "layers[1]: expected a positive integer width, got 1e+300"},
           {"[2,18446744073709551615,1]", "layers[1]: expected a positive integer width, got 18446744073709551615"},
           {"[2,9223372036854775807,1]", "layers[1]: expected a width from 1 to 65536"},
           {"[2,\"2\",1]", "layers[1]: expected a positive integer width, got \"2\""}}) {
    EXPECT_NE(refusal(problem_text({{"layers", layers}})).find(message), std::string::npos) << layers;
  }
}

TEST(HostileNumbers, DataMayBeWrittenAsIntegersAndReadsAsTheSameDoubles) {
  const Problem as_ints = parse_problem_json(problem_text({{"X", "[[1,2],[0,3],[2,-1]]"}}), "p.json");
  const Problem as_floats = parse_problem_json(problem_text({{"X", "[[1.0,2e0],[0.0,3.000],[20e-1,-1.0]]"}}), "p.json");
  EXPECT_EQ(as_ints.X.values, as_floats.X.values);
  // Integers beyond 2^53 and beyond 2^64 read as their nearest double, like any literal.
  const Problem big = parse_problem_json(problem_text({{"X", "[[9007199254740993,2],[0,3],[123456789012345678901234567890,-1]]"}}), "p.json");
  EXPECT_EQ(big.X.values[0], 9007199254740992.0);
  EXPECT_EQ(big.X.values[4], 1.2345678901234568e29);
}

std::string rubric_with(const std::string& case_fields) {
  return R"({"cases": [{"name": "c", "kind": "op", "op": "relu", )" + case_fields + "}]}";
}

std::string rubric_refusal(const std::string& text) {
  try {
    parse_rubric_json(text, "r.json", ".");
    return "accepted";
  } catch (const InputError& e) {
    return e.what();
  }
}

TEST(HostileNumbers, RubricIntegersMayBeWholeFloatsAndAreTheSameCase) {
  const Rubric as_int = parse_rubric_json(rubric_with(R"("seed": 7, "batch": 10, "width": 3)"), "r.json", ".");
  const Rubric as_float = parse_rubric_json(rubric_with(R"("seed": 7.0, "batch": 1e1, "width": 3.0)"), "r.json", ".");
  EXPECT_EQ(as_int.cases[0].op.inputs.at("z").values, as_float.cases[0].op.inputs.at("z").values);
  EXPECT_EQ(as_float.cases[0].op.inputs.at("z").shape, (Shape{10, 3}));
  for (const auto& [fields, message] : std::vector<std::pair<std::string, std::string>>{
           {R"("seed": 7.5)", "r.json: cases[0].seed: expected an integer from 0 to 4294967295, got 7.5"},
           {R"("seed": -1)", "cases[0].seed: expected an integer from 0 to 4294967295, got -1"},
           {R"("seed": 1e20)", "cases[0].seed: expected an integer from 0 to 4294967295, got 1e+20"},
           {R"("batch": "4")", "cases[0].batch: expected an integer from 1 to 4096, got \"4\""},
           {R"("points": 1e999)", "r.json: cases[0].points: the number 1e999 is beyond float64's range"},
           {R"("points": -0.5)", "cases[0].points: expected a number from 0 to 1e+06, got -0.5"}}) {
    EXPECT_NE(rubric_refusal(rubric_with(fields)).find(message), std::string::npos)
        << fields << "\n" << rubric_refusal(rubric_with(fields));
  }
}

// ---- deep nesting and large arrays ----------------------------------------------------------

std::string nested(size_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

TEST(HostileNumbers, DeepNestingIsRefusedInEveryInputWithoutExhaustingTheStack) {
  const std::string deep = nested(100000);
  EXPECT_NE(refusal(problem_text({{"X", deep}})).find("p.json: X[0][0][0]"), std::string::npos);
  EXPECT_NE(refusal(problem_text({{"X", deep}})).find("nested deeper than 64 levels"), std::string::npos);
  const MlpSpec spec{{2, 2, 1}, {Activation::relu, Activation::sigmoid}, Loss::mse, Dtype::float64};
  EXPECT_THROW(parse_gradients_json("{\"dW1\": " + deep + "}", "g.json", spec), InputError);
  EXPECT_NE(rubric_refusal(rubric_with("\"description\": " + deep)).find("nested deeper than 64"), std::string::npos);
  const CaseResult r = score_case(relu_case(), printed("{\"dz\": " + deep + "}"));
  EXPECT_EQ(r.score, 0);
  EXPECT_NE(r.failure.find("nested deeper than 64"), std::string::npos) << r.failure;
  // Within the JSON limit but deeper than any tensor: refused by the tensor reader.
  EXPECT_NE(refusal(problem_text({{"X", nested(20)}})).find("X: arrays nested deeper than 8 levels"), std::string::npos);
}

TEST(HostileNumbers, LargeInputsAreRefusedBeforeTheyCanExhaustMemory) {
  std::string many_layers = "[2";
  for (int i = 0; i < 2000; ++i) many_layers += ",1";
  EXPECT_NE(refusal(problem_text({{"layers", many_layers + "]"}})).find("layers: expected at most 1025 widths"),
            std::string::npos);
  EXPECT_NE(refusal(problem_text({{"layers", "[60000,60000,1]"}})).find("parameters; at most 67108864 are accepted"),
            std::string::npos);
  // A file over 256 MiB is refused before it is read (sparse: no disk used); an endless
  // stream is refused after 256 MiB.
  const std::string huge = testing::temp_path("huge_" + std::to_string(::getpid()) + ".json");
  { std::ofstream(huge) << "{"; }
  std::filesystem::resize_file(huge, (std::uintmax_t{256} << 20) + 2);
  try {
    load_problem_file(huge);
    ADD_FAILURE() << "accepted a 256 MiB file";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("the file is larger than 256 MiB"), std::string::npos) << e.what();
  }
  std::filesystem::remove(huge);
  EXPECT_THROW(load_problem_file("/dev/zero"), InputError);
  // A rubric case whose answer could not fit in what a submission may print.
  EXPECT_NE(rubric_refusal(rubric_with(R"("batch": 4096, "width": 4096)"))
                .find("cases[0]: the answer to this case would hold 16777216 numbers; at most 524288"),
            std::string::npos);
}

}  // namespace
}  // namespace gradverify
