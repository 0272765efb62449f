// Checking ops the MLP doesn't have, written as a user of gradverify writes them: a plain C++
// forward and backward, and the same forward in LibTorch. Each op must pass, and each with a
// classic mistake planted in its backward must fail, with the table naming the input.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <tuple>

#include "gradverify/errors.h"
#include "gradverify/gtest.h"
#include "gradverify/problem/manual_mlp.h"
#include "gradverify/torch/example_ops.h"
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

// Every op in both dtypes: in float32, LibTorch computes in float32 and float32's tolerances
// judge, while the hand-written side (in double here) gets float32-exact inputs.
class HandWrittenOpCheck : public ::testing::TestWithParam<std::tuple<OpCase, Dtype>> {
 protected:
  HandWrittenOp make(bool planted_bug) const {
    HandWrittenOp op = std::get<0>(GetParam()).make(planted_bug);
    op.dtype = std::get<1>(GetParam());
    return op;
  }
};

TEST_P(HandWrittenOpCheck, TheRightBackwardPassesOverSeeds) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(seed);
    EXPECT_TRUE(OpMatchesLibTorch(make(false), seed));
    const OpCheckReport report = check_op(make(false), seed);
    EXPECT_TRUE(report.finite_differences_agree()) << report.table();
    EXPECT_NE(report.table().find(std::string("vs LibTorch autograd, ") + to_string(make(false).dtype)),
              std::string::npos);
  }
}

TEST_P(HandWrittenOpCheck, APlantedMistakeFailsAndTheTableNamesTheInput) {
  const ::testing::AssertionResult result = OpMatchesLibTorch(make(true));
  ASSERT_FALSE(result);
  const std::string table = result.message();
  EXPECT_NE(table.find("d" + std::get<0>(GetParam()).failing_input + " (u #1)"), std::string::npos) << table;
  EXPECT_NE(table.find("FAIL"), std::string::npos) << table;
  // Finite differences of the hand-written forward catch it too, without autograd.
  EXPECT_FALSE(check_op(make(true)).finite_differences_agree());
}

INSTANTIATE_TEST_SUITE_P(Ops, HandWrittenOpCheck,
                         ::testing::Combine(::testing::Values(OpCase{"leaky_relu", leaky_relu, "x"},
                                                              OpCase{"softmax_cross_entropy", softmax_cross_entropy, "logits"},
                                                              OpCase{"layer_norm", layer_norm, "x"}),
                                            ::testing::Values(Dtype::float64, Dtype::float32)),
                         [](const auto& test_info) {
                           return std::get<0>(test_info.param).name + "_" + to_string(std::get<1>(test_info.param));
                         });

// A float32 op written as float32 code is written: tanh computed in float, a backward that
// uses the float output. It passes in float32, its finite differences (taken at float32
// inputs) agree, and with the derivative's sign flipped it fails both.
HandWrittenOp tanh_in_float(bool sign_flipped) {
  HandWrittenOp op;
  op.name = "tanh_in_float";
  op.dtype = Dtype::float32;
  op.make_inputs = [](std::mt19937& rng) { return TensorMap{{"x", normal({6, 7}, rng, 1.5)}}; };
  op.differentiated = {"x"};
  op.forward = [](const TensorMap& in) {
    Tensor y = in.at("x");
    for (double& v : y.values) v = std::tanh(static_cast<float>(v));
    return y;
  };
  op.backward = [sign_flipped](const TensorMap& in, const Tensor& dy) {
    Tensor dx = dy;
    for (size_t i = 0; i < dx.values.size(); ++i) {
      const float t = std::tanh(static_cast<float>(in.at("x").values[i]));
      const float derivative = sign_flipped ? t * t - 1.0f : 1.0f - t * t;
      dx.values[i] = static_cast<float>(dy.values[i]) * derivative;
    }
    return TensorMap{{"x", dx}};
  };
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) { return torch::tanh(in.at("x")); };
  return op;
}

