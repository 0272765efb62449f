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
  std::string rubric_path;      // a rubric file; empty: the built-in one named below
  std::string builtin_rubric = "lab";  // lab or multiclass (rubric.h)
  bool print_rubric = false;    // print the built-in rubric as JSON and exit
  std::string format = "table";  // table, json, gradescope, prairielearn, classroom, junit
  std::string output_path;      // a file (one submission) or a directory (a class)
  std::string note_file;        // text for the top-level output, e.g. a build log
  std::string build_failure;    // the compiler's message of a submission that did not build
  double timeout = 0;           // per case; 0: the rubric's
  double student_timeout = 0;   // per student of a class; 0: three times the per-case timeout
  int64_t memory_mb = 0;        // per case; 0: the rubric's
  int workers = 0;              // a class's parallel workers; 0: one per core
  std::string shard;            // "K/N": grade shard K of N of the class (class_results.h)
  bool quiet = false;           // no progress on stderr
  bool resume = false;          // a class: require a journal of the same run in --output, and resume it
  bool fresh = false;           // a class: discard --output's journal and grade every student
  std::string isolation = "auto";  // auto, namespaces (required) or basic (sandbox.h's IsolationMode)
  bool check_isolation = false;    // run the hostile probe, print what is contained, and exit
  std::vector<std::string> exposed;  // more directories cases may read
  bool allow_readable_rubric = false;  // grade as root with a rubric others may read
  std::string references_path;  // stored references (references.h): no LibTorch is loaded
  std::string student_id;       // picks the student's variant of the stored references
  std::string submission_metadata;  // Gradescope's submission_metadata.json: its users' ids pick it
};

void add_grade_command(CLI::App& app, GradeOptions& options);

// Grades and returns 0, whatever the scores; 2 on a bad rubric or option (InputError);
// 128 + the signal when SIGINT, SIGTERM or SIGHUP stopped it (every case is killed first).
int run_grade(const GradeOptions& options);

}  // namespace gradverify::cli
