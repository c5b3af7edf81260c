// The container runner: spec.container as an OCI container through podman,
// from local images only (--pull never), with no network (--network none)
// and no_new_privileges. The `podman run` client is the attempt's process
// (ProcessAttempt): its output is the container's, its exit code the
// container's. Timeout and cancel send SIGTERM to the container and SIGKILL
// after the grace period (podman kill); afterwards the container is always
// removed (podman rm --force), so nothing of Solti's stays in `podman ps -a`
// after success, failure, timeout or cancel; containers a killed soltid
// left behind carry its instance label and go at the next start
// (remove_leftovers).
//
// spec.container.resources map to podman's flags: --memory (swap off),
// --pids-limit, --cpus, --ulimit nofile/fsize; core dumps are off.
#pragma once

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "reconciler/runners/runner.h"

namespace solti::runners {

// What podman needs on this host, found by asking it (podman info) and by
// reading soltid's own limits, never assumed.
struct ContainerHost {
  std::string podman;                     // resolved path
  std::vector<std::string> global_flags;  // e.g. --cgroup-manager=cgroupfs
  std::string runtime;                    // OCI runtime for --runtime
  // soltid's own nofile and nproc limits (nproc at most kernel.pid_max, as
  // podman caps its own), passed explicitly: podman's rootful defaults
  // (1048576) exceed the hard limits of many hosts, and the OCI runtime
  // then refuses to start any container.
  rlimit nofile{}, nproc{};
  std::string describe() const;
  // podman, its global flags, then `args`.
  std::vector<std::string> command(std::vector<std::string> args) const;
};

// Fails when podman is missing or unusable (the runner is then not
// registered and container Tasks wait with NoRunner).
Result<ContainerHost> detect_container_host();

// The `podman run` command line for one attempt.
std::vector<std::string> container_run_command(const ContainerHost& host, const std::string& name,
                                               const std::string& instance_id,
                                               const std::string& attempt_id,
                                               const ContainerSpec& spec,
                                               const std::map<std::string, std::string>& env);

std::unique_ptr<Runner> make_container_runner(boost::asio::io_context& loop, ContainerHost host,
                                              std::string instance_id);

// The label every container of a soltid instance carries.
inline constexpr std::string_view kContainerInstanceLabel = "io.solti.instance";

}  // namespace solti::runners
