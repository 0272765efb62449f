// The grader's sandbox (sandbox.h) against hostile commands, written in sh and Python as a
// student might, in both of its modes: with namespaces (bubblewrap) and the basic sandbox.
// Every test is bounded by short limits; nothing here is a real fork bomb. isolation_test
// has the attacks only namespaces, uids and cgroups contain.
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "gradverify/grading/isolation.h"
#include "gradverify/grading/sandbox.h"
#include "support/run_command.h"

namespace gradverify {
namespace {

using testing::processes_with;

// The mode the current test runs in (the parameter of the Sandbox suite).
IsolationMode current_mode = IsolationMode::basic;

// An empty submission directory of the test's own.
std::string submission_dir() {
  static const std::string path = testing::machine_temp_dir("sandbox-test-submission");
  return path;
}

SandboxLimits quick(double wall = 3) {
  SandboxLimits limits;
  limits.wall_seconds = wall;
  limits.cpu_seconds = static_cast<int>(wall) + 1;
  limits.working_directory = submission_dir();
  limits.isolation = current_mode;
  return limits;
}

// Entries of a directory, "." and ".." aside.
int count_entries(const std::string& path) {
  int count = 0;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") ++count;
  }
  closedir(dir);
  return count;
}

// A fresh, empty directory open to nobody: a case run as root drops to nobody and must reach
// its HOME, so it is under /tmp, not the suite's TEST_TMPDIR (a clone in /root is 0700).
std::string temp_dir(const std::string& name) {
  const std::string path = testing::machine_temp_dir("sandbox-test-" + name);
  chmod(path.c_str(), 0777);
  return path;
}

// A sleep length that no other test process uses at the same time ("97.1234"): ctest -j runs
// this suite's modes side by side, and processes_with looks at the whole machine.
std::string mark(const std::string& seconds) { return seconds + "." + std::to_string(getpid() % 10000); }

class Sandbox : public ::testing::TestWithParam<IsolationMode> {
 protected:
  void SetUp() override {
    current_mode = GetParam();
    if (GetParam() == IsolationMode::namespaces && !isolation_status(quick()).namespaces)
      GTEST_SKIP() << "no namespaces here: " << isolation_status(quick()).bubblewrap;
  }
  bool namespaces() const { return GetParam() == IsolationMode::namespaces; }
};

INSTANTIATE_TEST_SUITE_P(Modes, Sandbox, ::testing::Values(IsolationMode::namespaces, IsolationMode::basic),
                         [](const auto& test_info) { return test_info.param == IsolationMode::namespaces ? "namespaces" : "basic"; });

// This process's children that have exited and not been reaped.
int zombie_children() {
  int zombies = 0;
  DIR* proc = opendir("/proc");
  while (dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close_paren = text.rfind(')');
    char state = 0;
    long ppid = 0;
    if (close_paren != std::string::npos && std::sscanf(text.c_str() + close_paren + 1, " %c %ld", &state, &ppid) == 2 &&
        ppid == getpid() && state == 'Z')
      ++zombies;
  }
  closedir(proc);
  return zombies;
}

// The grader is every case's subreaper: the namespace's pid 1, which outlives the outer bwrap
// by a moment, comes back to it and must be reaped, or a class run piles up zombies until
// fork fails.
TEST_P(Sandbox, FinishedCasesLeaveNoZombiesBehind) {
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(run_sandboxed("true", "", quick()).exited_cleanly());
  EXPECT_LE(zombie_children(), 2) << "zombies pile up";
}

TEST_P(Sandbox, PassesStdinThroughAndReadsStdout) {
  const std::string big(3 << 20, 'x');  // bigger than a pipe: writing and reading must interleave
  const SandboxResult r = run_sandboxed("cat", big, quick());
  EXPECT_TRUE(r.exited_cleanly()) << r.failure();
  EXPECT_EQ(r.out.size(), big.size());
  EXPECT_EQ(r.failure(), "");
}

TEST_P(Sandbox, ACrashIsNamed) {
  for (const auto& [command, text] : {std::pair{"kill -SEGV $$", "SIGSEGV (segmentation fault"},
                                     std::pair{"kill -ABRT $$", "SIGABRT"},
                                     std::pair{"python3 -c 'import os; os.abort()'", "SIGABRT"}}) {
    const SandboxResult r = run_sandboxed(command, "{}", quick());
    EXPECT_FALSE(r.exited_cleanly()) << command;
    EXPECT_NE(r.failure().find(std::string("crashed: killed by ") + text), std::string::npos) << r.failure();
  }
}

TEST_P(Sandbox, AnInfiniteLoopIsKilledAtTheDeadline) {
  const SandboxResult r = run_sandboxed("while :; do :; done", "", quick(0.5));
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(r.seconds, 2.5);
  EXPECT_NE(r.failure().find("timed out"), std::string::npos);
}

TEST_P(Sandbox, ASleepingChildHoldingStdoutDoesNotHoldTheGrader) {
  const SandboxResult r = run_sandboxed("sleep " + mark("97") + " & echo answer", "", quick());
  EXPECT_EQ(r.out, "answer\n");
  EXPECT_TRUE(r.left_processes);
  EXPECT_LT(r.seconds, 2);
  EXPECT_EQ(processes_with("sleep " + mark("97")), 0);
}

TEST_P(Sandbox, AProcessThatEscapesItsGroupIsStillKilled) {
  // setsid leaves the process group; the grader adopts it as subreaper and kills it.
  const SandboxResult r = run_sandboxed("setsid sleep " + mark("98") + " >/dev/null 2>&1 & echo answer", "", quick());
  EXPECT_EQ(r.out, "answer\n");
  EXPECT_TRUE(r.left_processes);
  EXPECT_EQ(processes_with("sleep " + mark("98")), 0);
}

TEST_P(Sandbox, UnboundedAllocationHitsTheAddressSpaceLimit) {
  SandboxLimits limits = quick(5);
  limits.address_space_bytes = int64_t{256} << 20;
  const SandboxResult r = run_sandboxed("python3 -c \"x = []\nwhile True: x.append(bytearray(10**7))\"", "", limits);
  EXPECT_FALSE(r.exited_cleanly());
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.err.find("MemoryError"), std::string::npos) << r.err;
}

