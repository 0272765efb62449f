// The comparison's semantics, torch-free: the pass formula, NaN/Inf, vacuity, shapes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "gradverify/check/compare.h"
#include "gradverify/check/report.h"
#include "support/problems.h"

namespace gradverify {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
const Tolerances kTol{1e-7, 1e-10, 0};  // atol_scale 0: torch.allclose exactly

SubmittedGradient submitted(Tensor t) { return SubmittedGradient{std::move(t), ""}; }

TEST(CompareTensor, PassesExactlyAtTheToleranceBoundaryAndFailsJustPastIt) {
  const Tensor ref{{2}, {1.0, -3.0}};
  const double allowed = kTol.atol_abs + kTol.rtol * 3.0;  // for the element -3
  EXPECT_TRUE(compare_tensor("b1", submitted({{2}, {1.0, -3.0 + allowed * 0.99}}), ref, kTol).passed);
  const auto c = compare_tensor("b1", submitted({{2}, {1.0, -3.0 + allowed * 1.01}}), ref, kTol);
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.mismatched, 1);
  EXPECT_EQ(c.worst_index, (std::vector<int64_t>{1}));
}

TEST(CompareTensor, ToleranceIsRelativeToTheReferenceNotTheActual) {
  // |a - b| = 1 passes against b = 1e8 (rtol * |b| = 10), however the sides are swapped elsewhere.
  EXPECT_TRUE(compare_tensor("x", submitted({{1}, {1e8 + 1}}), Tensor{{1}, {1e8}}, kTol).passed);
  EXPECT_FALSE(compare_tensor("x", submitted({{1}, {1e8}}), Tensor{{1}, {1}}, kTol).passed);
}

struct NonFiniteCase {
  double actual, reference;
  std::string name;
};
void PrintTo(const NonFiniteCase& c, std::ostream* os) { *os << c.name; }
class NonFiniteNeverPasses : public ::testing::TestWithParam<NonFiniteCase> {};

