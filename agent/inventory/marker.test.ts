// The installed-system marker: JSON at the start of the bootwright-marker partition, zero-padded.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parseMarker, readInstalledMarker } from "./marker.js";

const json = '{"image":"debian-12","planHash":"sha256:abc"}';

it("parses the zero-padded JSON and names the partition", () => {
  const bytes = Buffer.alloc(4096);
  bytes.write(json);
  expect(parseMarker(bytes, "vda1")).toEqual({
    image: "debian-12",
    planHash: "sha256:abc",
    partition: "vda1",
  });
});

it("an empty, garbled or incomplete marker is no marker", () => {
  expect(parseMarker(Buffer.alloc(4096), "vda1")).toBeUndefined();
  expect(parseMarker(Buffer.from("{not json"), "vda1")).toBeUndefined();
  expect(parseMarker(Buffer.from('{"image":"x"}'), "vda1")).toBeUndefined();
});

it("finds the marker only in the partition the kernel names bootwright-marker", async () => {
  const root = mkdtempSync(join(tmpdir(), "bootwright-marker-"));
  try {
    for (const [name, partname] of [
      ["vda1", "efi"],
      ["vdb1", "bootwright-marker"],
    ] as const) {
      mkdirSync(join(root, "sys/class/block", name), { recursive: true });
      writeFileSync(
        join(root, "sys/class/block", name, "uevent"),
        `MAJOR=254\nDEVNAME=${name}\nPARTNAME=${partname}\n`,
      );
    }
    mkdirSync(join(root, "dev"));
    writeFileSync(join(root, "dev/vda1"), json); // right content, wrong partition name: ignored
    writeFileSync(
      join(root, "dev/vdb1"),
      Buffer.concat([Buffer.from(json.replace("debian-12", "debian-13")), Buffer.alloc(100)]),
    );
    expect(await readInstalledMarker(root)).toEqual({
      image: "debian-13",
      planHash: "sha256:abc",
      partition: "vdb1",
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
