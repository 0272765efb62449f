// gradverify grade: a submission (or a whole class) against a rubric, over the protocol of
// docs/grading.md. References are computed here, by LibTorch, before any submission runs, or
// read from stored references (--references, references.h) without loading LibTorch;
// submissions run in sandboxes (sandbox.h) and never see them.
#include "grade_command.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "class_results.h"
#include "core/problem/json_tensor.h"
#include "gradverify/errors.h"
#include "gradverify/grading/grading.h"
#include "gradverify/grading/isolation.h"
#include "gradverify/grading/references.h"
#include "gradverify/grading/results_formats.h"
#include "gradverify/version.h"
#include "net_options.h"
#include "output.h"
#include "torch_backend.h"
#include "usage.h"

namespace gradverify::cli {

void add_grade_command(CLI::App& app, GradeOptions& o) {
  CLI::App* grade = app.add_subcommand("grade", "Grade submissions against a rubric, with partial credit and isolation");
  grade->footer(R"(
A submission is a command. For each case of the rubric, gradverify starts it, writes one
JSON request to its stdin and reads one JSON answer from its stdout (the protocol is in
docs/grading.md): an activation, linear or loss backward on given inputs, or a whole MLP's
gradients.json. Answers are compared with LibTorch's, computed here first, as `check`
compares them; each case's feedback has the per-gradient table and the hints.

Each case runs in a fresh copy of the submission's directory, in a world of its own made by
bubblewrap where the machine allows: its own PID, mount and network namespaces, the system
read-only, private /tmp, and nothing of the grader, its rubric or other submissions in
sight. Around that: a uid of its own (as root), a cgroup for memory and processes where one
can be made, rlimits, a wall-clock timeout, stdout capped at 16 MiB, stderr kept for feedback
(control characters escaped), and only PATH, HOME, TMPDIR and LANG in its environment.
--check-isolation tries each protection with a hostile probe and prints what holds here.
A crash, hang, flood or malformed answer costs that case only; nothing a submission prints
or writes changes a score. The results file is written once, atomically, after every case's
processes are gone. SIGINT, SIGTERM or SIGHUP kill every running case before the grader
exits.

Without --rubric, the first lab's built-in rubric, builtin:lab (--print-rubric shows it; edit
a copy to make your own): op cases for every piece and whole-net cases, some hidden.
--rubric builtin:multiclass is the next lab's: leaky ReLU, softmax cross-entropy (logits of
±1000 among them) and 784-64-10 nets with weight decay. Hidden cases are generated from
their seeds here, at grading time.

--references FILE (made by `gradverify references`) grades with stored references instead:
LibTorch is never loaded, so the grader starts in milliseconds, and a machine without
LibTorch can grade. With variants in FILE, each student's inputs are their own: the variant
is picked from --student-id, from Gradescope's --submission-metadata, or in a class from the
student's folder name, the same on every regrade.

A whole class: --submissions DIR runs --submission-cmd in each folder of DIR (one per
student), N at a time, and writes DIR's results into --output (a directory): one results
file per student, written as they finish, and summary.csv (student, total, points per case).
A journal in --output records each finished student: run again after a kill, a reboot or
Ctrl-C, grade grades only the students not done, and those whose folder changed since
(--fresh grades everyone again). A student the grader itself fails on is recorded as a grader
error, and the run goes on. On a cluster, each job of an array grades one shard (--shard K/N,
with its own --output), and `gradverify merge` joins the shards into what one run would have
written (docs/grading.md has a Slurm example). `gradverify report` reads the results.

Exit status: 0 graded (whatever the scores), 2 a bad rubric, option or folder,
4 an internal error, 128 + N stopped by signal N (130 for Ctrl-C).

Examples:
  gradverify grade --submission-cmd "python3 solution.py"
  gradverify grade --submission-cmd ./runner --format gradescope --output results.json
  gradverify grade --submissions class/ --submission-cmd ./runner --output graded/
  gradverify grade --submissions class/ --submission-cmd ./runner --shard 2/8 --output shards/2
  gradverify grade --print-rubric -o rubric.json
  gradverify grade --rubric builtin:multiclass --submission-cmd ./build/runner
  gradverify grade --check-isolation)");
  auto* one = grade->add_option("--submission-cmd", o.submission_cmd, "The command that answers the cases");
  grade->add_option("--submission-dir", o.submission_dir, "Where that command runs (one submission)")
      ->capture_default_str()
      ->check(existing_directory());
  grade->add_option("--submissions", o.submissions_dir, "A class: one folder per student, the command run in each")
      ->check(existing_directory());
  add_rubric_option(grade, o.rubric_path, o.builtin_rubric);
  grade->add_flag("--print-rubric", o.print_rubric,
                  "Print a built-in rubric as JSON (builtin:lab, or the one --rubric names; with -o, into a file "
                  "only its owner reads) and exit")
      ->excludes(one);
  grade->add_option("--format", o.format,
                    "table, json, gradescope (results.json), prairielearn (results.json), classroom (GitHub "
                    "Classroom's command grader; also appended to $GITHUB_OUTPUT) or junit")
      ->capture_default_str()
      ->check(one_of({"table", "json", "gradescope", "prairielearn", "classroom", "junit"}));
  grade->add_option("--output,-o", o.output_path,
                    "The results file (one submission) or directory (a class) [default: stdout]");
  grade->add_option("--note-file", o.note_file, "Text to add to the results' top-level output, e.g. a build log")
      ->check(existing_file());
  grade->add_option("--build-failure", o.build_failure,
                    "The submission did not build, and FILE holds the compiler's message: write results with one "
                    "failed Build test (PrairieLearn: not gradable) and run nothing")
      ->check(existing_file());
  grade->add_option("--shard", o.shard,
                    "K/N: grade only shard K of N of the class (every N-th student from the K-th); "
                    "`gradverify merge` joins the shards' results");
  grade->add_option("--timeout", o.timeout, "Seconds per case [default: the rubric's, 10]")->check(number_from(0.1, 3600.0));
  grade->add_option("--student-timeout", o.student_timeout,
                    "A class's seconds per student, all cases together; the cases left score 0 [default: 3 x --timeout]")
      ->check(number_from(1, 86400));
  grade->add_option("--memory-mb", o.memory_mb, "Address space per case [default: the rubric's, 1024]")
      ->check(whole_number_from(int64_t{16}, int64_t{1} << 20));
  grade->add_option("--workers", o.workers, "A class's parallel workers [default: one per core]")->check(whole_number_from(1, 256));
  grade->add_flag("--quiet,-q", o.quiet, "No progress on stderr");
  auto* resume = grade->add_flag("--resume", o.resume,
                                 "A class: resume the run --output's journal records, and refuse if it records "
                                 "none [default: resumed whenever it records the same run]");
  grade->add_flag("--fresh", o.fresh, "A class: discard --output's journal and grade every student again")
      ->excludes(resume);
  grade->add_option("--isolation", o.isolation,
                    "auto (namespaces where bwrap works here), namespaces (refuse without them) or basic")
      ->capture_default_str()
      ->check(one_of({"auto", "namespaces", "basic"}));
  grade->add_flag("--check-isolation", o.check_isolation,
                  "Try each protection with a hostile probe, print what is contained here, and exit");
  grade->add_option("--expose", o.exposed, "A directory cases may also read, read-only (e.g. a course's venv)")
      ->check(existing_directory());
  grade->add_flag("--allow-readable-rubric", o.allow_readable_rubric,
                  "As root, grade even though other users may read --rubric or --references (hidden cases)");
  grade->add_option("--references", o.references_path,
                    "Stored references (gradverify references): grade with them, without LibTorch")
      ->check(existing_file());
  auto* student_id = grade->add_option("--student-id", o.student_id,
                                       "Whose variant of --references to grade [a class: each folder's name]");
  grade->add_option("--submission-metadata", o.submission_metadata,
                    "Gradescope's submission_metadata.json: its users' ids pick the variant of --references")
      ->check(existing_file())
      ->excludes(student_id);
}

