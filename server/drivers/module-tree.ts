// Resolves kernel module names to the .ko files they need, through modules.dep (pure).
import { globPattern } from "./modules-alias.js";

/** Module names are file names without `.ko`, and the kernel treats `-` and `_` alike. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, "").replaceAll("-", "_");
}

/** Parses modules.dep: `kernel/a.ko: kernel/b.ko kernel/c.ko` → path → dependency paths. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    deps.set(
      line.slice(0, colon),
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  return deps;
}

/**
 * The module files that `wanted` needs, dependencies included, sorted. Throws naming every wanted
 * module that the kernel does not ship (a typo in modules.txt must not build a driverless initramfs);
 * names listed in `builtin` are satisfied already and skipped.
 */
export function moduleClosure(
  modulesDep: string,
  wanted: readonly string[],
  builtin: ReadonlySet<string>,
): string[] {
  const deps = parseModulesDep(modulesDep);
  const byName = new Map([...deps.keys()].map((path) => [moduleName(path), path]));
  const missing: string[] = [];
  const result = new Set<string>();
  const visit = (path: string): void => {
    if (result.has(path)) return;
    result.add(path);
    for (const dep of deps.get(path) ?? []) visit(dep);
  };
  for (const raw of wanted) {
    const name = raw.replaceAll("-", "_");
    const path = byName.get(name);
    if (path) visit(path);
    else if (!builtin.has(name)) missing.push(raw);
  }
  if (missing.length)
    throw new Error(`kernel modules not found in modules.dep nor built in: ${missing.join(", ")}`);
  return [...result].sort();
}

/**
 * Expands modules.txt entries against the module paths of a kernel tree (modules.dep's keys): a module
 * name stays as it is; a directory of the tree ending in `/` (e.g. `kernel/drivers/net/ethernet/`) means
 * every module under it; `-<glob>` then drops the modules a directory brought whose name matches it
 * (fnmatch: `*` any run of characters). Names come back in the order first seen, once each.
 */
export function expandModuleList(paths: Iterable<string>, entries: readonly string[]): string[] {
  const all = [...paths];
  const drops = entries
    .filter((entry) => entry.startsWith("-"))
    .map((entry) => globPattern(entry.slice(1).replaceAll("-", "_")));
  const names = new Set<string>();
  for (const entry of entries) {
    if (entry.startsWith("-")) continue;
    if (!entry.endsWith("/")) {
      names.add(entry.replaceAll("-", "_"));
      continue;
    }
    const under = all.filter((path) => path.startsWith(entry)).map(moduleName);
    if (!under.length) throw new Error(`no kernel modules under ${entry}`);
    for (const name of under) if (!drops.some((drop) => drop.test(name))) names.add(name);
  }
  return [...names];
}

/** modules.txt: one module name a line, `#` comments. */
export function parseModuleList(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean);
}

/**
 * The marker scripts/sign-file appends after a module's signature (include/linux/module_signature.h):
 * under Secure Boot the kernel locks down and loads only signed modules, so every module we ship must be
 * Debian's signed one, byte for byte (no stripping, no recompression that drops it).
 */
const MODULE_SIGNATURE_MARKER = Buffer.from("~Module signature appended~\n");

export function isSignedModule(bytes: Buffer): boolean {
  return (
    bytes.length > MODULE_SIGNATURE_MARKER.length &&
    bytes.subarray(bytes.length - MODULE_SIGNATURE_MARKER.length).equals(MODULE_SIGNATURE_MARKER)
  );
}