TEST_P(Sandbox, FloodingStdoutIsStopped) {
  SandboxLimits limits = quick(5);
  limits.stdout_bytes = 1 << 20;
  const SandboxResult r = run_sandboxed("yes", "", limits);
  EXPECT_TRUE(r.stdout_overflow);
  EXPECT_LT(r.seconds, 3);
  EXPECT_NE(r.failure().find("too much to stdout"), std::string::npos);
}

TEST_P(Sandbox, StderrIsKeptUpToItsCapAndCounted) {
  SandboxLimits limits = quick();
  limits.stderr_bytes = 1000;
  const SandboxResult r = run_sandboxed("head -c 5000000 /dev/zero >&2; echo done", "", limits);
  EXPECT_TRUE(r.exited_cleanly()) << r.failure();
  EXPECT_EQ(r.err.size(), 1000u);
  EXPECT_EQ(r.stderr_total, 5000000);
  EXPECT_EQ(r.out, "done\n");
}

TEST_P(Sandbox, ExitingWithoutReadingStdinOrPrintingIsFine) {
  const SandboxResult r = run_sandboxed("exit 0", std::string(1 << 20, 'x'), quick());
  EXPECT_TRUE(r.exited_cleanly()) << r.failure();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(run_sandboxed("exit 3", "", quick()).failure(), "exited with status 3");
  EXPECT_EQ(run_sandboxed("no-such-program-xyz", "", quick()).failure().rfind("command not found (exit status 127)", 0), 0u);
}

TEST_P(Sandbox, TheEnvironmentHoldsOnlyWhatTheSubmissionNeeds) {
  setenv("GRADVERIFY_TEST_SECRET", "do-not-leak", 1);
  const SandboxResult r = run_sandboxed("env", "", quick());
  EXPECT_EQ(r.out.find("do-not-leak"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PATH=/usr/local/bin:/usr/bin:/bin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(namespaces() ? "HOME=/tmp\n" : "HOME=/tmp/gradverify-case-"), std::string::npos) << r.out;
}

TEST_P(Sandbox, EachCaseStartsInAFreshCopyOfTheSubmission) {
  SandboxLimits limits = quick();
  std::ofstream(limits.working_directory + "/given.txt") << "given\n";
  // A case that overwrites a file of the submission and leaves one of its own...
  const SandboxResult first = run_sandboxed("echo changed > given.txt; echo left > mine.txt; pwd", "", limits);
  EXPECT_TRUE(first.exited_cleanly()) << first.failure() << first.err;
  if (namespaces()) EXPECT_EQ(first.out, limits.working_directory + "\n") << "it runs at the submission's own path";
  else EXPECT_NE(first.out, limits.working_directory + "\n") << "it runs in a copy, elsewhere";
  // ...changes nothing for the next case, nor the submission itself.
  const SandboxResult second = run_sandboxed("cat given.txt; ls", "", limits);
  EXPECT_EQ(second.out, "given\ngiven.txt\n");
  std::ifstream in(limits.working_directory + "/given.txt");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "given\n");
  std::filesystem::remove(limits.working_directory + "/given.txt");
}

