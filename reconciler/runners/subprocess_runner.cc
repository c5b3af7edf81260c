#include "reconciler/runners/subprocess_runner.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "reconciler/runners/process_attempt.h"

namespace solti::runners {
namespace {

namespace asio = boost::asio;

std::string_view interpreter(ScriptRuntime runtime) {
  switch (runtime) {
    case ScriptRuntime::kBash:
      return "bash";
    case ScriptRuntime::kSh:
      return "sh";
    case ScriptRuntime::kPython:
      return "python3";
    case ScriptRuntime::kNode:
      return "node";
  }
  return "sh";
}

// SIGKILLs the process group of every process whose environment carries
// this instance's kInstanceEnv pair; returns how many groups it killed.
size_t kill_orphaned_attempts(std::string_view instance_id) {
  const std::string marker = std::string(kInstanceEnv) + "=" + std::string(instance_id);
  std::set<pid_t> groups;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);  // fails for others' processes
    std::string environ((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (start < environ.size()) {
      size_t end = environ.find('\0', start);
      if (end == std::string::npos) end = environ.size();
      if (std::string_view(environ).substr(start, end - start) == marker) {
        const pid_t group = ::getpgid(std::stoi(name));
        if (group > 0 && group != ::getpgrp()) groups.insert(group);
        break;
      }
      start = end + 1;
    }
  }
  for (pid_t group : groups) ::killpg(group, SIGKILL);
  return groups.size();
}

rlimit clamped(int resource, rlim_t value) {
  rlimit current{};
  ::getrlimit(static_cast<__rlimit_resource>(resource), &current);
  const rlim_t limit = std::min(value, current.rlim_max);
  return rlimit{limit, limit};
}

class SubprocessAttempt final : public ProcessAttempt {
 public:
  using ProcessAttempt::ProcessAttempt;

