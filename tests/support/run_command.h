#pragma once
// Running a shell command line from a test, as a user runs it: its exit code, stdout and
// stderr.
#include <string>

namespace gradverify::testing {

struct CommandRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

CommandRun run_shell(const std::string& command_line);
std::string slurp(const std::string& path);
// A path in the test's temporary directory, prefixed so suites don't collide.
std::string temp_path(const std::string& name);
std::string write_temp(const std::string& name, const std::string& text);
// A fresh, empty directory /tmp/gradverify-<name>-<pid>, removed when the test process exits.
// Under /tmp, not TEST_TMPDIR: a case run as another uid must reach it, and a clone in /root is
// 0700. Each test process (gtest_discover_tests runs one per test) leaves nothing behind.
std::string machine_temp_dir(const std::string& name);
// Processes anywhere on the machine whose command line (arguments joined by spaces) holds
// `marker`: what a hostile submission left running, if anything.
int processes_with(const std::string& marker);

}  // namespace gradverify::testing
