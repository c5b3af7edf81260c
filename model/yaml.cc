#include "model/yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <sstream>

#include "model/json_codec.h"
#include "model/names.h"

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
  // "..." at the start of a line ends the document: a top-level key or a
  // scalar document written plain was cut off (found by tests/fuzz).
  if (s.starts_with("...")) return true;
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

// yaml-cpp 0.7's LoadAll never returns on a stream whose next token cannot
// start a node (a "," at the top level of a document, yaml-cpp issue #1040,
// fixed upstream by PR #1319): the parser reports a null document without
// consuming the token, again and again, and LoadAll appends each one, so a
// one-byte request body took a server thread and gigabytes of memory
// (found by tests/fuzz). This pass reads the stream's events without
// building anything and refuses it where a document makes no progress,
// before LoadAll sees it.
class StuckDocumentFinder final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override { events_ = 0, null_mark_.reset(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    if (events_++ == 0) null_mark_ = mark;
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { ++events_; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    ++events_;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++events_;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    ++events_;
  }
  void OnMapEnd() override {}

  // The mark of the document's only event when it is a null, else nothing.
  std::optional<YAML::Mark> lone_null() const { return events_ == 1 ? null_mark_ : std::nullopt; }

 private:
  int events_ = 0;
  std::optional<YAML::Mark> null_mark_;
};

// Throws YAML::ParserException where yaml-cpp would loop forever.
void refuse_stuck_stream(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  StuckDocumentFinder finder;
  std::optional<YAML::Mark> previous;  // the previous document's lone null
  while (parser.HandleNextDocument(finder)) {
    std::optional<YAML::Mark> null = finder.lone_null();
    if (null && previous && null->pos == previous->pos) {
      throw YAML::ParserException(*null, "unexpected character: no node can start here");
    }
    previous = null;
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

namespace {

// YAML streams hold printable Unicode only (YAML 1.2 c-printable, checked
// as go-yaml, and so Kubernetes, checks it). yaml-cpp lets the rest through:
// a NUL came back as "\b ", and bytes that are not UTF-8 reached the JSON
// encoder, which silently replaces them.
void check_printable_utf8(std::string_view text) {
  SourcePosition at{1, 1};
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80             ? 1
                          : (lead & 0xE0) == 0xC0 ? 2
                          : (lead & 0xF0) == 0xE0 ? 3
                          : (lead & 0xF8) == 0xF0 ? 4
                                                  : 0;
    if (length == 0 || !is_valid_utf8(text.substr(i, length))) {
      throw YamlError{at, "invalid UTF-8"};
    }
    uint32_t cp = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (text[i + k] & 0x3F);
    const bool printable = cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) ||
                           cp == 0x85 || (cp >= 0xA0 && cp <= 0xD7FF) ||
                           (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
    if (!printable) {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", cp);
      throw YamlError{at, std::string("control characters are not allowed (found ") + code + ")"};
    }
    if (cp == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
    i += length;
  }
}

// Where a quoted scalar starting at text[at] ends (after its closing quote,
// or at the end of the text when it is not closed).
size_t quoted_scalar_end(std::string_view text, size_t at) {
  const char quote = text[at];
  for (size_t i = at + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted scalar
      } else {
        return i + 1;
      }
    }
  }
  return text.size();
}

// yaml-cpp scans and holds every token of a flow collection, some 300
// bytes each, before it builds or reports any node: a 4 MiB body of
// "[0,0,...]" took 900 MB, and 2 million "[" took 500 MB before its own
// depth limit spoke. So the tokens and the flow nesting are counted here
// first, by a scan that over-counts (each plain word, indicator and line is
// a token) but skips what yaml-cpp reads as one token: comments, quoted
// scalars and the lines of block scalars.
void check_shape(std::string_view text, size_t max_tokens) {
  // A block scalar's text: the lines more indented than the node that holds
  // it, from the first such line on, while as indented as that one. Where
  // this scan places the holder no further left than yaml-cpp does, it skips
  // no line that yaml-cpp reads as nodes.
  bool in_block_scalar = false;
  size_t holder_column = 0;
  size_t text_indent = 0;  // 0: not known yet (it is more than holder_column)
  size_t tokens = 0, depth = 0;
  SourcePosition at{1, 1};
  auto count = [&] {
    if (++tokens > max_tokens) {
      throw YamlError{
          at, "the document has more than " + std::to_string(max_tokens) + " nodes and indicators"};
    }
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t line_end = std::min(text.find('\n', i), text.size());
    const size_t indent = std::min(text.find_first_not_of(' ', i), line_end) - i;
    const bool blank = i + indent == line_end || text[i + indent] == '\r';
    if (in_block_scalar && !blank) {
      if (text_indent == 0 && indent > holder_column) text_indent = indent;
      in_block_scalar = text_indent != 0 && indent >= text_indent;
    }
    if (blank || in_block_scalar) {
      i = line_end + 1;
      ++at.line;
      continue;
    }
    count();  // a line may open or close block collections
    size_t last_token_column = indent;
    // Whether text[k] ends a word: white space or the end of the line.
    auto separated = [&](size_t k) {
      return k >= line_end || text[k] == ' ' || text[k] == '\t' || text[k] == '\r';
    };
    for (size_t j = i + indent; j < line_end;) {
      at.column = int(j - i + 1);
      const char c = text[j];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++j;
        continue;
      }
      if (c == '#' && (j == i || text[j - 1] == ' ' || text[j - 1] == '\t')) break;  // a comment
      if ((c == '|' || c == '>') && depth == 0) {
        count();
        in_block_scalar = true;
        holder_column = last_token_column;
        text_indent = 0;
        break;  // the rest of the line is the block scalar's header
      }
      count();
      last_token_column = j - i;
      if (c == '"' || c == '\'') {
        const size_t end = quoted_scalar_end(text, j);
        for (size_t k = j; k < end; ++k) at.line += text[k] == '\n';
        j = end;
        if (j > line_end) line_end = std::min(text.find('\n', j), text.size());
      } else if (c == '[' || c == '{') {
        if (++depth > kMaxDocumentDepth) {
          throw YamlError{at,
                          "nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels"};
        }
        ++j;
      } else if (c == ']' || c == '}' || c == ',') {
        if (c != ',' && depth > 0) --depth;
        ++j;
      } else if ((c == '-' || c == '?' || c == ':') && separated(j + 1)) {
        ++j;  // an indicator: a node may follow on the line
      } else if (depth > 0 || c == '&' || c == '!' || c == '*') {
        // A word in a flow collection, an anchor, a tag or an alias.
        const std::string_view ends = depth > 0 ? " \t\r,[]{}" : " \t\r";
        while (j < line_end && ends.find(text[j]) == std::string_view::npos) ++j;
      } else {
        // A plain scalar in block context runs to ": " (it is a key), " #"
        // or the end of the line: "see a[1 and {x" is one scalar.
        for (; j < line_end; ++j) {
          if (text[j] == ':' && separated(j + 1)) {
            ++j;
            break;
          }
          if (text[j] == '#' && (text[j - 1] == ' ' || text[j - 1] == '\t')) break;
        }
      }
    }
    i = line_end + 1;
    ++at.line;
    at.column = 1;
  }
}

}  // namespace

Result<std::vector<YamlDocument>> parse_yaml(std::string_view text, size_t max_tokens) {
  std::vector<YamlDocument> documents;
  const size_t budget = text.size() + 1024;
  try {
    check_printable_utf8(text);
    check_shape(text, max_tokens);
    const std::string stream(text);
    refuse_stuck_stream(stream);
    std::vector<YAML::Node> nodes = YAML::LoadAll(stream);
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
