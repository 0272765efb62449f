// problem.json, gradients.json and CSV data: round trips, and bad files that must be
// refused with a message naming the file, the field and what was expected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "gradverify/errors.h"
#include "gradverify/grading/rubric.h"
#include "gradverify/problem/data.h"
#include "gradverify/problem/gradients_file.h"
#include "gradverify/problem/problem.h"
#include "gradverify/problem/problem_file.h"
#include "support/problems.h"

namespace gradverify {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ProblemFile, RoundTripsExactly) {
  for (Dtype dtype : {Dtype::float64, Dtype::float32}) {
    const Problem original = testing::lab_problem(7, dtype);
    const Problem loaded = load_problem_file(write_temp("roundtrip.json", problem_to_json(original)));
    EXPECT_EQ(loaded.spec.layers, original.spec.layers);
    EXPECT_EQ(loaded.spec.activations, original.spec.activations);
    EXPECT_EQ(loaded.spec.dtype, dtype);
    for (const auto& [name, t] : original.params) {
      EXPECT_EQ(loaded.params.at(name).shape, t.shape) << name;
      EXPECT_EQ(loaded.params.at(name).values, t.values) << name << ": must round-trip bit for bit";
    }
    EXPECT_EQ(loaded.X.values, original.X.values);
    EXPECT_EQ(loaded.y.values, original.y.values);
  }
}

TEST(ProblemFile, AcceptsKeepdimsBiasesFlatTargetsAndNoDtype) {
  const std::string path = write_temp("lenient.json", R"({
    "layers": [2, 1], "activations": ["sigmoid"], "loss": "bce",
    "params": {"W1": [[0.5], [-0.25]], "b1": [[0.1]]},
    "X": [[1, 2], [3, 4]], "y": [1, 0]})");
  const Problem p = load_problem_file(path);
  EXPECT_EQ(p.spec.dtype, Dtype::float64);
  EXPECT_EQ(p.params.at("b1").shape, (Shape{1}));
  EXPECT_EQ(p.y.shape, (Shape{2, 1}));
}

TEST(ProblemFile, ParamsAreOptional) {
  const Problem p = load_problem_file(write_temp("noparams.json",
      R"({"layers":[2,3,1],"activations":["tanh","identity"],"loss":"mse","X":[[1,2]],"y":[[3]]})"));
  EXPECT_TRUE(p.params.empty());
}

struct BadProblem {
  std::string name;
  std::string json;
  std::string expected_message;  // must appear in what(), after the file name
};

void PrintTo(const BadProblem& c, std::ostream* os) { *os << c.name; }
class BadProblemFile : public ::testing::TestWithParam<BadProblem> {};

TEST_P(BadProblemFile, IsRefusedWithAMessageNamingFileFieldAndExpectation) {
  const std::string path = write_temp(GetParam().name + ".json", GetParam().json);
  try {
    load_problem_file(path);
    FAIL() << "accepted a bad problem file";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(GetParam().expected_message), std::string::npos) << what;
  }
}

// A valid 2-2-1 problem, to break one field at a time.
std::string valid_with(const std::string& key, const std::string& value) {
  std::map<std::string, std::string> fields{
      {"layers", "[2,2,1]"}, {"activations", R"(["relu","sigmoid"])"}, {"loss", R"("mse")"},
      {"params", R"({"W1":[[1,2],[3,4]],"b1":[0,0],"W2":[[1],[2]],"b2":[0]})"},
      {"X", "[[1,2],[3,4]]"}, {"y", "[[1],[0]]"}};
  if (value.empty()) fields.erase(key);
  else fields[key] = value;
  std::string s = "{";
  for (const auto& [k, v] : fields) s += (s.size() > 1 ? "," : "") + ("\"" + k + "\":" + v);
  return s + "}";
}

// A valid 2-2-3 softmax problem with class indices as targets, to break one field at a time.
std::string softmax_with(const std::string& key, const std::string& value) {
  std::map<std::string, std::string> fields{
      {"layers", "[2,2,3]"}, {"activations", R"(["relu","identity"])"}, {"loss", R"("cross_entropy")"},
      {"params", R"({"W1":[[1,2],[3,4]],"b1":[0,0],"W2":[[1,0,-1],[2,1,0]],"b2":[0,0,0]})"},
      {"X", "[[1,2],[3,4]]"}, {"y", "[2,0]"}};
  fields[key] = value;
  std::string s = "{";
  for (const auto& [k, v] : fields) s += (s.size() > 1 ? "," : "") + ("\"" + k + "\":" + v);
  return s + "}";
}