TEST_P(Sandbox, HiddenPathsAreLeftOutOfTheCopy) {
  SandboxLimits limits = quick();
  std::ofstream(limits.working_directory + "/rubric.json") << "{\"secret\": 1}\n";
  limits.hidden_paths = {limits.working_directory + "/rubric.json"};
  const SandboxResult r = run_sandboxed("ls; cat rubric.json 2>/dev/null", "", limits);
  EXPECT_EQ(r.out.find("rubric"), std::string::npos) << "a rubric kept beside the submission stays there: " << r.out;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  std::filesystem::remove(limits.working_directory + "/rubric.json");
}

// A course installed under /opt, its problem files beside it: hidden inside a visible directory.
TEST_P(Sandbox, AHiddenPathUnderTheSystemDirectoriesIsMasked) {
  if (!namespaces()) GTEST_SKIP() << "without namespaces only file modes protect a file";
  SandboxLimits limits = quick();
  limits.hidden_paths = {"/etc/passwd", "/usr/share/doc"};
  const SandboxResult r = run_sandboxed("cat /etc/passwd 2>/dev/null | wc -c; ls /usr/share/doc | wc -l", "", limits);
  EXPECT_EQ(r.out, "0\n0\n") << r.err;
}

// With namespaces the case's copy is a size-capped tmpfs: a case can't fill the disk its
// classmates' copies are on.
TEST_P(Sandbox, WritingIntoTheCopyCannotFillTheDisk) {
  if (!namespaces()) GTEST_SKIP() << "without namespaces the copy is on disk, each file capped by RLIMIT_FSIZE";
  SandboxLimits limits = quick();
  limits.copy_limit_bytes = 1 << 20;
  limits.tmpfs_bytes = 1 << 20;
  const SandboxResult r = run_sandboxed("head -c 4000000 /dev/zero > big 2>/dev/null || echo full", "", limits);
  EXPECT_EQ(r.out, "full\n") << r.failure() << r.err;
}

TEST_P(Sandbox, AnExposedDirectoryIsReadableEvenUnderTmp) {
  if (!namespaces()) GTEST_SKIP() << "without namespaces every directory is where it is";
  const std::string exposed = temp_dir("exposed");
  std::ofstream(exposed + "/venv.txt") << "exposed\n";
  SandboxLimits limits = quick();
  limits.exposed_paths = {exposed};
  const SandboxResult r = run_sandboxed("cat " + exposed + "/venv.txt; touch " + exposed + "/x 2>/dev/null || echo ro", "",
                                        limits);
  EXPECT_EQ(r.out, "exposed\nro\n") << r.err;
  std::filesystem::remove_all(exposed);
}

// No controlling terminal to inject keystrokes into (TIOCSTI), and no setuid program that
// could give a case its privileges back.
TEST_P(Sandbox, TheCaseHasASessionOfItsOwnAndCannotGainPrivileges) {
  const SandboxResult r = run_sandboxed("grep NoNewPrivs /proc/self/status; exec 3</dev/tty && echo has-a-tty", "", quick());
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("has-a-tty"), std::string::npos) << r.out;
}

TEST_P(Sandbox, DescriptorsTheGraderHoldsAreClosedInTheCase) {
  const int devnull = open("/dev/null", O_RDONLY);
  const int inherited = fcntl(devnull, F_DUPFD, 50);  // no FD_CLOEXEC, as a careless parent leaves it
  close(devnull);
  const SandboxResult r = run_sandboxed("ls /proc/self/fd/ | tr '\\n' ' '", "", quick());
  close(inherited);
  EXPECT_TRUE(r.exited_cleanly()) << r.failure();
  EXPECT_EQ(r.out.find(std::to_string(inherited)), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("0 1 2 ", 0), 0u) << r.out;
}

