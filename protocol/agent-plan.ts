// The plan a tailored deployment agent carries baked in: what the installer plugins act on.
import { z } from "zod";

export const AgentPlan = z.strictObject({
  /** sha256 of the resolved plan (names the plan in logs and in the on-disk marker). */
  planHash: z.string(),
  /** The OS image to install (content address or name). */
  image: z.string(),
  /** Software RAID across the machine's disks (mdadm). */
  raid: z
    .strictObject({
      level: z.union([z.literal(0), z.literal(1), z.literal(5), z.literal(10)]),
      disks: z.number().int().min(2),
    })
    .optional(),
  /** GPT partitions, in order; the last may take the rest of the disk (sizeMiB null). */
  partitions: z
    .array(
      z.strictObject({
        label: z.string(),
        sizeMiB: z.number().int().positive().nullable(),
        fs: z.enum(["vfat", "ext4", "swap", "none"]),
      }),
    )
    .optional(),
  /** UEFI settings: boot the network first or the disk first. */
  uefi: z.strictObject({ bootOrder: z.enum(["network-first", "disk-first"]) }).optional(),
});
export type AgentPlan = z.infer<typeof AgentPlan>;

/** One step's report, as the agent prints it and sends it. */
export const StepReport = z.strictObject({
  plugin: z.string(),
  step: z.string(),
  ok: z.boolean(),
  ms: z.number().nonnegative(),
  data: z.record(z.string(), z.unknown()),
  error: z.string().nullable(),
});
export type StepReport = z.infer<typeof StepReport>;
