#include "reconciler/runners/container_runner.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reconciler/runners/process_attempt.h"
#include "reconciler/runners/subprocess_runner.h"

namespace solti::runners {
namespace {

namespace asio = boost::asio;

// After SIGKILL was asked of podman, how long the client may take to notice
// before it is killed itself (the container then goes with podman rm).
constexpr std::chrono::seconds kClientGrace{10};

std::string limit_text(rlim_t value) {
  return value == RLIM_INFINITY ? "-1" : std::to_string(value);
}

std::string ulimit(const std::string& name, const rlimit& limit) {
  return name + "=" + limit_text(limit.rlim_cur) + ":" + limit_text(limit.rlim_max);
}

// cpu in cores with up to three decimals, as --cpus takes it.
std::string cores(int64_t millicores) {
  std::ostringstream out;
  out << millicores / 1000;
  if (millicores % 1000 != 0) {
    std::string fraction = std::to_string(1000 + millicores % 1000).substr(1);
    while (fraction.back() == '0') fraction.pop_back();
    out << "." << fraction;
  }
  return out.str();
}

// The last line of `text`.
std::string last_line(const std::string& text) {
  const size_t newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

class ContainerAttempt final : public ProcessAttempt {
 public:
  ContainerAttempt(asio::io_context& loop, AttemptRequest request,
                   std::function<void(AttemptResult)> done, const ContainerHost& host,
                   std::string name, const std::string& instance_id)
      : ProcessAttempt(loop, std::move(request), std::move(done), nullptr),
        host_(host),
        name_(std::move(name)),
        instance_id_(instance_id),
        kill_timer_(loop),
        client_timer_(loop) {}

 private:
  Result<ProcessPlan> plan() override {
    if (!request().spec.container) return start_failure("UnsupportedKind", "not a container task");
    const ContainerSpec& spec = *request().spec.container;
    ProcessPlan plan;
    plan.what = "container";
    plan.spawn.program = host_.podman;
    plan.spawn.argv = container_run_command(host_, name_, instance_id_, request().id, spec,
                                            merge_env(spec.env, request().runner_env));
    // podman is soltid's tool: it runs with soltid's environment, plus the
    // runner's marks so that a restarted soltid finds a stray client.
    plan.spawn.env = host_environment();
    append_env(plan.spawn.env, merge_env({}, request().runner_env));
    plan.spawn.no_new_privs = false;  // the container gets no-new-privileges from podman
    return plan;
  }

  void terminate(std::chrono::milliseconds grace) override {
    podman({"kill", "--signal", "TERM", name_});
    auto self = std::static_pointer_cast<ContainerAttempt>(shared_from_this());
    kill_timer_.expires_after(grace);
    kill_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec || self->exited()) return;
      self->podman({"kill", "--signal", "KILL", self->name_});
      self->client_timer_.expires_after(kClientGrace);
      self->client_timer_.async_wait([self](const boost::system::error_code& ec) {
        if (!ec && !self->exited()) self->kill_everything();
      });
    });
  }

  // What podman knows of the container decides between "the container ran
  // and exited" and "podman could not start it" (which podman's own exit
  // codes 125-127 cannot tell from the container's), and whether the
  // kernel OOM-killed it. Then the container goes, whatever happened.
  void after_exit(AttemptResult& result, std::function<void()> then) override {
    kill_timer_.cancel();
    client_timer_.cancel();
    auto self = std::static_pointer_cast<ContainerAttempt>(shared_from_this());
    run_command_async(
        loop(),
        host_.command(
            {"inspect", "--format", "{{.State.StartedAt.IsZero}} {{.State.OOMKilled}}", name_}),
        [self, &result, then = std::move(then)](int code, std::string state) mutable {
          const bool never_started = code != 0 || state.rfind("true", 0) == 0;
          const bool stopped =
              result.outcome == Outcome::kTimedOut || result.outcome == Outcome::kCanceled;
          if (never_started && !stopped) {
            result.outcome = Outcome::kStartFailed;
            result.reason = "ContainerStartFailed";
            result.message =
                "podman could not start the container: " + last_line(self->log_tail(1024));
          } else if (state.find(" true") != std::string::npos && !stopped) {
            mark_oom_killed(result, self->request().spec, result.message);
          } else if (result.exit_code == 137 && !stopped) {
            // podman cannot always tell (cgroup v1 with cgroupfs): say what is known.
            const auto& resources = self->request().spec.container->resources;
            if (resources && resources->memory)
              result.message += " (SIGKILL; possibly by its memory limit of " +
                                resources->memory->text() + ", podman reported no OOM kill)";
          }
          run_command_async(self->loop(),
                            self->host_.command({"rm", "--force", "--time", "0", self->name_}),
                            [then = std::move(then)](int, std::string) { then(); });
        });
  }

