// Giving a machine back (issue 18): the expected category `released`, reached by erasing its disks.
// quick: partition tables and every filesystem/RAID/LVM signature gone (as wipefs does), discarded where
// the device supports it; full: every byte overwritten with zeros and read back; secure: the device's own
// erase (NVMe Format with secure erase, ATA Secure Erase), and a plain "cannot" where it has none.
import * as z from "zod";

export const EraseMode = z.enum(["quick", "full", "secure"]);
export type EraseMode = z.infer<typeof EraseMode>;

/** POST /v1/machines/:id/release */
export const ReleaseRequest = z.strictObject({ erase: EraseMode.default("quick") });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/** POST /v1/release: every machine whose fact at `where.path` equals `where.equals`. */
export const BulkReleaseRequest = z.strictObject({
  erase: EraseMode.default("quick"),
  where: z.strictObject({
    path: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
  }),
});
export type BulkReleaseRequest = z.infer<typeof BulkReleaseRequest>;

/** What one disk's erase did, as the step log keeps it. */
export const DiskErase = z.strictObject({
  name: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  /** What erased it: "wipefs", "wipefs+discard", "zeros", "nvme-format ses=1", "ata-secure-erase", "none". */
  method: z.string(),
  /** Bytes read back to check the erase (every byte for full; samples otherwise). */
  verifiedBytes: z.number().int().nonnegative(),
  ms: z.number().nonnegative(),
  /** What the operator should know: why a device could not do a secure erase, what was skipped. */
  note: z.string().nullable(),
});
export type DiskErase = z.infer<typeof DiskErase>;
