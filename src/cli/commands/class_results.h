#pragma once
// A class's results folder, as `grade --submissions DIR -o OUT` writes it and `merge` joins
// the shards of one:
//   <student>.<json|xml|txt>  each student's results, in --format
//   summary.csv               student, total, then the points of each case; students sorted
//   gradverify-shard/manifest.json
//                             only in a shard's folder (--shard K/N): which shard it is, the
//                             rubric it graded, and its students' summary rows. In a folder
//                             of its own, so that no student's results file can be it (a
//                             student named "shard" has shard.json)
// A shard's students are every N-th of the sorted folders, from the K-th: shards take about
// the same time, whatever the folders' names.
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

}  // namespace gradverify::cli
