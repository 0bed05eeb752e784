// The lifecycle operations (issue 18), each one transaction over the store: retire and unretire,
// delete, tags (by id or by selector) and notes. Services exposes them as `services.lifecycle`.
import { MAX_TAGS, type Machine, type TagRequest } from "../../protocol/index.js";
import type { Rows, Store } from "../db/rows.js";
import { matchesWhere, type Where } from "../selector.js";
import { setNote, tagMachine, changedTags, type TagOutcome } from "./labels.js";
import { deleteMachine, type DeleteOutcome } from "./remove.js";
import { setRetired } from "./retire.js";

export type { DeleteOutcome, TagOutcome };

export type BulkTagOutcome = { ok: true; machineIds: string[] } | { ok: false; reason: string };

export interface MachineLifecycle {
  /** Retires (`retire` true) or unretires the machine; undefined for an unknown one. */
  setRetired(id: string, retire: boolean, by: string, when: Date): Promise<Machine | undefined>;
  /** Deletes the machine, or says why it cannot go now. */
  deleteMachine(id: string, by: string, when: Date): Promise<DeleteOutcome>;
  tag(id: string, change: TagRequest, when: Date): Promise<TagOutcome | undefined>;
  /** The same change on every machine matching `where`, all or none; their ids. */
  tagWhere(where: Where, change: TagRequest, when: Date): Promise<BulkTagOutcome>;
  setNote(id: string, note: string | null, when: Date): Promise<Machine | undefined>;
}

/** The machine, held for the transaction; undefined when there is none (or another server holds it). */
async function locked(rows: Rows, id: string): Promise<Machine | undefined> {
  const machine = await rows.machines.lock(id);
  return machine === "busy" ? undefined : machine;
}

export function machineLifecycle(store: Store): MachineLifecycle {
  return {
    setRetired: (id, retire, by, when) =>
      store.transaction(async (rows) => {
        const machine = await locked(rows, id);
        return machine && setRetired(rows, machine, { retire, by }, when.toISOString());
      }),

    deleteMachine: (id, by, when) =>
      store.transaction((rows) => deleteMachine(rows, id, by, when.toISOString())),

    tag: (id, change, when) =>
      store.transaction(async (rows) => {
        const machine = await locked(rows, id);
        return machine && tagMachine(rows, machine, change, when.toISOString());
      }),

    tagWhere: (where, change, when) =>
      store.transaction(async (rows): Promise<BulkTagOutcome> => {
        const matching = (await rows.machines.list())
          .filter((machine) => matchesWhere(machine, where))
          .sort((a, b) => (a.id < b.id ? -1 : 1));
        // Checked for all before any is written: the change applies to all of them or to none.
        const over = matching.find((m) => changedTags(m.tags, change).length > MAX_TAGS);
        if (over) return { ok: false, reason: `machine ${over.id} would have more than ${MAX_TAGS} tags` };
        for (const { id } of matching) {
          const machine = await locked(rows, id);
          if (machine) await tagMachine(rows, machine, change, when.toISOString());
        }
        return { ok: true, machineIds: matching.map((m) => m.id) };
      }),

    setNote: (id, note, when) =>
      store.transaction(async (rows) => {
        const machine = await locked(rows, id);
        return machine && setNote(rows, machine, note, when.toISOString());
      }),
  };
}
