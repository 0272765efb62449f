#include "gradverify/grading/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "grading/case_cgroup.h"
#include "grading/case_directory.h"
#include "grading/case_identity.h"
#include "grading/namespaces.h"

namespace gradverify {
namespace {

using Clock = std::chrono::steady_clock;

// Cases running right now, across threads: their main processes are our children and are not
// orphans. Forks happen under the same lock, so a scan never sees a child not yet listed.
std::mutex running_mutex;
std::set<pid_t> running_cases;
std::atomic<bool> stopping{false};

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// This process adopts every orphaned descendant (instead of init), so a process that
// escaped its group with setsid() still ends up here, where it can be found and killed.
void become_subreaper() {
  static std::once_flag once;
  std::call_once(once, [] {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);  // a submission that closes stdin early must not kill the grader
  });
}

// /proc/PID/stat's state, ppid and process group. comm may hold spaces, parentheses and
// newlines, so the whole file is read and parsed after its last ')'.
struct ProcStat {
  char state = 0;
  long ppid = -1, pgrp = -1;
};

ProcStat stat_of(const char* pid) {
  ProcStat st;
  const std::string path = std::string("/proc/") + pid + "/stat";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return st;
  char buffer[1024];
  const ssize_t n = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (n <= 0) return st;
  const std::string text(buffer, static_cast<size_t>(n));
  const auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos ||
      std::sscanf(text.c_str() + close_paren + 1, " %c %ld %ld", &st.state, &st.ppid, &st.pgrp) != 3)
    return {};
  return st;
}

long parent_of(const char* pid) { return stat_of(pid).ppid; }

// Whether a process of the group lives, zombies aside (the case's first process is kept a
// zombie while its case is cleaned up, so that its pid and group can't be reused).
bool group_alive(pid_t group) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return false;
  bool alive = false;
  while (const dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const ProcStat st = stat_of(entry->d_name);
    if (st.pgrp == group && st.state != 'Z' && st.state != 'X') {
      alive = true;
      break;
    }
  }
  closedir(proc);
  return alive;
}

// Whose orphans a clean-up may kill: as root, only the case's own uid (other cases' processes
// and the grader's helpers are other uids); with namespaces, only bwrap's reaper, which comes
// back to the grader when the outer bwrap is killed; otherwise every orphan (cases then share
// the grader's uid and can reach each other anyway).
struct OrphanFilter {
  const detail::CaseIdentity* identity = nullptr;
  bool bwrap_only = false;
};

bool named_bwrap(const char* pid) {
  std::ifstream comm(std::string("/proc/") + pid + "/comm");
  std::string name;
  return std::getline(comm, name) && name == "bwrap";
}

// Kills and reaps our children that are not a running case and pass the filter: descendants
// of a finished case. Under the lock, so no thread forks (and no pid is reused) meanwhile.
bool kill_orphans(const OrphanFilter& filter) {
  const pid_t self = getpid();
  bool found = false;
  std::lock_guard<std::mutex> lock(running_mutex);
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return false;
  std::vector<pid_t> orphans;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || parent_of(entry->d_name) != self || running_cases.count(static_cast<pid_t>(pid)))
      continue;
    if (filter.identity != nullptr) {
      const auto owner = detail::owner_of(entry->d_name);
      if (!owner || owner->real_uid != filter.identity->uid()) continue;
    }
    if (filter.bwrap_only && !named_bwrap(entry->d_name)) continue;
    orphans.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  for (pid_t pid : orphans) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    found = true;
  }
  return found;
}

// Reaps our exited children that are no running case's, without a scan of /proc: the
// namespace's pid 1 (bwrap's reaper) outlives the outer bwrap by a moment and then comes to
// us, the subreaper, to be reaped. One left for a moment (it may not have exited yet, or a
// running case's exit is first in line) is reaped after a later case.
void reap_exited_orphans() {
  std::lock_guard<std::mutex> lock(running_mutex);
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (running_cases.count(info.si_pid)) return;  // its own thread reaps it
    waitpid(info.si_pid, nullptr, 0);
  }
}

