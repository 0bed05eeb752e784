// What a machine's failure does to its maintenance run: the run fails with the reason and stays
// restorable (its original target is kept); its command is cancelled (the reconciler leaves it alone).
import type { Rows } from "../db/rows.js";
import { cancel } from "../queue/steps.js";

export async function failActiveRun(rows: Rows, machineId: string, at: string, why: string): Promise<void> {
  const run = await rows.runs.active(machineId);
  if (!run) return;
  await rows.runs.update(run.id, { state: "failed", error: why, endedAt: at });
  if ((await rows.commands.pending(machineId)).some((command) => command.id === run.commandId))
    await cancel(rows, machineId, run.commandId, at);
  await rows.log.append(machineId, at, "maintenance-failed", {
    run: run.id,
    reason: why,
    original: run.original,
    restore: `bootwright maintenance restore ${machineId}`,
  });
}
