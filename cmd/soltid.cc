// soltid: API server + store + reconciler + local runners in one process.
// Prints one line when ready; SIGTERM or SIGINT stops it gracefully: the
// server stops accepting, running attempts are canceled (their Tasks show
// AgentRestarted at the next start), the store is flushed, exit 0.
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include "apiserver/crd.h"
#include "apiserver/resources.h"
#include "apiserver/server.h"
#include "model/names.h"
#include "model/uuid.h"
#include "model/yaml.h"
#include "reconciler/controller.h"
#include "reconciler/housekeeping.h"
#include "reconciler/runners/cgroup.h"
#include "reconciler/runners/container_runner.h"
#include "reconciler/runners/router.h"
#include "reconciler/runners/subprocess_runner.h"
#include "reconciler/runners/wasm_runner.h"
#include "reconciler/system_tasks.h"
#include "store/store.h"

namespace {

bool split_listen(const std::string& listen, std::string& host, int& port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  host = listen.substr(0, colon);
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return false;
  }
  return port >= 0 && port <= 65535 && !host.empty();
}

// "k=v,k2=v2" into labels; false with `error` set when a pair is not a
// valid label.
bool parse_labels(const std::string& text, solti::Labels& labels, std::string& error) {
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string pair = text.substr(start, comma - start);
    start = comma + 1;
    const size_t eq = pair.find('=');
    if (eq == std::string::npos) {
      error = "\"" + pair + "\" is not key=value";
      return false;
    }
    const std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
    auto problems = solti::check_qualified_name(key);
    for (const auto& p : solti::check_label_value(value)) problems.push_back(p);
    if (!problems.empty()) {
      error = "\"" + pair + "\": " + problems.front();
      return false;
    }
    labels[key] = value;
  }
  return true;
}

// This data directory's soltid instance id, made on first use: it marks
// the processes, cgroups and containers of its attempts
// (Runner::remove_leftovers).
std::string instance_id(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "instance-id";
  std::string id;
  if (std::ifstream in(path); in) std::getline(in, id);
  if (id.empty()) {
    id = solti::new_uuid();
    std::ofstream(path) << id << "\n";
  }
  return id;
}

