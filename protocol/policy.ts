// Policy: ordered rules, each a match on inventory facts → a plan (image + settings). First match wins.
// The file an operator writes (YAML or JSON) parses with `Policy`; the server's answers use the rest.
import * as z from "zod";
import { Allowlist, EnrollmentMode, enrollmentIssues } from "./enrollment.js";
import { Inventory } from "./inventory.js";
import { PlanSpec } from "./plan-spec.js";
import { parseSize } from "./sizes.js";

/**
 * Computed facts: names (no dots) for what rules most often ask, derived from the inventory by the server
 * (server/policy/facts.ts). A list fact holds a value per NIC / disk / …; a condition on it holds when
 * any element satisfies it. Anything else is a dotted path into the posted Inventory (see isInventoryPath).
 */
export const COMPUTED_FACTS = {
  manufacturer: "system.manufacturer (SMBIOS type 1 Manufacturer)",
  product: "system.product (SMBIOS type 1 Product Name)",
  serial: "system.serial (SMBIOS type 1 Serial Number)",
  sku: "SMBIOS type 1 SKU; null without SMBIOS",
  family: "SMBIOS type 1 Family; null without SMBIOS",
  biosVendor: "SMBIOS type 0 vendor; null without SMBIOS",
  biosVersion: "SMBIOS type 0 version; null without SMBIOS",
  firmwareType: '"uefi" or "bios" (/sys/firmware/efi); null in a minimal inventory',
  bladeSlot: "SMBIOS type 2 location in chassis (0x0A) of the hosting board; null when absent",
  chassisAssetTag: "SMBIOS type 3 asset tag; null when absent",
  role: 'from an SMBIOS type 11 OEM string "bootwright.role=<x>" (or "bootwright:role=<x>"); null when none',
  oemStrings: "list: SMBIOS type 11 strings",
  cpuModel: "cpu.model (/proc/cpuinfo model name)",
  cpuVendor: "/proc/cpuinfo vendor_id (GenuineIntel, AuthenticAMD…); null in a minimal inventory",
  cpuThreads: "cpu.logicalCount: logical processors",
  cpuCores: "physical cores; null in a minimal inventory",
  cpuSockets: "sockets; null in a minimal inventory",
  cpuFlags: "list: /proc/cpuinfo flags (avx2, aes, vmx…)",
  memoryBytes: "MemTotal in bytes (a little under what is installed)",
  installedMemoryBytes: "sum of SMBIOS type 17 sizes; null without SMBIOS",
  diskCount: "number of disks",
  totalDiskBytes: "sum of disk sizes",
  largestDiskBytes: "size of the largest disk; null without disks",
  smallestDiskBytes: "size of the smallest disk; null without disks",
  diskSizes: "list: each disk's size in bytes",
  diskKinds: 'list: each disk\'s kind: "nvme", "ssd", "hdd" or "virtual"',
  diskModels: "list: each disk's model (null ones left out)",
  nicCount: "number of NICs",
  nicDrivers: "list: each NIC's kernel driver (virtio_net, e1000e, ixgbe, mlx5_core…)",
  nicOuis: 'list: the IEEE OUI of each NIC\'s MAC, e.g. "52:54:00" (QEMU), "3c:fd:fe" (Intel)',
  bootMac: "the MAC the machine booted from",
  storageControllerVendorIds: 'list: PCI vendor ids of the mass-storage controllers, e.g. "0x1000"',
  hasRaidController: "true when a PCI RAID controller (class 0x0104) is present",
  secureBoot: "true when the firmware enforces Secure Boot (the SecureBoot UEFI variable); null on BIOS",
  bootPath:
    '"ipxe", "pxe-bios", "pxe-uefi", "uefi-http", "secure-boot" or "media": how the loader was booted',
  switchName:
    "LLDP System Name of the switch the boot NIC is plugged into (else its chassis ID); null when none heard",
  switchPort: "LLDP Port ID of that switch port (e.g. Ethernet12, swp12); null when none heard",
  switchPortDescription: "LLDP Port Description of that port; null when none",
  vlan: "LLDP 802.1 Port VLAN ID of that port; null when not announced",
  tags: "list: the operator's tags on the machine (bootwright tag), e.g. { fact: tags, equals: rack12 }; empty when none",
} as const;
export type ComputedFact = keyof typeof COMPUTED_FACTS;

