#pragma once
// Runs one untrusted command (a student's submission) for one grading case, so that nothing
// it does can reach the grader, another case or a classmate. Each case gets a fresh copy of
// the submission's directory and, where the machine allows, a private world made by
// bubblewrap (namespaces.h): its own PID, mount, network and IPC namespaces, the system
// read-only and nothing else of the grader's visible. Around that: its own uid (as root), a
// cgroup for memory and processes where one can be made, rlimits, a wall-clock deadline,
// capped output, a scrubbed environment, and no process left behind. isolation.h says which
// of these are in force. Torch-free, so the isolation is testable without LibTorch.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gradverify {

// How much isolation a case gets. automatic: namespaces where bubblewrap works here, the
// basic sandbox otherwise. namespaces: refuse to run a case without them. basic: never use
// them (the process group, rlimits and uid alone).
enum class IsolationMode { automatic, namespaces, basic };

// As root, each running case has a uid of its own from this range, claimed with a lock file
// (case_identity.h), so cases that run at the same time, in this grader or another, can't
// signal, ptrace or exhaust each other. Below systemd's dynamic range (61184-65519) and
// inside a container's usual 65536-uid map; a uid that names an account is skipped.
constexpr uid_t kFirstCaseUid = 60400;
constexpr int kCaseUids = 512;

struct SandboxLimits {
  double wall_seconds = 10;                  // then SIGKILL to the whole process group
  int cpu_seconds = 10;                      // RLIMIT_CPU
  int64_t address_space_bytes = int64_t{1} << 30;  // RLIMIT_AS: 1 GiB
  int64_t file_size_bytes = int64_t{16} << 20;     // RLIMIT_FSIZE: largest file it may write
  int open_files = 64;                       // RLIMIT_NOFILE
  int processes = 64;                        // RLIMIT_NPROC per uid (as root) and the cgroup's pids.max
  int64_t stdout_bytes = int64_t{16} << 20;  // more than this and the case is stopped
  int64_t stderr_bytes = int64_t{64} << 10;  // kept for feedback; the rest is counted, not kept
  int64_t memory_bytes = int64_t{1} << 30;  // the cgroup's memory.max: all its processes together
  int64_t tmpfs_bytes = int64_t{64} << 20;   // each private /tmp, /var/tmp and /dev/shm
  // The submission's directory: each case starts in a fresh copy of it, made by the grader
  // (which may read what the case's uid can't, such as a clone under /root), at the same path.
  std::string working_directory = ".";
  int64_t copy_limit_bytes = int64_t{256} << 20;  // a larger directory is refused, not copied
  int64_t copy_limit_files = 10000;                // and so is one with more files (each case copies them all)
  std::string temp_root = "/tmp";            // where each case's copy (and HOME, without namespaces) is made
  IsolationMode isolation = IsolationMode::automatic;
  // As root (as on Gradescope), the case runs as its own uid and gid, so it can't write the
  // grader's files, and RLIMIT_NPROC counts its processes alone (root ignores the limit).
  bool drop_privileges = true;
  // Paths inside the visible system directories that the case must not see (the grader's
  // own binary is always added): each is replaced by an empty file or directory.
  std::vector<std::string> hidden_paths;
  // More directories the case may read (a course's virtualenv, say), read-only.
  std::vector<std::string> exposed_paths;
};

struct SandboxResult {
  bool started = false;          // false: the grader could not start it (start_error says why)
  std::string start_error;
  int exit_code = -1;            // when it exited normally
  int signal = 0;                // when a signal ended it (SIGKILL after a timeout, say)
  bool timed_out = false;
  bool stdout_overflow = false;  // wrote more than stdout_bytes
  int64_t stderr_total = 0;      // bytes written to stderr, kept or not
  bool left_processes = false;   // processes outlived it; all were killed
  bool memory_exceeded = false;  // its cgroup hit memory_bytes, and the kernel killed a process
  bool namespaces = false;       // it ran in its own world (namespaces.h), seeing only the system and its copy
  double seconds = 0;            // wall time
  std::string out, err;          // stdout, and stderr up to stderr_bytes

  bool exited_cleanly() const { return started && !timed_out && !stdout_overflow && signal == 0 && exit_code == 0; }
  // One line for feedback: "exited with status 3", "killed by SIGSEGV (segmentation
  // fault)", "timed out after 10 s", ...; empty when it exited cleanly.
  std::string failure() const;
};

// Writes `input` to the command's stdin (then closes it) while reading its stdout and stderr.
// The command runs as `/bin/sh -c command` with PATH, HOME, TMPDIR (a fresh, private
// directory), LANG and nothing else in its environment, and no descriptor but 0, 1 and 2.
// Never throws for what the command does; throws std::runtime_error only when the grader
// itself can't set up, and then leaves no descriptor, directory or cgroup behind.
// With IsolationMode::automatic, the first cases of the process run in bubblewrap (each
// worker's, side by side), and the first whose world was made says it works here. A case
// whose world was not made concludes nothing: an empty trial case decides, and it runs again
// as the trial says, as every later case does.
SandboxResult run_sandboxed(const std::string& command, const std::string& input, const SandboxLimits& limits);

// Refuses (std::invalid_argument, saying why) a submission directory that can't be copied
// for each case: missing, not a directory, a system directory, or over limits.copy_limit_bytes
// or copy_limit_files.
void require_copyable_submission(const std::string& directory, const SandboxLimits& limits);

// The grader is being stopped (SIGINT, SIGTERM, SIGHUP): kills every running case at once and
// makes every later run_sandboxed return unstarted. Thread-safe; each case's own clean-up
// still runs, in its thread.
void stop_all_cases();
bool cases_stopped();

// A finished case's directory is removed on a clean-up thread, off the next case's path; this
// waits until every one is gone (as the process does before it exits).
void finish_case_clean_up();

// "SIGSEGV (segmentation fault)"
std::string describe_signal(int signal);

}  // namespace gradverify
