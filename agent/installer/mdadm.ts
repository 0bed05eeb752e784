// The pure half of the mdadm-raid plugin: the array's name, the mdadm argv for a plan, and parsers for
// /proc/mdstat and `mdadm --detail --export` (samples in mdadm.test.ts are real output from a VM).

/** The array's name: mdadm makes /dev/md/bootwright point at it; image-stream writes there. */
export const RAID_NAME = "bootwright";
export const RAID_DEVICE = `md/${RAID_NAME}`;

export type RaidLevel = 0 | 1 | 5 | 10;

/** The md personality module for a level (drivers/md/). */
export function raidModule(level: RaidLevel): string {
  switch (level) {
    case 0:
      return "raid0";
    case 1:
      return "raid1";
    case 5:
      return "raid456";
    case 10:
      return "raid10";
  }
}

/**
 * Superblock format per level. RAID 1 gets 1.0, which sits at the END of each member: the array's data
 * starts at sector 0 of every disk, so each member disk on its own starts with the image's partition
 * table and boot code, and firmware that knows nothing of md (SeaBIOS, OVMF, a server's BIOS) boots from
 * whichever member it picks. With 1.2 (mdadm's default, 4 KiB from the start) no member would be
 * bootable. RAID 0/5/10 stripe the data, so no member holds a bootable image either way: they keep 1.2.
 */
export function metadataFor(level: RaidLevel): "1.0" | "1.2" {
  return level === 1 ? "1.0" : "1.2";
}

/**
 * `mdadm --create` for the plan. --run: never prompt (members that held a partition table or an old
 * array make mdadm ask for confirmation, and there is no one to answer). --homehost=<none>: the
 * initramfs has no real host name, and the installed OS should not see the array as some other host's.
 */
export function createArgv(
  level: RaidLevel,
  members: readonly string[],
  array = `/dev/${RAID_DEVICE}`,
): string[] {
  return [
    "--create",
    array,
    "--run",
    `--level=${level}`,
    `--raid-devices=${members.length}`,
    `--metadata=${metadataFor(level)}`,
    `--name=${RAID_NAME}`,
    "--homehost=<none>",
    ...members,
  ];
}

export interface MdstatArray {
  /** Kernel name, e.g. md127. */
  name: string;
  state: string;
  level: string | null;
  /** Member kernel names, e.g. ["vda", "vdb"], sorted. */
  members: string[];
  /** A resync/recovery/check in progress: its kind and percent done. */
  sync: { action: string; percent: number } | null;
}

/** Parses /proc/mdstat (md(4)). */
export function parseMdstat(text: string): MdstatArray[] {
  const arrays: MdstatArray[] = [];
  let current: MdstatArray | undefined;
  for (const line of text.split("\n")) {
    const head = /^(md\S*)\s*:\s*(\S+)\s*(.*)$/.exec(line);
    if (head?.[1] && head[2]) {
      const words = (head[3] ?? "").split(/\s+/).filter(Boolean);
      // "active raid1 vdb[1] vda[0]", "inactive vda[0](S)", "active (auto-read-only) raid1 …"
      const level = words.find((w) => /^(raid\d+|linear|multipath)$/.test(w)) ?? null;
      const members = words
        .map((w) => /^([^[\s]+)\[\d+\]/.exec(w)?.[1])
        .filter((m): m is string => m !== undefined)
        .sort();
      current = { name: head[1], state: head[2], level, members, sync: null };
      arrays.push(current);
      continue;
    }
    const sync = /(resync|recovery|reshape|check|repair)\s*=\s*([\d.]+)%/.exec(line);
    if (current && sync?.[1] && sync[2]) current.sync = { action: sync[1], percent: Number(sync[2]) };
    else if (current && /resync=(DELAYED|PENDING)/.exec(line))
      current.sync = { action: "resync", percent: 0 };
    if (line.trim() === "") current = undefined;
  }
  return arrays;
}

export interface ArrayDetail {
  level: string | null;
  devices: number | null;
  metadata: string | null;
  uuid: string | null;
  name: string | null;
  /** Member device paths (e.g. /dev/vda), sorted. */
  members: string[];
}

/** Parses `mdadm --detail --export <array>`: KEY=value lines (MD_LEVEL, MD_DEVICE_dev_vda_DEV…). */
export function parseDetailExport(text: string): ArrayDetail {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const members = [...values.entries()]
    .filter(([key]) => /^MD_DEVICE_.+_DEV$/.test(key))
    .map(([, value]) => value)
    .sort();
  const devices = values.get("MD_DEVICES");
  return {
    level: values.get("MD_LEVEL") ?? null,
    devices: devices === undefined ? null : Number(devices),
    metadata: values.get("MD_METADATA") ?? null,
    uuid: values.get("MD_UUID") ?? null,
    name: values.get("MD_NAME") ?? values.get("MD_DEVNAME") ?? null,
    members,
  };
}

/**
 * Whether a running array is exactly the one the plan asks for (then a rerun keeps it): its level,
 * metadata and members, given as kernel names (vda) or device paths (/dev/vda).
 */
export function matchesPlan(detail: ArrayDetail, level: RaidLevel, members: readonly string[]): boolean {
  const names = (paths: readonly string[]): string =>
    JSON.stringify(paths.map((p) => p.slice(p.lastIndexOf("/") + 1)).sort());
  return (
    detail.level === `raid${level}` &&
    detail.metadata === metadataFor(level) &&
    detail.devices === members.length &&
    names(detail.members) === names(members)
  );
}
