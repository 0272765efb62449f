// The lab notebook's own numbers, as numpy computed and printed them
// (tests/data/numpy/lab_values.json, written by tests/data/make_numpy_fixtures.py from the
// notebook's code), against what gradverify computes. Torch-free.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "gradverify/net/mlp.h"
#include "gradverify/problem/init.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/problem/problem.h"
#include "support/problems.h"

namespace gradverify {
namespace {

nlohmann::json lab_values() {
  std::ifstream in(std::string(GRADVERIFY_TEST_DATA) + "/numpy/lab_values.json");
  return nlohmann::json::parse(in);
}

std::string rounded(double v, int digits) {  // as numpy's round(v, digits) prints
  const double scale = std::pow(10.0, digits);
  return fmt::format("{:g}", std::round(v * scale) / scale);
}

TEST(NotebookSeed42, InitNumpyIsTheNotebooksWeightsBitForBit) {
  const auto fixture = lab_values()["mlp_seed42"];
  const Problem p = testing::lab_problem(0);
  const TensorMap params = init_params(p.spec, *parse_init("numpy"), 42);
  for (int64_t k = 1; k <= 4; ++k) {
    const auto& expected = fixture["params"][weight_name(k)];
    const Tensor& got = params.at(weight_name(k));
    ASSERT_EQ(got.shape, (Shape{p.spec.fan_in(k), p.spec.fan_out(k)}));
    for (int64_t i = 0; i < got.shape[0]; ++i)
      for (int64_t j = 0; j < got.shape[1]; ++j)  // exact: the same bits numpy drew
        EXPECT_EQ(got.values[static_cast<size_t>(i * got.shape[1] + j)], expected[i][j].get<double>())
            << weight_name(k) << "[" << i << "][" << j << "]";
    for (double b : params.at(bias_name(k)).values) EXPECT_EQ(b, 0.0);
  }
}

TEST(NotebookSeed42, PredictionsAndLossAreWhatTheNotebookPrints) {
  const auto fixture = lab_values()["mlp_seed42"];
  Problem p = testing::lab_problem(0);
  p.params = init_params(p.spec, Init::he, 42);
  EXPECT_EQ(fmt::format("{:.6f}", run_manual_mlp(p).loss), fixture["initial_loss_printed"].get<std::string>());
  // The predictions, h_4 for each sample: exactly sigmoid(0), since layer 2 is dead.
  MlpForwardCache<double> cache;
  mlp_forward(cache, p.spec, params_from_tensors<double>(p.spec, p.params), to_matrix<double>(p.X),
              to_matrix<double>(p.y));
  const auto printed = fixture["initial_predictions_printed"];
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(rounded(cache.h.back().data[i], 4), fmt::format("{:g}", printed[i].get<double>())) << i;
}

}  // namespace
}  // namespace gradverify
