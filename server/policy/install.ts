// Start-up: the policy file named by the configuration becomes the stored policy (unless it already is).
import type { Logger } from "pino";
import type { Services as Store } from "../services.js";
import { loadPolicyFile } from "./load.js";

/** Reads and validates the file first: a bad policy throws PolicyFileError before anything is stored. */
export function readStartupPolicy(file: string | undefined): ReturnType<typeof loadPolicyFile> | undefined {
  return file === undefined ? undefined : loadPolicyFile(file);
}

/** Stores the file's policy when it differs from the stored one, so restarts do not bump the version. */
export async function installStartupPolicy(
  store: Store,
  loaded: ReturnType<typeof loadPolicyFile> | undefined,
  log: Logger,
): Promise<void> {
  if (!loaded) return;
  const current = await store.getPolicy();
  if (current?.source === loaded.source && current.format === loaded.format) {
    log.info({ version: current.version, rules: loaded.policy.rules.length }, "policy file already current");
    return;
  }
  const stored = await store.setPolicy(loaded.source, loaded.format, new Date());
  log.info({ version: stored.version, rules: loaded.policy.rules.length }, "policy file loaded");
}