TEST_P(Sandbox, ADeepTreeAndAnUnreadableDirectoryAreStillRemoved) {
  SandboxLimits limits = quick(10);
  limits.temp_root = temp_dir("deep");
  // 300 levels of 20-character names: 6,300 characters, deeper than PATH_MAX (4,096).
  const SandboxResult r = run_sandboxed(
      "python3 -c \"import os\nfor _ in range(300): os.mkdir('a' * 20); os.chdir('a' * 20)\" && "
      "mkdir -p locked/inner && touch locked/inner/f && chmod 000 locked && echo made",
      "", limits);
  EXPECT_EQ(r.out, "made\n") << r.failure() << r.err;
  finish_case_clean_up();
  EXPECT_EQ(count_entries(limits.temp_root), 0) << "nothing of the case is left in " << limits.temp_root;
  std::filesystem::remove_all(limits.temp_root);
}

TEST_P(Sandbox, FileSizeAndCpuTimeAreLimited) {
  SandboxLimits limits = quick(5);
  limits.file_size_bytes = 1 << 20;
  const SandboxResult big = run_sandboxed("head -c 3000000 /dev/zero > \"$TMPDIR/big\"; wc -c < \"$TMPDIR/big\"", "", limits);
  EXPECT_EQ(big.out, "1048576\n") << "a 3 MB file under a 1 MB limit stops at 1 MB";
  limits.cpu_seconds = 1;
  const SandboxResult spin = run_sandboxed("while :; do :; done", "", limits);
  EXPECT_FALSE(spin.timed_out) << "the CPU limit comes first";
  EXPECT_NE(spin.failure().find("SIGXCPU"), std::string::npos) << spin.failure();
}

TEST_P(Sandbox, AsRootTheCaseRunsAsAUidOfItsOwnAndCannotTouchTheGradersFiles) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: only root can give a case another uid";
  const std::string results = temp_dir("results") + "/results.json";
  std::ofstream(results) << "{\"score\": 10}";
  chmod(results.c_str(), 0644);
  const SandboxResult r = run_sandboxed("id -u; echo '{\"score\": 100}' > " + results, "", quick());
  const int uid = std::atoi(r.out.c_str());
  EXPECT_GE(uid, static_cast<int>(kFirstCaseUid)) << r.out;
  EXPECT_LT(uid, static_cast<int>(kFirstCaseUid) + kCaseUids) << r.out;
  std::ifstream in(results);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "{\"score\": 10}");
}

TEST_P(Sandbox, AsRootTheProcessLimitHolds) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: RLIMIT_NPROC does not bind root";
  SandboxLimits limits = quick(5);
  limits.processes = 8;
  // 30 background sleeps against a limit of 8: forks start failing, and none outlive the case.
  const SandboxResult r = run_sandboxed("for i in $(seq 30); do sleep " + mark("99") + " & done; echo forked", "", limits);
  EXPECT_NE(r.err.find("fork"), std::string::npos) << r.err;
  EXPECT_EQ(processes_with("sleep " + mark("99")), 0);
}

// Open descriptors of this process.
int open_descriptors() { return count_entries("/proc/self/fd"); }

// In a child process: lowers the descriptor limit so that the first of a case's pipes can be
// made and the second can't, runs a case, and exits 0 only if run_sandboxed threw and left no
// descriptor open (a leaked pipe would leave none free to count them with) and nothing in
// `root`.
[[noreturn]] void run_short_of_descriptors(const std::string& root) {
  const int before = open_descriptors();
  // The limit below which exactly two descriptors are free: room for one pipe, not two.
  std::set<int> open;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir))
    if (entry->d_name[0] != '.' && std::atoi(entry->d_name) != dirfd(dir)) open.insert(std::atoi(entry->d_name));
  closedir(dir);
  int limit_fd = 0;
  for (int free_below = 0; free_below < 2; ++limit_fd) free_below += open.count(limit_fd) ? 0 : 1;
  const auto limit_value = static_cast<rlim_t>(limit_fd);
  const rlimit limit{limit_value, limit_value};
  setrlimit(RLIMIT_NOFILE, &limit);
  current_mode = IsolationMode::basic;
  SandboxLimits limits = quick();
  limits.temp_root = root;
  std::string error = "nothing";
  try {
    run_sandboxed("true", "", limits);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  const bool threw = error != "nothing";
  const int after = open_descriptors(), left = count_entries(root);
  std::fprintf(stderr, "threw %d (%s), descriptors %d -> %d, entries left %d\n", threw, error.c_str(), before, after,
               left);
  std::_Exit(threw && after == before && left == 0 ? 0 : 1);
}

