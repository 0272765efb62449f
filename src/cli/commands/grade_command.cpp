// gradverify grade: a submission (or a whole class) against a rubric, over the protocol of
// docs/grading.md. References are computed here, by LibTorch, before any submission runs;
// submissions run in sandboxes (sandbox.h) and never see them.
#include "grade_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "gradverify/errors.h"
#include "gradverify/grading/grading.h"
#include "net_options.h"
#include "output.h"
#include "torch_backend.h"

namespace gradverify::cli {

void add_grade_command(CLI::App& app, GradeOptions& o) {
  CLI::App* grade = app.add_subcommand("grade", "Grade submissions against a rubric, with partial credit and isolation");
  grade->footer(R"(
A submission is a command. For each case of the rubric, gradverify starts it, writes one
JSON request to its stdin and reads one JSON answer from its stdout (the protocol is in
docs/grading.md): an activation, linear or loss backward on given inputs, or a whole MLP's
gradients.json. Answers are compared with LibTorch's, computed here first, as `check`
compares them; each case's feedback has the per-gradient table and the hints.

Each case runs in its own process group with limits on CPU time, memory, file size, open
files and processes, a wall-clock timeout that kills the group, stdout capped at 16 MiB,
stderr kept for feedback, and only PATH, HOME, TMPDIR and LANG in its environment. Run as
root (as on Gradescope), it runs as nobody. A crash, hang, flood or malformed answer costs
that case only; nothing a submission prints or writes changes a score. The results file is
written once, atomically, after every case's processes are gone.

Without --rubric, the lab's built-in rubric (--print-rubric shows it; edit a copy to make
your own): op cases for every piece and whole-net cases, some hidden. Hidden cases are
generated from their seeds here, at grading time.

A whole class: --submissions DIR runs --submission-cmd in each folder of DIR (one per
student), N at a time, and writes DIR's results into --output (a directory): one results
file per student and summary.csv (student, total, points per case).

Exit status: 0 graded (whatever the scores), 2 a bad rubric, option or folder,
4 an internal error.

Examples:
  gradverify grade --submission-cmd "python3 solution.py"
  gradverify grade --submission-cmd ./runner --format gradescope --output results.json
  gradverify grade --submissions class/ --submission-cmd ./runner --output graded/
  gradverify grade --print-rubric > rubric.json)");
  auto* one = grade->add_option("--submission-cmd", o.submission_cmd, "The command that answers the cases");
  grade->add_option("--submission-dir", o.submission_dir, "Where that command runs (one submission)")
      ->capture_default_str()
      ->check(CLI::ExistingDirectory);
  grade->add_option("--submissions", o.submissions_dir, "A class: one folder per student, the command run in each")
      ->check(CLI::ExistingDirectory);
  grade->add_option("--rubric", o.rubric_path, "A rubric file [default: the lab's built-in rubric]")
      ->check(CLI::ExistingFile);
  grade->add_flag("--print-rubric", o.print_rubric, "Print the built-in rubric as JSON and exit")->excludes(one);
  grade->add_option("--format", o.format, "table, json, gradescope (results.json) or junit")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "gradescope", "junit"}));
  grade->add_option("--output,-o", o.output_path,
                    "The results file (one submission) or directory (a class) [default: stdout]");
  grade->add_option("--note-file", o.note_file, "Text to add to the results' top-level output, e.g. a build log")
      ->check(CLI::ExistingFile);
  grade->add_option("--timeout", o.timeout, "Seconds per case [default: the rubric's, 10]")->check(CLI::Range(0.1, 3600.0));
  grade->add_option("--memory-mb", o.memory_mb, "Address space per case [default: the rubric's, 1024]")
      ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
  grade->add_option("--workers", o.workers, "A class's parallel workers [default: one per core]")->check(CLI::Range(1, 256));
  grade->add_flag("--quiet,-q", o.quiet, "No progress on stderr");
}

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string formatted(const GradeResult& r, const std::string& format) {
  if (format == "json") return format_grade_json(r);
  if (format == "gradescope") return format_gradescope(r);
  if (format == "junit") return format_junit(r);
  return format_grade_table(r);
}

