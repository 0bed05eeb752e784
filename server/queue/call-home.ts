// The installed OS calls home (its first boot after an install, or back from maintenance): what it runs
// is recorded, and a machine rebooting into its install is `installed`.
import type { CallHome, CallHomeAccepted } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { issueOsCredential } from "../auth/machine-credentials.js";
import { runCalledHome } from "../maintenance/runs.js";
import { factoryCallHome } from "../factory/flow.js";
import { reconcileMachine } from "./reconcile.js";
import { ServerError } from "../errors.js";
import { awaitingCallHome, mustGet, setCategory } from "./steps.js";

/**
 * The installed OS called home: completes the machine's boot-installed command (→ installed) when it
 * is waiting for that; otherwise it is logged (a later reboot, or a call after the wait timed out).
 */
export async function recordCallHome(
  rows: Rows,
  id: string,
  call: CallHome,
  when: Date,
): Promise<CallHomeAccepted> {
  const at = when.toISOString();
  const machine = await rows.machines.lock(id);
  if (machine === undefined || machine === "busy")
    throw new ServerError(`machine ${id} vanished before its call home`);
  const matchesPlan = machine.plan?.planHash === call.planHash;
  const waiting = await awaitingCallHome(rows, id);
  await rows.log.append(id, at, "called-home", {
    ...call,
    matchesPlan,
    completesInstall: waiting !== undefined,
  });
  // What it runs: the original target a maintenance swap comes back to.
  await rows.machines.setInstalled(id, { image: call.image, planHash: call.planHash, os: call.os, at });
  // Its next credential: the one it called with works until this one is first used.
  const credential = await issueOsCredential(rows, id, at);
  if (!waiting) return { category: machine.category, completedInstall: false, credential };
  await rows.commands.update(waiting.id, { state: "succeeded", updatedAt: at });
  await rows.log.append(id, at, "command-succeeded", { command: waiting.id, kind: waiting.kind });
  await setCategory(rows, machine, waiting.onSuccess, at, `its installed OS called home (${call.os})`);
  await runCalledHome(rows, id, call, at);
  await factoryCallHome(rows, id, call, at);
  await reconcileMachine(rows, id, at);
  return { category: (await mustGet(rows, id)).category, completedInstall: true, credential };
}