TEST(HandWrittenFloat32Op, ComputedInFloatPassesAndItsMistakeFails) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(seed);
    const OpCheckReport right = check_op(tanh_in_float(false), seed);
    EXPECT_TRUE(right.passed()) << right.table();
    EXPECT_TRUE(right.finite_differences_agree()) << right.table();
    const OpCheckReport wrong = check_op(tanh_in_float(true), seed);
    EXPECT_FALSE(wrong.passed()) << wrong.table();
    EXPECT_FALSE(wrong.finite_differences_agree()) << wrong.table();
    // A failing row counts its differing elements, as a net's report does.
    EXPECT_TRUE(std::regex_search(wrong.table(), std::regex("FAIL \\([0-9]+ of [0-9]+ differ\\)"))) << wrong.table();
  }
}

TEST(HandWrittenFloat32Op, ItsInputsReachBothSidesAsFloat32Values) {
  HandWrittenOp op = tanh_in_float(false);
  op.make_inputs = [](std::mt19937&) { return TensorMap{{"x", Tensor{{1, 3}, {0.1, 1.0 / 3, -2.7}}}}; };
  std::vector<double> seen;
  const auto forward = op.forward;
  op.forward = [&seen, forward](const TensorMap& in) {
    seen = in.at("x").values;
    return forward(in);
  };
  check_op(op);
  for (double v : seen) EXPECT_EQ(v, static_cast<double>(static_cast<float>(v))) << "not a float32 value: " << v;
}

TEST(HandWrittenFloat32Op, AnInputBeyondFloat32IsRefusedNamingIt) {
  HandWrittenOp op = tanh_in_float(false);
  op.make_inputs = [](std::mt19937&) { return TensorMap{{"x", Tensor{{1, 2}, {1.0, 1e39}}}}; };
  try {
    check_op(op);
    FAIL() << "accepted an input that is infinite in float32";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "check_op: tanh_in_float: input 'x' element 1 is 1e+39, which is not a finite float32");
  }
  op.dtype = Dtype::float64;  // the same value is finite there, so this is the dtype's doing
  EXPECT_NO_THROW(check_op(op));
}

TEST(HandWrittenFloat32Op, ATorchForwardInAnotherDtypeIsRefused) {
  HandWrittenOp op = tanh_in_float(false);
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) {
    return torch::tanh(in.at("x").to(torch::kFloat64));  // a float32 op checked in float64 would hide float32's error
  };
  try {
    check_op(op);
    FAIL() << "accepted a float64 reference for a float32 op";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "check_op: tanh_in_float: torch_forward returned Double for a float32 op; compute in "
                           "the inputs' dtype");
  }
}

// gelu's tail, as llm.c's kernels meet it: at inputs near -30 the gradient is exactly 0 on
// both sides, so a backward that returned anything finite and small would "match".
HandWrittenOp gelu_tail(bool right_side_too) {
  HandWrittenOp op;
  op.name = "gelu_tail";
  op.make_inputs = [right_side_too](std::mt19937& rng) {
    Tensor x = normal({3, 4}, rng);
    for (double& v : x.values) v = v - 30;                  // far left: gelu'(x) underflows to 0
    if (right_side_too) x.values[0] = 0.7, x.values[5] = -0.4;  // two inputs where it is not
    return TensorMap{{"x", x}};
  };
  op.differentiated = {"x"};
  const auto cdf = [](double v) { return 0.5 * std::erfc(-v / std::sqrt(2.0)); };
  op.forward = [cdf](const TensorMap& in) {
    Tensor y = in.at("x");
    for (double& v : y.values) v = v * cdf(v);
    return y;
  };
  op.backward = [cdf](const TensorMap& in, const Tensor& dy) {
    Tensor dx = dy;
    for (size_t i = 0; i < dx.values.size(); ++i) {
      const double v = in.at("x").values[i];
      dx.values[i] *= cdf(v) + v * std::exp(-v * v / 2) / std::sqrt(2 * std::acos(-1.0));
    }
    return TensorMap{{"x", dx}};
  };
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) { return F::gelu(in.at("x")); };
  return op;
}

