// Checking ops the MLP doesn't have, written as a user of gradverify writes them: a plain C++
// forward and backward, and the same forward in LibTorch. Each op must pass, and each with a
// classic mistake planted in its backward must fail, with the table naming the input.
#include <gtest/gtest.h>

#include <cmath>

#include "gradverify/gtest.h"
#include "gradverify/torch/op_check.h"
#include "support/problems.h"
#include "support/student_backward.h"

namespace gradverify {
namespace {

namespace F = torch::nn::functional;

Tensor normal(Shape shape, std::mt19937& rng, double scale = 1) {
  std::normal_distribution<double> dist(0, scale);
  Tensor t{shape, {}};
  int64_t n = 1;
  for (auto d : shape) n *= d;
  for (int64_t i = 0; i < n; ++i) t.values.push_back(dist(rng));
  return t;
}

// Leaky ReLU, y = x if x > 0 else slope·x. The planted mistake: the negative side's slope
// left out of the derivative.
constexpr double slope = 0.01;  // leaky ReLU's negative slope
constexpr double eps = 1e-5;    // layer norm's variance epsilon

HandWrittenOp leaky_relu(bool slope_forgotten) {
  HandWrittenOp op;
  op.name = "leaky_relu";
  op.make_inputs = [](std::mt19937& rng) { return TensorMap{{"x", normal({4, 5}, rng)}}; };
  op.differentiated = {"x"};
  op.forward = [](const TensorMap& in) {
    Tensor y = in.at("x");
    for (double& v : y.values) v = v > 0 ? v : slope * v;
    return y;
  };
  op.backward = [slope_forgotten](const TensorMap& in, const Tensor& dy) {
    Tensor dx = dy;
    for (size_t i = 0; i < dx.values.size(); ++i)
      dx.values[i] *= in.at("x").values[i] > 0 ? 1.0 : (slope_forgotten ? 0.0 : slope);
    return TensorMap{{"x", dx}};
  };
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) {
    return F::leaky_relu(in.at("x"), F::LeakyReLUFuncOptions().negative_slope(slope));
  };
  return op;
}

// Softmax with cross-entropy, the mean over the batch of -Σ_c t_c log softmax(z)_c, with
// one-hot targets as a constant input. The planted mistake: the 1/N of the mean left out.
HandWrittenOp softmax_cross_entropy(bool mean_forgotten) {
  constexpr int64_t N = 4, C = 3;
  HandWrittenOp op;
  op.name = "softmax_cross_entropy";
  op.make_inputs = [](std::mt19937& rng) {
    Tensor targets{{N, C}, std::vector<double>(N * C, 0.0)};
    for (int64_t n = 0; n < N; ++n) targets.values[static_cast<size_t>(n * C + static_cast<int64_t>(rng() % C))] = 1;
    return TensorMap{{"logits", normal({N, C}, rng, 2)}, {"targets", targets}};
  };
  op.differentiated = {"logits"};
  const auto softmax = [](const Tensor& z) {
    Tensor p = z;
    for (int64_t n = 0; n < N; ++n) {
      double* row = p.values.data() + n * C;
      const double top = *std::max_element(row, row + C);
      double sum = 0;
      for (int64_t c = 0; c < C; ++c) sum += row[c] = std::exp(row[c] - top);
      for (int64_t c = 0; c < C; ++c) row[c] /= sum;
    }
    return p;
  };
  op.forward = [softmax](const TensorMap& in) {
    const Tensor p = softmax(in.at("logits"));
    double loss = 0;
    for (size_t i = 0; i < p.values.size(); ++i) loss -= in.at("targets").values[i] * std::log(p.values[i]);
    return Tensor{{}, {loss / N}};
  };
  op.backward = [softmax, mean_forgotten](const TensorMap& in, const Tensor& dloss) {
    Tensor dz = softmax(in.at("logits"));  // dL/dz = (softmax(z) - t) / N
    for (size_t i = 0; i < dz.values.size(); ++i)
      dz.values[i] = dloss.values[0] * (dz.values[i] - in.at("targets").values[i]) / (mean_forgotten ? 1 : N);
    return TensorMap{{"logits", dz}};
  };
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) {
    return -(in.at("targets") * torch::log_softmax(in.at("logits"), 1)).sum(1).mean();
  };
  return op;
}

