// Releasing a machine (issue 18): the release request (how to erase) is kept, and the machine is
// expected `released`; the reconciliation queues erase-disks (cancelling an install in flight first).
import type { EraseMode, Machine } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { setExpected } from "./reconcile.js";

export async function releaseMachine(
  rows: Rows,
  machine: Machine,
  erase: EraseMode,
  at: string,
): Promise<void> {
  await rows.releases.set({ machineId: machine.id, erase, requestedAt: at });
  await rows.log.append(machine.id, at, "release-requested", { erase, from: machine.category });
  await setExpected(rows, machine, "released", at);
}
