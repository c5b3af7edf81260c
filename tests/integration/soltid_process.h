// Runs the real soltid binary for integration tests: a temp data dir, any
// free port on 127.0.0.1, and start/stop/kill -9/restart on the same data.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "model/object_meta.h"

namespace solti::testing {

// A bound on soltid's memory growth in KiB, given as it holds for a plain
// build: sanitizers keep shadow memory, and ASan a quarantine of up to
// 256 MB of freed memory, so the same test allows more under them.
constexpr long memory_bound_kib(long plain_kib) {
#if defined(__SANITIZE_THREAD__)
  return plain_kib * 8;
#elif defined(__SANITIZE_ADDRESS__)
  return plain_kib * 4;
#else
  return plain_kib;
#endif
}

struct Reply {
  int status = 0;
  Json body;  // discarded (is_discarded()) when the body is not JSON
  httplib::Headers headers;
  std::string text;
};

// One HTTP request; a failure to get any response is a test failure.
inline Reply call(httplib::Client& client, const std::string& method, const std::string& path,
                  const std::string& body = "",
                  const std::string& content_type = "application/json",
                  httplib::Headers headers = {}) {
  auto send = [&]() -> httplib::Result {
    if (method == "POST") return client.Post(path, headers, body, content_type);
    if (method == "PUT") return client.Put(path, headers, body, content_type);
    if (method == "PATCH") return client.Patch(path, headers, body, content_type);
    if (method == "DELETE") return client.Delete(path, headers, body, content_type);
    return client.Get(path, headers);
  };
  httplib::Result r = send();
  Reply reply;
  if (!r) {
    ADD_FAILURE() << method << " " << path << ": no response (" << httplib::to_string(r.error())
                  << ")";
    return reply;
  }
  reply.status = r->status;
  reply.text = r->body;
  reply.headers = r->headers;
  reply.body = Json::parse(r->body, nullptr, false);
  return reply;
}

class SoltidProcess {
 public:
  explicit SoltidProcess(std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)) {
    std::string pattern = (std::filesystem::temp_directory_path() / "soltid-test-XXXXXX").string();
    data_dir_ = mkdtemp(pattern.data());
  }
  // A graceful stop first: a soltid killed with -9 leaves its attempt
  // cgroups behind for the next start on the same data dir, and a test's
  // data dir has no next start.
  ~SoltidProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      pid_t reaped = 0;
      while ((reaped = waitpid(pid_, nullptr, WNOHANG)) == 0 &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (reaped == 0) kill9();
    }
    std::filesystem::remove_all(data_dir_);
  }

  void start() {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      // A test that aborts takes its soltid along: left behind, it held
      // ctest's output pipe open and ctest waited for it forever.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      std::vector<std::string> args = {SOLTI_SOLTID, "--data-dir", data_dir_, "--listen",
                                       "127.0.0.1:0"};
      args.insert(args.end(), extra_args_.begin(), extra_args_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(ready on http://127\.0\.0\.1:(\d+))")))
        << "soltid did not get ready: \"" << line << "\"";
    port_ = std::stoi(m[1]);
  }

  pid_t pid() const { return pid_; }

  // SIGTERM: graceful stop; soltid must exit 0.
  void stop() {
    ASSERT_GT(pid_, 0);
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
  }

  void kill9() {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }

  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(std::chrono::seconds(20));
    c->set_url_encode(false);  // tests send paths already encoded, as kubectl does
    return c;
  }

 private:
  std::vector<std::string> extra_args_;
  std::string data_dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace solti::testing
