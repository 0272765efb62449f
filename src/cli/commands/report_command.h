#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace gradverify::cli {

// Options of `gradverify report`.
struct ReportOptions {
  std::vector<std::string> results;  // class folders, folders of results files, or results files
  std::string output_path;           // the folder the page, JSON and CSV go into
};

void add_report_command(CLI::App& app, ReportOptions& options);
int run_report(const ReportOptions& options);

}  // namespace gradverify::cli