// The default of --max-parallel. A running attempt holds up to 8 file
// descriptors (pidfd, output pipe, log, cgroup and podman files); what the
// connections, the watches (each bounded by max_connections) and RocksDB
// need comes first. Unbounded, a burst of 10,000
// Tasks ran soltid out of descriptors (lifecycle_bench): thousands failed
// with EMFILE and the rest never finished.
size_t attempts_within_file_limit(size_t max_connections) {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  constexpr size_t kPerAttempt = 8, kReserved = 512;
  const size_t budget = size_t(limit.rlim_cur);
  const size_t sockets = 2 * max_connections;
  if (budget <= sockets + kReserved + kPerAttempt) return 1;
  return (budget - sockets - kReserved) / kPerAttempt;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists, so that every thread
  // inherits the mask and sigwait() below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"soltid: the Solti API server, store and reconciler"};
  std::string data_dir = "./solti-data";
  std::string listen = "127.0.0.1:6443";
  bool unsafe_no_fsync = false;
  bool print_crd = false;
  size_t max_connections = 2048;
  app.add_option("--data-dir", data_dir, "Where the store keeps its data");
  app.add_option("--listen", listen, "HOST:PORT to serve on (port 0: any free port)");
  app.add_option(
         "--max-connections", max_connections,
         "Connections served at once (more wait; beyond twice this, 503), and watches open at once")
      ->check(CLI::Range(size_t(1), size_t(1) << 20));
  int64_t history_revisions = 1000;
  double history_seconds = 300, compaction_seconds = 60, bookmark_seconds = 60;
  app.add_option("--history-min-revisions", history_revisions,
                 "Keep at least this many revisions of history for watch resume");
  app.add_option("--history-min-age", history_seconds,
                 "Keep at least this many seconds of history for watch resume");
  app.add_option("--compaction-interval", compaction_seconds,
                 "Seconds between history compactions");
  app.add_option("--watch-bookmark-interval", bookmark_seconds,
                 "Seconds between BOOKMARK events on watches that allow them");
  solti::api::ServerOptions server_options;
  app.add_option("--tls-cert-file", server_options.tls_cert_file, "PEM certificate: serve HTTPS");
  app.add_option("--tls-private-key-file", server_options.tls_key_file,
                 "PEM private key of the certificate");
  app.add_option("--token-auth-file", server_options.token_auth_file,
                 "Static bearer tokens: CSV lines token,user,uid,\"group1,group2\"");
  app.add_option("--authorization-policy-file", server_options.authorization_policy_file,
                 "YAML rules: which users and groups may use which verbs in which namespaces");
  app.add_flag("--unsafe-no-fsync", unsafe_no_fsync,
               "Acknowledge writes before they reach the disk. For benchmarks only: a power loss "
               "can lose acknowledged writes");
  std::string runner_labels_text;
  app.add_option("--runner-labels", runner_labels_text,
                 "Extra labels of this soltid's runners, k=v,... (matched by spec.runnerSelector)");
  double shutdown_seconds = 30;
  app.add_option("--shutdown-grace-period", shutdown_seconds,
                 "On SIGTERM, how long running attempts get to stop before soltid exits");
  double taskrun_ttl_seconds = 24 * 3600, housekeeping_seconds = 60;
  app.add_option("--taskrun-ttl", taskrun_ttl_seconds,
                 "Seconds a finished TaskRun is kept (the last 50 per Task are kept regardless of "
                 "age only while younger than this)");
  app.add_option("--housekeeping-interval", housekeeping_seconds,
                 "Seconds between runs of the TaskRun sweep and the log clean-up");
  std::optional<size_t> max_parallel;
  app.add_option("--max-parallel", max_parallel,
                 "Attempts that may run at once across all Tasks (0: no limit; default: what "
                 "the open-file limit allows); the rest wait Pending with reason "
                 "WaitingForCapacity");
  size_t reconcile_workers = solti::reconciler::ControllerOptions{}.workers;
  app.add_option("--reconcile-workers", reconcile_workers,
                 "Tasks reconciled at once (each mostly waits for fsyncs and spawns)")
      ->check(CLI::Range(size_t(1), size_t(1024)));
  std::string wasm_runtime = "auto";
  app.add_option("--wasm-runtime", wasm_runtime,
                 "WASI runtime for wasm Tasks: auto (wasmtime if installed, else node), "
                 "wasmtime or node");
  std::string wasm_launcher =
      (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "solti-wasi.mjs").string();
  app.add_option("--wasm-launcher", wasm_launcher,
                 "Solti's Node.js WASI launcher (default: solti-wasi.mjs beside soltid)");
  bool no_reconciler = false;
  app.add_flag("--no-reconciler", no_reconciler,
               "Serve the API only: run no Tasks (another soltid or agent runs them)");
  app.add_flag("--print-crd", print_crd,
               "Print the Task CustomResourceDefinition (for a real Kubernetes cluster) and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (print_crd) {
    std::fputs(
        solti::to_yaml(solti::api::custom_resource_definition(*solti::api::make_task_strategy()))
            .c_str(),
        stdout);
    return 0;
  }
  if (!split_listen(listen, server_options.host, server_options.port)) {
    std::fprintf(stderr, "soltid: --listen must be HOST:PORT, got \"%s\"\n", listen.c_str());
    return 2;
  }
  solti::Labels runner_labels;
  if (std::string error; !parse_labels(runner_labels_text, runner_labels, error)) {
    std::fprintf(stderr, "soltid: --runner-labels: %s\n", error.c_str());
    return 2;
  }
  server_options.max_connections = max_connections;
  auto millis = [](double seconds) { return std::chrono::milliseconds(int64_t(seconds * 1000)); };
  server_options.bookmark_interval =
      std::max(millis(bookmark_seconds), std::chrono::milliseconds(100));
  server_options.version = SOLTI_VERSION;
  server_options.runner_finalizer = !no_reconciler;

  // Asking podman what it needs takes a few hundred milliseconds: done while
  // the store opens.
  std::future<solti::Result<solti::runners::ContainerHost>> container_host;
  if (!no_reconciler)
    container_host = std::async(std::launch::async, solti::runners::detect_container_host);

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  solti::store::Options store_options;
  store_options.path = data_dir;
  store_options.sync_writes = !unsafe_no_fsync;
  store_options.min_retention_revisions = uint64_t(std::max<int64_t>(history_revisions, 0));
  store_options.min_retention_time = millis(history_seconds);
  store_options.compaction_interval = millis(compaction_seconds);
  auto store = solti::store::open_rocksdb_store(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "soltid: %s\n", store.status().to_string().c_str());
    return 1;
  }
  if (unsafe_no_fsync) {
    std::fprintf(
        stderr,
        "soltid: WARNING: --unsafe-no-fsync: acknowledged writes may be lost on power loss\n");
  }

  const std::filesystem::path logs_dir = std::filesystem::absolute(data_dir) / "logs";
  server_options.logs_dir = logs_dir.string();
  solti::api::ApiServer server(server_options, **store, solti::system_clock());
  if (solti::Status s = server.start(); !s.ok()) {
    std::fprintf(stderr, "soltid: %s\n", s.to_string().c_str());
    return 1;
  }

  // Runners: what this host can run, found out rather than assumed.
  const std::string instance = instance_id(data_dir);
  boost::asio::io_context loop;
  auto keep_running = boost::asio::make_work_guard(loop);
  solti::runners::Router router;
  std::shared_ptr<const solti::runners::CgroupHost> cgroups;
  if (!no_reconciler) {
    cgroups = std::make_shared<const solti::runners::CgroupHost>(
        solti::runners::CgroupHost::detect_this_host(instance));
    std::fprintf(stderr, "soltid: subprocess runner: %s\n", cgroups->describe().c_str());
    const solti::runners::HostRunnerOptions host_options{instance, cgroups};
    router.add(solti::runners::make_subprocess_runner(loop, host_options), runner_labels);
    if (auto runtime = solti::runners::find_wasm_runtime(wasm_runtime, wasm_launcher);
        runtime.ok()) {
      std::fprintf(stderr, "soltid: wasm runner: %s\n", runtime.value().describe().c_str());
      router.add(solti::runners::make_wasm_runner(loop, runtime.value(), host_options),
                 runner_labels);
    } else {
      std::fprintf(stderr, "soltid: no wasm runner: %s\n", runtime.status().message().c_str());
    }
    if (auto podman = container_host.get(); podman.ok()) {
      std::fprintf(stderr, "soltid: container runner: %s\n", podman.value().describe().c_str());
      router.add(solti::runners::make_container_runner(loop, podman.value(), instance),
                 runner_labels);
    } else {
      std::fprintf(stderr, "soltid: no container runner: %s\n", podman.status().message().c_str());
    }
    // Whatever a predecessor killed with -9 left running goes before
    // anything new starts; its Tasks are then found Running and marked
    // AgentRestarted.
    if (size_t removed = router.remove_leftovers(); removed > 0)
      std::fprintf(stderr, "soltid: removed %zu attempts left by a previous run\n", removed);
  }
  std::thread loop_thread([&loop] { loop.run(); });
  auto embedded = std::make_unique<solti::runners::EmbeddedRunner>(loop);
  solti::reconciler::register_housekeeping(*embedded, *server.registry("taskruns"),
                                           solti::system_clock(), millis(taskrun_ttl_seconds),
                                           logs_dir);
  router.add(std::move(embedded), runner_labels);
  solti::DefaultRandomSource random;
  solti::reconciler::ControllerOptions controller_options;
  controller_options.logs_dir = logs_dir;
  controller_options.max_parallel =
      max_parallel ? *max_parallel : attempts_within_file_limit(max_connections);
  controller_options.workers = reconcile_workers;
  controller_options.runner_env.push_back({std::string(solti::runners::kInstanceEnv), instance});
  solti::reconciler::Controller controller(*server.registry("tasks"), *server.registry("taskruns"),
                                           solti::system_clock(), router, random,
                                           controller_options);
  solti::reconciler::SystemTasks housekeeping(solti::system_clock(), loop, router, random);
  for (auto& task : solti::reconciler::housekeeping_tasks(millis(housekeeping_seconds)))
    housekeeping.add(std::move(task));
  if (!no_reconciler) {
    controller.start();
    housekeeping.start();
  }
  const bool tls = !server_options.tls_cert_file.empty();
  std::printf("soltid ready on %s://%s:%d (data dir %s, revision %llu)\n", tls ? "https" : "http",
              server_options.host.c_str(), server.port(), data_dir.c_str(),
              static_cast<unsigned long long>((*store)->revision()));
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "soltid: %s received, stopping\n",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  server.stop();
  housekeeping.stop();
  controller.stop(millis(shutdown_seconds));
  keep_running.reset();
  loop.stop();
  loop_thread.join();
  if (cgroups) cgroups->remove_instance_dirs();
  store->reset();
  return 0;
}
