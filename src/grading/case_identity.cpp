#include "grading/case_identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "gradverify/grading/sandbox.h"

namespace gradverify::detail {
std::optional<ProcessOwner> owner_of(const char* pid) {
  std::ifstream status(std::string("/proc/") + pid + "/status");
  std::string line;
  ProcessOwner owner;
  while (std::getline(status, line)) {  // State: comes before Uid:
    if (line.rfind("State:", 0) == 0) owner.zombie = line.find('Z') != std::string::npos;
    if (line.rfind("Uid:", 0) == 0) {
      owner.real_uid = static_cast<uid_t>(std::strtoul(line.c_str() + 4, nullptr, 10));
      return owner;
    }
  }
  return std::nullopt;
}

namespace {

// Asked of the user database once per uid and process (each ask reads /etc/passwd and more).
bool is_account(uid_t uid) {
  static std::mutex mutex;
  static std::map<uid_t, bool> known;
  std::lock_guard<std::mutex> lock(mutex);
  const auto it = known.find(uid);
  if (it != known.end()) return it->second;
  return known[uid] = getpwuid(uid) != nullptr;
}

std::string lock_directory() {
  struct stat st {};
  return stat("/run/lock", &st) == 0 && S_ISDIR(st.st_mode) ? "/run/lock" : "/tmp";
}

}  // namespace

CaseIdentity::CaseIdentity() {
  static const std::string directory = lock_directory();
  // The scan starts where the last claim in this process ended, so workers spread out, and
  // each process starts at its own place: a uid another grader has just released may still
  // have processes on their way out, counted against the next case's process limit.
  static std::mutex mutex;
  static int next = static_cast<int>(getpid() % kCaseUids);
  std::lock_guard<std::mutex> lock(mutex);
  for (int tried = 0; tried < kCaseUids; ++tried) {
    const int slot = (next + tried) % kCaseUids;
    const uid_t uid = kFirstCaseUid + static_cast<uid_t>(slot);
    if (is_account(uid)) continue;  // an account's uid: its files are not ours to hand out
    const std::string path = directory + "/gradverify-uid-" + std::to_string(uid);
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    uid_ = uid;
    lock_fd_ = fd;
    next = (slot + 1) % kCaseUids;
    return;
  }
  throw std::runtime_error("all " + std::to_string(kCaseUids) + " case uids from " + std::to_string(kFirstCaseUid) +
                           " are in use (lock files in " + directory + ")");
}

CaseIdentity::~CaseIdentity() {
  if (lock_fd_ >= 0) close(lock_fd_);  // closing releases the flock
}

namespace {

// Whether any live process has `uid` as its real uid.
bool any_process_of(uid_t uid) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return false;
  bool found = false;
  while (!found) {
    const dirent* entry = readdir(proc);
    if (entry == nullptr) break;
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const auto owner = owner_of(entry->d_name);
    found = owner && !owner->zombie && owner->real_uid == uid;
  }
  closedir(proc);
  return found;
}

}  // namespace

bool kill_every_process_of(uid_t uid) {
  if (geteuid() != 0 || !any_process_of(uid)) return false;
  const pid_t helper = fork();
  if (helper == 0) {
    // As the case's uid, kill(-1) reaches exactly that uid's processes (and never this one).
    // A killed process can't fork any more, so a few rounds also catch children forked
    // while the first was sent. (kill(-1) returns 0 even when it signalled nothing, so the
    // caller asks /proc whether any is left.)
    if (setgid(uid) == 0 && setuid(uid) == 0) {
      for (int round = 0; round < 4; ++round) {
        kill(-1, SIGKILL);
        const timespec pause{0, 500000};
        nanosleep(&pause, nullptr);
      }
    }
    _exit(0);
  }
  if (helper > 0) waitpid(helper, nullptr, 0);
  return true;
}

}  // namespace gradverify::detail
