// BIOS settings made out of band (a plan's `bios.attributes`, through the BMC's Redfish Bios resource):
// what `bootwright bios apply` answers and the step log records.
import * as z from "zod";
import { BiosValue } from "./plan-spec.js";

/** An attribute that does not read back as the plan wants it after the reset. */
export const BiosDifference = z.strictObject({
  name: z.string(),
  wanted: BiosValue,
  /** What the BMC reports now (its Bios resource's Attributes); null when it has no such attribute. */
  actual: BiosValue.nullable(),
});
export type BiosDifference = z.infer<typeof BiosDifference>;

/** POST /v1/machines/:id/bios/apply */
export const BiosApplyResult = z.strictObject({
  machineId: z.string(),
  /** The attributes staged as pending settings (PATCH of the Bios resource's SettingsObject). */
  staged: z.record(z.string(), BiosValue),
  /**
   * Whether the BMC said it applied the pending settings after the reset (its @Redfish.Settings time
   * moved past the reset, or the pending object emptied) before the wait ran out.
   */
  applied: z.boolean(),
  /** Empty when every attribute reads back as staged. */
  differences: z.array(BiosDifference),
  /** What the BMC said about applying them (@Redfish.Settings.Messages[].Message). */
  messages: z.array(z.string()),
  /** The reset between staging and reading back, through the machine's power driver. */
  power: z.strictObject({ ok: z.boolean(), ms: z.number().nonnegative(), error: z.string().nullable() }),
  ms: z.number().nonnegative(),
});
export type BiosApplyResult = z.infer<typeof BiosApplyResult>;
