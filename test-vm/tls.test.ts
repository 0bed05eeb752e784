// TLS and approval end to end (issue 17): a server with --tls auto and `enrollment: approve`; a VM
// netboots through Debian's iPXE (which cannot speak TLS: its boot script, kernel and initramfs come over
// plain HTTP on the same port), the loader pins the CA its command line names, waits for an operator's
// approval, enrolls and installs the tiny image over HTTPS, and the install leaves that CA beside the
// marker for the OS. A second VM, sent to a server with another CA while it pins the first (as USB
// media carrying site A's fingerprint would be, on a network where B answers), refuses it, names both
// fingerprints on its console, and B never hears its inventory.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MARKER_PARTITION_NAME } from "../build-scripts/build-os-image.js";
import { pinServerCa } from "../agent/shared/pinned-tls.js";
import { readGpt } from "../agent/installer/gpt.js";
import type { RunningServer } from "../server/server.js";
import { OPERATOR } from "../server/test-support.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { directLoaderBoot, Vm } from "./qemu.js";
import { installAndWaitForCallHome, serveTinyImage, startTestServer } from "./test-server.js";

let accel: Accelerator;
let dir: string;
let siteA: RunningServer | undefined;
let siteB: RunningServer | undefined;
const vms: Vm[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  dir = mkdtempSync(join(tmpdir(), "bootwright-tls-"));
  siteA = await startTestServer(join(dir, "a"), 0, { tls: "auto" });
  siteB = await startTestServer(join(dir, "b"), 0, { tls: "auto" });
  // This process talks to A as an operator's tools would: trusting A's CA and nothing else (fetch
  // through the pin; node:https, which the image upload streams with, through its agent's CA list, as
  // NODE_EXTRA_CA_CERTS gives it to the CLI).
  const caPem = await pinServerCa(siteA.url, siteA.caFingerprint ?? "");
  https.globalAgent.options.ca = caPem;
  // Site A also wants an operator's word before a new machine enrolls.
  await serveTinyImage(siteA, "TLS-*", { enrollment: "approve" });
}, 10 * 60_000);

afterAll(async () => {
  await Promise.all(vms.map((vm) => vm.stop()));
  await siteA?.close();
  await siteB?.close();
  if (!process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

/** The second 4 KiB block of the disk's marker partition: where the install leaves the pinned CA. */
async function caBesideMarker(disk: string): Promise<string> {
  const partition = (await readGpt(disk, 512)).find((p) => p.name === MARKER_PARTITION_NAME);
  if (!partition) throw new Error(`${disk} has no ${MARKER_PARTITION_NAME} partition`);
  const block = Buffer.alloc(4096);
  const fd = openSync(disk, "r");
  try {
    readSync(fd, block, 0, block.length, Number(partition.firstLba) * 512 + 4096);
  } finally {
    closeSync(fd);
  }
  return block.toString("utf8").replace(/\0+$/, "");
}

it("pins the CA, waits for approval, installs over HTTPS and leaves the CA for the OS; another CA is refused", async () => {
  if (!siteA || !siteB) throw new Error("the servers did not start");
  const pinnedA = siteA.caFingerprint ?? "";
  const id = "0e0c8a6a-6f5f-4c43-9d57-0000000000e1";
  const installing = Vm.start({
    name: "tls-install",
    workDir: join(dir, "vm-install"),
    accel,
    firmware: "bios",
    boot: { kind: "network", bootfileUrl: `${siteA.bootUrl}/boot.ipxe` },
    mac: "52:54:00:e1:00:e1",
    uuid: id,
    smbios: ["type=1,manufacturer=Acme,product=TLS-1,serial=TLS-0001"],
    disksMiB: [128],
    allowReboot: true,
  });
  vms.push(installing);
  // Side by side: the impostor's whole story fits in the install's.
  const mac = "52:54:00:e1:00:e2";
  const refusing = Vm.start({
    name: "tls-wrong-ca",
    workDir: join(dir, "vm-wrong-ca"),
    accel,
    firmware: "bios",
    boot: directLoaderBoot(mac, siteB.advertiseUrl, `bootwright.ca=${pinnedA}`),
    mac,
  });
  vms.push(refusing);

  // Up to its newline: the console file is read while the serial line is still being written, and a
  // match on a half-written line misses its end.
  const refusal = await refusing.waitForConsole(/checking the server's certificate failed[^\n]*\n/, 240_000);
  expect(refusal[0]).toContain(`none is the pinned CA ${pinnedA}`);
  expect(refusal[0]).toContain(siteB.caFingerprint ?? "?");
  expect(refusal[0]).toContain("tls_pin_mismatch");
  await refusing.stop();
  // B heard nothing: no machine, no inventory.
  const onB = await fetch(`${siteB.url}/v1/machines`, { headers: OPERATOR }).catch((err: unknown) => err);
  expect(onB).toBeInstanceOf(Error); // this process trusts A's CA alone: B cannot even be asked
  expect(await siteB.store.getMachine(mac)).toBeUndefined();

  // Approve mode: the machine waits, its console says so, and it goes on once an operator approves.
  await installing.waitForConsole(/awaiting approval machine=\S+ code=awaiting_approval/, 240_000);
  expect(await siteA.store.getMachine(id)).toMatchObject({
    category: "discovered",
    enrollment: { state: "awaiting-approval" },
  });
  const approved = await fetch(`${siteA.url}/v1/machines/${id}/approve`, {
    method: "POST",
    headers: OPERATOR,
  });
  expect(approved.status).toBe(200);
  await installAndWaitForCallHome(siteA, installing, id, { enroll: 60_000, install: 600_000 });
  const console = installing.console();
  expect(console).toContain(`server certificate chains to the pinned CA ca=${pinnedA}`);
  expect(console).toContain(`bootwright loader starting server=${siteA.advertiseUrl} `);
  // The tiny OS has no TLS client that checks certificates: it says so and calls home over HTTP.
  expect(console).toContain("bootwright-os: no TLS client here: calling home over plain HTTP");
  await installing.stop();
  const ca = await caBesideMarker(join(dir, "vm-install", "disk0.img"));
  expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\n?$/);
  const fromDisk = new X509Certificate(ca);
  expect(`sha256:${fromDisk.fingerprint256.replaceAll(":", "").toLowerCase()}`).toBe(pinnedA);
}, 900_000);
