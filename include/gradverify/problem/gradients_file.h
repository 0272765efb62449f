#pragma once
// gradients.json: {"dW1":[[...]], "db1":[...], ..., optionally "dz1":[[...]], "dh1":[[...]]}
// Numbers may be written as the strings "nan", "inf" or "-inf". Entries are read one by one:
// a malformed entry becomes a failed gradient with its reason, not an error, so one bad
// array costs only its own parameter. Only a file that is not a JSON object is an error.
#include <string>
#include <vector>

#include "gradverify/net/mlp_spec.h"
#include "gradverify/problem/submitted_gradients.h"

namespace gradverify {

struct GradientsFile {
  SubmittedGradients gradients;          // keyed by variable: "dW1" is stored as "W1"
  std::vector<std::string> ignored_keys;  // keys that name no parameter or intermediate
};

// Throws InputError when the file can't be read or isn't a JSON object.
GradientsFile load_gradients_file(const std::string& path, const MlpSpec& spec);
GradientsFile parse_gradients_json(const std::string& text, const std::string& source, const MlpSpec& spec);

// Writes gradients (keyed W1, b1, z1, ...) as gradients.json (keyed dW1, db1, dz1, ...).
std::string gradients_to_json(const TensorMap& gradients);

}  // namespace gradverify
