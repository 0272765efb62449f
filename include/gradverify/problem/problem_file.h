#pragma once
// problem.json (its format is in problem.h), read and written.
#include <string>

#include "gradverify/problem/problem.h"

namespace gradverify {

// problem.json in and out. load_problem_file validates everything but missing "params";
// parse_problem_json does the same for a document already in memory, naming `source`.
Problem load_problem_file(const std::string& path);
Problem parse_problem_json(const std::string& text, const std::string& source);
std::string problem_to_json(const Problem& problem);

}  // namespace gradverify
