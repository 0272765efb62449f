// Torch-free checks of every kernel against central finite differences in float64, and of
// the float32 kernels against the float64 ones.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "gradverify/net/kernels.h"
#include "gradverify/net/mlp.h"
#include "gradverify/net/random.h"
#include "gradverify/problem/init.h"
#include "gradverify/problem/manual_mlp.h"
#include "support/problems.h"

namespace gradverify {
namespace {

using Vec = std::vector<double>;

Vec random_vector(size_t n, uint32_t seed, double lo = -2, double hi = 2) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Vec v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// d(scalar f)/d(x_i) by central differences, for every i.
Vec numeric_gradient(const std::function<double(const Vec&)>& f, Vec x, double step = 1e-6) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + step;
    const double up = f(x);
    x[i] = saved - step;
    const double down = f(x);
    x[i] = saved;
    g[i] = (up - down) / (2 * step);
  }
  return g;
}

::testing::AssertionResult near_all(const Vec& actual, const Vec& expected, double tol) {
  if (actual.size() != expected.size()) return ::testing::AssertionFailure() << "size differs";
  for (size_t i = 0; i < actual.size(); ++i)
    if (!(std::fabs(actual[i] - expected[i]) <= tol * (1 + std::fabs(expected[i]))))
      return ::testing::AssertionFailure() << "element " << i << ": " << actual[i] << " vs " << expected[i];
  return ::testing::AssertionSuccess();
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// ---- activations: backward against d/dz <upstream, act(z)> ----------------------------------

class ActivationKernel : public ::testing::TestWithParam<Activation> {};

TEST_P(ActivationKernel, BackwardMatchesFiniteDifferences) {
  const Activation act = GetParam();
  // Inputs keep away from relu's kink at 0, where finite differences are meaningless.
  Vec z = random_vector(24, 1);
  for (auto& v : z)
    if (std::fabs(v) < 0.05) v = 0.5;
  const Vec upstream = random_vector(24, 2);
  const auto n = static_cast<int64_t>(z.size());
  auto scalar = [&](const Vec& zz) {
    Vec out(zz.size());
    kernels::activation_forward(act, out.data(), zz.data(), n, 0.2);
    return dot(upstream, out);
  };
  Vec out(z.size()), dz(z.size(), std::nan(""));
  kernels::activation_forward(act, out.data(), z.data(), n, 0.2);  // leaky_relu's slope; the others ignore it
  kernels::activation_backward(act, dz.data(), upstream.data(), out.data(), n, 0.2);
  EXPECT_TRUE(near_all(dz, numeric_gradient(scalar, z), 1e-7));
}

TEST(ReluKernel, DerivativeAtZeroIsZeroAsInTorch) {
  const double z = 0, upstream = 1;
  double out = -1, dz = -1;
  kernels::relu_forward(&out, &z, 1);
  kernels::relu_backward(&dz, &upstream, &out, 1);
  EXPECT_EQ(out, 0.0);
  EXPECT_EQ(dz, 0.0);
}

TEST(LeakyReluKernel, DerivativeAtZeroIsTheSlopeAsInTorch) {
  const double z = 0, upstream = 1;
  double out = -1, dz = -1;
  kernels::leaky_relu_forward(&out, &z, 1, 0.2);
  kernels::leaky_relu_backward(&dz, &upstream, &out, 1, 0.2);
  EXPECT_EQ(out, 0.0);
  EXPECT_EQ(dz, 0.2);  // torch: z > 0 ? 1 : negative_slope
}

INSTANTIATE_TEST_SUITE_P(All, ActivationKernel,
                         ::testing::Values(Activation::relu, Activation::sigmoid, Activation::tanh, Activation::identity,
                                           Activation::leaky_relu),
                         [](const auto& test_info) { return std::string(to_string(test_info.param)); });

// ---- losses: backward against d/dpred of the mean loss ---------------------------------------

class LossKernel : public ::testing::TestWithParam<Loss> {};

TEST_P(LossKernel, BackwardMatchesFiniteDifferences) {
  const Loss loss = GetParam();
  const int64_t N = 4, C = 3;
  const bool probabilities = loss == Loss::bce;
  const Vec pred = probabilities ? random_vector(N * C, 3, 0.05, 0.95) : random_vector(N * C, 3);
  Vec target = random_vector(N * C, 4, 0, 1);
  if (loss == Loss::bce || loss == Loss::bce_with_logits)
    for (auto& t : target) t = t < 0.5 ? 0 : 1;
  if (loss == Loss::cross_entropy)  // each row a distribution over the C classes, not one-hot
    for (int64_t r = 0; r < N; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < C; ++c) sum += target[static_cast<size_t>(r * C + c)];
      for (int64_t c = 0; c < C; ++c) target[static_cast<size_t>(r * C + c)] /= sum;
    }
  auto scalar = [&](const Vec& p) { return kernels::loss_forward(loss, p.data(), target.data(), N, C); };
  Vec dpred(pred.size(), std::nan(""));
  kernels::loss_backward(loss, dpred.data(), pred.data(), target.data(), N, C);
  EXPECT_TRUE(near_all(dpred, numeric_gradient(scalar, pred), 1e-6));
}