namespace {

// SIGINT, SIGTERM and SIGHUP while grading: every running case is killed, the grader's clean-up
// removes their files, and run_grade exits 128 + N. The signals are blocked in every thread
// and waited for in one of their own, so the stop is ordinary code, not a signal handler.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    for (int s : {SIGINT, SIGTERM, SIGHUP, kWake}) sigaddset(&set_, s);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
    watcher_ = std::thread([this] {
      for (;;) {
        const int s = sigwaitinfo(&set_, nullptr);
        if (s == kWake && done_) return;
        if (s > 0 && s != kWake) {
          received_ = s;
          stop_all_cases();
          return;
        }
      }
    });
  }
  ~StopSignals() {
    // Woken at once, not at its next tick: every grade run ends here.
    done_ = true;
    pthread_kill(watcher_.native_handle(), kWake);
    watcher_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  int received() const { return received_; }

 private:
  static inline const int kWake = SIGRTMIN;  // the destructor's, blocked like the others
  sigset_t set_{}, previous_{};
  std::atomic<bool> done_{false};
  std::atomic<int> received_{0};
  std::thread watcher_;
};

int stopped_by(int signal, const std::string& what) {
  std::cerr << fmt::format("gradverify: stopped by {}: every running case was killed and its files removed; {}\n",
                           signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "SIGHUP", what);
  return 128 + signal;
}