TEST(OpVacuity, AnOpWhoseGradientIsZeroOnBothSidesIsVacuousAndFailsTheAssertion) {
  const OpCheckReport report = check_op(gelu_tail(false));
  EXPECT_TRUE(report.passed()) << report.table();  // nothing differs...
  EXPECT_EQ(report.verdict(), Verdict::vacuous);   // ...but nothing is proved
  EXPECT_NE(report.table().find("VACUOUS"), std::string::npos) << report.table();
  const ::testing::AssertionResult result = OpMatchesLibTorch(gelu_tail(false));
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("op.vacuous_allowed_because"), std::string::npos) << result.message();
}

TEST(OpVacuity, AVacuousCheckPassesOnlyWhenTheOpSaysWhy) {
  HandWrittenOp op = gelu_tail(false);
  op.vacuous_allowed_because = "the inputs are gelu's flat tail on purpose";
  EXPECT_TRUE(OpMatchesLibTorch(op));
  EXPECT_NE(check_op(op).table().find("allowed: the inputs are gelu's flat tail"), std::string::npos);
}

TEST(OpVacuity, TwoInputsOffTheTailMakeTheSameCheckProveSomething) {
  // The control: the same op, with gradient flowing at two inputs, is an ordinary pass.
  const OpCheckReport report = check_op(gelu_tail(true));
  EXPECT_EQ(report.verdict(), Verdict::pass) << report.table();
  EXPECT_TRUE(OpMatchesLibTorch(gelu_tail(true)));
}

// An accumulating kernel in llm.c's style (gelu_backward: dinp[i] += local_grad * dout[i]),
// here leaky ReLU's. The planted mistake: = for +=, which a fresh zeroed buffer can't show.
HandWrittenOp accumulating_leaky_relu(bool overwrites) {
  HandWrittenOp op = leaky_relu(false);
  op.name = "leaky_relu_accumulating";
  op.backward = nullptr;
  op.accumulating_backward = [overwrites](const TensorMap& in, const Tensor& dout, TensorMap& grads) {
    const auto& x = in.at("x").values;
    auto& dinp = grads.at("x").values;
    for (size_t i = 0; i < dinp.size(); ++i) {
      const double local = (x[i] > 0 ? 1.0 : slope) * dout.values[i];
      if (overwrites) dinp[i] = local;
      else dinp[i] += local;
    }
  };
  return op;
}

TEST(AccumulatingOp, AKernelThatAddsIntoItsBuffersPasses) {
  for (const Dtype dtype : {Dtype::float64, Dtype::float32}) {
    HandWrittenOp op = accumulating_leaky_relu(false);
    op.dtype = dtype;
    const OpCheckReport report = check_op(op);
    EXPECT_EQ(report.verdict(), Verdict::pass) << report.table();
    EXPECT_TRUE(report.finite_differences_agree()) << report.table();
    EXPECT_NE(report.table().find("dx (u #1, added)"), std::string::npos) << report.table();
    EXPECT_NE(report.table().find("dx (u #1, into 0)"), std::string::npos) << report.table();
  }
}

TEST(AccumulatingOp, AnOverwriteInsteadOfAnAddFailsAndTheHintNamesIt) {
  const OpCheckReport report = check_op(accumulating_leaky_relu(true));
  EXPECT_EQ(report.verdict(), Verdict::fail) << report.table();
  ASSERT_GE(report.gradients.size(), 2u);
  EXPECT_FALSE(report.gradients[0].passed);  // what it added to the random contents
  EXPECT_TRUE(report.gradients[1].passed);   // into zeros it is right: only accumulation shows it
  EXPECT_EQ(report.gradients[0].hint_kinds, std::vector<std::string>{"overwrote_accumulator"});
  const ::testing::AssertionResult result = OpMatchesLibTorch(accumulating_leaky_relu(true));
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("overwrote the gradient buffer instead of adding to it (= for +=)"),
            std::string::npos)
      << result.message();
}

TEST(AccumulatingOp, GivingBothBackwardsOrNeitherIsRefused) {
  HandWrittenOp both = accumulating_leaky_relu(false);
  both.backward = leaky_relu(false).backward;
  EXPECT_THROW(check_op(both), InputError);
  HandWrittenOp neither = accumulating_leaky_relu(false);
  neither.accumulating_backward = nullptr;
  EXPECT_THROW(check_op(neither), InputError);
}