// Class indices are the one-hot rows torch's cross_entropy treats them as; probability rows
// are taken as they are.
TEST(ProblemFile, LeakyRelusSlopeIsReadAndWrittenBack) {
  const Problem p = load_problem_file(write_temp("leaky.json", softmax_with("activations", R"(["leaky_relu:0.2","identity"])")));
  EXPECT_EQ(p.spec.activations[0], Activation::leaky_relu);
  EXPECT_EQ(p.spec.negative_slope, 0.2);
  const Problem again = load_problem_file(write_temp("leaky_again.json", problem_to_json(p)));
  EXPECT_EQ(again.spec.negative_slope, 0.2);
  const Problem plain = load_problem_file(write_temp("leaky_default.json", softmax_with("activations", R"(["leaky_relu","identity"])")));
  EXPECT_EQ(plain.spec.negative_slope, 0.01);  // torch's default
}

TEST(ProblemFile, WeightDecayIsReadAndWrittenBack) {
  const Problem p = load_problem_file(write_temp("decayed.json", softmax_with("weight_decay", "0.001")));
  EXPECT_EQ(p.spec.weight_decay, 0.001);
  const Problem again = load_problem_file(write_temp("decayed_again.json", problem_to_json(p)));
  EXPECT_EQ(again.spec.weight_decay, 0.001);
  EXPECT_EQ(load_problem_file(write_temp("undecayed.json", softmax_with("y", "[0,1]"))).spec.weight_decay, 0);
}

TEST(ProblemFile, CrossEntropyTargetsAreClassIndicesOrProbabilities) {
  const Problem indices = load_problem_file(write_temp("softmax_indices.json", softmax_with("y", "[2,0]")));
  EXPECT_EQ(indices.y.shape, (Shape{2, 3}));
  EXPECT_EQ(indices.y.values, (std::vector<double>{0, 0, 1, 1, 0, 0}));
  const Problem probabilities =
      load_problem_file(write_temp("softmax_probabilities.json", softmax_with("y", "[[0.2,0.3,0.5],[0.333,0.333,0.334]]")));
  EXPECT_EQ(probabilities.y.values, (std::vector<double>{0.2, 0.3, 0.5, 0.333, 0.333, 0.334}));
}

