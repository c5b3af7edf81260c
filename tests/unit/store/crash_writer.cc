// Child process of the crash test: writes to the store from several threads
// until killed, printing one line per acknowledged write:
//   "<revision> <A|M|D> <key>\n"
// Each line is one write(2) of less than PIPE_BUF bytes, so lines never mix.
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR SEED\n", argv[0]);
    return 2;
  }
  solti::store::Options options;
  options.path = argv[1];
  options.compaction_interval = std::chrono::milliseconds(0);
  auto store = solti::store::open_rocksdb_store(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  const unsigned seed = static_cast<unsigned>(std::stoul(argv[2]));
  auto report = [](uint64_t revision, char op, const std::string& key) {
    std::string line = std::to_string(revision) + " " + op + " " + key + "\n";
    if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(seed * 31 + t);
      while (true) {
        std::string key = "/crash/things/default/k" + std::to_string(random() % 20);
        auto current = (*store)->get(key);
        if (!current.ok()) {
          auto created = (*store)->create(key, {{"metadata", {{"name", key}}}, {"n", 0}});
          if (created.ok()) report(created->mod_revision, 'A', key);
          continue;
        }
        solti::store::Preconditions pre{current->mod_revision, current->uid};
        if (random() % 5 == 0) {
          auto removed = (*store)->remove(key, pre);
          if (removed.ok()) report(removed->mod_revision, 'D', key);
        } else {
          auto updated =
              (*store)->update(key, {{"metadata", {{"name", key}}}, {"n", random()}}, pre);
          if (updated.ok()) report(updated->mod_revision, 'M', key);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}
