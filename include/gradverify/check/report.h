#pragma once
// A CheckReport, rendered for people (a column-aligned table) or for programs (JSON).
#include <string>

#include "gradverify/check/check.h"

namespace gradverify {

std::string format_report_table(const CheckReport& report);

// {"passed": bool, "verdict": "pass"|"fail"|"vacuous", "parameters": [{"name", "shape",
//  "passed", "max_abs_diff", "max_rel_diff", "worst_index", "vacuous", "message", ...}], ...}
// Non-finite numbers are written as the strings "nan", "inf" and "-inf".
std::string format_report_json(const CheckReport& report);

}  // namespace gradverify
