#include "core/problem/json_tensor.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>
#include <utility>

#include "gradverify/errors.h"

namespace gradverify::detail {
namespace {

constexpr size_t kMaxRank = 8;  // deeper nesting is refused before it can exhaust the stack

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

double read_number(const nlohmann::json& value, const std::string& field, NonFinite non_finite) {
  if (value.is_number()) {
    const double x = value.get<double>();
    // nlohmann stores out-of-range literals such as 1e999 as +-inf.
    if (!std::isfinite(x) && non_finite == NonFinite::reject)
      throw FieldError(field, "expected a finite number, got " + describe(value));
    return x;
  }
  if (value.is_string() && non_finite == NonFinite::from_strings) {
    const std::string s = lower(value.get<std::string>());
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf" || s == "+inf" || s == "infinity") return std::numeric_limits<double>::infinity();
    if (s == "-inf" || s == "-infinity") return -std::numeric_limits<double>::infinity();
    throw FieldError(field, "expected a number or \"nan\", \"inf\", \"-inf\", got " + describe(value));
  }
  throw FieldError(field, std::string(non_finite == NonFinite::from_strings
                                          ? "expected a number or \"nan\", \"inf\", \"-inf\", got "
                                          : "expected a number, got ") +
                              json_kind(value));
}

void read_into(const nlohmann::json& value, const std::string& field, const Shape& shape, size_t depth,
               NonFinite non_finite, std::vector<double>& out) {
  if (depth == shape.size()) {
    out.push_back(read_number(value, field, non_finite));
    return;
  }
  if (!value.is_array())
    throw FieldError(field, "expected an array of " + std::to_string(shape[depth]) + ", got " + json_kind(value));
  if (static_cast<int64_t>(value.size()) != shape[depth])
    throw FieldError(field, "ragged array: expected " + std::to_string(shape[depth]) + " entries, got " +
                                std::to_string(value.size()));
  for (size_t i = 0; i < value.size(); ++i)
    read_into(value[i], field + "[" + std::to_string(i) + "]", shape, depth + 1, non_finite, out);
}

}  // namespace

std::string json_kind(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    default: return "a number";
  }
}

std::string describe(const nlohmann::json& value) {
  constexpr size_t kShown = 40;
  if (value.is_array() || value.is_object()) return json_kind(value);
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() > kShown) return "a string of " + std::to_string(text.size()) + " characters";
  }
  // dump() escapes control characters and invalid UTF-8 can't occur (the parser refuses it).
  return value.dump();
}

