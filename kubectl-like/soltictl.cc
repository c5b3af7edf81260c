// soltictl: the kubectl-like client for Solti (DESIGN §8).
// Exit codes: 0 ok, 1 failure, 2 usage.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "kubectl-like/api_client.h"
#include "kubectl-like/kubeconfig.h"
#include "kubectl-like/manifest_source.h"
#include "model/manifest.h"
#include "model/yaml.h"

namespace {

// "ok  FILE  task/NAME  kind=subprocess slot=S restartPolicy=R admission=A"
// with the effective (defaulted) values, so a reader sees what will run.
void print_valid(const std::string& file, const solti::Task& task) {
  const solti::TaskSpec& spec = task.spec;
  std::cout << "ok  " << file << "  task/" << task.metadata.name
            << "  kind=" << solti::task_kind_name(spec) << " slot=" << solti::effective_slot(task)
            << " restartPolicy=" << solti::enum_name(solti::effective_restart_policy(spec))
            << " admission=" << solti::enum_name(solti::effective_admission(spec))
            << " timeout=" << spec.timeout->text() << "\n";
}

struct LoadedManifests {
  std::vector<std::pair<std::string, solti::TaskManifest>> manifests;  // file, manifest
  size_t files = 0;
  size_t problems = 0;  // each printed to stderr as FILE:LINE:COLUMN
};

// Reads and decodes every manifest, printing each problem; fails only when
// a path cannot be read.
solti::Result<LoadedManifests> load_manifests(const std::vector<std::string>& paths,
                                              bool recursive) {
  auto files = solti::ctl::read_manifest_files(paths, recursive);
  if (!files.ok()) return files.status();
  LoadedManifests loaded;
  loaded.files = files->size();
  for (const auto& file : *files) {
    auto manifests = solti::decode_task_manifests(file.text, solti::Origin::kApi);
    if (!manifests.ok()) {
      std::cerr << file.path << ": " << manifests.status().message() << "\n";
      ++loaded.problems;
      continue;
    }
    for (auto& manifest : *manifests) {
      for (const auto& problem : manifest.problems) {
        std::cerr << problem.to_string(file.path) << "\n";
        ++loaded.problems;
      }
      loaded.manifests.emplace_back(file.path, std::move(manifest));
    }
  }
  return loaded;
}

// Offline check of manifests: decoding, unknown fields and validation, each
// problem reported as FILE:LINE:COLUMN. Needs no server (CI lint step).
int run_validate(const std::vector<std::string>& paths, bool recursive) {
  auto loaded = load_manifests(paths, recursive);
  if (!loaded.ok()) {
    std::cerr << "error: " << loaded.status().message() << "\n";
    return 1;
  }
  for (const auto& [file, manifest] : loaded->manifests)
    if (manifest.problems.empty()) print_valid(file, manifest.task);
  if (loaded->problems > 0) {
    std::cerr << loaded->problems << " problem(s) in " << loaded->files << " file(s)\n";
    return 1;
  }
  std::cout << loaded->manifests.size() << " task(s) in " << loaded->files
            << " file(s) are valid\n";
  return 0;
}

// Query-string escaping for a selector ("app in (a,b)" → "app%20in%20%28a%2Cb%29").
std::string query_escape(const std::string& text) {
  std::ostringstream out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out << c;
    } else {
      out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0') << int(c);
    }
  }
  return out.str();
}

// Server-side apply of every Task in the manifests, as kubectl apply
// --server-side prints it: "task.solti.io/NAME created|configured|unchanged".
int run_apply(const solti::ctl::Target& target, const std::vector<std::string>& paths,
              bool recursive, bool dry_run) {
  // Nothing is sent when any manifest is invalid, so a broken file never
  // leaves half an apply behind.
  auto loaded = load_manifests(paths, recursive);
  if (!loaded.ok() || loaded->problems > 0) {
    std::cerr << "error: "
              << (loaded.ok()
                      ? std::to_string(loaded->problems) + " problem(s); nothing was applied"
                      : loaded.status().message())
              << "\n";
    return 1;
  }
  solti::ctl::ApiClient client(target.connection);
  int failures = 0;
  for (const auto& [file, manifest] : loaded->manifests) {
    const solti::Task& task = manifest.task;
    const std::string ns =
        task.metadata.namespace_.empty() ? target.namespace_ : task.metadata.namespace_;
    const std::string path = solti::ctl::ApiClient::path("tasks", ns, task.metadata.name);
    auto before = client.get(path);
    bool created = false;
    auto applied = client.apply(path, manifest.object, "soltictl", dry_run, created);
    if (!applied.ok()) {
      std::cerr << file << ":" << manifest.start.line << ": error: " << applied.status().message()
                << "\n";
      ++failures;
      continue;
    }
    // What the user declares, compared rather than resourceVersions: the
    // reconciler writes status and finalizers in between.
    const auto declared = [](const solti::Json& o) {
      const solti::Json meta = o.value("metadata", solti::Json::object());
      return solti::Json::array({o.value("spec", solti::Json()),
                                 meta.value("labels", solti::Json()),
                                 meta.value("annotations", solti::Json())});
    };
    const char* verb = created                                                  ? "created"
                       : before.ok() && declared(*before) == declared(*applied) ? "unchanged"
                                                                                : "configured";
    std::cout << "task.solti.io/" << task.metadata.name << " " << verb
              << (dry_run ? " (server dry run)" : "") << "\n";
  }
  return failures == 0 ? 0 : 1;
}

