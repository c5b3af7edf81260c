// How the runners read the host: cgroup layouts (v1 and v2, described by
// /proc text and a scratch directory), and the command lines of the wasm
// and container runtimes.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "reconciler/runners/cgroup.h"
#include "reconciler/runners/container_runner.h"
#include "reconciler/runners/wasm_runner.h"

namespace solti::runners {
namespace {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "solti-host-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~ScratchDir() { fs::remove_all(path); }
  fs::path path;
};

std::string read(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CgroupHostTest, V1UsesOwnCgroupInEachHierarchy) {
  ScratchDir root;
  for (const char* c : {"memory", "pids", "cpu,cpuacct"}) fs::create_directories(root.path / c);
  fs::create_directories(root.path / "memory/job/7");
  const std::string mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
      "35 31 0:31 / " +
      (root.path / "memory").string() +
      " rw - cgroup cgroup rw,memory\n"
      "36 31 0:32 / " +
      (root.path / "pids").string() +
      " rw - cgroup cgroup rw,pids\n"
      "37 31 0:33 / " +
      (root.path / "cpu,cpuacct").string() + " rw - cgroup cgroup rw,cpu,cpuacct\n";
  const std::string self = "4:memory:/job/7\n8:pids:/\n1:cpu,cpuacct:/\n0::/\n";
  CgroupHost host = CgroupHost::detect(self, mountinfo, "abc");
  EXPECT_EQ(host.version(), 1);
  EXPECT_EQ(host.describe(), "cgroup v1 (cpu, memory, pids)");
  EXPECT_TRUE(fs::is_directory(root.path / "memory/job/7/solti-abc"));
  EXPECT_TRUE(fs::is_directory(root.path / "pids/solti-abc"));
  EXPECT_TRUE(fs::is_directory(root.path / "cpu,cpuacct/solti-abc"));
}

TEST(CgroupHostTest, V2EnablesControllersForItsSubtree) {
  ScratchDir root;
  fs::create_directories(root.path / "service");
  std::ofstream(root.path / "service/cgroup.controllers") << "cpuset cpu io memory pids\n";
  std::ofstream(root.path / "service/cgroup.subtree_control") << "";
  const std::string mountinfo = "30 23 0:27 / " + root.path.string() + " rw - cgroup2 cgroup2 rw\n";
  // The instance directory's subtree_control does not exist in a scratch
  // directory (the kernel makes it), so enabling stops there: version 0.
  CgroupHost host = CgroupHost::detect("0::/service\n", mountinfo, "abc");
  EXPECT_EQ(read(root.path / "service/cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_TRUE(fs::is_directory(root.path / "service/solti-abc"));
  EXPECT_EQ(host.version(), 0);
}

TEST(CgroupHostTest, NoCgroupsRefusesLimitsButNotPlainAttempts) {
  CgroupHost none = CgroupHost::detect("", "", "abc");
  EXPECT_EQ(none.describe(), "no cgroups");
  CgroupLimits limits;
  limits.memory_bytes = 1 << 20;
  auto made = none.create("x", limits);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("resources.memory needs the cgroup memory controller"),
            std::string::npos);
}

TEST(WasmCommandTest, WasmtimeAndTheNodeLauncherTakeTheSameShape) {
  const std::map<std::string, std::string> env = {{"A", "1"}, {"B", "x y"}};
  WasmRuntime wasmtime{WasmRuntime::Kind::kWasmtime, "/usr/bin/wasmtime", ""};
  EXPECT_EQ(wasm_command(wasmtime, "/m.wasm", {"-v", "two words"}, env),
            (std::vector<std::string>{"wasmtime", "run", "--env", "A=1", "--env", "B=x y",
                                      "/m.wasm", "-v", "two words"}));
  WasmRuntime node{WasmRuntime::Kind::kNode, "/usr/bin/node", "/opt/solti-wasi.mjs"};
  EXPECT_EQ(wasm_command(node, "/m.wasm", {}, {}),
            (std::vector<std::string>{"node", "--no-warnings", "/opt/solti-wasi.mjs", "/m.wasm"}));
  EXPECT_FALSE(find_wasm_runtime("v8", "/x").ok());
}

TEST(ContainerCommandTest, LimitsEnvAndEntrypointBecomePodmanFlags) {
  ContainerHost host;
  host.podman = "/usr/bin/podman";
  host.runtime = "/usr/bin/runc";
  host.global_flags = {"--cgroup-manager=cgroupfs"};
  host.nofile = {20000, 20000};
  host.nproc = {32768, 32768};
  ContainerSpec spec;
  spec.image = "localhost/box:1";
  spec.command = {"sh", "-c"};
  spec.args = {"echo hi"};
  spec.resources = ResourceLimits{*Quantity::parse("64Mi"), *Quantity::parse("1500m"), 64, 128,
                                  *Quantity::parse("1Ki")};
  const std::vector<std::string> want = {"/usr/bin/podman",
                                         "--cgroup-manager=cgroupfs",
                                         "run",
                                         "--name",
                                         "c1",
                                         "--pull",
                                         "never",
                                         "--network",
                                         "none",
                                         "--runtime",
                                         "/usr/bin/runc",
                                         "--security-opt",
                                         "no-new-privileges",
                                         "--label",
                                         "io.solti.instance=i",
                                         "--label",
                                         "io.solti.attempt=ns/t#1",
                                         "--ulimit",
                                         "nofile=128:128",
                                         "--ulimit",
                                         "nproc=32768:32768",
                                         "--ulimit",
                                         "core=0:0",
                                         "--memory",
                                         "67108864",
                                         "--memory-swap",
                                         "67108864",
                                         "--pids-limit",
                                         "64",
                                         "--cpus",
                                         "1.5",
                                         "--ulimit",
                                         "fsize=1024:1024",
                                         "--env",
                                         "K=v",
                                         "--entrypoint",
                                         R"(["sh","-c"])",
                                         "localhost/box:1",
                                         "echo hi"};
  EXPECT_EQ(container_run_command(host, "c1", "i", "ns/t#1", spec, {{"K", "v"}}), want);
}

}  // namespace
}  // namespace solti::runners
