// Kubernetes naming rules. Each check returns the list of problems (empty when
// valid) using the wording Kubernetes users already know.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace solti {

inline constexpr size_t kDns1123SubdomainMaxLength = 253;
inline constexpr size_t kDns1123LabelMaxLength = 63;
inline constexpr size_t kQualifiedNameMaxLength = 63;
inline constexpr size_t kLabelValueMaxLength = 63;
inline constexpr size_t kSlotMaxLength = 64;

std::vector<std::string> check_dns1123_subdomain(std::string_view value);
std::vector<std::string> check_dns1123_label(std::string_view value);
// Label and annotation keys, finalizer names: "[prefix/]name".
std::vector<std::string> check_qualified_name(std::string_view value);
std::vector<std::string> check_label_value(std::string_view value);
// Slots: [A-Za-z0-9._-], 1..64 bytes, not "." or "..".
std::vector<std::string> check_slot(std::string_view value);
// Environment variable names: [-._a-zA-Z][-._a-zA-Z0-9]* (as Kubernetes).
std::vector<std::string> check_env_var_name(std::string_view value);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace solti