INSTANTIATE_TEST_SUITE_P(
    All, BadProblemFile,
    ::testing::Values(
        BadProblem{"not_json", "{\"layers\": [2,", "not valid JSON: parse error at line 1"},
        BadProblem{"not_object", "[1,2]", "expected a JSON object"},
        BadProblem{"missing_layers", valid_with("layers", ""), "layers: missing"},
        BadProblem{"one_width", valid_with("layers", "[2]"), "layers: expected at least 2 widths"},
        BadProblem{"zero_width", valid_with("layers", "[2,0,1]"), "layers[1]: expected a positive integer width"},
        BadProblem{"fractional_width", valid_with("layers", "[2,2.5,1]"), "layers[1]: expected a positive integer"},
        BadProblem{"unknown_activation", valid_with("activations", R"(["relu","softmax"])"),
                   "activations[1]: unknown activation 'softmax'; expected one of relu, sigmoid, tanh, identity"},
        BadProblem{"too_few_activations", valid_with("activations", R"(["relu"])"),
                   "activations: expected 2 (one per layer after the input), got 1"},
        BadProblem{"unknown_loss", valid_with("loss", R"("hinge")"), "loss: unknown loss 'hinge'"},
        BadProblem{"unknown_dtype", valid_with("dtype", R"("float16")"), "dtype: unknown dtype 'float16'"},
        BadProblem{"bce_without_sigmoid", R"({"layers":[2,1],"activations":["relu"],"loss":"bce","X":[[1,2]],"y":[[1]]})",
                   "activations: loss 'bce' takes probabilities, so the last activation must be 'sigmoid', got 'relu'"},
        BadProblem{"transposed_weight", valid_with("params", R"({"W1":[[1,2],[3,4]],"b1":[0,0],"W2":[[1,2]],"b2":[0]})"),
                   "params.W2: shape [1,2], expected [2,1]"},
        BadProblem{"missing_bias", valid_with("params", R"({"W1":[[1,2],[3,4]],"b1":[0,0],"W2":[[1],[2]]})"),
                   "params.b2: missing"},
        BadProblem{"unknown_param", valid_with("params", R"({"W1":[[1,2],[3,4]],"b1":[0,0],"W2":[[1],[2]],"b2":[0],"W3":[[1]]})"),
                   "params.W3: no such parameter in a 2-layer net"},
        BadProblem{"ragged_X", valid_with("X", "[[1,2],[3]]"), "X[1]: ragged array: expected 2 entries, got 1"},
        BadProblem{"string_in_X", valid_with("X", R"([[1,2],[3,"4"]])"), "X[1][1]: expected a number, got a string"},
        BadProblem{"nan_string_in_X", valid_with("X", R"([[1,2],[3,"nan"]])"), "X[1][1]: expected a number"},
        BadProblem{"overflow_in_y", valid_with("y", "[[1e999],[0]]"), "y[0][0]: the number 1e999 is beyond float64's range"},
        BadProblem{"empty_batch", valid_with("X", "[]"), "X: expected a non-empty batch"},
        BadProblem{"batch_mismatch", valid_with("y", "[[1],[0],[1]]"), "y: shape [3,1], expected [2,1]"},
        BadProblem{"wrong_input_width", valid_with("X", "[[1,2,3],[4,5,6]]"), "X: shape [2,3], expected [2,2]"},
        BadProblem{"float32_overflow", valid_with("X", "[[1,2],[3,1e39]]").replace(1, 0, "\"dtype\":\"float32\","),
                   "X[1][1]: value 1e+39 is outside the float32 range"},
        BadProblem{"deep_nesting", valid_with("X", "[[[[[[[[[[1]]]]]]]]]]"), "X: arrays nested deeper than 8"},
        BadProblem{"cross_entropy_sigmoid_output", softmax_with("activations", R"(["relu","sigmoid"])"),
                   "activations: loss 'cross_entropy' takes logits (the softmax is inside the loss"},
        BadProblem{"cross_entropy_one_class", R"({"layers":[2,1],"activations":["identity"],"loss":"cross_entropy","X":[[1,2]],"y":[0]})",
                   "layers: loss 'cross_entropy' needs at least 2 classes in the last layer, got 1"},
        BadProblem{"class_out_of_range", softmax_with("y", "[0,3]"),
                   "y[1]: expected a class index, an integer from 0 to 2 (the last layer has 3 classes), got 3"},
        BadProblem{"negative_class", softmax_with("y", "[-1,0]"), "y[0]: expected a class index"},
        BadProblem{"fractional_class", softmax_with("y", "[0,1.5]"), "y[1]: expected a class index, an integer from 0 to 2"},
        BadProblem{"probabilities_not_summing_to_one", softmax_with("y", "[[0.5,0.4,0],[0,0,1]]"),
                   "y[0]: loss 'cross_entropy' needs each row of targets to be class probabilities summing to 1"},
        BadProblem{"negative_probability", softmax_with("y", "[[1,-0.5,0.5],[0,0,1]]"),
                   "y[0][1]: loss 'cross_entropy' needs targets in [0, 1], got -0.5"},
        BadProblem{"wrong_class_count", softmax_with("y", "[[0.5,0.5],[0,1]]"), "y: shape [2,2], expected [2,3]"},
        BadProblem{"slope_out_of_range", softmax_with("activations", R"(["leaky_relu:2","identity"])"),
                   "activations[0]: 'leaky_relu:2': expected leaky_relu's slope for z < 0, a number in (0, 1)"},
        BadProblem{"slope_not_a_number", softmax_with("activations", R"(["leaky_relu:abc","identity"])"),
                   "activations[0]: 'leaky_relu:abc': expected leaky_relu's slope"},
        BadProblem{"slope_on_relu", softmax_with("activations", R"(["relu:0.2","identity"])"),
                   "activations[0]: 'relu:0.2': only leaky_relu takes a parameter"},
        BadProblem{"two_slopes", R"({"layers":[2,2,2,3],"activations":["leaky_relu:0.1","leaky_relu:0.3","identity"],"loss":"cross_entropy","X":[[1,2]],"y":[0]})",
                   "activations[1]: 'leaky_relu:0.3': a net has one leaky_relu slope, and an earlier layer's is 0.1"},
        BadProblem{"too_many_class_indices",
                   R"({"layers":[2,65536],"activations":["identity"],"loss":"cross_entropy","X":[[1,2]],"y":[)" +
                       std::string(400000, '0').replace(1, std::string::npos, [] {
                         std::string s;
                         for (int i = 1; i < 200000; ++i) s += ",0";
                         return s;
                       }()) + "]}",
                   "y: 200000 class indices of 65536 classes are more one-hot targets than a batch may hold"},
        BadProblem{"negative_weight_decay", softmax_with("weight_decay", "-0.1"),
                   "weight_decay: expected a number >= 0 (the λ of the loss's (λ/2)·Σ‖W‖²), got -0.1"},
        BadProblem{"string_weight_decay", softmax_with("weight_decay", R"("1e-3")"),
                   "weight_decay: expected a number >= 0"}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(ProblemFile, UnreadableFileNamesThePath) {
  EXPECT_THROW(
      {
        try {
          load_problem_file("/nonexistent/problem.json");
        } catch (const InputError& e) {
          EXPECT_STREQ(e.what(), "/nonexistent/problem.json: cannot open the file for reading");
          throw;
        }
      },
      InputError);
}

TEST(ProblemFile, BceTargetsOutsideZeroOneAreRefused) {
  Problem p = testing::make_problem({2, 1}, {Activation::identity}, Loss::bce_with_logits, Dtype::float64, "random:3", 1);
  p.y.values[1] = 2.0;
  EXPECT_THROW(validate_problem(p, "p.json"), InputError);
}

// ---- gradients.json ---------------------------------------------------------------------------

const MlpSpec kSpec{{2, 2, 1}, {Activation::relu, Activation::sigmoid}, Loss::mse, Dtype::float64};

TEST(GradientsFile, ReadsNonFiniteStringsAndKeysByVariable) {
  const auto f = parse_gradients_json(R"({"dW1":[[1,"nan"],["-inf",2]],"db1":[0,"inf"],"dz2":[[0.5]]})", "g.json", kSpec);
  ASSERT_TRUE(f.gradients.at("W1").tensor);
  EXPECT_TRUE(std::isnan(f.gradients.at("W1").tensor->values[1]));
  EXPECT_EQ(f.gradients.at("W1").tensor->values[2], -INFINITY);
  EXPECT_EQ(f.gradients.at("b1").tensor->values[1], INFINITY);
  EXPECT_TRUE(f.gradients.at("z2").tensor);
}

TEST(GradientsFile, ReadsPythonsBareNanAndInfinityTokens) {
  // json.dumps(float("nan")) writes NaN; a string holding the word stays a string.
  const auto f = parse_gradients_json(R"({"dW1":[[NaN,-Infinity],[Infinity,1]],"db1":["NaN is here", 0]})", "g.json", kSpec);
  ASSERT_TRUE(f.gradients.at("W1").tensor);
  EXPECT_TRUE(std::isnan(f.gradients.at("W1").tensor->values[0]));
  EXPECT_EQ(f.gradients.at("W1").tensor->values[1], -INFINITY);
  EXPECT_EQ(f.gradients.at("W1").tensor->values[2], INFINITY);
  EXPECT_FALSE(f.gradients.at("b1").tensor);
}

TEST(GradientsFile, AMalformedEntryCostsOnlyThatEntry) {
  const auto f = parse_gradients_json(R"({"dW1":[[1,null],[2,3]],"db1":[[1,2],[3]],"dW2":[[1],[2]],"dW9":[1],"lr":0.1})",
                                      "g.json", kSpec);
  EXPECT_FALSE(f.gradients.at("W1").tensor);
  EXPECT_EQ(f.gradients.at("W1").problem, "dW1[0][1]: expected a number or \"nan\", \"inf\", \"-inf\", got null");
  EXPECT_FALSE(f.gradients.at("b1").tensor);
  EXPECT_NE(f.gradients.at("b1").problem.find("ragged"), std::string::npos);
  EXPECT_TRUE(f.gradients.at("W2").tensor);
  EXPECT_EQ(f.ignored_keys, (std::vector<std::string>{"dW9", "lr"}));
}

TEST(GradientsFile, ANonObjectIsAnInputError) {
  EXPECT_THROW(parse_gradients_json("[1,2,3]", "g.json", kSpec), InputError);
  EXPECT_THROW(parse_gradients_json("{\"dW1\": [1,", "g.json", kSpec), InputError);
}

TEST(GradientsFile, RoundTripsThroughJson) {
  TensorMap grads{{"W1", Tensor{{2, 2}, {1.5, -0.0, NAN, 1e-300}}}, {"b1", Tensor{{2}, {INFINITY, 3}}}};
  const auto f = parse_gradients_json(gradients_to_json(grads), "g.json", kSpec);
  EXPECT_EQ(f.gradients.at("W1").tensor->values[0], 1.5);
  EXPECT_TRUE(std::isnan(f.gradients.at("W1").tensor->values[2]));
  EXPECT_EQ(f.gradients.at("W1").tensor->values[3], 1e-300);
  EXPECT_EQ(f.gradients.at("b1").tensor->values[0], INFINITY);
}

// ---- CSV data ---------------------------------------------------------------------------------

Problem xor_shaped() {
  Problem p;
  p.spec = MlpSpec{{2, 3, 1}, {Activation::relu, Activation::sigmoid}, Loss::mse, Dtype::float64};
  return p;
}

TEST(CsvData, CrossEntropyTargetsMayBeOneClassColumn) {
  Problem p;
  p.spec = MlpSpec{{2, 3}, {Activation::identity}, Loss::cross_entropy, Dtype::float64};
  set_csv_data(p, write_temp("classes.csv", "x1,x2,class\n0.5,1,2\n1,0,0\n"));
  EXPECT_EQ(p.y.shape, (Shape{2, 3}));
  EXPECT_EQ(p.y.values, (std::vector<double>{0, 0, 1, 1, 0, 0}));
  try {
    set_csv_data(p, write_temp("bad_class.csv", "0.5,1,2\n1,0,3\n"));
    FAIL() << "accepted class 3 of 3";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad_class.csv: line 2, column 3: expected a class index, an integer from 0 "
                                         "to 2"), std::string::npos) << e.what();
  }
}

