// The loader's side of TLS, without a VM: its own code (agent/shared/pinned-tls.ts) against a real
// server with --tls auto on loopback. A wrong pin is refused before anything is sent and names what the
// server offered; the right one makes the server's CA the process's only one, and the loader then
// enrolls over HTTPS with its ordinary client.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { postInventory } from "../agent/loader/server-client.js";
import { pinServerCa } from "../agent/shared/pinned-tls.js";
import type { RunningServer } from "../server/server.js";
import { OPERATOR, sampleInventory } from "../server/test-support.js";
import { startTestServer } from "./test-server.js";

let dir: string;
let server: RunningServer;
const before = getGlobalDispatcher();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-tls-pin-"));
  server = await startTestServer(dir, 0, { tls: "auto", logLevel: "silent" });
});

afterEach(() => {
  setGlobalDispatcher(before); // a pin is the whole process's: each test starts without one
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

it("refuses a server whose chain lacks the pinned CA, naming both fingerprints; nothing enrolls", async () => {
  const other = `sha256:${"0f".repeat(32)}`;
  const refused = pinServerCa(server.url, other);
  await expect(refused).rejects.toMatchObject({
    code: "tls_pin_mismatch",
    context: { pinned: other, offered: expect.arrayContaining([server.caFingerprint]) as unknown },
  });
  await expect(refused).rejects.toThrow(/none is the pinned CA sha256:0f0f/);
  expect((await server.store.listMachines()).length).toBe(0);
});

it("without a pin, the default trust refuses the server's own CA", async () => {
  await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
});

it("pins the CA, then enrolls over HTTPS with the loader's own client", async () => {
  const pem = await pinServerCa(server.url, server.caFingerprint ?? "");
  const ca = new X509Certificate(pem);
  expect(`sha256:${ca.fingerprint256.replaceAll(":", "").toLowerCase()}`).toBe(server.caFingerprint);
  const accepted = await postInventory(server.url, sampleInventory({ bootMac: "52:54:00:77:00:03" }));
  expect(accepted.credential).toMatch(/^bwm_/);
  expect((await fetch(`${server.url}/v1/machines`, { headers: OPERATOR })).status).toBe(200);
});