// An embedding lookup, llm.c's encoder without positions: out[n] = E[ids[n]], with integer
// token ids, some repeated. The planted mistake: a repeated id's gradient overwritten, not summed.
HandWrittenOp embedding(bool repeats_overwrite) {
  constexpr int64_t V = 5, C = 3, N = 6;
  HandWrittenOp op;
  op.name = "embedding";
  op.make_inputs = [](std::mt19937& rng) {
    Tensor ids{{N}, {}};
    for (int64_t n = 0; n < N; ++n) ids.values.push_back(static_cast<double>(rng() % 3));  // ids 0..2 repeat
    return TensorMap{{"ids", ids}, {"table", normal({V, C}, rng)}};
  };
  op.differentiated = {"table"};
  op.integer_inputs = {"ids"};
  op.forward = [](const TensorMap& in) {
    Tensor out{{N, C}, {}};
    for (int64_t n = 0; n < N; ++n) {
      const auto id = static_cast<int64_t>(in.at("ids").values[static_cast<size_t>(n)]);
      for (int64_t c = 0; c < C; ++c) out.values.push_back(in.at("table").values[static_cast<size_t>(id * C + c)]);
    }
    return out;
  };
  op.backward = [repeats_overwrite](const TensorMap& in, const Tensor& dout) {
    Tensor dtable{{V, C}, std::vector<double>(V * C, 0.0)};
    for (int64_t n = 0; n < N; ++n) {
      const auto id = static_cast<int64_t>(in.at("ids").values[static_cast<size_t>(n)]);
      for (int64_t c = 0; c < C; ++c) {
        double& d = dtable.values[static_cast<size_t>(id * C + c)];
        const double g = dout.values[static_cast<size_t>(n * C + c)];
        d = repeats_overwrite ? g : d + g;
      }
    }
    return TensorMap{{"table", dtable}};
  };
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) {
    return F::embedding(in.at("ids"), in.at("table"));  // needs ids as kLong: no .to() here
  };
  return op;
}

TEST(IntegerInputs, AnEmbeddingWithIntegerIdsIsCheckedWithNoConversionAndItsMistakeFails) {
  for (const Dtype dtype : {Dtype::float64, Dtype::float32}) {
    HandWrittenOp right = embedding(false), wrong = embedding(true);
    right.dtype = wrong.dtype = dtype;
    EXPECT_TRUE(OpMatchesLibTorch(right));
    EXPECT_FALSE(OpMatchesLibTorch(wrong));
  }
}

TEST(IntegerInputs, DifferentiatingOneOrGivingItAFractionIsRefusedNamingIt) {
  HandWrittenOp op = embedding(false);
  op.differentiated = {"table", "ids"};
  try {
    check_op(op);
    ADD_FAILURE() << "differentiating an integer input was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("embedding"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'ids', an integer input"), std::string::npos) << e.what();
  }
  HandWrittenOp fractional = embedding(false);
  const auto make = fractional.make_inputs;
  fractional.make_inputs = [make](std::mt19937& rng) {
    TensorMap in = make(rng);
    in.at("ids").values[2] = 1.5;
    return in;
  };
  EXPECT_THROW(
      {
        try {
          check_op(fractional);
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("integer input 'ids' element 2 is 1.5"), std::string::npos) << e.what();
          throw;
        }
      },
      InputError);
}

TEST(OpCallbacks, AMisspelledInputOrALibTorchErrorNamesTheOpAndTheCallback) {
  HandWrittenOp misspelled = leaky_relu(false);
  misspelled.forward = [](const TensorMap& in) { return in.at("X"); };
  try {
    check_op(misspelled);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("leaky_relu"), std::string::npos) << what;
    EXPECT_NE(what.find("forward threw"), std::string::npos) << what;
    EXPECT_NE(what.find("the inputs are: x"), std::string::npos) << what;
  }
  HandWrittenOp shapes = leaky_relu(false);
  shapes.torch_forward = [](const std::map<std::string, torch::Tensor>& in) {
    return torch::matmul(in.at("x"), in.at("x"));  // [4,5] @ [4,5]
  };
  try {
    check_op(shapes);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("torch_forward failed in LibTorch"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line, no stack trace: " << what;
  }
}

