// Which stored machine an SMBIOS UUID and a boot MAC name (architecture.md, Identity, as amended by
// issue 17): the UUID when it is real and not shared by several machines, else the MAC; and the split
// when a second, different machine turns out to report the same UUID.
import { isRealSmbiosUuid, machineIdentity, type Inventory, type Machine } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { ServerError } from "../errors.js";
import { mustGet } from "../queue/steps.js";

export interface Identity {
  id: string;
  /** The real UUID it reported that is known to be shared (so the id is the MAC); null otherwise. */
  sharedUuid: string | null;
}

/** The identity a UUID and MAC give, once the UUIDs seen on several machines are set aside. */
export async function resolveIdentity(rows: Rows, uuid: string | null, mac: string): Promise<Identity> {
  if (isRealSmbiosUuid(uuid)) {
    const lower = uuid.trim().toLowerCase();
    if (await rows.sharedUuids.get(lower)) return { id: mac, sharedUuid: lower };
  }
  return { id: machineIdentity(uuid, mac), sharedUuid: null };
}

/**
 * Whether a boot request from `mac` can be the machine stored under its UUID: the MAC it last booted
 * from, or one of the NICs its inventory lists. Otherwise it is (as far as iPXE can tell) another
 * machine reporting the same UUID, or this one with a new NIC: only its inventory can tell.
 */
export function couldBeSameMachine(known: Machine, mac: string): boolean {
  return known.bootMac === mac || (known.inventory?.nics.some((nic) => nic.mac === mac) ?? false);
}

/**
 * A second machine, different in serial and in every MAC, reports the UUID `existing` is known by: the
 * UUID identifies neither from now on. It is recorded as shared, and `existing` moves to its boot MAC's
 * id with its log, queue and credentials (the reverse of the MAC → UUID move), saying why.
 */
export async function splitSharedUuid(
  rows: Rows,
  existing: Machine,
  newcomer: Inventory,
  what: string,
  at: string,
): Promise<Machine> {
  const uuid = existing.id;
  const to = existing.bootMac;
  if (await rows.machines.get(to))
    throw new ServerError(
      `machine ${uuid} shares its UUID with machine ${newcomer.bootMac}, but its boot MAC's id ${to} is taken by another machine`,
    );
  await rows.sharedUuids.insert({ uuid, machines: [to, newcomer.bootMac], noticedAt: at });
  await rows.machines.rename(uuid, to);
  await rows.machines.update(to, { enrollment: { ...existing.enrollment, sharedUuid: uuid } });
  await rows.log.append(to, at, "identity", {
    from: uuid,
    to,
    reason: "shared-uuid",
    sharedUuid: uuid,
    other: newcomer.bootMac,
    differences: what,
  });
  return mustGet(rows, to);
}