 private:
  Result<ProcessPlan> plan() override {
    if (!request().spec.subprocess)
      return start_failure("UnsupportedKind", "not a subprocess task");
    const SubprocessSpec& sp = *request().spec.subprocess;
    ProcessPlan plan;
    plan.fail_on_non_zero = effective_fail_on_non_zero(sp);

    std::map<std::string, std::string> env = {{"PATH", std::string(kDefaultTaskPath)}};
    for (const auto& [k, v] : merge_env(sp.env, request().runner_env)) env[k] = v;
    append_env(plan.spawn.env, env);

    if (Status s = apply_identity(sp, plan.spawn); !s.ok()) return s;
    const std::string program_name =
        sp.command ? *sp.command
                   : std::string(interpreter(sp.script->runtime.value_or(ScriptRuntime::kSh)));
    plan.spawn.program = find_executable(program_name, env["PATH"]);
    if (plan.spawn.program.empty())
      return start_failure("CommandNotFound", program_name + ": command not found");
    plan.spawn.argv.push_back(program_name);
    if (sp.script) {
      if (Status s = stage_script(*sp.script, plan); !s.ok()) return s;
    }
    plan.spawn.argv.insert(plan.spawn.argv.end(), sp.args.begin(), sp.args.end());
    if (sp.cwd) {
      struct stat st;
      if (::stat(sp.cwd->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return start_failure("InvalidCwd", "working directory " + *sp.cwd + " does not exist");
      plan.spawn.cwd = sp.cwd;
    }
    apply_resources(sp.resources, plan);
    return plan;
  }

  // runAsUser/runAsGroup: a user without a group runs with its passwd
  // entry's primary group (or the group of the same number).
  static Status apply_identity(const SubprocessSpec& sp, SpawnRequest& spawn) {
    if (!sp.run_as_user && !sp.run_as_group) return Status::Ok();
    if (::geteuid() != 0)
      return start_failure("PermissionDenied",
                           "runAsUser/runAsGroup need soltid to run as root; it runs as uid " +
                               std::to_string(::geteuid()));
    if (sp.run_as_user) spawn.uid = static_cast<uid_t>(*sp.run_as_user);
    if (sp.run_as_group) {
      spawn.gid = static_cast<gid_t>(*sp.run_as_group);
    } else {
      passwd entry{}, *found = nullptr;
      std::array<char, 4096> buffer{};
      ::getpwuid_r(*spawn.uid, &entry, buffer.data(), buffer.size(), &found);
      spawn.gid = found ? found->pw_gid : static_cast<gid_t>(*spawn.uid);
    }
    return Status::Ok();
  }

  // Limits through the attempt's cgroup (there is always one where the host
  // has cgroups: it also finds processes that left the group), and rlimits.
  // Core dumps are always off: a crashing task must not fill the disk.
  static void apply_resources(const std::optional<ResourceLimits>& resources, ProcessPlan& plan) {
    CgroupLimits limits;
    plan.spawn.rlimits.push_back({RLIMIT_CORE, rlimit{0, 0}});
    if (resources) {
      if (resources->memory) limits.memory_bytes = resources->memory->value_ceil();
      if (resources->pids) limits.pids = *resources->pids;
      if (resources->cpu) limits.cpu_millicores = resources->cpu->milli_value_ceil();
      if (resources->open_files)
        plan.spawn.rlimits.push_back(
            {RLIMIT_NOFILE, clamped(RLIMIT_NOFILE, rlim_t(*resources->open_files))});
      if (resources->file_size)
        plan.spawn.rlimits.push_back(
            {RLIMIT_FSIZE, clamped(RLIMIT_FSIZE, rlim_t(resources->file_size->value_ceil()))});
    }
    plan.cgroup_limits = limits;
  }

  // The body reaches the interpreter as a file, never as an argument: a
  // sealed memfd the child reads as /dev/fd/3, or for node (which resolves
  // the script's real path, and a memfd has none) a private 0600 file,
  // owned by the task's user, removed when the attempt ends.
  static Status stage_script(const Script& script, ProcessPlan& plan) {
    const bool needs_path = script.runtime == ScriptRuntime::kNode;
    int fd = -1;
    std::string path;
    if (needs_path) {
      std::string pattern = "/tmp/solti-script-XXXXXX";
      fd = ::mkostemp(pattern.data(), O_CLOEXEC);  // mode 0600
      if (fd >= 0) path = pattern;
    } else {
      fd = ::memfd_create("solti-script", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    }
    if (!path.empty()) plan.files_to_remove.push_back(path);
    std::string_view body = script.body;
    while (fd >= 0 && !body.empty()) {
      ssize_t n = ::write(fd, body.data(), body.size());
      if (n <= 0) break;
      body.remove_prefix(size_t(n));
    }
    if (fd < 0 || !body.empty()) {
      if (fd >= 0) ::close(fd);
      return start_failure("StartFailed", "cannot stage the script body");
    }
    if (needs_path) {
      if (plan.spawn.uid && ::fchown(fd, *plan.spawn.uid, plan.spawn.gid.value_or(0)) != 0) {
        ::close(fd);
        return start_failure("StartFailed", "cannot hand the script file to the task's user");
      }
      ::close(fd);
      plan.spawn.argv.push_back(path);
      return Status::Ok();
    }
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    ::lseek(fd, 0, SEEK_SET);
    plan.spawn.fds.push_back({fd, 3});
    plan.fds_to_close.push_back(fd);
    plan.spawn.argv.push_back("/dev/fd/3");
    return Status::Ok();
  }
};

class SubprocessRunner final : public Runner {
 public:
  SubprocessRunner(asio::io_context& loop, HostRunnerOptions options)
      : loop_(loop), options_(std::move(options)) {}

  std::string_view name() const override { return "subprocess"; }
  bool supports(const TaskSpec& spec) const override { return spec.subprocess.has_value(); }

  std::shared_ptr<Attempt> start(AttemptRequest request,
                                 std::function<void(AttemptResult)> done) override {
    auto attempt = std::make_shared<SubprocessAttempt>(loop_, std::move(request), std::move(done),
                                                       options_.cgroups.get());
    attempt->begin();
    return attempt;
  }

  size_t remove_leftovers() override {
    size_t removed =
        options_.instance_id.empty() ? 0 : kill_orphaned_attempts(options_.instance_id);
    if (options_.cgroups) removed += options_.cgroups->remove_leftovers();
    return removed;
  }

 private:
  asio::io_context& loop_;
  HostRunnerOptions options_;
};

}  // namespace

std::unique_ptr<Runner> make_subprocess_runner(asio::io_context& loop, HostRunnerOptions options) {
  return std::make_unique<SubprocessRunner>(loop, std::move(options));
}

}  // namespace solti::runners
