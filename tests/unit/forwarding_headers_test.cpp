// 0.1's header paths keep working in 0.2: code written against them compiles and checks the
// same. Only the includes below use the old paths.
#include <gtest/gtest.h>

#include "gradverify/compare.h"
#include "gradverify/gradients_file.h"
#include "gradverify/problem.h"
#include "gradverify/reference.h"
#include "gradverify/tolerances.h"
#include "support/problems.h"

namespace gradverify {
namespace {

TEST(ForwardingHeaders, ZeroOneCodeStillBuildsAReportThatAgreesWithTheEntryPoint) {
  const Problem problem = testing::lab_problem(0);
  const ManualResult manual = run_manual_mlp(problem);  // problem.h brings its parts
  SubmittedGradients doubled = as_submitted(manual.gradients);
  for (double& v : doubled["W2"].tensor->values) v *= 2;
  const Tolerances tol = default_tolerances(problem.spec.dtype);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const CheckReport old_way =
      build_report(problem, manual.gradients, manual.loss, doubled, std::nullopt, "student", tol);
#pragma GCC diagnostic pop
  const CheckReport new_way =
      check_gradients(problem, {doubled, "student", std::nullopt, {}}, {manual.loss, manual.gradients, {}});
  EXPECT_EQ(old_way.verdict(), Verdict::fail);
  EXPECT_EQ(old_way.verdict(), new_way.verdict());
  ASSERT_EQ(old_way.parameters.size(), new_way.parameters.size());
  for (size_t i = 0; i < old_way.parameters.size(); ++i)
    EXPECT_EQ(old_way.parameters[i].passed, new_way.parameters[i].passed) << old_way.parameters[i].name;
  EXPECT_FALSE(old_way.first_divergence) << "build_report never diagnosed";
  EXPECT_TRUE(new_way.first_divergence);
  // gradients_file.h, from its old path.
  EXPECT_EQ(parse_gradients_json(gradients_to_json(manual.gradients), "g.json", problem.spec).gradients.size(),
            manual.gradients.size());
}

}  // namespace
}  // namespace gradverify