export function isComputedFact(name: string): name is ComputedFact {
  return Object.hasOwn(COMPUTED_FACTS, name);
}

/**
 * Whether `path` names something in the Inventory schema: object keys, array indices ("disks.0.sizeBytes")
 * and an array's "length" ("details.nics.length"). Checked when the policy loads, so a typo is an error
 * with a line number instead of a rule that never matches.
 */
export function isInventoryPath(path: string): boolean {
  let schema: z.core.$ZodType = Inventory;
  for (const key of path.split(".")) {
    while (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) schema = schema.unwrap();
    if (schema instanceof z.ZodObject) {
      const next = (schema.shape as Record<string, z.core.$ZodType | undefined>)[key];
      if (!next || !Object.hasOwn(schema.shape, key)) return false;
      schema = next;
    } else if (schema instanceof z.ZodArray) {
      if (key === "length") schema = z.number();
      else if (/^(0|[1-9]\d*)$/.test(key)) schema = schema.element;
      else return false;
    } else return false;
  }
  return true;
}

/** A number, or a size written with a unit ("64GiB"); parsed to a number. */
export const Quantity = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  const value = typeof raw === "number" ? raw : parseSize(raw);
  if (value === null) {
    ctx.issues.push({
      code: "custom",
      input: raw,
      message: `not a number or size: "${String(raw)}" (e.g. 64GiB, 500GB, 1048576)`,
    });
    return z.NEVER;
  }
  return value;
});

export const FactValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type FactValue = z.infer<typeof FactValue>;

export const Fact = z.string().superRefine((name, ctx) => {
  if (!isComputedFact(name) && !isInventoryPath(name))
    ctx.addIssue({
      code: "custom",
      message: `unknown fact "${name}": use a computed fact (${Object.keys(COMPUTED_FACTS).join(", ")}) or a dotted inventory path (system.product, details.smbios.baseboard.locationInChassis, disks.length…)`,
    });
});

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

export const OPERATORS = ["equals", "in", "gte", "lte", "glob", "regex", "exists"] as const;
export type Operator = (typeof OPERATORS)[number];

/**
 * One test on one fact, with exactly one operator: equals (JSON equality), in (one of a set), gte / lte
 * (numbers; sizes like "64GiB" allowed), glob (whole string; * ? [a-z]), regex (JavaScript, unanchored),
 * exists (true: the fact is present, not null, and a list not empty; false: the opposite).
 * In YAML, quote hexadecimal ids ("0x1000"): unquoted, YAML reads them as numbers.
 */
export const Condition = z
  .strictObject({
    fact: Fact,
    equals: FactValue.optional(),
    in: z.array(FactValue).min(1).optional(),
    gte: Quantity.optional(),
    lte: Quantity.optional(),
    glob: z.string().min(1).optional(),
    regex: z.string().min(1).refine(isValidRegex, "not a valid JavaScript regular expression").optional(),
    exists: z.boolean().optional(),
  })
  .superRefine((condition, ctx) => {
    const given = OPERATORS.filter((op) => Object.hasOwn(condition, op));
    if (given.length !== 1)
      ctx.addIssue({
        code: "custom",
        message: `give exactly one operator of ${OPERATORS.join(", ")} (got ${given.length ? given.join(", ") : "none"})`,
      });
  });
export type Condition = z.infer<typeof Condition>;

export const Rule = z.strictObject({
  name: z.string().min(1).max(100),
  description: z.string().optional(),
  /** Every condition must hold; an empty list matches every machine (a catch-all last rule). */
  match: z.array(Condition),
  plan: PlanSpec,
});
export type Rule = z.infer<typeof Rule>;

/**
 * Seed 004: when a machine's reported health figure falls below (or rises above) a threshold, start
 * maintenance on it, once per crossing (it fires again only after the figure has come back).
 */
export const HealthRule = z
  .strictObject({
    name: z.string().min(1).max(100),
    description: z.string().optional(),
    /** Which machines it watches (inventory facts, as in rules); empty or absent: all. */
    match: z.array(Condition).default([]),
    /** A figure the installed OS reports (protocol/health.ts), e.g. memoryBandwidthMBs. */
    figure: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,63}$/),
    below: z.number().optional(),
    above: z.number().optional(),
    maintenance: z.strictObject({
      image: z.string().min(1),
      mode: z.enum(["active", "passive"]).default("passive"),
      timeoutMinutes: z.number().positive().optional(),
    }),
  })
  .refine((rule) => (rule.below === undefined) !== (rule.above === undefined), {
    message: "give exactly one of below and above",
  });
