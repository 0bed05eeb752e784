// The Redfish client and driver against the stand-in BMC (test-vm/redfish-bmc.ts: real HTTPS, a real
// QEMU VM behind it running SeaBIOS alone, no NIC and no disk: cheap, and enough for power states):
// sessions opened and closed, Basic where no SessionService is offered, the BMC's error bodies in our
// errors, a pinned certificate refusing another one before anything is sent, a CA instead of a pin, and
// a graceful shutdown nobody answers turned into a forced one.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasCode } from "../../protocol/index.js";
import { startRedfishBmc, type RedfishBmc } from "../../test-vm/redfish-bmc.js";
import { Vm } from "../../test-vm/qemu.js";
import { qmpExecute } from "./qmp.js";
import { RedfishClient, withRedfish, type RedfishLogin } from "./redfish-client.js";
import { offeredCertificatePin } from "./redfish-http.js";
import { RedfishPowerDriver, powerOff, restartInto } from "./redfish.js";

let dir: string;
let vm: Vm;
let bmc: RedfishBmc;
let other: RedfishBmc;
let media: Server;
let mediaUrl: string;

const signal = (): AbortSignal => AbortSignal.timeout(20_000);
const login = (b: RedfishBmc): RedfishLogin => ({ ...b.settings, tls: { pin: b.pin, firstUse: false } });

/** The error a promise rejects with (the test fails if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("resolved; it should have failed");
}

/** The first "Booting from …" after a SeaBIOS banner printed past console offset `from`. */
async function firstBootDevice(from: number): Promise<string> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const match = /SeaBIOS \(version[^]*?Booting from ([A-Za-z/ ]+)\.\.\./.exec(vm.console().slice(from));
    if (match?.[1]) return match[1];
    if (performance.now() > deadline) throw new Error(`no boot after offset ${from}\n${vm.describe()}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

function seaBiosBoots(): number {
  return vm.console().split("SeaBIOS (version").length - 1;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-redfish-"));
  const qmpSocket = join(dir, "qmp.sock");
  bmc = await startRedfishBmc({ qmpSocket });
  // A second BMC (its own certificate) for the pinning test; no VM behind it, and none is needed.
  other = await startRedfishBmc({ qmpSocket: join(dir, "none.sock"), sessions: false, registry: false });
  vm = Vm.start({
    name: "redfish-unit",
    workDir: join(dir, "vm"),
    accel: "tcg",
    firmware: "bios",
    boot: { kind: "firmware", order: "c" },
    mac: "52:54:00:1f:00:01",
    memoryMiB: 64,
    withoutNic: true,
    allowReboot: true,
    extraArgs: bmc.qemuArgs,
  });
  await vm.waitForConsole(/SeaBIOS \(version/, 20_000);
  media = createServer((_request, response) => {
    response.end(Buffer.alloc(64 * 1024, 0x42));
  });
  await new Promise<void>((resolve) => media.listen(0, "127.0.0.1", resolve));
  const address = media.address();
  mediaUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/boot.iso`;
}, 30_000);

