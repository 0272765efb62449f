#include "gradverify/grading/references.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/problem/json_tensor.h"
#include "digest.h"
#include "gradverify/errors.h"
#include "gradverify/version.h"

namespace gradverify {
namespace {

constexpr const char* kFormat = "gradverify-references";
constexpr int kFormatVersion = 1;
// A variant's reference can be uninformative (a dead ReLU layer, all zero; see
// as_informative_as): it is drawn again from the next seed, this many times at most.
constexpr int kSeedAttempts = 16;

// splitmix64's finaliser: the seed of a case's variant v, attempt a, spread over 32 bits.
uint32_t variant_seed(uint32_t seed, int64_t variant, int attempt) {
  uint64_t z = (uint64_t{seed} << 32) ^ (static_cast<uint64_t>(variant) << 8) ^ static_cast<uint64_t>(attempt);
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<uint32_t>(z ^ (z >> 31));
}

// The share of a tensor's entries that are not zero.
double nonzero_share(const Tensor& t) {
  if (t.values.empty()) return 0;
  return static_cast<double>(std::count_if(t.values.begin(), t.values.end(), [](double v) { return v != 0; })) /
         static_cast<double>(t.values.size());
}

// A variant tests about as much as the rubric's own case: no answer tensor of it has less than
// half the share of non-zero entries the original's has (a ReLU case whose mask is almost all
// zero, a net with most units dead, would be easier to pass by luck).
bool as_informative_as(const PreparedCase& variant, const PreparedCase& original) {
  for (const auto& [name, tensor] : original.reference) {
    const auto found = variant.reference.find(name);
    if (found == variant.reference.end() || nonzero_share(found->second) < 0.5 * nonzero_share(tensor)) return false;
  }
  return true;
}

StoredVariant stored(const PreparedCase& p) {
  return {p.spec.seed, detail::sha256_hex(case_request_json(p.spec)), p.reference_loss, p.reference};
}

// The tensors a case's reference holds, with their shapes.
std::map<std::string, Shape> reference_shapes(const GradingCase& g) {
  std::map<std::string, Shape> shapes;
  if (g.kind == CaseKind::op) {
    for (const auto& [name, tensor] : manual_op_gradients(g.op)) shapes[name] = tensor.shape;
    return shapes;
  }
  for (const auto& [name, tensor] : g.problem.params) shapes[name] = tensor.shape;
  const auto& layers = g.problem.spec.layers;
  for (size_t k = 1; k < layers.size(); ++k)
    for (const char* variable : {"z", "h"}) shapes[variable + std::to_string(k)] = {g.problem.batch(), layers[k]};
  return shapes;
}

}  // namespace

PreparedCase prepare_case(const GradingCase& g, const ReferenceSource& source, const std::string& rubric_source) {
  PreparedCase p;
  p.spec = g;
  p.inputs_sha256 = detail::sha256_hex(case_request_json(g));
  if (g.kind == CaseKind::op) {
    p.reference = source.op(g.op);
  } else {
    const ReferenceResult r = source.mlp(g.problem);
    p.reference = r.gradients;
    p.reference_loss = r.loss;
  }
  require_informative_reference(p, rubric_source);
  return p;
}

int64_t StoredReferences::variant_for(const std::string& student_id) const {
  if (variants <= 1) return 0;
  return static_cast<int64_t>(detail::keyed_hash(secret, student_id) % static_cast<uint64_t>(variants));
}

std::string rubric_sha256(const Rubric& rubric) { return detail::sha256_hex(rubric.definition); }

StoredReferences compute_references(const Rubric& rubric, const ReferenceSource& source, int64_t variants,
                                    const std::string& secret, const std::function<void(size_t, size_t)>& progress) {
  if (variants < 1 || variants > kMaxVariants)
    throw InputError("--variants", "", fmt::format("expected 1 to {}, got {}", kMaxVariants, variants));
  StoredReferences refs;
  refs.gradverify_version = kVersion;
  refs.libtorch_version = source.libtorch_version;
  refs.rubric_name = rubric.name;
  refs.rubric_sha256 = rubric_sha256(rubric);
  refs.variants = variants;
  refs.secret = secret.empty() ? detail::random_hex(32) : secret;
  size_t total = 0, done = 0;
  for (const auto& c : rubric.cases) total += c.generated ? static_cast<size_t>(variants) : 1;
  for (const auto& c : rubric.cases) {
    const PreparedCase original = prepare_case(c, source, rubric.source);
    StoredCase stored_case{c.name, {stored(original)}};
    if (progress) progress(++done, total);
    for (int64_t v = 1; c.generated && v < variants; ++v) {
      for (int attempt = 0;; ++attempt) {
        try {
          const PreparedCase p = prepare_case(case_with_seed(c, variant_seed(c.seed, v, attempt)), source, rubric.source);
          if (as_informative_as(p, original)) {
            stored_case.variants.push_back(stored(p));
            break;
          }
        } catch (const InputError&) {
          // all zero somewhere: drawn again
        }
        if (attempt + 1 == kSeedAttempts)
          throw InputError(rubric.source, "case '" + c.name + "'",
                           fmt::format("no variant {} as informative as the case itself in {} seeds: each had an "
                                       "answer tensor with under half the case's share of non-zero entries (dead "
                                       "ReLU units); use fewer variants or another shape",
                                       v, kSeedAttempts));
      }
      if (progress) progress(++done, total);
    }
    refs.cases.push_back(std::move(stored_case));
  }
  return refs;
}

std::string references_to_json(const StoredReferences& refs) {
  nlohmann::json doc;
  doc["format"] = kFormat;
  doc["format_version"] = kFormatVersion;
  doc["gradverify_version"] = refs.gradverify_version;
  doc["libtorch_version"] = refs.libtorch_version;
  doc["rubric"] = refs.rubric_name;
  doc["rubric_sha256"] = refs.rubric_sha256;
  doc["variants"] = refs.variants;
  doc["secret"] = refs.secret;
  doc["cases"] = nlohmann::json::array();
  for (const auto& stored_case : refs.cases) {
    nlohmann::json variants = nlohmann::json::array();
    for (const auto& v : stored_case.variants) {
      nlohmann::json reference = nlohmann::json::object();
      for (const auto& [name, tensor] : v.reference) reference[name] = detail::tensor_to_json(tensor);
      variants.push_back({{"seed", v.seed}, {"inputs_sha256", v.inputs_sha256}, {"loss", v.loss}, {"reference", reference}});
    }
    doc["cases"].push_back({{"name", stored_case.name}, {"variants", variants}});
  }
  return doc.dump() + "\n";
}

namespace {

// Fields of a references file, read with errors that name them.
struct FileReader {
  const std::string& path;

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw InputError(path, field, problem);
  }
  const nlohmann::json& member(const nlohmann::json& object, const std::string& key, const std::string& field,
                               nlohmann::json::value_t type) const {
    const std::string where = field.empty() ? key : field + "." + key;
    if (!object.contains(key)) fail(where, "missing");
    const auto& value = object[key];
    const bool ok = type == nlohmann::json::value_t::number_unsigned ? value.is_number_unsigned()
                    : type == nlohmann::json::value_t::number_float  ? value.is_number()
                                                                      : value.type() == type;
    if (!ok) fail(where, "expected " + std::string(type == nlohmann::json::value_t::string ? "a string"
                                                   : type == nlohmann::json::value_t::array ? "an array"
                                                   : type == nlohmann::json::value_t::object ? "an object"
                                                                                              : "a number") +
                             ", got " + detail::json_kind(value));
    return value;
  }
  std::string text(const nlohmann::json& object, const std::string& key, const std::string& field = "") const {
    return member(object, key, field, nlohmann::json::value_t::string).get<std::string>();
  }
};

}  // namespace

