// Fetches a tailored agent bundle, checks its sha256 against the one the server named before running
// anything, and loads it into this same Node process.
import { credentialHeaders, type Credentialed } from "../shared/credential.js";
import { httpRequest } from "../shared/http-client.js";
import { createHash } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { AgentPlan, BootwrightError, type FailureContext, type StepReport } from "../../protocol/index.js";
import type { AgentRun } from "../installer/runtime.js";

export interface LoadedAgent {
  plan: AgentPlan;
  plugins: string[];
  run: (run: AgentRun) => Promise<StepReport[]>;
}

export class AgentIntegrityError extends BootwrightError<"agent_integrity"> {
  constructor(message: string, context: FailureContext<"agent_integrity">) {
    super("agent_integrity", message, context);
  }
}

/** Downloads `url`, refuses it unless its sha256 is `expectedSha256`, and imports it. */
export async function loadVerifiedAgent(
  url: string,
  expectedSha256: string,
  machine: Credentialed,
  workDir = "/tmp",
): Promise<LoadedAgent> {
  const response = await httpRequest(url, { headers: credentialHeaders(machine), timeoutMs: 60_000 });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  const bytes = response.body;
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== expectedSha256) {
    throw new AgentIntegrityError(
      `agent from ${url} has sha256 ${actual}, expected ${expectedSha256}: not running it`,
      { url, sha256: actual },
    );
  }
  const file = join(workDir, `bootwright-agent-${actual}.mjs`);
  await writeFile(`${file}.tmp`, bytes);
  await rename(`${file}.tmp`, file);
  const loaded: unknown = await import(pathToFileURL(file).href);
  if (
    typeof loaded !== "object" ||
    loaded === null ||
    !("run" in loaded) ||
    typeof loaded.run !== "function"
  ) {
    throw new AgentIntegrityError(`agent ${actual} exports no run()`, { url, sha256: actual });
  }
  const module = loaded as { run: LoadedAgent["run"]; plan?: unknown; plugins?: unknown };
  return {
    plan: AgentPlan.parse(module.plan),
    plugins: Array.isArray(module.plugins) ? module.plugins.map(String) : [],
    run: module.run,
  };
}
