#pragma once
// GoogleTest assertions that check hand-written gradients against LibTorch, and print the
// whole per-gradient table, the first divergence and the hints when they fail:
//
//   EXPECT_GRADIENTS_MATCH(problem, my_gradients);   // an MLP's W1, b1, ... (and z1, h1, ...)
//   EXPECT_OP_MATCHES_LIBTORCH(my_op);               // any op (torch/op_check.h)
//
// Both fail on a vacuous check, one that proves nothing because the gradients are exactly zero
// on both sides (check.h); an op whose inputs make that expected says why in
// OpDescription::vacuous_allowed_because. Link gradverify::gtest. The predicates return
// ::testing::AssertionResult, so they also work in EXPECT_TRUE(...) << "context".
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "gradverify/problem/problem.h"
#include "gradverify/tensor.h"
#include "gradverify/torch/op_check_report.h"

namespace gradverify {

// `gradients` holds the hand-written dL/dW1, dL/db1, ... keyed W1, b1, ... (as
// run_manual_mlp returns them), optionally with z1, h1, ...; shaped as problem.json.
::testing::AssertionResult GradientsMatchLibTorch(const Problem& problem, const TensorMap& gradients);
::testing::AssertionResult OpMatchesLibTorch(const HandWrittenOp& op, std::optional<uint32_t> seed = std::nullopt);
// An op described without LibTorch (torch/op_description.h), its forward registered by name.
::testing::AssertionResult OpMatchesLibTorch(const OpDescription& op, std::optional<uint32_t> seed = std::nullopt);

}  // namespace gradverify

#define EXPECT_GRADIENTS_MATCH(problem, gradients) EXPECT_TRUE(::gradverify::GradientsMatchLibTorch(problem, gradients))
#define ASSERT_GRADIENTS_MATCH(problem, gradients) ASSERT_TRUE(::gradverify::GradientsMatchLibTorch(problem, gradients))
#define EXPECT_OP_MATCHES_LIBTORCH(op) EXPECT_TRUE(::gradverify::OpMatchesLibTorch(op))
#define ASSERT_OP_MATCHES_LIBTORCH(op) ASSERT_TRUE(::gradverify::OpMatchesLibTorch(op))
