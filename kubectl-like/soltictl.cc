// soltictl: the kubectl-like client for Solti (DESIGN §8).
// Exit codes: 0 ok, 1 failure, 2 usage.
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "kubectl-like/api_client.h"
#include "kubectl-like/completion.h"
#include "kubectl-like/jsonpath.h"
#include "kubectl-like/kubeconfig.h"
#include "kubectl-like/manifest_source.h"
#include "kubectl-like/terminal.h"
#include "model/clock.h"
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
    solti::ctl::print_error_line(loaded.status().message());
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

// kubectl's wording: "Error from server (Reason): ..." for the server's
// refusals, "error: ..." for failures to reach it.
void print_error(const solti::ctl::ApiClient& client, const solti::Status& status) {
  if (client.reached_server()) {
    std::cerr << solti::ctl::paint(solti::ctl::Stream::kErr, solti::ctl::kRed,
                                   "Error from server (" +
                                       std::string(solti::status_reason(status.code())) + "):")
              << " " << status.message() << "\n";
  } else {
    solti::ctl::print_error_line(status.message());
  }
}

// A manifest's own namespace wins; else -n, the context's, or default.
std::string manifest_namespace(const solti::TaskManifest& manifest,
                               const solti::ctl::Target& target) {
  const std::string& own = manifest.task.metadata.namespace_;
  return own.empty() ? target.namespace_ : own;
}

// One manifest's apply: what happened (created, configured, unchanged)
// and its output line, or its error line.
struct ApplyOutcome {
  bool ok = false;
  std::string verb;
  std::string line;
};

// "task.solti.io/NAME VERB", the verb coloured on a terminal as a reader
// scans for it: new green, changed yellow, removed magenta.
std::string result_line(const std::string& name, const std::string& verb, bool dry_run) {
  using solti::ctl::paint;
  const char* colour = verb == "created"      ? solti::ctl::kGreen
                       : verb == "configured" ? solti::ctl::kYellow
                       : verb == "pruned"     ? solti::ctl::kMagenta
                                              : solti::ctl::kDim;
  return "task.solti.io/" + name + " " + paint(solti::ctl::Stream::kOut, colour, verb) +
         (dry_run ? " (server dry run)" : "");
}

// What the user declares, compared rather than resourceVersions: the
// reconciler writes status and finalizers in between.
solti::Json declared(const solti::Json& o) {
  const solti::Json meta = o.value("metadata", solti::Json::object());
  return solti::Json::array({o.value("spec", solti::Json()), meta.value("labels", solti::Json()),
                             meta.value("annotations", solti::Json())});
}

// The declared fields of the Tasks in `namespaces` before the apply, by
// "namespace/name": one list per namespace rather than a GET per
// manifest. Nothing when a list is refused (apply then GETs each).
std::optional<std::map<std::string, solti::Json>> declared_before(
    solti::ctl::ApiClient& client, const std::set<std::string>& namespaces) {
  std::map<std::string, solti::Json> out;
  for (const auto& ns : namespaces) {
    auto list = client.get(solti::ctl::ApiClient::path("tasks", ns));
    if (!list.ok()) return std::nullopt;
    for (const auto& item : (*list)["items"])
      out[ns + "/" + item["metadata"].value("name", "")] = declared(item);
  }
  return out;
}

ApplyOutcome apply_one(solti::ctl::ApiClient& client, const std::string& file,
                       const solti::TaskManifest& manifest, const std::string& ns, bool dry_run,
                       const std::optional<std::map<std::string, solti::Json>>& before_all) {
  const std::string& name = manifest.task.metadata.name;
  const std::string path = solti::ctl::ApiClient::path("tasks", ns, name);
  std::optional<solti::Json> before;
  if (before_all) {
    auto it = before_all->find(ns + "/" + name);
    if (it != before_all->end()) before = it->second;
  } else if (auto got = client.get(path); got.ok()) {
    before = declared(*got);
  }
  bool created = false;
  auto applied = client.apply(path, manifest.object, "soltictl", dry_run, created);
  if (!applied.ok()) {
    return {false, "",
            file + ":" + std::to_string(manifest.start.line) + ": " +
                solti::ctl::paint(solti::ctl::Stream::kErr, solti::ctl::kRed, "error:") + " " +
                applied.status().message()};
  }
  const char* verb = created                                   ? "created"
                     : before && *before == declared(*applied) ? "unchanged"
                                                               : "configured";
  return {true, verb, result_line(name, verb, dry_run)};
}

