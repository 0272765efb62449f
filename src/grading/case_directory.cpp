#include "grading/case_directory.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace gradverify::detail {
namespace fs = std::filesystem;

namespace {

void hand_over(const std::string& path, uid_t owner) {
  if (lchown(path.c_str(), owner, owner) != 0)
    throw std::runtime_error("cannot hand " + path + " to uid " + std::to_string(owner) + ": " + std::strerror(errno));
}

// Regular files, directories and symlinks are copied (a symlink as a symlink, never
// followed); sockets, fifos and devices are left out.
void copy_tree(const fs::path& from, const fs::path& to, uid_t owner, bool change_owner) {
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path target = to / fs::relative(it->path(), from);
    const fs::file_status status = it->symlink_status();
    if (fs::is_symlink(status)) fs::copy_symlink(it->path(), target);
    else if (fs::is_directory(status)) fs::create_directory(target, it->path());
    else if (fs::is_regular_file(status)) fs::copy_file(it->path(), target);
    else continue;
    if (change_owner) hand_over(target.string(), owner);
  }
}

}  // namespace

int64_t directory_bytes(const std::string& directory, int64_t limit) {
  int64_t total = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(directory, error); !error && it != fs::recursive_directory_iterator();
       it.increment(error)) {
    if (fs::is_regular_file(it->symlink_status())) total += static_cast<int64_t>(it->file_size());
    if (total > limit) break;
  }
  if (error) throw std::runtime_error("cannot read " + directory + ": " + error.message());
  return total;
}

CaseDirectory::CaseDirectory(const std::string& temp_root, const std::string& submission, int64_t copy_limit_bytes,
                             uid_t owner, bool change_owner) {
  std::string root = temp_root + "/gradverify-case-XXXXXX";
  if (mkdtemp(root.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary directory in " + temp_root + ": " + std::strerror(errno));
  root_ = root;
  try {
    // The case's uid must pass through; no one else needs to list it.
    if (chmod(root_.c_str(), 0711) != 0) throw std::runtime_error("cannot open " + root_ + ": " + std::strerror(errno));
    work_ = root_ + "/work";
    home_ = root_ + "/home";
    if (directory_bytes(submission, copy_limit_bytes) > copy_limit_bytes)
      throw std::runtime_error(submission + " holds more than " + std::to_string(copy_limit_bytes >> 20) +
                               " MiB, too much to copy for each case");
    fs::create_directory(work_, submission);
    fs::create_directory(home_);
    copy_tree(submission, work_, owner, change_owner);
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
