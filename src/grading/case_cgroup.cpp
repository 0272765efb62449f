#include "grading/case_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace gradverify::detail {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes `value` to a cgroup file, or throws naming it.
void write_value(const std::string& path, const std::string& value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const bool ok = fd >= 0 && write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  const int error = errno;
  if (fd >= 0) close(fd);
  if (!ok) throw std::runtime_error("cannot write " + value + " to " + path + ": " + std::strerror(error));
}

// The grader's own cgroup in a hierarchy, from /proc/self/cgroup: "0::/a/b" (v2) or
// "4:memory:/a/b" (v1, with `controller`).
std::string own_cgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::istringstream names(controllers);
    std::string name;
    bool match = controller.empty() ? controllers.empty() && line.compare(0, first, "0") == 0 : false;
    while (!controller.empty() && std::getline(names, name, ','))
      if (name == controller) match = true;
    if (match) return line.substr(second + 1);
  }
  return "";
}

struct Layout {
  bool v2 = false;
  std::string memory_base, pids_base;  // where the case cgroups are made (the same for v2)
};

Layout layout() {
  Layout l;
  if (exists("/sys/fs/cgroup/cgroup.controllers")) {
    l.v2 = true;
    l.memory_base = l.pids_base = "/sys/fs/cgroup" + own_cgroup("");
  } else {
    l.memory_base = "/sys/fs/cgroup/memory" + own_cgroup("memory");
    l.pids_base = "/sys/fs/cgroup/pids" + own_cgroup("pids");
  }
  return l;
}

std::string fresh_name() {
  static std::atomic<unsigned> counter{0};
  return "/gradverify-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

void remove_dir(const std::string& dir) {
  // A cgroup whose last processes are still exiting is busy for a moment.
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Kills every process listed in `procs` until it lists none; whether it listed any.
bool empty_cgroup(const std::string& dir) {
  bool found = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < give_up) {
    std::istringstream pids(read_small_file(dir + "/cgroup.procs"));
    long pid = 0;
    bool any = false;
    while (pids >> pid) {
      kill(static_cast<pid_t>(pid), SIGKILL);
      any = true;
    }
    if (!any) break;
    found = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return found;
}

// The case cgroups of graders that are gone (SIGKILLed): emptied and removed.
void remove_stale_cgroups(const Layout& l) {
  for (const std::string& base : {l.memory_base, l.pids_base}) {
    DIR* dir = opendir(base.c_str());
    if (dir == nullptr) continue;
    std::vector<std::string> stale;
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.rfind("gradverify-", 0) != 0) continue;
      const long pid = std::strtol(name.c_str() + 11, nullptr, 10);
      if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(base + "/" + name);
    }
    closedir(dir);
    for (const auto& path : stale) {
      empty_cgroup(path);
      remove_dir(path);
    }
  }
}

}  // namespace

const CgroupSupport& cgroup_support() {
  static const CgroupSupport support = [] {
    CgroupSupport s;
    remove_stale_cgroups(layout());
    try {
      CaseCgroup probe(int64_t{64} << 20, 8, CaseCgroup::Probe{});
      s.kind = layout().v2 ? "cgroup v2" : "cgroup v1 (memory, pids)";
    } catch (const std::exception& e) {
      s.unavailable_because = e.what();
    }
    return s;
  }();
  return support;
}

CaseCgroup::CaseCgroup(int64_t memory_bytes, int processes) {
  if (!cgroup_support().kind.empty()) create(memory_bytes, processes);
}

CaseCgroup::CaseCgroup(int64_t memory_bytes, int processes, Probe) { create(memory_bytes, processes); }

void CaseCgroup::create(int64_t memory_bytes, int processes) {
  const Layout l = layout();
  const std::string name = fresh_name();
  try {
    if (l.v2) {
      const std::string dir = l.memory_base + name;
      if (mkdir(dir.c_str(), 0700) != 0)
        throw std::runtime_error("cannot make a cgroup in " + l.memory_base + ": " + std::strerror(errno));
      dirs_.push_back(dir);
      const std::string controllers = read_small_file(dir + "/cgroup.controllers");
      if (controllers.find("memory") == std::string::npos || controllers.find("pids") == std::string::npos)
        throw std::runtime_error(l.memory_base + " does not hand its children the memory and pids controllers");
      write_value(dir + "/memory.max", std::to_string(memory_bytes));
      if (exists(dir + "/memory.swap.max")) write_value(dir + "/memory.swap.max", "0");
      write_value(dir + "/pids.max", std::to_string(processes));
      events_file_ = dir + "/memory.events";
    } else {
      for (const std::string& base : {l.memory_base, l.pids_base}) {
        const std::string dir = base + name;
        if (mkdir(dir.c_str(), 0700) != 0)
          throw std::runtime_error("cannot make a cgroup in " + base + ": " + std::strerror(errno));
        dirs_.push_back(dir);
      }
      write_value(dirs_[0] + "/memory.limit_in_bytes", std::to_string(memory_bytes));
      // Without this, swap would extend the limit where swap accounting is on.
      if (exists(dirs_[0] + "/memory.memsw.limit_in_bytes"))
        write_value(dirs_[0] + "/memory.memsw.limit_in_bytes", std::to_string(memory_bytes));
      write_value(dirs_[1] + "/pids.max", std::to_string(processes));
      events_file_ = dirs_[0] + "/memory.oom_control";
    }
    for (const auto& dir : dirs_) {
      const int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("cannot open " + dir + "/cgroup.procs: " + std::strerror(errno));
      procs_fds_.push_back(fd);
    }
  } catch (...) {
    for (int fd : procs_fds_) close(fd);
    for (const auto& dir : dirs_) remove_dir(dir);
    procs_fds_.clear();
    dirs_.clear();
    throw;
  }
}

CaseCgroup::~CaseCgroup() {
  for (int fd : procs_fds_) close(fd);
  if (!active()) return;
  kill_all();
  for (const auto& dir : dirs_) remove_dir(dir);
}

bool CaseCgroup::join_from_child() const {
  // getpid() in decimal, without the allocator: this runs between fork and exec.
  char digits[24];
  int n = 0;
  for (long pid = getpid(); pid > 0; pid /= 10) digits[n++] = static_cast<char>('0' + pid % 10);
  char text[24];
  for (int i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
  for (int fd : procs_fds_)
    if (write(fd, text, static_cast<size_t>(n)) != n) return false;
  return true;
}

bool CaseCgroup::memory_exceeded() const {
  if (!active()) return false;
  std::istringstream events(read_small_file(events_file_));
  std::string key;
  long long value = 0;
  while (events >> key >> value)
    if (key == "oom_kill" && value > 0) return true;
  return false;
}

bool CaseCgroup::kill_all() {
  bool found = false;
  if (!active()) return false;
  // v2's cgroup.kill (Linux 5.14) kills the whole cgroup at once, forks in flight included.
  if (exists(dirs_[0] + "/cgroup.kill")) {
    const int fd = open((dirs_[0] + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!write(fd, "1", 1);
      close(fd);
    }
  }
  for (const auto& dir : dirs_) found = empty_cgroup(dir) || found;
  return found;
}

}  // namespace gradverify::detail
