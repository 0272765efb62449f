#pragma once
// A CheckReport, rendered for people (a column-aligned table) or for programs (JSON). One
// table layout for check_gradients and check_op_gradients: a net's report and a grading op's
// answer share its rows. (check_op's report has rows per draw, torch/op_check_report.h.)
#include <string>
#include <vector>

#include "gradverify/check/check.h"

namespace gradverify {

std::string format_report_table(const CheckReport& report);

// The same table for tensors checked on their own (an op's answer, check_op_gradients): the
// header, a row per tensor, each failure's message and the hints.
std::string format_comparison_table(const std::vector<TensorComparison>& tensors);

// {"passed": bool, "verdict": "pass"|"fail"|"vacuous", "parameters": [{"name", "shape",
//  "passed", "max_abs_diff", "max_rel_diff", "worst_index", "vacuous", "message", ...}], ...}
// Non-finite numbers are written as the strings "nan", "inf" and "-inf".
std::string format_report_json(const CheckReport& report);

}  // namespace gradverify
