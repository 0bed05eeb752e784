// Reads the marker an installed system leaves: JSON (image + plan hash) at the start of the GPT
// partition named "bootwright-marker", padded with zeros. A raw partition needs no filesystem driver
// in the initramfs, and the kernel names GPT partitions in sysfs (PARTNAME in each partition's uevent).
import { open } from "node:fs/promises";
import { join } from "node:path";
import { InstalledMarker } from "../../protocol/index.js";
import { listDir, readText } from "./sysfs.js";

export const MARKER_PARTITION_NAME = "bootwright-marker";
const MARKER_BYTES = 4096;

/** The marker JSON from the bytes of the partition's first 4 KiB (pure): undefined when there is none. */
export function parseMarker(bytes: Uint8Array, partition: string): InstalledMarker | undefined {
  const end = bytes.indexOf(0);
  const text = Buffer.from(end === -1 ? bytes : bytes.subarray(0, end))
    .toString("utf8")
    .trim();
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = InstalledMarker.safeParse({
    ...(typeof json === "object" && json !== null ? json : {}),
    partition,
  });
  return parsed.success ? parsed.data : undefined;
}

/** The first readable marker on any disk, or null. `root` holds sys/ and dev/ (tests point it elsewhere). */
export async function readInstalledMarker(root: string): Promise<InstalledMarker | null> {
  for (const name of await listDir(join(root, "sys/class/block"))) {
    const uevent = (await readText(join(root, "sys/class/block", name, "uevent"))) ?? "";
    if (!uevent.split("\n").includes(`PARTNAME=${MARKER_PARTITION_NAME}`)) continue;
    try {
      const handle = await open(join(root, "dev", name), "r");
      try {
        const buffer = Buffer.alloc(MARKER_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, MARKER_BYTES, 0);
        const marker = parseMarker(buffer.subarray(0, bytesRead), name);
        if (marker) return marker;
      } finally {
        await handle.close();
      }
    } catch {
      // an unreadable partition is no marker; the next one may be
    }
  }
  return null;
}