INSTANTIATE_TEST_SUITE_P(All, LossKernel,
                         ::testing::Values(Loss::mse, Loss::bce, Loss::bce_with_logits, Loss::cross_entropy),
                         [](const auto& test_info) { return std::string(to_string(test_info.param)); });

// Logits of +-1000: a naive softmax overflows (e^1000) to inf/inf = NaN. The stable one gives
// the exact answers: the loss lse - x_target = 1000 - (-1000) for the first row, 0 for the
// second (its target holds all the mass), and (softmax - onehot) / N.
template <typename T>
void expect_cross_entropy_finite_at_1000() {
  const std::vector<T> logits{1000, -1000, 0, -1000, 1000, -1000}, onehot{0, 1, 0, 0, 1, 0};
  const T loss = kernels::cross_entropy_forward(logits.data(), onehot.data(), 2, 3);
  EXPECT_NEAR(static_cast<double>(loss), 2000.0 / 2, 1e-9);
  std::vector<T> d(6, std::numeric_limits<T>::quiet_NaN());
  kernels::cross_entropy_backward(d.data(), logits.data(), onehot.data(), 2, 3);
  const std::vector<double> expected{0.5, -0.5, 0, 0, 0, 0};
  for (size_t i = 0; i < d.size(); ++i) {
    EXPECT_TRUE(std::isfinite(static_cast<double>(d[i]))) << i;
    EXPECT_NEAR(static_cast<double>(d[i]), expected[i], 1e-12) << i;
  }
}

TEST(LossKernel, CrossEntropyIsFiniteAndExactForLogitsOfPlusMinus1000) {
  expect_cross_entropy_finite_at_1000<double>();
  expect_cross_entropy_finite_at_1000<float>();
}

// The fused gradient for class indices is (softmax - onehot) / N, computed here the plain way.
TEST(LossKernel, CrossEntropyBackwardIsSoftmaxMinusOneHotOverTheBatch) {
  const int64_t N = 3, C = 4;
  const Vec logits = random_vector(N * C, 7);
  Vec onehot(static_cast<size_t>(N * C), 0.0);
  for (int64_t r = 0; r < N; ++r) onehot[static_cast<size_t>(r * C + (r + 1) % C)] = 1;
  Vec d(logits.size(), std::nan(""));
  kernels::cross_entropy_backward(d.data(), logits.data(), onehot.data(), N, C);
  for (int64_t r = 0; r < N; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += std::exp(logits[static_cast<size_t>(r * C + c)]);
    for (int64_t c = 0; c < C; ++c) {
      const auto i = static_cast<size_t>(r * C + c);
      EXPECT_NEAR(d[i], (std::exp(logits[i]) / sum - onehot[i]) / N, 1e-15);
    }
  }
}

