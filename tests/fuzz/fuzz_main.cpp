// libFuzzer's entry point for one target, chosen at compile time (GRADVERIFY_FUZZ_TARGET).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz_targets.h"

namespace {

const gradverify::fuzz::Target& this_target() {
  for (const auto& t : gradverify::fuzz::targets())
    if (std::strcmp(t.name, GRADVERIFY_FUZZ_TARGET) == 0) return t;
  std::fprintf(stderr, "no fuzz target named %s\n", GRADVERIFY_FUZZ_TARGET);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gradverify::fuzz::Target& target = this_target();
  target.run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
