// The wasm runner: spec.wasm modules (WASI preview 1) run by a WASI runtime
// as a host process, so that args, env, exit code, the log, timeout and
// cancel behave exactly as for subprocess attempts (ProcessAttempt).
//
// The runtime is wasmtime when it is installed, else Solti's own launcher
// on Node.js's node:wasi (reconciler/runners/wasi/solti-wasi.mjs, which
// takes wasmtime's command line). A module sees its args and the Task's
// env (the runner's env wins), and no host directories.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "reconciler/runners/subprocess_runner.h"

namespace solti::runners {

struct WasmRuntime {
  enum class Kind { kWasmtime, kNode };
  Kind kind = Kind::kWasmtime;
  std::string program;   // resolved path of wasmtime or node
  std::string launcher;  // solti-wasi.mjs, for kNode
  std::string describe() const;
};

// `choice` is auto (wasmtime, else node), wasmtime or node; `launcher` is
// where solti-wasi.mjs lives. Fails when the chosen runtime is missing.
Result<WasmRuntime> find_wasm_runtime(const std::string& choice, const std::string& launcher);

// The runtime's command line for a module with these args and env.
std::vector<std::string> wasm_command(const WasmRuntime& runtime, const std::string& module,
                                      const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env);

std::unique_ptr<Runner> make_wasm_runner(boost::asio::io_context& loop, WasmRuntime runtime,
                                         HostRunnerOptions options = {});

}  // namespace solti::runners