IsolationMode isolation_mode(const std::string& name) {
  if (name == "namespaces") return IsolationMode::namespaces;
  if (name == "basic") return IsolationMode::basic;
  return IsolationMode::automatic;
}

std::string formatted(const GradeResult& r, const std::string& format) {
  if (format == "json") return format_grade_json(r);
  if (format == "gradescope") return format_gradescope(r);
  if (format == "junit") return format_junit(r);
  if (format == "prairielearn") return format_prairielearn(r);
  if (format == "classroom") return format_classroom(r);
  return format_grade_table(r);
}

// The cases as graded, with their references: LibTorch's, computed here before any submission
// runs (a case whose reference can't tell a right answer from a skeleton is refused), or
// read from --references, one set per variant students get.
class GradedCases {
 public:
  GradedCases(const Rubric& rubric, const std::optional<StoredReferences>& stored) : rubric_(rubric), stored_(stored) {
    if (stored_) return;
    const ReferenceSource source = torch_reference_source();
    for (const auto& c : rubric.cases) computed_.push_back(prepare_case(c, source, rubric.source));
  }
  // The variant a student gets: -1 when the references are computed here (there is one).
  int64_t variant_for(const std::string& student_id) const {
    return stored_ ? stored_->variant_for(student_id) : -1;
  }
  // Makes a variant's cases (regenerated, checked against their hashes) the first time.
  void prepare(int64_t variant) {
    if (stored_ && !variants_.count(variant)) variants_.emplace(variant, prepare_variant(rubric_, *stored_, variant));
  }
  // A prepared variant's cases: const, so that workers only read.
  const std::vector<PreparedCase>& cases(int64_t variant) const { return stored_ ? variants_.at(variant) : computed_; }

 private:
  const Rubric& rubric_;
  const std::optional<StoredReferences>& stored_;
  std::vector<PreparedCase> computed_;
  std::map<int64_t, std::vector<PreparedCase>> variants_;
};

// The class's student folders, checked before any work.
std::vector<std::string> student_folders(const GradeOptions& o) {
  namespace fs = std::filesystem;
  if (o.output_path.empty()) throw InputError("--output", "", "grading a class needs --output DIR for the results");
  std::vector<std::string> students;
  // The results folder inside the class's is not a student.
  std::error_code error;
  const fs::path results = fs::weakly_canonical(o.output_path, error);
  for (const auto& entry : fs::directory_iterator(o.submissions_dir))
    if (entry.is_directory() && fs::weakly_canonical(entry.path(), error) != results)
      students.push_back(entry.path().filename().string());
  std::sort(students.begin(), students.end());
  if (students.empty()) throw InputError(o.submissions_dir, "", "no student folders in it (one folder per student)");
  return o.shard.empty() ? students : shard_students(students, parse_shard(o.shard));
}

