// npm run bench [-- <prefix>]: runs the benchmarks, prints a table, and writes bench/results.json
// (figures not re-run this time are kept from the previous file).
import { execFileSync } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { bootFigures } from "./boot.js";
import { siteBootFigures } from "./site-boot.js";
import { mediaFigures } from "./media.js";
import { agentFigures } from "./agent.js";
import { formatFigure, type Figure } from "./figures.js";
import { captureFigures } from "./capture.js";
import { installFigures } from "./install.js";
import { maintenanceFigures } from "./maintenance.js";
import { eraseFigures } from "./erase.js";
import { driverFigures } from "./drivers.js";
import { eventFigures } from "./events.js";
import { factoryFigures } from "./factory.js";
import { inventoryFigures, smbiosFigures } from "./inventory.js";
import { policyFigures } from "./policy.js";
import { redfishFigures } from "./redfish.js";
import { queueFigures, reconcileFigures } from "./queue.js";
import { suiteFigures } from "./suite.js";
import { cliFigures, packageFigures } from "./package.js";
import { uiFigures } from "./ui.js";
import { relayFigures } from "./relay.js";
import { scaleFigures } from "./scale.js";
import { INITRAMFS_PATH } from "../test-vm/paths.js";

const RESULTS = new URL("./results.json", import.meta.url).pathname;

interface Bench {
  prefix: string;
  /** Other id prefixes this bench makes. */
  also?: string[];
  run: () => Promise<Figure[]>;
}

const BENCHES: Bench[] = [
  {
    prefix: "initramfs.",
    run: () =>
      Promise.resolve([
        {
          id: "initramfs.size_mb",
          value: Number((statSync(INITRAMFS_PATH).size / 1e6).toFixed(1)),
          unit: "MB",
          note: "zstd -22 --long=27; every Ethernet driver and its firmware (initramfs/modules.txt, firmware.txt), Node's ICU trimmed to English; goal ≤ 32",
        },
      ]),
  },
  { prefix: "smbios.", run: smbiosFigures },
  { prefix: "inventory.", run: inventoryFigures },
  { prefix: "agent.", run: agentFigures },
  { prefix: "reconcile.", run: reconcileFigures },
  // One run makes queue.* and store.* (the same load on SQLite, then on PostgreSQL).
  { prefix: "queue.", also: ["store."], run: queueFigures },
  { prefix: "policy.", run: policyFigures },
  { prefix: "boot.ipxe", also: ["boot.inventory"], run: bootFigures },
  // The site-boot figures: UEFI PXE, UEFI HTTP and Secure Boot against the iPXE ROM, in namespaces.
  { prefix: "boot.uefi_", also: ["boot.secureboot"], run: siteBootFigures },
  // The rescue ISO as a CD against iPXE, both SeaBIOS.
  { prefix: "media.", run: mediaFigures },
  // One run makes the install.* and batch*.* figures (they share the images, the server and the VMs).
  { prefix: "install.", also: ["batch"], run: () => installFigures(process.argv[2] ?? "") },
  { prefix: "capture.", run: () => captureFigures(process.argv[2] ?? "") },
  { prefix: "maintenance.", run: maintenanceFigures },
  { prefix: "erase.", run: eraseFigures },
  { prefix: "drivers.", run: driverFigures },
  { prefix: "power.redfish", run: redfishFigures },
  { prefix: "cli.", run: cliFigures },
  { prefix: "package.", run: packageFigures },
  // 1,000 SSE clients of one server process, and a bare socket writer as the baseline.
  { prefix: "events.", run: eventFigures },
  { prefix: "ui.", run: uiFigures },
  // Four factory units through the station at once ÷ one alone (host processes, not VMs).
  { prefix: "factory.", run: factoryFigures },
  // 8 agent processes behind one nginx relay before three servers on PostgreSQL.
  { prefix: "relay.", run: relayFigures },
  // 10,000 simulated machines: one server on SQLite, then three on PostgreSQL behind nginx.
  { prefix: "scale.", run: () => scaleFigures() },
  // suite.fresh_minutes and suite.fresh_ci_minutes only when the prefix names them (most of an hour).
  { prefix: "suite.", run: () => suiteFigures(process.argv[2] ?? "") },
];

function machineDescription(): string {
  let kvm = "no (/dev/kvm not usable)";
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    kvm = "device usable (the accelerator actually used is in each boot figure's note)";
  } catch {
    // not usable: keep "no"
  }
  return `${execFileSync("uname", ["-a"]).toString().trim()}; nproc ${availableParallelism()}; kvm ${kvm}`;
}

async function main(): Promise<void> {
  const prefix = process.argv[2] ?? "";
  const selected = BENCHES.filter((bench) =>
    [bench.prefix, ...(bench.also ?? [])].some((own) => own.startsWith(prefix) || prefix.startsWith(own)),
  );
  if (selected.length === 0) throw new Error(`no benchmark matches "${prefix}"`);
  const figures: Figure[] = [];
  for (const bench of selected) {
    process.stderr.write(`[bench] running ${bench.prefix}*\n`);
    for (const figure of await bench.run()) {
      if (figure.id.startsWith(prefix)) {
        figures.push(figure);
        console.log(formatFigure(figure));
      }
    }
  }
  const previous = existsSync(RESULTS)
    ? ((JSON.parse(readFileSync(RESULTS, "utf8")) as { figures?: Figure[] }).figures ?? [])
    : [];
  const fresh = new Set(figures.map((f) => f.id));
  const merged = [...previous.filter((f) => !fresh.has(f.id)), ...figures].sort((a, b) =>
    a.id.localeCompare(b.id),
  );
  const temp = `${RESULTS}.tmp`;
  writeFileSync(
    temp,
    JSON.stringify(
      { at: new Date().toISOString(), machine: machineDescription(), figures: merged },
      null,
      2,
    ) + "\n",
  );
  renameSync(temp, RESULTS);
  console.log(`\nwrote ${RESULTS}`);
}

await main();
