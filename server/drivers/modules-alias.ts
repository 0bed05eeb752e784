// Which kernel module claims a device: the kernel's modules.alias (depmod's output: `alias <glob> <module>`)
// matched against the device's modalias (/sys/bus/pci/devices/*/modalias), as modprobe does.

export interface ModuleAlias {
  /** The glob as depmod wrote it, e.g. pci:v00001000d0000005Bsv*sd*bc*sc*i*. */
  glob: string;
  module: string;
  pattern: RegExp;
}

/** Parses modules.alias; each glob is compiled once (fnmatch: `*`, `?`, `[...]`). */
export function parseModulesAlias(text: string): ModuleAlias[] {
  const aliases: ModuleAlias[] = [];
  for (const line of text.split("\n")) {
    const match = /^alias\s+(\S+)\s+(\S+)/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    aliases.push({ glob: match[1], module: match[2], pattern: globPattern(match[1]) });
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
  for (const alias of aliases) if (alias.pattern.test(modalias)) found.add(alias.module);
  return [...found];
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