TEST(OpDtype, AFloatKernelLeftAtFloat64FailsWithTheHintToSetTheDtype) {
  // The float32 tanh of these tests, its dtype forgotten: every row differs by float32's
  // rounding, which float64's tolerances refuse. The hint names the fix.
  HandWrittenOp forgotten = tanh_in_float(false);
  forgotten.dtype = Dtype::float64;
  const OpCheckReport report = check_op(forgotten);
  ASSERT_EQ(report.verdict(), Verdict::fail) << report.table();
  EXPECT_NE(report.table().find("set op.dtype = gradverify::Dtype::float32"), std::string::npos) << report.table();
  // A real mistake in the same float kernel is no rounding: no dtype hint.
  HandWrittenOp wrong = tanh_in_float(true);
  wrong.dtype = Dtype::float64;
  EXPECT_EQ(check_op(wrong).table().find("set op.dtype"), std::string::npos) << check_op(wrong).table();
  // Tolerances of the op's own, when its arithmetic calls for them, are used as given.
  forgotten.tolerances = default_tolerances(Dtype::float32);
  EXPECT_EQ(check_op(forgotten).verdict(), Verdict::pass) << check_op(forgotten).table();
}

// llm.c's layernorm (torch/example_ops.h): three outputs, out and the mean and rstd it saves
// for its backward. The planted mistake: rstd's upstream gradient left out of the backward,
// which a check of the first output alone could not see.
HandWrittenOp layernorm_outputs(bool rstd_upstream_forgotten) {
  HandWrittenOp op = layernorm_example(3, 4, Dtype::float64);
  if (rstd_upstream_forgotten)
    op.backward_outputs = [backward = op.backward_outputs](const TensorMap& in, const TensorMap& saved,
                                                           const TensorMap& upstream) {
      TensorMap without_rstd = upstream;
      for (double& v : without_rstd.at("rstd").values) v = 0;
      return backward(in, saved, without_rstd);
    };
  return op;
}

TEST(SeveralOutputs, LayernormsOutMeanAndRstdAreEachComparedAndTheBackwardUsesWhatForwardSaved) {
  for (const Dtype dtype : {Dtype::float64, Dtype::float32}) {
    HandWrittenOp op = layernorm_outputs(false);
    op.dtype = dtype;
    const OpCheckReport report = check_op(op);
    EXPECT_EQ(report.verdict(), Verdict::pass) << report.table();
    EXPECT_TRUE(report.finite_differences_agree()) << report.table();
    ASSERT_EQ(report.forward.size(), 3u);
    for (const char* output : {"out", "mean", "rstd"})
      EXPECT_NE(report.table().find(std::string("  ") + output + " "), std::string::npos) << report.table();
  }
}

TEST(SeveralOutputs, ALeftOutOutputsGradientFails) {
  const ::testing::AssertionResult result = OpMatchesLibTorch(layernorm_outputs(true));
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("dx (u #1)"), std::string::npos) << result.message();
  EXPECT_FALSE(check_op(layernorm_outputs(true)).finite_differences_agree());
}

TEST(SeveralOutputs, AnAccumulatingBackwardOfSeveralOutputsIsCheckedAsAddingItsPart) {
  // llm.c's layernorm_backward both reads the saved mean and rstd and adds into dinp, dweight
  // and dbias: the example's backward, turned into one that accumulates (or overwrites).
  const auto accumulating = [](bool overwrites) {
    HandWrittenOp op = layernorm_example(3, 4, Dtype::float64);
    op.accumulating_backward_outputs = [backward = op.backward_outputs, overwrites](
                                           const TensorMap& in, const TensorMap& saved, const TensorMap& up,
                                           TensorMap& grads) {
      for (const auto& [name, g] : backward(in, saved, up))
        for (size_t i = 0; i < g.values.size(); ++i)
          grads.at(name).values[i] = overwrites ? g.values[i] : grads.at(name).values[i] + g.values[i];
    };
    op.backward_outputs = nullptr;
    return op;
  };
  EXPECT_EQ(check_op(accumulating(false)).verdict(), Verdict::pass) << check_op(accumulating(false)).table();
  const OpCheckReport wrong = check_op(accumulating(true));
  EXPECT_EQ(wrong.verdict(), Verdict::fail);
  EXPECT_EQ(wrong.gradients[0].hint_kinds, std::vector<std::string>{"overwrote_accumulator"}) << wrong.table();
}

