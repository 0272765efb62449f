#pragma once
// Runs one untrusted command (a student's submission) for one grading case, so that nothing
// it does can reach the grader: its own process group, resource limits, a wall-clock
// deadline that kills the whole group, capped output, a scrubbed environment, and no
// processes left behind. Torch-free, so the grader's isolation is testable without LibTorch.
#include <cstdint>
#include <string>

namespace gradverify {

struct SandboxLimits {
  double wall_seconds = 10;                  // then SIGKILL to the whole process group
  int cpu_seconds = 10;                      // RLIMIT_CPU
  int64_t address_space_bytes = int64_t{1} << 30;  // RLIMIT_AS: 1 GiB
  int64_t file_size_bytes = int64_t{16} << 20;     // RLIMIT_FSIZE: largest file it may write
  int open_files = 64;                       // RLIMIT_NOFILE
  int processes = 64;                        // RLIMIT_NPROC, enforced when running as root (see run_as_nobody)
  int64_t stdout_bytes = int64_t{16} << 20;  // more than this and the case is stopped
  int64_t stderr_bytes = int64_t{64} << 10;  // kept for feedback; the rest is counted, not kept
  std::string working_directory = ".";       // where the command starts (the submission)
  std::string temp_root = "/tmp";            // where each case's fresh HOME and TMPDIR is made
  // When the grader runs as root (as on Gradescope), the command runs as nobody:65534, so it
  // can't write the grader's files and RLIMIT_NPROC applies (root ignores it).
  bool run_as_nobody = true;
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
  double seconds = 0;            // wall time
  std::string out, err;          // stdout, and stderr up to stderr_bytes

  bool exited_cleanly() const { return started && !timed_out && !stdout_overflow && signal == 0 && exit_code == 0; }
  // One line for feedback: "exited with status 3", "killed by SIGSEGV (segmentation
  // fault)", "timed out after 10 s", ...; empty when it exited cleanly.
  std::string failure() const;
};

// Writes `input` to the command's stdin (then closes it) while reading its stdout and stderr.
// The command runs as `/bin/sh -c command` with PATH, HOME, TMPDIR (a fresh directory under
// temp_root, removed afterwards), LANG and nothing else in its environment. Never throws for
// what the command does; throws std::runtime_error only when the grader itself can't set up,
// and then leaves no descriptor or directory behind.
SandboxResult run_sandboxed(const std::string& command, const std::string& input, const SandboxLimits& limits);

// "SIGSEGV (segmentation fault)"
std::string describe_signal(int signal);

}  // namespace gradverify
