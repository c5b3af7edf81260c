#include "kubectl-like/completion.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace solti::ctl {
namespace {

// What a positional argument holds, by the name soltictl gives it.
const std::map<std::string, std::string> kPositionalWords = {
    {"tasks", "$(_soltictl_names tasks)"},
    {"task", "$(_soltictl_names tasks)"},
    {"resource", "tasks taskruns"},
    {"shell", "bash zsh"},
};

// The values of the flags that take one of a known set.
const std::map<std::string, std::string> kFlagValues = {
    {"--output", "wide json yaml name jsonpath="},
    {"--for", "phase=Succeeded phase=Failed phase=Running condition=Succeeded"},
    {"--dry-run", "none server"},
    {"--color", "auto always never"},
};

const std::set<std::string> kFileFlags = {"--filename", "--kubeconfig", "--certificate-authority"};

// The flags of one command (no positionals): every spelling, and the
// spellings of those that take a value.
struct Flags {
  std::vector<std::string> all;
  std::vector<std::string> with_value;
};

// Flags (-w, --help) expect nothing after them; options expect a value.
bool takes_value(const CLI::Option& option) { return option.get_expected_min() > 0; }

// `skip`: the spellings already offered (a verb's --help is the app's).
Flags flags_of(const CLI::App& app, const Flags* skip = nullptr) {
  Flags flags;
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_lnames().empty() && option->get_snames().empty()) continue;  // positional
    std::vector<std::string> names;
    for (const auto& s : option->get_snames()) names.push_back("-" + s);
    for (const auto& l : option->get_lnames()) names.push_back("--" + l);
    for (const auto& name : names) {
      if (skip && std::find(skip->all.begin(), skip->all.end(), name) != skip->all.end()) continue;
      flags.all.push_back(name);
      if (takes_value(*option)) flags.with_value.push_back(name);
    }
  }
  return flags;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// A bash `case` pattern: -n|--namespace, or with `prefix` ("get:")
// before each spelling, get:-n|get:--namespace.
std::string pattern(const CLI::Option& option, const std::string& prefix = "") {
  std::string out;
  for (const auto& s : option.get_snames()) out += (out.empty() ? "" : "|") + prefix + "-" + s;
  for (const auto& l : option.get_lnames()) out += (out.empty() ? "" : "|") + prefix + "--" + l;
  return out;
}

}  // namespace

std::string bash_completion(const CLI::App& app) {
  const Flags global = flags_of(app);
  std::vector<const CLI::App*> verbs = app.get_subcommands([](const CLI::App*) { return true; });
  std::vector<std::string> verb_names;
  std::map<const CLI::App*, Flags> verb_flags;  // without the global ones
  for (const auto* verb : verbs) {
    verb_names.push_back(verb->get_name());
    verb_flags[verb] = flags_of(*verb, &global);
  }

  // The global flags that say which server and namespace to ask for names.
  std::vector<std::string> connection;
  for (const CLI::Option* option : app.get_options())
    if (takes_value(*option) && !option->get_lnames().empty() && option->get_lnames()[0] != "color")
      connection.push_back(pattern(*option));

  std::ostringstream out;
  out << "# bash completion for soltictl: source <(soltictl completion bash)\n"
      << "_soltictl_names() {\n"
      << "  local args=() i\n"
      << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "    case ${COMP_WORDS[i]} in\n";
  for (const auto& p : connection)
    out << "      " << p << ") args+=(\"${COMP_WORDS[i]}\" \"${COMP_WORDS[i+1]}\") ;;\n";
  out << "    esac\n"
      << "  done\n"
      << "  \"${COMP_WORDS[0]}\" \"${args[@]}\" get \"$1\" --color=never "
         "-o 'jsonpath={.items[*].metadata.name}' 2>/dev/null\n"
      << "}\n\n"
      << "# The flags of VERB (and the global ones) that take a value.\n"
      << "_soltictl_valued() {\n"
      << "  case $1 in\n";
  for (const auto* verb : verbs) {
    const Flags& f = verb_flags[verb];
    out << "    " << verb->get_name() << ") echo \" " << joined(f.with_value) << " "
        << joined(global.with_value) << " \" ;;\n";
  }
  out << "    *) echo \" " << joined(global.with_value) << " \" ;;\n"
      << "  esac\n"
      << "}\n\n"
      << "_soltictl() {\n"
      << "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      << "  local verb='' i w skip='' positionals=()\n"
      << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "    w=${COMP_WORDS[i]}\n"
      << "    if [[ -n $skip ]]; then skip=''; continue; fi\n"
      << "    if [[ $w == -* ]]; then [[ $(_soltictl_valued \"$verb\") == *\" $w \"* ]] && "
         "skip=1; continue; fi\n"
      << "    if [[ -z $verb ]]; then verb=$w; else positionals+=(\"$w\"); fi\n"
      << "  done\n"
      << "  case $verb:$prev in\n";
  // The value of a flag, by verb (-f is a file for apply, a flag for logs).
  auto value_cases = [&](const CLI::App& command, const std::string& verb) {
    for (const CLI::Option* option : command.get_options()) {
      if (option->get_lnames().empty()) continue;
      const std::string long_name = "--" + option->get_lnames()[0];
      const std::string cases = pattern(*option, verb + ":");
      if (kFileFlags.count(long_name)) {
        out << "    " << cases
            << ") compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); "
               "return ;;\n";
      } else if (auto it = kFlagValues.find(long_name); it != kFlagValues.end()) {
        out << "    " << cases << ") COMPREPLY=($(compgen -W \"" << it->second
            << "\" -- \"$cur\")); [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null; "
               "return ;;\n";
      }
    }
  };
  for (const auto* verb : verbs) value_cases(*verb, verb->get_name());
  value_cases(app, "*");
  out << "  esac\n"
      << "  if [[ -z $verb ]]; then\n"
      << "    COMPREPLY=($(compgen -W \"" << joined(verb_names) << " " << joined(global.all)
      << "\" -- \"$cur\")); return\n"
      << "  fi\n"
      << "  local words=''\n"
      << "  case $verb in\n";
  for (const auto* verb : verbs) {
    const Flags& f = verb_flags[verb];
    std::vector<std::string> positional_words;
    for (const CLI::Option* option : verb->get_options()) {
      if (!option->get_lnames().empty() || !option->get_snames().empty()) continue;
      auto it = kPositionalWords.find(option->get_name());
      positional_words.push_back(it == kPositionalWords.end() ? "" : it->second);
    }
    out << "    " << verb->get_name() << ")\n"
        << "      if [[ $cur == -* ]]; then words=\"" << joined(f.all) << " " << joined(global.all)
        << "\"\n";
    // get's second positional is a name of the resource its first names.
    if (verb->get_name() == "get") {
      out << "      elif [[ ${#positionals[@]} -eq 0 ]]; then words=\"" << positional_words[0]
          << "\"\n"
          << "      elif [[ ${#positionals[@]} -eq 1 ]]; then words=$(_soltictl_names "
             "\"${positionals[0]}\")\n";
    } else if (!positional_words.empty() && !positional_words[0].empty()) {
      out << "      else words=\"" << positional_words[0] << "\"\n";
    }
    out << "      fi ;;\n";
  }
  out << "  esac\n"
      << "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      << "}\n"
      << "complete -F _soltictl soltictl\n";
  return out.str();
}

std::string zsh_completion(const CLI::App& app) {
  return "#compdef soltictl\n"
         "# zsh completion for soltictl: source <(soltictl completion zsh)\n"
         "autoload -U +X bashcompinit && bashcompinit\n" +
         bash_completion(app);
}

}  // namespace solti::ctl