TEST(CsvData, ReadsRowsAndSkipsAHeader) {
  Problem p = xor_shaped();
  set_csv_data(p, write_temp("ok.csv", "x1,x2,y\n0,0,0\n0, 1, 1\n\n1,0,1\n"));
  EXPECT_EQ(p.X.shape, (Shape{3, 2}));
  EXPECT_EQ(p.X.values, (std::vector<double>{0, 0, 0, 1, 1, 0}));
  EXPECT_EQ(p.y.values, (std::vector<double>{0, 1, 1}));
}

struct BadCsv {
  std::string name, text, expected_message;
};
void PrintTo(const BadCsv& c, std::ostream* os) { *os << c.name; }
class BadCsvFile : public ::testing::TestWithParam<BadCsv> {};

TEST_P(BadCsvFile, IsRefusedNamingTheLine) {
  Problem p = xor_shaped();
  const std::string path = write_temp(GetParam().name + ".csv", GetParam().text);
  try {
    set_csv_data(p, path);
    FAIL() << "accepted a bad CSV";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": " + GetParam().expected_message), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, BadCsvFile,
    ::testing::Values(BadCsv{"short_row", "0,0,0\n1,1\n", "line 2: expected 3 comma-separated numbers (2 inputs then 1 targets), got 2"},
                      BadCsv{"text_cell", "0,0,0\n1,abc,1\n", "line 2, column 2: expected a finite number, got 'abc'"},
                      BadCsv{"nan_cell", "0,0,0\n1,nan,1\n", "line 2, column 2: expected a finite number, got 'nan'"},
                      BadCsv{"header_only", "a,b,c\n", "no data rows"},
                      BadCsv{"empty", "", "no data rows"}),
    [](const auto& test_info) { return test_info.param.name; });