// Every reference, by LibTorch, before any submission runs; a case whose reference can't
// tell a right answer from a skeleton is refused.
std::vector<PreparedCase> prepare(const Rubric& rubric) {
  const ReferenceBackend& backend = torch_backend();
  std::vector<PreparedCase> prepared;
  for (const auto& c : rubric.cases) {
    PreparedCase p;
    p.spec = c;
    if (c.kind == CaseKind::op) {
      p.reference = backend.compute_op_reference(c.op);
    } else {
      const ReferenceResult r = backend.compute_reference(c.problem);
      p.reference = r.gradients;
      p.reference_loss = r.loss;
    }
    require_informative_reference(p, rubric.source);
    prepared.push_back(std::move(p));
  }
  return prepared;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// The class's student folders, checked before any work.
std::vector<std::string> student_folders(const GradeOptions& o) {
  namespace fs = std::filesystem;
  if (o.output_path.empty()) throw InputError("--output", "", "grading a class needs --output DIR for the results");
  std::vector<std::string> students;
  for (const auto& entry : fs::directory_iterator(o.submissions_dir))
    if (entry.is_directory()) students.push_back(entry.path().filename().string());
  std::sort(students.begin(), students.end());
  if (students.empty()) throw InputError(o.submissions_dir, "", "no student folders in it (one folder per student)");
  return students;
}

int grade_class(const GradeOptions& o, const std::vector<std::string>& students, const Rubric& rubric,
                const std::vector<PreparedCase>& cases, SandboxLimits limits, const std::vector<std::string>& notes) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(o.output_path, error);
  if (error) throw InputError(o.output_path, "", "cannot create the results directory: " + error.message());
  const std::string extension = o.format == "junit" ? "xml" : o.format == "table" ? "txt" : "json";

  const unsigned workers = o.workers > 0 ? static_cast<unsigned>(o.workers) : std::max(1u, std::thread::hardware_concurrency());
  std::vector<GradeResult> results(students.size());
  std::atomic<size_t> next{0}, done{0};
  std::mutex progress_mutex;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < std::min<size_t>(workers, students.size()); ++w)
    pool.emplace_back([&] {
      for (size_t i = next++; i < students.size(); i = next++) {
        SandboxLimits mine = limits;
        mine.working_directory = (fs::path(o.submissions_dir) / students[i]).string();
        GradeResult r = grade_submission(cases, o.submission_cmd, mine);
        r.rubric = rubric.name;
        r.submission = students[i] + ": " + o.submission_cmd;
        r.notes = notes;
        write_file((fs::path(o.output_path) / (students[i] + "." + extension)).string(), formatted(r, o.format));
        results[i] = std::move(r);
        const size_t finished = ++done;
        if (!o.quiet) {
          std::lock_guard<std::mutex> lock(progress_mutex);
          const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          std::cerr << fmt::format("\rgrade: {}/{} students, {:.1f} s, last: {} {:g}/{:g}   ", finished, students.size(),
                                   elapsed, students[i], results[i].score, results[i].max_score)
                    << std::flush;
        }
      }
    });
  for (auto& t : pool) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!o.quiet) std::cerr << "\n";

  std::string csv = "student,total";
  for (const auto& c : cases) csv += "," + csv_field(c.spec.name);
  csv += "\n";
  for (size_t i = 0; i < students.size(); ++i) {
    csv += csv_field(students[i]) + fmt::format(",{:g}", results[i].score);
    for (const auto& c : results[i].cases) csv += fmt::format(",{:g}", c.score);
    csv += "\n";
  }
  write_file((fs::path(o.output_path) / "summary.csv").string(), csv);
  const double case_count = static_cast<double>(students.size() * cases.size());
  std::cout << fmt::format("gradverify: graded {} submissions ({} cases each) in {:.1f} s with {} workers: {:.2f} "
                           "submissions/s, {:.1f} cases/s; results in {}\n",
                           students.size(), cases.size(), seconds, std::min<size_t>(workers, students.size()),
                           static_cast<double>(students.size()) / seconds, case_count / seconds, o.output_path);
  return kPass;
}

}  // namespace

int run_grade(const GradeOptions& o) {
  if (o.print_rubric) {
    std::cout << builtin_rubric_json();
    return kPass;
  }
  if (o.submission_cmd.empty())
    throw InputError("--submission-cmd", "", "required: the command that answers the cases, e.g. \"python3 solution.py\"");
  // A class writes a directory of results, one submission a file; neither is found unwritable
  // only after every case has run.
  if (o.submissions_dir.empty()) require_writable_file(o.output_path);
  else require_writable_directory(o.output_path, "results directory");
  const Rubric rubric = o.rubric_path.empty() ? builtin_rubric() : load_rubric(o.rubric_path);
  const std::vector<std::string> students = o.submissions_dir.empty() ? std::vector<std::string>{} : student_folders(o);
  std::vector<std::string> notes;
  if (!o.note_file.empty()) notes.push_back(read_text(o.note_file));

  SandboxLimits limits;
  limits.wall_seconds = o.timeout > 0 ? o.timeout : rubric.timeout_seconds;
  limits.cpu_seconds = static_cast<int>(std::ceil(limits.wall_seconds)) + 1;
  limits.address_space_bytes = (o.memory_mb > 0 ? o.memory_mb : rubric.memory_mb) << 20;
  limits.working_directory = std::filesystem::absolute(o.submission_dir).string();
  // A directory the submission can't enter (as nobody, under /root say) would cost every case
  // its points for the grader's set-up, not the student's code: refuse it before any work.
  const std::string first_dir = students.empty() ? limits.working_directory
                                                 : (std::filesystem::path(o.submissions_dir) / students.front()).string();
  SandboxLimits probe = limits;
  probe.working_directory = std::filesystem::absolute(first_dir).string();
  if (const std::string failure = run_sandboxed("exit 0", "", probe).failure(); !failure.empty())
    throw InputError(first_dir, "", "submissions can't run there: " + failure);
  if (!o.quiet) std::cerr << "grade: computing " << rubric.cases.size() << " references with LibTorch\n";
  const std::vector<PreparedCase> cases = prepare(rubric);

  if (!o.submissions_dir.empty()) return grade_class(o, students, rubric, cases, limits, notes);

  const auto on_case = [&](const CaseResult& c, size_t i, size_t total) {
    if (!o.quiet)
      std::cerr << fmt::format("grade: [{}/{}] {:<40} {:g}/{:g}{}\n", i + 1, total, c.name, c.score, c.points,
                               c.failure.empty() ? "" : "  (" + c.failure + ")");
  };
  GradeResult result = grade_submission(cases, o.submission_cmd, limits, on_case);
  result.rubric = rubric.name;
  result.notes = notes;
  const std::string text = formatted(result, o.format);
  // Written once, atomically, after every case's processes are gone.
  write_output(text, o.output_path,
               fmt::format("gradverify: {:g} / {:g} points; results written to {}", result.score, result.max_score,
                           o.output_path));
  return kPass;
}

}  // namespace gradverify::cli