std::string secret_of_references(const std::string& path) {
  const nlohmann::json doc = detail::parse_json_file(path);
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != kFormat)
    throw InputError(path, "", "not a references file, so it has no secret to keep");
  const std::string secret = doc.contains("secret") && doc["secret"].is_string() ? doc["secret"].get<std::string>() : "";
  if (secret.size() != 64 || secret.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw InputError(path, "secret", "expected 64 hex digits, as gradverify writes it");
  return secret;
}

StoredReferences read_references(const std::string& path, const Rubric& rubric) {
  const nlohmann::json doc = detail::parse_json_file(path);
  const FileReader r{path};
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != kFormat)
    r.fail("", "not a references file (expected {\"format\": \"gradverify-references\", ...}); "
               "`gradverify references --rubric R -o FILE` writes one");
  if (!doc.contains("format_version") || doc["format_version"] != kFormatVersion)
    r.fail("format_version", fmt::format("expected {}, got {}; remake the references with this gradverify",
                                         kFormatVersion, doc.value("format_version", nlohmann::json()).dump()));
  StoredReferences refs;
  refs.source = path;
  refs.gradverify_version = r.text(doc, "gradverify_version");
  refs.libtorch_version = r.text(doc, "libtorch_version");
  refs.rubric_name = r.text(doc, "rubric");
  refs.rubric_sha256 = r.text(doc, "rubric_sha256");
  refs.secret = r.text(doc, "secret");
  if (refs.rubric_sha256 != rubric_sha256(rubric)) {
    // Made for a built-in rubric, and graded with another: the fix is --rubric, not new references.
    std::string meant;
    for (const auto& name : builtin_rubric_names())
      if (rubric_sha256(builtin_rubric(name)) == refs.rubric_sha256) meant = name;
    r.fail("rubric_sha256",
           "made for another rubric (they name '" + refs.rubric_name + "'; " + rubric.source +
               "'s SHA-256 is not theirs): " +
               (meant.empty() ? std::string("remake them with `gradverify references` for this one")
                              : "they are the built-in rubric " + meant + "'s: grade with --rubric builtin:" + meant));
  }
  const auto variants = detail::exact_integer(r.member(doc, "variants", "", nlohmann::json::value_t::number_float));
  if (!variants || *variants < 1 || *variants > kMaxVariants)
    r.fail("variants", fmt::format("expected an integer from 1 to {}", kMaxVariants));
  refs.variants = *variants;
  const auto& cases = r.member(doc, "cases", "", nlohmann::json::value_t::array);
  if (cases.size() != rubric.cases.size())
    r.fail("cases", fmt::format("{} cases, but the rubric has {}", cases.size(), rubric.cases.size()));
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string field = fmt::format("cases[{}]", i);
    const GradingCase& g = rubric.cases[i];
    StoredCase c;
    c.name = r.text(cases[i], "name", field);
    if (c.name != g.name) r.fail(field + ".name", "'" + c.name + "', but the rubric's case is '" + g.name + "'");
    const auto& variant_docs = r.member(cases[i], "variants", field, nlohmann::json::value_t::array);
    const size_t expected = g.generated ? static_cast<size_t>(refs.variants) : 1;
    if (variant_docs.size() != expected)
      r.fail(field + ".variants", fmt::format("{} variants, expected {}", variant_docs.size(), expected));
    for (size_t v = 0; v < variant_docs.size(); ++v) {
      const std::string vfield = fmt::format("{}.variants[{}]", field, v);
      const auto seed = detail::exact_integer(r.member(variant_docs[v], "seed", vfield, nlohmann::json::value_t::number_float));
      if (!seed || *seed < 0 || *seed > 4294967295LL) r.fail(vfield + ".seed", "expected a 32-bit unsigned integer");
      StoredVariant sv;
      sv.seed = static_cast<uint32_t>(*seed);
      sv.inputs_sha256 = r.text(variant_docs[v], "inputs_sha256", vfield);
      sv.loss = r.member(variant_docs[v], "loss", vfield, nlohmann::json::value_t::number_float).get<double>();
      const auto& reference = r.member(variant_docs[v], "reference", vfield, nlohmann::json::value_t::object);
      for (const auto& [name, value] : reference.items()) {
        try {
          sv.reference[name] = detail::read_tensor(value, name, detail::NonFinite::from_strings);
        } catch (const detail::FieldError& e) {
          r.fail(vfield + ".reference." + e.field, e.what());
        }
      }
      c.variants.push_back(std::move(sv));
    }
    refs.cases.push_back(std::move(c));
  }
  return refs;
}

