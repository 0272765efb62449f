// Writes a target's seed corpus: fuzz_seeds <target> <directory>. scripts/fuzz runs it.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "fuzz_targets.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <target> <directory>\n", argv[0]);
    return 2;
  }
  for (const auto& t : gradverify::fuzz::targets()) {
    if (std::strcmp(t.name, argv[1]) != 0) continue;
    std::filesystem::create_directories(argv[2]);
    for (const auto& [name, contents] : t.seeds())
      std::ofstream(std::filesystem::path(argv[2]) / ("seed_" + name), std::ios::binary) << contents;
    return 0;
  }
  std::fprintf(stderr, "%s: no fuzz target named %s\n", argv[0], argv[1]);
  return 2;
}
