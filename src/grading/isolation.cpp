#include "gradverify/grading/isolation.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "grading/case_cgroup.h"
#include "grading/case_directory.h"
#include "grading/namespaces.h"

namespace gradverify {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Processes anywhere on the machine whose command line holds `marker`; killed if `kill_them`.
int processes_with(const std::string& marker, bool kill_them) {
  int found = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == getpid()) continue;
    if (read_text("/proc/" + std::string(entry->d_name) + "/cmdline").find(marker) == std::string::npos) continue;
    ++found;
    if (kill_them) kill(static_cast<pid_t>(pid), SIGKILL);
  }
  closedir(proc);
  return found;
}

std::string grader_binary() {
  char path[PATH_MAX];
  return realpath("/proc/self/exe", path) != nullptr ? std::string(path) : "";
}

}  // namespace

IsolationStatus isolation_status(const SandboxLimits& limits) {
  IsolationStatus s;
  const detail::Bubblewrap& bwrap = detail::find_bubblewrap();
  if (limits.isolation == IsolationMode::basic) {
    s.bubblewrap = "not used (--isolation basic)";
  } else {
    const detail::NamespaceSupport& support = detail::namespace_support(limits);
    s.namespaces = support.usable;
    s.bubblewrap = support.usable ? bwrap.version + " (" + bwrap.path + ")" : support.unavailable_because;
    s.tmpfs_capped = support.usable && bwrap.sizes_tmpfs;
  }
  const detail::CgroupSupport& cgroup = detail::cgroup_support();
  s.cgroup = !cgroup.kind.empty();
  s.cgroup_kind = s.cgroup ? cgroup.kind : cgroup.unavailable_because;
  s.own_uids = limits.drop_privileges && geteuid() == 0;
  return s;
}

std::vector<Protection> IsolationStatus::protections() const {
  const std::string uids = fmt::format("uids {}-{}", kFirstCaseUid, kFirstCaseUid + kCaseUids - 1);
  return {
      {"processes end with their case", true,
       namespaces ? "PID namespace: the kernel kills all of it when the case's first process ends"
       : own_uids ? "subreaper and process group, then every process of the case's uid is killed"
                  : "subreaper and process group only: a process that is not the grader's descendant survives"},
      {"processes end with the grader, even on SIGKILL", namespaces,
       namespaces ? "death signal set after the uid change, and bwrap --die-with-parent"
                  : "death signal on the first process only; its descendants survive a SIGKILLed grader"},
      {"private /tmp, /var/tmp and /dev/shm", namespaces,
       namespaces ? (tmpfs_capped ? "fresh tmpfs per case, size-capped" : "fresh tmpfs per case (this bwrap can't cap their size)")
       : own_uids ? "shared, but what the case's uid left at their top level is removed after it"
                  : "a fresh HOME and TMPDIR per case only; /tmp, /var/tmp and /dev/shm are shared"},
      {"grader, rubric and other submissions out of sight", namespaces,
       namespaces ? "mount namespace: only the system (read-only) and the case's copy"
                  : "file modes only: whatever the case's uid may read, it can read"},
      {"no network", namespaces, namespaces ? "network namespace with loopback alone" : "the machine's network"},
      {"a fresh copy of the submission per case", true, "copied by the grader; what a case writes is gone after it"},
      {"cases can't signal, ptrace or starve each other", own_uids,
       own_uids ? "a uid of its own per running case (" + uids + ", claimed by lock file)"
                : "not root: every case runs as the grader's user"},
      {"memory limit over all a case's processes", cgroup,
       cgroup ? cgroup_kind + " memory limit" : "per process only (RLIMIT_AS): " + cgroup_kind},
      {"process limit per case", cgroup || own_uids,
       cgroup ? cgroup_kind + " pids.max" : own_uids ? "RLIMIT_NPROC on the case's own uid" : "none (not root, no cgroup)"},
      {"no inherited descriptors", true, "all but stdin, stdout and stderr closed (close_range)"},
      {"terminal control sequences removed from feedback", true, "escaped as \\x1b and the like in every format"},
  };
}

