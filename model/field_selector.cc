#include "model/field_selector.h"

namespace solti {

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  FieldSelector selector;
  auto fail = [&](const std::string& why) {
    return Status(StatusCode::kBadRequest,
                  "invalid field selector \"" + std::string(text) + "\": " + why);
  };
  // Split on unescaped commas, unescaping as we go.
  std::vector<std::pair<std::string, std::vector<bool>>> parts(1);  // text + "was escaped" mask
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return fail("trailing '\\'");
      char n = text[++i];
      if (n != ',' && n != '=' && n != '\\' && n != '!') {
        return fail(std::string("invalid escape sequence '\\") + n + "'");
      }
      parts.back().first += n;
      parts.back().second.push_back(true);
    } else if (c == ',') {
      parts.emplace_back();
    } else {
      parts.back().first += c;
      parts.back().second.push_back(false);
    }
  }
  if (parts.size() == 1 && parts[0].first.empty()) return selector;

  for (auto& [part, escaped] : parts) {
    if (part.empty()) return fail("empty term");
    // Find the first unescaped operator: "!=", "==" or "=".
    size_t op = std::string::npos;
    for (size_t i = 0; i < part.size(); ++i) {
      if (!escaped[i] && (part[i] == '=' || (part[i] == '!' && i + 1 < part.size() &&
                                             part[i + 1] == '=' && !escaped[i + 1]))) {
        op = i;
        break;
      }
    }
    if (op == std::string::npos) {
      return fail("term \"" + part + "\" needs an operator (=, == or !=)");
    }
    Term term;
    term.field = part.substr(0, op);
    size_t value_start;
    if (part[op] == '!') {
      term.equals = false;
      value_start = op + 2;
    } else {
      value_start =
          (op + 1 < part.size() && part[op + 1] == '=' && !escaped[op + 1]) ? op + 2 : op + 1;
    }
    term.value = part.substr(value_start);
    while (!term.field.empty() && term.field.back() == ' ') term.field.pop_back();
    while (!term.field.empty() && term.field.front() == ' ') term.field.erase(0, 1);
    if (term.field.empty()) return fail("term \"" + part + "\" has no field name");
    selector.terms_.push_back(std::move(term));
  }
  return selector;
}

Status FieldSelector::check_fields(const std::vector<std::string_view>& supported) const {
  for (const auto& term : terms_) {
    bool known = false;
    for (auto s : supported) known = known || s == term.field;
    if (!known) {
      std::string list;
      for (auto s : supported) {
        if (!list.empty()) list += ", ";
        list += s;
      }
      return Status(StatusCode::kBadRequest,
                    "field label not supported: " + term.field + " (supported: " + list + ")");
    }
  }
  return Status::Ok();
}

bool FieldSelector::matches(
    const std::function<std::string(std::string_view field)>& field_value) const {
  for (const auto& term : terms_) {
    if ((field_value(term.field) == term.value) != term.equals) return false;
  }
  return true;
}

std::optional<std::string> FieldSelector::required_value(std::string_view field) const {
  for (const auto& term : terms_) {
    if (term.equals && term.field == field) return term.value;
  }
  return std::nullopt;
}

}  // namespace solti
