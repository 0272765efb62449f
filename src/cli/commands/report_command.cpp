// gradverify report: what a graded class gets wrong (class_report.h), as a page, JSON and CSV.
#include "report_command.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "class_report.h"
#include "gradverify/errors.h"
#include "output.h"
#include "usage.h"

namespace gradverify::cli {

void add_report_command(CLI::App& app, ReportOptions& o) {
  CLI::App* report = app.add_subcommand("report", "What a graded class gets wrong: a page, JSON and CSV");
  report->footer(R"(
Reads a graded class: the folder `grade --submissions DIR --output OUT` wrote (its journal
holds every student's results, whatever --format was), the folder `merge` wrote, or a folder
of results files (gradverify's JSON, or Gradescope's results.json with gradverify's
extra_data, at any depth: a results.json is its folder's student). Writes into --output:
  report.html           one self-contained page: the score distribution, each case's pass
                        rate, the mistakes ranked by how many students made them (with the
                        hint they read, the cases and the layers), the cases no one or
                        everyone passed, identical wrong answers, and the students' table
                        (sortable by links, without JavaScript)
  report.json           the same numbers, for scripts
  students.csv, cases.csv, mistakes.csv, identical_answers.csv
                        the same, for spreadsheets
Identical wrong answers are students whose wrong answers to a case, on the same inputs,
are the same numbers (to 6 significant digits). A wrong answer a catalogued mistake explains
ranks low: many students make it alike. It is a list to look at, never a finding.

Exit status: 0 written, 2 a results file that is not one, a student twice, or an output
that can't be written.

Examples:
  gradverify grade --submissions class/ --submission-cmd ./run --output graded/
  gradverify report graded/ --output report/
  gradverify report gradescope_export/ --output report/)");
  report->add_option("results", o.results, "Graded classes' folders, or results files")->required();
  report->add_option("--output,-o", o.output_path, "The folder to write the report into")->required();
}

int run_report(const ReportOptions& o) {
  namespace fs = std::filesystem;
  require_writable_directory(o.output_path, "report directory");  // before the reading, which may be long
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> skipped;
  ClassReport report = analyse_class(read_class_results(o.results, &skipped));
  if (!skipped.empty())
    report.notes.push_back(fmt::format("{} JSON file{} that {} not results {} left out, e.g. {}", skipped.size(),
                                       skipped.size() == 1 ? "" : "s", skipped.size() == 1 ? "is" : "are",
                                       skipped.size() == 1 ? "was" : "were", skipped.front()));
  std::error_code error;
  fs::create_directories(o.output_path, error);
  if (error) throw InputError(o.output_path, "", "cannot create the report directory: " + error.message());
  const auto out = [&](const char* name) { return (fs::path(o.output_path) / name).string(); };
  write_file(out("report.json"), report_json(report));
  write_file(out("students.csv"), students_csv(report));
  write_file(out("cases.csv"), cases_csv(report));
  write_file(out("mistakes.csv"), mistakes_csv(report));
  write_file(out("identical_answers.csv"), identical_csv(report));
  write_file(out("report.html"), report_html(report));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format("gradverify: {} students, {} cases, {} named mistake{}, {} group{} of identical wrong "
                           "answers; the report is {} ({:.2f} s)\n",
                           report.students.size(), report.cases.size(), report.mistakes.size(),
                           report.mistakes.size() == 1 ? "" : "s", report.identical.size(),
                           report.identical.size() == 1 ? "" : "s", out("report.html"), seconds);
  return kPass;
}

}  // namespace gradverify::cli