std::string IsolationStatus::summary() const {
  std::string s = namespaces ? "namespaces (" + bubblewrap + ")" : "no namespaces: " + bubblewrap;
  s += cgroup ? ", " + cgroup_kind : ", no cgroup: " + cgroup_kind;
  s += own_uids ? ", a uid per case" : ", cases run as the grader's user";
  return s;
}

std::vector<ProbeResult> probe_isolation(const SandboxLimits& base) {
  namespace fs = std::filesystem;
  std::vector<ProbeResult> results;
  const std::string nonce = std::to_string(std::random_device{}() % 1000000 + 1000000);
  // A submission of its own, and a classmate's beside it with a secret in it.
  std::string root = base.temp_root + "/gradverify-probe-XXXXXX";
  if (mkdtemp(root.data()) == nullptr) return {{"set up", false, "cannot make a directory in " + base.temp_root}};
  // Removed however the probes end, an exception included.
  const std::unique_ptr<const std::string, void (*)(const std::string*)> remove_root(
      &root, [](const std::string* path) { detail::remove_tree(*path); });
  chmod(root.c_str(), 0755);
  const std::string mine = root + "/student", classmate = root + "/classmate";
  fs::create_directories(mine);
  fs::create_directories(classmate);
  std::ofstream(classmate + "/backprop.cpp") << "secret-" << nonce << "\n";
  chmod(classmate.c_str(), 0755);
  chmod(mine.c_str(), 0755);
  chmod((classmate + "/backprop.cpp").c_str(), 0644);
  SandboxLimits limits = base;
  limits.working_directory = mine;
  limits.wall_seconds = 5;
  limits.cpu_seconds = 5;
  const auto run = [&](const std::string& command) { return run_sandboxed(command, "", limits); };

  {  // A chain of 30 sessions, one process renamed with a newline.
    const std::string marker = "30." + nonce;
    run("f=\"$TMPDIR/x\n\"; cp /bin/sleep \"$f\"; setsid \"$f\" " + marker +
        " </dev/null >/dev/null 2>&1 & "
        "export C='[ \"$1\" -gt 0 ] && { setsid sh -c \"$C\" x $(($1-1)) </dev/null >/dev/null 2>&1 & }; exec sleep " +
        marker + "'; sh -c \"$C\" x 30 </dev/null >/dev/null 2>&1 & sleep 0.3; echo '{}'");
    const int left = processes_with(marker, true);
    results.push_back({"a chain of 30 sessions and a process renamed \"x\\n\" outlive their case", left == 0,
                       left == 0 ? "none left when the case ended" : fmt::format("{} still running (now killed)", left)});
  }
  {  // Hidden inputs through shared temporary directories.
    const std::string secret = "secret-" + nonce;
    run("for d in /tmp /var/tmp /dev/shm; do echo " + secret + " > $d/gradverify-probe-" + nonce + "; done");
    const SandboxResult later = run("cat /tmp/gradverify-probe-" + nonce + " /var/tmp/gradverify-probe-" + nonce +
                                    " /dev/shm/gradverify-probe-" + nonce + " 2>/dev/null");
    int on_host = 0;
    for (const char* d : {"/tmp", "/var/tmp", "/dev/shm"}) {
      const std::string path = std::string(d) + "/gradverify-probe-" + nonce;
      if (fs::exists(path)) ++on_host, detail::remove_tree(path);
    }
    const bool seen = later.out.find(secret) != std::string::npos;
    results.push_back({"a case leaves a file in /tmp, /var/tmp or /dev/shm for a later case", !seen && on_host == 0,
                       seen ? "the later case read it" : on_host > 0 ? "the files stayed on the machine (now removed)"
                                                                    : "the later case found nothing"});
  }
  {  // A classmate's source, the grader's binary.
    const SandboxResult r = run("cat " + classmate + "/backprop.cpp 2>/dev/null; test -e '" + grader_binary() +
                                "' && test -s '" + grader_binary() + "' && echo grader-visible");
    const bool classmate_seen = r.out.find("secret-" + nonce) != std::string::npos;
    const bool grader_seen = r.out.find("grader-visible") != std::string::npos;
    results.push_back({"a case reads a classmate's submission", !classmate_seen,
                       classmate_seen ? "it read " + classmate + "/backprop.cpp" : "not there"});
    results.push_back({"a case runs the grader to compute its answers", !grader_seen,
                       grader_seen ? grader_binary() + " is there" : "the grader's binary is not there"});
  }
  {  // The network.
    const SandboxResult r = run("cat /proc/net/dev");
    int interfaces = 0;
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const auto name_start = line.find_first_not_of(' ');
      if (line.substr(name_start, colon - name_start) != "lo") ++interfaces;
    }
    results.push_back({"a case reaches the network", interfaces == 0,
                       fmt::format("{} interface{} besides loopback", interfaces, interfaces == 1 ? "" : "s")});
  }
  {  // A descriptor the grader holds, and the grader itself.
    const int devnull = open("/dev/null", O_RDONLY);
    const int leaked = devnull >= 0 ? fcntl(devnull, F_DUPFD, 40) : -1;  // no FD_CLOEXEC, as an unwary parent leaves it
    if (devnull >= 0) close(devnull);
    const SandboxResult r = run(fmt::format("test -e /proc/self/fd/{} && echo fd-open; kill -0 {} 2>/dev/null && echo "
                                            "grader-reachable",
                                            leaked, getpid()));
    if (leaked >= 0) close(leaked);
    const bool fd_open = r.out.find("fd-open") != std::string::npos;
    const bool reachable = r.out.find("grader-reachable") != std::string::npos;
    results.push_back({"a case inherits a descriptor the grader holds", !fd_open,
                       fd_open ? fmt::format("fd {} was open in the case", leaked) : "only 0, 1 and 2"});
    results.push_back({"a case signals the grader (or a classmate's case)", !reachable,
                       reachable ? "kill -0 succeeded" : "kill -0 failed"});
  }
  if (system("command -v python3 >/dev/null 2>&1") == 0) {  // Memory split across processes.
    SandboxLimits small = limits;
    small.memory_bytes = int64_t{256} << 20;
    const SandboxResult r = run_sandboxed(
        "python3 -c \"import os,time\nfor _ in range(2): os.fork()\nb = bytearray(b'x') * (150 << 20)\n"
        "time.sleep(1)\nprint('held', flush=True)\"",
        "", small);
    int held = 0;
    for (size_t at = r.out.find("held"); at != std::string::npos; at = r.out.find("held", at + 1)) ++held;
    results.push_back({"4 processes of 150 MB each under a 256 MB limit", held < 4,
                       fmt::format("{} of 4 held their memory{}", held, r.memory_exceeded ? " (the cgroup's OOM kill)" : "")});
  }
  return results;
}

std::string format_isolation_report(const IsolationStatus& status, const std::vector<ProbeResult>& probes) {
  std::string out = "Protections on this machine (" + status.summary() + "):\n";
  for (const auto& p : status.protections())
    out += fmt::format("  {:<4} {:<50} {}\n", p.in_force ? "yes" : "NO", p.name, p.mechanism);
  if (!probes.empty()) {
    out += "\nHostile probes, each run as a case:\n";
    int contained = 0;
    for (const auto& p : probes) {
      out += fmt::format("  {:<13} {:<70} {}\n", p.contained ? "contained" : "NOT CONTAINED", p.attack, p.observed);
      contained += p.contained ? 1 : 0;
    }
    out += fmt::format("\n{} of {} attacks contained.\n", contained, probes.size());
  }
  return out;
}

}  // namespace gradverify