// What this class run grades, checked against --output's journal before any work: a journal
// of another run is neither resumed nor overwritten unless --fresh says so.
ClassRun class_run_to_resume(const GradeOptions& o, const Rubric& rubric) {
  std::string exposed;
  for (const auto& e : o.exposed) exposed += (exposed.empty() ? "" : " ") + e;
  const ClassRun run{
      rubric_sha256(rubric),
      o.references_path.empty() ? "" : text_sha256(detail::read_text_file(o.references_path)),
      o.submission_cmd,
      o.format,
      kVersion,
      // What a score depends on besides the rubric: a rerun with a longer timeout is another run.
      fmt::format("--timeout {:g} --student-timeout {:g} --memory-mb {} --isolation {} --expose [{}] --note-file {}",
                  o.timeout, o.student_timeout, o.memory_mb, o.isolation, exposed,
                  o.note_file.empty() ? "none" : text_sha256(detail::read_text_file(o.note_file))),
      o.shard,
      std::filesystem::absolute(o.submissions_dir).lexically_normal().string()};
  if (o.fresh) return run;  // whatever the journal holds, even one that can't be read, is discarded
  const std::optional<ClassRun> journal = read_class_run(o.output_path);
  if (!journal && o.resume) throw InputError("--resume", "", o.output_path + " holds no journal of a class run to resume");
  if (journal) {
    const std::string difference = class_run_difference(run, *journal);
    if (!difference.empty())
      throw InputError(journal_directory(o.output_path), "run.json",
                       "a class run of another rubric, references, command or format (" + difference +
                           "): give --fresh to grade everyone again into it, or another --output");
  }
  return run;
}

