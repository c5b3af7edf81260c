// The one description of each wire type's fields.
//
// Every model struct declares, next to its definition,
//
//   SOLTI_FIELDS(TaskSpec) {
//     v("slot", s.slot, "Admission lane; defaults to metadata.name.");
//     ...
//   }
//
// which calls `v(json_name, member, description)` for each field in wire order.
// The JSON decoder, the JSON encoder and the OpenAPI schema generator are all
// visitors over this list, so a field is added in exactly one place.
// Enums declare their wire names the same way through EnumNames<E>.
#pragma once

#include <array>
#include <concepts>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#define SOLTI_FIELDS(Type)                            \
  template <class V, class S>                         \
  requires std::same_as<std::remove_const_t<S>, Type> \
  void visit_fields(V& v, S& s)

namespace solti {

// Specialise with `static constexpr std::array<std::pair<E, std::string_view>, N> values`.
template <class E>
struct EnumNames;

template <class E>
concept WireEnum = std::is_enum_v<E> && requires {
  EnumNames<E>::values;
};

template <WireEnum E>
constexpr std::string_view enum_name(E value) {
  for (const auto& [v, name] : EnumNames<E>::values) {
    if (v == value) return name;
  }
  return "";
}

template <WireEnum E>
constexpr std::optional<E> enum_from_name(std::string_view name) {
  for (const auto& [v, n] : EnumNames<E>::values) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace solti
