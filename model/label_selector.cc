#include "model/label_selector.h"

#include <algorithm>

#include "model/names.h"

namespace solti {
namespace {

void normalise(std::vector<std::string>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

std::string join(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

// Tokenizer for the string syntax, following the Kubernetes lexer: the
// special tokens are ! != = == , ( ) and everything else up to whitespace or a
// special character is an identifier.
enum class Token {
  kEnd,
  kIdentifier,
  kNot,
  kNotEquals,
  kEquals,
  kDoubleEquals,
  kComma,
  kOpen,
  kClose
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next(std::string& identifier) {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    if (pos_ >= text_.size()) return Token::kEnd;
    char c = text_[pos_];
    auto peek_is = [&](char n) { return pos_ + 1 < text_.size() && text_[pos_ + 1] == n; };
    switch (c) {
      case '!':
        if (peek_is('=')) {
          pos_ += 2;
          return Token::kNotEquals;
        }
        ++pos_;
        return Token::kNot;
      case '=':
        if (peek_is('=')) {
          pos_ += 2;
          return Token::kDoubleEquals;
        }
        ++pos_;
        return Token::kEquals;
      case ',':
        ++pos_;
        return Token::kComma;
      case '(':
        ++pos_;
        return Token::kOpen;
      case ')':
        ++pos_;
        return Token::kClose;
      default:
        break;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && !is_space(text_[pos_]) && !is_special(text_[pos_])) ++pos_;
    identifier.assign(text_.substr(start, pos_ - start));
    return Token::kIdentifier;
  }

  Token peek(std::string& identifier) {
    size_t saved = pos_;
    Token t = next(identifier);
    pos_ = saved;
    return t;
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static bool is_special(char c) {
    return c == '!' || c == '=' || c == ',' || c == '(' || c == ')';
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string_view token_name(Token t) {
  switch (t) {
    case Token::kEnd:
      return "end of string";
    case Token::kIdentifier:
      return "identifier";
    case Token::kNot:
      return "'!'";
    case Token::kNotEquals:
      return "'!='";
    case Token::kEquals:
      return "'='";
    case Token::kDoubleEquals:
      return "'=='";
    case Token::kComma:
      return "','";
    case Token::kOpen:
      return "'('";
    case Token::kClose:
      return "')'";
  }
  return "token";
}

}  // namespace

Result<Selector> Selector::parse(std::string_view text) {
  Selector selector;
  auto fail = [&](const std::string& why) {
    return Status(StatusCode::kBadRequest,
                  "invalid label selector \"" + std::string(text) + "\": " + why);
  };
  Lexer lexer(text);
  std::string ident;
  if (lexer.peek(ident) == Token::kEnd) return selector;

  while (true) {
    Requirement req;
    Token t = lexer.next(ident);
    bool negated = false;
    if (t == Token::kNot) {
      negated = true;
      t = lexer.next(ident);
    }
    if (t != Token::kIdentifier) {
      return fail("expected a label key, found " + std::string(token_name(t)));
    }
    req.key = ident;
    if (auto problems = check_qualified_name(req.key); !problems.empty()) {
      return fail("key \"" + req.key + "\": " + join(problems));
    }

    std::string after;
    Token op = lexer.peek(after);
    if (negated) {
      req.op = SelectorOperator::kDoesNotExist;
    } else if (op == Token::kEnd || op == Token::kComma) {
      req.op = SelectorOperator::kExists;
    } else if (op == Token::kEquals || op == Token::kDoubleEquals || op == Token::kNotEquals) {
      lexer.next(after);
      req.op = op == Token::kNotEquals ? SelectorOperator::kNotIn : SelectorOperator::kIn;
      std::string value;
      Token v = lexer.peek(value);
      if (v == Token::kIdentifier) {
        lexer.next(value);
      } else if (v != Token::kEnd && v != Token::kComma) {
        return fail("expected a value after " + std::string(token_name(op)) + ", found " +
                    std::string(token_name(v)));
      } else {
        value.clear();  // "key=" selects the empty value, as in Kubernetes
      }
      req.values.push_back(value);
    } else if (op == Token::kIdentifier && (after == "in" || after == "notin")) {
      lexer.next(after);
      req.op = after == "in" ? SelectorOperator::kIn : SelectorOperator::kNotIn;
      if (lexer.next(ident) != Token::kOpen) return fail("expected '(' after " + after);
      bool expect_value = true;
      while (true) {
        std::string value;
        Token v = lexer.next(value);
        if (v == Token::kClose) {
          if (expect_value && !req.values.empty()) req.values.emplace_back();
          break;
        }
        if (v == Token::kComma) {
          if (expect_value) req.values.emplace_back();
          expect_value = true;
          continue;
        }
        if (v != Token::kIdentifier || !expect_value) {
          return fail("expected a value, ',' or ')' in the set of " + after + ", found " +
                      std::string(token_name(v)));
        }
        req.values.push_back(value);
        expect_value = false;
      }
      if (req.values.empty()) return fail("the set of values for " + after + " must not be empty");
    } else {
      return fail("expected =, ==, !=, in or notin after key \"" + req.key + "\", found " +
                  (op == Token::kIdentifier ? "\"" + after + "\"" : std::string(token_name(op))));
    }

    for (const auto& v : req.values) {
      if (auto problems = check_label_value(v); !problems.empty()) {
        return fail("value \"" + v + "\": " + join(problems));
      }
    }
    normalise(req.values);
    selector.requirements_.push_back(std::move(req));

    Token sep = lexer.next(ident);
    if (sep == Token::kEnd) break;
    if (sep != Token::kComma) {
      return fail("expected ',' between requirements, found " + std::string(token_name(sep)));
    }
  }
  return selector;
}

FieldErrors validate_label_selector(const LabelSelector& selector, const FieldPath& path) {
  FieldErrors errors;
  auto add = [&](FieldErrorType type, const FieldPath& p, std::string message) {
    errors.push_back({type, p.str(), std::move(message)});
  };
  FieldPath labels_path = path.child("matchLabels");
  for (const auto& [key, value] : selector.match_labels) {
    if (auto problems = check_qualified_name(key); !problems.empty())
      add(FieldErrorType::kInvalid, labels_path, "invalid key \"" + key + "\": " + join(problems));
    if (auto problems = check_label_value(value); !problems.empty())
      add(FieldErrorType::kInvalid, labels_path.key(key),
          "invalid value \"" + value + "\": " + join(problems));
  }
  FieldPath exprs_path = path.child("matchExpressions");
  for (size_t i = 0; i < selector.match_expressions.size(); ++i) {
    const auto& req = selector.match_expressions[i];
    FieldPath p = exprs_path.index(i);
    if (req.key.empty()) {
      add(FieldErrorType::kRequired, p.child("key"), "required");
    } else if (auto problems = check_qualified_name(req.key); !problems.empty()) {
      add(FieldErrorType::kInvalid, p.child("key"),
          "invalid value \"" + req.key + "\": " + join(problems));
    }
    if (!req.op) {
      add(FieldErrorType::kRequired, p.child("operator"), "required");
      continue;
    }
    bool set_operator = *req.op == SelectorOperator::kIn || *req.op == SelectorOperator::kNotIn;
    if (set_operator && req.values.empty()) {
      add(FieldErrorType::kRequired, p.child("values"),
          "must be specified when `operator` is 'In' or 'NotIn'");
    }
    if (!set_operator && !req.values.empty()) {
      add(FieldErrorType::kForbidden, p.child("values"),
          "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    }
    for (size_t j = 0; j < req.values.size(); ++j) {
      if (auto problems = check_label_value(req.values[j]); !problems.empty())
        add(FieldErrorType::kInvalid, p.child("values").index(j),
            "invalid value \"" + req.values[j] + "\": " + join(problems));
    }
  }
  return errors;
}

Result<Selector> Selector::from(const LabelSelector& wire, const FieldPath& path) {
  if (auto errors = validate_label_selector(wire, path); !errors.empty()) {
    return Status(StatusCode::kInvalid, join_field_errors(errors), errors);
  }
  Selector selector;
  for (const auto& [key, value] : wire.match_labels) {
    selector.requirements_.push_back({key, SelectorOperator::kIn, {value}});
  }
  for (const auto& req : wire.match_expressions) {
    Requirement r{req.key, *req.op, req.values};
    normalise(r.values);
    selector.requirements_.push_back(std::move(r));
  }
  return selector;
}

bool Selector::matches(const Labels& labels) const {
  for (const auto& req : requirements_) {
    auto it = labels.find(req.key);
    bool present = it != labels.end();
    bool in_set = present && std::binary_search(req.values.begin(), req.values.end(), it->second);
    switch (req.op) {
      case SelectorOperator::kIn:
        if (!in_set) return false;
        break;
      case SelectorOperator::kNotIn:
        if (in_set) return false;  // absent keys satisfy NotIn, as in Kubernetes
        break;
      case SelectorOperator::kExists:
        if (!present) return false;
        break;
      case SelectorOperator::kDoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

std::string Selector::to_string() const {
  std::string out;
  for (const auto& req : requirements_) {
    if (!out.empty()) out += ',';
    auto set = [&](std::string_view keyword) {
      out += req.key;
      out += ' ';
      out += keyword;
      out += " (";
      for (size_t i = 0; i < req.values.size(); ++i) {
        if (i) out += ',';
        out += req.values[i];
      }
      out += ')';
    };
    switch (req.op) {
      case SelectorOperator::kIn:
        if (req.values.size() == 1) {
          out += req.key + "=" + req.values[0];
        } else {
          set("in");
        }
        break;
      case SelectorOperator::kNotIn:
        if (req.values.size() == 1) {
          out += req.key + "!=" + req.values[0];
        } else {
          set("notin");
        }
        break;
      case SelectorOperator::kExists:
        out += req.key;
        break;
      case SelectorOperator::kDoesNotExist:
        out += "!" + req.key;
        break;
    }
  }
  return out;
}

}  // namespace solti