// Verb → how many Tasks it happened to, for apply's closing line.
using ApplyCounts = std::map<std::string, size_t>;

// --prune: deletes what `selector` selects in the applied namespaces that
// the manifests no longer name. Returns the failures.
int prune_unlisted(const solti::ctl::Target& target,
                   const std::vector<std::pair<std::string, solti::TaskManifest>>& manifests,
                   const std::string& selector, bool dry_run, ApplyCounts& counts) {
  std::map<std::string, std::set<std::string>> applied;  // namespace → names
  for (const auto& [file, manifest] : manifests)
    applied[manifest_namespace(manifest, target)].insert(manifest.task.metadata.name);
  if (applied.empty()) applied[target.namespace_];
  solti::ctl::ApiClient client(target.connection);
  int failures = 0;
  for (const auto& [ns, names] : applied) {
    auto list = client.get(solti::ctl::ApiClient::path("tasks", ns) +
                           "?labelSelector=" + query_escape(selector));
    if (!list.ok()) {
      print_error(client, list.status());
      return failures + 1;
    }
    for (const auto& item : (*list)["items"]) {
      const std::string name = item["metadata"]["name"];
      if (names.count(name)) continue;
      if (!dry_run) {
        auto removed = client.remove(solti::ctl::ApiClient::path("tasks", ns, name));
        if (!removed.ok() && removed.status().code() != solti::StatusCode::kNotFound) {
          print_error(client, removed.status());
          ++failures;
          continue;
        }
      }
      std::cout << result_line(name, "pruned", dry_run) << "\n";
      ++counts["pruned"];
    }
  }
  return failures;
}

// Server-side apply of every Task in the manifests, 32 at a time,
// printed in file order as kubectl prints it; then, with --prune, deletes
// the Tasks the selector selects in the applied namespaces that the
// manifests no longer name. On a terminal, a progress line while it runs
// and a count of each outcome at the end.
int run_apply(const solti::ctl::Target& target, const std::vector<std::string>& paths,
              bool recursive, bool dry_run, const std::string& prune_selector) {
  // Nothing is sent when any manifest is invalid, so a broken file never
  // leaves half an apply behind.
  auto loaded = load_manifests(paths, recursive);
  if (!loaded.ok() || loaded->problems > 0) {
    solti::ctl::print_error_line(loaded.ok() ? std::to_string(loaded->problems) +
                                                   " problem(s); nothing was applied"
                                             : loaded.status().message());
    return 1;
  }
  const auto& manifests = loaded->manifests;
  std::set<std::string> namespaces;
  for (const auto& [file, manifest] : manifests)
    namespaces.insert(manifest_namespace(manifest, target));
  solti::ctl::ApiClient lister(target.connection);
  const auto before_all = declared_before(lister, namespaces);
  std::vector<std::optional<ApplyOutcome>> outcomes(manifests.size());
  std::mutex mu;
  std::condition_variable ready;
  std::atomic<size_t> next{0};
  // Enough requests in flight for the server's group commit to share its
  // fsyncs (bench/apply_bench.sh).
  const size_t workers = std::min<size_t>(32, manifests.size());
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      solti::ctl::ApiClient client(target.connection);  // one connection per worker
      for (size_t i; (i = next++) < manifests.size();) {
        ApplyOutcome outcome =
            apply_one(client, manifests[i].first, manifests[i].second,
                      manifest_namespace(manifests[i].second, target), dry_run, before_all);
        std::lock_guard lock(mu);
        outcomes[i] = std::move(outcome);
        ready.notify_one();
      }
    });
  }
  const bool at_terminal = ::isatty(STDERR_FILENO);
  const bool progress = at_terminal && manifests.size() > 20;
  int failures = 0;
  ApplyCounts counts;
  for (size_t i = 0; i < manifests.size(); ++i) {
    std::unique_lock lock(mu);
    ready.wait(lock, [&] { return outcomes[i].has_value(); });
    if (progress) std::cerr << "\r\033[K";
    (outcomes[i]->ok ? std::cout : std::cerr) << outcomes[i]->line << std::endl;
    if (outcomes[i]->ok) {
      ++counts[outcomes[i]->verb];
    } else {
      ++failures;
    }
    if (progress) std::cerr << "applied " << i + 1 << "/" << manifests.size() << std::flush;
  }
  if (progress) std::cerr << "\r\033[K";
  for (auto& t : pool) t.join();
  if (!prune_selector.empty()) {
    if (failures > 0) {
      // Pruning after failures could delete what a failed apply meant to keep.
      solti::ctl::print_error_line("not pruning after " + std::to_string(failures) +
                                   " failed apply(s)");
    } else {
      failures += prune_unlisted(target, manifests, prune_selector, dry_run, counts);
    }
  }
  if (at_terminal && manifests.size() > 1) {
    std::string summary;
    for (const char* verb : {"created", "configured", "unchanged", "pruned"})
      if (counts[verb]) summary += ", " + std::to_string(counts[verb]) + " " + verb;
    if (failures) summary += ", " + std::to_string(failures) + " failed";
    std::cerr << manifests.size() << " manifest(s)" << summary << "\n";
  }
  return failures == 0 ? 0 : 1;
}