int grade_class(const GradeOptions& o, const std::vector<std::string>& students, const Rubric& rubric,
                const ClassRun& run, GradedCases& graded, SandboxLimits limits, const std::vector<std::string>& notes,
                const StopSignals& stop) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(o.output_path, error);
  if (error) throw InputError(o.output_path, "", "cannot create the results directory: " + error.message());
  const std::string extension = results_extension(o.format);
  // Each student's variant, by their folder's name; every variant's cases made before the workers start.
  std::vector<int64_t> variant(students.size());
  for (size_t i = 0; i < students.size(); ++i) graded.prepare(variant[i] = graded.variant_for(students[i]));

  // The journal: students a killed run of the same rubric, references, command and format
  // finished are kept, unless their folder changed since, the grader failed on them, or their
  // results file is gone.
  const JournalLock one_run_at_a_time(o.output_path);
  if (o.fresh) remove_journal(o.output_path);
  write_class_run(o.output_path, run);
  const auto results_path = [&](size_t i) { return (fs::path(o.output_path) / (students[i] + "." + extension)).string(); };
  std::vector<std::string> source(students.size());
  std::vector<std::optional<JournalEntry>> entries(students.size());
  size_t kept = 0;
  for (size_t i = 0; i < students.size(); ++i) {
    source[i] = folder_sha256((fs::path(o.submissions_dir) / students[i]).string());
    auto entry = read_journal_entry(o.output_path, students[i]);
    if (entry && entry->source_sha256 == source[i] && entry->variant == variant[i] && entry->grader_error.empty() &&
        fs::is_regular_file(results_path(i), error))
      entries[i] = std::move(entry), ++kept;
  }
  if (kept > 0 && !o.quiet)
    std::cerr << fmt::format("grade: resuming: {} of {} students were graded already (the journal in {}); grading "
                             "the other {}\n",
                             kept, students.size(), journal_directory(o.output_path), students.size() - kept);

  const unsigned workers = o.workers > 0 ? static_cast<unsigned>(o.workers) : std::max(1u, std::thread::hardware_concurrency());
  std::atomic<size_t> next{0}, done{kept}, grader_errors{0};
  std::vector<std::string> unwritten;  // students whose results could not be written, and why
  std::mutex progress_mutex;
  Progress progress(o.quiet);
  // A student whose cases hang can't hold the class: each gets a budget for all their cases.
  const double student_budget = o.student_timeout > 0 ? o.student_timeout : 3 * limits.wall_seconds;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < std::min<size_t>(workers, students.size()); ++w)
    pool.emplace_back([&] {
      for (size_t i = next++; i < students.size() && !cases_stopped(); i = next++) {
        if (entries[i]) continue;  // graded by the run this one resumes
        SandboxLimits mine = limits;
        mine.working_directory = (fs::path(o.submissions_dir) / students[i]).string();
        GradeResult r;
        try {
          if (const char* fault = std::getenv("GRADVERIFY_TEST_GRADER_ERROR"); fault && students[i] == fault)
            throw std::runtime_error("a grader error injected for this test (GRADVERIFY_TEST_GRADER_ERROR)");
          r = grade_submission(graded.cases(variant[i]), o.submission_cmd, mine, {}, student_budget);
        } catch (const std::exception& e) {
          // It must not happen; if it does, it costs this student's grading, not the class's.
          r = grader_error_result(graded.cases(variant[i]), e.what());
          ++grader_errors;
        }
        if (cases_stopped()) return;  // this student's results are incomplete: none are written
        r.rubric = rubric.name;
        r.submission = students[i] + ": " + o.submission_cmd;
        r.notes = notes;
        r.isolation = isolation_status(mine).summary();  // decided by the first case
        r.variant = variant[i];
        // The results file, then the journal's entry: a kill between the two regrades the student.
        // A file that can't be written (a full disk, a name too long) costs this student only.
        try {
          write_file(results_path(i), formatted(r, o.format));
          write_journal_entry(o.output_path, {students[i], source[i], variant[i], summary_row(students[i], r),
                                              r.grader_error, format_grade_json(r)});
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(progress_mutex);
          unwritten.push_back(printable(students[i]) + ": " + e.what());
          continue;
        }
        const size_t finished = ++done;
        std::lock_guard<std::mutex> lock(progress_mutex);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        progress.update(fmt::format("grade: {}/{} students, {:.1f} s, last: {} {:g}/{:g}", finished, students.size(),
                                    elapsed, printable(students[i]), r.score, r.max_score),
                        finished, students.size());
      }
    });
  for (auto& t : pool) t.join();
  progress.finish();
  if (!o.quiet) std::cerr << "grade: isolation: " << isolation_status(limits).summary() << "\n";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stop.received() != 0)
    return stopped_by(stop.received(), fmt::format("the {} students graded before it are in {}, with a journal; run "
                                                   "the same command again to grade the rest",
                                                   done.load(), o.output_path));

  if (!unwritten.empty())
    throw InputError(o.output_path, "",
                     fmt::format("the results of {} student{} could not be written ({}); the others are written, "
                                 "with the journal: fix that and run the same command again to grade the rest",
                                 unwritten.size(), unwritten.size() == 1 ? "" : "s", unwritten.front()));
  // summary.csv from the journal, the one record of who is done, whichever run graded them;
  // entries of students whose folder is gone since are dropped, so that both list the class.
  prune_journal(o.output_path, students);
  std::vector<std::string> rows;
  for (size_t i = 0; i < students.size(); ++i) {
    const auto entry = read_journal_entry(o.output_path, students[i]);
    if (!entry) throw std::runtime_error("the journal lost the entry of " + students[i]);
    rows.push_back(entry->summary_row);
  }
  write_file((fs::path(o.output_path) / "summary.csv").string(), summary_csv(summary_header(rubric), rows));
  if (!o.shard.empty()) {
    // For `gradverify merge`: which shard this is, and its rows, to join with the others'.
    fs::create_directories(fs::path(shard_manifest_path(o.output_path)).parent_path(), error);
    if (error) throw InputError(o.output_path, "", "cannot create its gradverify-shard folder: " + error.message());
    write_file(shard_manifest_path(o.output_path),
               shard_manifest_json({parse_shard(o.shard), rubric.name, rubric_sha256(rubric), o.format,
                                    summary_header(rubric), students, rows}));
  }
  const double case_count = static_cast<double>((students.size() - kept) * rubric.cases.size());
  const size_t used = std::min<size_t>(workers, students.size());
  if (kept < students.size())
    std::cout << fmt::format("gradverify: graded {} submission{}{} ({} cases each) in {:.1f} s with {} worker{}: {:.2f} "
                             "submissions/s, {:.1f} cases/s; results in {}\n",
                             students.size() - kept, students.size() - kept == 1 ? "" : "s",
                             o.shard.empty() ? "" : " (shard " + o.shard + ")", rubric.cases.size(), seconds, used,
                             used == 1 ? "" : "s", static_cast<double>(students.size() - kept) / seconds,
                             case_count / seconds, o.output_path);
  if (kept > 0)
    std::cout << fmt::format("gradverify: {} {} graded by the run this one resumed{}\n", kept,
                             kept == 1 ? "student was" : "students were",
                             kept == students.size() ? "; nothing was left to grade, and summary.csv is rewritten" : "");
  if (grader_errors > 0)
    std::cout << fmt::format("gradverify: the grader failed on {} student{} (their results say so); run the same "
                             "command again to regrade them\n",
                             grader_errors.load(), grader_errors == 1 ? "" : "s");
  return kPass;
}

