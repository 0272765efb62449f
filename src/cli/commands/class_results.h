#pragma once
// A class's results folder, as `grade --submissions DIR -o OUT` writes it and `merge` joins
// the shards of one:
//   <student>.<json|xml|txt>  each student's results, in --format
//   summary.csv               student, total, then the points of each case; students sorted;
//                             rebuilt from the journal, so never half-written
//   gradverify-journal/run.json
//                             what the run grades: the rubric's and references' SHA-256, the
//                             command, the format and gradverify's version
//   gradverify-journal/students/<student>.json
//                             one finished student: their folder's SHA-256, their variant,
//                             summary row and results (gradverify's JSON), written atomically
//                             after their results file. A rerun of the same run grades only the
//                             students without one, or whose folder changed since
//   gradverify-shard/manifest.json
//                             only in a shard's folder (--shard K/N): which shard it is, the
//                             rubric it graded, and its students' summary rows. In a folder
//                             of its own, so that no student's results file can be it (a
//                             student named "shard" has shard.json)
// A shard's students are every N-th of the sorted folders, from the K-th: shards take about
// the same time, whatever the folders' names.
#include <optional>
#include <string>
#include <vector>

#include "gradverify/grading/grading.h"
#include "gradverify/grading/rubric.h"

namespace gradverify::cli {

struct Shard {
  int index = 1, count = 1;  // K of N, from 1
};
// "2/3" -> {2, 3}; throws InputError naming --shard unless 1 <= K <= N <= 100000.
Shard parse_shard(const std::string& text);
// The students of a shard, from all of them sorted.
std::vector<std::string> shard_students(const std::vector<std::string>& sorted, const Shard& shard);

// A CSV field, safe in a spreadsheet too: control characters escaped (printable), quoted when
// needed, and a field a spreadsheet would read as a formula (=, +, -, @ first) given a leading
// apostrophe. summary.csv's and the class report's.
std::string csv_field(const std::string& raw);

std::string results_extension(const std::string& format);  // json, xml or txt
std::string summary_header(const Rubric& rubric);
std::string summary_row(const std::string& student, const GradeResult& result);
// The whole summary.csv from rows given in the students' sorted order.
std::string summary_csv(const std::string& header, const std::vector<std::string>& rows);

struct ShardManifest {
  Shard shard;
  std::string rubric, rubric_sha256, format, header;
  std::vector<std::string> students, rows;  // in the shard's order
};
std::string shard_manifest_json(const ShardManifest& manifest);
// Where a shard's folder keeps its manifest.
std::string shard_manifest_path(const std::string& directory);
// The manifest of `directory`; throws InputError naming the file and the field.
ShardManifest read_shard_manifest(const std::string& directory);

// What a class run grades, and how: a journal of another is not resumed. `settings` holds
// the limits and isolation a score depends on, `class_folder` the --submissions folder.
struct ClassRun {
  std::string rubric_sha256, references_sha256, submission_cmd, format, gradverify_version, settings, shard,
      class_folder;
};
// The first field that differs, as "rubric_sha256 'a…' here, 'b…' in the journal"; empty when
// none does.
std::string class_run_difference(const ClassRun& here, const ClassRun& journal);

struct JournalEntry {
  std::string student, source_sha256;
  int64_t variant = -1;
  std::string summary_row;
  std::string grader_error;  // the grader failed on them: regraded by the next run
  std::string results_json;  // format_grade_json's
};

std::string journal_directory(const std::string& output);
// The run a results folder's journal records; nullopt when it has none. Throws InputError
// naming the file and the field for a journal that is not one.
std::optional<ClassRun> read_class_run(const std::string& output);
void write_class_run(const std::string& output, const ClassRun& run);
// Removes the journal's record of the run and its entries (--fresh): every student is graded
// again.
void remove_journal(const std::string& output);
// A student's entry; nullopt when there is none, or it is unreadable (then they are regraded).
std::optional<JournalEntry> read_journal_entry(const std::string& output, const std::string& student);
void write_journal_entry(const std::string& output, const JournalEntry& entry);
// Removes the entries of students not in `students` (folders gone since): what is left is
// the class summary.csv lists. The results files stay.
void prune_journal(const std::string& output, const std::vector<std::string>& students);
// Every entry of the journal, sorted by student: what `report` reads. Throws InputError
// naming an entry that is not one.
std::vector<JournalEntry> read_journal(const std::string& output);

// Holds OUT for one class run: a second run into the same folder is refused while it lives.
class JournalLock {
 public:
  explicit JournalLock(const std::string& output);
  ~JournalLock();
  JournalLock(const JournalLock&) = delete;
  JournalLock& operator=(const JournalLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace gradverify::cli