// kubectl's wording: "Error from server (Reason): ..." for the server's
// refusals, "error: ..." for failures to reach it.
void print_error(const solti::ctl::ApiClient& client, const solti::Status& status) {
  if (client.reached_server()) {
    std::cerr << "Error from server (" << solti::status_reason(status.code())
              << "): " << status.message() << "\n";
  } else {
    std::cerr << "error: " << status.message() << "\n";
  }
}

std::string plural_of(const std::string& resource) {
  if (resource == "task" || resource == "tasks" || resource == "tk") return "tasks";
  if (resource == "taskrun" || resource == "taskruns" || resource == "tkr") return "taskruns";
  return "";
}

std::string cell_text(const solti::Json& cell) {
  return cell.is_string() ? cell.get<std::string>() : cell.is_null() ? "" : cell.dump();
}

// The server's Table as kubectl prints it: upper-case headers, columns
// padded to their widest cell, priority > 0 columns only with -o wide.
void print_table(const solti::Json& table, bool wide, bool with_namespace) {
  std::vector<size_t> shown;
  std::vector<std::vector<std::string>> lines(1);
  if (with_namespace) lines[0].push_back("NAMESPACE");
  const auto& columns = table["columnDefinitions"];
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!wide && columns[i].value("priority", 0) > 0) continue;
    shown.push_back(i);
    std::string name = columns[i]["name"];
    for (auto& c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
    lines[0].push_back(name);
  }
  for (const auto& row : table["rows"]) {
    std::vector<std::string> line;
    if (with_namespace) line.push_back(row["object"]["metadata"].value("namespace", ""));
    for (size_t i : shown) line.push_back(cell_text(row["cells"][i]));
    lines.push_back(std::move(line));
  }
  if (lines.size() == 1) {
    std::cerr << "No resources found\n";
    return;
  }
  std::vector<size_t> width(lines[0].size(), 0);
  for (const auto& line : lines)
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) {
      std::cout << line[i];
      if (i + 1 < line.size()) std::cout << std::string(width[i] - line[i].size() + 3, ' ');
    }
    std::cout << "\n";
  }
}

int run_get(const solti::ctl::Target& target, const std::string& resource, const std::string& name,
            bool all_namespaces, const std::string& selector, const std::string& output) {
  const std::string plural = plural_of(resource);
  if (plural.empty()) {
    std::cerr << "error: the server doesn't have a resource type \"" << resource << "\"\n";
    return 1;
  }
  std::string path =
      solti::ctl::ApiClient::path(plural, all_namespaces ? "" : target.namespace_, name);
  if (name.empty() && !selector.empty()) path += "?labelSelector=" + query_escape(selector);
  solti::ctl::ApiClient client(target.connection);
  if (output.empty() || output == "wide") {
    auto table = client.get_table(path);
    if (!table.ok()) {
      print_error(client, table.status());
      return 1;
    }
    print_table(*table, output == "wide", all_namespaces);
    return 0;
  }
  auto object = client.get(path);
  if (!object.ok()) {
    print_error(client, object.status());
    return 1;
  }
  if (output == "json") {
    std::cout << object->dump(4) << "\n";
  } else if (output == "yaml") {
    std::cout << solti::to_yaml(*object);
  } else if (output == "name") {
    const solti::Json items = name.empty() ? (*object)["items"] : solti::Json::array({*object});
    const std::string singular = plural == "tasks" ? "task" : "taskrun";
    for (const auto& item : items)
      std::cout << singular << ".solti.io/" << item["metadata"]["name"].get<std::string>() << "\n";
  } else {
    std::cerr << "error: unsupported output format \"" << output
              << "\" (wide, json, yaml or name)\n";
    return 2;
  }
  return 0;
}

