// What the bench programs share: a soltid (or any server) started as a
// child on a free port with a temp data dir, /proc readings, percentiles
// and a Markdown table printer. Benchmarks only; not thread-safe except
// where noted.
#pragma once

#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A soltid child process. start() waits for its "ready on" line.
class Soltid {
 public:
  Soltid(std::string binary, std::vector<std::string> flags, std::string dir = "")
      : binary_(std::move(binary)), flags_(std::move(flags)), dir_(std::move(dir)) {
    if (dir_.empty()) {
      std::string pattern =
          (std::filesystem::temp_directory_path() / "solti-bench-XXXXXX").string();
      dir_ = mkdtemp(pattern.data());
      owns_dir_ = true;
    }
  }
  ~Soltid() {
    stop();
    if (owns_dir_) std::filesystem::remove_all(dir_);
  }

  // Starts it (again, on the same data dir); returns the seconds until ready.
  double start() {
    int out[2];
    if (pipe(out) != 0) std::exit(1);
    const auto begin = Clock::now();
    pid_ = fork();
    if (pid_ == 0) {
      // A bench that dies (a timeout, ^C) takes its soltid along rather
      // than leaving it to load the machine under the next measurement.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      dup2(out[1], 1);
      std::vector<std::string> args = {binary_, "--data-dir", dir_ + "/data", "--listen",
                                       "127.0.0.1:" + std::to_string(port_)};
      args.insert(args.end(), flags_.begin(), flags_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary_.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1) {
      if (c != '\n') {
        line += c;
        continue;
      }
      if (line.find("ready on") != std::string::npos) break;
      line.clear();
    }
    const double ready = seconds_since(begin);
    std::smatch m;
    if (!std::regex_search(line, m, std::regex(R"(127\.0\.0\.1:(\d+))"))) {
      std::fprintf(stderr, "soltid did not start: %s\n", line.c_str());
      std::exit(1);
    }
    port_ = std::stoi(m[1]);
    // Keep reading its output so that it never blocks on a full pipe.
    std::thread([fd = out[0]] {
      char buffer[4096];
      while (read(fd, buffer, sizeof buffer) > 0) {
      }
      close(fd);
    }).detach();
    return ready;
  }

  void stop(int signal = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string binary_;
  std::vector<std::string> flags_;
  std::string dir_;
  bool owns_dir_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Creates `count` objects through POST `path` from `clients` kept-alive
// connections, the i-th with body(i); returns how many failed.
inline size_t create_all(int port, const std::string& path, size_t count, size_t clients,
                         const std::function<std::string(size_t)>& body) {
  std::atomic<size_t> next{0}, failed{0};
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      for (size_t i; (i = next++) < count;) {
        auto r = client.Post(path, body(i), "application/json");
        if (!r || r->status != 201) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed;
}

// A field of /proc/PID/status ("VmRSS", "Threads"), as written there.
inline std::string proc_status(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      line = line.substr(field.size() + 1);
      line.erase(0, line.find_first_not_of(" \t"));
      return line;
    }
  }
  return "?";
}

inline double rss_mb(pid_t pid) {
  return std::stod("0" + proc_status(pid, "VmRSS")) / 1024.0;  // "123456 kB"
}

// soltid's own account of the store's memory (the solti_store_memory_bytes
// gauges), for telling a filling cache from a leak.
inline std::string store_memory(int port) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return "store memory unknown";
  std::string out;
  std::istringstream lines(res->body);
  const std::string prefix = "solti_store_memory_bytes{part=\"";
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    const size_t quote = line.find('"', prefix.size());
    if (quote == std::string::npos) continue;
    char part[96];
    std::snprintf(part, sizeof part, "%s%s %.1f", out.empty() ? "" : ", ",
                  line.substr(prefix.size(), quote - prefix.size()).c_str(),
                  std::stod(line.substr(line.rfind(' ') + 1)) / 1e6);
    out += part;
  }
  return "store MB: " + out;
}

// The p-quantile (0..1) by nearest rank; sorts `v`.
inline double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[size_t(p * double(v.size() - 1) + 0.5)];
}

// A Markdown table: header(), then row() for each line.
inline void table_header(const std::vector<std::string>& columns) {
  std::string line = "|", rule = "|";
  for (size_t i = 0; i < columns.size(); ++i) {
    line += " " + columns[i] + " |";
    rule += i == 0 ? "---|" : "---:|";
  }
  std::printf("%s\n%s\n", line.c_str(), rule.c_str());
}

inline void table_row(const std::vector<std::string>& cells) {
  std::string line = "|";
  for (const auto& cell : cells) line += " " + cell + " |";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

inline std::string fixed(double value, int decimals = 1) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

}  // namespace bench