// The rubric holds the hidden cases' seeds, stored references their answers. As root, cases
// run as other uids, so such a file others may read is refused where cases could see the
// file (no namespaces), unless --allow-readable-rubric; with namespaces they can't, and a
// warning is enough. Only such a file needs the sandbox tried before the first case.
void require_private(const std::string& path, const GradeOptions& o, const SandboxLimits& limits) {
  struct stat st {};
  if (path.empty() || o.allow_readable_rubric || geteuid() != 0 || stat(path.c_str(), &st) != 0 ||
      !S_ISREG(st.st_mode) || (st.st_mode & S_IROTH) == 0)
    return;
  const std::string mode = fmt::format("other users may read it (mode {:04o})", st.st_mode & 07777);
  if (!isolation_status(limits).namespaces)
    throw InputError(path, "",
                     mode + ", and so may a submission here (no namespaces); its hidden cases must stay "
                            "private: chmod 600 it, or pass --allow-readable-rubric");
  if (!o.quiet)
    std::cerr << "grade: warning: " << path << ": " << mode
              << "; cases can't see it here (namespaces), but chmod 600 keeps it private on any machine\n";
}

// A machine that can't give --isolation namespaces is refused before any work, not in every
// case. Otherwise there is no start-up probe: the first case finds out what the sandbox gives.
void require_isolation(const SandboxLimits& limits) {
  if (limits.isolation != IsolationMode::namespaces) return;
  const IsolationStatus status = isolation_status(limits);
  if (!status.namespaces)
    throw InputError("--isolation", "namespaces", "unavailable on this machine: " + status.bubblewrap);
}

// "--submission-dir: /home/me: holds more than 256 MiB; ..." (the default is the current
// directory, so the option is named: it is how to give a smaller one).
void require_submission_directory(const std::string& dir, const SandboxLimits& limits) {
  try {
    require_copyable_submission(dir, limits);
  } catch (const std::invalid_argument& e) {
    std::string shown = std::filesystem::path(dir).lexically_normal().string();
    if (shown.size() > 1 && shown.back() == '/') shown.pop_back();  // "/home/me/." -> "/home/me"
    throw InputError("--submission-dir", shown, e.what());
  }
}

// Appends to the file an environment variable names, as GitHub Actions' $GITHUB_OUTPUT and
// $GITHUB_STEP_SUMMARY are written; nothing when it is unset.
void append_to_file_named_by(const char* variable, const std::string& text) {
  const char* path = std::getenv(variable);
  if (path == nullptr || *path == '\0') return;
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
  if (!out.flush()) throw InputError(std::string("$") + variable, path, "cannot append to it");
}

// One submission's results, written once, atomically, after every case's processes are gone.
void write_results(const GradeResult& result, const GradeOptions& o) {
  write_output(formatted(result, o.format), o.output_path,
               fmt::format("gradverify: {:g} / {:g} points; results written to {}", result.score, result.max_score,
                           o.output_path),
               o.format == "table" ? Audience::people : Audience::programs);
  if (o.format == "classroom") {
    append_to_file_named_by("GITHUB_OUTPUT", classroom_step_output(result));
    append_to_file_named_by("GITHUB_STEP_SUMMARY", classroom_step_summary(result));
  }
}

