// Reads what a systemd service unit says about how its program runs (ExecStart, User, Group, Environment,
// capabilities, NoNewPrivileges), and turns it into a setpriv command line: the package test starts the
// server the way systemd would where systemd is not PID 1 (a chroot).

export interface ServiceUnit {
  execStart: string[];
  user: string;
  group: string;
  environment: Record<string, string>;
  ambientCapabilities: string[];
  capabilityBoundingSet: string[];
  noNewPrivileges: boolean;
}

/** The [Service] section's settings (the last value of a key wins, except Environment, which adds up). */
export function parseServiceUnit(text: string): ServiceUnit {
  const settings = new Map<string, string[]>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      section = header[1];
      continue;
    }
    const at = line.indexOf("=");
    if (section !== "Service" || at < 0) continue;
    const key = line.slice(0, at).trim();
    settings.set(key, [...(settings.get(key) ?? []), line.slice(at + 1).trim()]);
  }
  const one = (key: string): string => {
    const value = settings.get(key)?.at(-1);
    if (value === undefined) throw new Error(`the unit has no ${key}=`);
    return value;
  };
  const words = (value: string): string[] => {
    // Our units quote nothing; a quote here would need systemd's full quoting rules.
    if (/["'\\]/.test(value)) throw new Error(`quoting is not handled: ${value}`);
    return value.split(/\s+/).filter(Boolean);
  };
  const environment: Record<string, string> = {};
  for (const assignment of (settings.get("Environment") ?? []).flatMap(words)) {
    const eq = assignment.indexOf("=");
    environment[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  return {
    execStart: words(one("ExecStart")),
    user: one("User"),
    group: one("Group"),
    environment,
    ambientCapabilities: words(settings.get("AmbientCapabilities")?.at(-1) ?? ""),
    capabilityBoundingSet: words(settings.get("CapabilityBoundingSet")?.at(-1) ?? ""),
    noNewPrivileges: settings.get("NoNewPrivileges")?.at(-1) === "yes",
  };
}

/** setpriv's argv for the unit's user, group, capabilities and no-new-privs, then its ExecStart. */
export function setprivArgv(unit: ServiceUnit): string[] {
  const caps = (names: readonly string[]): string =>
    ["-all", ...names.map((name) => `+${name.replace(/^CAP_/, "").toLowerCase()}`)].join(",");
  return [
    "setpriv",
    `--reuid=${unit.user}`,
    `--regid=${unit.group}`,
    "--init-groups",
    `--inh-caps=${caps(unit.ambientCapabilities)}`,
    `--ambient-caps=${caps(unit.ambientCapabilities)}`,
    `--bounding-set=${caps(unit.capabilityBoundingSet)}`,
    ...(unit.noNewPrivileges ? ["--no-new-privs"] : []),
    "--",
    ...unit.execStart,
  ];
}
