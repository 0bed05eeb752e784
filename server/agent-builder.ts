// Builds the deployment agent tailored to one machine (seed 002 claims 8, 12, 23, 24): esbuild bundles
// only the installer plugins whose probe applies to this inventory + plan, with the plan baked in.
// Bundles are content-addressed (sha256) and cached by (plugin set, plan hash, source version).
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { NODE_ESM_BUNDLE } from "../build-scripts/esbuild-node.js";
// The probes only (pure, no undici nor child_process); each whole plugin is named by path, for esbuild.
import { PLUGINS, selectPlugins } from "../agent/installer/registry.js";
import type { AgentPlan, Inventory } from "../protocol/index.js";
import { ServerError } from "./errors.js";
import { INSTALL_ROOT } from "./install-root.js";

const INSTALLER_DIR = join(INSTALL_ROOT, "agent/installer");
/** Everything a bundle can contain: a change to any of these is a new source version. */
const SOURCE_DIRS = ["agent", "protocol"].map((dir) => join(INSTALL_ROOT, dir));

export interface BuiltAgent {
  sha256: string;
  sizeBytes: number;
  plugins: string[];
  /** True when the bundle came from the cache, not from esbuild. */
  cached: boolean;
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Hash of every .ts file (not tests) under the bundle's source folders, in a fixed order. */
function hashSources(): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== "fixtures") walk(path);
      } else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) {
        hash.update(path.slice(INSTALL_ROOT.length)).update(readFileSync(path));
      }
    }
  };
  SOURCE_DIRS.forEach(walk);
  return hash.digest("hex");
}

/** The entry module: the chosen plugins, the plan as a constant, and `run` over them. */
function entrySource(plan: AgentPlan, pluginNames: readonly string[]): string {
  const chosen = PLUGINS.filter(({ plugin }) => pluginNames.includes(plugin.name));
  return [
    `import { runSteps } from "./runtime.ts";`,
    ...chosen.map(({ module, exportName }) => `import { ${exportName} } from "./${module}";`),
    `export const plan = ${JSON.stringify(plan)};`,
    `export const plugins = ${JSON.stringify(chosen.map(({ plugin }) => plugin.name))};`,
    `export function run(agentRun) { return runSteps(plan, [${chosen.map(({ exportName }) => exportName).join(", ")}], agentRun); }`,
  ].join("\n");
}

export class AgentBuilder {
  /** cache key → sha256 of the bundle on disk. */
  private readonly built = new Map<string, string>();
  private sourceVersion: string | undefined;

  constructor(private readonly outDir: string) {
    mkdirSync(outDir, { recursive: true });
  }

  /** Hashed once per builder: a server restart picks up new agent code. */
  private version(): string {
    this.sourceVersion ??= hashSources();
    return this.sourceVersion;
  }

  bundlePath(sha: string): string | undefined {
    if (!/^[0-9a-f]{64}$/.test(sha)) return undefined;
    const path = join(this.outDir, `${sha}.mjs`);
    return existsSync(path) ? path : undefined;
  }

  async build(inventory: Inventory, plan: AgentPlan): Promise<BuiltAgent> {
    return this.buildFor(
      selectPlugins(inventory, plan).map((p) => p.name),
      plan,
    );
  }

  /** Builds (or finds) the bundle of exactly these plugins with this plan. */
  async buildFor(pluginNames: readonly string[], plan: AgentPlan): Promise<BuiltAgent> {
    const key = sha256(
      JSON.stringify([pluginNames, plan.planHash, sha256(JSON.stringify(plan)), this.version()]),
    );
    const known = this.built.get(key);
    if (known !== undefined) {
      const path = this.bundlePath(known);
      if (path)
        return { sha256: known, sizeBytes: statSync(path).size, plugins: [...pluginNames], cached: true };
    }
    let code: string;
    try {
      const result = await build({
        stdin: {
          contents: entrySource(plan, pluginNames),
          resolveDir: INSTALLER_DIR,
          sourcefile: "agent-entry.ts",
          loader: "ts",
        },
        absWorkingDir: INSTALL_ROOT,
        ...NODE_ESM_BUNDLE,
        write: false,
        legalComments: "none",
        logLevel: "silent",
      });
      code = result.outputFiles[0]?.text ?? "";
    } catch (err) {
      throw new ServerError(
        `building the agent for plan ${plan.planHash} failed: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
    const sha = sha256(code);
    const path = join(this.outDir, `${sha}.mjs`);
    if (!existsSync(path)) {
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, code, { flush: true });
      renameSync(temp, path);
    }
    this.built.set(key, sha);
    return { sha256: sha, sizeBytes: Buffer.byteLength(code), plugins: [...pluginNames], cached: false };
  }
}
