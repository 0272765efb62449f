#pragma once
// A case's private world, made by bubblewrap (bwrap): new user, PID, mount, network, IPC and
// UTS namespaces. Inside, the system directories are read-only, /tmp, /var/tmp and /dev/shm
// are fresh size-capped tmpfs, /proc shows only the case, the network is loopback alone, and
// the case's copy of the submission sits at the submission's own path, the only writable
// place (a tmpfs too, so a case can't fill the machine's disk). Nothing else of the machine
// is there: not the grader's binary, its rubric or plug-in, nor any other submission. When the case's first process dies, the kernel kills
// every process left in its PID namespace, whatever it is named or however deep it forked.
//
// Why bwrap and not our own clone/unshare: it is the well-kept tool for exactly this
// (Flatpak's sandbox), packaged by Debian and Ubuntu, and it runs unprivileged, so the case
// can be started already as its own uid.
#include <string>
#include <vector>

#include "gradverify/grading/sandbox.h"

namespace gradverify::detail {

struct Bubblewrap {
  std::string path;           // empty when not found on PATH
  std::string version;        // "bubblewrap 0.8.0"
  bool sizes_tmpfs = false;   // --size (0.7 and later); older ones leave tmpfs uncapped
};
// Found once per process, not yet tried (sandbox.cpp tries it, as a case would run).
const Bubblewrap& find_bubblewrap();

// Whether bubblewrap makes a case's world here, decided once per process (sandbox.cpp): by
// the first case whose world was made, or by a trial case on an empty submission (when a case
// had no world, or when asked before any case has run). Either runs as a case does (as its
// own uid when the grader is root).
struct NamespaceSupport {
  bool usable = false;
  std::string unavailable_because;
};
const NamespaceSupport& namespace_support(const SandboxLimits& limits);

// The first line the wrapper writes on fd 3, once bwrap has made the world and before anything
// of the submission runs: a case without it never had its world, and no submission can
// suppress it.
inline constexpr const char* kWorldReady = "ready";

// The bwrap command line for one case. `copy` is the case's copy of the submission, seen
// inside at `inside` (the submission's own absolute path), copied there onto a size-capped
// tmpfs. The command runs under a small shell that writes kWorldReady to fd 3, makes that
// copy and, once the command ends, writes to fd 3 how many processes are still in the
// namespace.
std::vector<std::string> bubblewrap_command(const Bubblewrap& bwrap, const SandboxLimits& limits,
                                            const std::string& copy, const std::string& inside,
                                            const std::string& command);

}  // namespace gradverify::detail
