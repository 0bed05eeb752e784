// The difference list: machines whose current boot category is not their expected one (seed 000).
import * as z from "zod";
import { BootCategory } from "./boot-category.js";
import { CommandKind } from "./commands.js";
import { Drift } from "./drift.js";
import { DriverDifference } from "./drivers.js";
import { EnrollmentState } from "./enrollment.js";

export const Difference = z.strictObject({
  machineId: z.string(),
  current: BootCategory,
  expected: BootCategory,
  /** The commands that close it, in order; empty when `blocked`. */
  commands: z.array(z.strictObject({ kind: CommandKind, onSuccess: BootCategory })),
  /** Why no command can close it yet (e.g. no path, or a step that arrives in a later release). */
  blocked: z.string().nullable(),
});
export type Difference = z.infer<typeof Difference>;

/**
 * A machine whose identity or enrollment needs an operator: it waits for approval, its enrollment is
 * held, or its SMBIOS UUID proved shared with another machine (both then go by their MACs).
 */
export const EnrollmentDifference = z.strictObject({
  machineId: z.string(),
  state: EnrollmentState,
  reason: z.string().nullable(),
  sharedUuid: z.string().nullable(),
});
export type EnrollmentDifference = z.infer<typeof EnrollmentDifference>;

export const DifferenceList = z.strictObject({
  differences: z.array(Difference),
  enrollment: z.array(EnrollmentDifference),
  /** Installed machines whose plan the current policy would change (protocol/drift.ts); not touched. */
  drift: z.array(Drift),
  /** Machines with a storage or network controller that no driver claims (protocol/drivers.ts). */
  drivers: z.array(DriverDifference),
});
export type DifferenceList = z.infer<typeof DifferenceList>;

/** `replan` asks for a reinstall of a drifted installed machine with its new plan: only with `installed`. */
const replanOnlyInstalled = {
  check: (request: { category: BootCategory | null; replan?: boolean | undefined }) =>
    request.replan !== true || request.category === "installed",
  message: {
    message: "replan reinstalls a drifted machine: it goes with category installed",
    path: ["replan"],
  },
};

/** PUT /v1/machines/:id/expected and POST /v1/expected (bulk, by selector). */
export const ExpectRequest = z
  .strictObject({
    category: BootCategory.nullable(),
    /** Reinstall the machine with the plan the current policy gives it (it must be installed and drifted). */
    replan: z.boolean().optional(),
  })
  .refine(replanOnlyInstalled.check, replanOnlyInstalled.message);
export type ExpectRequest = z.infer<typeof ExpectRequest>;

export const BulkExpectRequest = z
  .strictObject({
    category: BootCategory.nullable(),
    /** Machines whose fact at this dotted path (e.g. "inventory.system.product", "category") equals the value. */
    where: z.strictObject({
      path: z.string().min(1),
      equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    }),
    /** Reinstall those of them that are installed and drifted with their new plan; the others are only expected. */
    replan: z.boolean().optional(),
  })
  .refine(replanOnlyInstalled.check, replanOnlyInstalled.message);
export type BulkExpectRequest = z.infer<typeof BulkExpectRequest>;
