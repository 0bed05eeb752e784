// The Debian package's node_modules/: the run-time dependency closure of package.json's dependencies (what
// dist/ loads and what the agent builder bundles), copied without what only an addon's build or an editor
// reads. Walked the way Node resolves packages, so nested copies land where Node will look for them.
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import * as z from "zod";

/** A copied package, for the copyright file. */
export interface PackageLicence {
  name: string;
  version: string;
  license: string;
}

export const ModuleJson = z.object({
  name: z.string(),
  version: z.string(),
  license: z.string().optional(),
});

/**
 * Packages only an addon's build uses (prebuild-install fetches or compiles it at `npm ci`; node-addon-api
 * is C++ headers), and type declarations: none of them is loaded by a running install.
 */
const BUILD_ONLY = new Set(["prebuild-install", "node-addon-api", "@types/node"]);

/** Inside a package: what a running install never reads (build intermediates, dotfiles, Bare's addons). */
const NOT_AT_RUN_TIME = [
  /^better-sqlite3\/(deps|src)$/,
  /^zstd-napi\/deps$/,
  /^esbuild\/bin$/, // the esbuild command; the JS API runs @esbuild/linux-x64's copy
  /\/build\/Release\/(obj|obj\.target|\.deps|\w+\.a|test_extension\.node)$/,
  /\/build\/(Makefile|config\.gypi|\w+\.mk|binding\.Makefile|node_gyp_bins)$/,
  /\/prebuilds$/, // addons for the Bare runtime (bare-fs …), never loaded by Node
  /\/\.[^/]+$/, // .npmignore, .eslintrc, .github: lintian counts them as errors
];

const DependencyFields = z.object({
  dependencies: z.record(z.string(), z.string()).optional(),
  optionalDependencies: z.record(z.string(), z.string()).optional(),
});

/** Where Node finds `name` from the package at `from` (e.g. "tar-fs/node_modules/tar-stream"): in its
 * own node_modules, then in each enclosing package's, then at the top. */
function resolvePackage(modules: string, from: string, name: string): string | undefined {
  let dir: string | undefined = from;
  while (dir !== undefined) {
    const candidate = `${dir}/node_modules/${name}`;
    if (existsSync(join(modules, candidate, "package.json"))) return candidate;
    const at = dir.lastIndexOf("/node_modules/");
    dir = at === -1 ? undefined : dir.slice(0, at);
  }
  return existsSync(join(modules, name, "package.json")) ? name : undefined;
}

/**
 * The run-time dependency closure of package.json's dependencies, as paths under node_modules/ (nested
 * copies included), walking each package's dependencies the way Node resolves them.
 */
function runtimePackages(root: string): string[] {
  const modules = join(root, "node_modules");
  const roots = Object.keys(
    DependencyFields.parse(JSON.parse(readFileSync(join(root, "package.json"), "utf8"))).dependencies ?? {},
  );
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const fields = DependencyFields.parse(
      JSON.parse(readFileSync(join(modules, path, "package.json"), "utf8")),
    );
    for (const name of Object.keys({ ...fields.dependencies, ...fields.optionalDependencies })) {
      if (BUILD_ONLY.has(name)) continue;
      const found = resolvePackage(modules, path, name);
      if (found) visit(found); // an optional dependency for another platform is simply not there
    }
  };
  for (const name of roots) visit(name);
  return [...seen].sort();
}

/** Copies the run-time packages from `root`'s node_modules into `app`'s; returns what it copied. */
export function copyNodeModules(root: string, app: string): PackageLicence[] {
  const source = join(root, "node_modules");
  const dest = join(app, "node_modules");
  const modules: PackageLicence[] = [];
  for (const path of runtimePackages(root)) {
    cpSync(join(source, path), join(dest, path), {
      recursive: true,
      filter: (file) => {
        const inner = relative(source, file);
        // Nested node_modules hold packages of their own: copied when the walk reaches them.
        if (inner.startsWith(`${path}/node_modules`)) return false;
        return !NOT_AT_RUN_TIME.some((re) => re.test(inner));
      },
    });
    const info = ModuleJson.parse(JSON.parse(readFileSync(join(dest, path, "package.json"), "utf8")));
    modules.push({ name: info.name, version: info.version, license: info.license ?? "see its folder" });
  }
  return modules;
}
