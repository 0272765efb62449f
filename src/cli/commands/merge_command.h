#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace gradverify::cli {

// Options of `gradverify merge`.
struct MergeOptions {
  std::vector<std::string> shard_dirs;  // each written by grade --shard K/N --output DIR
  std::string output_path;              // the class's results directory
};

void add_merge_command(CLI::App& app, MergeOptions& options);
int run_merge(const MergeOptions& options);

}  // namespace gradverify::cli
