// Issuing machines' credentials inside the transactions that need them: the loader's at each enrollment
// (the one before stops working: one live loader credential per machine, as Ironic gives each deploy its
// agent token), the installed OS's when its image is leased (written into the marker by the agent).
import type { Rows } from "../db/rows.js";
import { newMachineCredential } from "./tokens.js";

/** A new loader credential for the machine; every earlier one is revoked. Returns its text. */
export async function issueLoaderCredential(rows: Rows, machineId: string, at: string): Promise<string> {
  const { credential, record } = newMachineCredential(machineId, "loader", at);
  await rows.credentials.insert(record);
  const revoked = await rows.credentials.revokeOthers(machineId, "loader", record.id, at);
  await rows.log.append(machineId, at, "credential-issued", { scope: "loader", id: record.id, revoked });
  return credential;
}

/**
 * A new credential for the OS about to be installed. Earlier OS credentials keep working until this one
 * is first used: an install that fails leaves the OS on the disk able to call home.
 */
export async function issueOsCredential(rows: Rows, machineId: string, at: string): Promise<string> {
  const { credential, record } = newMachineCredential(machineId, "os", at);
  await rows.credentials.insert(record);
  await rows.log.append(machineId, at, "credential-issued", { scope: "os", id: record.id });
  return credential;
}
