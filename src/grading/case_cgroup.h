#pragma once
// A case's cgroup: a memory limit and a process limit over all its processes together, which
// rlimits can't give (RLIMIT_AS is per process, so four children of 700 MB pass a 1 GB
// limit). cgroup v2 where the grader's cgroup hands its children the memory and pids
// controllers; otherwise cgroup v1's memory and pids hierarchies, where they are mounted and
// writable. Made under the grader's own cgroup, so a case stays within whatever limits the
// grader itself runs under.
#include <cstdint>
#include <string>
#include <vector>

namespace gradverify::detail {

struct CgroupSupport {
  std::string kind;                 // "cgroup v2" or "cgroup v1 (memory, pids)"; empty when unusable
  std::string unavailable_because;  // when kind is empty
};
// Probed once per process: a cgroup is made, limited and removed.
const CgroupSupport& cgroup_support();

class CaseCgroup {
 public:
  // No cgroup (active() false) where they are unusable; throws std::runtime_error when they
  // are usable and this one can't be made.
  CaseCgroup(int64_t memory_bytes, int processes);
  ~CaseCgroup();  // kills what is left in it, then removes it
  CaseCgroup(const CaseCgroup&) = delete;
  CaseCgroup& operator=(const CaseCgroup&) = delete;

  bool active() const { return !dirs_.empty(); }
  // The case's first process calls this between fork and exec: it writes its pid into each
  // cgroup.procs (opened here, beforehand). Async-signal-safe; false when a write failed.
  bool join_from_child() const;
  bool memory_exceeded() const;  // the kernel killed a process for the memory limit
  // SIGKILL to every process in it until it is empty; whether there was any.
  bool kill_all();

 private:
  friend const CgroupSupport& cgroup_support();
  struct Probe {};
  CaseCgroup(int64_t memory_bytes, int processes, Probe);  // made whether or not cgroup_support() has run
  void create(int64_t memory_bytes, int processes);

  std::vector<std::string> dirs_;  // v2: one; v1: the memory and the pids cgroup
  std::vector<int> procs_fds_;     // each dir's cgroup.procs, open for writing
  std::string events_file_;        // memory.events (v2) or memory.oom_control (v1)
};

}  // namespace gradverify::detail
