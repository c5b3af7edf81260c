#include "store/record.h"

namespace solti::store {
namespace {

constexpr uint8_t kFormat = 1;

void put_u64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<uint32_t>(bytes.size()));
  out += bytes;
}

// Reads fixed-width fields from a byte string; any overrun makes it fail.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool u8(uint8_t& out) {
    if (rest_.empty()) return false;
    out = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return true;
  }
  bool u64(uint64_t& out) { return fixed(8, out); }
  bool u32(uint32_t& out) {
    uint64_t v;
    if (!fixed(4, v)) return false;
    out = static_cast<uint32_t>(v);
    return true;
  }
  bool bytes(std::string& out) {
    uint32_t n;
    if (!u32(n) || rest_.size() < n) return false;
    out.assign(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return true;
  }
  std::string_view rest() const { return rest_; }

 private:
  bool fixed(size_t n, uint64_t& out) {
    if (rest_.size() < n) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) out = (out << 8) | static_cast<uint8_t>(rest_[i]);
    rest_.remove_prefix(n);
    return true;
  }
  std::string_view rest_;
};

}  // namespace

std::string encode_object_record(const ObjectRecord& record) {
  std::string out;
  out.reserve(32 + record.uid.size() + record.json.size());
  out += static_cast<char>(kFormat);
  put_u64(out, record.create_revision);
  put_u64(out, record.mod_revision);
  put_u64(out, static_cast<uint64_t>(record.create_time_ms));
  put_bytes(out, record.uid);
  out += record.json;
  return out;
}

std::optional<ObjectRecord> decode_object_record(std::string_view bytes) {
  Reader in(bytes);
  ObjectRecord record;
  uint8_t format;
  uint64_t time;
  if (!in.u8(format) || format != kFormat || !in.u64(record.create_revision) ||
      !in.u64(record.mod_revision) || !in.u64(time) || !in.bytes(record.uid))
    return std::nullopt;
  record.create_time_ms = static_cast<int64_t>(time);
  record.json.assign(in.rest());
  return record;
}

std::string encode_event_record(const EventRecord& record) {
  std::string out;
  out.reserve(32 + record.key.size() + record.value.size() +
              (record.prev_value ? record.prev_value->size() : 0));
  out += static_cast<char>(kFormat);
  out += static_cast<char>(record.type);
  put_u64(out, static_cast<uint64_t>(record.time_ms));
  put_bytes(out, record.key);
  put_bytes(out, record.value);
  put_bytes(out, record.prev_value ? *record.prev_value : std::string_view());
  return out;
}

std::optional<EventRecord> decode_event_record(std::string_view bytes) {
  Reader in(bytes);
  EventRecord record;
  uint8_t format, type;
  uint64_t time;
  std::string prev;
  if (!in.u8(format) || format != kFormat || !in.u8(type) || type > 2 || !in.u64(time) ||
      !in.bytes(record.key) || !in.bytes(record.value) || !in.bytes(prev))
    return std::nullopt;
  record.type = static_cast<EventType>(type);
  record.time_ms = static_cast<int64_t>(time);
  if (!prev.empty()) record.prev_value = std::move(prev);
  return record;
}

std::optional<int64_t> event_record_time(std::string_view bytes) {
  Reader in(bytes);
  uint8_t format, type;
  uint64_t time;
  if (!in.u8(format) || format != kFormat || !in.u8(type) || !in.u64(time)) return std::nullopt;
  return static_cast<int64_t>(time);
}

std::string encode_revision_key(uint64_t revision) {
  std::string out;
  put_u64(out, revision);
  return out;
}

std::optional<uint64_t> decode_revision_key(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  Reader in(bytes);
  uint64_t v;
  in.u64(v);
  return v;
}

}  // namespace solti::store
