#pragma once
// What gradverify takes from OpenSSL's libcrypto: SHA-256 (the fingerprints of a rubric and of
// each case's inputs in a references file), HMAC-SHA-256 (the keyed hash that picks a student's
// variant) and base64 (GitHub Classroom's step output).
#include <cstdint>
#include <string>

namespace gradverify::detail {

// The SHA-256 of `data`, as 64 lowercase hex digits.
std::string sha256_hex(const std::string& data);

// The first 8 bytes of HMAC-SHA-256(key, data), as a number: uniform over 2^64 for a secret key,
// and not computable without it.
uint64_t keyed_hash(const std::string& key, const std::string& data);

// `bytes` bytes from the kernel's random source (getrandom), as hex: a new course secret.
std::string random_hex(size_t bytes);

// Standard base64 (RFC 4648, with padding), on one line.
std::string base64(const std::string& data);

}  // namespace gradverify::detail