// Without namespaces: kills what is left of a case's process group and its escaped
// descendants, for as long as new ones keep appearing (a chain of setsid forks), up to 5 s.
bool clean_up_after(pid_t group, const detail::CaseIdentity* identity) {
  bool left = group_alive(group);
  kill(-group, SIGKILL);
  const OrphanFilter filter{identity, false};
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < give_up) {
    bool found = kill_orphans(filter);
    // As root the case has a uid of its own: every process of it is the case's.
    if (identity != nullptr && detail::kill_every_process_of(identity->uid())) found = kill_orphans(filter) || true;
    left = left || found;
    if (!found && !group_alive(group)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return left;
}

// Waits for the case's first process to exit (blocking or not) without reaping it: the zombie
// keeps its pid and process group from being reused while the case is cleaned up.
bool has_exited(pid_t pid, bool block) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) == 0 &&
         info.si_pid == pid;
}

// Reaps it and unlists it in one step under the lock, so no fork can be given its pid before
// it is off the list.
int reap(pid_t pid) {
  int status = 0;
  std::lock_guard<std::mutex> lock(running_mutex);
  waitpid(pid, &status, 0);
  running_cases.erase(pid);
  return status;
}

// Everything a case holds, released on every way out of run_case, the error paths included:
// its processes (killed and reaped), its cgroup, its directory (sealed, then removed in the
// background), its pipes, and last its uid.
struct CaseResources {
  std::unique_ptr<detail::CaseIdentity> identity;  // as root
  std::unique_ptr<detail::CaseDirectory> directory;
  std::unique_ptr<detail::CaseCgroup> cgroup;
  int fds[8] = {-1, -1, -1, -1, -1, -1, -1, -1};  // stdin, stdout, stderr, report: read end, write end
  pid_t child = -1;                               // the case's first process, listed in running_cases
  bool reaped = false;                            // its exit status was collected
  bool namespaces = false;
  bool bwrap_exited = false;  // the outer bwrap ended by itself: its world's pid 1 dies with it
  CaseResources() = default;
  CaseResources(const CaseResources&) = delete;
  CaseResources& operator=(const CaseResources&) = delete;
  ~CaseResources() {
    // On an error path, or a stop: run_case has not cleaned up and reaped the case.
    if (child > 0 && !reaped) {
      kill(-child, SIGKILL);
      kill(child, SIGKILL);
      has_exited(child, true);
      if (cgroup) cgroup->kill_all();
      if (!namespaces) clean_up_after(child, identity.get());
      reap(child);
    }
    // bwrap's reaper, the namespace's pid 1, comes back to us: when the outer bwrap was killed
    // (by us, or the OOM killer) it may still run, and a scan of all /proc finds and kills it;
    // otherwise it dies with the outer bwrap and only needs reaping.
    if (namespaces && !bwrap_exited) kill_orphans({nullptr, true});
    if (namespaces && bwrap_exited) reap_exited_orphans();
    // Its processes are gone: what its uid left in the shared temporary directories goes too.
    if (!namespaces && identity) detail::remove_files_of(identity->uid());
    for (int& fd : fds) close_fd(fd);
    cgroup.reset();
    detail::remove_in_background(std::move(directory));  // sealed now, off the next case's path
    identity.reset();
  }
};

void set_limit(int resource, rlim_t value) {
  const rlimit limit{value, value};
  setrlimit(resource, &limit);
}

void close_descriptors_from(unsigned first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  rlimit open{};
  getrlimit(RLIMIT_NOFILE, &open);
  const rlim_t last = open.rlim_cur == RLIM_INFINITY ? 1 << 20 : open.rlim_cur;
  for (rlim_t fd = first; fd < last; ++fd) close(static_cast<int>(fd));
}

