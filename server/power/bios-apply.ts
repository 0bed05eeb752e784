// A plan's BIOS attributes applied out of band (`bootwright bios apply`): checked against the BMC's
// AttributeRegistry, staged as pending settings on the Bios resource's SettingsObject, put into effect by
// a reset through the machine's Redfish driver, then read back; every step and any difference goes to
// the machine's step log as it is, never smoothed over.
import { setTimeout as delay } from "node:timers/promises";
import type { BiosApplyResult, BiosValue, PowerSettings } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { biosDifferences, registryIssues } from "./bios.js";
import { loginOf, withRedfish, type RedfishClient } from "./redfish-client.js";
import { restartInto } from "./redfish.js";
import type { Bios } from "./redfish-schema.js";

const POLL_MS = 1_000;

export interface BiosApplyDeps {
  power(machineId: string): Promise<PowerSettings>;
  /** The bios.attributes of its plan (or the policy's plan for it), and which; undefined when none. */
  attributes(machineId: string): Promise<{ attributes: Record<string, BiosValue>; from: string } | undefined>;
  log(machineId: string, event: string, data: Record<string, unknown>): Promise<void>;
}

/** How long the firmware may take, after the reset, to say it applied the pending settings. */
export interface BiosApplyOptions {
  applyTimeoutMs: number;
}

export async function applyBios(
  deps: BiosApplyDeps,
  machineId: string,
  options: BiosApplyOptions,
): Promise<BiosApplyResult> {
  const started = performance.now();
  const settings = await deps.power(machineId);
  if (settings.driver !== "redfish")
    throw new ApiError(
      "bios_unavailable",
      `${machineId}: its power driver is ${settings.driver}, not redfish`,
    );
  const planned = await deps.attributes(machineId);
  if (!planned)
    throw new ApiError(
      "bios_unavailable",
      `${machineId}: neither its plan nor the policy's plan for it has bios.attributes`,
    );
  const wanted = planned.attributes;
  // The reset's own bound, plus the staging, the wait for the firmware and the reading back.
  const signal = AbortSignal.timeout(settings.gracefulTimeoutMs + options.applyTimeoutMs + 180_000);

  return withRedfish(loginOf(settings), signal, async (client) => {
    const bios = await client.bios(signal);
    const registry = await client.attributeRegistry(bios, signal);
    const issues = registry ? registryIssues(wanted, registry) : [];
    if (issues.length > 0) {
      await deps.log(machineId, "bios-refused", { issues });
      throw new ApiError("bios_invalid", `${machineId}: ${issues.map((issue) => issue.message).join("; ")}`, {
        issues,
      });
    }
    const settingsObject = await client.stageBios(bios, wanted, signal);
    const timeBefore = bios["@Redfish.Settings"]?.Time;
    await deps.log(machineId, "bios-staged", {
      attributes: wanted,
      from: planned.from,
      settingsObject,
      registry: registry ? bios.AttributeRegistry : null,
    });

    const powerStarted = performance.now();
    let power: BiosApplyResult["power"];
    try {
      const off = await restartInto(client, "Pxe", settings.gracefulTimeoutMs, signal);
      power = { ok: true, ms: Math.round(performance.now() - powerStarted), error: null };
      await deps.log(machineId, "bios-reset", { via: "redfish", off, ms: power.ms });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      power = { ok: false, ms: Math.round(performance.now() - powerStarted), error };
      await deps.log(machineId, "bios-reset", { via: "redfish", error });
    }

    const after = power.ok
      ? await waitForApplied(client, wanted, timeBefore, options.applyTimeoutMs, signal)
      : { bios: await client.bios(signal), applied: false };
    const differences = biosDifferences(wanted, after.bios.Attributes);
    const messages = (after.bios["@Redfish.Settings"]?.Messages ?? [])
      .map((message) => message.Message ?? message.MessageId)
      .filter((message): message is string => typeof message === "string");
    await deps.log(machineId, differences.length === 0 ? "bios-applied" : "bios-differs", {
      applied: after.applied,
      differences,
      messages,
    });
    return {
      machineId,
      staged: wanted,
      applied: after.applied,
      differences,
      messages,
      power,
      ms: Math.round(performance.now() - started),
    };
  });
}

/**
 * Reads the Bios resource until the firmware says it applied the pending settings: @Redfish.Settings'
 * Time no longer the one from before the staging (the BMC's clock need not agree with ours), or, for a
 * BMC that keeps no Time, the SettingsObject no longer holding them.
 */
async function waitForApplied(
  client: RedfishClient,
  wanted: Readonly<Record<string, BiosValue>>,
  timeBefore: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ bios: Bios; applied: boolean }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const bios = await client.bios(signal);
    const time = bios["@Redfish.Settings"]?.Time;
    let applied: boolean;
    if (time !== undefined) applied = time !== timeBefore;
    else {
      const pending = await client.pendingBios(bios, signal);
      applied = Object.keys(wanted).every((name) => !(name in pending));
    }
    if (applied || performance.now() >= deadline) return { bios, applied };
    await delay(POLL_MS, undefined, { signal });
  }
}