TEST(LossKernel, BceClampsLogAtMinus100LikeTorch) {
  const double p = 0, y = 1;  // log(0) = -inf, clamped to -100
  EXPECT_DOUBLE_EQ(kernels::bce_forward(&p, &y, 1), 100.0);
}

TEST(LossKernel, BceWithLogitsIsStableForLargeLogits) {
  const Vec logits{800, -800}, labels{0, 1};
  const double loss = kernels::bce_with_logits_forward(logits.data(), labels.data(), 2);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, 800.0, 1e-9);  // each term is ~800
}

// ---- linear: dW, db and dinp against d/dparam <upstream, x @ W + b> --------------------------

TEST(LinearKernel, BackwardMatchesFiniteDifferences) {
  const int64_t N = 5, IN = 3, OUT = 4;
  const Vec x = random_vector(N * IN, 5), W = random_vector(IN * OUT, 6), b = random_vector(OUT, 7);
  const Vec upstream = random_vector(N * OUT, 8);
  auto forward = [&](const Vec& xx, const Vec& ww, const Vec& bb) {
    Vec out(N * OUT);
    kernels::linear_forward(out.data(), xx.data(), ww.data(), bb.data(), N, IN, OUT);
    return dot(upstream, out);
  };
  Vec dx(x.size(), std::nan("")), dW(W.size(), std::nan("")), db(b.size(), std::nan(""));
  kernels::linear_backward(dx.data(), dW.data(), db.data(), upstream.data(), x.data(), W.data(), N, IN, OUT);
  EXPECT_TRUE(near_all(dx, numeric_gradient([&](const Vec& v) { return forward(v, W, b); }, x), 1e-7));
  EXPECT_TRUE(near_all(dW, numeric_gradient([&](const Vec& v) { return forward(x, v, b); }, W), 1e-7));
  EXPECT_TRUE(near_all(db, numeric_gradient([&](const Vec& v) { return forward(x, W, v); }, b), 1e-7));
}

// ---- the whole manual MLP, torch-free: every parameter against finite differences ------------

struct MlpCase {
  std::vector<int64_t> layers;
  std::vector<Activation> activations;
  Loss loss;
  std::string name;
};

void PrintTo(const MlpCase& c, std::ostream* os) { *os << c.name; }
class ManualMlpFiniteDifferences : public ::testing::TestWithParam<MlpCase> {};

