#include "reconciler/runners/wasm_runner.h"

#include <fstream>

#include "reconciler/runners/process_attempt.h"

namespace solti::runners {
namespace {

namespace asio = boost::asio;

Status check_module(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return start_failure("ModuleNotFound", "cannot read wasm module " + path);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  if (in.gcount() != 4 || std::string_view(magic, 4) != std::string_view("\0asm", 4))
    return start_failure("InvalidModule", path + " is not a WebAssembly module");
  return Status::Ok();
}

class WasmAttempt final : public ProcessAttempt {
 public:
  WasmAttempt(asio::io_context& loop, AttemptRequest request,
              std::function<void(AttemptResult)> done, const CgroupHost* cgroups,
              const WasmRuntime& runtime)
      : ProcessAttempt(loop, std::move(request), std::move(done), cgroups), runtime_(runtime) {}

 private:
  Result<ProcessPlan> plan() override {
    if (!request().spec.wasm) return start_failure("UnsupportedKind", "not a wasm task");
    const WasmSpec& wasm = *request().spec.wasm;
    if (Status s = check_module(wasm.module); !s.ok()) return s;
    ProcessPlan plan;
    plan.what = "wasm module";
    plan.spawn.program = runtime_.program;
    plan.spawn.argv =
        wasm_command(runtime_, wasm.module, wasm.args, merge_env(wasm.env, request().runner_env));
    // The runtime's own environment: PATH and the runner's marks (which
    // let a restarted soltid find it).
    plan.spawn.env.push_back("PATH=" + std::string(kDefaultTaskPath));
    append_env(plan.spawn.env, merge_env({}, request().runner_env));
    plan.cgroup_limits = CgroupLimits{};
    return plan;
  }

  const WasmRuntime& runtime_;
};

class WasmRunner final : public Runner {
 public:
  WasmRunner(asio::io_context& loop, WasmRuntime runtime, HostRunnerOptions options)
      : loop_(loop), runtime_(std::move(runtime)), options_(std::move(options)) {}

  std::string_view name() const override { return "wasm"; }
  bool supports(const TaskSpec& spec) const override { return spec.wasm.has_value(); }

  std::shared_ptr<Attempt> start(AttemptRequest request,
                                 std::function<void(AttemptResult)> done) override {
    auto attempt = std::make_shared<WasmAttempt>(loop_, std::move(request), std::move(done),
                                                 options_.cgroups.get(), runtime_);
    attempt->begin();
    return attempt;
  }

 private:
  asio::io_context& loop_;
  WasmRuntime runtime_;
  HostRunnerOptions options_;
};

}  // namespace

std::string WasmRuntime::describe() const {
  return kind == Kind::kWasmtime ? program : program + " " + launcher;
}

Result<WasmRuntime> find_wasm_runtime(const std::string& choice, const std::string& launcher) {
  if (choice != "auto" && choice != "wasmtime" && choice != "node")
    return Status(StatusCode::kBadRequest,
                  "--wasm-runtime must be auto, wasmtime or node, got '" + choice + "'");
  if (choice != "node") {
    if (std::string wasmtime = find_host_executable("wasmtime"); !wasmtime.empty())
      return WasmRuntime{WasmRuntime::Kind::kWasmtime, wasmtime, ""};
    if (choice == "wasmtime") return Status(StatusCode::kNotFound, "wasmtime is not installed");
  }
  const std::string node = find_host_executable("node");
  if (node.empty()) return Status(StatusCode::kNotFound, "neither wasmtime nor node is installed");
  if (!std::ifstream(launcher))
    return Status(StatusCode::kNotFound, "no WASI launcher at " + launcher);
  return WasmRuntime{WasmRuntime::Kind::kNode, node, launcher};
}

std::vector<std::string> wasm_command(const WasmRuntime& runtime, const std::string& module,
                                      const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv;
  if (runtime.kind == WasmRuntime::Kind::kWasmtime) {
    argv = {"wasmtime", "run"};
  } else {
    argv = {"node", "--no-warnings", runtime.launcher};
  }
  for (const auto& [name, value] : env) {
    argv.push_back("--env");
    argv.push_back(name + "=" + value);
  }
  argv.push_back(module);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::unique_ptr<Runner> make_wasm_runner(asio::io_context& loop, WasmRuntime runtime,
                                         HostRunnerOptions options) {
  return std::make_unique<WasmRunner>(loop, std::move(runtime), std::move(options));
}

}  // namespace solti::runners
