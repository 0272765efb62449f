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
// header, a row per tensor, each failure's message, the hints and, when something fails, what
// failed and how, with `source` named for what is missing ("your answer"). `notes` go above that
// last line, as a report's do.
std::string format_comparison_table(const std::vector<TensorComparison>& tensors,
                                    const std::string& source = "your answer", const std::vector<std::string>& notes = {});

// {"passed": bool, "verdict": "pass"|"fail"|"vacuous", "parameters": [{"name", "shape",
//  "passed", "max_abs_diff", "max_rel_diff", "worst_index", "vacuous", "message", ...}], ...}
// Non-finite numbers are written as the strings "nan", "inf" and "-inf".
std::string format_report_json(const CheckReport& report);

}  // namespace gradverify
