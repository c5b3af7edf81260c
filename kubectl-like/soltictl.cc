// soltictl: the kubectl-like client for Solti (DESIGN §8).
// Exit codes: 0 ok, 1 failure, 2 usage.
#include <CLI/CLI.hpp>
#include <iostream>

#include "kubectl-like/manifest_source.h"
#include "model/manifest.h"

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

// Offline check of manifests: decoding, unknown fields and validation, each
// problem reported as FILE:LINE:COLUMN. Needs no server (CI lint step).
int run_validate(const std::vector<std::string>& paths, bool recursive) {
  auto files = solti::ctl::read_manifest_files(paths, recursive);
  if (!files.ok()) {
    std::cerr << "error: " << files.status().message() << "\n";
    return 1;
  }
  size_t tasks = 0, problems = 0;
  for (const auto& file : *files) {
    auto manifests = solti::decode_task_manifests(file.text, solti::Origin::kApi);
    if (!manifests.ok()) {
      std::cerr << file.path << ": " << manifests.status().message() << "\n";
      ++problems;
      continue;
    }
    for (const auto& manifest : *manifests) {
      ++tasks;
      for (const auto& problem : manifest.problems) {
        std::cerr << problem.to_string(file.path) << "\n";
        ++problems;
      }
      if (manifest.problems.empty()) print_valid(file.path, manifest.task);
    }
  }
  if (problems > 0) {
    std::cerr << problems << " problem(s) in " << files->size() << " file(s)\n";
    return 1;
  }
  std::cout << tasks << " task(s) in " << files->size() << " file(s) are valid\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"soltictl: the command-line client for Solti"};
  app.require_subcommand(1);

  std::vector<std::string> paths;
  bool recursive = false;
  auto* validate = app.add_subcommand("validate", "Check Task manifests without a server");
  validate->add_option("-f,--filename", paths, "File, directory or - for stdin")->required();
  validate->add_flag("-R,--recursive", recursive, "Descend into subdirectories of directories");

  app.add_subcommand("version", "Print the client version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (*validate) return run_validate(paths, recursive);
  std::cout << "soltictl " << SOLTI_VERSION << "\n";
  return 0;
}
