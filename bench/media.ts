// media.boot_vs_ipxe: power-on → inventory stored, booted from the rescue ISO in a SATA CD drive vs
// through Debian's iPXE ROM, both SeaBIOS, same server, same run, alternating, median of 3.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { buildTestMedia, cdromArgs } from "../test-vm/media-iso.js";
import { requireBootArtefacts } from "../test-vm/paths.js";
import { Vm } from "../test-vm/qemu.js";
import { startTestServer, waitForMachine } from "../test-vm/test-server.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const TIMEOUT_MS = 180_000;

type Way = "media" | "ipxe";

export async function mediaFigures(): Promise<Figure[]> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-media-"));
  const server = await startTestServer(dir);
  try {
    const iso = join(dir, "bootwright.iso");
    await buildTestMedia(server.advertiseUrl, iso);
    /** Seconds from QEMU's start to the server holding this VM's inventory. */
    const timeBoot = async (way: Way, index: number): Promise<number> => {
      // No -uuid: identity is the MAC, so each run is a machine of its own.
      const mac = `52:54:00:bd:0${way === "media" ? 1 : 2}:${index.toString(16).padStart(2, "0")}`;
      const vm = Vm.start({
        name: `bench-${way}-${index}`,
        workDir: join(dir, `${way}-${index}`),
        accel,
        firmware: "bios",
        boot:
          way === "media"
            ? { kind: "firmware", order: "d" }
            : { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
        mac,
        disksMiB: [64],
        ...(way === "media" ? { extraArgs: cdromArgs(iso, "sata") } : {}),
      });
      try {
        await waitForMachine(server, mac, (m) => m?.inventory ?? undefined, TIMEOUT_MS);
        return (performance.now() - vm.startedAt) / 1000;
      } finally {
        await vm.stop();
      }
    };
    const seconds: Record<Way, number[]> = { media: [], ipxe: [] };
    // Interleaved, so drift in the machine's load hits both sides alike.
    for (let i = 0; i < RUNS; i++)
      for (const way of ["media", "ipxe"] as const) seconds[way].push(await timeBoot(way, i));
    const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
    const runs = (way: Way): string => seconds[way].map((s) => round(s, 1)).join(", ");
    return [
      {
        id: "media.boot_vs_ipxe",
        value: round(median(seconds.media) / median(seconds.ipxe)),
        unit: "ratio",
        ours: round(median(seconds.media)),
        baseline: round(median(seconds.ipxe)),
        baseline_is: "the same SeaBIOS machine through Debian's iPXE ROM, same server, same run",
        note: `rescue ISO in a SATA CD drive (isolinux); median of ${RUNS}, alternating; accel ${accel}; runs media=[${runs("media")}] ipxe=[${runs("ipxe")}]; goal ≤ 1.1`,
      },
    ];
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