// ---- rubric cases: a field the case would not read is refused, not ignored ------------------

// A rubric of one case, `fields` inside it, beside two problem files: one with params, one
// without. The rubric's directory is this process's own: ctest runs these tests in parallel.
Rubric rubric_of_case(const std::string& fields) {
  const std::string dir = ::testing::TempDir() + "rubric_fields_" + std::to_string(getpid()) + "/";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "net_with_params.json")
      << valid_with("params", R"({"W1":[[1,2],[3,4]],"b1":[0,0],"W2":[[1],[-2]],"b2":[0]})");
  std::ofstream(dir + "net_without_params.json") << valid_with("params", "");
  return parse_rubric_json(R"({"cases": [{"name": "c", )" + fields + "}]}", "r.json", dir);
}

struct IgnoredCaseField {
  std::string name, fields, expected_message;  // the message after "r.json: cases[0]."
};
void PrintTo(const IgnoredCaseField& c, std::ostream* os) { *os << c.name; }
class RubricCaseField : public ::testing::TestWithParam<IgnoredCaseField> {};

TEST_P(RubricCaseField, ThatTheCaseWouldNotReadIsRefused) {
  try {
    rubric_of_case(GetParam().fields);
    FAIL() << "accepted a case with a field it ignores";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("r.json: cases[0]." + GetParam().expected_message), std::string::npos)
        << e.what();
  }
}