TEST(SeveralOutputs, MixingTheOneOutputAndTheSeveralOutputsFormsIsRefused) {
  HandWrittenOp mixed = layernorm_outputs(false);
  mixed.forward = [](const TensorMap& in) { return in.at("x"); };
  EXPECT_THROW(check_op(mixed), InputError);
  HandWrittenOp incomplete = layernorm_outputs(false);
  incomplete.backward_outputs = nullptr;
  EXPECT_THROW(check_op(incomplete), InputError);
}

// A leaky ReLU on 48x40 inputs: more elements than finite differences take one by one.
HandWrittenOp big_leaky_relu(bool slope_forgotten) {
  HandWrittenOp op = leaky_relu(slope_forgotten);
  op.make_inputs = [](std::mt19937& rng) { return TensorMap{{"x", normal({48, 40}, rng)}}; };
  return op;
}

TEST(SampledFiniteDifferences, ABigInputGetsASampleOfElementsAndRandomDirections) {
  const OpCheckReport right = check_op(big_leaky_relu(false));
  EXPECT_EQ(right.verdict(), Verdict::pass) << right.table();
  EXPECT_TRUE(right.finite_differences_agree()) << right.table();
  ASSERT_EQ(right.finite_differences.size(), 2u) << right.table();
  EXPECT_EQ(right.finite_differences[0].name, "dx (differences, 256 of 1920)");
  EXPECT_EQ(right.finite_differences[0].elements, 256);
  EXPECT_EQ(right.finite_differences[1].name, "dx (differences, 2 directions)");
  // Both parts catch the planted mistake without autograd.
  const OpCheckReport wrong = check_op(big_leaky_relu(true));
  EXPECT_FALSE(wrong.finite_differences[0].passed) << wrong.table();
  EXPECT_FALSE(wrong.finite_differences[1].passed) << wrong.table();
  // Every element, when asked.
  HandWrittenOp every = big_leaky_relu(false);
  every.finite_differences.all_elements = true;
  const OpCheckReport all = check_op(every);
  ASSERT_EQ(all.finite_differences.size(), 1u);
  EXPECT_EQ(all.finite_differences[0].elements, 1920);
}

TEST(FiniteDifferencesAlone, AnOpWithNoTorchForwardIsJudgedByThemAtTheirStatedTolerances) {
  HandWrittenOp right = big_leaky_relu(false), wrong = big_leaky_relu(true);
  right.torch_forward = wrong.torch_forward = nullptr;
  // Never fallen into by a forgotten forward: asked for, or refused.
  EXPECT_THROW(check_op(right), InputError);
  right.finite_differences.in_verdict = wrong.finite_differences.in_verdict = true;
  const OpCheckReport report = check_op(right);
  EXPECT_EQ(report.verdict(), Verdict::pass) << report.table();
  EXPECT_TRUE(report.gradients.empty() && report.forward.empty());
  EXPECT_NE(report.table().find("finite differences alone"), std::string::npos) << report.table();
  EXPECT_NE(report.table().find("part of the verdict, rtol 0.0001"), std::string::npos) << report.table();
  EXPECT_TRUE(OpMatchesLibTorch(right));
  EXPECT_EQ(check_op(wrong).verdict(), Verdict::fail) << check_op(wrong).table();
  EXPECT_FALSE(OpMatchesLibTorch(wrong));
}

TEST(FiniteDifferencesAlone, CountingThemBesideLibTorchMakesTheirDisagreementAFailure) {
  // LibTorch's rows judged loosely enough to pass the planted mistake: with the differences
  // counted, their disagreement fails the check.
  HandWrittenOp op = leaky_relu(true);
  op.tolerances = Tolerances{1.0, 1.0, 0.0};  // LibTorch's rows pass whatever
  EXPECT_EQ(check_op(op).verdict(), Verdict::pass);
  op.finite_differences.in_verdict = true;
  EXPECT_EQ(check_op(op).verdict(), Verdict::fail) << check_op(op).table();
}