// The plural of a resource as kubectl lets people name it: singular,
// plural, short name, or group-qualified (task.solti.io).
std::string plural_of(std::string resource) {
  if (resource.ends_with(".solti.io")) resource.resize(resource.size() - 9);
  if (resource == "task" || resource == "tasks" || resource == "tk") return "tasks";
  if (resource == "taskrun" || resource == "taskruns" || resource == "tkr") return "taskruns";
  return "";
}

// The Task names in a verb's arguments, in any of kubectl's forms:
// `task NAME...`, `task/NAME...` (tasks, tk, task.solti.io alike) or,
// soltictl's shorthand, bare names. So a Task named like a resource type
// ("task") must be written task/task.
solti::Result<std::vector<std::string>> task_names(const std::string& verb,
                                                   std::vector<std::string> args) {
  auto not_tasks = [&](const std::string& type) {
    return solti::Status(solti::StatusCode::kBadRequest,
                         verb + " works on Tasks; \"" + type + "\" is not a Task");
  };
  if (!args.empty() && args[0].find('/') == std::string::npos) {
    const std::string plural = plural_of(args[0]);
    if (plural == "taskruns") return not_tasks(args[0]);
    if (plural == "tasks") args.erase(args.begin());
  }
  for (auto& arg : args) {
    const size_t slash = arg.find('/');
    if (slash == std::string::npos) continue;
    if (plural_of(arg.substr(0, slash)) != "tasks") return not_tasks(arg);
    if (slash + 1 == arg.size())
      return solti::Status(solti::StatusCode::kBadRequest, "\"" + arg + "\" names no Task");
    arg.erase(0, slash + 1);
  }
  return args;
}

std::string cell_text(const solti::Json& cell) {
  return cell.is_string() ? cell.get<std::string>() : cell.is_null() ? "" : cell.dump();
}

// The server's Table as kubectl prints it: upper-case headers, columns
// padded to their widest cell, priority > 0 columns only with -o wide.
// Rows that arrive later (get -w) keep the widths of the first table.
class TableView {
 public:
  TableView(const solti::Json& table, bool wide, bool with_namespace)
      : with_namespace_(with_namespace) {
    if (with_namespace) header_.push_back("NAMESPACE");
    const auto& columns = table["columnDefinitions"];
    for (size_t i = 0; i < columns.size(); ++i) {
      if (!wide && columns[i].value("priority", 0) > 0) continue;
      shown_.push_back(i);
      std::string name = columns[i]["name"];
      for (auto& c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
      header_.push_back(name);
    }
    width_.assign(header_.size(), 0);
    fit(header_);
  }

  std::vector<std::string> cells(const solti::Json& row) const {
    std::vector<std::string> line;
    if (with_namespace_) line.push_back(row["object"]["metadata"].value("namespace", ""));
    for (size_t i : shown_) line.push_back(cell_text(row["cells"][i]));
    return line;
  }

  // Prints the header and the table's rows; false when it has none.
  bool print_all(const solti::Json& table) {
    std::vector<std::vector<std::string>> lines;
    for (const auto& row : table["rows"]) lines.push_back(cells(row));
    for (const auto& line : lines) fit(line);
    if (lines.empty()) return false;
    print(header_);
    for (const auto& line : lines) print(line);
    return true;
  }

  void print(const std::vector<std::string>& line) const {
    for (size_t i = 0; i < line.size(); ++i) {
      std::cout << line[i];
      if (i + 1 < line.size())
        std::cout << std::string(std::max(width_[i], line[i].size()) - line[i].size() + 3, ' ');
    }
    std::cout << std::endl;
  }

 private:
  void fit(const std::vector<std::string>& line) {
    for (size_t i = 0; i < line.size() && i < width_.size(); ++i)
      width_[i] = std::max(width_[i], line[i].size());
  }

  bool with_namespace_;
  std::vector<size_t> shown_;
  std::vector<std::string> header_;
  std::vector<size_t> width_;
};

// get -w: after the table, every change as a row, from the table's
// resourceVersion on (so nothing between the two is missed).
solti::Status watch_rows(solti::ctl::ApiClient& client, const std::string& path,
                         const std::string& resource_version, const TableView& view) {
  std::string pending;
  const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
  return client.stream(
      path + sep + "watch=true&resourceVersion=" + resource_version,
      [&](std::string_view data) {
        pending.append(data);
        for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
          const solti::Json event = solti::Json::parse(pending.substr(0, nl), nullptr, false);
          pending.erase(0, nl + 1);
          if (!event.is_object() || !event.contains("object")) continue;
          const solti::Json& object = event["object"];
          if (event.value("type", "") == "ERROR") {
            solti::ctl::print_error_line(object.value("message", "the watch ended"));
            return false;
          }
          if (object.contains("rows"))
            for (const auto& row : object["rows"]) view.print(view.cells(row));
        }
        return true;
      },
      true);
}

