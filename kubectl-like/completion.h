// Shell completion for soltictl, generated from its CLI11 definition so
// that it never lags behind the flags: verbs, each verb's flags, the
// values of the flags that have a fixed set, files for -f, and Task
// names asked of the server (`get tasks -o jsonpath=...`, with the -n,
// --server and kubeconfig flags already on the command line).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace solti::ctl {

// A script for `source <(soltictl completion bash)`.
std::string bash_completion(const CLI::App& app);

// A script for zsh (`source <(soltictl completion zsh)`, or saved as
// _soltictl on $fpath): the bash one through zsh's bashcompinit.
std::string zsh_completion(const CLI::App& app);

}  // namespace solti::ctl
