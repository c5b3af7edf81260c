#include "reconciler/runners/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace solti::runners {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kControllers = {"pids", "memory", "cpu"};

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Status write_file(const fs::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status(StatusCode::kInternal, path.string() + ": " + std::strerror(errno));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int write_errno = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    return Status(StatusCode::kInternal,
                  "writing " + text + " to " + path.string() + ": " + std::strerror(write_errno));
  return Status::Ok();
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

// The counter `key` in a flat-keyed file such as memory.events.
int64_t counter(const fs::path& file, const std::string& key) {
  std::istringstream in(read_file(file));
  for (std::string name; in >> name;) {
    int64_t value = 0;
    if (!(in >> value)) break;
    if (name == key) return value;
  }
  return 0;
}

struct Mount {
  fs::path root;         // the part of the hierarchy mounted
  fs::path mount_point;  // where
};

// The directory of `own` (a path in the hierarchy) under `mount`.
fs::path own_dir(const Mount& mount, const std::string& own) {
  std::string relative = own;
  const std::string root = mount.root.string();
  if (root != "/" && relative.rfind(root, 0) == 0) relative = relative.substr(root.size());
  while (!relative.empty() && relative.front() == '/') relative.erase(0, 1);
  return mount.mount_point / relative;
}

// On v2 a cgroup that hands controllers to children may hold no processes
// (unless it is the root): if enabling fails for that reason, soltid moves
// into a leaf of its own first.
bool enable_v2_controllers(const fs::path& own, const std::string& enable) {
  if (write_file(own / "cgroup.subtree_control", enable).ok()) return true;
  std::error_code ec;
  fs::create_directory(own / "soltid", ec);
  if (!write_file(own / "soltid" / "cgroup.procs", std::to_string(::getpid())).ok()) return false;
  return write_file(own / "cgroup.subtree_control", enable).ok();
}

}  // namespace

CgroupHost CgroupHost::detect(const std::string& self_cgroup, const std::string& mountinfo,
                              const std::string& instance_id) {
  std::map<std::string, Mount> v1_mounts;  // controller → mount
  std::optional<Mount> v2_mount;
  for (const std::string& line : split(mountinfo, '\n')) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const std::vector<std::string> before = split(line.substr(0, dash), ' ');
    const std::vector<std::string> after = split(line.substr(dash + 3), ' ');
    if (before.size() < 5 || after.size() < 3) continue;
    const Mount mount{before[3], before[4]};
    if (after[0] == "cgroup2") v2_mount = mount;
    if (after[0] != "cgroup") continue;
    for (const std::string& option : split(after[2], ','))
      for (const std::string& controller : kControllers)
        if (option == controller) v1_mounts[controller] = mount;
  }

  std::map<std::string, std::string> v1_paths;  // controller → own path
  std::optional<std::string> v2_path;
  for (const std::string& line : split(self_cgroup, '\n')) {
    const std::vector<std::string> fields = split(line, ':');
    if (fields.size() < 3) continue;
    const std::string path = line.substr(fields[0].size() + fields[1].size() + 2);
    if (fields[0] == "0" && fields[1].empty()) v2_path = path;
    for (const std::string& controller : split(fields[1], ',')) v1_paths[controller] = path;
  }

  CgroupHost host;
  const std::string instance_dir = "solti-" + instance_id;
  std::error_code ec;
  for (const std::string& controller : kControllers) {
    if (!v1_mounts.count(controller) || !v1_paths.count(controller)) continue;
    const fs::path dir = own_dir(v1_mounts[controller], v1_paths[controller]) / instance_dir;
    fs::create_directories(dir, ec);
    if (!ec && fs::is_directory(dir)) host.dirs_[controller] = dir;
  }
  if (!host.dirs_.empty()) {
    host.version_ = 1;
    return host;
  }
  if (!v2_mount || !v2_path) return host;
  const fs::path own = own_dir(*v2_mount, *v2_path);
  std::string enable;
  std::vector<std::string> available;
  for (const std::string& controller : split(read_file(own / "cgroup.controllers"), ' ')) {
    std::string name = controller;
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
    for (const std::string& wanted : kControllers) {
      if (name != wanted) continue;
      available.push_back(name);
      enable += (enable.empty() ? "+" : " +") + name;
    }
  }
  const fs::path dir = own / instance_dir;
  if (available.empty() || !enable_v2_controllers(own, enable)) return host;
  fs::create_directories(dir, ec);
  if (ec || !write_file(dir / "cgroup.subtree_control", enable).ok()) return host;
  host.version_ = 2;
  for (const std::string& controller : available) host.dirs_[controller] = dir;
  return host;
}

CgroupHost CgroupHost::detect_this_host(const std::string& instance_id) {
  return detect(read_file("/proc/self/cgroup"), read_file("/proc/self/mountinfo"), instance_id);
}

std::string CgroupHost::describe() const {
  if (version_ == 0) return "no cgroups";
  std::string text = "cgroup v" + std::to_string(version_) + " (";
  bool first = true;
  for (const auto& [controller, dir] : dirs_) {
    text += (first ? "" : ", ") + controller;
    first = false;
  }
  return text + ")";
}

