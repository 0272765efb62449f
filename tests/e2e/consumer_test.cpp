// gradverify as another project uses it: install it into a temporary prefix, then configure,
// build and run examples/consumer (its own hand-written op, checked with the GoogleTest
// assertions) against that install, and find the package from the build tree too.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/run_command.h"

namespace gradverify {
namespace {

using testing::run_shell;
using testing::temp_path;

const std::string kSource = GRADVERIFY_SOURCE, kBuild = GRADVERIFY_BUILD;

TEST(Consumer, BuildsAndRunsAgainstAFreshInstallAndPrintsTheTableOnAPlantedBug) {
  namespace fs = std::filesystem;
  const fs::path prefix = temp_path("install_prefix"), consumer = temp_path("consumer_build");
  fs::remove_all(prefix);
  fs::remove_all(consumer);
  const auto install = run_shell("cmake --install " + kBuild + " --prefix " + prefix.string() + " >/dev/null");
  ASSERT_EQ(install.exit_code, 0) << install.err;
  for (const char* file : {"lib/cmake/gradverify/gradverifyConfig.cmake", "lib/cmake/gradverify/gradverifyConfigVersion.cmake",
                           "include/gradverify/gtest.h", "include/gradverify/version.h", "bin/gradverify",
                           "lib/gradverify/libgradverify_torch_backend.so"})
    EXPECT_TRUE(fs::exists(prefix / file)) << file;

  const auto configure = run_shell("cmake -S " + kSource + "/examples/consumer -B " + consumer.string() +
                                   " -DCMAKE_PREFIX_PATH=" + prefix.string() + " -DCMAKE_BUILD_TYPE=Release" +
                                   " '-DCMAKE_CXX_FLAGS=" + GRADVERIFY_CONSUMER_CXX_FLAGS + "'");
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  const auto build = run_shell("cmake --build " + consumer.string());
  ASSERT_EQ(build.exit_code, 0) << build.out << build.err;

  const auto passing = run_shell((consumer / "swish_test").string());
  EXPECT_EQ(passing.exit_code, 0) << passing.out;
  const auto planted = run_shell("env SWISH_PLANT_BUG=1 " + (consumer / "swish_test").string());
  EXPECT_NE(planted.exit_code, 0);
  EXPECT_NE(planted.out.find("dx (u #1)"), std::string::npos) << planted.out;
  EXPECT_NE(planted.out.find("FAIL: the op's forward or backward differs from LibTorch's"), std::string::npos)
      << planted.out;

  // The installed CLI finds its LibTorch plug-in in lib/gradverify.
  EXPECT_EQ(run_shell((prefix / "bin/gradverify").string() + " check >/dev/null").exit_code, 0);
}

TEST(Consumer, FindsThePackageFromTheBuildTree) {
  const std::string consumer = temp_path("consumer_from_build_tree");
  std::filesystem::remove_all(consumer);
  const auto configure = run_shell("cmake -S " + kSource + "/examples/consumer -B " + consumer +
                                   " -Dgradverify_DIR=" + kBuild);
  EXPECT_EQ(configure.exit_code, 0) << configure.out << configure.err;
}

}  // namespace
}  // namespace gradverify
