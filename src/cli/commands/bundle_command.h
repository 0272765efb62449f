#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace gradverify::cli {

// Options of `gradverify autograder-bundle`.
struct BundleOptions {
  std::string rubric_path;  // a rubric file; empty: the built-in one named below
  std::string builtin_rubric = "lab";  // lab or multiclass (rubric.h)
  std::string output_path = "autograder.zip";
  std::string source_dir;   // gradverify's source tree; empty: the one this binary was built from
  int64_t variants = 1;     // inputs per generated case, one per student (references.h)
  std::string language = "cpp";  // the student kit: cpp or python
  std::string secret_from;        // an earlier references file whose secret to keep
};

void add_bundle_command(CLI::App& app, BundleOptions& options);
int run_bundle(const BundleOptions& options);

}  // namespace gradverify::cli