TEST(SandboxErrors, ASetUpFailureLeavesNoDescriptorOrDirectoryBehind) {
  // A grader short of descriptors makes the first of the case's pipes, then fails on the
  // second: run_sandboxed must throw, having closed the ends it made and removed the case's
  // fresh HOME. In a child process, whose descriptor limit can be lowered freely.
  const std::string root = temp_dir("errors");
  submission_dir();  // made here, so the child (which exits without clean-up) shares this process's
  EXPECT_EXIT(run_short_of_descriptors(root), ::testing::ExitedWithCode(0), "threw 1");
  std::filesystem::remove_all(root);
}

TEST(SandboxErrors, ASubmissionTooLargeToCopyLeavesNothingBehind) {
  // The case's directory is made, the copy refused: run_sandboxed throws, saying why, and
  // removes what it made.
  current_mode = IsolationMode::basic;
  SandboxLimits limits = quick();
  limits.temp_root = temp_dir("too_large");
  limits.copy_limit_bytes = 1000;
  std::ofstream(limits.working_directory + "/big.bin") << std::string(5000, 'x');
  const int before = open_descriptors();
  try {
    run_sandboxed("true", "", limits);
    ADD_FAILURE() << "a 5,000-byte submission was copied under a 1,000-byte limit";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("holds more than 1000 bytes; each case runs in a fresh copy of it"), std::string::npos) << e.what();
  }
  EXPECT_EQ(open_descriptors(), before);
  finish_case_clean_up();
  EXPECT_EQ(count_entries(limits.temp_root), 0);
  EXPECT_THROW(require_copyable_submission(limits.working_directory, limits), std::invalid_argument);
  std::filesystem::remove(limits.working_directory + "/big.bin");
  std::filesystem::remove_all(limits.temp_root);
}

TEST(SandboxErrors, ASubmissionOfTooManyFilesIsRefusedBeforeItIsCopied) {
  current_mode = IsolationMode::basic;
  SandboxLimits limits = quick();
  limits.working_directory = temp_dir("many_files");
  limits.copy_limit_files = 5;
  for (int i = 0; i < 10; ++i) std::ofstream(limits.working_directory + "/f" + std::to_string(i));
  try {
    run_sandboxed("true", "", limits);
    ADD_FAILURE() << "10 files were copied under a limit of 5";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("holds more than 5 files"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(limits.working_directory);
}

TEST(SandboxErrors, WhatASIGKILLedGraderLeftIsRemovedByTheNextOne) {
  current_mode = IsolationMode::basic;
  SandboxLimits limits = quick();
  limits.temp_root = temp_dir("stale");
  const pid_t gone = fork();  // a pid that is certainly not running any more
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  const std::string stale = limits.temp_root + "/gradverify-case-" + std::to_string(gone) + "-AbCdEf";
  std::filesystem::create_directories(stale + "/work");
  std::ofstream(stale + "/work/backprop.cpp") << "a student's code\n";
  const SandboxResult r = run_sandboxed("true", "", limits);
  EXPECT_TRUE(r.exited_cleanly()) << r.failure();
  EXPECT_FALSE(std::filesystem::exists(stale));
  finish_case_clean_up();
  EXPECT_EQ(count_entries(limits.temp_root), 0);
  std::filesystem::remove_all(limits.temp_root);
}

TEST(SandboxErrors, ACaseLeavesNothingInItsTemporaryRoot) {
  // The control for the test above: the same root, a case that writes into its HOME.
  current_mode = IsolationMode::basic;
  SandboxLimits limits = quick();
  limits.temp_root = temp_dir("sandbox_root");
  const SandboxResult r = run_sandboxed("echo hi > \"$HOME/file\" && cat \"$HOME/file\"", "", limits);
  EXPECT_EQ(r.out, "hi\n") << r.err;
  finish_case_clean_up();
  EXPECT_EQ(count_entries(limits.temp_root), 0);
  std::filesystem::remove_all(limits.temp_root);
}

}  // namespace
}  // namespace gradverify
