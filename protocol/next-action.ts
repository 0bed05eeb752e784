// What the loader should do next (GET /v1/machines/:id/next): wait, or run a leased command.
import * as z from "zod";
import { LeasedCommand } from "./commands.js";

export const NextAction = z.discriminatedUnion("action", [
  z.strictObject({
    action: z.literal("wait"),
    /** Ask again after this long. */
    pollAfterMs: z.number().int().positive(),
    /** What the console should show while it waits (a failed factory unit: its stage and reason). */
    notice: z.string().max(1000).optional(),
  }),
  z.strictObject({ action: z.literal("run"), command: LeasedCommand }),
]);
export type NextAction = z.infer<typeof NextAction>;
