// What /init's early listener heard, as the loader reads it (initramfs/init writes these files): lldpd's
// real frame from agent/inventory's fixture; a listener that failed; one that finishes after we ask.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { expect, it, onTestFinished } from "vitest";
import { listenForLldp } from "./lldp-listener.js";

const frame = readFileSync(
  join(import.meta.dirname, "../inventory/fixtures/lldp/lldpd-1.0.16-ifname.hex"),
  "utf8",
).trim();
const eth0 = { name: "eth0", mac: "52:54:00:12:34:56" };

function earlyListener(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-lldp-"));
  onTestFinished(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

it("reads the neighbour /init's listener heard, without listening again", async () => {
  const dir = earlyListener({ "lldp.nics": "eth0\n", "lldp.status": "0\n", "lldp.out": `eth0 ${frame}\n` });
  expect(await listenForLldp([eth0], 3000, dir)).toEqual([
    expect.objectContaining({ interface: "eth0", systemName: "rack12-tor", portId: "swp12" }),
  ]);
});

it("waits for a listener still running, and says nothing was heard when it heard nothing", async () => {
  const dir = earlyListener({ "lldp.nics": "eth0\n" });
  const heard = listenForLldp([eth0], 1000, dir);
  await delay(300);
  writeFileSync(join(dir, "lldp.status"), "0\n");
  writeFileSync(join(dir, "lldp.out"), "");
  expect(await heard).toEqual([]);
});

it("a listener that failed gives no neighbour, never an error", async () => {
  const dir = earlyListener({
    "lldp.nics": "eth0\n",
    "lldp.status": "1\n",
    "lldp.err": "lldp-listen: socket: Operation not permitted\n",
    "lldp.out": "",
  });
  expect(await listenForLldp([eth0], 3000, dir)).toEqual([]);
});

it("waiting off: nothing is read or heard", async () => {
  const dir = earlyListener({ "lldp.nics": "eth0\n", "lldp.status": "0\n", "lldp.out": `eth0 ${frame}\n` });
  expect(await listenForLldp([eth0], 0, dir)).toEqual([]);
});