const std::string kWithParams = R"("kind": "mlp", "problem_file": "net_with_params.json")";
const std::string kWithoutParams = R"("kind": "mlp", "problem_file": "net_without_params.json")";
const std::string kFileSetsThis = ": the problem file sets this, so it would be ignored";

INSTANTIATE_TEST_SUITE_P(
    All, RubricCaseField,
    ::testing::Values(
        IgnoredCaseField{"dtype_beside_file", kWithParams + R"(, "dtype": "float32")", "dtype" + kFileSetsThis},
        IgnoredCaseField{"layers_beside_file", kWithoutParams + R"(, "layers": [2, 1])", "layers" + kFileSetsThis},
        IgnoredCaseField{"activations_beside_file", kWithParams + R"(, "activations": ["tanh"])",
                         "activations" + kFileSetsThis},
        IgnoredCaseField{"loss_beside_file", kWithParams + R"(, "loss": "bce")", "loss" + kFileSetsThis},
        IgnoredCaseField{"data_beside_file", kWithParams + R"(, "data": "xor")", "data" + kFileSetsThis},
        IgnoredCaseField{"op_fields_beside_file", kWithParams + R"(, "batch": 4)", "batch" + kFileSetsThis},
        IgnoredCaseField{"init_beside_params", kWithParams + R"(, "init": "xavier")",
                         "init: net_with_params.json has its own params, so init would not change them"},
        IgnoredCaseField{"seed_beside_params", kWithParams + R"(, "seed": 3)",
                         "seed: net_with_params.json has its own params, so seed would not change them"},
        IgnoredCaseField{"empty_problem_file", R"("kind": "mlp", "problem_file": "", "layers": [2, 1])",
                         "problem_file: expected the path of a problem.json, relative to the rubric"},
        IgnoredCaseField{"unknown_init_beside_file", kWithoutParams + R"(, "init": "ones")",
                         "init: expected one of he, numpy, xavier, torch, got 'ones'"},
        IgnoredCaseField{"layers_in_op_case", R"("kind": "op", "op": "relu", "layers": [2, 1])",
                         "layers: an op case does not read this field; it takes op, batch, width, out_width, "
                         "negative_slope, logit_offset, dtype, seed"},
        IgnoredCaseField{"out_width_for_relu", R"("kind": "op", "op": "relu", "out_width": 4)",
                         "out_width: only the linear op has an out_width"},
        IgnoredCaseField{"slope_for_relu", R"("kind": "op", "op": "relu", "negative_slope": 0.2)",
                         "negative_slope: only the leaky_relu op has a negative_slope"},
        IgnoredCaseField{"offset_for_bce", R"("kind": "op", "op": "bce_with_logits", "logit_offset": 1000)",
                         "logit_offset: only the cross_entropy op has a logit_offset"},
        IgnoredCaseField{"weight_decay_beside_file", kWithParams + R"(, "weight_decay": 0.1)",
                         "weight_decay" + kFileSetsThis},
        IgnoredCaseField{"batch_in_generated_net", R"("kind": "mlp", "layers": [2, 1], "batch": 4)",
                         "batch: an mlp case does not read this field; it takes layers, activations, loss, "
                         "weight_decay, data, dtype, init, seed"}),
    [](const auto& test_info) { return test_info.param.name; });

