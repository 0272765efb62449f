#pragma once
// Internal JSON helpers shared by the file formats and the reports: nested arrays of numbers
// <-> Tensor (with errors that name the element), and the spec's fields.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "gradverify/mlp_spec.h"
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

// Reads and parses a JSON file; throws InputError naming the file, with the parser's line
// and column, when it can't be read or parsed.
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

}  // namespace gradverify::detail