  void podman(std::vector<std::string> args) {
    run_command_async(loop(), host_.command(std::move(args)), [](int, std::string) {});
  }

  const ContainerHost& host_;
  const std::string name_;
  const std::string& instance_id_;
  asio::steady_timer kill_timer_, client_timer_;
};

class ContainerRunner final : public Runner {
 public:
  ContainerRunner(asio::io_context& loop, ContainerHost host, std::string instance_id)
      : loop_(loop), host_(std::move(host)), instance_id_(std::move(instance_id)) {}

  std::string_view name() const override { return "container"; }
  bool supports(const TaskSpec& spec) const override { return spec.container.has_value(); }

  std::shared_ptr<Attempt> start(AttemptRequest request,
                                 std::function<void(AttemptResult)> done) override {
    std::string name = "solti-" + instance_id_ + "-" + std::to_string(::getpid()) + "-" +
                       std::to_string(++sequence_);
    auto attempt = std::make_shared<ContainerAttempt>(loop_, std::move(request), std::move(done),
                                                      host_, std::move(name), instance_id_);
    attempt->begin();
    return attempt;
  }

  size_t remove_leftovers() override {
    std::string ids;
    if (run_command(
            host_.command({"ps", "--all", "--quiet", "--filter",
                           "label=" + std::string(kContainerInstanceLabel) + "=" + instance_id_}),
            &ids) != 0)
      return 0;
    std::vector<std::string> remove = host_.command({"rm", "--force", "--time", "0"});
    std::istringstream in(ids);
    size_t count = 0;
    for (std::string id; in >> id; ++count) remove.push_back(id);
    if (count > 0) run_command(remove);
    return count;
  }

 private:
  asio::io_context& loop_;
  const ContainerHost host_;
  const std::string instance_id_;
  std::atomic<uint64_t> sequence_{0};
};

}  // namespace

