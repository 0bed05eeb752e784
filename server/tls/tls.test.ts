// TLS: `--tls auto` makes a CA and a server certificate once (keys 0600) and keeps the CA when the names
// change; one port answers plain HTTP for what firmware fetches and HTTPS for the rest; the site's own
// chain works the same. Real server, real openssl, real TLS on loopback. (The loader's side, pinning the
// CA by fingerprint, is test-vm/tls-pin.test.ts: server/ may not import agent/.)
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../server.js";
import { makeTempDir, OPERATOR, sampleInventory, startApiServer, apiServerConfig } from "../test-support.js";
import { autoTls, caFingerprint, pemCertificates } from "./certificates.js";

let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;

/** A client trusting only the CA in `pem` (as a pinned loader does). */
function trusting(pem: string | Buffer): Agent {
  return new Agent({ connect: { ca: pem } });
}

beforeAll(async () => {
  work = makeTempDir("bw-tls-");
  server = await startApiServer(join(work.dir, "a"), { tls: "auto" });
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("--tls auto", () => {
  it("keeps a CA and a server certificate for the advertised address, keys readable by us alone", () => {
    const dir = join(work.dir, "a", "tls");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const key of ["ca.key", "server.key"]) expect(statSync(join(dir, key)).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(readFileSync(join(dir, "ca.pem")));
    const cert = new X509Certificate(readFileSync(join(dir, "server.pem")));
    expect(ca.ca).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subjectAltName).toContain("IP Address:10.0.2.2");
    expect(server.caFingerprint).toBe(caFingerprint(ca));
    expect(server.advertiseUrl).toMatch(/^https:\/\/10\.0\.2\.2:\d+$/);
    expect(server.bootUrl).toBe(server.advertiseUrl.replace("https:", "http:"));
  });

  it("makes the server certificate again when the names change, and keeps the CA machines pin", async () => {
    const dir = join(work.dir, "renew");
    const first = await autoTls(dir, ["10.0.2.2"]);
    const again = await autoTls(dir, ["10.0.2.2"]);
    expect(again.chain.equals(first.chain)).toBe(true);
    const moved = await autoTls(dir, ["10.9.0.1", "boot.example"]);
    expect(moved.caFingerprint).toBe(first.caFingerprint);
    const leaf = pemCertificates(moved.chain.toString())[0];
    expect(leaf?.subjectAltName).toContain("IP Address:10.9.0.1");
    expect(leaf?.subjectAltName).toContain("DNS:boot.example");
    expect(leaf?.subjectAltName).not.toContain("10.0.2.2");
  });
});

describe("one port, two protocols", () => {
  const plain = (): string => server.url.replace("https:", "http:");

  it("answers firmware's fetches over plain HTTP, pointing the loader at https with the CA", async () => {
    const boot = await fetch(`${plain()}/boot.ipxe`);
    expect(boot.status).toBe(200);
    expect(await boot.text()).toContain(`chain --autofree --replace ${server.bootUrl}/boot/`);
    const script = await (await fetch(`${plain()}/boot/52:54:00:77:00:01.ipxe`)).text();
    expect(script).toContain(`kernel ${server.bootUrl}/assets/vmlinuz`);
    expect(script).toContain(`bootwright.server=${server.advertiseUrl} `);
    expect(script).toContain(`bootwright.ca=${server.caFingerprint ?? "?"}`);
  });

  it("refuses everything else over plain HTTP: tls_required, nothing done", async () => {
    const list = await fetch(`${plain()}/v1/machines`, { headers: OPERATOR });
    expect(list.status).toBe(403);
    expect(await list.json()).toMatchObject({ code: "tls_required" });
    const enroll = await fetch(`${plain()}/v1/inventory`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(sampleInventory({ bootMac: "52:54:00:77:00:02" })),
    });
    expect(enroll.status).toBe(403);
    expect(await server.store.getMachine("52:54:00:77:00:02")).toBeUndefined();
  });

  it("answers HTTPS to a client trusting its CA, and only to one", async () => {
    await expect(undiciFetch(`${server.url}/healthz`)).rejects.toThrow();
    const ca = readFileSync(join(work.dir, "a", "tls", "ca.pem"));
    const list = await undiciFetch(`${server.url}/v1/machines`, {
      headers: OPERATOR,
      dispatcher: trusting(ca),
    });
    expect(list.status).toBe(200);
  });
});

describe("the local socket under TLS", () => {
  it("answers over --socket (no network to cross), while plain TCP stays refused", async () => {
    const socketPath = join(work.dir, "local.sock");
    const local = await startApiServer(join(work.dir, "sock"), { tls: "auto", socket: socketPath });
    try {
      const viaSocket = await undiciFetch("http://localhost/v1/machines", {
        headers: OPERATOR,
        dispatcher: new Agent({ connect: { socketPath } }),
      });
      expect(viaSocket.status).toBe(200);
      const plain = await fetch(`${local.url.replace("https:", "http:")}/v1/machines`, { headers: OPERATOR });
      expect(plain.status).toBe(403);
    } finally {
      await local.close();
    }
  });
});

describe("--tls-cert/--tls-key", () => {
  it("serves the site's chain and pins its last certificate", async () => {
    const made = await autoTls(join(work.dir, "site-ca"), ["10.0.2.2"]);
    const certFile = join(work.dir, "site-chain.pem");
    const keyFile = join(work.dir, "site.key");
    writeFileSync(certFile, made.chain);
    writeFileSync(keyFile, made.key, { mode: 0o600 });
    const site = await startApiServer(join(work.dir, "b"), { tlsCert: certFile, tlsKey: keyFile });
    try {
      expect(site.caFingerprint).toBe(made.caFingerprint);
      const ca = pemCertificates(made.chain.toString()).at(-1)?.toString() ?? "";
      expect((await undiciFetch(`${site.url}/healthz`, { dispatcher: trusting(ca) })).status).toBe(200);
    } finally {
      await site.close();
    }
  });

  it("refuses a chain without its CA, and a certificate without its key", async () => {
    const made = await autoTls(join(work.dir, "lone"), ["10.0.2.2"]);
    const leafOnly = join(work.dir, "leaf.pem");
    writeFileSync(leafOnly, pemCertificates(made.chain.toString())[0]?.toString() ?? "");
    writeFileSync(join(work.dir, "lone.key"), made.key);
    await expect(
      startApiServer(join(work.dir, "c"), { tlsCert: leafOnly, tlsKey: join(work.dir, "lone.key") }),
    ).rejects.toMatchObject({ code: "tls_setup" });
    expect(() => apiServerConfig(join(work.dir, "d"), { tlsCert: leafOnly })).toThrow(/go together/);
  });
});