// What the child needs, prepared before the fork: after it only async-signal-safe calls.
struct ChildPlan {
  int in_fd = -1, out_fd = -1, err_fd = -1, report_fd = -1;
  const detail::CaseCgroup* cgroup = nullptr;
  const SandboxLimits* limits = nullptr;
  bool drop = false;
  uid_t uid = 0;
  pid_t grader = 0;
  const char* workdir = nullptr;
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

[[noreturn]] void exec_child(const ChildPlan& plan) {
  const auto fail = [](const char* what) {
    // errno in decimal: strerror may lock or allocate, which is unsafe after a fork.
    char digits[16];
    int n = 0;
    for (int e = errno > 0 ? errno : 0; n == 0 || e > 0; e /= 10) digits[n++] = static_cast<char>('0' + e % 10);
    char text[16];
    for (int i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
    (void)!write(2, "gradverify sandbox: ", 20);
    (void)!write(2, what, strlen(what));
    (void)!write(2, ": errno ", 8);
    (void)!write(2, text, static_cast<size_t>(n));
    (void)!write(2, "\n", 1);
    _exit(127);
  };
  // The grader blocks its stop signals and ignores SIGPIPE; the submission gets neither.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  // A session of its own: no controlling terminal to inject keystrokes into (TIOCSTI) or to
  // write raw escapes to; and no setuid program can give it privileges back.
  setsid();
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  dup2(plan.in_fd, 0);
  dup2(plan.out_fd, 1);
  dup2(plan.err_fd, 2);
  if (plan.cgroup != nullptr && plan.cgroup->active() && !plan.cgroup->join_from_child()) fail("cannot join the case's cgroup");
  if (plan.report_fd >= 0) dup2(plan.report_fd, 3);
  // Whatever started the grader may have left descriptors open: the case gets 0, 1, 2 only.
  close_descriptors_from(plan.report_fd >= 0 ? 4 : 3);
  const SandboxLimits& limits = *plan.limits;
  rlimit cpu{static_cast<rlim_t>(limits.cpu_seconds), static_cast<rlim_t>(limits.cpu_seconds + 1)};
  setrlimit(RLIMIT_CPU, &cpu);
  set_limit(RLIMIT_AS, static_cast<rlim_t>(limits.address_space_bytes));
  // With namespaces the wrapper sets it after copying the submission, which may hold larger files.
  if (plan.report_fd < 0) set_limit(RLIMIT_FSIZE, static_cast<rlim_t>(limits.file_size_bytes));
  set_limit(RLIMIT_NOFILE, static_cast<rlim_t>(limits.open_files));
  set_limit(RLIMIT_CORE, 0);
  if (plan.drop) {
    set_limit(RLIMIT_NPROC, static_cast<rlim_t>(limits.processes));
    if (setgroups(0, nullptr) != 0 || setgid(plan.uid) != 0 || setuid(plan.uid) != 0) fail("cannot take the case's uid");
  }
  // After the uid change, which would clear it: if the grader dies, so does the case.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan.grader) _exit(127);  // it died already
  if (chdir(plan.workdir) != 0) fail("cannot enter the case's copy of the submission");
  execve(plan.program, plan.argv, plan.envp);
  fail("cannot start the case");
  _exit(127);
}

std::string absolute_directory(const std::string& path) {
  std::error_code error;
  const auto absolute = std::filesystem::absolute(path, error);
  return (error ? std::filesystem::path(path) : absolute).lexically_normal().string();
}

// With namespaces, `world_made` (if given) says whether bwrap made the case's world.
SandboxResult run_case(const std::string& command, const std::string& input, const SandboxLimits& limits,
                       bool namespaces, bool* world_made = nullptr);

}  // namespace

namespace detail {
namespace {

// Decided once per process, then never changed (so references to it stay valid).
std::mutex support_mutex;
std::optional<NamespaceSupport> decided_support;

// What a case run with namespaces shows: usable when bwrap made its world.
NamespaceSupport support_shown_by(const SandboxResult& r, bool world_made) {
  NamespaceSupport s;
  s.usable = world_made;
  if (!world_made) {
    const std::string reason = r.err.substr(0, r.err.find('\n'));
    s.unavailable_because = find_bubblewrap().path + " failed here: " + (reason.empty() ? r.failure() : reason);
  }
  return s;
}

// Without a bwrap there is nothing to try.
std::optional<NamespaceSupport> support_without_trying() {
  if (!find_bubblewrap().path.empty()) return std::nullopt;
  NamespaceSupport s;
  s.unavailable_because = "bwrap (Debian's and Ubuntu's bubblewrap package) is not installed";
  return s;
}

// A trial case on an empty submission: nothing of any student's runs in it, so nothing can
// sway what it shows.
NamespaceSupport trial_support(const SandboxLimits& limits) {
  NamespaceSupport s;
  std::string empty = limits.temp_root + "/gradverify-try-XXXXXX";
  if (mkdtemp(empty.data()) == nullptr) {
    s.unavailable_because = "cannot make a directory in " + limits.temp_root;
  } else {
    SandboxLimits trial = limits;
    trial.working_directory = empty;
    trial.wall_seconds = 10;
    try {
      bool world_made = false;
      const SandboxResult r = run_case("exit 0", "", trial, true, &world_made);
      s = support_shown_by(r, world_made && r.exited_cleanly());
    } catch (const std::exception& e) {
      s.unavailable_because = std::string("the trial case could not be set up: ") + e.what();
    }
    remove_tree(empty);
  }
  return s;
}

}  // namespace

const NamespaceSupport& namespace_support(const SandboxLimits& limits) {
  std::lock_guard<std::mutex> lock(support_mutex);
  if (decided_support) return *decided_support;
  if (auto known = support_without_trying()) return *(decided_support = known);
  return *(decided_support = trial_support(limits));  // asked before any case
}

}  // namespace detail

namespace {

SandboxResult run_case(const std::string& command, const std::string& input, const SandboxLimits& limits,
                       bool namespaces, bool* world_made) {
  become_subreaper();
  SandboxResult result;
  result.namespaces = namespaces;
  if (stopping) {
    result.start_error = "grading was stopped";
    return result;
  }
  const bool drop = limits.drop_privileges && geteuid() == 0;

  CaseResources resources;
  resources.namespaces = namespaces;
  // Pipes first: they are what a grader short of descriptors fails on, before anything else
  // of the case exists.
  int* const in_pipe = resources.fds;
  int* const out_pipe = resources.fds + 2;
  int* const err_pipe = resources.fds + 4;
  int* const report_pipe = resources.fds + 6;
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      (namespaces && pipe2(report_pipe, O_CLOEXEC) != 0))
    throw std::runtime_error(std::string("cannot create pipes: ") + strerror(errno));
  if (drop) resources.identity = std::make_unique<detail::CaseIdentity>();
  const uid_t uid = drop ? resources.identity->uid() : geteuid();
  const std::string inside = absolute_directory(limits.working_directory);
  {
    // What SIGKILLed graders left here, once per process and temp root.
    static std::mutex mutex;
    static std::set<std::string> swept;
    std::lock_guard<std::mutex> lock(mutex);
    if (swept.insert(limits.temp_root).second) detail::remove_stale_case_directories(limits.temp_root);
  }
  resources.directory = std::make_unique<detail::CaseDirectory>(
      limits.temp_root, inside, detail::CopyLimits{limits.copy_limit_bytes, limits.copy_limit_files},
      limits.hidden_paths, uid, drop);
  resources.cgroup = std::make_unique<detail::CaseCgroup>(limits.memory_bytes, limits.processes);
  const detail::CaseDirectory& directory = *resources.directory;