int run_get(const solti::ctl::Target& target, const std::string& resource, const std::string& name,
            bool all_namespaces, const std::string& selector, const std::string& output,
            bool watch) {
  const std::string plural = plural_of(resource);
  if (plural.empty()) {
    solti::ctl::print_error_line(std::string("the server doesn't have a resource type \"") +
                                 resource + "\"");
    return 1;
  }
  std::optional<solti::ctl::JsonPath> jsonpath;
  if (output.starts_with("jsonpath=")) {
    auto parsed = solti::ctl::JsonPath::parse(std::string_view(output).substr(9));
    if (!parsed.ok()) {
      solti::ctl::print_error_line(parsed.status().message());
      return 2;
    }
    jsonpath = std::move(*parsed);
  } else if (!output.empty() && output != "wide" && output != "json" && output != "yaml" &&
             output != "name") {
    solti::ctl::print_error_line(std::string("unsupported output format \"") + output +
                                 "\" (wide, json, yaml, name or jsonpath=TEMPLATE)");
    return 2;
  }
  const bool as_table = output.empty() || output == "wide";
  if (watch && !as_table) {
    solti::ctl::print_error_line("-w prints table rows; use it without -o or with -o wide");
    return 2;
  }
  std::string path =
      solti::ctl::ApiClient::path(plural, all_namespaces ? "" : target.namespace_, name);
  if (name.empty() && !selector.empty()) path += "?labelSelector=" + query_escape(selector);
  solti::ctl::ApiClient client(target.connection);
  if (as_table) {
    auto table = client.get_table(path);
    if (!table.ok()) {
      print_error(client, table.status());
      return 1;
    }
    TableView view(*table, output == "wide", all_namespaces);
    if (!view.print_all(*table) && !watch) std::cerr << "No resources found\n";
    if (!watch) return 0;
    const std::string rv =
        table->value("metadata", solti::Json::object()).value("resourceVersion", "");
    // One object is watched through its collection, as kubectl does.
    const std::string watch_path =
        name.empty()
            ? path
            : solti::ctl::ApiClient::path(plural, all_namespaces ? "" : target.namespace_) +
                  "?fieldSelector=metadata.name%3D" + name;
    if (solti::Status s = watch_rows(client, watch_path, rv, view); !s.ok()) {
      print_error(client, s);
      return 1;
    }
    return 0;
  }
  auto object = client.get(path);
  if (!object.ok()) {
    print_error(client, object.status());
    return 1;
  }
  if (jsonpath) {
    std::cout << jsonpath->execute(*object);
  } else if (output == "json") {
    std::cout << object->dump(4) << "\n";
  } else if (output == "yaml") {
    std::cout << solti::to_yaml(*object);
  } else {
    const solti::Json items = name.empty() ? (*object)["items"] : solti::Json::array({*object});
    const std::string singular = plural == "tasks" ? "task" : "taskrun";
    for (const auto& item : items)
      std::cout << singular << ".solti.io/" << item["metadata"]["name"].get<std::string>() << "\n";
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
    return true;
  });
  if (!s.ok()) {
    print_error(client, s);
    return 1;
  }
  return 0;
}

std::string phase_of(const solti::Json& task) {
  return task.value("status", solti::Json::object()).value("phase", "");
}

