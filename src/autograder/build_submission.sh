# Sourced by run_autograder (Gradescope) and grade_prairielearn (PrairieLearn): builds a
# student's submission into what the grader runs, and runs none of it.
#
#   build_submission KIT_DIR SUBMISSION_DIR
#
# KIT_DIR is the unpacked bundle: its language, student_kit/ and (when setup.sh has compiled
# the C++ kit's given files) kit_objects/. It sets
#   work     the built submission's directory: the grader's --submission-dir
#   private  root's alone, for the logs: compiler.txt (what the build said), build.log
#   built    yes or no
#   command  what the grader runs in $work
# and removes both directories when the calling script exits.
build_submission() {
  local source_dir="$1" submission_dir="$2" student handed_in given
  # The student's code is compiled as nobody (a compile error could otherwise quote any file
  # it #includes: the caller keeps the rubric and references root's), and each case runs in
  # the grader's sandbox (a copy of $work, its own uid and namespaces).
  # Bounded, so that a build that never ends (#include "/dev/zero", a template bomb) is a
  # failed build with a reason, not a job the platform kills before any results are written.
  local build_seconds="${GRADVERIFY_BUILD_SECONDS:-120}" as_root=no
  as_student=(timeout --kill-after=5 "$build_seconds" prlimit --as=$((2 << 30)) --)
  if [ "$(id -u)" -eq 0 ]; then
    as_root=yes
    as_student+=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  fi
  # The first regular file (never a symlink, FIFO or directory) under the submission whose name
  # matches: NUL-separated, since a folder's name may hold a newline, and the first in byte order.
  first_file() {
    local found
    found="$(find "$submission_dir" -name "$1" -type f -print0 | LC_ALL=C sort -z | head -z -n 1 | tr -d '\0')"
    if [ -n "$found" ] && [ -f "$found" ] && [ ! -L "$found" ]; then printf '%s' "$found"; fi
  }
  # Runs a build step as the student, its output in compiler.txt; a step stopped by the
  # timeout says so there.
  build_step() {
    local status=0
    "${as_student[@]}" "$@" > "$private/compiler.txt" 2>&1 || status=$?
    if [ $status -eq 124 ] || [ $status -eq 137 ]; then
      echo "The build was stopped after $build_seconds s: it must finish well within that." >> "$private/compiler.txt"
    fi
    return $status
  }

  # Two directories: $work, where the student's code is compiled (as nobody), and $private,
  # root's alone, for the build log. Only $private's files are ever copied into results, so
  # nothing the student's code does (at compile or run time) can re-point them at the rubric.
  work="$(mktemp -d /tmp/gradverify-build-XXXXXX)"
  private="$(mktemp -d /tmp/gradverify-log-XXXXXX)"
  trap 'rm -rf "$work" "$private"' EXIT
  chmod 755 "$work"
  chmod 700 "$private"
  language="$(cat "$source_dir/language")"  # cpp or python: the student kit
  built=no
  if [ "$language" = python ]; then
    # backprop.py, or else a notebook: its definitions are graded (the kit's runner.py).
    cp "$source_dir/student_kit/runner.py" "$source_dir/student_kit/forward.py" "$work/"
    student="$(first_file backprop.py)"
    [ -z "$student" ] && student="$(first_file '*.ipynb')"
    if [ -z "$student" ]; then
      echo "There is no backprop.py or notebook (.ipynb) in the submission: upload the kit's backprop.py, or your" \
           "notebook, with your code in it." > "$private/compiler.txt"
    else
      # A fixed name: the command below never holds a name the student chose.
      handed_in="submission.py"
      case "$student" in *.ipynb) handed_in="submission.ipynb" ;; esac
      cp --no-dereference -- "$student" "$work/$handed_in"
      [ $as_root = yes ] && chown -R nobody "$work"
      # "Building" a Python submission: it parses, and defines the kit's mlp_backward (a case that
      # needs another function says so if it is missing). Nothing of it runs here; with the PATH
      # its cases get in the sandbox.
      if (cd "$work" && PATH=/usr/local/bin:/usr/bin:/bin build_step python3 runner.py --check "$handed_in"); then
        built=yes
        echo "$(basename "$student") parses, and defines the kit's functions a case needs first (mlp_backward)." > "$private/build.log"
      fi
    fi
    command="python3 runner.py ${handed_in:-}"
  else
    cp "$source_dir/student_kit/backprop.h" "$source_dir/student_kit/forward.cpp" "$source_dir/student_kit/runner.cpp" "$work/"
    student="$(first_file backprop.cpp)"
    if [ -z "$student" ]; then
      echo "There is no backprop.cpp in the submission: upload the kit's backprop.cpp with your code in it." \
        > "$private/compiler.txt"
    else
      cp --no-dereference -- "$student" "$work/backprop.cpp"
      given=("$work/runner.cpp" "$work/forward.cpp")
      # Compiled by setup.sh already, when it has run; copied like the sources, so the compile
      # (as nobody) needs no access to $source_dir.
      if [ -f "$source_dir/kit_objects/runner.o" ]; then
        cp "$source_dir/kit_objects/runner.o" "$source_dir/kit_objects/forward.o" "$work/"
        given=("$work/runner.o" "$work/forward.o")
      fi
      [ $as_root = yes ] && chown -R nobody "$work"
      if build_step g++ -O2 -std=c++17 -I"$work" "$work/backprop.cpp" "${given[@]}" -o "$work/runner" &&
         [ -x "$work/runner" ]; then
        built=yes
        echo "backprop.cpp compiled." > "$private/build.log"
      fi
    fi
    command="./runner"
  fi
}
