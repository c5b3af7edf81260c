#include "kubectl-like/jsonpath.h"

#include <cctype>
#include <cstdlib>
#include <optional>

namespace solti::ctl {
namespace {

struct Filter;

// One step of a path, applied to each value the previous step produced.
struct Step {
  enum Kind { kField, kWildcard, kIndexes, kSlice, kDescend, kFilter };
  static Step of(Kind kind) {
    Step step;
    step.kind = kind;
    return step;
  }
  Kind kind = kField;
  std::vector<std::string> names;  // kField: one or more (a union)
  std::vector<int64_t> indexes;    // kIndexes: one or more (a union)
  std::optional<int64_t> start, end;
  int64_t stride = 1;  // kSlice
  std::shared_ptr<const Filter> filter;
};

struct Path {
  bool from_root = false;  // `$`; else the current object (`@`, or nothing)
  std::vector<Step> steps;
};

// `@.path`, or `@.path OP operand`; with no op it asks whether the path exists.
struct Filter {
  Path left;
  std::string op;
  std::optional<Path> right_path;
  Json right_value;
};

Status error(size_t at, const std::string& what) {
  return Status(StatusCode::kBadRequest,
                "jsonpath: " + what + " at character " + std::to_string(at + 1));
}

class PathParser {
 public:
  PathParser(std::string_view text, size_t offset) : s_(text), offset_(offset) {}

  // A path that ends at the end of the text or where a filter's operator,
  // `)` or blank starts.
  Result<Path> path() {
    Path out;
    if (peek() == '$' || peek() == '@') out.from_root = s_[i_++] == '$';
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '.' && i_ + 1 < s_.size() && s_[i_ + 1] == '.') {
        i_ += 2;
        out.steps.push_back(Step::of(Step::kDescend));
        if (peek() == '[') continue;
        auto step = member();
        if (!step.ok()) return step.status();
        out.steps.push_back(std::move(*step));
      } else if (c == '.') {
        ++i_;
        if (i_ == s_.size() || ends_path(s_[i_])) continue;  // `.` alone: the object itself
        auto step = member();
        if (!step.ok()) return step.status();
        out.steps.push_back(std::move(*step));
      } else if (c == '[') {
        auto step = bracket();
        if (!step.ok()) return step.status();
        out.steps.push_back(std::move(*step));
      } else if (ends_path(c)) {
        break;
      } else {
        return error(at(), std::string("unexpected '") + c + "'");
      }
    }
    return out;
  }

  void skip_blanks() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  size_t at() const { return offset_ + i_; }
  bool done() const { return i_ == s_.size(); }

