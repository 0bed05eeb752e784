// The registry the server imports: its module graph (esbuild's metafile: every module a run-time import
// reaches, type-only imports being erased) holds only the probes, no Node builtin and no package; and
// each entry names the module and export of a whole plugin that carries exactly that probe.
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import type { InstallerPlugin } from "./plugin.js";
import { PLUGINS } from "./registry.js";

const INSTALLER_DIR = import.meta.dirname;
const REPO_ROOT = join(INSTALLER_DIR, "../..");

/** The files (from the repo root) and the external imports (builtins, packages) of these entries. */
async function moduleGraph(entries: string[]): Promise<{ files: string[]; externals: string[] }> {
  const { metafile } = await build({
    entryPoints: entries.map((entry) => join(INSTALLER_DIR, entry)),
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: "node",
    format: "esm",
    // Every package stays an import of its own, so it shows up below instead of inside the bundle.
    packages: "external",
    outdir: "out",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const externals = Object.values(metafile.inputs).flatMap(({ imports }) =>
    imports.filter((i) => i.external).map((i) => i.path),
  );
  return {
    // Keyed by path from absWorkingDir.
    files: Object.keys(metafile.inputs),
    externals: [...new Set(externals)].sort(),
  };
}

describe("the probe registry", () => {
  it("loads only the pure probes: no undici, no node:child_process, no Node builtin at all", async () => {
    const graph = await moduleGraph(["registry.ts"]);
    expect(graph.externals).toEqual([]);
    expect(graph.files.filter((f) => !/^agent\/installer\/(registry|probes\/[a-z-]+)\.ts$/.test(f))).toEqual(
      [],
    );
    expect(graph.files).toContain("agent/installer/probes/mdadm-raid.ts");
  });

  it("sees what the whole plugins load (the check above is not blind)", async () => {
    const modules = [...new Set(PLUGINS.map((p) => p.module))];
    const graph = await moduleGraph([...modules, "runtime.ts"]);
    expect(graph.externals).toEqual(expect.arrayContaining(["undici", "node:child_process"]));
    expect(graph.files).toContain("agent/installer/plugins/mdadm-raid.ts");
  });

  it("names, for every probe, the module and export of the whole plugin with that very probe", async () => {
    expect(new Set(PLUGINS.map((p) => p.plugin.name)).size).toBe(PLUGINS.length);
    for (const { plugin, module, exportName } of PLUGINS) {
      const exports = (await import(`./${module.replace(/\.ts$/, ".js")}`)) as Record<
        string,
        InstallerPlugin | undefined
      >;
      const whole = exports[exportName];
      expect(whole, `${module} exports ${exportName}`).toBeDefined();
      expect({ name: whole?.name, phase: whole?.phase, probe: whole?.probe }).toEqual(plugin);
      expect(whole?.probe).toBe(plugin.probe);
      expect(whole?.steps.length, `${plugin.name} has steps`).toBeGreaterThan(0);
    }
  });
});