// Deletes the named Tasks (or those -l selects); with --wait, returns once
// each is gone (the reconciler has stopped its attempt and removed its
// TaskRuns first).
int run_delete(const solti::ctl::Target& target, std::vector<std::string> names,
               const std::string& selector, bool wait, std::chrono::milliseconds timeout) {
  solti::ctl::ApiClient client(target.connection);
  if (!selector.empty()) {
    auto list = client.get(solti::ctl::ApiClient::path("tasks", target.namespace_) +
                           "?labelSelector=" + query_escape(selector));
    if (!list.ok()) {
      print_error(client, list.status());
      return 1;
    }
    for (const auto& item : (*list)["items"]) names.push_back(item["metadata"]["name"]);
    if (names.empty()) std::cerr << "No resources found\n";
  }
  int failures = 0;
  std::vector<std::string> deleted;
  for (const auto& name : names) {
    auto removed = client.remove(solti::ctl::ApiClient::path("tasks", target.namespace_, name));
    if (!removed.ok()) {
      print_error(client, removed.status());
      ++failures;
      continue;
    }
    deleted.push_back(name);
    if (!wait) std::cout << "task.solti.io \"" << name << "\" deleted\n";
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& name : wait ? deleted : std::vector<std::string>{}) {
    const std::string path = solti::ctl::ApiClient::path("tasks", target.namespace_, name);
    while (true) {
      auto got = client.get(path);
      if (!got.ok() && got.status().code() == solti::StatusCode::kNotFound) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        solti::ctl::print_error_line(std::string("timed out waiting for task/") + name +
                                     " to be deleted");
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::cout << "task.solti.io \"" << name << "\" deleted\n";
  }
  return failures == 0 ? 0 : 1;
}

// --for=phase=P or --for=condition=C[=True|False|Unknown] on the current
// generation; a Task that ends in another terminal phase fails at once
// rather than waiting out the timeout.
int run_wait(const solti::ctl::Target& target, const std::vector<std::string>& names,
             const std::string& for_text, std::chrono::milliseconds timeout) {
  const size_t eq = for_text.find('=');
  const std::string kind = for_text.substr(0, eq);
  std::string want = eq == std::string::npos ? "" : for_text.substr(eq + 1);
  std::string want_status = "True";
  if (kind == "condition") {
    if (size_t eq2 = want.find('='); eq2 != std::string::npos) {
      want_status = want.substr(eq2 + 1);
      want = want.substr(0, eq2);
    }
  }
  if ((kind != "phase" && kind != "condition") || want.empty()) {
    solti::ctl::print_error_line(
        std::string("--for must be phase=PHASE or condition=TYPE[=STATUS], got \"") + for_text +
        "\"");
    return 2;
  }
  static const std::set<std::string> kTerminal = {"Succeeded", "Failed", "Timeout", "Canceled",
                                                  "Exhausted"};
  solti::ctl::ApiClient client(target.connection);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& name : names) {
    const std::string path = solti::ctl::ApiClient::path("tasks", target.namespace_, name);
    while (true) {
      auto task = client.get(path);
      if (!task.ok()) {
        print_error(client, task.status());
        return 1;
      }
      const solti::Json status = task->value("status", solti::Json::object());
      const bool current = status.value("observedGeneration", int64_t{0}) ==
                           (*task)["metadata"].value("generation", int64_t{0});
      bool met = false;
      if (kind == "phase") {
        met = current && phase_of(*task) == want;
      } else {
        for (const auto& c : status.value("conditions", solti::Json::array()))
          met = met || (c.value("type", "") == want && c.value("status", "") == want_status &&
                        c.value("observedGeneration", int64_t{0}) ==
                            status.value("observedGeneration", int64_t{-1}));
      }
      if (met) {
        std::cout << "task.solti.io/" << name << " condition met\n";
        break;
      }
      const bool settled =
          current && kTerminal.count(phase_of(*task)) && !status.contains("nextAttemptTime");
      if (kind == "phase" && settled) {
        solti::ctl::print_error_line(std::string("task/") + name + " ended " + phase_of(*task) +
                                     " (" + status.value("reason", "") + "), not " + want);
        return 1;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        solti::ctl::print_error_line(std::string("timed out waiting for the condition on task/") +
                                     name);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return 0;
}

// What apply would change, as kubectl diff shows it: the live objects and
// the results of a server-side dry-run apply, written side by side as YAML
// and compared with `diff -u` ($KUBECTL_EXTERNAL_DIFF overrides). Exit 0:
// no differences, 1: differences, 2+: trouble.
int run_diff(const solti::ctl::Target& target, const std::vector<std::string>& paths,
             bool recursive) {
  auto loaded = load_manifests(paths, recursive);
  if (!loaded.ok() || loaded->problems > 0) {
    solti::ctl::print_error_line(loaded.ok() ? "invalid manifests" : loaded.status().message());
    return 2;
  }
  char dir_template[] = "/tmp/soltictl-diff-XXXXXX";
  if (!mkdtemp(dir_template)) {
    solti::ctl::print_error_line("cannot make a temporary directory");
    return 2;
  }
  const std::filesystem::path dir = dir_template;
  std::filesystem::create_directories(dir / "live");
  std::filesystem::create_directories(dir / "merged");
  // Server bookkeeping that every write changes is left out, as kubectl does.
  auto clean = [](solti::Json object) {
    if (object.contains("metadata")) {
      object["metadata"].erase("managedFields");
      object["metadata"].erase("resourceVersion");
    }
    return object;
  };
  solti::ctl::ApiClient client(target.connection);
  int rc = 0;
  for (const auto& [file, manifest] : loaded->manifests) {
    const solti::Task& task = manifest.task;
    const std::string ns = manifest_namespace(manifest, target);
    const std::string path = solti::ctl::ApiClient::path("tasks", ns, task.metadata.name);
    const std::string file_name = "solti.io.v1.Task." + ns + "." + task.metadata.name;
    auto live = client.get(path);
    if (!live.ok() && live.status().code() != solti::StatusCode::kNotFound) {
      print_error(client, live.status());
      rc = 2;
      continue;
    }
    bool created = false;
    auto merged = client.apply(path, manifest.object, "soltictl", true, created);
    if (!merged.ok()) {
      std::cerr << file << ":" << manifest.start.line << ": error: " << merged.status().message()
                << "\n";
      rc = 2;
      continue;
    }
    if (live.ok()) std::ofstream(dir / "live" / file_name) << solti::to_yaml(clean(*live));
    std::ofstream(dir / "merged" / file_name) << solti::to_yaml(clean(*merged));
  }
  if (rc == 0) {
    const char* external = std::getenv("KUBECTL_EXTERNAL_DIFF");
    const std::string tool = external && *external ? external : "diff -u -N";
    const int status = std::system(
        (tool + " " + (dir / "live").string() + " " + (dir / "merged").string()).c_str());
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 2;
  }
  std::filesystem::remove_all(dir);
  return rc;
}

// A Task for people: what it runs, how it retries, where it stands, its
// conditions and its recent TaskRuns.
int run_describe(const solti::ctl::Target& target, const std::vector<std::string>& names) {
  solti::ctl::ApiClient client(target.connection);
  int failures = 0;
  for (const auto& name : names) {
    auto task = client.get(solti::ctl::ApiClient::path("tasks", target.namespace_, name));
    if (!task.ok()) {
      print_error(client, task.status());
      ++failures;
      continue;
    }
    const solti::Json& meta = (*task)["metadata"];
    const solti::Json status = task->value("status", solti::Json::object());
    auto field = [](const std::string& label, const std::string& value) {
      std::cout << std::left << std::setw(22) << (label + ":") << value << "\n";
    };
    auto text = [](const solti::Json& j, const char* key) {
      return j.contains(key) ? cell_text(j[key]) : std::string("<none>");
    };
    field("Name", meta.value("name", ""));
    field("Namespace", meta.value("namespace", ""));
    std::string labels;
    if (meta.contains("labels")) {
      for (const auto& [k, v] : meta["labels"].items())
        labels += (labels.empty() ? "" : ",") + k + "=" + v.get<std::string>();
    }
    field("Labels", labels.empty() ? "<none>" : labels);
    field("Created", text(meta, "creationTimestamp"));
    field("Generation", text(meta, "generation"));
    if (meta.contains("deletionTimestamp"))
      field("Deleting since", text(meta, "deletionTimestamp"));
    std::cout << "Spec:\n";
    std::istringstream spec(solti::to_yaml((*task)["spec"]));
    for (std::string line; std::getline(spec, line);) std::cout << "  " << line << "\n";
    std::cout << "Status:\n";
    for (const char* key :
         {"phase", "reason", "message", "observedGeneration", "attempt", "exitCode",
          "consecutiveFailures", "runner", "startTime", "completionTime", "nextAttemptTime"}) {
      if (status.contains(key)) {
        std::cout << "  ";
        field(key, cell_text(status[key]));
      }
    }
    std::cout << "Conditions:\n  " << std::left << std::setw(13) << "Type" << std::setw(9)
              << "Status" << std::setw(22) << "Reason"
              << "Message\n";
    const solti::Json conditions = status.value("conditions", solti::Json::array());
    for (const auto& c : conditions) {
      std::cout << "  " << std::setw(13) << c.value("type", "") << std::setw(9)
                << c.value("status", "") << std::setw(22) << c.value("reason", "")
                << c.value("message", "") << "\n";
    }
    std::cout << "TaskRuns:\n";
    auto runs = client.get_table(solti::ctl::ApiClient::path("taskruns", target.namespace_) +
                                 "?labelSelector=solti.io%2Ftask-uid%3D" + meta.value("uid", ""));
    if (runs.ok() && !(*runs)["rows"].empty()) {
      TableView view(*runs, false, false);
      view.print_all(*runs);
    } else {
      std::cout << "  <none>\n";
    }
    if (&name != &names.back()) std::cout << "\n";
  }
  return failures == 0 ? 0 : 1;
}

// suspend, resume and rerun are declarative: each changes the spec (so the
// change survives restarts and shows in diffs) and the reconciler acts on it.
int run_spec_change(const solti::ctl::Target& target, const std::vector<std::string>& names,
                    const std::string& verb) {
  solti::ctl::ApiClient client(target.connection);
  int failures = 0;
  for (const auto& name : names) {
    solti::Json spec;
    if (verb == "suspend") spec = {{"suspend", true}};
    if (verb == "resume") spec = {{"suspend", false}};
    if (verb == "rerun")
      spec = {{"rerunToken", solti::format_rfc3339(solti::system_clock().now())}};
    auto patched = client.merge_patch(solti::ctl::ApiClient::path("tasks", target.namespace_, name),
                                      {{"spec", spec}}, "soltictl");
    if (!patched.ok()) {
      print_error(client, patched.status());
      ++failures;
      continue;
    }
    const char* done = verb == "suspend" ? "suspended" : verb == "resume" ? "resumed" : "rerun";
    std::cout << "task.solti.io/" << name << " " << done << " (generation "
              << (*patched)["metadata"].value("generation", int64_t{0}) << ")\n";
  }
  return failures == 0 ? 0 : 1;
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

  std::string shell;
  auto* completion = app.add_subcommand(
      "completion", "Print a shell completion script (source <(soltictl completion bash))");
  completion->add_option("shell", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));

  std::string colour_mode = "auto";
  app.add_option("--color", colour_mode, "Colour: auto (on a terminal), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));

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
  bool prune = false;
  std::string prune_selector;
  apply->add_flag("--prune", prune,
                  "Delete Tasks selected by -l in the applied namespaces that the files no "
                  "longer contain");
  apply->add_option("-l,--selector", prune_selector, "Label selector for --prune (required)");

  std::vector<std::string> log_refs;
  bool follow = false;
  int64_t log_attempt = 0, tail = -1;
  auto* logs = app.add_subcommand("logs", "Print the log of a Task's attempt");
  logs->add_option("task", log_refs, "task/NAME or NAME")->required();
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
  get->add_option("-o,--output", output, "wide, json, yaml, name or jsonpath=TEMPLATE");
  get->add_flag("-A,--all-namespaces", all_namespaces, "Across every namespace");
  bool watch = false;
  get->add_flag("-w,--watch", watch, "After the table, print every change as it happens");

  std::vector<std::string> delete_refs;
  std::string delete_selector;
  bool delete_wait = true;
  double timeout_seconds = 300;
  auto* del = app.add_subcommand("delete", "Delete Tasks (and, through them, their TaskRuns)");
  del->add_option("tasks", delete_refs, "NAME ..., task/NAME ... or task NAME ...");
  del->add_option("-l,--selector", delete_selector, "Delete the Tasks this label selector selects");
  del->add_flag("--wait", delete_wait,
                "Return only once each Task is gone (default; --wait=false not)");
  del->add_option("--timeout", timeout_seconds, "Seconds to wait (default 300)");

  std::vector<std::string> wait_refs;
  std::string wait_for;
  auto* wait = app.add_subcommand("wait", "Wait for Tasks to reach a phase or condition");
  wait->add_option("tasks", wait_refs, "NAME ..., task/NAME ... or task NAME ...")->required();
  wait->add_option("--for", wait_for, "phase=Succeeded or condition=Succeeded[=True]")->required();
  wait->add_option("--timeout", timeout_seconds, "Seconds to wait (default 300)");

  std::vector<std::string> diff_paths;
  bool diff_recursive = false;
  auto* diff = app.add_subcommand("diff", "Show what apply would change (exit 1 when it would)");
  diff->add_option("-f,--filename", diff_paths, "File, directory or - for stdin")->required();
  diff->add_flag("-R,--recursive", diff_recursive, "Descend into subdirectories of directories");

  std::vector<std::string> describe_refs;
  auto* describe =
      app.add_subcommand("describe", "Show a Task's spec, status, conditions and runs");
  describe->add_option("tasks", describe_refs, "NAME ..., task/NAME ... or task NAME ...")
      ->required();

  std::vector<std::string> change_refs;
  std::map<std::string, CLI::App*> spec_verbs;
  for (const char* verb : {"suspend", "resume", "rerun"}) {
    const std::string help =
        std::string(verb) == "suspend"
            ? "Cancel the running attempt and start nothing new (spec.suspend: true)"
        : std::string(verb) == "resume" ? "Let a suspended Task run again (spec.suspend: false)"
                                        : "Run a Task again as a new generation (spec.rerunToken)";
    spec_verbs[verb] = app.add_subcommand(verb, help);
    spec_verbs[verb]
        ->add_option("tasks", change_refs, "NAME ..., task/NAME ... or task NAME ...")
        ->required();
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  solti::ctl::configure_colour(colour_mode);
  if (*validate) return run_validate(paths, recursive);
  if (*completion) {
    std::cout << (shell == "zsh" ? solti::ctl::zsh_completion(app)
                                 : solti::ctl::bash_completion(app));
    return 0;
  }
  if (app.got_subcommand("version")) {
    std::cout << "soltictl " << SOLTI_VERSION << "\n";
    return 0;
  }
  auto target = solti::ctl::resolve_target(flags);
  if (!target.ok()) {
    solti::ctl::print_error_line(target.status().message());
    return 1;
  }
  // The verbs that name Tasks, with the names they were given.
  const std::vector<std::pair<CLI::App*, std::vector<std::string>*>> naming = {
      {logs, &log_refs},
      {del, &delete_refs},
      {wait, &wait_refs},
      {describe, &describe_refs},
      {spec_verbs["suspend"], &change_refs},
      {spec_verbs["resume"], &change_refs},
      {spec_verbs["rerun"], &change_refs}};
  for (const auto& [command, refs] : naming) {
    if (!*command) continue;
    auto names = task_names(command->get_name(), *refs);
    if (!names.ok()) {
      solti::ctl::print_error_line(names.status().message());
      return 2;
    }
    *refs = std::move(*names);
  }
  if (*logs) {
    if (log_refs.size() != 1) {
      solti::ctl::print_error_line("logs takes one Task");
      return 2;
    }
    return run_logs(*target, log_refs[0], follow, log_attempt, tail);
  }
  if (*apply) {
    if (prune && prune_selector.empty()) {
      solti::ctl::print_error_line(
          "--prune needs -l SELECTOR, so that only Tasks you label are pruned");
      return 2;
    }
    return run_apply(*target, apply_paths, apply_recursive, dry_run == "server",
                     prune ? prune_selector : "");
  }
  if (*get) {
    // kubectl's `get task/NAME`.
    if (const size_t slash = resource.find('/'); slash != std::string::npos && name.empty()) {
      name = resource.substr(slash + 1);
      resource.resize(slash);
    }
    return run_get(*target, resource, name, all_namespaces, selector, output, watch);
  }
  const auto timeout = std::chrono::milliseconds(int64_t(timeout_seconds * 1000));
  if (*del) {
    if (delete_refs.empty() == delete_selector.empty()) {
      solti::ctl::print_error_line("name Tasks or give -l, not both or neither");
      return 2;
    }
    return run_delete(*target, delete_refs, delete_selector, delete_wait, timeout);
  }
  if (*wait) return run_wait(*target, wait_refs, wait_for, timeout);
  if (*describe) return run_describe(*target, describe_refs);
  if (*diff) return run_diff(*target, diff_paths, diff_recursive);
  for (const auto& [verb, command] : spec_verbs)
    if (*command) return run_spec_change(*target, change_refs, verb);
  return 0;
}
