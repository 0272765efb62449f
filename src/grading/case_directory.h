#pragma once
// A case's own directory, made by the grader under temp_root and removed with everything the
// case put in it: `work`, a fresh copy of the submission's directory (so a case can't leave
// anything for a later one, and the grader can read a submission the case's uid couldn't),
// and `home`, its HOME and TMPDIR when it has no private /tmp.
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace gradverify::detail {

class CaseDirectory {
 public:
  // Copies `submission` into work/ and, when `owner` is given (as root), hands work/ and
  // home/ to it. Throws std::runtime_error, leaving nothing behind, when it can't.
  CaseDirectory(const std::string& temp_root, const std::string& submission, int64_t copy_limit_bytes, uid_t owner,
                bool change_owner);
  ~CaseDirectory();
  CaseDirectory(const CaseDirectory&) = delete;
  CaseDirectory& operator=(const CaseDirectory&) = delete;

  const std::string& work() const { return work_; }
  const std::string& home() const { return home_; }

 private:
  std::string root_, work_, home_;
};

// The bytes of the regular files under `directory`, not following symlinks; stops counting
// past `limit`. Throws std::runtime_error when it can't be read.
int64_t directory_bytes(const std::string& directory, int64_t limit);

// Without namespaces, as root: removes what `uid` left at the top of the shared temporary
// directories (/tmp, /var/tmp, /dev/shm, /run/lock), where a case could otherwise pass
// hidden inputs to a later case of the same uid. Deeper, in other users' folders, is not
// searched (it would cost a walk of /tmp per case).
void remove_files_of(uid_t uid);

// Removes a tree whatever a case did to it: any depth (deeper than PATH_MAX), directories
// without permissions, symlinks (never followed). Best effort; never throws.
void remove_tree(const std::string& path);

}  // namespace gradverify::detail