TEST(OpSettings, TheOpCarriesItsSeedAndDrawsAndZeroDrawsIsRefused) {
  HandWrittenOp op = leaky_relu(false);
  op.draws = 5;
  EXPECT_EQ(check_op(op).gradients.size(), 5u);
  EXPECT_EQ(check_op(op, std::nullopt, 2).gradients.size(), 2u);  // the call's own draws win
  op.seed = 7;
  EXPECT_EQ(check_op(op).forward[0].worst_reference, check_op(op, 7u).forward[0].worst_reference);
  EXPECT_NE(check_op(op).forward[0].worst_reference, check_op(op, 8u).forward[0].worst_reference);
  op.draws = 0;
  EXPECT_THROW(check_op(op), InputError);
}

TEST(OpSettings, FloatHelpersRoundTripAFloat32OpsValuesExactly) {
  const Tensor t{{2, 2}, {0.5, -1.25, static_cast<double>(0.1f), 3}};
  EXPECT_EQ(from_floats(t.shape, to_floats(t)).values, t.values);
}

TEST(OpHints, AFlippedSignAFactorAndABufferNeverWrittenAreNamedAsForNets) {
  const auto with_backward = [](std::function<void(Tensor&)> spoil) {
    HandWrittenOp op = leaky_relu(false);
    op.backward = [backward = op.backward, spoil](const TensorMap& in, const Tensor& up) {
      TensorMap g = backward(in, up);
      spoil(g.at("x"));
      return g;
    };
    return check_op(op);
  };
  const OpCheckReport flipped = with_backward([](Tensor& g) { for (double& v : g.values) v = -v; });
  EXPECT_EQ(flipped.gradients[0].hint_kinds, std::vector<std::string>{"constant_factor"}) << flipped.table();
  EXPECT_NE(flipped.table().find("is -1 times LibTorch's"), std::string::npos) << flipped.table();
  const OpCheckReport zero = with_backward([](Tensor& g) { for (double& v : g.values) v = 0; });
  EXPECT_EQ(zero.gradients[0].hint_kinds, std::vector<std::string>{"all_zero"}) << zero.table();
  const OpCheckReport nan = with_backward([](Tensor& g) { g.values[3] = std::nan(""); });
  EXPECT_EQ(nan.gradients[0].hint_kinds, std::vector<std::string>{"nonfinite"}) << nan.table();
  // The slope forgotten is no single fact about the whole tensor: no hint at all.
  EXPECT_TRUE(check_op(leaky_relu(true)).gradients[0].hint_kinds.empty());
}

TEST(OpCallbacks, AnOpDescribedWronglyFailsTheAssertionWithTheReasonInsteadOfThrowing) {
  HandWrittenOp both = leaky_relu(false);
  both.accumulating_backward = accumulating_leaky_relu(false).accumulating_backward;
  const ::testing::AssertionResult result = OpMatchesLibTorch(both);  // no exception escapes
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("exactly one of backward and accumulating_backward"), std::string::npos)
      << result.message();
  EXPECT_NE(std::string(result.message()).find("both are set"), std::string::npos) << result.message();
}

TEST(OpCallbacks, AnAccumulatingKernelThatAddsANewBufferIsBlamedForIt) {
  HandWrittenOp op = accumulating_leaky_relu(false);
  op.accumulating_backward = [](const TensorMap& in, const Tensor&, TensorMap& grads) { grads["dx"] = in.at("x"); };
  const ::testing::AssertionResult result = OpMatchesLibTorch(op);
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("added a buffer 'dx', which is not a differentiated input (x)"),
            std::string::npos)
      << result.message();
}

TEST(OpCallbacks, IdsPassedAsFloatsToATorchForwardThatWantsLongAreSentToIntegerInputs) {
  HandWrittenOp op = embedding(false);
  op.integer_inputs.clear();  // the ids now reach torch as floats
  op.differentiated = {"table"};
  const ::testing::AssertionResult result = OpMatchesLibTorch(op);
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("belongs in op.integer_inputs"), std::string::npos) << result.message();
}

