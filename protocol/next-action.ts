// What the loader should do next (GET /v1/machines/:id/next). Only "wait" exists until commands arrive.
import { z } from "zod";

export const NextAction = z.discriminatedUnion("action", [
  z.strictObject({
    action: z.literal("wait"),
    /** Ask again after this long. */
    pollAfterMs: z.number().int().positive(),
  }),
]);
export type NextAction = z.infer<typeof NextAction>;
