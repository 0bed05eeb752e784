// A machine as the boot list shows it (GET /v1/machines, GET /v1/machines/:id).
import * as z from "zod";
import { BootCategory } from "./boot-category.js";
import { BootPath } from "./boot-path.js";
import { MachineEnrollment } from "./enrollment.js";
import { Inventory, SystemInfo } from "./inventory.js";
import { MacAddress } from "./mac.js";
import { Retirement, Tag } from "./machine-lifecycle.js";
import { PlanSpec } from "./plan-spec.js";

export const Machine = z.strictObject({
  /** SMBIOS UUID when real and not shared with another machine, else the boot MAC (architecture.md, Identity). */
  id: z.string(),
  bootMac: MacAddress,
  category: BootCategory,
  /** What the operator (or policy) wants it to be; null when nothing is expected of it. */
  expected: BootCategory.nullable(),
  /** ISO 8601 times, server clock. */
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  /** How it last booted toward us (iPXE, PXE, UEFI HTTP, the signed chain); null before we knew. */
  bootPath: BootPath.nullable(),
  /** Configuration fingerprint (server/fingerprint.ts) of its inventory: same hardware configuration, same value. */
  fingerprint: z.string().nullable(),
  /** The plan the policy resolved for it (set when it moves to `planned`); null before. */
  plan: z
    .strictObject({
      rule: z.string(),
      planHash: z.string(),
      plan: PlanSpec,
      /** The policy version that gave it (drift names it); absent on plans stored before versions were kept. */
      policyVersion: z.number().int().positive().optional(),
    })
    .nullable(),
  /** Null until the loader has posted an inventory. */
  inventory: Inventory.nullable(),
  /** Whether it may enroll, why it waits, and a UUID it shares with another machine (protocol/enrollment.ts). */
  enrollment: MachineEnrollment,
  /** The operator's tags (bootwright tag), sorted; a policy fact (`tags`) and a selector (`--where tag=…`). */
  tags: z.array(Tag),
  /** The operator's free text (bootwright note); null when none. */
  note: z.string().nullable(),
  /** Set while it is retired (bootwright retire): kept with its log, never planned or installed. */
  retired: Retirement.nullable(),
});
export type Machine = z.infer<typeof Machine>;

export const BootList = z.strictObject({ machines: z.array(Machine) });
export type BootList = z.infer<typeof BootList>;

/**
 * A machine as the console's boot list shows it (GET /v1/boot-list): no plan, and of the inventory only
 * its SMBIOS system fields (manufacturer, product, serial, UUID: what the list shows and filters on).
 * A tenth of a Machine's size: 10,000 of them load in well under a second.
 */
export const MachineSummary = Machine.omit({ inventory: true, plan: true }).extend({
  inventory: z.strictObject({ system: SystemInfo }).nullable(),
});
export type MachineSummary = z.infer<typeof MachineSummary>;

export const BootListSummary = z.strictObject({ machines: z.array(MachineSummary) });
export type BootListSummary = z.infer<typeof BootListSummary>;

/** One line of a machine's step log (GET /v1/machines/:id/log): what happened to it, in order. */
export const StepLogEntry = z.strictObject({
  seq: z.number().int(),
  machineId: z.string(),
  at: z.string(),
  /** A constant event name: "discovered", "inventory", "command-leased", "agent-progress", … */
  event: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type StepLogEntry = z.infer<typeof StepLogEntry>;

export const StepLog = z.strictObject({ entries: z.array(StepLogEntry) });
export type StepLog = z.infer<typeof StepLog>;