  // A quoted string with \n, \t, \\ and \" (or \') escapes; i_ is at the quote.
  Result<std::string> quoted() {
    const char quote = s_[i_++];
    std::string out;
    while (i_ < s_.size() && s_[i_] != quote) {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size()) {
        c = s_[i_++];
        c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
      }
      out += c;
    }
    if (i_ == s_.size()) return error(at(), "unterminated string");
    ++i_;
    return out;
  }

  Result<Filter> filter() {
    Filter out;
    skip_blanks();
    if (peek() != '@' && peek() != '$') return error(at(), "a filter must start with @ or $");
    auto left = path();
    if (!left.ok()) return left.status();
    out.left = std::move(*left);
    skip_blanks();
    for (const char* op : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (s_.substr(i_).starts_with(op)) {
        out.op = op;
        i_ += out.op.size();
        break;
      }
    }
    if (out.op.empty()) return out;
    skip_blanks();
    if (peek() == '@' || peek() == '$') {
      auto right = path();
      if (!right.ok()) return right.status();
      out.right_path = std::move(*right);
    } else if (peek() == '"' || peek() == '\'') {
      auto text = quoted();
      if (!text.ok()) return text.status();
      out.right_value = *text;
    } else {
      const size_t from = i_;
      while (i_ < s_.size() && s_[i_] != ')' && !std::isspace(static_cast<unsigned char>(s_[i_])))
        ++i_;
      out.right_value = Json::parse(s_.substr(from, i_ - from), nullptr, false);
      if (out.right_value.is_discarded() || out.right_value.is_structured())
        return error(offset_ + from,
                     "a filter compares with a string, number, true, false or null");
    }
    return out;
  }

 private:
  static bool ends_path(char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == ')' || c == '=' || c == '!' ||
           c == '<' || c == '>';
  }

  // After `.` or `..`: `*` or a field name (`\.` is a dot inside it).
  Result<Step> member() {
    if (peek() == '*') {
      ++i_;
      return Step::of(Step::kWildcard);
    }
    std::string name;
    while (i_ < s_.size() && s_[i_] != '.' && s_[i_] != '[' && !ends_path(s_[i_])) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size() && s_[i_ + 1] == '.') ++i_;
      name += s_[i_++];
    }
    if (name.empty()) return error(at(), "a field name was expected");
    Step step = Step::of(Step::kField);
    step.names.push_back(std::move(name));
    return step;
  }

  // `[*]`, `[N]`, `[A,B]`, `[start:end:stride]`, `['name', ...]` or `[?(filter)]`.
  Result<Step> bracket() {
    const size_t open = i_++;
    skip_blanks();
    Step step = Step::of(Step::kIndexes);
    if (peek() == '*') {
      ++i_;
      step.kind = Step::kWildcard;
    } else if (peek() == '?') {
      ++i_;
      if (peek() != '(') return error(at(), "'(' after '?'");
      ++i_;
      auto parsed = filter();
      if (!parsed.ok()) return parsed.status();
      skip_blanks();
      if (peek() != ')') return error(at(), "')' to close the filter");
      ++i_;
      step.kind = Step::kFilter;
      step.filter = std::make_shared<Filter>(std::move(*parsed));
    } else if (peek() == '\'' || peek() == '"') {
      step.kind = Step::kField;
      while (true) {
        auto name = quoted();
        if (!name.ok()) return name.status();
        step.names.push_back(std::move(*name));
        skip_blanks();
        if (peek() != ',') break;
        ++i_;
        skip_blanks();
        if (peek() != '\'' && peek() != '"') return error(at(), "a quoted name after ','");
      }
    } else {
      auto slice = numbers(step);
      if (!slice.ok()) return slice;
    }
    skip_blanks();
    if (peek() != ']') return error(offset_ + open, "unclosed '['");
    ++i_;
    return step;
  }

  // The inside of `[N]`, `[A,B]` or `[start:end:stride]` (each part optional).
  Status numbers(Step& step) {
    std::vector<std::optional<int64_t>> parts(1);
    char separator = '\0';
    while (i_ < s_.size() && s_[i_] != ']') {
      const char c = s_[i_];
      if (c == ':' || c == ',') {
        if (separator && separator != c) return error(at(), "mixed ':' and ','");
        separator = c;
        parts.emplace_back();
        ++i_;
      } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
        char* end = nullptr;
        const std::string rest(s_.substr(i_, 24));
        const long long value = std::strtoll(rest.c_str(), &end, 10);
        if (end == rest.c_str() || parts.back()) return error(at(), "a number was expected");
        parts.back() = value;
        i_ += size_t(end - rest.c_str());
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++i_;
      } else {
        return error(at(), std::string("unexpected '") + c + "' in brackets");
      }
    }
    if (separator == ':') {
      if (parts.size() > 3) return error(at(), "a slice has at most start:end:stride");
      step.kind = Step::kSlice;
      step.start = parts[0];
      step.end = parts[1];
      if (parts.size() == 3 && parts[2]) step.stride = *parts[2];
      if (step.stride <= 0) return error(at(), "a slice's stride must be positive");
      return Status::Ok();
    }
    for (const auto& part : parts) {
      if (!part) return error(at(), "an index was expected");
      step.indexes.push_back(*part);
    }
    return Status::Ok();
  }

  std::string_view s_;
  size_t offset_;
  size_t i_ = 0;
};

using Values = std::vector<const Json*>;

void descendants(const Json& value, Values& out) {
  out.push_back(&value);
  if (value.is_structured())
    for (const auto& child : value) descendants(child, out);
}

Values evaluate(const Path& path, const Json& root, const Json& current);

bool matches(const Filter& filter, const Json& root, const Json& candidate) {
  const Values left = evaluate(filter.left, root, candidate);
  if (filter.op.empty()) return !left.empty();
  if (left.empty()) return false;
  const Json* right = &filter.right_value;
  Values right_values;
  if (filter.right_path) {
    right_values = evaluate(*filter.right_path, root, candidate);
    if (right_values.empty()) return false;
    right = right_values.front();
  }
  const Json& a = *left.front();
  const Json& b = *right;
  if (filter.op == "==") return a == b;
  if (filter.op == "!=") return a != b;
  const bool comparable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string());
  if (!comparable) return false;
  if (filter.op == "<") return a < b;
  if (filter.op == "<=") return a <= b;
  if (filter.op == ">") return a > b;
  return a >= b;
}