export type HealthRule = z.infer<typeof HealthRule>;

export const Policy = z
  .strictObject({
    rules: z.array(Rule),
    health: z.array(HealthRule).optional(),
    /** Who may enroll (protocol/enrollment.ts); absent: auto. */
    enrollment: EnrollmentMode.optional(),
    /** The machines that enroll without an operator when enrollment is allowlist. */
    allowlist: Allowlist.optional(),
  })
  .superRefine((policy, ctx) => {
    for (const issue of enrollmentIssues(policy)) ctx.addIssue({ code: "custom", ...issue });
    const seen = new Map<string, number>();
    policy.rules.forEach((rule, i) => {
      const first = seen.get(rule.name);
      if (first !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["rules", i, "name"],
          message: `rule name "${rule.name}" is already used by rule ${first}`,
        });
      else seen.set(rule.name, i);
    });
  });
export type Policy = z.infer<typeof Policy>;

export const PolicyFormat = z.enum(["yaml", "json"]);
export type PolicyFormat = z.infer<typeof PolicyFormat>;

/** PUT /v1/policy body: the policy's text, kept as written (comments included). */
export const PolicyUpload = z.strictObject({ format: PolicyFormat, source: z.string() });
export type PolicyUpload = z.infer<typeof PolicyUpload>;

export const StoredPolicy = z.strictObject({
  format: PolicyFormat,
  source: z.string(),
  /** 1 for the first policy set, +1 each time one is set (the server skips an unchanged start-up file). */
  version: z.number().int().positive(),
  updatedAt: z.string(),
});
export type StoredPolicy = z.infer<typeof StoredPolicy>;

/** GET /v1/policy: the current policy, or null before one is set. */
export const PolicyState = z.strictObject({ policy: StoredPolicy.nullable() });
export type PolicyState = z.infer<typeof PolicyState>;

/** One problem in a policy file: where (path and source line/column, 1-based) and what. */
export const PolicyIssue = z.strictObject({
  path: z.string(),
  line: z.number().int().positive().nullable(),
  column: z.number().int().positive().nullable(),
  message: z.string(),
});
export type PolicyIssue = z.infer<typeof PolicyIssue>;

/** The first condition of a rule that did not hold, with what the machine has. */
export const FailedCondition = z.strictObject({
  index: z.number().int().nonnegative(),
  fact: z.string(),
  operator: z.enum(OPERATORS),
  expected: z.unknown(),
  /** The fact's value on this machine; null when the inventory does not have it. */
  actual: z.unknown(),
});
export type FailedCondition = z.infer<typeof FailedCondition>;

export const RuleTrace = z.strictObject({
  index: z.number().int().nonnegative(),
  name: z.string(),
  matched: z.boolean(),
  /** Null when the rule matched. */
  failed: FailedCondition.nullable(),
});
export type RuleTrace = z.infer<typeof RuleTrace>;

/** Each rule tried, in order, up to and including the one that matched. */
export const Explanation = z.strictObject({ rules: z.array(RuleTrace) });
export type Explanation = z.infer<typeof Explanation>;

/** GET /v1/machines/:id/plan. "no-policy" and "no-inventory" are answers, not errors. */
export const PlanResolution = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("matched"),
    machineId: z.string(),
    policyVersion: z.number().int().positive(),
    rule: z.string(),
    ruleIndex: z.number().int().nonnegative(),
    plan: PlanSpec,
    /** "sha256:<hex>" over the plan's canonical JSON (sorted keys, sizes in bytes). */
    planHash: z.string(),
    explanation: Explanation,
  }),
  z.strictObject({
    kind: z.literal("no-policy"),
    machineId: z.string(),
    /** Null when no policy is set at all. */
    policyVersion: z.number().int().positive().nullable(),
    reason: z.string(),
    explanation: Explanation,
  }),
  z.strictObject({ kind: z.literal("no-inventory"), machineId: z.string() }),
]);
export type PlanResolution = z.infer<typeof PlanResolution>;
