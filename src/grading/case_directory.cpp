#include "grading/case_directory.h"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace gradverify::detail {
namespace fs = std::filesystem;

namespace {

void hand_over(const std::string& path, uid_t owner) {
  if (lchown(path.c_str(), owner, owner) != 0)
    throw std::runtime_error("cannot hand " + path + " to uid " + std::to_string(owner) + ": " + std::strerror(errno));
}

// Regular files, directories and symlinks are copied (a symlink as a symlink, never
// followed); sockets, fifos, devices and whatever is excluded are left out.
void copy_tree(const fs::path& from, const fs::path& to, const std::vector<std::string>& excluded, uid_t owner,
               bool change_owner) {
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    if (std::find(excluded.begin(), excluded.end(), fs::absolute(it->path()).lexically_normal().string()) !=
        excluded.end()) {
      it.disable_recursion_pending();
      continue;
    }
    const fs::path target = to / fs::relative(it->path(), from);
    const fs::file_status status = it->symlink_status();
    if (fs::is_symlink(status)) {
      fs::copy_symlink(it->path(), target);
    } else if (fs::is_directory(status)) {
      fs::create_directory(target);
      fs::permissions(target, fs::perms::owner_all);
    } else if (fs::is_regular_file(status)) {
      // Its permission bits, never setuid or setgid (a class unpacked with tar may carry them).
      fs::copy_file(it->path(), target);
      fs::permissions(target, status.permissions() & fs::perms::all);
    } else {
      continue;
    }
    if (change_owner) hand_over(target.string(), owner);
  }
}

// "gradverify-case-<pid>-": the grader that made it.
std::string case_prefix(pid_t pid) { return "gradverify-case-" + std::to_string(pid) + "-"; }

}  // namespace

std::string why_not_copyable(const std::string& directory, const CopyLimits& limits) {
  int64_t bytes = 0, files = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(directory, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (fs::is_regular_file(it->symlink_status())) bytes += static_cast<int64_t>(it->file_size());
    if (bytes > limits.bytes)
      return "holds more than " +
             (limits.bytes >= (int64_t{1} << 20) ? std::to_string(limits.bytes >> 20) + " MiB"
                                                 : std::to_string(limits.bytes) + " bytes") +
             "; each case runs in a fresh copy of it, so give the directory that holds just the submission";
    if (++files > limits.files)
      return "holds more than " + std::to_string(limits.files) +
             " files; each case runs in a fresh copy of it, so give the directory that holds just the submission";
  }
  if (error) return "cannot be read: " + error.message();
  return "";
}

void remove_stale_case_directories(const std::string& temp_root) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(temp_root, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("gradverify-case-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 16, nullptr, 10);
    if (pid <= 0 || pid == getpid() || name.rfind(case_prefix(static_cast<pid_t>(pid)), 0) != 0) continue;
    struct stat st {};
    // Only the grader's own user's (root's, or this user's), and only when that grader is gone.
    if (lstat(entry.path().c_str(), &st) != 0 || st.st_uid != geteuid()) continue;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) remove_tree(entry.path().string());
  }
}

CaseDirectory::CaseDirectory(const std::string& temp_root, const std::string& submission, const CopyLimits& limits,
                             const std::vector<std::string>& excluded, uid_t owner, bool change_owner) {
  std::string root = temp_root + "/" + case_prefix(getpid()) + "XXXXXX";
  if (mkdtemp(root.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary directory in " + temp_root + ": " + std::strerror(errno));
  root_ = root;
  try {
    // The case's uid must pass through; no one else needs to list it.
    if (chmod(root_.c_str(), 0711) != 0) throw std::runtime_error("cannot open " + root_ + ": " + std::strerror(errno));
    work_ = root_ + "/work";
    home_ = root_ + "/home";
    if (const std::string why = why_not_copyable(submission, limits); !why.empty())
      throw std::runtime_error(submission + " " + why);
    // 0700 from the start: nobody else may list or open the copy while it is made.
    if (mkdir(work_.c_str(), 0700) != 0 || mkdir(home_.c_str(), 0700) != 0)
      throw std::runtime_error("cannot create the case's directories in " + root_ + ": " + std::strerror(errno));
    copy_tree(submission, work_, excluded, owner, change_owner);
    if (change_owner) {
      hand_over(work_, owner);
      hand_over(home_, owner);
    }
  } catch (const fs::filesystem_error& e) {
    remove_tree(root_);
    throw std::runtime_error("cannot copy the submission " + submission + " for a case: " + e.what());
  } catch (...) {
    remove_tree(root_);
    throw;
  }
}

CaseDirectory::~CaseDirectory() { remove_tree(root_); }

void CaseDirectory::seal() const { chmod(root_.c_str(), 0700); }

namespace {

// One thread, started with the first removal; its destructor, at exit, finishes the queue.
class Remover {
 public:
  void add(std::unique_ptr<CaseDirectory> directory) {
    std::unique_lock<std::mutex> lock(mutex_);
    // A few may wait (each up to a copy's limit on the disk); more, and the next case waits.
    idle_.wait(lock, [&] { return queue_.size() < kMaxWaiting; });
    queue_.push_back(std::move(directory));
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    work_.notify_one();
  }
  void finish() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }
  ~Remover() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    work_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      work_.wait(lock, [&] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return;  // done, and nothing left
      std::unique_ptr<CaseDirectory> next = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      next.reset();  // removes it
      lock.lock();
      busy_ = false;
      idle_.notify_all();
    }
  }
  static constexpr size_t kMaxWaiting = 4;
  std::mutex mutex_;
  std::condition_variable work_, idle_;
  std::deque<std::unique_ptr<CaseDirectory>> queue_;
  bool busy_ = false, done_ = false;
  std::thread thread_;
};

Remover& remover() {
  static Remover r;
  return r;
}

}  // namespace

void remove_in_background(std::unique_ptr<CaseDirectory> directory) {
  if (!directory) return;
  directory->seal();
  remover().add(std::move(directory));
}

void finish_removals() { remover().finish(); }

void remove_files_of(uid_t uid) {
  for (const char* shared : {"/tmp", "/var/tmp", "/dev/shm", "/run/lock"}) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(shared, fs::directory_options::skip_permission_denied, error)) {
      struct stat st {};
      if (lstat(entry.path().c_str(), &st) == 0 && st.st_uid == uid) remove_tree(entry.path().string());
    }
  }
}

void remove_tree(const std::string& path) {
  if (path.empty()) return;
  std::error_code error;
  fs::remove_all(path, error);
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;
  // What remove_all can't do (a tree deeper than PATH_MAX, a directory made unreadable),
  // coreutils can: chmod -R and rm -rf walk by descriptor, and neither follows a symlink.
  std::string script = "chmod -R u+rwx -- \"$1\" 2>/dev/null; rm -rf -- \"$1\"";
  std::string sh = "sh", dash_c = "-c", name = "gradverify-clean", target = path;
  char* argv[] = {sh.data(), dash_c.data(), script.data(), name.data(), target.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) == 0) waitpid(pid, nullptr, 0);
}

}  // namespace gradverify::detail
