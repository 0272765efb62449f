#pragma once
// The uid a case runs as when the grader is root: one of kFirstCaseUid + [0, kCaseUids),
// held by one running case at a time across every grader on the machine. A claim is a
// flock on /run/lock/gradverify-uid-N (or /tmp's), so a grader that dies releases its uids
// with its descriptors, and two graders (ctest -j, two staff) never share one.
#include <sys/types.h>

#include <optional>

namespace gradverify::detail {

class CaseIdentity {
 public:
  CaseIdentity();  // throws std::runtime_error when every uid of the range is in use
  ~CaseIdentity();
  CaseIdentity(const CaseIdentity&) = delete;
  CaseIdentity& operator=(const CaseIdentity&) = delete;
  uid_t uid() const { return uid_; }

 private:
  uid_t uid_ = 0;
  int lock_fd_ = -1;
};

// Whose process `pid` ("1234") is, and whether it is a zombie, from /proc/PID/status (which
// says so even of a process that made itself non-dumpable, whose /proc directory then
// belongs to root). Empty when it is gone.
struct ProcessOwner {
  uid_t real_uid = 0;
  bool zombie = false;
};
std::optional<ProcessOwner> owner_of(const char* pid);

// Kills every process of `uid` but the caller: a helper process takes the uid and sends
// SIGKILL to all it may signal (kill(-1)), until there is none left. Whatever the processes
// are named, however they forked or left their session. Root only; returns whether any was
// found alive (zombies don't count: they are dead already).
bool kill_every_process_of(uid_t uid);

}  // namespace gradverify::detail
