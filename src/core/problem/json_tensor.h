#pragma once
// Internal JSON helpers shared by the file formats and the reports: nested arrays of numbers
// <-> Tensor (with errors that name the element), and the spec's fields.
#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/tensor.h"

namespace gradverify::detail {

// A problem with one field of a JSON document. `field` is a path such as "params.W1[0][2]";
// the caller adds the file name.
struct FieldError : std::runtime_error {
  FieldError(std::string field_, const std::string& problem) : std::runtime_error(problem), field(std::move(field_)) {}
  std::string field;
};

enum class NonFinite {
  reject,        // NaN and Inf are errors (problem files: data and weights must be finite)
  from_strings,  // "nan", "inf", "-inf" are read as such (gradients files)
};

// Reads a number or a rectangular nest of arrays of numbers. Throws FieldError naming the
// first offending element: a ragged row, a non-number, a non-finite value when rejected, or
// nesting deeper than 8.
Tensor read_tensor(const nlohmann::json& value, const std::string& field, NonFinite non_finite);

// Writes a tensor as nested arrays; non-finite values become "nan", "inf" or "-inf".
nlohmann::json tensor_to_json(const Tensor& tensor);
nlohmann::json number_to_json(double value);

// The limits every JSON input shares (docs/hardening.md): nesting depth, and the size of a
// file read from disk (JSON or CSV). Protocol answers have the sandbox's smaller stdout cap.
constexpr size_t kMaxJsonDepth = 64;
constexpr size_t kMaxInputFileBytes = size_t{256} << 20;

// The whole file, or InputError when it can't be read or holds more than kMaxInputFileBytes.
std::string read_text_file(const std::string& path);

// Reads and parses a JSON file; throws InputError naming the file, the field where parsing
// stopped (when inside one), and the parser's line and column, when it can't be read or
// parsed. Nesting deeper than kMaxJsonDepth and numbers beyond float64 (1e999) are refused.
nlohmann::json parse_json_file(const std::string& path);
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

// Python's json.dumps writes NaN, Infinity and -Infinity as bare tokens, which are not JSON.
// This quotes them ("nan", "inf", "-inf") outside of strings, so files a student's Python
// wrote read as they meant them.
std::string quote_python_nonfinite(const std::string& text);

// Adds "layers", "activations", "loss" and "dtype" to a JSON object, as problem.json has them.
void write_spec(nlohmann::json& doc, const MlpSpec& spec);

// "a number", "a string", "an array", ...: for "expected X, got Y" messages.
std::string json_kind(const nlohmann::json& value);

// For "got Y" in messages: a number, boolean or null as written, a string quoted and cut to
// 40 characters, and an array or object by its kind, so that a message never holds a whole
// (possibly huge) document.
std::string describe(const nlohmann::json& value);

// The value of an integer written either way, 3 or 3.0 (also 3e0), or nothing when it is
// not a whole number that fits int64: 3.5, 1e300, a string.
std::optional<int64_t> exact_integer(const nlohmann::json& value);

}  // namespace gradverify::detail
