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
// Throws InputError naming the path when it can't. `mode` 0600 keeps a file root's (stored
// references hold the hidden cases' answers); a device or FIFO written in place keeps its own.
void write_file(const std::string& path, const std::string& text, unsigned mode = 0644);

// Checked before any work, so that no command works for minutes and then can't write what it
// found: `path` must be a file that can be created or replaced (its directory exists and is
// writable, and it is not a directory). Throws InputError naming `path`; an empty path is fine.
void require_writable_file(const std::string& path);
// The same for a directory to write into, `what` it is for messages ("plot directory"):
// created if missing (with its parents), and writable.
void require_writable_directory(const std::string& path, const std::string& what);

// Colour for the verdicts (FAIL red, VACUOUS yellow, PASS green) in tables printed to a
// terminal. automatic: when stdout is a TTY, NO_COLOR is unset or empty, and TERM is set and
// not "dumb" (no-color.org); --color always and never override all three.
enum class ColorMode { automatic, always, never };
void set_color_mode(ColorMode mode);
bool colour_enabled();
std::string with_colour(const std::string& text);  // the verdict words coloured, when enabled

// Progress on stderr while a command works: one line rewritten in place on a terminal (at most
// ten times a second), and into a log a plain line at each tenth of the way, so a log gets
// about ten lines whatever the length of the run. Nothing when quiet.
class Progress {
 public:
  explicit Progress(bool quiet);
  ~Progress() { finish(); }
  void update(const std::string& line, size_t done, size_t total);
  void finish();  // ends an in-place line, before anything else is printed

 private:
  bool quiet_, terminal_;
  bool line_open_ = false;
  size_t last_tenth_ = 0;
  double last_shown_ = -1;
};

// Prose lines (hints, notes, the first divergence) wrapped to `width` columns, each
// continuation indented under the line's text; table rows and short lines are left alone.
std::string wrapped(const std::string& text, size_t width);
// The terminal's width for stdout: its window size, else $COLUMNS; 0 (no wrapping) when
// stdout is not a terminal, so a pipe or a log keeps whole lines for grep.
size_t terminal_width();

// Whether the output is a table for people (coloured and wrapped on a terminal) or data for
// programs (JSON, XML: never touched).
enum class Audience { people, programs };

// The command's output: `text` on stdout when output_path is empty; otherwise `text` into
// that file (write_file), and `notice` (one line saying what was written where) on stdout.
// If the file can't be written after all, `text` goes to stdout and the InputError says so.
void write_output(const std::string& text, const std::string& output_path, const std::string& notice,
                  Audience audience = Audience::programs);
// That notice, the same for every command: "gradverify: pass; report written to out.json".
std::string written_to(const std::string& outcome, const std::string& output_path);

}  // namespace gradverify::cli
