// The plan a tailored deployment agent carries baked in: the policy's PlanSpec resolved for one machine.
import * as z from "zod";
import { ImageSource } from "./images.js";
import { PlanSpec } from "./plan-spec.js";

export const AgentPlan = z.strictObject({
  /** "sha256:<hex>" of the resolved plan (names it in logs and in the on-disk marker). */
  planHash: z.string(),
  /** The OS image to install (name in the image store or its content address). */
  image: z.string(),
  /** The image as stored, resolved when the agent was built; absent when the store has no such image. */
  imageSource: ImageSource.optional(),
  /** Offline media: the image's blob on the mounted media, read instead of the server's URL. */
  imageFile: z.string().optional(),
  uefi: PlanSpec.shape.uefi,
  verify: PlanSpec.shape.verify,
  /** Software RAID with the member count resolved for this machine ("all" → its disk count). */
  raid: z
    .strictObject({
      level: z.union([z.literal(0), z.literal(1), z.literal(5), z.literal(10)]),
      disks: z.number().int().min(2),
    })
    .optional(),
  partitions: PlanSpec.shape.partitions,
  /**
   * The kernel modules bound to the machine's storage and network controllers when it enrolled (its
   * inventory's pciDevices), some sent on demand: the steps write through them, so the agent checks each
   * is loaded before its first step. Absent from plans made before.
   */
  drivers: z.array(z.string()).optional(),
  /**
   * Set when no captured image fits this machine's configuration yet: after writing the base image, run
   * the recipe's script in the installed root, then capture the disk and upload it with this origin.
   */
  capture: z
    .strictObject({
      recipe: z.string(),
      script: z.string(),
      /** Where the recipe's files are served (the script sees it as $BOOTWRIGHT_FILES). */
      filesUrl: z.string(),
      /** The recipe's growRootMiB: the root grows by this much before the script, the capture with it. */
      growRootMiB: z.number().int().positive().optional(),
      imageName: z.string(),
      fingerprint: z.string(),
      inventorySummary: z.record(z.string(), z.unknown()),
    })
    .optional(),
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
