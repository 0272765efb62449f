#pragma once
// A case's own directory, made by the grader under temp_root and removed with everything the
// case put in it: `work`, a fresh copy of the submission's directory (so a case can't leave
// anything for a later one, and the grader can read a submission the case's uid couldn't),
// and `home`, its HOME and TMPDIR when it has no private /tmp. Named after the grader's pid,
// so a later grader removes what a SIGKILLed one left (remove_stale_case_directories).
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gradverify::detail {

// What may be copied for each case: more bytes or files than this is refused, with the reason.
struct CopyLimits {
  int64_t bytes = 0;
  int64_t files = 0;
};

class CaseDirectory {
 public:
  // Copies `submission` into work/, leaving out `excluded` (absolute paths: a rubric kept
  // beside the submission, say) and, when `change_owner` (as root), hands work/ and home/ to
  // `owner`; work/ is 0700, so no other user reads the copy. Throws std::runtime_error,
  // leaving nothing behind, when it can't.
  CaseDirectory(const std::string& temp_root, const std::string& submission, const CopyLimits& limits,
                const std::vector<std::string>& excluded, uid_t owner, bool change_owner);
  ~CaseDirectory();
  CaseDirectory(const CaseDirectory&) = delete;
  CaseDirectory& operator=(const CaseDirectory&) = delete;

  const std::string& work() const { return work_; }
  const std::string& home() const { return home_; }
  // Closes it to everyone but the grader (0700): no case uid may enter it any more.
  void seal() const;

 private:
  std::string root_, work_, home_;
};

// Seals the directory and removes it on a clean-up thread, so that the next case doesn't wait
// for the disk. Every removal is done when finish_removals() returns, and before the process
// exits.
void remove_in_background(std::unique_ptr<CaseDirectory> directory);
void finish_removals();

// Empty when `directory` can be copied within `limits`; otherwise why not ("holds more than
// 256 MiB", "holds more than 10000 files", "cannot be read: ..."). Symlinks are not followed.
std::string why_not_copyable(const std::string& directory, const CopyLimits& limits);

// Removes the case directories under temp_root that graders no longer running left behind.
void remove_stale_case_directories(const std::string& temp_root);

// Without namespaces, as root: removes what `uid` left at the top of the shared temporary
// directories (/tmp, /var/tmp, /dev/shm, /run/lock), where a case could otherwise pass
// hidden inputs to a later case of the same uid. Deeper, in other users' folders, is not
// searched (it would cost a walk of /tmp per case).
void remove_files_of(uid_t uid);

// Removes a tree whatever a case did to it: any depth (deeper than PATH_MAX), directories
// without permissions, symlinks (never followed). Best effort; never throws.
void remove_tree(const std::string& path);

}  // namespace gradverify::detail
