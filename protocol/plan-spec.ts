// What a policy rule gives a machine: the image and the settings around it (UEFI, BIOS, RAID, partitions,
// verification, the reboot into it, extra steps, a recipe). protocol/policy.ts holds the rules that choose
// one; protocol/agent-plan.ts the plan resolved for one machine.
import * as z from "zod";
import { parseSize } from "./sizes.js";

/** Fewest member disks per RAID level (mdadm: RAID 0/1 need 2, RAID 5 needs 3, RAID 10 needs 4). */
export const RAID_MIN_DISKS = { 0: 2, 1: 2, 5: 3, 10: 4 } as const;

export const RaidSpec = z
  .strictObject({
    level: z.union([z.literal(0), z.literal(1), z.literal(5), z.literal(10)]),
    /** "all": every disk the machine has; a number: the first N disks by name. */
    disks: z.union([z.literal("all"), z.number().int().positive()]),
  })
  .superRefine((raid, ctx) => {
    if (typeof raid.disks === "number" && raid.disks < RAID_MIN_DISKS[raid.level])
      ctx.addIssue({
        code: "custom",
        path: ["disks"],
        message: `RAID ${raid.level} needs at least ${RAID_MIN_DISKS[raid.level]} disks`,
      });
  });

const MiB = 2 ** 20;

export const PartitionSpec = z
  .strictObject({
    /** GPT partition name. */
    label: z.string().regex(/^[A-Za-z0-9_-]{1,36}$/, "a GPT label: up to 36 letters, digits, _ or -"),
    /** Where it is mounted; absent for swap and "none" (a partition left unformatted). */
    mount: z.string().startsWith("/").optional(),
    /** Bytes or a size ("512MiB"), a whole number of MiB (GPT alignment); or "rest" (last partition only). */
    size: z.union([z.number(), z.string()]).transform((raw, ctx): number | "rest" => {
      if (raw === "rest") return raw;
      const bytes = typeof raw === "number" ? raw : parseSize(raw);
      if (bytes === null || bytes <= 0 || bytes % MiB !== 0) {
        ctx.issues.push({
          code: "custom",
          input: raw,
          message: `not a partition size: "${String(raw)}" (a positive whole number of MiB, e.g. 512MiB, or "rest")`,
        });
        return z.NEVER;
      }
      return bytes;
    }),
    fs: z.enum(["ext4", "xfs", "vfat", "swap", "none"]),
  })
  .superRefine((part, ctx) => {
    const mountable = part.fs !== "swap" && part.fs !== "none";
    if (mountable !== (part.mount !== undefined))
      ctx.addIssue({
        code: "custom",
        message: "ext4, xfs and vfat partitions have a mount point; swap and none have none",
      });
  });

/** A BIOS attribute's value as Redfish carries it: an enumeration's name or a string, a number, a flag. */
export const BiosValue = z.union([z.string(), z.number(), z.boolean()]);
export type BiosValue = z.infer<typeof BiosValue>;

export const PlanSpec = z.strictObject({
  /** The OS image to write: a name in the image store, or its content address "sha256:<hex>". */
  image: z.string().min(1),
  /** Firmware settings made before imaging (the uefi-vars step). */
  uefi: z
    .strictObject({
      secureBoot: z.boolean().optional(),
      /** What the machine boots first once installed: its disk (default) or the network. */
      bootOrder: z.enum(["disk-first", "network-first"]).optional(),
      /** Further variables, name → value. */
      variables: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.string()).optional(),
    })
    .optional(),
  /**
   * Firmware settings made out of band, through the machine's BMC (its Redfish `Bios` resource) rather
   * than by the agent: staged as pending settings, applied by the firmware at the next reset, read back.
   */
  bios: z
    .strictObject({
      /** Attribute name (as the BMC's AttributeRegistry names it) → value, e.g. ProcTurboMode: Disabled. */
      attributes: z
        .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.]{0,63}$/, "a BIOS attribute name"), BiosValue)
        .refine((attributes) => Object.keys(attributes).length > 0, "at least one attribute"),
    })
    .optional(),
  raid: RaidSpec.optional(),
  /**
   * How the written image is checked before `installed`. Always: the stored bytes' sha256 while they
   * stream, and the decompressed size. `readback` also reads the written extent back from the disk, past
   * the page cache, and compares its sha256 with the image's: it catches a disk or controller that
   * acknowledged writes it did not keep, at the cost of one more pass over the image (read speed).
   * Factory lines use it; so should anyone imaging onto media they do not yet trust.
   */
  verify: z.enum(["stream", "readback"]).optional(),
  /**
   * How the loader hands the machine over to its installed system, after an install and back from a
   * maintenance run. `firmware` (the default): a reboot through the firmware, which also proves the
   * disk's own boot path. `kexec`: the loader starts the installed kernel itself (its command line and
   * initrd as the disk's boot configuration gives them), skipping POST, option ROMs and iPXE. It still
   * reboots through the firmware when the plan stages firmware settings (`bios`, `uefi.secureBoot`,
   * `uefi.variables`: they apply at a reset), on the Secure Boot path (the chain of trust starts at the
   * firmware), back from a repair image (its boot path needs proving), or when the disk has no boot entry
   * the loader can read (server/policy/reboot-way.ts, agent/loader/kexec.ts).
   */
  reboot: z.enum(["firmware", "kexec"]).optional(),
  /** On the RAID device when there is one, else on the first disk; in order. */
  partitions: z
    .array(PartitionSpec)
    .min(1)
    .superRefine((parts, ctx) => {
      parts.forEach((part, i) => {
        if (part.size === "rest" && i !== parts.length - 1)
          ctx.addIssue({
            code: "custom",
            path: [i, "size"],
            message: '"rest" is allowed only on the last partition',
          });
      });
    })
    .optional(),
  /** Extra named steps run after imaging, in order (e.g. "firmware-update"). */
  steps: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "a step name is lower-case words joined by -"))
    .optional(),
  /**
   * Seed 003: build the system on the machine when no captured image fits. The server first looks for
   * an image captured from this recipe on a machine of the same configuration fingerprint and installs
   * that; if there is none, the agent installs `image` (the base), runs `script` in the installed root,
   * captures the disk and uploads it for the next machine of that configuration.
   */
  recipe: z
    .strictObject({
      name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a recipe name is lower-case words joined by -"),
      /** Shell run with chroot in the installed root; $BOOTWRIGHT_FILES is the URL of the recipe's files. */
      script: z.string().min(1),
      /**
       * Room the script needs beyond the base image's free space, in MiB: before it runs, the image's root
       * partition (its last) and ext4 filesystem grow by this much, and the captured image is that much
       * bigger (as Packer's disk_size). Without it the script has the base image's own headroom.
       */
      growRootMiB: z
        .number()
        .int()
        .min(1)
        .max(1 << 20)
        .optional(),
    })
    .optional(),
});
export type PlanSpec = z.infer<typeof PlanSpec>;
