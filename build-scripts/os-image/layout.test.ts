// The OS image's pure parts: GPT layout and its sfdisk script, UKI section addresses from real
// `objdump -h` output of Debian 12's systemd-boot-efi stub, the deb822 mirror, mounts under a tree.
import { describe, expect, it } from "vitest";
import {
  firstDeb822Uri,
  layoutDisk,
  MiB,
  PARTITION_TYPE,
  parseObjdumpSections,
  sfdiskScript,
  ukiSectionVmas,
} from "./layout.js";
import { mountsUnder } from "./tree.js";

/** `objdump -h /usr/lib/systemd/boot/efi/linuxx64.efi.stub`, systemd-boot-efi 252.39-1~deb12u2. */
const STUB_OBJDUMP = `
/usr/lib/systemd/boot/efi/linuxx64.efi.stub:     file format pei-x86-64

Sections:
Idx Name          Size      VMA               LMA               File off  Algn
  0 .text         0000bff0  0000000000004000  0000000000004000  00000400  2**4
                  CONTENTS, ALLOC, LOAD, READONLY, CODE
  1 .reloc        0000000c  0000000000010000  0000000000010000  0000c400  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
  2 .data         000034b8  0000000000011000  0000000000011000  0000c600  2**4
                  CONTENTS, ALLOC, LOAD, DATA
  3 .dynamic      00000100  0000000000015000  0000000000015000  0000fc00  2**2
                  CONTENTS, ALLOC, LOAD, DATA
  4 .rela         00000f30  0000000000016000  0000000000016000  0000fe00  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
  5 .dynsym       00000018  0000000000017000  0000000000017000  00010e00  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
  6 .sbat         000000e2  0000000000019000  0000000000019000  00011000  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
  7 .sdmagic      00000034  0000000000019100  0000000000019100  00011200  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
`;

describe("layoutDisk / sfdiskScript", () => {
  const layout = layoutDisk("b0077a1c-0d15-4a5e-8f00-0000000000d2", [
    { name: "esp", sizeBytes: 40 * MiB, type: PARTITION_TYPE.esp, uuid: "u1", attrs: ["LegacyBIOSBootable"] },
    { name: "bootwright-marker", sizeBytes: MiB, type: PARTITION_TYPE.linuxData, uuid: "u2" },
    { name: "root", sizeBytes: 300 * MiB, type: PARTITION_TYPE.linuxRootX86_64, uuid: "u3" },
  ]);

  it("places partitions back to back from 1 MiB and leaves 1 MiB for the backup GPT", () => {
    expect(layout.partitions.map((p) => [p.name, p.startBytes / MiB, p.sizeBytes / MiB])).toEqual([
      ["esp", 1, 40],
      ["bootwright-marker", 41, 1],
      ["root", 42, 300],
    ]);
    expect(layout.sizeBytes).toBe(343 * MiB);
  });

  it("writes explicit sectors, types, UUIDs, names and attributes", () => {
    expect(sfdiskScript(layout)).toBe(
      [
        "label: gpt",
        "label-id: b0077a1c-0d15-4a5e-8f00-0000000000d2",
        "unit: sectors",
        "",
        `start=2048, size=81920, type=${PARTITION_TYPE.esp}, uuid=u1, name="esp", attrs="LegacyBIOSBootable"`,
        `start=83968, size=2048, type=${PARTITION_TYPE.linuxData}, uuid=u2, name="bootwright-marker"`,
        `start=86016, size=614400, type=${PARTITION_TYPE.linuxRootX86_64}, uuid=u3, name="root"`,
        "",
      ].join("\n"),
    );
  });

  it("refuses sizes that are not whole MiB", () => {
    expect(() =>
      layoutDisk("d", [{ name: "odd", sizeBytes: MiB + 512, type: PARTITION_TYPE.linuxData, uuid: "u" }]),
    ).toThrow(/odd.*multiple of 1 MiB/);
  });
});

describe("UKI sections", () => {
  it("parses every section of the stub", () => {
    const sections = parseObjdumpSections(STUB_OBJDUMP);
    expect(sections.map((s) => s.name)).toEqual([
      ".text",
      ".reloc",
      ".data",
      ".dynamic",
      ".rela",
      ".dynsym",
      ".sbat",
      ".sdmagic",
    ]);
    expect(sections.at(-1)).toEqual({ name: ".sdmagic", size: 0x34, vma: 0x19100 });
  });

  it("puts added sections past the stub's last one, each 4 KiB-aligned and not overlapping", () => {
    const vmas = ukiSectionVmas(parseObjdumpSections(STUB_OBJDUMP), [
      { name: ".osrel", size: 80 },
      { name: ".cmdline", size: 0x1000 },
      { name: ".linux", size: 8_222_656 },
      { name: ".initrd", size: 10 },
    ]);
    expect(vmas).toEqual([
      { name: ".osrel", vma: 0x1a000 },
      { name: ".cmdline", vma: 0x1b000 },
      { name: ".linux", vma: 0x1c000 },
      { name: ".initrd", vma: 0x1c000 + Math.ceil(8_222_656 / 0x1000) * 0x1000 },
    ]);
  });

  it("fails on objdump output with no sections", () => {
    expect(() => ukiSectionVmas(parseObjdumpSections("garbage"), [{ name: ".linux", size: 1 }])).toThrow(
      /no sections/,
    );
  });
});

describe("firstDeb822Uri", () => {
  it("takes the first stanza's URIs (Debian 12's debian.sources)", () => {
    const sources = [
      "Types: deb",
      "URIs: http://mirror.example/debian",
      "Suites: bookworm bookworm-updates",
      "",
      "Types: deb",
      "URIs: http://mirror.example/debian-security",
      "",
    ].join("\n");
    expect(firstDeb822Uri(sources)).toBe("http://mirror.example/debian");
    expect(firstDeb822Uri("Types: deb\n")).toBeUndefined();
  });
});

describe("mountsUnder", () => {
  const mountinfo = [
    "22 1 0:21 / /proc rw,nosuid - proc proc rw",
    "90 80 0:50 / /work/build/os-cache/debian-bootstrap.tmp/proc rw - proc proc rw",
    "91 90 0:51 / /work/build/os-cache/debian-bootstrap.tmp/proc/sys/fs/binfmt_misc rw - binfmt_misc x rw",
    "92 80 0:52 / /work/build/os-cache/debian-bootstrap.tmp/with\\040space rw - tmpfs t rw",
    "93 80 0:53 / /work/build/os-cache/debian-bootstrap.tmpx rw - tmpfs t rw",
  ].join("\n");

  it("lists mounts at or under the tree, deepest first, decoding octal escapes", () => {
    expect(mountsUnder(mountinfo, "/work/build/os-cache/debian-bootstrap.tmp")).toEqual([
      "/work/build/os-cache/debian-bootstrap.tmp/proc/sys/fs/binfmt_misc",
      "/work/build/os-cache/debian-bootstrap.tmp/with space",
      "/work/build/os-cache/debian-bootstrap.tmp/proc",
    ]);
  });
});
