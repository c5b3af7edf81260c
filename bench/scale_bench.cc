// soltid with many stored Tasks: memory, a full paged list, and restart.
// The Tasks are created suspended (by 32 clients), so the reconciler
// holds and reconciles every one of them but runs no process.
//
//   scale_bench --soltid build/cmd/soltid [--tasks 100000] [--page 500]
#include <httplib.h>

#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "model/object_meta.h"

namespace {

using bench::Clock;

std::string suspended_task(size_t i) {
  return R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":"s-)" + std::to_string(i) +
         R"(","labels":{"bench":"scale"}},"spec":{"suspend":true,"timeout":"1m",)"
         R"("subprocess":{"command":"/bin/sh","args":["-c","echo a task of the scale bench"]}}})";
}

// Lists every Task in pages of `page`; the seconds it took and the count.
// With `decode`, each page is parsed whole (nlohmann, as a simple client
// would); without, only its metadata is, and items are counted by their
// opening bytes, which shows what the server itself takes.
std::pair<double, size_t> list_all(int port, size_t page, bool decode) {
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  client.set_read_timeout(std::chrono::seconds(120));
  const auto start = Clock::now();
  size_t count = 0;
  std::string token;
  do {
    std::string path = "/apis/solti.io/v1/namespaces/scale/tasks?limit=" + std::to_string(page);
    if (!token.empty()) path += "&continue=" + token;
    auto r = client.Get(path);
    if (!r || r->status != 200) {
      std::fprintf(stderr, "list failed: %d\n", r ? r->status : 0);
      std::exit(1);
    }
    if (decode) {
      const auto list = solti::Json::parse(r->body);
      count += list["items"].size();
      token = list["metadata"].value("continue", "");
    } else {
      const size_t items = r->body.find(",\"items\":[");
      const auto head = solti::Json::parse(r->body.substr(0, items) + "}");
      token = head["metadata"].value("continue", "");
      const std::string opening = R"({"apiVersion":"solti.io/v1","kind":"Task",)";
      for (size_t at = r->body.find(opening, items); at != std::string::npos;
           at = r->body.find(opening, at + opening.size()))
        ++count;
    }
  } while (!token.empty());
  return {bench::seconds_since(start), count};
}

// The store's revision, from a one-item list.
std::string revision(int port) {
  httplib::Client client("127.0.0.1", port);
  auto r = client.Get("/apis/solti.io/v1/namespaces/scale/tasks?limit=1");
  return r ? solti::Json::parse(r->body)["metadata"].value("resourceVersion", "") : "";
}

// Waits until nothing has been written for a second (the reconciler has
// recorded every suspended Task).
void wait_until_quiet(int port) {
  std::string last;
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const std::string now = revision(port);
    if (now == last) return;
    last = now;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"scale_bench: soltid with many stored Tasks"};
  std::string soltid_path;
  size_t tasks = 100000, page = 500;
  std::vector<std::string> soltid_flags;
  app.add_option("--soltid", soltid_path, "Path of the soltid binary")->required();
  app.add_option("--tasks", tasks, "Tasks to store");
  app.add_option("--page", page, "Page size (limit) of the full list");
  app.add_option("--soltid-flag", soltid_flags, "Extra soltid flag (repeatable)");
  CLI11_PARSE(app, argc, argv);

  bench::Soltid soltid(soltid_path, soltid_flags);
  const double first_ready = soltid.start();
  const double idle_rss = bench::rss_mb(soltid.pid());
  const auto start = Clock::now();
  const size_t failed = bench::create_all(soltid.port(), "/apis/solti.io/v1/namespaces/scale/tasks",
                                          tasks, 32, suspended_task);
  const double create_seconds = bench::seconds_since(start);
  wait_until_quiet(soltid.port());
  const double loaded_rss = bench::rss_mb(soltid.pid());
  const auto [list_seconds, listed] = list_all(soltid.port(), page, false);
  const auto [decoded_seconds, decoded] = list_all(soltid.port(), page, true);
  // jemalloc hands freed pages back after a decay of about ten seconds, so
  // RSS right after the load still counts what the load freed.
  std::this_thread::sleep_for(std::chrono::seconds(20));
  const double settled_rss = bench::rss_mb(soltid.pid());
  const std::string settled_store = bench::store_memory(soltid.port());
  soltid.stop();
  const double restart_ready = soltid.start();
  // Memory once the restarted reconciler has read everything back.
  wait_until_quiet(soltid.port());
  const double restarted_rss = bench::rss_mb(soltid.pid());
  const std::string restarted_store = bench::store_memory(soltid.port());
  const auto [list_again_seconds, listed_again] = list_all(soltid.port(), page, false);
  soltid.stop();

  std::printf("%zu suspended Tasks stored, reconciler on\n\n", tasks);
  bench::table_header({"figure", "value"});
  bench::table_row({"created in s (32 clients)", bench::fixed(create_seconds, 1)});
  bench::table_row({"create errors", std::to_string(failed)});
  bench::table_row({"soltid RSS empty, MB", bench::fixed(idle_rss, 0)});
  bench::table_row({"soltid RSS with the Tasks, MB", bench::fixed(loaded_rss, 0)});
  bench::table_row({"the same after the lists and 20 s idle, MB",
                    bench::fixed(settled_rss, 0) + " (" + settled_store + ")"});
  bench::table_row({"full list, limit " + std::to_string(page) + ", s",
                    bench::fixed(list_seconds, 2) + " (" + std::to_string(listed) + " items)"});
  bench::table_row({"the same, each page decoded by the client (nlohmann), s",
                    bench::fixed(decoded_seconds, 2) + " (" + std::to_string(decoded) + " items)"});
  bench::table_row({"ready on an empty data dir, s", bench::fixed(first_ready, 2)});
  bench::table_row({"restart to ready, s", bench::fixed(restart_ready, 2)});
  bench::table_row({"soltid RSS after the restart, MB",
                    bench::fixed(restarted_rss, 0) + " (" + restarted_store + ")"});
  bench::table_row(
      {"full list after the restart, s",
       bench::fixed(list_again_seconds, 2) + " (" + std::to_string(listed_again) + " items)"});
  return 0;
}