TEST(SampledFiniteDifferences, TheWorstElementIsNamedByItsPlaceInTheInput) {
  // The forgotten slope changes the gradient only where x < 0: the element named must be one.
  const HandWrittenOp op = big_leaky_relu(true);
  const OpCheckReport wrong = check_op(op);
  const auto& worst = wrong.finite_differences[0].worst_index;
  ASSERT_EQ(worst.size(), 2u) << "an index into the [48,40] input, not into the sample";
  std::mt19937 rng(op.seed);
  const Tensor x = op.make_inputs(rng).at("x");
  EXPECT_LT(x.values[static_cast<size_t>(worst[0] * 40 + worst[1])], 0) << wrong.table();
}

TEST(FiniteDifferencesAlone, AnOverwritingKernelFailsWithoutLibTorchToo) {
  HandWrittenOp op = accumulating_leaky_relu(true);
  op.torch_forward = nullptr;
  op.finite_differences.in_verdict = true;
  const OpCheckReport report = check_op(op);
  EXPECT_EQ(report.verdict(), Verdict::fail) << report.table();
  EXPECT_NE(report.table().find("overwrote the gradient buffer"), std::string::npos) << report.table();
  HandWrittenOp right = accumulating_leaky_relu(false);
  right.torch_forward = nullptr;
  right.finite_differences.in_verdict = true;
  EXPECT_EQ(check_op(right).verdict(), Verdict::pass) << check_op(right).table();
}

TEST(FiniteDifferencesAlone, GradientsZeroOnBothSidesAreVacuousNotAPass) {
  HandWrittenOp op = gelu_tail(false);
  op.torch_forward = nullptr;
  op.finite_differences.in_verdict = true;
  EXPECT_EQ(check_op(op).verdict(), Verdict::vacuous) << check_op(op).table();
}

TEST(OpSettings, APlanThatDifferencesNothingAndAnEmptyDifferentiatedListAreRefused) {
  HandWrittenOp none = leaky_relu(false);
  none.finite_differences.max_elements = 0;
  EXPECT_THROW(check_op(none), InputError);
  HandWrittenOp negative = leaky_relu(false);
  negative.finite_differences.directions = -1;
  EXPECT_THROW(check_op(negative), InputError);
  HandWrittenOp nothing = leaky_relu(false);
  nothing.differentiated.clear();
  EXPECT_THROW(check_op(nothing), InputError);
}

TEST(SeveralOutputs, AForwardThatMisnamesAnOutputFailsTheAssertionWithTheReason) {
  HandWrittenOp op = layernorm_outputs(false);
  op.forward_outputs = [forward = op.forward_outputs](const TensorMap& in, TensorMap& saved) {
    TensorMap outputs = forward(in, saved);
    outputs["Out"] = outputs.at("out");
    outputs.erase("out");
    return outputs;
  };
  const ::testing::AssertionResult result = OpMatchesLibTorch(op);  // no raw exception escapes
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("'Out', which LibTorch's forward does not"), std::string::npos)
      << result.message();
}

TEST(OpDtype, ASmallRealMistakeInAFloat64KernelIsNotToldToSetFloat32) {
  // eps 1e-6 for 1e-5 in a double layernorm: differences of float32's size, but its values are
  // no float32 values, so no dtype hint.
  HandWrittenOp op = layernorm_example(3, 4, Dtype::float64);
  op.torch_forward_outputs = [](const std::map<std::string, torch::Tensor>& in) {
    const auto& x = in.at("x");
    const auto mean = x.mean(-1), rstd = (x.var(-1, /*unbiased=*/false) + 1e-6).rsqrt();
    return std::map<std::string, torch::Tensor>{
        {"out", (x - mean.unsqueeze(1)) * rstd.unsqueeze(1) * in.at("w") + in.at("b")}, {"mean", mean}, {"rstd", rstd}};
  };
  const OpCheckReport report = check_op(op);
  ASSERT_EQ(report.verdict(), Verdict::fail) << report.table();
  EXPECT_EQ(report.table().find("set op.dtype"), std::string::npos) << report.table();
}

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
