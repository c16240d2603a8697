/**
 * Shell completion for bash and zsh. The scripts ask the CLI itself (`graycast __complete`), so
 * they always match the installed commands and options, this registry included.
 */
import { UsageError } from "../errors";
import { COMMANDS, GLOBAL_OPTIONS, register, route } from "../registry";

const BASH = `# graycast completion for bash: add to ~/.bashrc
#   source <(graycast completion bash)
_graycast_complete() {
  local IFS=$'\\n'
  COMPREPLY=( $(graycast __complete "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null) )
}
complete -o default -F _graycast_complete graycast
`;

const ZSH = `#compdef graycast
# graycast completion for zsh: add to ~/.zshrc (after compinit)
#   source <(graycast completion zsh)
_graycast() {
  local -a candidates
  candidates=("\${(@f)$(graycast __complete "\${words[CURRENT]}" "\${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
  if (( \${#candidates} )) && [[ -n "\${candidates[1]}" ]]; then
    compadd -a candidates
  else
    _files
  fi
}
compdef _graycast graycast
`;

register({
  name: "completion",
  summary: "Print the bash or zsh completion script",
  noAuth: true,
  positionals: [{ name: "shell", required: true, description: "bash or zsh" }],
  examples: [
    "source <(graycast completion bash)      # in ~/.bashrc",
    "source <(graycast completion zsh)       # in ~/.zshrc, after compinit",
    "graycast completion zsh > ~/.zfunc/_graycast   # a folder in your fpath",
  ],
  async run(ctx) {
    const shell = ctx.positionals[0];
    if (shell !== "bash" && shell !== "zsh") throw new UsageError("the shell is bash or zsh");
    const script = shell === "bash" ? BASH : ZSH;
    if (ctx.out.json) return { shell, script };
    ctx.streams.stdout.write(script);
    return undefined;
  },
  show() {},
});

/** Candidates for the word being typed (`current`) after `before` (the words already typed). */
export function completions(current: string, before: string[]): string[] {
  const words = before.filter((w) => !w.startsWith("-"));
  const { command } = route(words);
  if (current.startsWith("-")) {
    const options = { ...GLOBAL_OPTIONS, ...(command?.options ?? {}) };
    return Object.keys(options)
      .map((o) => `--${o}`)
      .filter((o) => o.startsWith(current));
  }
  // The next word of every command whose name starts with the words typed so far.
  const typed = words.join(" ");
  const next = new Set<string>();
  for (const c of COMMANDS) {
    const parts = c.name.split(" ");
    if (parts.length <= words.length) continue;
    if (parts.slice(0, words.length).join(" ") !== typed) continue;
    next.add(parts[words.length]!);
  }
  return [...next].filter((w) => w.startsWith(current)).sort();
}