  // In its own world the case's HOME and TMPDIR are its private /tmp; otherwise home/.
  const std::string home = namespaces ? "/tmp" : directory.home();
  std::vector<std::string> env_strings = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + home,
                                          "LANG=C.UTF-8"};
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings =
      namespaces ? detail::bubblewrap_command(detail::find_bubblewrap(), limits, directory.work(), inside, command)
                 : std::vector<std::string>{"/bin/sh", "-c", command};
  std::vector<char*> argv;
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  ChildPlan plan;
  plan.in_fd = in_pipe[0];
  plan.out_fd = out_pipe[1];
  plan.err_fd = err_pipe[1];
  plan.report_fd = namespaces ? report_pipe[1] : -1;
  plan.cgroup = resources.cgroup.get();
  plan.limits = &limits;
  plan.drop = drop;
  plan.uid = uid;
  plan.grader = getpid();
  plan.workdir = namespaces ? "/" : directory.work().c_str();
  plan.program = arg_strings[0].c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();

  const auto start = Clock::now();
  pid_t pid = -1;
  {
    std::lock_guard<std::mutex> lock(running_mutex);
    if (stopping) {
      result.start_error = "grading was stopped";
      return result;
    }
    pid = fork();
    if (pid == 0) exec_child(plan);
    if (pid > 0) running_cases.insert(resources.child = pid);
  }
  const int fork_errno = errno;
  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  close_fd(report_pipe[1]);
  // The parent's ends; each is closed, and set to -1, as soon as it is done with.
  int& to_child = in_pipe[1];
  int& from_stdout = out_pipe[0];
  int& from_stderr = err_pipe[0];
  if (pid < 0) {
    result.start_error = std::string("fork failed: ") + strerror(fork_errno);
    return result;
  }
  result.started = true;
  set_nonblocking(to_child);
  set_nonblocking(from_stdout);
  set_nonblocking(from_stderr);
  if (input.empty()) close_fd(to_child);

  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limits.wall_seconds));
  size_t written = 0;
  int status = 0;
  bool exited = false;
  std::optional<Clock::time_point> drain_deadline;  // after the main process exits
  char buffer[65536];
  const auto end_of_case = [&] {
    // Whatever it left is killed now, so the pipes reach end-of-file. With namespaces the
    // cgroup may still list processes the namespace's end is killing: the wrapper's count says
    // what was left.
    if (resources.cgroup->kill_all() && !namespaces) result.left_processes = true;
    if (!namespaces) result.left_processes = clean_up_after(pid, resources.identity.get()) || result.left_processes;
  };
  while (from_stdout >= 0 || from_stderr >= 0 || !exited) {
    const auto now = Clock::now();
    if (!exited && (now >= deadline || stopping)) {
      result.timed_out = !stopping;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);  // in case it had not made its session yet
      break;
    }
    if (drain_deadline && now >= *drain_deadline) break;
    if (!exited && has_exited(pid, false)) {
      exited = true;
      end_of_case();  // while its zombie holds the pid and the group
      status = reap(pid);
      resources.reaped = true;
      resources.bwrap_exited = WIFEXITED(status);
      drain_deadline = Clock::now() + std::chrono::milliseconds(500);
    }
    pollfd fds[3];
    nfds_t n = 0;
    if (to_child >= 0) fds[n++] = {to_child, POLLOUT, 0};
    if (from_stdout >= 0) fds[n++] = {from_stdout, POLLIN, 0};
    if (from_stderr >= 0) fds[n++] = {from_stderr, POLLIN, 0};
    if (n == 0) {
      if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    poll(fds, n, 20);  // short, so a process that exits with its pipes held open is noticed
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == to_child) {
        const ssize_t w = write(to_child, input.data() + written, std::min<size_t>(input.size() - written, sizeof buffer));
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) close_fd(to_child);  // it closed stdin: fine, it may not need it all
        else if (written == input.size()) close_fd(to_child);
        continue;
      }
      const bool is_stdout = fds[i].fd == from_stdout;
      int& fd = is_stdout ? from_stdout : from_stderr;
      const ssize_t r = read(fd, buffer, sizeof buffer);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        close_fd(fd);
        continue;
      }
      if (r < 0) continue;
      if (is_stdout) {
        result.out.append(buffer, static_cast<size_t>(r));
        if (static_cast<int64_t>(result.out.size()) > limits.stdout_bytes) {
          result.stdout_overflow = true;
          kill(-pid, SIGKILL);
          kill(pid, SIGKILL);
        }
      } else {
        result.stderr_total += r;
        const auto room = limits.stderr_bytes - static_cast<int64_t>(result.err.size());
        if (room > 0) result.err.append(buffer, static_cast<size_t>(std::min<int64_t>(room, r)));
      }
    }
    if (result.stdout_overflow) break;
  }
  if (!exited) {
    has_exited(pid, true);  // it was sent SIGKILL above
    end_of_case();
    status = reap(pid);
    resources.reaped = true;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (namespaces) {
    // "ready", then the count the wrapper wrote when the command ended: more than its own 2
    // means leftovers (the namespace's end has killed them since).
    char report[64] = {0};
    set_nonblocking(report_pipe[0]);
    const ssize_t n = read(report_pipe[0], report, sizeof report - 1);
    const std::string ready = std::string(detail::kWorldReady) + "\n";
    const bool made = n > 0 && std::strncmp(report, ready.c_str(), ready.size()) == 0;
    if (made && std::atoi(report + ready.size()) > 2) result.left_processes = true;
    if (world_made != nullptr) *world_made = made;
  }
  result.memory_exceeded = resources.cgroup->memory_exceeded();
  if (result.timed_out || result.stdout_overflow) result.left_processes = false;  // killed on purpose, not left
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status) && !result.timed_out && !result.stdout_overflow) result.signal = WTERMSIG(status);
  if (stopping && !result.exited_cleanly()) {
    result.started = false;
    result.start_error = "grading was stopped";
  }
  return result;  // resources kill what is left, then remove the cgroup, the copy and the uid claim
}

}  // namespace