// Gradescope's submission_metadata.json: the ids of its users, sorted and joined with commas,
// so that a group shares one variant.
std::string metadata_student_id(const std::string& path) {
  const nlohmann::json doc = detail::parse_json_file(path);
  if (!doc.is_object() || !doc.contains("users") || !doc["users"].is_array() || doc["users"].empty())
    throw InputError(path, "users", "expected a non-empty array of {\"id\": ..., ...}, as Gradescope writes it");
  std::vector<std::string> ids;
  for (size_t i = 0; i < doc["users"].size(); ++i) {
    const auto& user = doc["users"][i];
    const auto id = user.is_object() && user.contains("id") ? user["id"] : nlohmann::json();
    if (!id.is_string() && !id.is_number_integer())
      throw InputError(path, fmt::format("users[{}].id", i), "expected the user's id, a number or a string");
    ids.push_back(id.is_string() ? id.get<std::string>() : id.dump());
  }
  std::sort(ids.begin(), ids.end());
  std::string joined;
  for (const auto& id : ids) joined += (joined.empty() ? "" : ",") + id;
  return joined;
}

std::vector<PreparedCase> prepare_variant(const Rubric& rubric, const StoredReferences& refs, int64_t variant) {
  if (variant < 0 || variant >= refs.variants)
    throw InputError(refs.source, "variants", fmt::format("no variant {}: the file has {}", variant, refs.variants));
  std::vector<PreparedCase> prepared;
  for (size_t i = 0; i < rubric.cases.size(); ++i) {
    const GradingCase& g = rubric.cases[i];
    const size_t v = g.generated ? static_cast<size_t>(variant) : 0;
    const StoredVariant& sv = refs.cases.at(i).variants.at(v);
    const std::string field = fmt::format("cases[{}].variants[{}]", i, v);
    PreparedCase p;
    p.spec = g.generated && sv.seed != g.seed ? case_with_seed(g, sv.seed) : g;
    p.inputs_sha256 = detail::sha256_hex(case_request_json(p.spec));
    if (p.inputs_sha256 != sv.inputs_sha256)
      throw InputError(refs.source, field + ".inputs_sha256",
                       fmt::format("case '{}' from seed {} has other inputs here than when its references were made: "
                                   "its problem file changed, or this gradverify ({}) draws other inputs than the one "
                                   "that made them ({}); remake the references",
                                   g.name, sv.seed, kVersion, refs.gradverify_version));
    for (const auto& [name, shape] : reference_shapes(p.spec)) {
      const auto found = sv.reference.find(name);
      if (found == sv.reference.end()) throw InputError(refs.source, field + ".reference." + name, "missing");
      if (found->second.shape != shape)
        throw InputError(refs.source, field + ".reference." + name,
                         "shape " + shape_to_string(found->second.shape) + ", expected " + shape_to_string(shape));
    }
    p.reference = sv.reference;
    p.reference_loss = sv.loss;
    prepared.push_back(std::move(p));
  }
  return prepared;
}

}  // namespace gradverify
