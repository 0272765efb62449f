// A user's op, swish(x) = x · sigmoid(x), with its hand-written backward, checked against
// LibTorch. SWISH_PLANT_BUG=1 in the environment plants a classic mistake (the derivative of
// sigmoid left out), to see the table gradverify prints when a check fails.
#include <gradverify/gtest.h>
#include <gradverify/torch/op_check.h>

#include <cmath>
#include <cstdlib>

namespace {

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

gradverify::HandWrittenOp swish() {
  const bool planted_bug = std::getenv("SWISH_PLANT_BUG") != nullptr;
  gradverify::HandWrittenOp op;
  op.name = "swish";
  op.make_inputs = [](std::mt19937& rng) {
    std::normal_distribution<double> normal(0, 2);
    gradverify::Tensor x{{3, 4}, {}};
    for (int i = 0; i < 12; ++i) x.values.push_back(normal(rng));
    return gradverify::TensorMap{{"x", x}};
  };
  op.differentiated = {"x"};
  op.forward = [](const gradverify::TensorMap& in) {
    gradverify::Tensor y = in.at("x");
    for (double& v : y.values) v = v * sigmoid(v);
    return y;
  };
  op.backward = [planted_bug](const gradverify::TensorMap& in, const gradverify::Tensor& dy) {
    gradverify::Tensor dx = dy;
    for (size_t i = 0; i < dx.values.size(); ++i) {
      const double x = in.at("x").values[i], s = sigmoid(x);
      dx.values[i] *= planted_bug ? s : s + x * s * (1 - s);  // d/dx x·σ(x) = σ + x σ (1 − σ)
    }
    return gradverify::TensorMap{{"x", dx}};
  };
  op.torch_forward = [](const std::map<std::string, torch::Tensor>& in) {
    return in.at("x") * torch::sigmoid(in.at("x"));
  };
  return op;
}

TEST(Swish, BackwardMatchesLibTorch) { EXPECT_OP_MATCHES_LIBTORCH(swish()); }

}  // namespace
