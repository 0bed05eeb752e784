// A server on SQLite behind a real rack relay (Debian's nginx on `bootwright relay config`'s file): what
// a machine is told to fetch names the relay when it asked through it (and the server otherwise), the
// relay is listed by GET /v1/servers and `bootwright servers` once a credentialed request passed through
// it, and a header a client forges is never trusted beyond its own answer. The relay's dnsmasq file is
// checked by dnsmasq itself.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerList } from "../../protocol/index.js";
import { packageVersion } from "../http/openapi.js";
import { RELAY_HEADER } from "../http/relay-origin.js";
import type { RunningServer } from "../server.js";
import { cliOutput, inventoryFor, jsonRequest, makeTempDir, startApiServer } from "../test-support.js";
import { startLocalRelay, type LocalRelay } from "./local-relay.js";
import { writeRelayDnsmasqConfig } from "./relay-files.js";

const MAC = "52:54:00:ab:00:01";
const UUID = "4c4c4544-0000-4000-8000-00000000ab01";

let work: { dir: string; remove: () => void };
let server: RunningServer;
let relay: LocalRelay;

beforeAll(async () => {
  work = makeTempDir("bootwright-relay-origin-");
  server = await startApiServer(join(work.dir, "server"));
  relay = await startLocalRelay([server.url]);
}, 60_000);

afterAll(async () => {
  await relay.stop();
  await server.close();
  work.remove();
});

const text = async (url: string, headers: Record<string, string> = {}): Promise<string> => {
  const res = await fetch(url, { headers });
  expect(res.status).toBe(200);
  return res.text();
};

async function relays(): Promise<ServerList["relays"]> {
  return ServerList.parse((await jsonRequest(`${server.url}/v1/servers`, "GET")).body).relays;
}

describe("machines booting through a relay", () => {
  it("are sent on to the relay: the boot script, their loader's server URL and kernel", async () => {
    expect(await text(`${relay.url}/boot.ipxe`)).toContain(`${relay.url}/boot/`);
    const loader = await text(`${relay.url}/boot/${MAC}.ipxe?uuid=${UUID}`);
    expect(loader).toContain(`kernel ${relay.url}/assets/vmlinuz`);
    expect(loader).toContain(`bootwright.server=${relay.url} `);
    expect(loader).not.toContain(server.advertiseUrl);
  });

  it("straight to the server, or with a forged header that is not a relay's URL, get the server's URLs", async () => {
    expect(await text(`${server.url}/boot.ipxe`)).toContain(`${server.advertiseUrl}/boot/`);
    const forged = await text(`${server.url}/boot/${MAC}.ipxe?uuid=${UUID}`, {
      [RELAY_HEADER]: "http://evil.example/boot?x=1",
    });
    expect(forged).toContain(`bootwright.server=${server.advertiseUrl} `);
  });

  it("public requests do not list a relay; a credentialed one does, with its version", async () => {
    expect(await relays()).toEqual([]);
    // Enrolling is public (it hands out the machine's credential): still no relay listed.
    const enrolled = await jsonRequest(
      `${relay.url}/v1/inventory`,
      "POST",
      inventoryFor(MAC, { product: "R1", serial: "SN-R1", uuid: UUID }),
    );
    expect(enrolled.status).toBe(200);
    expect(await relays()).toEqual([]);
    // An operator's request through the relay is its heartbeat.
    expect((await jsonRequest(`${relay.url}/v1/machines/${UUID}`, "GET")).status).toBe(200);
    const deadline = Date.now() + 5_000;
    while ((await relays()).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const [listed, ...others] = await relays();
    expect(others).toEqual([]);
    expect(listed).toMatchObject({ url: relay.url, version: packageVersion() });
    expect(Date.now() - Date.parse(listed?.heartbeatAt ?? "")).toBeLessThan(10_000);
    const printed = await cliOutput(server.url, join(work.dir, "cli"), ["servers"]);
    expect(printed).toMatch(
      new RegExp(`^relays:\\n.*\\n${relay.url.replaceAll(".", "\\.")}\\s+${packageVersion()}\\s`, "m"),
    );
  });

  it("the relay's dnsmasq file: proxyDHCP and TFTP naming the relay, accepted by dnsmasq --test", async () => {
    const dir = join(work.dir, "relay-boot");
    const file = await writeRelayDnsmasqConfig({
      on: {
        interface: "br0",
        address: "10.79.0.1",
        netmask: "255.255.255.0",
        network: "10.79.0.0",
        prefixLength: 24,
      },
      port: 8080,
      dir,
      bootFilesDir: "/srv/boot-files",
      uefiPxe: "snponly",
    });
    const conf = readFileSync(file, "utf8");
    expect(conf).toMatch(/^dhcp-range=10\.79\.0\.0,proxy,255\.255\.255\.0$/m);
    expect(conf).toMatch(
      /^pxe-service=tag:!ipxe,tag:!http,X86-64_EFI,"bootwright",snponly\.efi,10\.79\.0\.1$/m,
    );
    expect(conf).toMatch(/^dhcp-boot=tag:ipxe,http:\/\/10\.79\.0\.1:8080\/boot\.ipxe$/m);
    expect(conf).toMatch(/^enable-tftp\ntftp-root=\/srv\/boot-files$/m);
  });
});
