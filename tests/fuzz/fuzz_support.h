// Shared pieces of the fuzz targets: invariant checks that stop the fuzzer
// and the server's request-body decoding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/json_codec.h"
#include "model/yaml.h"

// A broken invariant is a finding: print why and trap, so that libFuzzer
// saves the input and the replay driver dies with SIGILL.
#define FUZZ_CHECK(condition, ...)                                                           \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::fprintf(stderr, __VA_ARGS__);                                                     \
      std::fputc('\n', stderr);                                                              \
      __builtin_trap();                                                                      \
    }                                                                                        \
  } while (0)

namespace solti::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The request body decoding of apiserver/server.cc (parse_body, file-local
// there) step by step, with the same library calls in the same order: JSON
// first for apply bodies that look like JSON, the nesting bound before
// nlohmann parses, and yaml-cpp for the rest.
inline Result<Json> parse_request_body(std::string_view body, bool yaml) {
  if (body.empty()) return Status(StatusCode::kBadRequest, "the request body is empty");
  const size_t first = body.find_first_not_of(" \t\r\n");
  const bool looks_like_json_object = first != std::string_view::npos && body[first] == '{';
  if (yaml && looks_like_json_object && !json_nesting_exceeds(body)) {
    Json parsed = Json::parse(body, nullptr, false);
    if (!parsed.is_discarded()) return parsed;
  }
  if (!yaml) {
    if (json_nesting_exceeds(body)) return Status(StatusCode::kBadRequest, "nested too deep");
    try {
      return Json::parse(body);
    } catch (const Json::exception& e) {  // out_of_range too: 1e999 (found by these targets)
      return Status(StatusCode::kBadRequest, e.what());
    }
  }
  auto docs = parse_yaml(body);
  if (!docs.ok()) return docs.status();
  if (docs->size() != 1) return Status(StatusCode::kBadRequest, "not exactly one document");
  return std::move((*docs)[0].value);
}

}  // namespace solti::fuzz