std::optional<int64_t> exact_integer(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double v = value.get<double>();
    // [-2^63, 2^63) as doubles; a whole number there converts exactly.
    if (std::floor(v) != v || !(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  return std::nullopt;
}

Tensor read_tensor(const nlohmann::json& value, const std::string& field, NonFinite non_finite) {
  // The shape is read down the first elements, then every element is checked against it.
  Tensor tensor;
  const nlohmann::json* probe = &value;
  while (probe->is_array()) {
    if (tensor.shape.size() == kMaxRank)
      throw FieldError(field, "arrays nested deeper than " + std::to_string(kMaxRank) + " levels");
    tensor.shape.push_back(static_cast<int64_t>(probe->size()));
    if (probe->empty()) break;
    probe = &(*probe)[0];
  }
  tensor.values.reserve(static_cast<size_t>(tensor.numel()));
  read_into(value, field, tensor.shape, 0, non_finite, tensor.values);
  return tensor;
}

nlohmann::json number_to_json(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

// Writes the sub-array of `tensor` at dimension `dim`, consuming values from `next` on.
static nlohmann::json slice_to_json(const Tensor& tensor, size_t dim, size_t& next) {
  if (dim == tensor.shape.size()) return number_to_json(tensor.values[next++]);
  nlohmann::json array = nlohmann::json::array();
  for (int64_t i = 0; i < tensor.shape[dim]; ++i) array.push_back(slice_to_json(tensor, dim + 1, next));
  return array;
}

nlohmann::json tensor_to_json(const Tensor& tensor) {
  size_t next = 0;
  return slice_to_json(tensor, 0, next);
}

std::string quote_python_nonfinite(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];  // keep escaped characters as they are
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const auto& [token, quoted] : {std::pair{"-Infinity", "\"-inf\""}, std::pair{"Infinity", "\"inf\""},
                                        std::pair{"NaN", "\"nan\""}}) {
      const std::string_view t(token);
      if (text.compare(i, t.size(), t) == 0) {
        out += quoted;
        i += t.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

void write_spec(nlohmann::json& doc, const MlpSpec& spec) {
  doc["layers"] = spec.layers;
  doc["activations"] = nlohmann::json::array();
  for (int64_t k = 1; k <= spec.num_layers(); ++k) doc["activations"].push_back(written_activation(spec, k));
  doc["loss"] = to_string(spec.loss);
  doc["dtype"] = to_string(spec.dtype);
  if (spec.weight_decay > 0) doc["weight_decay"] = spec.weight_decay;
}

namespace {

// Follows the parser through the document as a field path ("params.W1[0][2]"), so that an
// error the parser itself raises (a syntax error, a number beyond float64) names the field,
// and refuses nesting deeper than kMaxJsonDepth before it can exhaust the stack later.
class JsonPathTracker {
 public:
  bool on_event(int /*depth*/, nlohmann::json::parse_event_t event, const nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (frames_.size() >= kMaxJsonDepth)
          throw FieldError(path(), "arrays or objects nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        frames_.push_back({event == Event::array_start, "", 0});
        break;
      case Event::key: frames_.back().key = parsed.get<std::string>(); break;
      case Event::object_end:
      case Event::array_end:
        frames_.pop_back();
        count_element();
        break;
      case Event::value: count_element(); break;
    }
    return true;  // keep every value
  }

  std::string path() const {
    constexpr size_t kShown = 100;  // a path 64 levels deep is shortened to its start
    std::string out;
    for (const Frame& f : frames_) {
      if (out.size() > kShown) return out + "...";
      if (f.array) out += "[" + std::to_string(f.index) + "]";
      else if (!f.key.empty()) out += (out.empty() ? "" : ".") + f.key;
    }
    return out;
  }

 private:
  void count_element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  struct Frame {
    bool array;
    std::string key;  // objects: the member being read
    size_t index;     // arrays: the element being read
  };
  std::vector<Frame> frames_;
};

// "number overflow parsing '1e999'" -> "1e999".
std::string overflowing_literal(const std::string& what) {
  const auto open = what.find('\'');
  const auto close = what.rfind('\'');
  return open == std::string::npos || close <= open ? "a number" : what.substr(open + 1, close - open - 1);
}

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& source) {
  JsonPathTracker tracker;
  try {
    return nlohmann::json::parse(
        text, [&tracker](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          return tracker.on_event(depth, event, parsed);
        });
  } catch (const FieldError& e) {
    throw InputError(source, e.field, e.what());
  } catch (const nlohmann::json::out_of_range& e) {
    // 406: a literal such as 1e999 whose value is beyond float64; nlohmann refuses the file.
    throw InputError(source, tracker.path(),
                     "the number " + overflowing_literal(e.what()) +
                         " is beyond float64's range (magnitudes up to about 1.8e308); write a finite number"
                         " (or, in a gradients file, \"inf\" or \"-inf\")");
  } catch (const nlohmann::json::exception& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string what = e.what();
    const auto pos = what.find("] ");
    throw InputError(source, tracker.path(),
                     "not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the file for reading");
  const auto too_large = [&] {
    return InputError(path, "", "the file is larger than " + std::to_string(kMaxInputFileBytes >> 20) +
                                    " MiB, the most accepted (docs/hardening.md)");
  };
  std::error_code error;
  if (std::filesystem::is_regular_file(path, error) && std::filesystem::file_size(path, error) > kMaxInputFileBytes)
    throw too_large();
  // Anything else (a FIFO, /dev/zero) is read to at most one byte past the limit.
  std::string text;
  std::vector<char> chunk(size_t{1} << 20);
  while (in && text.size() <= kMaxInputFileBytes) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    text.append(chunk.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw InputError(path, "", "cannot read the file");
  if (text.size() > kMaxInputFileBytes) throw too_large();
  return text;
}

nlohmann::json parse_json_file(const std::string& path) { return parse_json_text(read_text_file(path), path); }

}  // namespace gradverify::detail
