// Negative controls for the sanitizer build (GRADVERIFY_SANITIZE=ON, scripts/sanitize): a
// suite that passes under the sanitizers proves something only if the sanitizers are live.
// Each test plants one fault of the kind they exist to catch and requires the process to die
// with the sanitizer's own report. Built only in that configuration (see tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <climits>
#include <vector>

namespace {

// volatile so that neither fault is folded away or proved unreachable by the compiler.
int read_element(int length, int index) {
  std::vector<int> values(static_cast<std::size_t>(length), 1);
  volatile int where = index;
  return values.data()[where];
}

int add_signed(int a, int b) {
  volatile int sum = a + b;
  return sum;
}

}  // namespace

TEST(SanitizerCanaryDeathTest, AddressSanitizerCatchesAHeapOverflow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(read_element(4, 4), "AddressSanitizer: heap-buffer-overflow");
}

TEST(SanitizerCanaryDeathTest, UndefinedBehaviorSanitizerStopsAtSignedOverflow) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  volatile int big = INT_MAX;
  // -fno-sanitize-recover=all makes the first report fatal; without it this would carry on.
  EXPECT_DEATH(add_signed(big, 1), "runtime error: signed integer overflow");
}

TEST(SanitizerCanaryDeathTest, InBoundsCodeRunsCleanly) {
  // The control for the controls: the same functions, used correctly, do not die.
  EXPECT_EQ(read_element(4, 3), 1);
  EXPECT_EQ(add_signed(INT_MAX - 1, 1), INT_MAX);
}
