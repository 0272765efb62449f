#include "grading/namespaces.h"

#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

extern char** environ;

namespace gradverify::detail {
namespace {

// A program run directly (no shell: one process, not two), its stdout and stderr read from
// `output` until it ends.
struct Started {
  pid_t pid = -1;
  int output = -1;
};

Started start(const std::vector<std::string>& command) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Started started;
  if (posix_spawn(&started.pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) started.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  started.output = out[0];
  return started;
}

std::string output_of(const Started& started) {
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while (started.pid > 0 && ((n = read(started.output, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0) text.append(buffer, static_cast<size_t>(n));
  if (started.output >= 0) close(started.output);
  if (started.pid > 0)
    while (waitpid(started.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  return text;
}

// Only absolute PATH entries ("" and "." would run a planted bwrap), and as root only a
// root-owned program that no one else may write.
std::string on_path(const std::string& program) {
  const char* path = getenv("PATH");
  std::istringstream dirs(path != nullptr && *path != '\0' ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty() || dir[0] != '/') continue;
    const std::string candidate = dir + "/" + program;
    struct stat st {};
    if (access(candidate.c_str(), X_OK) != 0 || stat(candidate.c_str(), &st) != 0) continue;
    if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)) continue;
    return candidate;
  }
  return "";
}

std::string real_path(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : "";
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

// Where the grader's copy of the submission is seen, read-only, inside.
constexpr const char* kStagedCopy = "/run/gradverify-submission";

// The machine's read-only system: what programs, interpreters and their libraries need.
const char* const kSystemDirs[] = {"/usr", "/etc", "/opt"};
const char* const kTopLevelLinks[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};

}  // namespace

const Bubblewrap& find_bubblewrap() {
  static const Bubblewrap found = [] {
    Bubblewrap b;
    b.path = on_path("bwrap");
    if (b.path.empty()) return b;
    // Both at once: this is on the first case's path.
    const Started version_run = start({b.path, "--version"}), help_run = start({b.path, "--help"});
    std::string version = output_of(version_run);
    if (!version.empty() && version.back() == '\n') version.pop_back();
    b.version = version;
    b.sizes_tmpfs = output_of(help_run).find("--size") != std::string::npos;
    return b;
  }();
  return found;
}

std::vector<std::string> bubblewrap_command(const Bubblewrap& bwrap, const SandboxLimits& limits,
                                            const std::string& copy, const std::string& inside,
                                            const std::string& command) {
  std::vector<std::string> a = {bwrap.path, "--unshare-all", "--die-with-parent", "--new-session",
                                "--hostname", "gradverify-case"};
  std::vector<std::string> visible;  // real paths of what is bound, for hiding inside them
  for (const char* dir : kSystemDirs) {
    struct stat st {};
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    a.insert(a.end(), {"--ro-bind", dir, dir});
    visible.push_back(dir);
  }
  for (const char* link : kTopLevelLinks) {
    struct stat st {};
    if (lstat(link, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {  // merged /usr: /bin -> usr/bin
      char target[PATH_MAX];
      const ssize_t n = readlink(link, target, sizeof target - 1);
      if (n <= 0) continue;
      a.insert(a.end(), {"--symlink", std::string(target, static_cast<size_t>(n)), link});
    } else if (S_ISDIR(st.st_mode)) {
      a.insert(a.end(), {"--ro-bind", link, link});
      visible.push_back(link);
    }
  }
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev"});
  for (const char* tmp : {"/tmp", "/var/tmp", "/dev/shm"}) {
    if (bwrap.sizes_tmpfs) a.insert(a.end(), {"--size", std::to_string(limits.tmpfs_bytes)});
    a.insert(a.end(), {"--tmpfs", tmp});
  }
  // After the tmpfs, so that a directory exposed under /tmp is not hidden by them.
  for (const auto& path : limits.exposed_paths) {
    const std::string real = real_path(path);
    if (real.empty()) continue;  // refused earlier, by whoever set it
    a.insert(a.end(), {"--ro-bind", real, real});
    visible.push_back(real);
  }
  // The grader's own binary, its plug-in and rubric, where a system directory would show them.
  std::vector<std::string> hidden = limits.hidden_paths;
  hidden.push_back("/proc/self/exe");
  for (const auto& path : hidden) {
    const std::string real = real_path(path);
    bool shown = false;
    for (const auto& dir : visible) shown = shown || under(real, dir);
    if (!shown) continue;
    struct stat st {};
    if (stat(real.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) a.insert(a.end(), {"--tmpfs", real});
    else a.insert(a.end(), {"--ro-bind", "/dev/null", real});
  }
  // The grader's copy, read-only, is copied again inside onto a size-capped tmpfs at the
  // submission's own path: what the case writes there is memory in its cgroup, never the
  // machine's disk, which classmates' cases need.
  // A bwrap too old to cap a tmpfs (before 0.7) gets the copy on disk, written in place.
  std::string copy_step;
  if (bwrap.sizes_tmpfs) {
    a.insert(a.end(), {"--ro-bind", copy, kStagedCopy, "--size",
                       std::to_string(limits.copy_limit_bytes + limits.tmpfs_bytes), "--tmpfs", inside});
    copy_step = std::string("cp -a ") + kStagedCopy + "/. . || exit 126; ";
  } else {
    a.insert(a.end(), {"--bind", copy, inside});
  }
  a.insert(a.end(), {"--chdir", inside, "--"});
  // "ready" (the world is made: nothing of the submission has run yet, so its absence means
  // bwrap's own set-up failed), the copy, the file size limit (after the copy, which may hold
  // larger files; in 512-byte blocks), the command, then a count of what it left: pid 1
  // (bwrap's reaper) and this shell are 2.
  a.insert(a.end(), {"/bin/sh", "-c",
                     std::string("echo ") + kWorldReady + " >&3; " + copy_step + "ulimit -f " + std::to_string(limits.file_size_bytes / 512) +
                         "; /bin/sh -c \"$1\" 3>&-; s=$?; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; "
                         "echo \"$n\" >&3; exit \"$s\"",
                     "gradverify-case", command});
  return a;
}

}  // namespace gradverify::detail
