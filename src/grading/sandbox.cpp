#include "gradverify/grading/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace gradverify {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uid_t kNobody = 65534;

// Cases running right now, across threads: their main processes are our children and are not
// orphans. Forks happen under the same lock, so a scan never sees a child not yet listed.
std::mutex running_mutex;
std::set<pid_t> running_cases;

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// The case's own resources, released on every way out of run_sandboxed, the error paths
// included (an exception after the fork, say): its process group, killed and reaped unless it
// was; whichever pipe ends are still open; its temporary directory.
struct CaseResources {
  std::string temp_dir;
  int fds[6] = {-1, -1, -1, -1, -1, -1};  // stdin's, stdout's and stderr's pipes: read end, write end
  pid_t child = -1;                       // the case's main process, listed in running_cases
  bool reaped = false;                    // its exit status was collected
  CaseResources() = default;
  CaseResources(const CaseResources&) = delete;
  CaseResources& operator=(const CaseResources&) = delete;
  ~CaseResources() {
    if (child > 0) {
      if (!reaped) {
        kill(-child, SIGKILL);
        waitpid(child, nullptr, 0);
      }
      std::lock_guard<std::mutex> lock(running_mutex);
      running_cases.erase(child);
    }
    for (int& fd : fds) close_fd(fd);
    std::error_code ignored;
    if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir, ignored);
  }
};

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

// Kills and reaps our children that are not a running case: descendants of finished cases.
bool kill_orphans() {
  bool found = false;
  const pid_t self = getpid();
  std::vector<pid_t> orphans;
  {
    std::lock_guard<std::mutex> lock(running_mutex);
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return false;
    while (dirent* entry = readdir(proc)) {
      char* end = nullptr;
      const long pid = std::strtol(entry->d_name, &end, 10);
      if (*end != '\0' || pid <= 0) continue;
      std::ifstream stat("/proc/" + std::string(entry->d_name) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so parse after the last ')'.
      const auto close_paren = line.rfind(')');
      if (close_paren == std::string::npos) continue;
      char state = 0;
      long ppid = 0;
      if (std::sscanf(line.c_str() + close_paren + 1, " %c %ld", &state, &ppid) != 2) continue;
      if (ppid == self && !running_cases.count(static_cast<pid_t>(pid))) orphans.push_back(static_cast<pid_t>(pid));
    }
    closedir(proc);
  }
  for (pid_t pid : orphans) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    found = true;
  }
  return found;
}

// Kills what is left of a case's process group and of its escaped descendants.
bool clean_up_after(pid_t group) {
  bool left = kill(-group, 0) == 0;
  kill(-group, SIGKILL);
  for (int attempt = 0; attempt < 20; ++attempt) {
    const bool orphans = kill_orphans();
    left = left || orphans;
    if (!orphans && kill(-group, 0) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return left;
}

void set_limit(int resource, rlim_t value) {
  const rlimit limit{value, value};
  setrlimit(resource, &limit);
}

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(int in_fd, int out_fd, int err_fd, const char* workdir, const SandboxLimits& limits,
                             bool drop, char* const argv[], char* const envp[]) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // if the grader dies, so does the case
  dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  const auto fail = [](const char* what) {
    const char* reason = strerror(errno);
    (void)!write(2, "gradverify sandbox: ", 20);
    (void)!write(2, what, strlen(what));
    (void)!write(2, ": ", 2);
    (void)!write(2, reason, strlen(reason));
    (void)!write(2, "\n", 1);
    _exit(127);
  };
  rlimit cpu{static_cast<rlim_t>(limits.cpu_seconds), static_cast<rlim_t>(limits.cpu_seconds + 1)};
  setrlimit(RLIMIT_CPU, &cpu);
  set_limit(RLIMIT_AS, static_cast<rlim_t>(limits.address_space_bytes));
  set_limit(RLIMIT_FSIZE, static_cast<rlim_t>(limits.file_size_bytes));
  set_limit(RLIMIT_NOFILE, static_cast<rlim_t>(limits.open_files));
  set_limit(RLIMIT_CORE, 0);
  if (drop) {
    set_limit(RLIMIT_NPROC, static_cast<rlim_t>(limits.processes));
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) fail("cannot drop to nobody");
  }
  // After dropping to nobody: the submission's directory must be open to the user it runs as.
  if (chdir(workdir) != 0) fail("cannot enter the submission's directory");
  execve("/bin/sh", argv, envp);
  fail("cannot run /bin/sh");
  _exit(127);
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
  if (signal != 0) return "crashed: killed by " + describe_signal(signal);
  // sh -c reports a command killed by signal N as exit status 128 + N.
  if (exit_code > 128 && exit_code <= 128 + 64)
    return "crashed: killed by " + describe_signal(exit_code - 128) + " (exit status " + std::to_string(exit_code) + ")";
  // The sandbox's own set-up failed in the child (before exec): say what, and hint at nobody.
  if (exit_code == 127 && err.rfind("gradverify sandbox: ", 0) == 0)
    return err.substr(20, err.find('\n') - 20) + " (it runs as nobody when the grader is root: the directory must be "
                                                  "readable by all)";
  if (exit_code == 127 && err.find("not found") != std::string::npos) return "command not found (exit status 127)";
  if (exit_code != 0) return "exited with status " + std::to_string(exit_code);
  return "";
}

