// boot.* figures: power-on → inventory stored, through iPXE vs a direct -kernel/-initrd boot of the same
// initramfs, in the same run, on the same server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { requireBootArtefacts } from "../test-vm/paths.js";
import { directLoaderBoot, Vm, type VmBoot } from "../test-vm/qemu.js";
import { startTestServer, waitForMachine } from "../test-vm/test-server.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const TIMEOUT_MS = 180_000;

export async function bootFigures(): Promise<Figure[]> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-boot-"));
  const server = await startTestServer(dir);
  try {
    /** Seconds from QEMU's start to the server holding this VM's inventory. */
    const timeBoot = async (index: number, kind: VmBoot["kind"]): Promise<number> => {
      const mac = `52:54:00:be:0${kind === "network" ? 1 : 2}:${index.toString(16).padStart(2, "0")}`;
      const boot: VmBoot =
        kind === "network"
          ? { kind, bootfileUrl: `${server.advertiseUrl}/boot.ipxe` }
          : directLoaderBoot(mac, server.advertiseUrl);
      // No -uuid: identity is the MAC, so each run is a machine of its own.
      const vm = Vm.start({
        name: `bench-${kind}-${index}`,
        workDir: join(dir, `${kind}-${index}`),
        accel,
        firmware: "bios",
        boot,
        mac,
        disksMiB: [64],
      });
      try {
        await waitForMachine(server, mac, (m) => m?.inventory ?? undefined, TIMEOUT_MS);
        return (performance.now() - vm.startedAt) / 1000;
      } finally {
        await vm.stop();
      }
    };
    const ipxe: number[] = [];
    const direct: number[] = [];
    // Interleaved, so drift in the machine's load hits both sides alike.
    for (let i = 0; i < RUNS; i++) {
      ipxe.push(await timeBoot(i, "network"));
      direct.push(await timeBoot(i, "direct"));
    }
    const ipxeS = median(ipxe);
    const directS = median(direct);
    const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
    return [
      {
        id: "boot.ipxe_vs_direct",
        value: round(ipxeS / directS),
        unit: "ratio",
        ours: round(ipxeS),
        baseline: round(directS),
        baseline_is: "same initramfs booted by -kernel/-initrd, same server, same run",
        note: `median of ${RUNS}; BIOS (SeaBIOS + Debian iPXE ROM); accel ${accel}; runs ipxe=[${ipxe.map((s) => round(s, 1)).join(", ")}] direct=[${direct.map((s) => round(s, 1)).join(", ")}]`,
      },
      {
        id: "boot.inventory_posted_s",
        value: round(ipxeS, 1),
        unit: "s",
        note: `power-on → inventory stored via iPXE, BIOS, accel ${accel}, median of ${RUNS}`,
      },
    ];
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
