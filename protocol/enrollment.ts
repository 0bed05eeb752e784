// Who may enroll (issue 17): the policy's enrollment mode and allowlist, a machine's enrollment state,
// an operator's approval, and the refusal a loader gets while it waits.
import * as z from "zod";
import { MacAddress } from "./mac.js";

/**
 * auto: every machine that posts an inventory enrolls (labs; the default). approve: a new machine waits
 * until an operator approves it. allowlist: machines on the allowlist enroll, the others wait as in approve.
 */
export const EnrollmentMode = z.enum(["auto", "approve", "allowlist"]);
export type EnrollmentMode = z.infer<typeof EnrollmentMode>;

/** Machines that enroll without an operator in allowlist mode: any one entry that matches is enough. */
export const Allowlist = z.strictObject({
  /** Any NIC of the inventory (not only the boot NIC). */
  macs: z.array(MacAddress).default([]),
  /** system.serial (SMBIOS type 1 Serial Number), compared exactly. */
  serials: z.array(z.string().min(1)).default([]),
  /** The chassis asset tag (SMBIOS type 3, 0x08), compared exactly; needs the full inventory. */
  assetTags: z.array(z.string().min(1)).default([]),
});
export type Allowlist = z.infer<typeof Allowlist>;

/** What is wrong with a policy's enrollment settings: an allowlist mode without a list, or a list unread. */
export function enrollmentIssues(policy: {
  enrollment?: EnrollmentMode | undefined;
  allowlist?: Allowlist | undefined;
}): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  if (policy.enrollment === "allowlist" && policy.allowlist === undefined)
    issues.push({
      path: ["enrollment"],
      message: "enrollment: allowlist needs an allowlist (macs, serials, assetTags)",
    });
  if (policy.allowlist !== undefined && policy.enrollment !== "allowlist")
    issues.push({ path: ["allowlist"], message: "an allowlist is read only when enrollment is allowlist" });
  return issues;
}

/**
 * pending: seen by iPXE only, not decided yet. awaiting-approval: a new machine that waits for an
 * operator (approve mode, or not on the allowlist). enrolled: admitted. held: admitted before, but its
 * last enrollment was refused (its serial or MACs changed, or it enrolled again while its own agent
 * held a live lease); it waits for an operator or for the lease to end. approved: an operator approved
 * it; its next inventory enrolls it whatever changed.
 */
export const EnrollmentState = z.enum(["pending", "awaiting-approval", "enrolled", "held", "approved"]);
export type EnrollmentState = z.infer<typeof EnrollmentState>;

export const MachineEnrollment = z.strictObject({
  state: EnrollmentState,
  /** Why it waits (awaiting-approval, held); null otherwise. */
  reason: z.string().nullable(),
  /**
   * The SMBIOS UUID it reports that another, different machine reports too (a board's placeholder):
   * the UUID identifies neither, and the machine is known by its boot MAC instead. Null otherwise.
   */
  sharedUuid: z.string().nullable(),
});
export type MachineEnrollment = z.infer<typeof MachineEnrollment>;

/** POST /v1/approve: every machine matching one fact (as POST /v1/expected selects). */
export const BulkApproveRequest = z.strictObject({
  where: z.strictObject({
    path: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
  }),
});
export type BulkApproveRequest = z.infer<typeof BulkApproveRequest>;

export const ApproveAnswer = z.strictObject({ machineIds: z.array(z.string()) });
export type ApproveAnswer = z.infer<typeof ApproveAnswer>;

/** `details` of a 403 awaiting_approval or 409 enrollment_held answer to POST /v1/inventory. */
export const EnrollmentRefusal = z.strictObject({
  machineId: z.string(),
  reason: z.string(),
  /** When the loader should post its inventory again. */
  retryAfterMs: z.number().int().positive(),
});
export type EnrollmentRefusal = z.infer<typeof EnrollmentRefusal>;

/** GET /v1/shared-uuids: SMBIOS UUIDs seen on more than one machine, which identify none. */
export const SharedUuid = z.strictObject({
  uuid: z.string(),
  /** The machines it was first seen on (their boot-MAC ids) and when the second one showed it. */
  machines: z.array(z.string()),
  noticedAt: z.string(),
});
export type SharedUuid = z.infer<typeof SharedUuid>;

export const SharedUuidList = z.strictObject({ sharedUuids: z.array(SharedUuid) });
export type SharedUuidList = z.infer<typeof SharedUuidList>;
