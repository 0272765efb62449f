// The one matrix product of the manual MLP (gemm.h), against the definition
//     C[i,j] = alpha · Σ_k op(A)[i,k] · op(B)[k,j] + beta · C[i,j]
// summed in long double, for every transpose combination, padded leading dimensions, both
// dtypes, and sizes on both sides of kGemmBlasThreshold (so CBLAS and the loops both run).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "gradverify/net/gemm.h"

namespace gradverify {
namespace {

struct GemmShape {
  int64_t M, N, K;
};

template <typename T>
struct GemmCase {
  bool ta, tb;
  GemmShape s;
  int64_t lda, ldb, ldc;
  std::vector<T> A, B, C;

  GemmCase(bool ta_, bool tb_, GemmShape shape, uint32_t seed) : ta(ta_), tb(tb_), s(shape) {
    // Stored shapes: A is M×K (or K×M transposed), B is K×N (or N×K); 3 columns of padding
    // so a kernel that assumes lda == columns reads the wrong elements.
    const int64_t a_rows = ta ? s.K : s.M, a_cols = ta ? s.M : s.K;
    const int64_t b_rows = tb ? s.N : s.K, b_cols = tb ? s.K : s.N;
    lda = a_cols + 3, ldb = b_cols + 3, ldc = s.N + 3;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(-1, 1);
    A.resize(static_cast<size_t>(a_rows * lda));
    B.resize(static_cast<size_t>(b_rows * ldb));
    C.resize(static_cast<size_t>(s.M * ldc));
    for (auto* v : {&A, &B, &C})
      for (auto& x : *v) x = static_cast<T>(dist(rng));
  }

  long double expected(int64_t i, int64_t j, T alpha, T beta) const {
    long double sum = 0;
    for (int64_t k = 0; k < s.K; ++k) {
      const T a = ta ? A[k * lda + i] : A[i * lda + k];
      const T b = tb ? B[j * ldb + k] : B[k * ldb + j];
      sum += static_cast<long double>(a) * b;
    }
    return alpha * sum + static_cast<long double>(beta) * C[i * ldc + j];
  }
};

using GemmParam = std::tuple<bool, bool, GemmShape>;

class GemmTest : public ::testing::TestWithParam<GemmParam> {
 protected:
  template <typename T>
  void check(bool use_loops, T alpha, T beta, double tolerance) {
    const auto [ta, tb, shape] = GetParam();
    GemmCase<T> c(ta, tb, shape, 7);
    std::vector<T> out = c.C;
    if (use_loops)
      gemm_loops(ta, tb, shape.M, shape.N, shape.K, alpha, c.A.data(), c.lda, c.B.data(), c.ldb, beta, out.data(),
                 c.ldc);
    else
      gemm(ta, tb, shape.M, shape.N, shape.K, alpha, c.A.data(), c.lda, c.B.data(), c.ldb, beta, out.data(), c.ldc);
    for (int64_t i = 0; i < shape.M; ++i) {
      for (int64_t j = 0; j < shape.N; ++j) {
        const long double want = c.expected(i, j, alpha, beta);
        ASSERT_NEAR(static_cast<double>(out[i * c.ldc + j]), static_cast<double>(want),
                    tolerance * std::sqrt(static_cast<double>(shape.K)))
            << "C[" << i << "," << j << "] loops=" << use_loops;
      }
      // The padding columns are not C's: a kernel must leave them alone.
      for (int64_t j = shape.N; j < c.ldc; ++j) ASSERT_EQ(out[i * c.ldc + j], c.C[i * c.ldc + j]) << "padding";
    }
  }
};

TEST_P(GemmTest, MatchesDefinition) {
  for (bool loops : {false, true}) {
    SCOPED_TRACE(loops ? "gemm_loops" : "gemm");
    check<double>(loops, 1.0, 0.0, 1e-13);
    check<double>(loops, -0.5, 1.0, 1e-13);
    check<double>(loops, 2.0, 0.25, 1e-13);
    check<float>(loops, 1.0, 0.0, 2e-5);
    check<float>(loops, -0.5, 1.0, 2e-5);
  }
}

// beta == 0 must overwrite C even when it holds NaN (BLAS semantics; the MLP's buffers are
// NaN-prefilled, so anything else would leak NaN into every gradient).
TEST_P(GemmTest, BetaZeroOverwritesNaN) {
  const auto [ta, tb, shape] = GetParam();
  GemmCase<double> c(ta, tb, shape, 11);
  for (bool loops : {false, true}) {
    std::vector<double> out(c.C.size(), std::nan(""));
    if (loops)
      gemm_loops(ta, tb, shape.M, shape.N, shape.K, 1.0, c.A.data(), c.lda, c.B.data(), c.ldb, 0.0, out.data(), c.ldc);
    else
      gemm(ta, tb, shape.M, shape.N, shape.K, 1.0, c.A.data(), c.lda, c.B.data(), c.ldb, 0.0, out.data(), c.ldc);
    for (int64_t i = 0; i < shape.M; ++i)
      for (int64_t j = 0; j < shape.N; ++j) ASSERT_TRUE(std::isfinite(out[i * c.ldc + j])) << loops;
  }
}

// Tiny (the lab's 4×2×4), just under and over the BLAS threshold, and a tall-skinny one.
const GemmShape kShapes[] = {{4, 4, 2}, {1, 1, 1}, {20, 20, 20}, {21, 20, 20}, {64, 33, 17}, {3, 200, 50}, {257, 1, 64}};

std::string shape_name(const ::testing::TestParamInfo<GemmParam>& info) {
  const auto [ta, tb, s] = info.param;
  return std::string(ta ? "At" : "A") + (tb ? "Bt" : "B") + "_" + std::to_string(s.M) + "x" + std::to_string(s.N) +
         "x" + std::to_string(s.K);
}

INSTANTIATE_TEST_SUITE_P(All, GemmTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(), ::testing::ValuesIn(kShapes)),
                         shape_name);

TEST(GemmThreshold, ShapesStraddleIt) {
  // The suite above means something only if both paths ran.
  EXPECT_LT(20 * 20 * 20, kGemmBlasThreshold);
  EXPECT_GE(21 * 20 * 20, kGemmBlasThreshold);
}

}  // namespace
}  // namespace gradverify