// Layer norm over the last dimension, with gain and bias. The planted mistake: the mean's and
// the variance's own dependence on x left out of dx, as if they were constants.
HandWrittenOp layer_norm(bool statistics_as_constants) {
  constexpr int64_t N = 3, D = 5;
  HandWrittenOp op;
  op.name = "layer_norm";
  op.make_inputs = [](std::mt19937& rng) {
    return TensorMap{{"x", normal({N, D}, rng, 2)}, {"gain", normal({D}, rng)}, {"bias", normal({D}, rng)}};
  };
  op.differentiated = {"x", "gain", "bias"};
  struct Normalized {
    Tensor xhat;
    std::vector<double> inv_std;
  };
  const auto normalize = [](const Tensor& x) {
    Normalized r{x, std::vector<double>(N)};
    for (int64_t n = 0; n < N; ++n) {
      double* row = r.xhat.values.data() + n * D;
      double mean = 0, var = 0;
      for (int64_t d = 0; d < D; ++d) mean += row[d] / D;
      for (int64_t d = 0; d < D; ++d) var += (row[d] - mean) * (row[d] - mean) / D;
      r.inv_std[static_cast<size_t>(n)] = 1 / std::sqrt(var + eps);
      for (int64_t d = 0; d < D; ++d) row[d] = (row[d] - mean) * r.inv_std[static_cast<size_t>(n)];
    }
    return r;
  };
  op.forward = [normalize](const TensorMap& in) {
    Tensor y = normalize(in.at("x")).xhat;
    for (int64_t i = 0; i < N * D; ++i)
      y.values[static_cast<size_t>(i)] = y.values[static_cast<size_t>(i)] * in.at("gain").values[static_cast<size_t>(i % D)] +
                                        in.at("bias").values[static_cast<size_t>(i % D)];
    return y;
  };
  op.backward = [normalize, statistics_as_constants](const TensorMap& in, const Tensor& dy) {
    const Normalized nx = normalize(in.at("x"));
    const auto& gain = in.at("gain").values;
    Tensor dx = in.at("x"), dgain{{D}, std::vector<double>(D)}, dbias{{D}, std::vector<double>(D)};
    for (int64_t n = 0; n < N; ++n) {
      // dx = inv_std · (g - mean(g) - xhat · mean(g · xhat)), with g = dy · gain
      double mean_g = 0, mean_gx = 0;
      for (int64_t d = 0; d < D; ++d) {
        const auto i = static_cast<size_t>(n * D + d);
        const double g = dy.values[i] * gain[static_cast<size_t>(d)];
        mean_g += g / D;
        mean_gx += g * nx.xhat.values[i] / D;
        dgain.values[static_cast<size_t>(d)] += dy.values[i] * nx.xhat.values[i];
        dbias.values[static_cast<size_t>(d)] += dy.values[i];
      }
      for (int64_t d = 0; d < D; ++d) {
        const auto i = static_cast<size_t>(n * D + d);
        const double g = dy.values[i] * gain[static_cast<size_t>(d)];
        dx.values[i] = nx.inv_std[static_cast<size_t>(n)] *
                       (statistics_as_constants ? g : g - mean_g - nx.xhat.values[i] * mean_gx);
      }
    }
    return TensorMap{{"x", dx}, {"gain", dgain}, {"bias", dbias}};
  };
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) {
    return F::layer_norm(in.at("x"),
                         F::LayerNormFuncOptions({D}).weight(in.at("gain")).bias(in.at("bias")).eps(eps));
  };
  return op;
}

struct OpCase {
  std::string name;
  HandWrittenOp (*make)(bool planted_bug);
  std::string failing_input;  // where the planted mistake shows
};
void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }
class HandWrittenOpCheck : public ::testing::TestWithParam<OpCase> {};

TEST_P(HandWrittenOpCheck, TheRightBackwardPassesOverSeeds) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(seed);
    EXPECT_TRUE(OpMatchesLibTorch(GetParam().make(false), seed));
    const OpCheckReport report = check_op(GetParam().make(false), seed);
    EXPECT_TRUE(report.finite_differences_agree()) << report.table();
  }
}

TEST_P(HandWrittenOpCheck, APlantedMistakeFailsAndTheTableNamesTheInput) {
  const ::testing::AssertionResult result = OpMatchesLibTorch(GetParam().make(true));
  ASSERT_FALSE(result);
  const std::string table = result.message();
  EXPECT_NE(table.find("d" + GetParam().failing_input + " (u #1)"), std::string::npos) << table;
  EXPECT_NE(table.find("FAIL"), std::string::npos) << table;
  // Finite differences of the hand-written forward catch it too, without autograd.
  EXPECT_FALSE(check_op(GetParam().make(true)).finite_differences_agree());
}

INSTANTIATE_TEST_SUITE_P(Ops, HandWrittenOpCheck,
                         ::testing::Values(OpCase{"leaky_relu", leaky_relu, "x"},
                                           OpCase{"softmax_cross_entropy", softmax_cross_entropy, "logits"},
                                           OpCase{"layer_norm", layer_norm, "x"}),
                         [](const auto& test_info) { return test_info.param.name; });

TEST(GradientsMatchLibTorch, TheManualMlpPassesAndAPlantedBugPrintsTheTableAndHint) {
  const Problem problem = testing::lab_problem(1);
  EXPECT_GRADIENTS_MATCH(problem, run_manual_mlp(problem).gradients);
  TensorMap buggy;
  for (const auto& [name, g] : student_backward(problem, testing::StudentBug::bias_averaged))
    if (g.tensor) buggy[name] = *g.tensor;
  const ::testing::AssertionResult result = GradientsMatchLibTorch(problem, buggy);
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("b1 "), std::string::npos) << result.message();
  EXPECT_NE(std::string(result.message()).find("must be summed"), std::string::npos) << result.message();
}

}  // namespace
}  // namespace gradverify
