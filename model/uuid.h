// Random (version 4) UUIDs for metadata.uid. Thread-safe.
#pragma once

#include <string>

namespace solti {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower-case hex.
std::string new_uuid();

}  // namespace solti