std::vector<std::string> ContainerHost::command(std::vector<std::string> args) const {
  std::vector<std::string> argv = {podman};
  argv.insert(argv.end(), global_flags.begin(), global_flags.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string ContainerHost::describe() const {
  std::string text = podman + " --runtime " + runtime;
  for (const auto& flag : global_flags) text += " " + flag;
  return text + " --ulimit " + ulimit("nofile", nofile) + " --ulimit " + ulimit("nproc", nproc);
}

Result<ContainerHost> detect_container_host() {
  ContainerHost host;
  host.podman = find_host_executable("podman");
  if (host.podman.empty()) return Status(StatusCode::kNotFound, "podman is not installed");
  std::string text;
  if (run_command({host.podman, "info", "--format", "json"}, &text) != 0)
    return Status(StatusCode::kUnavailable, "podman info failed");
  nlohmann::json info = nlohmann::json::parse(text, nullptr, false);
  if (!info.is_object() || !info.contains("host"))
    return Status(StatusCode::kUnavailable, "podman info said no host");
  const nlohmann::json& about = info["host"];

  // The configured OCI runtime when it is installed, else one that is.
  const std::string configured = about.value("/ociRuntime/path"_json_pointer, std::string());
  if (!configured.empty() && !find_host_executable(configured).empty()) {
    host.runtime = configured;
  } else {
    for (const char* candidate : {"crun", "runc"}) {
      if (std::string found = find_host_executable(candidate); !found.empty()) {
        host.runtime = found;
        break;
      }
    }
  }
  if (host.runtime.empty()) return Status(StatusCode::kNotFound, "no OCI runtime (crun, runc)");
  // Without systemd, podman's systemd defaults fail at the first container.
  const bool systemd = std::filesystem::exists("/run/systemd/system");
  if (about.value("cgroupManager", "") == "systemd" && !systemd)
    host.global_flags.push_back("--cgroup-manager=cgroupfs");
  if (about.value("eventLogger", "") == "journald" && !systemd)
    host.global_flags.push_back("--events-backend=file");
  ::getrlimit(RLIMIT_NOFILE, &host.nofile);
  // podman lowers its own process limit to kernel.pid_max, and a container's
  // init cannot raise it past its parents'.
  ::getrlimit(RLIMIT_NPROC, &host.nproc);
  rlim_t pid_max = 0;
  if (std::ifstream in("/proc/sys/kernel/pid_max"); in >> pid_max && pid_max > 0) {
    host.nproc.rlim_cur = std::min(host.nproc.rlim_cur, pid_max);
    host.nproc.rlim_max = std::min(host.nproc.rlim_max, pid_max);
  }
  return host;
}

std::vector<std::string> container_run_command(const ContainerHost& host, const std::string& name,
                                               const std::string& instance_id,
                                               const std::string& attempt_id,
                                               const ContainerSpec& spec,
                                               const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = host.command({});
  rlimit nofile = host.nofile;
  std::vector<std::string> resource_flags;
  if (const auto& r = spec.resources) {
    if (r->memory) {
      const std::string bytes = std::to_string(r->memory->value_ceil());
      resource_flags.insert(resource_flags.end(), {"--memory", bytes, "--memory-swap", bytes});
    }
    if (r->pids)
      resource_flags.insert(resource_flags.end(), {"--pids-limit", std::to_string(*r->pids)});
    if (r->cpu)
      resource_flags.insert(resource_flags.end(), {"--cpus", cores(r->cpu->milli_value_ceil())});
    if (r->open_files) {
      const rlim_t wanted = std::min<rlim_t>(rlim_t(*r->open_files), nofile.rlim_max);
      nofile = rlimit{wanted, wanted};
    }
    if (r->file_size) {
      const std::string bytes = std::to_string(r->file_size->value_ceil());
      resource_flags.insert(resource_flags.end(), {"--ulimit", "fsize=" + bytes + ":" + bytes});
    }
  }
  argv.insert(argv.end(), {"run",
                           "--name",
                           name,
                           "--pull",
                           "never",
                           "--network",
                           "none",
                           "--runtime",
                           host.runtime,
                           "--security-opt",
                           "no-new-privileges",
                           "--label",
                           std::string(kContainerInstanceLabel) + "=" + instance_id,
                           "--label",
                           "io.solti.attempt=" + attempt_id,
                           "--ulimit",
                           ulimit("nofile", nofile),
                           "--ulimit",
                           ulimit("nproc", host.nproc),
                           "--ulimit",
                           "core=0:0"});
  argv.insert(argv.end(), resource_flags.begin(), resource_flags.end());
  for (const auto& [key, value] : env) argv.insert(argv.end(), {"--env", key + "=" + value});
  if (!spec.command.empty())
    argv.insert(argv.end(), {"--entrypoint", nlohmann::json(spec.command).dump()});
  argv.push_back(spec.image);
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  return argv;
}

std::unique_ptr<Runner> make_container_runner(asio::io_context& loop, ContainerHost host,
                                              std::string instance_id) {
  return std::make_unique<ContainerRunner>(loop, std::move(host), std::move(instance_id));
}

}  // namespace solti::runners
