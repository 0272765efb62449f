#pragma once
// Library code reports mismatches as data (see compare.h) and throws InputError on misuse:
// a malformed file, a wrong shape, an unknown name. The message names the source (a file
// path or an option), the field and what was expected; the CLI prints it and exits 2.
#include <stdexcept>
#include <string>

namespace gradverify {

class InputError : public std::runtime_error {
 public:
  // what() reads "<source>: <field>: <problem>", or "<source>: <problem>" when field is empty.
  InputError(const std::string& source, const std::string& field, const std::string& problem)
      : std::runtime_error(source + ": " + (field.empty() ? "" : field + ": ") + problem), problem_(problem) {}
  // What was wrong, without where: for a caller that says where itself (a rubric's case).
  const std::string& problem() const { return problem_; }

 private:
  std::string problem_;
};

}  // namespace gradverify