TEST_P(NonFiniteNeverPasses, EvenWithHugeTolerances) {
  const auto& p = GetParam();
  for (const Tolerances tol : {kTol, Tolerances{1e300, 1e300, 1e300}, Tolerances{kInf, kInf, kInf}}) {
    const auto c = compare_tensor("W1", submitted({{2}, {0.5, p.actual}}), Tensor{{2}, {0.5, p.reference}}, tol);
    EXPECT_FALSE(c.passed);
    EXPECT_FALSE(c.vacuous);
    EXPECT_EQ(c.nonfinite, 1);
    EXPECT_EQ(c.worst_index, (std::vector<int64_t>{1}));
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, NonFiniteNeverPasses,
    ::testing::Values(NonFiniteCase{kNaN, 1.0, "nan_actual"}, NonFiniteCase{1.0, kNaN, "nan_reference"},
                      NonFiniteCase{kNaN, kNaN, "nan_both"}, NonFiniteCase{kInf, kInf, "inf_both"},
                      NonFiniteCase{-kInf, 1.0, "minus_inf_actual"}, NonFiniteCase{kInf, 1e308, "inf_vs_huge"}),
    [](const auto& test_info) { return test_info.param.name; });

TEST(CompareTensor, ScaleAwareAtolAbsorbsCancellationNoiseButNotBugs) {
  // An element that cancels to 1e-3 inside a tensor of scale 100 carries rounding of its large
  // terms: 1e-6 off is 1e-3 relative, far past rtol, yet only 1e-8 of the tensor's scale.
  const Tolerances tol{1e-4, 1e-7, 1e-4};
  const Tensor ref{{2}, {100.0, 1e-3}};
  const auto noisy = compare_tensor("W1", submitted({{2}, {100.0, 1e-3 + 1e-6}}), ref, tol);
  EXPECT_TRUE(noisy.passed);
  EXPECT_DOUBLE_EQ(noisy.atol, 1e-7 + 1e-4 * 100.0);
  EXPECT_FALSE(compare_tensor("W1", submitted({{2}, {100.0, 1e-3 + 1e-6}}), ref, Tolerances{1e-4, 1e-7, 0}).passed)
      << "plain allclose fails this noise";
  EXPECT_FALSE(compare_tensor("W1", submitted({{2}, {-100.0, -1e-3}}), ref, tol).passed) << "a sign flip";
  EXPECT_FALSE(compare_tensor("W1", submitted({{2}, {100.0, 1e-3 + 0.5}}), ref, tol).passed) << "a wrong element";
}

TEST(CompareTensor, AllZeroOnBothSidesPassesButIsVacuous) {
  const auto c = compare_tensor("W2", submitted({{2, 2}, {0, 0, 0, 0}}), Tensor{{2, 2}, {0, 0, 0, 0}}, kTol);
  EXPECT_TRUE(c.passed);
  EXPECT_TRUE(c.vacuous);
  EXPECT_NE(c.message.find("vacuous"), std::string::npos);
}

TEST(CompareTensor, ReferenceWithinAtolIsVacuousBecauseSignIsInvisible) {
  // g = -r passes elementwise at this size, so the check can't claim anything.
  const auto c = compare_tensor("b1", submitted({{2}, {-1e-12, 2e-12}}), Tensor{{2}, {1e-12, -2e-12}}, kTol);
  EXPECT_TRUE(c.passed);
  EXPECT_TRUE(c.vacuous);
}

TEST(CompareTensor, PartlyZeroGradientIsNotVacuous) {
  const auto c = compare_tensor("W1", submitted({{3}, {0, 0, 0.25}}), Tensor{{3}, {0, 0, 0.25}}, kTol);
  EXPECT_TRUE(c.passed);
  EXPECT_FALSE(c.vacuous);
}

TEST(CompareTensor, MissingGradientFailsWithoutThrowing) {
  const auto c = compare_tensor("W3", SubmittedGradient{}, Tensor{{2}, {1, 2}}, kTol);
  EXPECT_FALSE(c.passed);
  EXPECT_TRUE(c.missing);
  EXPECT_EQ(c.message, "missing");
}

TEST(CompareTensor, WrongShapeFailsAndSaysWhichShapeWasExpected) {
  const Tensor ref{{2, 4}, std::vector<double>(8, 1.0)};
  const auto c = compare_tensor("W1", submitted({{4, 2}, std::vector<double>(8, 1.0)}), ref, kTol);
  EXPECT_FALSE(c.passed);
  EXPECT_TRUE(c.shape_mismatch);
  EXPECT_EQ(c.message, "shape [4,2], expected [2,4] (transposed?)");
}

TEST(CompareTensor, ABiasAsARowOrAColumnIsTheSameShape) {
  // The same n numbers in the same order: numpy's keepdims row, and Nielsen's (n, 1) column.
  EXPECT_TRUE(compare_tensor("b1", submitted({{1, 3}, {1, 2, 3}}), Tensor{{3}, {1, 2, 3}}, kTol).passed);
  EXPECT_TRUE(compare_tensor("b1", submitted({{3, 1}, {1, 2, 3}}), Tensor{{3}, {1, 2, 3}}, kTol).passed);
  EXPECT_FALSE(compare_tensor("b1", submitted({{3, 1}, {1, 2, 4}}), Tensor{{3}, {1, 2, 3}}, kTol).passed);
  EXPECT_TRUE(compare_tensor("b1", submitted({{3, 2}, {1, 2, 3, 1, 2, 3}}), Tensor{{3}, {1, 2, 3}}, kTol).shape_mismatch);
  EXPECT_TRUE(compare_tensor("b4", submitted({{}, {0.5}}), Tensor{{1}, {0.5}}, kTol).passed) << "float(db4)";
  EXPECT_FALSE(compare_tensor("b4", submitted({{}, {-0.5}}), Tensor{{1}, {0.5}}, kTol).passed);
  EXPECT_TRUE(compare_tensor("b1", submitted({{}, {0.5}}), Tensor{{2}, {0.5, 0.5}}, kTol).shape_mismatch);
}

TEST(CompareTensor, ReportsTheWorstElementWithBothValues) {
  const auto c = compare_tensor("W1", submitted({{2, 2}, {1, 2, 3, 5}}), Tensor{{2, 2}, {1, 2.5, 3, 4}}, kTol);
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.mismatched, 2);
  EXPECT_EQ(c.worst_index, (std::vector<int64_t>{1, 1}));  // |5-4| fails by more than |2-2.5|
  EXPECT_EQ(c.worst_actual, 5);
  EXPECT_EQ(c.worst_reference, 4);
  EXPECT_DOUBLE_EQ(c.max_abs_diff, 1.0);
  EXPECT_DOUBLE_EQ(c.max_rel_diff, 0.25);
}

TEST(CompareTensor, NonzeroAgainstZeroReferenceHasInfiniteRelativeDiff) {
  const auto c = compare_tensor("b2", submitted({{1}, {0.5}}), Tensor{{1}, {0.0}}, kTol);
  EXPECT_FALSE(c.passed);
  EXPECT_TRUE(std::isinf(c.max_rel_diff));
}

TEST(CheckReportVerdict, VacuousIsNeverReportedAsAPlainPass) {
  CheckReport r;
  TensorComparison ok;
  ok.passed = true;
  TensorComparison vacuous = ok;
  vacuous.vacuous = true;
  r.parameters = {ok, ok};
  EXPECT_EQ(r.verdict(), Verdict::pass);
  r.parameters.push_back(vacuous);
  EXPECT_EQ(r.verdict(), Verdict::vacuous);
  EXPECT_TRUE(r.passed());
  r.loss_passed = false;
  EXPECT_EQ(r.verdict(), Verdict::fail);
}

TEST(ReportJson, WritesNonFiniteNumbersAsStrings) {
  CheckReport r;
  r.spec = MlpSpec{{1, 1}, {Activation::identity}, Loss::mse, Dtype::float64};
  r.parameters.push_back(compare_tensor("W1", submitted({{1, 1}, {kNaN}}), Tensor{{1, 1}, {1.0}}, kTol));
  // nlohmann's parser is strict: a raw NaN or Infinity token would throw here.
  const auto doc = nlohmann::json::parse(format_report_json(r));
  EXPECT_EQ(doc["parameters"][0]["max_abs_diff"], "nan");
  EXPECT_EQ(doc["parameters"][0]["worst_actual"], "nan");
  EXPECT_EQ(doc["parameters"][0]["passed"], false);
  EXPECT_EQ(doc["passed"], false);
}

}  // namespace
}  // namespace gradverify
