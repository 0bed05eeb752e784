// policy.* figures: resolving 10,000 synthetic machines against a 200-rule policy with the pure resolver.
import type { Inventory, Policy } from "../protocol/index.js";
import { compilePolicy, resolvePolicy } from "../server/policy/resolve.js";
import { median, type Figure } from "./figures.js";

const MACHINES = 10_000;
const RULES = 200;
const RUNS = 5;
const GiB = 2 ** 30;

/**
 * Machine j: role r<j mod 2000> (so ~10% match one of the first 199 rules), 1-4 disks, 16-256 GiB; a
 * full inventory (the console's benchmark shows 10,000 of them).
 */
export function syntheticInventory(j: number): Inventory {
  const mac = `52:54:00:${((j >> 16) & 0xff).toString(16).padStart(2, "0")}:${((j >> 8) & 0xff).toString(16).padStart(2, "0")}:${(j & 0xff).toString(16).padStart(2, "0")}`;
  const diskCount = 1 + (j % 4);
  const disks = Array.from({ length: diskCount }, (_, d) => ({
    name: `nvme${d}n1`,
    sizeBytes: (960 + d) * GiB,
  }));
  const memoryBytes = 16 * GiB * (1 + (j % 16));
  return {
    bootMac: mac,
    system: { manufacturer: "Acme", product: `X${1 + (j % 9)} Blade`, serial: `SN-${j}`, uuid: null },
    cpu: { model: "Acme 9000", logicalCount: 64 },
    memoryBytes,
    nics: [{ name: "eth0", mac }],
    disks,
    details: {
      firmwareType: j % 3 === 0 ? "bios" : "uefi",
      smbios: {
        version: "3.0",
        bios: null,
        system: null,
        baseboard: {
          manufacturer: "Acme",
          product: "BB-9",
          version: null,
          serial: null,
          assetTag: null,
          locationInChassis: `Slot ${j % 16}`,
        },
        chassis: null,
        processors: [],
        memoryDevices: [],
        slots: [],
        onboardDevices: [],
        oemStrings: [`bootwright.role=r${j % 2000}`],
      },
      smbiosError: null,
      cpu: { vendor: "GenuineIntel", sockets: 2, cores: 32, threads: 64, flags: ["aes", "avx2"] },
      memory: { totalBytes: memoryBytes, installedBytes: memoryBytes },
      nics: [
        { name: "eth0", mac, driver: "ixgbe", pciAddress: "0000:3b:00.0", speedMbps: 10000, carrier: true },
      ],
      disks: disks.map((d) => ({
        ...d,
        model: "Acme NVMe",
        serial: null,
        wwn: null,
        kind: "nvme" as const,
        rotational: false,
        busPath: null,
        pciAddress: null,
      })),
      storageControllers: [],
      network: null,
    },
  };
}

/**
 * Rule i: four conditions every machine passes (glob, size, set, regex), then the role, which most fail.
 * `filed`: the role as `equals`, which files each rule under its role (server/policy/rule-index.ts); else
 * as a glob without wildcards (the same test), which nothing files: every rule is tried, as before the index.
 */
function policy(filed: boolean): Policy {
  return {
    rules: Array.from({ length: RULES }, (_, i) => ({
      name: `rule-${i}`,
      match: [
        { fact: "product", glob: "X* Blade" },
        { fact: "memoryBytes", gte: 16 * GiB },
        { fact: "firmwareType", in: ["bios", "uefi"] },
        { fact: "nicDrivers", regex: "^(ixgbe|i40e|ice)$" },
        ...(i === RULES - 1
          ? []
          : [filed ? { fact: "role", equals: `r${i}` } : { fact: "role", glob: `r${i}` }]),
      ],
      plan: { image: `image-${i}`, raid: { level: 1 as const, disks: "all" as const } },
    })),
  };
}

/** Compile + resolve every machine, RUNS times: the median ms, and how many machines matched before the last rule. */
function timeResolution(machines: readonly Inventory[], rules: Policy): { ms: number; matchedEarly: number } {
  const runs: number[] = [];
  let matchedEarly = 0;
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const compiled = compilePolicy(rules);
    let early = 0;
    for (const inventory of machines) {
      const result = resolvePolicy(compiled, inventory);
      if (result.kind === "matched" && result.ruleIndex < RULES - 1) early++;
    }
    runs.push(performance.now() - started);
    matchedEarly = early;
  }
  return { ms: median(runs), matchedEarly };
}

export function policyFigures(): Promise<Figure[]> {
  const machines = Array.from({ length: MACHINES }, (_, j) => syntheticInventory(j));
  const filed = timeResolution(machines, policy(true));
  const unfiled = timeResolution(machines, policy(false));
  if (unfiled.matchedEarly !== filed.matchedEarly) throw new Error("the two policies resolve differently");
  const shape = `${MACHINES} machines × ${RULES} rules of 5 conditions (glob, size gte, in, regex on a list, role), compile included; ${MACHINES - filed.matchedEarly} machines fail every rule on its 5th condition and match the last; ${filed.matchedEarly} match earlier; plan hash per match`;
  return Promise.resolve([
    {
      id: "policy.resolve_10k_x200_ms",
      value: Number(filed.ms.toFixed(1)),
      unit: "ms",
      note: `median of ${RUNS}; ${shape}; role as equals, so each rule is filed under its role and a machine tries ~2 rules; goal ≤ 100`,
    },
    {
      id: "policy.resolve_10k_x200_unfiled_ms",
      value: Number(unfiled.ms.toFixed(1)),
      unit: "ms",
      note: `median of ${RUNS}; the same machines and rules with the role as a glob (no index applies: every machine tries every rule, each fact computed once per machine); no goal: what a policy the index cannot help costs`,
    },
  ]);
}
