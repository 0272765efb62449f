#pragma once
// How every command ends: its output on stdout or in --output's file, and its exit code.
#include <string>

namespace gradverify {
enum class Verdict;  // check/check.h; only its name is needed here
}  // namespace gradverify

namespace gradverify::cli {

// The exit codes of every command; main turns InputError into kInputError and any other
// exception into kInternalError.
enum ExitCode : int {
  kPass = 0,           // every gradient matches (train: in lockstep)
  kMismatch = 1,       // some gradient differs (train: drifted apart)
  kInputError = 2,     // a usage or input error, named in one line
  kVacuous = 3,        // nothing differs, but some gradient proves nothing
  kInternalError = 4,  // a bug in gradverify
};
int exit_code(Verdict verdict);

// Writes via a temporary file and a rename, so a failed write never leaves half a file.
// Throws InputError naming the path when it can't.
void write_file(const std::string& path, const std::string& text);

// The command's output: `text` on stdout when output_path is empty; otherwise `text` into
// that file (write_file), and `notice` (one line saying what was written where) on stdout.
void write_output(const std::string& text, const std::string& output_path, const std::string& notice);

}  // namespace gradverify::cli