Result<std::unique_ptr<AttemptCgroup>> CgroupHost::create(const std::string& name,
                                                          const CgroupLimits& limits) const {
  auto refuse = [&](const std::string& controller, const std::string& field) {
    return Status(StatusCode::kInvalid, "resources." + field + " needs the cgroup " + controller +
                                            " controller, which this host does not offer (" +
                                            describe() + ")");
  };
  if (limits.memory_bytes && !has("memory")) return refuse("memory", "memory");
  if (limits.pids && !has("pids")) return refuse("pids", "pids");
  if (limits.cpu_millicores && !has("cpu")) return refuse("cpu", "cpu");

  auto cgroup = std::unique_ptr<AttemptCgroup>(new AttemptCgroup());
  cgroup->version_ = version_;
  std::set<fs::path> dirs;  // the v2 controllers share one
  for (const auto& [controller, dir] : dirs_) {
    const bool needed = controller == "pids" || (controller == "memory" && limits.memory_bytes) ||
                        (controller == "cpu" && limits.cpu_millicores) || !has("pids");
    if (needed) dirs.insert(dir / name);
  }
  for (const fs::path& dir : dirs) {
    if (::mkdir(dir.c_str(), 0755) != 0)
      return Status(StatusCode::kInternal, "mkdir " + dir.string() + ": " + std::strerror(errno));
    cgroup->dirs_.push_back(dir);
  }
  auto dir_of = [&](const std::string& controller) { return dirs_.at(controller) / name; };
  auto apply = [&]() -> Status {
    if (limits.memory_bytes) {
      const fs::path dir = dir_of("memory");
      const std::string bytes = std::to_string(*limits.memory_bytes);
      cgroup->memory_dir_ = dir;
      if (version_ == 1) {
        if (Status s = write_file(dir / "memory.limit_in_bytes", bytes); !s.ok()) return s;
        // Without a swap limit a hog would swap instead of being stopped.
        if (fs::exists(dir / "memory.memsw.limit_in_bytes"))
          return write_file(dir / "memory.memsw.limit_in_bytes", bytes);
      } else {
        if (Status s = write_file(dir / "memory.max", bytes); !s.ok()) return s;
        if (fs::exists(dir / "memory.swap.max")) return write_file(dir / "memory.swap.max", "0");
      }
    }
    if (limits.pids) {
      if (Status s = write_file(dir_of("pids") / "pids.max", std::to_string(*limits.pids)); !s.ok())
        return s;
    }
    if (limits.cpu_millicores) {
      constexpr int64_t kPeriodMicros = 100000;
      const int64_t quota = std::max<int64_t>(1000, *limits.cpu_millicores * kPeriodMicros / 1000);
      const fs::path dir = dir_of("cpu");
      if (version_ == 2)
        return write_file(dir / "cpu.max",
                          std::to_string(quota) + " " + std::to_string(kPeriodMicros));
      if (Status s = write_file(dir / "cpu.cfs_period_us", std::to_string(kPeriodMicros)); !s.ok())
        return s;
      return write_file(dir / "cpu.cfs_quota_us", std::to_string(quota));
    }
    return Status::Ok();
  };
  if (Status s = apply(); !s.ok()) return s;  // the destructor removes the directories
  for (const fs::path& dir : cgroup->dirs_) {
    const int fd = ::open((dir / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      return Status(StatusCode::kInternal,
                    (dir / "cgroup.procs").string() + ": " + std::strerror(errno));
    cgroup->procs_fds_.push_back(fd);
  }
  return cgroup;
}

size_t CgroupHost::remove_leftovers() const {
  std::set<fs::path> instance_dirs;
  for (const auto& [controller, dir] : dirs_) instance_dirs.insert(dir);
  std::set<std::string> names;
  std::error_code ec;
  for (const fs::path& dir : instance_dirs)
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_directory()) names.insert(entry.path().filename());
  for (const std::string& name : names) {
    AttemptCgroup leftover;
    leftover.version_ = version_;
    for (const fs::path& dir : instance_dirs)
      if (fs::is_directory(dir / name)) leftover.dirs_.push_back(dir / name);
    for (int round = 0; round < 100 && !leftover.remove(); ++round) {
      leftover.kill_all();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return names.size();
}

void CgroupHost::remove_instance_dirs() const {
  for (const auto& [controller, dir] : dirs_) ::rmdir(dir.c_str());
}

AttemptCgroup::~AttemptCgroup() {
  close_procs_fds();
  remove();
}

void AttemptCgroup::close_procs_fds() {
  for (int fd : procs_fds_) ::close(fd);
  procs_fds_.clear();
}

std::set<pid_t> AttemptCgroup::members() const {
  std::set<pid_t> pids;
  for (const fs::path& dir : dirs_) {
    std::istringstream in(read_file(dir / "cgroup.procs"));
    for (pid_t pid; in >> pid;) pids.insert(pid);
  }
  return pids;
}

void AttemptCgroup::kill_all() const {
  for (const fs::path& dir : dirs_) {
    if (version_ == 2 && fs::exists(dir / "cgroup.kill")) {
      (void)write_file(dir / "cgroup.kill", "1");
      return;
    }
  }
  signal_all(SIGKILL);
}

void AttemptCgroup::signal_all(int signal) const {
  for (pid_t pid : members()) ::kill(pid, signal);
}

bool AttemptCgroup::oom_killed() const {
  if (!memory_dir_) return false;
  if (version_ == 1) return counter(*memory_dir_ / "memory.oom_control", "oom_kill") > 0;
  return counter(*memory_dir_ / "memory.events", "oom_kill") > 0;
}

bool AttemptCgroup::remove() {
  std::vector<fs::path> remaining;
  for (const fs::path& dir : dirs_)
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) remaining.push_back(dir);
  dirs_ = std::move(remaining);
  return dirs_.empty();
}

}  // namespace solti::runners
