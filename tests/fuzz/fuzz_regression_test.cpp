// Every fuzz target's seeds, and every input fuzzing found a fault with, run through the same
// code libFuzzer runs (fuzz_targets.cpp): in this build, with its sanitizers if it has them.
// A target that crashes or breaks an invariant aborts the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/fuzz_targets.h"

namespace gradverify::fuzz {
namespace {

const Target& target(const std::string& name) {
  for (const auto& t : targets())
    if (t.name == name) return t;
  throw std::runtime_error("no fuzz target " + name);
}

class FuzzTarget : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzTarget, RunsItsSeeds) {
  const auto seeds = target(GetParam()).seeds();
  ASSERT_FALSE(seeds.empty());
  for (const auto& [name, contents] : seeds) {
    SCOPED_TRACE(name);
    target(GetParam()).run(contents);
  }
}

TEST_P(FuzzTarget, RunsEveryRegressionInput) {
  const std::filesystem::path dir = std::filesystem::path(GRADVERIFY_FUZZ_REGRESSIONS) / GetParam();
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    target(GetParam()).run(text.str());
  }
}

INSTANTIATE_TEST_SUITE_P(All, FuzzTarget,
                         ::testing::Values("problem_file", "gradients_file", "protocol_answer", "rubric_file"),
                         [](const auto& test_info) { return test_info.param; });

}  // namespace
}  // namespace gradverify::fuzz
