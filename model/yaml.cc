#include "model/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "model/json_codec.h"

namespace solti {
namespace {

SourcePosition position(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

struct YamlError {
  SourcePosition at;
  std::string message;
};

bool all_digits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                         : (c >= '0' && c < '0' + base);
    if (!ok) return false;
  }
  return true;
}

// Resolves a plain (unquoted) scalar by the YAML 1.2 core schema.
Json resolve_plain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;

  std::string_view body = s;
  bool negative = false;
  if (body.front() == '-' || body.front() == '+') {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  int base = 0;
  std::string_view digits = body;
  if (all_digits(body, 10)) {
    base = 10;
  } else if (!negative && s.size() > 2 && s[0] == '0' && s[1] == 'o' &&
             all_digits(std::string_view(s).substr(2), 8)) {
    base = 8;
    digits = std::string_view(s).substr(2);
  } else if (!negative && s.size() > 2 && s[0] == '0' && s[1] == 'x' &&
             all_digits(std::string_view(s).substr(2), 16)) {
    base = 16;
    digits = std::string_view(s).substr(2);
  }
  if (base != 0) {
    errno = 0;
    char* end = nullptr;
    std::string d(digits);
    unsigned long long magnitude = std::strtoull(d.c_str(), &end, base);
    if (errno == 0) {
      if (!negative) {
        if (magnitude <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()))
          return static_cast<int64_t>(magnitude);
        return static_cast<uint64_t>(magnitude);
      }
      if (magnitude <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()) + 1ULL)
        return static_cast<int64_t>(0 - magnitude);
    }
    return std::strtod(s.c_str(), nullptr);  // out of 64-bit range: a float, as Go's YAML does
  }

  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  {
    size_t i = 0;
    std::string_view f = body;
    size_t int_digits = 0, frac_digits = 0;
    while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]))) ++i, ++int_digits;
    if (i < f.size() && f[i] == '.') {
      ++i;
      while (i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]))) ++i, ++frac_digits;
    }
    bool mantissa_ok = int_digits > 0 || frac_digits > 0;
    if (mantissa_ok && i < f.size() && (f[i] == 'e' || f[i] == 'E')) {
      size_t j = i + 1;
      if (j < f.size() && (f[j] == '+' || f[j] == '-')) ++j;
      size_t exp_digits = 0;
      while (j < f.size() && std::isdigit(static_cast<unsigned char>(f[j]))) ++j, ++exp_digits;
      i = exp_digits > 0 ? j : std::string_view::npos;
    }
    if (mantissa_ok && i == f.size()) return std::strtod(s.c_str(), nullptr);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF")
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return s;
}

class Converter {
 public:
  // The budgets are shared by all documents of a stream.
  Converter(size_t& nodes_left, size_t& bytes_left, YamlDocument& doc)
      : nodes_left_(nodes_left), bytes_left_(bytes_left), doc_(doc) {}

  Json convert(const YAML::Node& node, std::vector<std::string>& path) {
    if (nodes_left_ == 0) throw_limit(node);
    if (path.size() > kMaxDocumentDepth) {
      throw YamlError{position(node.Mark()),
                      "nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels"};
    }
    --nodes_left_;
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar: {
        const std::string& text = node.Scalar();
        if (text.size() > bytes_left_) throw_limit(node);
        bytes_left_ -= text.size();
        const std::string& tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;
        return resolve_plain(text);
      }
      case YAML::NodeType::Sequence: {
        Json out = Json::array();
        size_t i = 0;
        for (const auto& item : node) {
          path.push_back(std::to_string(i++));
          doc_.positions.emplace(path, position(item.Mark()));
          out.push_back(convert(item, path));
          path.pop_back();
        }
        return out;
      }
      case YAML::NodeType::Map: {
        Json out = Json::object();
        for (const auto& entry : node) {
          const YAML::Node& key = entry.first;
          if (!key.IsScalar()) {
            throw YamlError{position(key.Mark()), "mapping keys must be strings"};
          }
          const std::string& name = key.Scalar();
          path.push_back(name);
          if (out.contains(name)) {
            auto first = doc_.positions.find(path);
            std::string where =
                first != doc_.positions.end()
                    ? " (first defined at line " + std::to_string(first->second.line) + ")"
                    : "";
            throw YamlError{position(key.Mark()), "duplicate key \"" + name + "\"" + where};
          }
          doc_.positions.emplace(path, position(key.Mark()));
          out[name] = convert(entry.second, path);
          path.pop_back();
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  [[noreturn]] static void throw_limit(const YAML::Node& node) {
    throw YamlError{position(node.Mark()),
                    "document expands beyond the size of its text (too many alias references)"};
  }

  size_t& nodes_left_;
  size_t& bytes_left_;
  YamlDocument& doc_;
};

// True when a plain scalar with this text would read back as something other
// than this string, or cannot be written plain at all.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (!resolve_plain(s).is_string()) return true;
  static constexpr std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos) return true;
  if (s.front() == ' ' || s.back() == ' ') return true;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (s[i] == '#' && i > 0 && s[i - 1] == ' ') return true;
    if (s[i] == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) return true;
  }
  return false;
}

