#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace gradverify::cli {

// Options of `gradverify grade`.
struct GradeOptions {
  std::string submission_cmd;   // the command that answers cases over the protocol
  std::string submission_dir = ".";  // where it runs (one submission)
  std::string submissions_dir;  // a whole class: one folder per student, the command run in each
  std::string rubric_path;      // empty: the built-in rubric of the lab
  bool print_rubric = false;    // print the built-in rubric as JSON and exit
  std::string format = "table";  // table, json, gradescope, junit
  std::string output_path;      // a file (one submission) or a directory (a class)
  std::string note_file;        // text for the top-level output, e.g. a build log
  double timeout = 0;           // per case; 0: the rubric's
  double student_timeout = 0;   // per student of a class; 0: three times the per-case timeout
  int64_t memory_mb = 0;        // per case; 0: the rubric's
  int workers = 0;              // a class's parallel workers; 0: one per core
  bool quiet = false;           // no progress on stderr
  std::string isolation = "auto";  // auto, namespaces (required) or basic (sandbox.h's IsolationMode)
  bool check_isolation = false;    // run the hostile probe, print what is contained, and exit
  std::vector<std::string> exposed;  // more directories cases may read
  bool allow_readable_rubric = false;  // grade as root with a rubric others may read
};

void add_grade_command(CLI::App& app, GradeOptions& options);

// Grades and returns 0, whatever the scores; 2 on a bad rubric or option (InputError);
// 128 + the signal when SIGINT, SIGTERM or SIGHUP stopped it (every case is killed first).
int run_grade(const GradeOptions& options);

}  // namespace gradverify::cli
