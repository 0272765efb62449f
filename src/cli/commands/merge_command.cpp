// gradverify merge: the shards of a class run (grade --shard K/N), joined into the results
// folder one run over the whole class would have written (class_results.h).
#include "merge_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "class_results.h"
#include "gradverify/errors.h"
#include "output.h"
#include "usage.h"

namespace gradverify::cli {

namespace fs = std::filesystem;

void add_merge_command(CLI::App& app, MergeOptions& o) {
  CLI::App* merge = app.add_subcommand("merge", "Join the shards of a class's grading into one results folder");
  merge->footer(R"(
A class too big for one machine is graded in shards, one job each: a Slurm job array, a
Kubernetes Indexed Job or GNU parallel runs `gradverify grade --submissions DIR --shard K/N
--output shards/K` for K = 1..N. merge checks that the shards are the N of one run (the same
rubric, format and N, each K once, no student twice), then writes into --output what a run
over the whole class would have written: every student's results file and summary.csv,
identical to it apart from the time fields. The shards are left as they were.

Exit status: 0 merged, 2 a shard missing, repeated or from another run, or an output that
can't be written.

Example (docs/grading.md has the Slurm script):
  gradverify merge --output graded/ shards/*)");
  merge->add_option("shards", o.shard_dirs, "The shards' results folders")->required()->check(existing_directory());
  merge->add_option("--output,-o", o.output_path, "The class's results folder to write")->required();
}

int run_merge(const MergeOptions& o) {
  std::vector<std::pair<std::string, ShardManifest>> shards;
  for (const auto& dir : o.shard_dirs) shards.emplace_back(dir, read_shard_manifest(dir));
  const ShardManifest& first = shards.front().second;
  std::map<int, std::string> seen;  // shard index -> its folder
  std::map<std::string, std::pair<std::string, std::string>> students;  // name -> (folder, row)
  for (const auto& [dir, m] : shards) {
    const auto differs = [&](const std::string& what, const std::string& mine, const std::string& theirs) {
      if (mine != theirs)
        throw InputError(dir, what, fmt::format("'{}', but {} has '{}': shards of different runs", mine,
                                                shards.front().first, theirs));
    };
    differs("shards", std::to_string(m.shard.count), std::to_string(first.shard.count));
    differs("rubric_sha256", m.rubric_sha256, first.rubric_sha256);
    differs("results_format", m.format, first.format);
    if (const auto [at, fresh] = seen.emplace(m.shard.index, dir); !fresh)
      throw InputError(dir, "shard",
                       at->second == dir ? fmt::format("given twice (shard {} of {})", m.shard.index, m.shard.count)
                                         : fmt::format("shard {} of {} again: {} is that shard too", m.shard.index,
                                                       m.shard.count, at->second));
    for (size_t i = 0; i < m.students.size(); ++i)
      if (const auto [at, fresh] = students.emplace(m.students[i], std::pair{dir, m.rows[i]}); !fresh)
        throw InputError(dir, "students", "'" + m.students[i] + "' is in " + at->second.first + " too");
  }
  for (int k = 1; k <= first.shard.count; ++k)
    if (!seen.count(k))
      throw InputError("merge", "", fmt::format("shard {} of {} is missing: give every shard's folder", k, first.shard.count));

  require_writable_directory(o.output_path, "results directory");
  // std::map's order is the byte order grade sorts student folders in.
  const std::string extension = results_extension(first.format);
  std::vector<std::string> rows;
  for (const auto& [name, where] : students) {
    const fs::path from = fs::path(where.first) / (name + "." + extension);
    std::error_code error;
    // The file grade wrote: a symlink in its place would copy whatever it points at.
    const auto status = fs::symlink_status(from, error);
    if (error || !fs::is_regular_file(status))
      throw InputError(from.string(), "", "not a regular file: a shard's results are the files grade wrote");
    fs::copy_file(from, fs::path(o.output_path) / from.filename(), fs::copy_options::overwrite_existing, error);
    if (error) throw InputError(from.string(), "", "cannot copy it: " + error.message());
    // The student's journal entry too, which `gradverify report` reads.
    if (const auto entry = read_journal_entry(where.first, name)) write_journal_entry(o.output_path, *entry);
    rows.push_back(where.second);
  }
  if (const auto run = read_class_run(shards.front().first)) write_class_run(o.output_path, *run);
  write_file((fs::path(o.output_path) / "summary.csv").string(), summary_csv(first.header, rows));
  std::cout << fmt::format("gradverify: merged {} shards ({} students, rubric '{}') into {}\n", shards.size(),
                           students.size(), first.rubric, o.output_path);
  return kPass;
}

}  // namespace gradverify::cli
