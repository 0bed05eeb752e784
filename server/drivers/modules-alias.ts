// Which kernel module claims a device: the kernel's modules.alias (depmod's output: `alias <glob> <module>`)
// matched against the device's modalias (/sys/bus/pci/devices/*/modalias), as modprobe does.

export interface ModuleAlias {
  /** The glob as depmod wrote it, e.g. pci:v00001000d0000005Bsv*sd*bc*sc*i*. */
  glob: string;
  module: string;
  /** The glob's text before its first wildcard: most aliases are ruled out by it without a regex. */
  prefix: string;
  pattern: RegExp;
}

/** Parses modules.alias; each glob is compiled once (fnmatch: `*`, `?`, `[...]`). */
export function parseModulesAlias(text: string): ModuleAlias[] {
  const aliases: ModuleAlias[] = [];
  for (const line of text.split("\n")) {
    const match = /^alias\s+(\S+)\s+(\S+)/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const glob = match[1];
    aliases.push({ glob, module: match[2], prefix: literalPrefix(glob), pattern: globPattern(glob) });
  }
  return aliases;
}

/**
 * Every module whose alias matches the modalias, in modules.alias order, once each. Like modprobe, more
 * than one module may claim a device (e.g. a generic and a vendor driver): all are candidates, and the
 * kernel binds the one whose probe accepts it. An alias nothing claims gives [].
 */
export function modulesFor(aliases: readonly ModuleAlias[], modalias: string): string[] {
  const found = new Set<string>();
  // A prefix test before the regex: a kernel has ~30,000 aliases, and V8 compiles each regex on its first
  // use, which made a machine's first drivers request cost ~0.7 s of server time.
  for (const alias of aliases)
    if (modalias.startsWith(alias.prefix) && alias.pattern.test(modalias)) found.add(alias.module);
  return [...found];
}

/** The glob up to its first `*`, `?` or `[`: every string it matches starts with this. */
function literalPrefix(glob: string): string {
  const wildcard = glob.search(/[*?[]/);
  return wildcard === -1 ? glob : glob.slice(0, wildcard);
}

/**
 * fnmatch(3) without flags, as kmod matches aliases: `*` and `?` match any character, `[...]` a set.
 * Also what modules.txt's and firmware.txt's `-glob` lines mean.
 */
export function globPattern(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] ?? "";
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else if (char === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close === -1) source += "\\[";
      else {
        const body = glob.slice(i + 1, close);
        source += `[${body.startsWith("!") ? "^" + body.slice(1) : body}]`;
        i = close;
      }
    } else source += char.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