// A literal block reads back exactly when the text ends in a single newline
// and has no characters that block scalars cannot carry.
bool fits_literal_block(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
    if (s[i] == '\n' && i > 0 && s[i - 1] == ' ') return false;  // trailing spaces
  }
  return true;
}

void emit(YAML::Emitter& out, const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [key, value] : j.items()) {
        out << YAML::Key;
        if (needs_quotes(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        emit(out, value);
      }
      out << YAML::EndMap;
      return;
    case Json::value_t::array:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : j) emit(out, item);
      out << YAML::EndSeq;
      return;
    case Json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (s.find('\n') != std::string::npos && fits_literal_block(s)) {
        out << YAML::Literal << s;
      } else if (needs_quotes(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      return;
    }
    case Json::value_t::boolean:
      out << (j.get<bool>() ? "true" : "false");
      return;
    case Json::value_t::number_integer:
      out << j.get<int64_t>();
      return;
    case Json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      return;
    case Json::value_t::number_float: {
      double d = j.get<double>();
      if (std::isnan(d)) {
        out << ".nan";
      } else if (std::isinf(d)) {
        out << (d > 0 ? ".inf" : "-.inf");
      } else {
        std::string text = j.dump();
        // Keep a float a float when read back ("2.0" rather than "2").
        if (text.find_first_of(".eE") == std::string::npos) text += ".0";
        out << text;
      }
      return;
    }
    default:
      out << YAML::Null;
      return;
  }
}

}  // namespace

std::string SourcePosition::to_string() const {
  return std::to_string(line) + ":" + std::to_string(column);
}

std::vector<std::string> split_field_path(std::string_view field_path) {
  std::vector<std::string> segments;
  std::string current;
  for (size_t i = 0; i < field_path.size(); ++i) {
    char c = field_path[i];
    if (c == '.') {
      if (!current.empty()) segments.push_back(std::move(current));
      current.clear();
    } else if (c == '[') {
      if (!current.empty()) segments.push_back(std::move(current));
      current.clear();
      size_t close = field_path.find(']', i);
      if (close == std::string_view::npos) close = field_path.size();
      segments.emplace_back(field_path.substr(i + 1, close - i - 1));
      i = close;
    } else {
      current += c;
    }
  }
  if (!current.empty()) segments.push_back(std::move(current));
  return segments;
}

SourcePosition YamlDocument::position_of(std::string_view field_path) const {
  std::vector<std::string> path = split_field_path(field_path);
  while (!path.empty()) {
    auto it = positions.find(path);
    if (it != positions.end()) return it->second;
    path.pop_back();
  }
  return start;
}

Result<std::vector<YamlDocument>> parse_yaml(std::string_view text) {
  std::vector<YamlDocument> documents;
  const size_t budget = text.size() + 1024;
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(std::string(text));
    size_t nodes_left = budget, bytes_left = budget;
    for (const auto& node : nodes) {
      if (node.IsNull() || !node.IsDefined()) continue;
      YamlDocument doc;
      doc.start = position(node.Mark());
      Converter converter(nodes_left, bytes_left, doc);
      std::vector<std::string> path;
      doc.value = converter.convert(node, path);
      documents.push_back(std::move(doc));
    }
  } catch (const YAML::ParserException& e) {
    SourcePosition at = position(e.mark);
    return Status(StatusCode::kBadRequest, "line " + std::to_string(at.line) + ", column " +
                                               std::to_string(at.column) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kBadRequest, std::string("invalid YAML: ") + e.what());
  } catch (const YamlError& e) {
    return Status(StatusCode::kBadRequest, "line " + std::to_string(e.at.line) + ", column " +
                                               std::to_string(e.at.column) + ": " + e.message);
  }
  return documents;
}

std::string to_yaml(const Json& value) {
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EmitNonAscii);
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  emit(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace solti
