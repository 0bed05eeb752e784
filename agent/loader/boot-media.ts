// The rescue media the loader booted from (bootwright.media=1): found by its EFI system partition's FAT
// label, mounted read-only, its settings file read. The media is a hybrid ISO: written to a USB stick the
// kernel shows the ESP as a partition; as a CD (sr0) it does not read partition tables, so the ESP is
// mounted through a loop device at its offset from the MBR. Parsers are pure and tested on built media.
import { mkdir, open, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  ESP_TYPE,
  fatVolumeLabel,
  MEDIA_LABEL,
  parseMbr,
  SECTOR,
  type MbrPartition,
  MEDIA_SETTINGS_FILE,
  parseMediaSettings,
  type MediaSettings,
  type MediaSettingsResult,
} from "../../protocol/index.js";
import { BOOT_MEDIA_NOTE } from "../inventory/disks.js";
import { listDir, readText } from "../inventory/sysfs.js";
import { sleep } from "../shared/backoff.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";

export interface BootMedia {
  /** The whole device, e.g. sr0 or sda. */
  device: string;
  /** The ESP as the kernel shows it (sda2), or null when it does not (a CD): mounted by offset then. */
  partition: string | null;
  offsetBytes: number;
  sizeBytes: number;
}

async function readAt(path: string, offset: number, length: number): Promise<Uint8Array | null> {
  try {
    const file = await open(path, "r");
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return bytesRead === length ? buffer : null;
    } finally {
      await file.close();
    }
  } catch {
    return null;
  }
}

/** The kernel's partition device for partition `number` of `device`, when it made one. */
async function partitionDevice(root: string, device: string, part: MbrPartition): Promise<string | null> {
  for (const name of [`${device}${String(part.number)}`, `${device}p${String(part.number)}`]) {
    const start = await readText(join(root, "sys/block", device, name, "start"));
    if (start !== null && Number(start) === part.startLba) return name;
  }
  return null;
}

/** Looks once through the block devices for an ESP labelled MEDIA_LABEL. */
export async function findBootMedia(root: string): Promise<BootMedia | null> {
  for (const device of await listDir(join(root, "sys/block"))) {
    if (/^(loop|ram|zram|md|dm-)/.test(device)) continue;
    const sector0 = await readAt(join(root, "dev", device), 0, SECTOR);
    for (const part of sector0 ? parseMbr(sector0) : []) {
      if (part.type !== ESP_TYPE) continue;
      const boot = await readAt(join(root, "dev", device), part.startLba * SECTOR, SECTOR);
      if (!boot || fatVolumeLabel(boot) !== MEDIA_LABEL) continue;
      return {
        device,
        partition: await partitionDevice(root, device, part),
        offsetBytes: part.startLba * SECTOR,
        sizeBytes: part.sectors * SECTOR,
      };
    }
  }
  return null;
}

/** USB sticks and CD drives appear a few seconds after their drivers load: look until `timeoutMs`. */
export async function waitForBootMedia(root: string, timeoutMs: number): Promise<BootMedia | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const media = await findBootMedia(root);
    if (media || Date.now() > deadline) return media;
    await sleep(500);
  }
}

export const MEDIA_MOUNT = "/run/bootwright/media";
const MOUNT_TIMEOUT_MS = 30_000;

/** Mounts the media's ESP read-only at MEDIA_MOUNT (a loop device at its offset when it has no partition device). */
export async function mountBootMedia(media: BootMedia): Promise<string> {
  await mkdir(MEDIA_MOUNT, { recursive: true });
  const opts = { timeoutMs: MOUNT_TIMEOUT_MS };
  // A loader restarted by /init finds its earlier mount: start again from none.
  await run("umount", [MEDIA_MOUNT], opts).catch(() => undefined);
  let source = `/dev/${media.partition ?? ""}`;
  if (media.partition === null) {
    const loop = (await run("losetup", ["-f"], opts)).stdout.trim();
    await run("losetup", ["-r", "-o", String(media.offsetBytes), loop, `/dev/${media.device}`], opts);
    source = loop;
  }
  await run("mount", ["-t", "vfat", "-o", "ro", source, MEDIA_MOUNT], opts);
  return MEDIA_MOUNT;
}

/** The settings file on the mounted media, parsed (a missing file is an issue too). */
export async function readMediaSettings(mountPoint: string): Promise<MediaSettingsResult> {
  try {
    return parseMediaSettings(await readFile(join(mountPoint, MEDIA_SETTINGS_FILE), "utf8"));
  } catch (err) {
    return {
      ok: false,
      issues: [
        {
          line: null,
          message: `${MEDIA_SETTINGS_FILE}: ${err instanceof Error ? err.message : String(err)}`,
        },
      ],
    };
  }
}

/** Whether the media is still there: a pulled stick leaves /sys/block, an ejected CD reads size 0. */
export async function mediaPresent(root: string, media: BootMedia): Promise<boolean> {
  const size = await readText(join(root, "sys/block", media.device, "size"));
  return size !== null && Number(size) > 0;
}

/** Drivers a USB stick or CD and its ESP need; /init's coldplug may run before the USB disk appears. */
const MEDIA_MODULES = [
  "usb_storage",
  "uas",
  "sd_mod",
  "sr_mod",
  "loop",
  "vfat",
  "nls_cp437",
  "nls_ascii",
  "isofs",
];
const MEDIA_WAIT_MS = 30_000;
const RETRY_MS = 60_000;

/**
 * Finds and mounts the media and reads its settings; until it can, says why on the console once a
 * minute (PID 1's loader must not exit, and a technician can fix the stick and plug it in again).
 */
export async function startFromMedia(root = "/"): Promise<{ media: BootMedia; settings: MediaSettings }> {
  // One modprobe for all (a process start costs under emulation); a module the kernel lacks is no error.
  await run("modprobe", ["-q", "-a", ...MEDIA_MODULES], { timeoutMs: 10_000 }).catch(() => undefined);
  for (;;) {
    const media = await waitForBootMedia(root, MEDIA_WAIT_MS);
    if (!media) {
      say("fail", "booted from rescue media but found no partition labelled " + MEDIA_LABEL);
    } else {
      try {
        const mount = await mountBootMedia(media);
        const read = await readMediaSettings(mount);
        if (read.ok) {
          // From here on the inventory and every install step leave the media out of the machine's disks.
          const note = join(root, BOOT_MEDIA_NOTE);
          await mkdir(dirname(note), { recursive: true });
          await writeFile(`${note}.tmp`, media.device);
          await rename(`${note}.tmp`, note);
          say("ok", "rescue media", { device: media.device, server: read.settings.server });
          return { media, settings: read.settings };
        }
        for (const issue of read.issues)
          say("fail", `${MEDIA_SETTINGS_FILE} is not valid`, {
            line: issue.line ?? undefined,
            issue: issue.message,
          });
      } catch (err) {
        say("fail", "cannot mount the rescue media", {
          device: media.device,
          reason: err instanceof Error ? err.message : String(err),
        });
      }
      await run("umount", [MEDIA_MOUNT], { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await sleep(RETRY_MS);
  }
}

/** BIOS has no BootNext: wait, telling the operator every half minute, until the media is taken out. */
export async function waitForMediaRemoval(media: BootMedia, message: string, root = "/"): Promise<void> {
  for (let told = 0; await mediaPresent(root, media); told++) {
    if (told % 60 === 0) say("warn", message, { device: media.device });
    await sleep(500);
  }
  await run("umount", ["-l", MEDIA_MOUNT], { timeoutMs: 10_000 }).catch(() => undefined);
}