TEST_P(ManualMlpFiniteDifferences, EveryParameterMatches) {
  const MlpCase& c = GetParam();
  Problem problem = testing::make_problem(c.layers, c.activations, c.loss, Dtype::float64, "random:6", 11);
  // Nonzero biases keep pre-activations off relu's kink: with zero biases, a sample whose
  // previous layer is all zero has z = 0 exactly, where a finite difference straddles the kink.
  for (int64_t k = 1; k <= problem.spec.num_layers(); ++k) {
    auto& b = problem.params[bias_name(k)].values;
    for (size_t j = 0; j < b.size(); ++j) b[j] = 0.05 + 0.01 * static_cast<double>(j);
  }
  const ManualResult manual = run_manual_mlp(problem);
  for (const auto& name : parameter_names(problem.spec)) {
    Problem perturbed = problem;
    auto loss_at = [&](const Vec& values) {
      perturbed.params[name].values = values;
      return run_manual_mlp(perturbed).loss;
    };
    EXPECT_TRUE(near_all(manual.gradients.at(name).values, numeric_gradient(loss_at, problem.params.at(name).values), 1e-6))
        << name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Nets, ManualMlpFiniteDifferences,
    ::testing::Values(
        MlpCase{{2, 4, 3, 2, 1}, {Activation::relu, Activation::relu, Activation::relu, Activation::sigmoid}, Loss::mse, "lab"},
        MlpCase{{3, 5, 2}, {Activation::tanh, Activation::sigmoid}, Loss::bce, "tanh_bce"},
        MlpCase{{4, 6, 3}, {Activation::sigmoid, Activation::identity}, Loss::bce_with_logits, "sigmoid_logits"},
        MlpCase{{5, 6, 4}, {Activation::tanh, Activation::identity}, Loss::cross_entropy, "tanh_softmax"},
        MlpCase{{3, 3}, {Activation::identity}, Loss::mse, "single_linear"}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(ManualMlp, BackwardWritesEveryEntryOfItsNanPrefilledBuffers) {
  const Problem problem = testing::lab_problem(0);
  for (const auto& [name, grad] : run_manual_mlp(problem).gradients)
    for (double v : grad.values) ASSERT_FALSE(std::isnan(v)) << name << " has an entry backward never wrote";
}

// Buffers are kept across calls (no allocation per step), so a second problem of another
// shape through the same cache and gradients must give exactly what fresh buffers give.
TEST(ManualMlp, ReusedBuffersGiveWhatFreshBuffersGive) {
  const Problem big = testing::make_problem({3, 5, 2}, {Activation::tanh, Activation::sigmoid}, Loss::bce, Dtype::float64,
                                            "random:7", 4);
  const Problem small = testing::make_problem({3, 5, 2}, {Activation::tanh, Activation::sigmoid}, Loss::bce,
                                              Dtype::float64, "random:3", 5);
  MlpForwardCache<double> cache;
  MlpGradients<double> grads;
  for (const Problem* p : {&big, &small, &big}) {
    const auto params = params_from_tensors<double>(p->spec, p->params);
    const auto X = to_matrix<double>(p->X), y = to_matrix<double>(p->y);
    const double loss = mlp_forward(cache, p->spec, params, X, y);
    mlp_backward(grads, cache, p->spec, params);
    const ManualResult fresh = run_manual_mlp(*p);
    EXPECT_EQ(loss, fresh.loss);
    for (const auto& [name, grad] : gradients_to_tensors(p->spec, grads, X.rows))
      EXPECT_EQ(grad.values, fresh.gradients.at(name).values) << name;
  }
}

TEST(ManualMlp, Float32AgreesWithFloat64ToFloat32Rounding) {
  const Problem p64 = testing::lab_problem(3, Dtype::float64);
  Problem p32 = p64;
  p32.spec.dtype = Dtype::float32;
  const auto g64 = run_manual_mlp(p64).gradients, g32 = run_manual_mlp(p32).gradients;
  for (const auto& [name, grad] : g64) EXPECT_TRUE(near_all(g32.at(name).values, grad.values, 1e-5)) << name;
}

// ---- numpy's legacy generator ----------------------------------------------------------------

TEST(NumpyLegacyRandom, ReproducesNumpySeed42) {
  // np.random.seed(42); np.random.randn(6) as numpy prints them (repr, 17 digits).
  const double expected[] = {0.4967141530112327, -0.13826430117118466, 0.6476885381006925,
                             1.5230298564080254, -0.23415337472333597, -0.23413695694918055};
  NumpyLegacyRandom rng(42);
  for (double e : expected) EXPECT_EQ(rng.next_gaussian(), e);
}

TEST(NumpyLegacyRandom, ReproducesNumpyRandomSample) {
  // np.random.seed(0); np.random.random_sample(3)
  NumpyLegacyRandom rng(0);
  EXPECT_EQ(rng.next_double(), 0.5488135039273248);
  EXPECT_EQ(rng.next_double(), 0.7151893663724195);
  EXPECT_EQ(rng.next_double(), 0.6027633760716439);
}

TEST(Init, HeIsTheLabsRandnTimesSqrtTwoOverFanIn) {
  MlpSpec spec{{2, 4, 1}, {Activation::relu, Activation::sigmoid}, Loss::mse, Dtype::float64};
  const TensorMap params = init_params(spec, Init::he, 42);
  NumpyLegacyRandom rng(42);
  for (double w : params.at("W1").values) EXPECT_EQ(w, rng.next_gaussian() * std::sqrt(2.0 / 2));
  for (double w : params.at("W2").values) EXPECT_EQ(w, rng.next_gaussian() * std::sqrt(2.0 / 4));
  for (double b : params.at("b1").values) EXPECT_EQ(b, 0.0);
}

}  // namespace
}  // namespace gradverify