SandboxResult run_sandboxed(const std::string& command, const std::string& input, const SandboxLimits& limits) {
  become_subreaper();
  SandboxResult result;
  const bool drop = limits.run_as_nobody && geteuid() == 0;

  CaseResources resources;
  // A fresh HOME and TMPDIR for this case, removed afterwards.
  std::string temp_template = limits.temp_root + "/gradverify-case-XXXXXX";
  if (mkdtemp(temp_template.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary directory in " + limits.temp_root + ": " + strerror(errno));
  const std::string temp_dir = resources.temp_dir = temp_template;
  if (drop && chown(temp_dir.c_str(), kNobody, kNobody) != 0)
    throw std::runtime_error("cannot hand " + temp_dir + " to nobody: " + strerror(errno));

  std::vector<std::string> env_strings = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + temp_dir, "TMPDIR=" + temp_dir,
                                          "LANG=C.UTF-8"};
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  int* const in_pipe = resources.fds;
  int* const out_pipe = resources.fds + 2;
  int* const err_pipe = resources.fds + 4;
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("cannot create pipes: ") + strerror(errno));

  const auto start = Clock::now();
  pid_t pid = -1;
  {
    std::lock_guard<std::mutex> lock(running_mutex);
    pid = fork();
    if (pid == 0)
      exec_child(in_pipe[0], out_pipe[1], err_pipe[1], limits.working_directory.c_str(), limits, drop, argv,
                 envp.data());
    if (pid > 0) running_cases.insert(resources.child = pid);
  }
  const int fork_errno = errno;
  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  // The parent's ends; each is closed, and set to -1, as soon as it is done with.
  int& to_child = in_pipe[1];
  int& from_stdout = out_pipe[0];
  int& from_stderr = err_pipe[0];
  if (pid < 0) {
    result.start_error = std::string("fork failed: ") + strerror(fork_errno);
    return result;
  }
  setpgid(pid, pid);  // also here, so the group exists before we might signal it
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
  while (from_stdout >= 0 || from_stderr >= 0 || !exited) {
    const auto now = Clock::now();
    if (!exited && now >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    if (drain_deadline && now >= *drain_deadline) break;
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = resources.reaped = true;
      // Whatever it left in its group is killed now, so the pipes reach end-of-file.
      result.left_processes = clean_up_after(pid) || result.left_processes;
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
    waitpid(pid, &status, 0);  // it was sent SIGKILL above
    resources.reaped = true;
    result.left_processes = clean_up_after(pid) || result.left_processes;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (result.timed_out || result.stdout_overflow) result.left_processes = false;  // killed on purpose, not left
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status) && !result.timed_out && !result.stdout_overflow) result.signal = WTERMSIG(status);
  return result;  // resources unlists the case, closes what is still open and removes temp_dir
}

}  // namespace gradverify