void apply(const Step& step, const Json& root, const Values& in, Values& out) {
  for (const Json* value : in) {
    switch (step.kind) {
      case Step::kField:
        if (value->is_object()) {
          for (const auto& name : step.names)
            if (auto it = value->find(name); it != value->end()) out.push_back(&*it);
        }
        break;
      case Step::kWildcard:
        if (value->is_structured())
          for (const auto& child : *value) out.push_back(&child);
        break;
      case Step::kIndexes:
        if (value->is_array()) {
          const auto size = int64_t(value->size());
          for (int64_t index : step.indexes) {
            if (index < 0) index += size;
            if (index >= 0 && index < size) out.push_back(&(*value)[size_t(index)]);
          }
        }
        break;
      case Step::kSlice:
        if (value->is_array()) {
          const auto size = int64_t(value->size());
          auto clamp = [&](std::optional<int64_t> bound, int64_t otherwise) {
            int64_t b = bound.value_or(otherwise);
            if (b < 0) b += size;
            return std::min(std::max<int64_t>(b, 0), size);
          };
          for (int64_t i = clamp(step.start, 0); i < clamp(step.end, size); i += step.stride)
            out.push_back(&(*value)[size_t(i)]);
        }
        break;
      case Step::kDescend:
        descendants(*value, out);
        break;
      case Step::kFilter:
        if (value->is_array()) {
          for (const auto& element : *value)
            if (matches(*step.filter, root, element)) out.push_back(&element);
        }
        break;
    }
  }
}

Values evaluate(const Path& path, const Json& root, const Json& current) {
  Values values{path.from_root ? &root : &current};
  for (const auto& step : path.steps) {
    Values next;
    apply(step, root, values, next);
    values = std::move(next);
  }
  return values;
}

std::string text_of(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

struct JsonPath::Node {
  enum Kind { kText, kPath, kRange } kind;
  std::string text;
  Path path;
  std::vector<std::shared_ptr<const Node>> body;  // kRange
};

namespace {

// The offset just past the `}` that closes the `{` at `open`, skipping
// quoted strings; npos when it is never closed.
size_t closing_brace(std::string_view text, size_t open) {
  char quote = '\0';
  for (size_t i = open + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == '\\')
        ++i;
      else if (c == quote)
        quote = '\0';
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '}') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

void render(const std::vector<std::shared_ptr<const JsonPath::Node>>& nodes, const Json& root,
            const Json& current, std::string& out) {
  for (const auto& node : nodes) {
    if (node->kind == JsonPath::Node::kText) {
      out += node->text;
      continue;
    }
    Values values = evaluate(node->path, root, current);
    if (node->kind == JsonPath::Node::kPath) {
      for (size_t i = 0; i < values.size(); ++i) out += (i ? " " : "") + text_of(*values[i]);
      continue;
    }
    // `range .items` walks the list as `range .items[*]` does.
    if (values.size() == 1 && values[0]->is_array()) {
      Values elements;
      for (const auto& element : *values[0]) elements.push_back(&element);
      values = std::move(elements);
    }
    for (const Json* value : values) render(node->body, root, *value, out);
  }
}

}  // namespace

Result<JsonPath> JsonPath::parse(std::string_view text) {
  std::vector<std::shared_ptr<const Node>> top;
  // The open ranges, innermost last, with where each began.
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> ranges;
  auto add = [&](std::shared_ptr<Node> node) {
    (ranges.empty() ? top : ranges.back().first->body).push_back(std::move(node));
  };
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    if (open != i) {
      const size_t end = std::min(open, text.size());
      add(std::make_shared<Node>(Node{Node::kText, std::string(text.substr(i, end - i)), {}, {}}));
      i = end;
      continue;
    }
    const size_t close = closing_brace(text, open);
    if (close == std::string_view::npos) return error(open, "unclosed '{'");
    std::string_view inner = text.substr(open + 1, close - open - 2);
    size_t inner_at = open + 1;
    while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.front()))) {
      inner.remove_prefix(1);
      ++inner_at;
    }
    while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.back())))
      inner.remove_suffix(1);
    i = close;
    if (inner == "end") {
      if (ranges.empty()) return error(open, "'end' without 'range'");
      ranges.pop_back();
      continue;
    }
    if (inner.empty()) return error(open, "an empty expression");
    if (inner.front() == '"' || inner.front() == '\'') {
      PathParser literal(inner, inner_at);
      auto value = literal.quoted();
      if (!value.ok()) return value.status();
      if (!literal.done()) return error(literal.at(), "text after the string");
      add(std::make_shared<Node>(Node{Node::kText, std::move(*value), {}, {}}));
      continue;
    }
    const bool is_range = inner.starts_with("range ");
    if (is_range) {
      inner.remove_prefix(6);
      inner_at += 6;
      while (!inner.empty() && inner.front() == ' ') {
        inner.remove_prefix(1);
        ++inner_at;
      }
    }
    PathParser parser(inner, inner_at);
    auto path = parser.path();
    if (!path.ok()) return path.status();
    if (!parser.done()) return error(parser.at(), "unexpected text after the path");
    auto node = std::make_shared<Node>(
        Node{is_range ? Node::kRange : Node::kPath, "", std::move(*path), {}});
    add(node);
    if (is_range) ranges.emplace_back(node, open);
  }
  if (!ranges.empty()) return error(ranges.back().second, "'range' without 'end'");
  return JsonPath(std::move(top));
}

std::string JsonPath::execute(const Json& root) const {
  std::string out;
  render(nodes_, root, root, out);
  return out;
}

}  // namespace solti::ctl
