// A machine's life beyond its boot category (issue 18): retired (kept, never planned or installed),
// deleted (gone; its hardware enrolls again as new), and what operators write on it: tags and a note.
import * as z from "zod";
import { BulkExpectRequest } from "./difference.js";

/** A tag: a short word an operator puts on machines (rack12, spare, gpu:a100); compared exactly. */
export const Tag = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/,
    "a tag is 1-64 letters, digits or . _ : / - (starting with a letter or digit)",
  );
export type Tag = z.infer<typeof Tag>;

/** At most this many tags on one machine: tags select machines, they are not a database. */
export const MAX_TAGS = 64;
/** A note's longest text, in characters. */
export const MAX_NOTE_LENGTH = 2_000;

/** Who retired a machine (the operator token's name) and when (ISO 8601, server clock). */
export const Retirement = z.strictObject({ by: z.string(), at: z.string() });
export type Retirement = z.infer<typeof Retirement>;

const tagChanges = {
  add: z.array(Tag).max(MAX_TAGS).default([]),
  remove: z.array(Tag).max(MAX_TAGS).default([]),
};

/** POST /v1/machines/:id/tags: tags to add and to remove (a tag in both is added). */
export const TagRequest = z.strictObject(tagChanges);
export type TagRequest = z.infer<typeof TagRequest>;

/** POST /v1/tags: the same on every machine matching one fact (as POST /v1/expected selects). */
export const BulkTagRequest = z.strictObject({ ...tagChanges, where: BulkExpectRequest.shape.where });
export type BulkTagRequest = z.infer<typeof BulkTagRequest>;

export const TagAnswer = z.strictObject({ machineIds: z.array(z.string()) });
export type TagAnswer = z.infer<typeof TagAnswer>;

/** PUT /v1/machines/:id/note: free text for operators; null (or "") clears it. */
export const NoteRequest = z.strictObject({ note: z.string().max(MAX_NOTE_LENGTH).nullable() });
export type NoteRequest = z.infer<typeof NoteRequest>;

/** DELETE /v1/machines/:id answer: what went with it. Its step log stays (bootwright log <id>). */
export const MachineDeleted = z.strictObject({
  machineId: z.string(),
  /** Its loader and installed-OS credentials that were still live: they answer 401 from now on. */
  credentialsRevoked: z.number().int().nonnegative(),
  /** Commands of its queue that were still queued (none can be leased: a lease refuses the delete). */
  commandsRemoved: z.number().int().nonnegative(),
});
export type MachineDeleted = z.infer<typeof MachineDeleted>;

/** `details` of a 409 machine_busy answer. */
export const MachineBusy = z.strictObject({ machineId: z.string(), reason: z.string() });
export type MachineBusy = z.infer<typeof MachineBusy>;
