// One hostile submission for each attack the sandbox contains: each asserts containment
// wherever isolation_status() says the protection is in force, and that status is checked to
// be what this machine gives (namespaces, a uid per case as root, a cgroup). In both modes,
// so the basic sandbox's honest "not in force" is checked too: where a protection is off, the
// same attack must get through, or the test would prove nothing.
#include <gtest/gtest.h>
#include <dirent.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <thread>
#include <string>

#include "gradverify/grading/grading.h"
#include "gradverify/grading/results_formats.h"
#include "gradverify/grading/isolation.h"
#include "gradverify/grading/sandbox.h"
#include "support/run_command.h"

namespace gradverify {
namespace {

using testing::processes_with;

std::string fresh_dir(const std::string& name) { return testing::machine_temp_dir("isolation-test-" + name); }

class Isolation : public ::testing::TestWithParam<IsolationMode> {
 protected:
  void SetUp() override {
    limits_.working_directory = fresh_dir("submission");
    limits_.isolation = GetParam();
    limits_.wall_seconds = 5;
    limits_.cpu_seconds = 5;
    status_ = isolation_status(limits_);
    if (GetParam() == IsolationMode::namespaces && !status_.namespaces)
      GTEST_SKIP() << "no namespaces here: " << status_.bubblewrap;
  }
  SandboxResult run(const std::string& command) const { return run_sandboxed(command, "", limits_); }
  // Two cases at once, as two workers of a class run them.
  std::pair<SandboxResult, SandboxResult> concurrently(const std::string& victim, const std::string& attacker) const {
    auto v = std::async(std::launch::async, [&] { return run(victim); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the victim is running
    const SandboxResult a = run(attacker);
    return {v.get(), a};
  }
  SandboxLimits limits_;
  IsolationStatus status_;
};

INSTANTIATE_TEST_SUITE_P(Modes, Isolation, ::testing::Values(IsolationMode::namespaces, IsolationMode::basic),
                         [](const auto& test_info) {
                           return test_info.param == IsolationMode::namespaces ? "namespaces" : "basic";
                         });

TEST_P(Isolation, TheStatusIsWhatThisMachineGives) {
  EXPECT_EQ(status_.namespaces, GetParam() == IsolationMode::namespaces);
  EXPECT_EQ(status_.own_uids, geteuid() == 0);
  for (const auto& p : status_.protections()) EXPECT_FALSE(p.mechanism.empty()) << p.name;
}

TEST_P(Isolation, AForkChainOfSessionsAndARenamedDaemonDieWithTheCase) {
  const std::string marker = "41." + std::to_string(getpid());
  // A process named "x\n", and a chain of 30 processes, each in a session of its own.
  const SandboxResult r = run("f=\"$TMPDIR/x\n\"; cp /bin/sleep \"$f\"; setsid \"$f\" " + marker +
                              " </dev/null >/dev/null 2>&1 & export C='[ \"$1\" -gt 0 ] && { setsid sh -c \"$C\" x "
                              "$(($1-1)) </dev/null >/dev/null 2>&1 & }; exec sleep " + marker +
                              "'; sh -c \"$C\" x 30 </dev/null >/dev/null 2>&1 & sleep 0.5; echo '{}'");
  EXPECT_EQ(r.out, "{}\n") << r.failure() << r.err;
  EXPECT_TRUE(r.left_processes);
  EXPECT_EQ(processes_with(marker), 0) << "every process of the case is gone when run_sandboxed returns";
}

TEST_P(Isolation, HiddenInputsLeftInTmpDoNotReachALaterCase) {
  const std::string secret = "hidden-input-" + std::to_string(getpid());
  const std::string file = "gv-exfiltrate-" + std::to_string(getpid());
  run("for d in /tmp /var/tmp /dev/shm; do echo " + secret + " >> $d/" + file + "; done");
  const SandboxResult later = run("cat /tmp/" + file + " /var/tmp/" + file + " /dev/shm/" + file + " 2>/dev/null");
  const bool leaked = later.out.find(secret) != std::string::npos;
  // As root without namespaces, what the case's uid left at the top of /tmp is removed.
  EXPECT_EQ(leaked, !status_.namespaces && !status_.own_uids) << later.out;
  for (const char* d : {"/tmp", "/var/tmp", "/dev/shm"})
    EXPECT_EQ(std::filesystem::exists(std::string(d) + "/" + file), !status_.namespaces && !status_.own_uids) << d;
  for (const char* d : {"/tmp", "/var/tmp", "/dev/shm"}) std::filesystem::remove(std::string(d) + "/" + file);
}

TEST_P(Isolation, AClassmatesSubmissionAndTheGraderAreOutOfSight) {
  const std::string classmate = fresh_dir("classmate");
  std::ofstream(classmate + "/backprop.cpp") << "classmate's code\n";
  std::filesystem::permissions(classmate, std::filesystem::perms::owner_all | std::filesystem::perms::others_read |
                                              std::filesystem::perms::others_exec);
  char exe[4096] = {0};
  ASSERT_GT(readlink("/proc/self/exe", exe, sizeof exe - 1), 0);
  const SandboxResult r = run("cat " + classmate + "/backprop.cpp 2>/dev/null; test -s " + exe + " && echo grader-seen");
  EXPECT_EQ(r.out.find("classmate's code") != std::string::npos, !status_.namespaces) << r.out;
  // Without namespaces the grader is seen where its file modes let the case's uid reach it
  // (not in a clone under /root): only the namespaces' answer is certain.
  if (status_.namespaces) {
    EXPECT_EQ(r.out.find("grader-seen"), std::string::npos) << r.out;
  }
  std::filesystem::remove_all(classmate);
}

TEST_P(Isolation, TheNetworkIsLoopbackAlone) {
  const SandboxResult r = run("grep -v -e '^Inter' -e '^ face' -e '^ *lo:' /proc/net/dev | wc -l");
  const int others = std::atoi(r.out.c_str());
  if (status_.namespaces) {
    EXPECT_EQ(others, 0) << r.out;
  } else if (others == 0) {
    GTEST_SKIP() << "this machine itself has loopback alone: nothing to contain";
  }
}

TEST_P(Isolation, AClassmateKillerCannotKillAnotherCase) {
  // kill -9 -1 as the grader's own user would kill the test run itself, and the user's session.
  if (!status_.namespaces && !status_.own_uids) GTEST_SKIP() << "cases share the grader's uid here (not root)";
  const auto [victim, attacker] = concurrently("sleep 1.5; echo survived", "kill -9 -1; pkill -9 sleep; echo tried");
  EXPECT_EQ(victim.out, "survived\n") << victim.failure();  // the attacker may have killed itself
}

TEST_P(Isolation, ACaseCannotPtraceAnother) {
  if (system("command -v python3 >/dev/null") != 0) GTEST_SKIP() << "python3 not found";
  // The attacker looks for the classmate's process by its command line and attaches to it.
  const auto [victim, attacker] = concurrently(
      "sleep 1.51; echo done",
      "python3 -c \"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nn = 0\n"
      "for p in filter(str.isdigit, os.listdir('/proc')):\n  try: line = open('/proc/' + p + '/cmdline').read()\n"
      "  except OSError: continue\n  if '1.' + '51' in line and libc.ptrace(16, int(p), 0, 0) == 0: n += 1\nprint(n)\"");
  EXPECT_TRUE(attacker.exited_cleanly()) << attacker.failure() << attacker.err;
  const int attached = std::atoi(attacker.out.c_str());
  if (!status_.namespaces && !status_.own_uids) GTEST_SKIP() << "cases share the grader's uid here (not root)";
  EXPECT_EQ(attached, 0) << "it attached to the classmate's process";
}

TEST_P(Isolation, AProcessHogDoesNotStarveAnotherCase) {
  if (!status_.own_uids && !status_.cgroup) GTEST_SKIP() << "no per-case process limit here (not root, no cgroup)";
  SandboxLimits limits = limits_;
  limits.processes = 24;
  auto hog = std::async(std::launch::async, [&] {
    return run_sandboxed("for i in $(seq 60); do sleep 2 & done 2>/dev/null; wait", "", limits);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const SandboxResult victim =
      run_sandboxed("for i in $(seq 10); do sleep 0.2 & done; wait && echo all-forked", "", limits);
  hog.get();
  EXPECT_EQ(victim.out, "all-forked\n") << victim.err;
}

TEST_P(Isolation, MemorySplitAcrossChildrenIsLimitedAsAWhole) {
  if (system("command -v python3 >/dev/null") != 0) GTEST_SKIP() << "python3 not found";
  SandboxLimits limits = limits_;
  limits.memory_bytes = int64_t{256} << 20;  // the address space stays 1 GiB per process
  const SandboxResult r = run_sandboxed(
      "python3 -c \"import os, time\nfor _ in range(2): os.fork()\nb = bytearray(b'x') * (150 << 20)\n"
      "time.sleep(1)\nprint('held', flush=True)\"",
      "", limits);
  int held = 0;
  for (size_t at = r.out.find("held"); at != std::string::npos; at = r.out.find("held", at + 1)) ++held;
  if (!status_.cgroup) {
    for (const auto& p : status_.protections()) {
      if (p.name == "memory limit over all a case's processes") {
        EXPECT_FALSE(p.in_force) << "the status says so";
      }
    }
    GTEST_SKIP() << "no cgroup here (" << status_.cgroup_kind << "): only the per-process limit applies";
  }
  EXPECT_LT(held, 4) << "4 x 150 MB under 256 MB";
  EXPECT_TRUE(r.memory_exceeded);
}

// ---- what reaches the reader --------------------------------------------------------------

TEST(IsolationFeedback, TerminalControlSequencesAreEscapedInEveryFormat) {
  SandboxResult run;
  run.started = true;
  run.exit_code = 1;
  // Clear screen, a fake score on a rewritten line, an OSC 52 clipboard write, a C1 CSI.
  run.err = "\x1b[2J\x1b[H54 / 54\rfake\x1b]52;c;cm0gLXJmIH4=\x07 \xc2\x9b" "31m";
  run.stderr_total = static_cast<int64_t>(run.err.size());
  PreparedCase prepared;
  prepared.spec.name = "case";
  prepared.spec.points = 1;
  GradeResult result;
  result.cases.push_back(score_case(prepared, run));
  for (const std::string& text : {format_grade_table(result), format_grade_json(result), format_gradescope(result),
                                  format_junit(result)}) {
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
    EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
    EXPECT_EQ(text.find('\r'), std::string::npos) << text;
    EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << text;
    EXPECT_EQ(text.find("\\u001b"), std::string::npos) << "JSON must not carry the raw escape either";
  }
  EXPECT_NE(format_grade_table(result).find("\\x1b[2J"), std::string::npos) << "shown, visibly";
  EXPECT_EQ(printable("a\r\nb\tc\n"), "a\nb\tc\n") << "line ends and tabs stay";
}

}  // namespace
}  // namespace gradverify
