// On-disk encodings of the RocksDB store (internal to store/).
//
// objects:  key -> ObjectRecord   [u8 format][u64 create_rev][u64 mod_rev]
//                                 [i64 create_time_ms][u32 uid_len][uid][json]
// revlog:   be64(revision) -> EventRecord
//                                 [u8 format][u8 type][i64 time_ms]
//                                 [u32 key_len][key][u32 value_len][value]
//                                 [u32 prev_len][prev]   (prev_len 0 = none)
// default:  "revision" -> be64, "compacted" -> be64
//
// Big-endian revision keys sort numerically under RocksDB's bytewise order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace solti::store {

struct ObjectRecord {
  uint64_t create_revision = 0;
  uint64_t mod_revision = 0;
  int64_t create_time_ms = 0;
  std::string uid;
  std::string json;
};

struct EventRecord {
  EventType type = EventType::kAdded;
  int64_t time_ms = 0;
  std::string key;
  std::string value;
  std::optional<std::string> prev_value;
};

std::string encode_object_record(const ObjectRecord& record);
std::optional<ObjectRecord> decode_object_record(std::string_view bytes);

std::string encode_event_record(const EventRecord& record);
std::optional<EventRecord> decode_event_record(std::string_view bytes);
// Only the time of an event record, without copying the rest.
std::optional<int64_t> event_record_time(std::string_view bytes);

std::string encode_revision_key(uint64_t revision);
std::optional<uint64_t> decode_revision_key(std::string_view bytes);

}  // namespace solti::store
