#pragma once
// Which of the sandbox's protections are in force on this machine, and a hostile probe that
// tries each one for real. The grader degrades honestly: where a mechanism is unavailable
// (no bwrap, a container without namespaces, no writable cgroup, not root) it grades with
// what there is, and says so here, in `grade --check-isolation` and in the staff-only part of
// its results.
#include <string>
#include <vector>

#include "gradverify/grading/sandbox.h"

namespace gradverify {

struct Protection {
  std::string name;       // "processes end with their case"
  bool in_force = false;
  std::string mechanism;  // how, when in force; what there is instead, when not
};

struct IsolationStatus {
  bool namespaces = false;      // bwrap made a world here
  std::string bubblewrap;       // "bubblewrap 0.8.0 (/usr/bin/bwrap)", or why there are no namespaces
  bool tmpfs_capped = false;    // its tmpfs take --size
  bool cgroup = false;
  std::string cgroup_kind;      // "cgroup v2", ... or why there is none
  bool own_uids = false;        // the grader is root, so each case runs as a uid of its own
  std::vector<Protection> protections() const;
  // One line for logs: "namespaces (bubblewrap 0.8.0), cgroup v1 (memory, pids), own uids".
  std::string summary() const;
};

// What run_sandboxed would use with these limits: decided by the first case run, or, asked
// before any, by a trial case in bubblewrap now.
IsolationStatus isolation_status(const SandboxLimits& limits);

struct ProbeResult {
  std::string attack;     // "a process renamed and in its own session outlives its case"
  bool contained = false;
  std::string observed;   // what the probe saw
};

// Runs each attack as a case would, with `limits`, and checks from outside whether it was
// contained. Takes about a second.
std::vector<ProbeResult> probe_isolation(const SandboxLimits& limits);

// The table `grade --check-isolation` prints: the protections, then the probes.
std::string format_isolation_report(const IsolationStatus& status, const std::vector<ProbeResult>& probes);

}  // namespace gradverify
