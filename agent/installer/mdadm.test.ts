// The mdadm argv and the parsers, on real output from our initramfs (fixtures/README.md); detail-raid1.txt is what the step log carries.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createArgv, matchesPlan, metadataFor, parseDetailExport, parseMdstat, raidModule } from "./mdadm.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/mdadm/${name}`, import.meta.url), "utf8");

describe("createArgv", () => {
  it("RAID 1: metadata 1.0 (superblock at the end, members bootable), named, never prompting", () => {
    expect(createArgv(1, ["/dev/vda", "/dev/vdb"])).toEqual([
      "--create",
      "/dev/md/bootwright",
      "--run",
      "--level=1",
      "--raid-devices=2",
      "--metadata=1.0",
      "--name=bootwright",
      "--homehost=<none>",
      "/dev/vda",
      "/dev/vdb",
    ]);
  });

  it("striped levels keep mdadm's default 1.2 superblock and load their own personality", () => {
    expect(createArgv(5, ["/dev/sda", "/dev/sdb", "/dev/sdc"])).toContain("--metadata=1.2");
    expect([0, 1, 5, 10].map((l) => [metadataFor(l as 0), raidModule(l as 0)])).toEqual([
      ["1.2", "raid0"],
      ["1.0", "raid1"],
      ["1.2", "raid456"],
      ["1.2", "raid10"],
    ]);
  });
});

describe("parseMdstat", () => {
  it("reads a RAID 1 array in its initial resync", () => {
    expect(parseMdstat(fixture("mdstat-raid1-resync.txt"))).toEqual([
      {
        name: "md127",
        state: "active",
        level: "raid1",
        members: ["vda", "vdb"],
        sync: { action: "resync", percent: 20.7 },
      },
    ]);
  });

  it("reads inactive arrays, delayed resyncs and no arrays at all", () => {
    const text = [
      "Personalities : [raid1] [raid6] [raid5] [raid4]",
      "md126 : inactive sdc[0](S)",
      "      1047552 blocks super 1.2",
      "",
      "md125 : active raid5 sdd[2] sde[1] sdf[0]",
      "      2095104 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/3] [UUU]",
      "        resync=DELAYED",
      "",
      "unused devices: <none>",
      "",
    ].join("\n");
    expect(parseMdstat(text)).toEqual([
      { name: "md126", state: "inactive", level: null, members: ["sdc"], sync: null },
      {
        name: "md125",
        state: "active",
        level: "raid5",
        members: ["sdd", "sde", "sdf"],
        sync: { action: "resync", percent: 0 },
      },
    ]);
    expect(parseMdstat("Personalities : \nunused devices: <none>\n")).toEqual([]);
  });
});

describe("parseDetailExport / matchesPlan", () => {
  const detail = parseDetailExport(fixture("detail-export-raid1.txt"));

  it("reads level, metadata, name and members", () => {
    expect(detail).toEqual({
      level: "raid1",
      devices: 2,
      metadata: "1.0",
      uuid: "e15ffd4f:ee50695a:644f9509:eb2ffc3b",
      name: "bootwright",
      members: ["/dev/vda", "/dev/vdb"],
    });
  });

  it("matches the plan it was made for, by member name in any order, and nothing else", () => {
    expect(matchesPlan(detail, 1, ["/dev/vdb", "/dev/vda"])).toBe(true);
    expect(matchesPlan(detail, 1, ["/tmp/root/dev/vda", "/tmp/root/dev/vdb"])).toBe(true);
    expect(matchesPlan(detail, 0, ["/dev/vda", "/dev/vdb"])).toBe(false);
    expect(matchesPlan(detail, 1, ["/dev/vda", "/dev/vdc"])).toBe(false);
    expect(matchesPlan({ ...detail, metadata: "1.2" }, 1, ["/dev/vda", "/dev/vdb"])).toBe(false);
  });
});
