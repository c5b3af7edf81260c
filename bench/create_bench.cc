// Durable creates/s through HTTP: soltid's Task creates and etcd's JSON
// gateway puts (/v3/kv/put), side by side, with this one load generator
// (C keep-alive connections, one thread each, each sending its next
// request as soon as the last is answered), 1 KiB bodies, for S seconds.
// Both servers fsync every acknowledged write (their defaults).
//
//   create_bench --soltid build/cmd/soltid [--etcd /usr/bin/etcd] [--clients 32,128]
//                [--seconds 5] [--value-bytes 1024]
#include <fcntl.h>
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>

#include "bench/bench_util.h"

namespace {

using bench::Clock;

struct Load {
  std::string name;
  int port = 0;
  std::string path;
  // The body of client `client`'s `i`th request.
  std::function<std::string(size_t client, size_t i)> body;
};

struct Outcome {
  size_t ok = 0, failed = 0;
  double seconds = 0;
  std::vector<double> latency_ms;
};

Outcome run(const Load& load, size_t clients, double seconds) {
  Outcome outcome;
  std::mutex mu;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const auto deadline_after = std::chrono::duration<double>(seconds);
  Clock::time_point start, deadline;
  std::atomic<size_t> ready{0};
  for (size_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", load.port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(std::chrono::seconds(30));
      std::vector<double> latency;
      size_t ok = 0, failed = 0;
      ++ready;
      while (!go) std::this_thread::yield();
      for (size_t i = 0; Clock::now() < deadline; ++i) {
        const auto sent = Clock::now();
        auto r = client.Post(load.path, load.body(c, i), "application/json");
        if (r && r->status >= 200 && r->status < 300) {
          ++ok;
          latency.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        } else {
          ++failed;
        }
      }
      std::lock_guard lock(mu);
      outcome.ok += ok;
      outcome.failed += failed;
      outcome.latency_ms.insert(outcome.latency_ms.end(), latency.begin(), latency.end());
    });
  }
  while (ready < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(deadline_after);
  go = true;
  for (auto& t : threads) t.join();
  outcome.seconds = bench::seconds_since(start);
  return outcome;
}

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8 | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) n |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// etcd 3.4, single member, on free ports, its data in `dir`.
struct Etcd {
  pid_t pid = -1;
  int port = 0;

  void start(const std::string& binary, const std::string& dir) {
    port = 23790 + int(getpid() % 1000);
    const std::string client = "http://127.0.0.1:" + std::to_string(port);
    const std::string peer = "http://127.0.0.1:" + std::to_string(port + 1000);
    pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execl(binary.c_str(), binary.c_str(), "--data-dir", dir.c_str(), "--listen-client-urls",
            client.c_str(), "--advertise-client-urls", client.c_str(), "--listen-peer-urls",
            peer.c_str(), "--initial-advertise-peer-urls", peer.c_str(), "--initial-cluster",
            ("default=" + peer).c_str(), nullptr);
      _exit(127);
    }
    httplib::Client probe("127.0.0.1", port);
    for (int i = 0; i < 200; ++i) {
      auto r = probe.Get("/health");
      if (r && r->status == 200 && r->body.find("true") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::fprintf(stderr, "etcd did not become healthy\n");
    std::exit(1);
  }
  ~Etcd() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Prints the table row; returns the creates/s.
double report(const std::string& server, size_t clients, Outcome o) {
  const double rate = double(o.ok) / o.seconds;
  bench::table_row({server, std::to_string(clients), bench::fixed(rate, 0),
                    bench::fixed(bench::percentile(o.latency_ms, 0.5), 2),
                    bench::fixed(bench::percentile(o.latency_ms, 0.99), 2),
                    std::to_string(o.failed)});
  return rate;
}

std::vector<size_t> parse_list(const std::string& text) {
  std::vector<size_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoul(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"create_bench: durable creates/s, soltid vs etcd, through HTTP"};
  std::string soltid_path, etcd_path = "/usr/bin/etcd", clients_text = "32,128";
  double seconds = 5;
  size_t value_bytes = 1024;
  app.add_option("--soltid", soltid_path, "Path of the soltid binary")->required();
  app.add_option("--etcd", etcd_path, "Path of etcd (3.4); empty: soltid only");
  app.add_option("--clients", clients_text, "Concurrent keep-alive clients, comma-separated");
  app.add_option("--seconds", seconds, "Seconds per measurement");
  app.add_option("--value-bytes", value_bytes, "Bytes per request body");
  CLI11_PARSE(app, argc, argv);

  const std::string filler(value_bytes, 'x');
  std::printf("durable creates through HTTP, %zu-byte bodies, %.0f s each, fsync on\n\n",
              value_bytes, seconds);
  bench::table_header({"server", "clients", "creates/s", "p50 ms", "p99 ms", "errors"});
  std::map<size_t, double> soltid_rate, etcd_rate;  // by clients
  for (size_t clients : parse_list(clients_text)) {
    {
      bench::Soltid soltid(soltid_path,
                           {"--no-reconciler", "--max-connections", std::to_string(clients + 64)});
      soltid.start();
      // A Task whose JSON body is about value_bytes long: the filler is an
      // annotation.
      const std::string head = R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":")";
      const std::string tail_template =
          R"(","annotations":{"bench/filler":"FILL"}},"spec":{"timeout":"5s","subprocess":{"command":"/bin/true"}}})";
      const size_t overhead = head.size() + tail_template.size() - 4 + 12;
      const std::string fill(value_bytes > overhead ? value_bytes - overhead : 1, 'x');
      std::string tail = tail_template;
      tail.replace(tail.find("FILL"), 4, fill);
      Load load{"soltid", soltid.port(), "/apis/solti.io/v1/namespaces/default/tasks",
                [&](size_t c, size_t i) {
                  return head + "c" + std::to_string(c) + "-" + std::to_string(i) + tail;
                }};
      soltid_rate[clients] = report("soltid", clients, run(load, clients, seconds));
    }
    if (!etcd_path.empty()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "etcd-bench-XXXXXX").string();
      const std::string dir = mkdtemp(pattern.data());
      {
        Etcd etcd;
        etcd.start(etcd_path, dir + "/data");
        const std::string value = base64(filler);
        Load load{"etcd", etcd.port, "/v3/kv/put", [&](size_t c, size_t i) {
                    return R"({"key":")" +
                           base64("/tasks/c" + std::to_string(c) + "-" + std::to_string(i)) +
                           R"(","value":")" + value + R"("})";
                  }};
        etcd_rate[clients] = report("etcd 3.4", clients, run(load, clients, seconds));
      }
      std::filesystem::remove_all(dir);
    }
  }
  std::printf("\n");
  for (const auto& [clients, theirs] : etcd_rate)
    std::printf("%zu clients: soltid / etcd = %.2fx\n", clients, soltid_rate[clients] / theirs);
  return 0;
}