afterAll(async () => {
  await vm.stop();
  await bmc.stop();
  await other.stop();
  media.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("sessions", () => {
  it("logs in through SessionService, sends X-Auth-Token, and deletes the session on close", async () => {
    const before = bmc.requests().length;
    const state = await withRedfish(login(bmc), signal(), async (client) => {
      expect(client.systemPath).toBe("/redfish/v1/Systems/vm0");
      expect(bmc.sessionCount()).toBe(1);
      return client.powerState(signal());
    });
    expect(state).toBe("On");
    expect(bmc.sessionCount()).toBe(0);
    const requests = bmc.requests().slice(before);
    expect(requests[0]).toEqual({ method: "GET", path: "/redfish/v1", auth: "none" });
    expect(requests[1]).toEqual({
      method: "POST",
      path: "/redfish/v1/SessionService/Sessions",
      auth: "none",
    });
    expect(requests.slice(2).every((r) => r.auth === "session")).toBe(true);
    expect(requests.at(-1)?.method).toBe("DELETE");
  });

  it("uses Basic credentials where the BMC offers no SessionService", async () => {
    const before = other.requests().length;
    const systems = await withRedfish(login(other), signal(), (client) => Promise.resolve(client.systemPath));
    expect(systems).toBe("/redfish/v1/Systems/vm0");
    const requests = other.requests().slice(before);
    expect(requests.slice(1).map((r) => r.auth)).toEqual(requests.slice(1).map(() => "basic"));
  });
});

describe("errors", () => {
  it("a wrong password is the BMC's own refusal, with its MessageId and without either password", async () => {
    const err = await rejection(RedfishClient.open({ ...login(bmc), password: "not-the-one" }, signal()));
    expect(hasCode(err, "bmc_refused")).toBe(true);
    if (!hasCode(err, "bmc_refused")) return;
    expect(err.context).toMatchObject({ status: 401, method: "POST" });
    expect(err.context.messageIds).toContain("Base.1.8.ResourceAtUriUnauthorized");
    expect(err.message).toMatch(/invalid user name or password/);
    expect(err.message).not.toContain("not-the-one");
    expect(err.message).not.toContain(bmc.password);
    expect(bmc.sessionCount()).toBe(0);
  });

  it("an action the BMC refuses carries @Message.ExtendedInfo[].Message", async () => {
    const err = await withRedfish(login(bmc), signal(), (client) =>
      rejection(client.reset("Hibernate", signal())),
    );
    expect(hasCode(err, "bmc_refused")).toBe(true);
    expect((err as Error).message).toMatch(
      /refused POST \/redfish\/v1\/Systems\/vm0\/Actions\/ComputerSystem\.Reset: HTTP 400: The parameter ResetType .* not supported/,
    );
    expect(bmc.sessionCount()).toBe(0);
  });
});

describe("certificates", () => {
  it("trust on first use reads the pin the BMC offers", async () => {
    expect(await offeredCertificatePin(bmc.url, signal())).toBe(bmc.pin);
  });

  it("a pin refuses another BMC's certificate before anything is sent", async () => {
    const before = other.requests().length;
    const err = await rejection(
      RedfishClient.open({ ...login(other), tls: { pin: bmc.pin, firstUse: false } }, signal()),
    );
    expect(hasCode(err, "bmc_certificate_mismatch")).toBe(true);
    expect((err as Error).message).toContain(other.pin);
    expect(other.requests().length).toBe(before);
  });

  it("a CA given instead: the BMC's chain and address are verified", async () => {
    const state = await withRedfish({ ...login(bmc), tls: { ca: bmc.certificatePem } }, signal(), (client) =>
      client.powerState(signal()),
    );
    expect(state).toBe("On");
    const err = await rejection(
      RedfishClient.open({ ...login(bmc), tls: { ca: other.certificatePem } }, signal()),
    );
    expect(hasCode(err, "power_failed")).toBe(true);
    expect((err as Error).message).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });
});

describe("power", () => {
  it("a graceful shutdown the firmware ignores is forced after the timeout; the override applies once", async () => {
    const boots = seaBiosBoots();
    const driver = new RedfishPowerDriver({ ...bmc.settings, gracefulTimeoutMs: 1_500 });
    const before = bmc.qmpLog().length;
    const started = performance.now();
    await driver.cycle(signal());
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_500);
    const sent = bmc
      .qmpLog()
      .slice(before)
      .filter((c) => c !== "query-status");
    expect(sent).toEqual([
      "system_powerdown",
      "stop",
      'human-monitor-command {"command-line":"boot_set n"}',
      "system_reset",
      "cont",
    ]);
    const status = (await qmpExecute(join(dir, "qmp.sock"), ["query-status"], signal()))[0];
    expect(status).toMatchObject({ running: true, status: "running" });
    await vm.waitForConsole(new RegExp(`(?:SeaBIOS \\(version[\\s\\S]*?){${boots + 1}}`), 20_000);
    await withRedfish(login(bmc), signal(), async (client) => {
      expect((await client.system(signal())).Boot).toMatchObject({
        BootSourceOverrideTarget: "None",
        BootSourceOverrideEnabled: "Disabled",
      });
      // From off: nothing to shut down, only the power on.
      expect(await powerOff(client, 0, signal())).toBe("forced");
      expect(await client.powerState(signal())).toBe("Off");
      const before = vm.console().length;
      expect(await restartInto(client, "Hdd", 1_000, signal())).toBe("already-off");
      expect(await client.powerState(signal())).toBe("On");
      expect(await firstBootDevice(before)).toBe("Hard Disk");
    });
  });

  it("virtual media: the BMC fetches the image into the VM's CD, a one-time boot to CD, eject", async () => {
    await withRedfish(login(bmc), signal(), async (client) => {
      await client.insertMedia(mediaUrl, signal());
      expect(await client.virtualCd(signal())).toMatchObject({ Inserted: true, Image: mediaUrl });
      const [blocks] = await qmpExecute(join(dir, "qmp.sock"), ["query-block"], signal());
      const cd = (blocks as { device: string; inserted?: { file: string } }[]).find(
        (b) => b.device === "cd0",
      );
      expect(cd?.inserted?.file).toMatch(/media-.*\.iso$/);

      const before = vm.console().length;
      await restartInto(client, "Cd", 0, signal());
      // The first device SeaBIOS tries after this reset is the CD.
      expect(await firstBootDevice(before)).toBe("DVD/CD");

      await client.ejectMedia(signal());
      expect(await client.virtualCd(signal())).toMatchObject({ Inserted: false });
    });
  });

  it("a driver set to boot virtual media prepares the media, inserts it, then boots the CD once", async () => {
    let prepared = 0;
    const source = {
      url: mediaUrl,
      prepare: () => {
        prepared += 1;
        return Promise.resolve();
      },
    };
    const settings = { ...bmc.settings, gracefulTimeoutMs: 0, boot: "virtual-media" as const };
    const before = bmc.qmpLog().length;
    const console = vm.console().length;
    await new RedfishPowerDriver(settings, source).cycle(signal());
    expect(prepared).toBe(1);
    const sent = bmc.qmpLog().slice(before);
    const inserted = sent.findIndex((c) => c.startsWith("blockdev-change-medium"));
    const override = sent.indexOf('human-monitor-command {"command-line":"boot_set d"}');
    expect(inserted).toBeGreaterThanOrEqual(0);
    expect(override).toBeGreaterThan(inserted);
    expect(await firstBootDevice(console)).toBe("DVD/CD");
    // Without media to offer, nothing is sent to the BMC.
    const refused = await rejection(new RedfishPowerDriver(settings).cycle(signal()));
    expect(hasCode(refused, "power_failed")).toBe(true);
    expect(bmc.qmpLog().length).toBe(before + sent.length);
  });
});
