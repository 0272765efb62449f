#pragma once
// The fuzz targets: every parser that reads what a student or a course writes. Each takes one
// input as libFuzzer hands it over. InputError is the expected answer to bad input; anything
// else (another exception, a crash, a sanitizer report, a broken invariant, which aborts) is
// a finding. The same functions replay the committed regression inputs in the test suite
// (fuzz_regression_test.cpp), so a fixed crash stays fixed in every build.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gradverify::fuzz {

struct Target {
  const char* name;                  // problem_file, gradients_file, protocol_answer, rubric_file
  void (*run)(std::string_view input);
  // Starting inputs made from the project's own examples: the lab's problem and gradients,
  // the correct answer to each built-in rubric case, the built-in rubric.
  std::vector<std::pair<std::string, std::string>> (*seeds)();  // (file name, contents)
};

const std::vector<Target>& targets();

}  // namespace gradverify::fuzz
