#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace gradverify::cli {

// Options of `gradverify references`.
struct ReferencesOptions {
  std::string rubric_path;  // a rubric file; empty: the built-in one named below
  std::string builtin_rubric = "lab";  // lab or multiclass (rubric.h)
  int64_t variants = 1;     // per generated case
  std::string output_path;
  std::string secret_from;  // an earlier references file whose secret (students' variants) to keep
  bool quiet = false;
};

void add_references_command(CLI::App& app, ReferencesOptions& options);
int run_references(const ReferencesOptions& options);

}  // namespace gradverify::cli