std::string describe_signal(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV (segmentation fault: a bad memory access)";
    case SIGABRT: return "SIGABRT (abort: an assertion, std::terminate or a failed allocation)";
    case SIGFPE: return "SIGFPE (arithmetic error, e.g. an integer division by zero)";
    case SIGBUS: return "SIGBUS (bus error: a bad memory access)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGKILL: return "SIGKILL";
    case SIGXCPU: return "SIGXCPU (CPU time limit reached)";
    case SIGXFSZ: return "SIGXFSZ (file size limit reached)";
    default: return std::string("signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
}

std::string SandboxResult::failure() const {
  if (!started) return "could not be started: " + start_error;
  if (timed_out) return "timed out: stopped after " + std::to_string(static_cast<int>(seconds + 0.5)) + " s";
  if (stdout_overflow) return "wrote too much to stdout: stopped after " + std::to_string(out.size() >> 20) + " MiB";
  if (memory_exceeded && (signal != 0 || exit_code != 0))
    return "ran out of memory: its processes together reached the case's memory limit";
  if (signal != 0) return "crashed: killed by " + describe_signal(signal);
  // sh -c reports a command killed by signal N as exit status 128 + N.
  if (exit_code > 128 && exit_code <= 128 + 64)
    return "crashed: killed by " + describe_signal(exit_code - 128) + " (exit status " + std::to_string(exit_code) + ")";
  // The sandbox's own set-up failed in the child (before exec).
  if (exit_code == 127 && err.rfind("gradverify sandbox: ", 0) == 0) return err.substr(20, err.find('\n') - 20);
  if (exit_code == 127 && err.find("not found") != std::string::npos)
    return namespaces ? "command not found (exit status 127); a case sees only the system's directories and its "
                        "copy of the submission's directory"
                      : "command not found (exit status 127)";
  if (exit_code == 126 && err.find("ermission denied") != std::string::npos)
    return "command not executable (exit status 126): make it executable (chmod +x), or run it through its "
           "interpreter (python3 FILE)";
  if (exit_code != 0) return "exited with status " + std::to_string(exit_code);
  return "";
}

SandboxResult run_sandboxed(const std::string& command, const std::string& input, const SandboxLimits& limits) {
  if (limits.isolation == IsolationMode::basic) return run_case(command, input, limits, false);
  std::optional<detail::NamespaceSupport> support;
  {
    std::lock_guard<std::mutex> lock(detail::support_mutex);
    if (!detail::decided_support) detail::decided_support = detail::support_without_trying();
    support = detail::decided_support;
  }
  if (!support) {
    // Not decided yet: this case runs in bubblewrap, and its world either was made (it ran in
    // it) or never was (nothing of it ran). Other workers' first cases run alike meanwhile,
    // never waiting on this one (a hanging first case must not spend their time budgets).
    bool world_made = false;
    SandboxResult r = run_case(command, input, limits, true, &world_made);
    std::lock_guard<std::mutex> lock(detail::support_mutex);
    if (world_made) {
      if (!detail::decided_support) detail::decided_support = detail::NamespaceSupport{true, ""};
      return r;
    }
    if (!r.started) return r;  // stopped, or not set up: nothing learned
    // No "ready": bwrap's own set-up failed, or the case read the line out of the pipe itself
    // (through /proc/PPID/fd). The empty trial decides, and the case runs again as it says.
    if (!detail::decided_support) detail::decided_support = detail::trial_support(limits);
    support = detail::decided_support;
  }
  if (!support->usable && limits.isolation == IsolationMode::namespaces)
    throw std::runtime_error("namespaces are required but unavailable: " + support->unavailable_because);
  return run_case(command, input, limits, support->usable);
}

void require_copyable_submission(const std::string& directory, const SandboxLimits& limits) {
  struct stat st {};
  if (stat(directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::invalid_argument("not a directory; expected the submission's directory");
  const std::string absolute = absolute_directory(directory);
  for (const char* system : {"/", "/usr", "/etc", "/opt", "/tmp", "/proc", "/dev"})
    if (absolute == system)
      throw std::invalid_argument("is a system directory; expected a directory that holds just the submission");
  const std::string why =
      detail::why_not_copyable(directory, detail::CopyLimits{limits.copy_limit_bytes, limits.copy_limit_files});
  if (!why.empty()) throw std::invalid_argument(why);
}

void stop_all_cases() {
  stopping = true;
  std::lock_guard<std::mutex> lock(running_mutex);
  for (pid_t pid : running_cases) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
}

bool cases_stopped() { return stopping; }

void finish_case_clean_up() { detail::finish_removals(); }

}  // namespace gradverify
