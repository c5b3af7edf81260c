#include "model/names.h"

namespace solti {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string max_length_message(size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool is_dns1123_label_text(std::string_view v) {
  if (v.empty() || !is_lower_alnum(v.front()) || !is_lower_alnum(v.back())) return false;
  for (char c : v) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

bool is_dns1123_subdomain_text(std::string_view v) {
  if (v.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = v.find('.', start);
    if (!is_dns1123_label_text(v.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool is_qualified_name_part(std::string_view v) {
  if (v.empty() || !is_alnum(v.front()) || !is_alnum(v.back())) return false;
  for (char c : v) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

constexpr std::string_view kSubdomainShape =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com')";
constexpr std::string_view kLabelShape =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name')";
constexpr std::string_view kQualifiedShape =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')";
constexpr std::string_view kLabelValueShape =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue' or 'my_value')";

}  // namespace

std::vector<std::string> check_dns1123_subdomain(std::string_view value) {
  std::vector<std::string> problems;
  if (value.size() > kDns1123SubdomainMaxLength)
    problems.push_back(max_length_message(kDns1123SubdomainMaxLength));
  if (!is_dns1123_subdomain_text(value)) problems.emplace_back(kSubdomainShape);
  return problems;
}

std::vector<std::string> check_dns1123_label(std::string_view value) {
  std::vector<std::string> problems;
  if (value.size() > kDns1123LabelMaxLength)
    problems.push_back(max_length_message(kDns1123LabelMaxLength));
  if (!is_dns1123_label_text(value)) problems.emplace_back(kLabelShape);
  return problems;
}

std::vector<std::string> check_qualified_name(std::string_view value) {
  std::vector<std::string> problems;
  std::string_view name = value;
  size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      problems.emplace_back("prefix part must be non-empty");
    } else {
      for (auto& p : check_dns1123_subdomain(prefix)) problems.push_back("prefix part " + p);
    }
    if (name.find('/') != std::string_view::npos) {
      problems.emplace_back(
          "a qualified name must consist of an optional DNS subdomain prefix and '/' followed by "
          "a name part (e.g. 'example.com/MyName')");
      return problems;
    }
  }
  if (name.empty()) {
    problems.emplace_back("name part must be non-empty");
  } else {
    if (name.size() > kQualifiedNameMaxLength)
      problems.push_back("name part " + max_length_message(kQualifiedNameMaxLength));
    if (!is_qualified_name_part(name)) problems.emplace_back(kQualifiedShape);
  }
  return problems;
}

std::vector<std::string> check_label_value(std::string_view value) {
  std::vector<std::string> problems;
  if (value.size() > kLabelValueMaxLength)
    problems.push_back(max_length_message(kLabelValueMaxLength));
  if (!value.empty() && !is_qualified_name_part(value)) problems.emplace_back(kLabelValueShape);
  return problems;
}

std::vector<std::string> check_slot(std::string_view value) {
  std::vector<std::string> problems;
  if (value.empty()) {
    problems.emplace_back("must not be empty");
    return problems;
  }
  if (value.size() > kSlotMaxLength) problems.push_back(max_length_message(kSlotMaxLength));
  if (value == "." || value == "..") problems.emplace_back("must not be '.' or '..'");
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
      problems.push_back("may contain only letters, digits, '.', '_' and '-' (found byte " +
                         std::to_string(static_cast<unsigned char>(c)) + " at position " +
                         std::to_string(i) + ")");
      break;
    }
  }
  return problems;
}

std::vector<std::string> check_env_var_name(std::string_view value) {
  std::vector<std::string> problems;
  bool ok = !value.empty() && (is_alpha(value.front()) || value.front() == '-' ||
                               value.front() == '.' || value.front() == '_');
  for (char c : value) {
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_') ok = false;
  }
  if (!ok) {
    problems.emplace_back(
        "a valid environment variable name must consist of alphabetic characters, digits, '_', "
        "'-', or '.', and must not start with a digit");
  }
  return problems;
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace solti
