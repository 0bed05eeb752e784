// What operators write on a machine (issue 18): tags, which policy rules can test (the `tags` fact) and
// selectors can pick (`--where tag=rack12`), and a free-text note. A tag change reconciles the machine:
// a rule that now matches plans it.
import { MAX_TAGS, type Machine, type TagRequest } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { reconcileMachine } from "../queue/reconcile.js";
import { mustGet } from "../queue/steps.js";

/** The tags after a change, sorted and without repeats; a tag both removed and added stays. */
export function changedTags(current: readonly string[], change: TagRequest): string[] {
  const tags = new Set(current);
  for (const tag of change.remove) tags.delete(tag);
  for (const tag of change.add) tags.add(tag);
  return [...tags].sort();
}

export type TagOutcome = { ok: true; machine: Machine } | { ok: false; reason: string };

/** Applies a tag change to one machine in the caller's transaction; too many tags is a refusal. */
export async function tagMachine(
  rows: Rows,
  machine: Machine,
  change: TagRequest,
  at: string,
): Promise<TagOutcome> {
  const tags = changedTags(machine.tags, change);
  if (tags.length > MAX_TAGS)
    return {
      ok: false,
      reason: `machine ${machine.id} would have ${tags.length} tags (at most ${MAX_TAGS})`,
    };
  const added = tags.filter((t) => !machine.tags.includes(t));
  const removed = machine.tags.filter((t) => !tags.includes(t));
  if (added.length === 0 && removed.length === 0) return { ok: true, machine };
  await rows.machines.update(machine.id, { tags });
  await rows.log.append(machine.id, at, "tags", { added, removed, tags });
  await reconcileMachine(rows, machine.id, at);
  return { ok: true, machine: await mustGet(rows, machine.id) };
}

/** Sets the machine's note (an empty one clears it). */
export async function setNote(
  rows: Rows,
  machine: Machine,
  note: string | null,
  at: string,
): Promise<Machine> {
  const text = note === null || note.trim() === "" ? null : note;
  if (text === machine.note) return machine;
  await rows.machines.update(machine.id, { note: text });
  await rows.log.append(machine.id, at, "note", { note: text });
  return mustGet(rows, machine.id);
}