// The controls: the same fields are read where they apply, and change the case.
TEST(RubricCaseField, InitAndSeedSetTheWeightsOfAFileWithoutParams) {
  const Rubric he = rubric_of_case(kWithoutParams + R"(, "init": "he", "seed": 3)");
  const Rubric xavier = rubric_of_case(kWithoutParams + R"(, "init": "xavier", "seed": 3)");
  const Rubric other_seed = rubric_of_case(kWithoutParams + R"(, "init": "he", "seed": 4)");
  const auto w1 = [](const Rubric& r) { return r.cases.at(0).problem.params.at("W1").values; };
  EXPECT_NE(w1(he), w1(xavier));
  EXPECT_NE(w1(he), w1(other_seed));
  EXPECT_EQ(rubric_of_case(kWithParams).cases.at(0).problem.params.at("W2").values,
            (std::vector<double>{1, -2})) << "a file's params are used as written";
}

TEST(RubricCaseField, AnOpCaseReadsItsOwnFields) {
  const Rubric linear = rubric_of_case(R"("kind": "op", "op": "linear", "batch": 2, "width": 3, "out_width": 4)");
  EXPECT_EQ(linear.cases.at(0).op.inputs.at("W").shape, (std::vector<int64_t>{3, 4}));
  const Rubric leaky = rubric_of_case(R"("kind": "op", "op": "leaky_relu", "negative_slope": 0.2)");
  EXPECT_EQ(leaky.cases.at(0).op.negative_slope, 0.2);
  EXPECT_NE(case_request_json(leaky.cases.at(0)).find("\"negative_slope\":0.2"), std::string::npos)
      << "the student reads the slope from the request";
  // The offset moves even rows up and odd rows down by it; the draws are the same.
  const auto logits = [](const std::string& fields) {
    return rubric_of_case(R"("kind": "op", "op": "cross_entropy", "batch": 2, "width": 3, "seed": 5)" + fields)
        .cases.at(0).op.inputs.at("logits").values;
  };
  const std::vector<double> plain = logits(""), shifted = logits(R"(, "logit_offset": 1000)");
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_DOUBLE_EQ(shifted[i] - plain[i], i < 3 ? 1000 : -1000) << i;
}

TEST(RubricCaseField, AGeneratedNetReadsItsWeightDecayAndATorchInitGivesBiasesNotZero) {
  const Rubric decayed = rubric_of_case(
      R"("kind": "mlp", "layers": [4, 3, 2], "activations": ["relu", "identity"], "loss": "cross_entropy", )"
      R"("weight_decay": 0.01, "data": "random:4", "init": "torch", "seed": 2)");
  const GradingCase& c = decayed.cases.at(0);
  EXPECT_EQ(c.problem.spec.weight_decay, 0.01);
  EXPECT_NE(case_request_json(c).find("\"weight_decay\":0.01"), std::string::npos);
  for (const int k : {1, 2}) {  // within nn.Linear's bound, 1/sqrt(fan_in)
    const auto& b = c.problem.params.at("b" + std::to_string(k)).values;
    const double bound = 1 / std::sqrt(static_cast<double>(c.problem.spec.layers[static_cast<size_t>(k - 1)]));
    EXPECT_TRUE(std::all_of(b.begin(), b.end(), [&](double v) { return v != 0 && std::fabs(v) <= bound; })) << k;
  }
}

TEST(RubricCaseField, ACrossEntropyOpNeedsTwoClasses) {
  try {
    rubric_of_case(R"("kind": "op", "op": "cross_entropy", "width": 1)");
    FAIL() << "accepted one class";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cases[0].width: expected an integer from 2 to 4096, got 1"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gradverify
