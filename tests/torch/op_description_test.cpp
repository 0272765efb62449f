// An op described where its code under test lives, with no <torch/torch.h> in this file: the
// LibTorch forward is registered by name in op_description_forwards.cpp. llm.c's gelu, in
// float, accumulating into its gradient buffer as llm.c's gelu_backward does.
#include <gtest/gtest.h>

#include <cmath>

#include "gradverify/errors.h"
#include "gradverify/gtest.h"
#include "gradverify/torch/op_description.h"

namespace gradverify {
void register_torch_forward_twice_for_test();  // op_description_forwards.cpp
namespace {

constexpr float kGeluScale = 0.7978845608f;  // sqrt(2/pi), as llm.c's GELU_SCALING_FACTOR

OpDescription llmc_gelu(bool overwrites) {
  OpDescription op;
  op.name = "llmc_gelu";
  op.dtype = Dtype::float32;
  op.torch_forward_name = "llmc_gelu";
  op.make_inputs = [](std::mt19937& rng) {
    std::normal_distribution<double> normal(0, 2);
    Tensor x{{4, 6}, {}};
    for (int i = 0; i < 24; ++i) x.values.push_back(normal(rng));
    return TensorMap{{"x", x}};
  };
  op.differentiated = {"x"};
  op.forward = [](const TensorMap& in) {
    std::vector<float> out = to_floats(in.at("x"));
    for (float& v : out) v = 0.5f * v * (1.0f + std::tanh(kGeluScale * (v + 0.044715f * v * v * v)));
    return from_floats(in.at("x").shape, out);
  };
  op.accumulating_backward = [overwrites](const TensorMap& in, const Tensor& dout, TensorMap& grads) {
    const std::vector<float> inp = to_floats(in.at("x")), up = to_floats(dout);
    std::vector<float> dinp = to_floats(grads.at("x"));
    for (size_t i = 0; i < inp.size(); ++i) {
      const float x = inp[i], cube = 0.044715f * x * x * x;
      const float tanh_out = std::tanh(kGeluScale * (x + cube));
      const float sech2 = 1.0f - tanh_out * tanh_out;
      const float local = 0.5f * (1.0f + tanh_out) + x * 0.5f * sech2 * kGeluScale * (1.0f + 3.0f * 0.044715f * x * x);
      dinp[i] = overwrites ? local * up[i] : dinp[i] + local * up[i];
    }
    grads.at("x") = from_floats(grads.at("x").shape, dinp);
  };
  return op;
}

TEST(OpDescription, AnOpDescribedWithoutLibTorchIsCheckedAgainstItsRegisteredForward) {
  EXPECT_TRUE(OpMatchesLibTorch(llmc_gelu(false)));
  const OpCheckReport report = check_op(llmc_gelu(false));
  EXPECT_NE(report.table().find("vs LibTorch autograd, float32"), std::string::npos) << report.table();
}

TEST(OpDescription, ItsPlantedOverwriteFailsWithTheAccumulationHint) {
  const ::testing::AssertionResult result = OpMatchesLibTorch(llmc_gelu(true));
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("overwrote the gradient buffer"), std::string::npos) << result.message();
}

TEST(OpDescription, AnUnregisteredForwardNameIsAnErrorThatSaysHowToRegisterIt) {
  OpDescription op = llmc_gelu(false);
  op.torch_forward_name = "llmc_gelu_typo";
  try {
    check_op(op);
    ADD_FAILURE() << "an unregistered name was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("GRADVERIFY_TORCH_FORWARD(llmc_gelu_typo"), std::string::npos) << e.what();
  }
}

TEST(OpDescription, ANameRegisteredTwiceIsRefused) {
  EXPECT_THROW(register_torch_forward_twice_for_test(), std::logic_error);
}

}  // namespace
}  // namespace gradverify
