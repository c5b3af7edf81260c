// Durable creates/s through HTTP: soltid's Task creates and etcd's JSON
// gateway puts (/v3/kv/put), side by side, with this one load generator
// (C keep-alive connections on one epoll thread, each sending its next
// request as soon as the last is answered), 1 KiB bodies, for S seconds.
// Both servers fsync every acknowledged write (their defaults).
//
//   create_bench --soltid build/cmd/soltid [--etcd /usr/bin/etcd] [--clients 32,128]
//                [--seconds 5] [--value-bytes 1024]
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <sstream>

#include "bench/bench_util.h"
#include "tests/raw_socket.h"

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

// One keep-alive connection of the load generator: the request it is
// sending, the response it is reading.
struct Connection {
  int sock = -1;
  size_t client = 0;
  size_t sent_requests = 0;
  std::string out;  // the request in flight
  size_t out_done = 0;
  std::string in;  // what has come of its response
  Clock::time_point sent_at;
};

// A non-blocking keep-alive connection to 127.0.0.1:`port`.
int connect_to(int port) {
  const int sock = solti::testing::connect_to(port);
  if (sock < 0) {
    std::perror("connect");
    std::exit(1);
  }
  const int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(sock, F_SETFL, O_NONBLOCK);
  return sock;
}

// Case-insensitive search for a header line's value in a response head.
std::string_view header_value(std::string_view head, std::string_view name) {
  for (size_t at = head.find("\r\n"); at != std::string_view::npos;
       at = head.find("\r\n", at + 2)) {
    const std::string_view line = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view value = line.substr(name.size() + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value;
    }
  }
  return {};
}

// Whether `in` holds a whole response; if so, its status and whether the
// server closes the connection after it. Content-Length and chunked
// bodies.
bool whole_response(const std::string& in, int& status, bool& closes) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  const std::string_view head(in.data(), head_end + 2);
  size_t end = head_end + 4;
  if (header_value(head, "Transfer-Encoding") == "chunked") {
    for (;;) {
      const size_t line_end = in.find("\r\n", end);
      if (line_end == std::string::npos) return false;
      const size_t size = std::strtoul(in.c_str() + end, nullptr, 16);
      end = line_end + 2 + size + 2;
      if (end > in.size()) return false;
      if (size == 0) break;
    }
  } else {
    end += std::strtoul(std::string(header_value(head, "Content-Length")).c_str(), nullptr, 10);
    if (end > in.size()) return false;
  }
  status = std::atoi(in.c_str() + 9);  // "HTTP/1.1 201 ..."
  closes = header_value(head, "Connection") == "close";
  return true;
}

// `clients` keep-alive connections, each sending its next request as soon
// as the last is answered, for `seconds`; requests in flight at the end
// are waited for. One thread and epoll: the generator costs a send and a
// receive per request and little else, so that on a 2-core machine the
// servers, not the generator, have the CPU.
Outcome run(const Load& load, size_t clients, double seconds) {
  const std::string head = "POST " + load.path +
                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Content-Length: ";
  const int epoll = ::epoll_create1(0);
  std::vector<Connection> connections(clients);
  auto watch = [&](Connection& c, uint32_t events, int op) {
    epoll_event event{events, {.ptr = &c}};
    ::epoll_ctl(epoll, op, c.sock, &event);
  };
  auto send_some = [&](Connection& c) {
    const ssize_t n =
        ::send(c.sock, c.out.data() + c.out_done, c.out.size() - c.out_done, MSG_NOSIGNAL);
    if (n > 0) c.out_done += size_t(n);
    if (n < 0 && errno != EAGAIN) {
      std::perror("send");
      std::exit(1);
    }
    if (c.out_done < c.out.size()) watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
  };
  auto send_next = [&](Connection& c) {
    const std::string body = load.body(c.client, c.sent_requests++);
    c.out = head + std::to_string(body.size()) + "\r\n\r\n" + body;
    c.out_done = 0;
    c.in.clear();
    c.sent_at = Clock::now();
    send_some(c);
  };
  for (size_t i = 0; i < clients; ++i) {
    connections[i].client = i;
    connections[i].sock = connect_to(load.port);
    watch(connections[i], EPOLLIN, EPOLL_CTL_ADD);
  }

  Outcome outcome;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (auto& c : connections) send_next(c);
  size_t in_flight = clients;
  std::array<epoll_event, 256> ready;
  char buffer[64 * 1024];
  while (in_flight > 0) {
    const int n = ::epoll_wait(epoll, ready.data(), int(ready.size()), 1000);
    for (int e = 0; e < n; ++e) {
      Connection& c = *static_cast<Connection*>(ready[e].data.ptr);
      if (ready[e].events & EPOLLOUT) {
        watch(c, EPOLLIN, EPOLL_CTL_MOD);
        send_some(c);
      }
      if (!(ready[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      const ssize_t got = ::recv(c.sock, buffer, sizeof buffer, 0);
      if (got < 0 && errno == EAGAIN) continue;
      int status = 0;
      bool closes = true;
      if (got > 0) {
        c.in.append(buffer, size_t(got));
        if (!whole_response(c.in, status, closes)) continue;
      }
      if (status >= 200 && status < 300) {
        ++outcome.ok;
        outcome.latency_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - c.sent_at).count());
      } else {
        ++outcome.failed;
      }
      if (closes) {  // the server's keep-alive limit, or a failed connection
        ::close(c.sock);
        c.sock = connect_to(load.port);
        watch(c, EPOLLIN, EPOLL_CTL_ADD);
      }
      if (Clock::now() < deadline) {
        send_next(c);
      } else {
        --in_flight;
      }
    }
  }
  outcome.seconds = bench::seconds_since(start);
  for (auto& c : connections) ::close(c.sock);
  ::close(epoll);
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