// A submission that did not build: results with one failed Build test, and no case run.
int write_build_failure(const GradeOptions& o) {
  if (!o.submissions_dir.empty())
    throw InputError("--build-failure", "", "is for one submission's results, not a class (--submissions)");
  require_writable_file(o.output_path);
  const Rubric rubric = o.rubric_path.empty() ? builtin_rubric(o.builtin_rubric) : load_rubric(o.rubric_path);
  std::string message = detail::read_text_file(o.build_failure);
  constexpr size_t kShown = 20000;  // a page of compiler errors is plenty; thousands would bury the first
  if (message.size() > kShown)
    message = message.substr(0, kShown) + fmt::format("\n... ({} more bytes not shown)\n", message.size() - kShown);
  write_results(build_failure_result(rubric, message), o);
  return kPass;
}

}  // namespace

int run_grade(const GradeOptions& o) {
  if (o.print_rubric) {
    if (!o.rubric_path.empty())
      throw InputError("--print-rubric", "", "prints a built-in rubric; " + o.rubric_path +
                                                 " is a file already (--rubric builtin:NAME picks a built-in one)");
    // Private from the start: it holds the hidden cases' seeds, and grading warns about a
    // rubric others may read.
    if (o.output_path.empty()) {
      std::cout << builtin_rubric_json(o.builtin_rubric);
    } else {
      write_file(o.output_path, builtin_rubric_json(o.builtin_rubric), 0600);
      std::cout << "gradverify: wrote the built-in rubric " << o.builtin_rubric << " to " << o.output_path
                << ", readable by its owner only\n";
    }
    return kPass;
  }
  if (!o.build_failure.empty()) return write_build_failure(o);
  if ((o.resume || o.fresh) && o.submissions_dir.empty())
    throw InputError(o.resume ? "--resume" : "--fresh", "", "is for a class's run (--submissions DIR)");
  if (!o.shard.empty()) {
    if (o.submissions_dir.empty()) throw InputError("--shard", "", "shards a class: give --submissions DIR too");
    parse_shard(o.shard);  // refused now, not after the references are computed
  }
  SandboxLimits limits;
  limits.isolation = isolation_mode(o.isolation);
  limits.exposed_paths = o.exposed;
  if (o.check_isolation) {
    const IsolationStatus status = isolation_status(limits);
    std::cout << format_isolation_report(status, probe_isolation(limits));
    return kPass;
  }
  // From here on a stop signal is handled: before the first case it just ends the run.
  const StopSignals stop;
  if (o.submission_cmd.empty())
    throw InputError("--submission-cmd", "", "required: the command that answers the cases, e.g. \"python3 solution.py\"");
  // A class writes a directory of results, one submission a file; neither is found unwritable
  // only after every case has run.
  if (o.submissions_dir.empty()) require_writable_file(o.output_path);
  else require_writable_directory(o.output_path, "results directory");
  require_isolation(limits);
  require_private(o.rubric_path, o, limits);
  require_private(o.references_path, o, limits);
  const Rubric rubric = o.rubric_path.empty() ? builtin_rubric(o.builtin_rubric) : load_rubric(o.rubric_path);
  std::optional<StoredReferences> stored;
  if (!o.references_path.empty()) stored = read_references(o.references_path, rubric);
  if (!stored && (!o.student_id.empty() || !o.submission_metadata.empty()))
    throw InputError(o.student_id.empty() ? "--submission-metadata" : "--student-id", "",
                     "picks a variant of stored references, and there are none: give --references FILE too");
  if (!o.submissions_dir.empty() && (!o.student_id.empty() || !o.submission_metadata.empty()))
    throw InputError(o.student_id.empty() ? "--submission-metadata" : "--student-id", "",
                     "is for one submission; in a class (--submissions) each folder's name picks its variant");
  // One submission's student: the variant they get, when the references have several.
  std::string student = o.submission_metadata.empty() ? o.student_id : metadata_student_id(o.submission_metadata);
  if (stored && stored->variants > 1 && o.submissions_dir.empty() && student.empty())
    throw InputError("--references", o.references_path,
                     fmt::format("has {} variants of each generated case; give --student-id ID (or Gradescope's "
                                 "--submission-metadata) to grade the student's own",
                                 stored->variants));
  const std::vector<std::string> students = o.submissions_dir.empty() ? std::vector<std::string>{} : student_folders(o);
  const ClassRun class_run = o.submissions_dir.empty() ? ClassRun{} : class_run_to_resume(o, rubric);
  std::vector<std::string> notes;
  if (!o.note_file.empty()) notes.push_back(detail::read_text_file(o.note_file));

  limits.wall_seconds = o.timeout > 0 ? o.timeout : rubric.timeout_seconds;
  limits.cpu_seconds = static_cast<int>(std::ceil(limits.wall_seconds)) + 1;
  limits.address_space_bytes = limits.memory_bytes = (o.memory_mb > 0 ? o.memory_mb : rubric.memory_mb) << 20;
  limits.working_directory = std::filesystem::absolute(o.submission_dir).lexically_normal().string();
  // What no case may see even where the system directories are visible.
  // The rubric and its problem files (the hidden cases' data), the class's folder (each case
  // sees its own copy, at its own path, on top), the results and LibTorch's backend.
  for (const auto& path : {o.rubric_path, o.references_path, o.note_file, o.output_path, o.submissions_dir,
                           torch_backend_path()})
    if (!path.empty()) limits.hidden_paths.push_back(std::filesystem::absolute(path).string());
  for (const auto& c : rubric.cases)
    if (!c.problem_path.empty()) limits.hidden_paths.push_back(c.problem_path);
  // One submission's directory is refused now; in a class, a student's folder that can't be
  // copied costs that student's cases only (with the reason), not the class.
  if (o.submissions_dir.empty()) require_submission_directory(limits.working_directory, limits);
  if (!o.quiet) {
    if (stored)
      std::cerr << fmt::format("grade: references from {} (by gradverify {} with LibTorch {}; {} variant{})\n",
                               o.references_path, stored->gradverify_version, stored->libtorch_version,
                               stored->variants, stored->variants == 1 ? "" : "s");
    else
      std::cerr << "grade: computing " << rubric.cases.size() << " references with LibTorch\n";
  }
  GradedCases graded(rubric, stored);
  if (!o.submissions_dir.empty()) return grade_class(o, students, rubric, class_run, graded, limits, notes, stop);
  const int64_t variant = graded.variant_for(student);
  graded.prepare(variant);

  const auto on_case = [&](const CaseResult& c, size_t i, size_t total) {
    // Known once the first case has run in it: there is no start-up probe.
    if (i == 0 && !o.quiet) std::cerr << "grade: isolation: " << isolation_status(limits).summary() << "\n";
    if (!o.quiet)
      std::cerr << fmt::format("grade: [{}/{}] {:<40} {:g}/{:g}{}\n", i + 1, total, c.name, c.score, c.points,
                               c.failure.empty() ? "" : "  (" + printable(c.failure) + ")");
    // A command that isn't there scores 0 everywhere; say so once, even with -q, as likely a
    // setup mistake (a runner not built, a path relative to another directory).
    if (i == 0 && (c.failure.find("command not found") != std::string::npos ||
                   c.failure.find("command not executable") != std::string::npos))
      std::cerr << fmt::format("grade: warning: --submission-cmd {}: {}; it runs in (a copy of) --submission-dir {}\n",
                               printable(o.submission_cmd),
                               c.failure.find("not found") != std::string::npos ? "not found" : "not executable",
                               limits.working_directory);
  };
  GradeResult result = grade_submission(graded.cases(variant), o.submission_cmd, limits, on_case);
  if (stop.received() != 0) return stopped_by(stop.received(), "no results written");
  result.rubric = rubric.name;
  result.variant = variant;
  result.notes = notes;
  result.isolation = isolation_status(limits).summary();
  write_results(result, o);
  return kPass;
}

}  // namespace gradverify::cli