// The attempt's log, streamed with -f until the attempt ends.
int run_logs(const solti::ctl::Target& target, const std::string& name, bool follow,
             int64_t attempt, int64_t tail) {
  std::string query = follow ? "follow=true" : "";
  if (attempt > 0)
    query += std::string(query.empty() ? "" : "&") + "attempt=" + std::to_string(attempt);
  if (tail >= 0)
    query += std::string(query.empty() ? "" : "&") + "tailLines=" + std::to_string(tail);
  std::string path = solti::ctl::ApiClient::path("tasks", target.namespace_, name) + "/log";
  if (!query.empty()) path += "?" + query;
  solti::ctl::ApiClient client(target.connection);
  solti::Status s = client.stream(path, [](std::string_view data) {
    std::cout.write(data.data(), std::streamsize(data.size()));
    std::cout.flush();
  });
  if (!s.ok()) {
    print_error(client, s);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"soltictl: the command-line client for Solti"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags (-n, --server, ...) may follow the verb, as in kubectl

  std::vector<std::string> paths;
  bool recursive = false;
  auto* validate = app.add_subcommand("validate", "Check Task manifests without a server");
  validate->add_option("-f,--filename", paths, "File, directory or - for stdin")->required();
  validate->add_flag("-R,--recursive", recursive, "Descend into subdirectories of directories");

  app.add_subcommand("version", "Print the client version");

  solti::ctl::ConnectionFlags flags;
  app.add_option("--server,-s", flags.server,
                 "URL of the API server (else $SOLTI_SERVER, else the kubeconfig's)");
  app.add_option("--token", flags.token, "Bearer token for the API server");
  app.add_option("--certificate-authority", flags.ca_file,
                 "PEM file with the CA that signed the server's certificate");
  app.add_option("--kubeconfig", flags.kubeconfig,
                 "kubeconfig file (else $KUBECONFIG, else ~/.kube/config)");
  app.add_option("--context", flags.context, "kubeconfig context (else its current-context)");
  app.add_option("-n,--namespace", flags.namespace_,
                 "Namespace (else the context's, else default; a manifest's own wins)");

  std::vector<std::string> apply_paths;
  bool apply_recursive = false;
  std::string dry_run;
  auto* apply =
      app.add_subcommand("apply", "Create or update Tasks from manifests (server-side apply)");
  apply->add_option("-f,--filename", apply_paths, "File, directory or - for stdin")->required();
  apply->add_flag("-R,--recursive", apply_recursive, "Descend into subdirectories of directories");
  apply->add_option("--dry-run", dry_run, "server: validate and show the result without saving")
      ->check(CLI::IsMember({"none", "server"}));

  std::string log_task;
  bool follow = false;
  int64_t log_attempt = 0, tail = -1;
  auto* logs = app.add_subcommand("logs", "Print the log of a Task's attempt");
  logs->add_option("task", log_task, "Task name")->required();
  logs->add_flag("-f,--follow", follow, "Stream the log until the attempt ends");
  logs->add_option("--attempt", log_attempt, "Attempt of the current generation (default: latest)")
      ->check(CLI::PositiveNumber);
  logs->add_option("--tail", tail, "Only the last N lines")->check(CLI::NonNegativeNumber);

  std::string resource, name, selector, output;
  bool all_namespaces = false;
  auto* get = app.add_subcommand("get", "Show Tasks or TaskRuns");
  get->add_option("resource", resource, "tasks (tk) or taskruns (tkr)")->required();
  get->add_option("name", name, "One object by name");
  get->add_option("-l,--selector", selector, "Label selector, e.g. app=web,tier!=db");
  get->add_option("-o,--output", output, "wide, json, yaml or name");
  get->add_flag("-A,--all-namespaces", all_namespaces, "Across every namespace");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (*validate) return run_validate(paths, recursive);
  if (app.got_subcommand("version")) {
    std::cout << "soltictl " << SOLTI_VERSION << "\n";
    return 0;
  }
  auto target = solti::ctl::resolve_target(flags);
  if (!target.ok()) {
    std::cerr << "error: " << target.status().message() << "\n";
    return 1;
  }
  if (*logs) return run_logs(*target, log_task, follow, log_attempt, tail);
  if (*apply) return run_apply(*target, apply_paths, apply_recursive, dry_run == "server");
  if (*get) return run_get(*target, resource, name, all_namespaces, selector, output);
  return 0;
}
