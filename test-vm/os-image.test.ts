// The OS images build-scripts/build-os-image.ts makes (tiny and debian), booted from disk under SeaBIOS
// and OVMF: each reads the marker the installer left in its bootwright-marker partition and calls the
// server home with the image, the plan hash and its kernel. Images are built on demand (cached).
// Needs the debian image: on a fresh machine the suite builds it in the background and starts this
// file after the others (test-vm/timing/sequencer.ts).
import { randomBytes, randomUUID } from "node:crypto";
import { readSync, closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  buildOsImage,
  MARKER_PARTITION_NAME,
  type BuiltOsImage,
  type OsKind,
} from "../build-scripts/build-os-image.js";
import { run } from "../build-scripts/os-image/run.js";
import { autoTls, type ServerTls } from "../server/tls/certificates.js";
import { listen, type Listener } from "../server/tls/listener.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm, type Firmware } from "./qemu.js";
import { GUEST_HOST_ADDRESS } from "./test-server.js";

/** debootstrap on a cold cache takes minutes (vm-notes.md: ~100 s alone, more on a busy CI machine). */
const BUILD_TIMEOUT_MS = 30 * 60_000;
const BOOT_TIMEOUT_MS: Record<OsKind, number> = { tiny: 120_000, debian: 420_000 };

interface CallHome {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether it came over TLS. */
  tls: boolean;
  /** performance.now() when it arrived: boot → first call, retries aside. */
  at: number;
}

/**
 * Records every request; answers 503 to the first call of machines in `failFirst` (the OS must retry),
 * and a call home with the OS's next credential, as the server does (the OS must keep it in its marker).
 * One port, TLS and plain HTTP, as the server's (server/tls/listener.ts), under a CA of the test's own.
 */
class CallHomeServer {
  readonly calls: CallHome[] = [];
  readonly failFirst = new Set<string>();
  /** Machine → the credential the answer to its call home named. */
  readonly nextCredential = new Map<string, string>();

  private constructor(
    private readonly listener: Listener,
    readonly tls: ServerTls,
  ) {
    listener.plain.on("request", this.answer);
    listener.secure?.on("request", this.answer);
  }

  private readonly answer = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = req.url ?? "";
      this.calls.push({
        method: req.method ?? "",
        url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        tls: (req.socket as { encrypted?: boolean }).encrypted === true,
        at: performance.now(),
      });
      const machine = /^\/v1\/machines\/([^/]+)\/callhome$/.exec(url)?.[1];
      if (machine && this.failFirst.delete(machine)) res.writeHead(503).end("try again");
      else if (machine) {
        const credential = `bwm_${randomBytes(16).toString("hex")}.${randomBytes(32).toString("base64url")}`;
        this.nextCredential.set(machine, credential);
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ category: "installed", completedInstall: true, credential }));
      } else res.writeHead(404).end();
    });
  };

  static async start(tlsDir: string): Promise<CallHomeServer> {
    const tls = await autoTls(tlsDir, [GUEST_HOST_ADDRESS]);
    return new CallHomeServer(await listen("127.0.0.1", 0, tls), tls);
  }

  get port(): number {
    return this.listener.port;
  }

  /** The CA's PEM (the last certificate of the chain), as the install leaves it beside the marker. */
  get caPem(): string {
    const pem = this.tls.chain.toString();
    return pem.slice(pem.lastIndexOf("-----BEGIN CERTIFICATE-----"));
  }

  callsOf(machineId: string): CallHome[] {
    return this.calls.filter((c) => c.url === `/v1/machines/${machineId}/callhome`);
  }

  close(): Promise<void> {
    return this.listener.close();
  }
}

let workDir: string;
let accel: Accelerator;
let callHome: CallHomeServer;
const vms: Vm[] = [];
const bootSeconds: string[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  workDir = mkdtempSync(join(tmpdir(), "bootwright-os-image-"));
  accel = await chooseAccelerator();
  callHome = await CallHomeServer.start(join(workDir, "tls"));
});

afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.stop()));
});

afterAll(async () => {
  await callHome.close();
  if (workDir && !process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(workDir, { recursive: true, force: true });
  if (bootSeconds.length)
    process.stderr.write(`[test-vm] OS image power-on → call-home: ${bootSeconds.join("; ")}\n`);
});

/** The marker as it is now on the disk file (the OS rewrites it when its credential rotates). */
function markerOn(image: BuiltOsImage, path: string): Record<string, unknown> {
  const partition = image.manifest.partitions.find((p) => p.name === MARKER_PARTITION_NAME);
  if (!partition) throw new Error(`${image.paths.manifest} has no ${MARKER_PARTITION_NAME} partition`);
  const fd = openSync(path, "r");
  try {
    const block = Buffer.alloc(4096);
    readSync(fd, block, 0, block.length, partition.startBytes);
    return JSON.parse(block.toString("utf8").replace(/\0+$/, "")) as Record<string, unknown>;
  } finally {
    closeSync(fd);
  }
}

/**
 * A fresh copy of the image, with `marker` (one JSON line) written where the installer writes it, and
 * under TLS the CA's PEM in the block after it, as the installer leaves it.
 */
async function diskWithMarker(
  image: BuiltOsImage,
  path: string,
  marker: object | undefined,
  caPem?: string,
): Promise<void> {
  await run("zstd", ["-d", "-q", "-f", "-o", path, image.paths.zst]);
  const partition = image.manifest.partitions.find((p) => p.name === MARKER_PARTITION_NAME);
  if (!partition) throw new Error(`${image.paths.manifest} has no ${MARKER_PARTITION_NAME} partition`);
  if (!marker) return;
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.from(JSON.stringify(marker)), 0, undefined, partition.startBytes);
    if (caPem) writeSync(fd, Buffer.from(caPem), 0, undefined, partition.startBytes + 4096);
  } finally {
    closeSync(fd);
  }
}

/** [kind, firmware, MAC, refuse the first call with a 503, server on https]. The refusals prove each
 * wget (busybox in tiny, GNU in debian) fails on a non-2xx answer so the script retries; each costs one
 * 5 s retry. Under TLS debian's GNU wget checks the server against the CA beside the marker; tiny's
 * busybox has no TLS client that checks one, so it says so and calls the same port over plain HTTP. */
const CASES: [OsKind, Firmware, string, boolean, boolean][] = [
  ["tiny", "bios", "52:54:00:05:00:01", true, false],
  ["tiny", "uefi", "52:54:00:05:00:02", false, true],
  ["debian", "bios", "52:54:00:05:00:03", true, false],
  ["debian", "uefi", "52:54:00:05:00:04", false, true],
];

describe.each(["tiny", "debian"] as const)("%s OS image", (kind) => {
  let image: BuiltOsImage;
  beforeAll(async () => {
    image = await buildOsImage({ kind });
    expect(image.manifest.partitions.map((p) => p.name)).toEqual(
      kind === "debian" ? ["esp", MARKER_PARTITION_NAME, "root"] : ["esp", MARKER_PARTITION_NAME],
    );
  }, BUILD_TIMEOUT_MS);

  it.each(
    CASES.filter(([k]) => k === kind).map(
      ([, firmware, mac, failFirst, tls]) => [firmware, mac, failFirst, tls] as const,
    ),
  )(
    "%s: boots from its disk and calls home with the marker's image and plan (%s, %s, tls %s)",
    async (firmware, mac, failFirst, tls) => {
      const machineId = randomUUID();
      const marker = {
        // Field order differs from the body's on purpose: the OS must find fields by name.
        server: `${tls ? "https" : "http"}://${GUEST_HOST_ADDRESS}:${callHome.port}`,
        machineId,
        planHash: `sha256:${randomBytes(32).toString("hex")}`,
        image: `sha256:${image.manifest.zstSha256}`,
        credential: `bwm_${randomBytes(16).toString("hex")}.${randomBytes(32).toString("base64url")}`,
      };
      if (failFirst) callHome.failFirst.add(machineId);
      const dir = join(workDir, `${kind}-${firmware}`);
      const disk = join(workDir, `${kind}-${firmware}.raw`);
      await diskWithMarker(image, disk, marker, tls ? callHome.caPem : undefined);

      const vm = Vm.start({
        name: `os-${kind}-${firmware}`,
        workDir: dir,
        accel,
        firmware,
        boot: { kind: "disk" },
        mac,
        diskImages: [disk],
      });
      vms.push(vm);
      await vm.waitForConsole(
        new RegExp(`bootwright-os: called home machine=${machineId}`),
        BOOT_TIMEOUT_MS[kind],
      );
      const done = (performance.now() - vm.startedAt) / 1000;
      const calls = callHome.callsOf(machineId);
      const first = ((calls[0]?.at ?? Number.NaN) - vm.startedAt) / 1000;
      bootSeconds.push(`${kind}/${firmware} first call ${first.toFixed(1)} s, accepted ${done.toFixed(1)} s`);

      expect(calls).toHaveLength(failFirst ? 2 : 1);
      for (const call of calls) {
        expect(call.method).toBe("POST");
        expect(call.tls).toBe(tls && kind === "debian");
        expect(call.headers["content-type"]).toBe("application/json");
        // The OS's credential, from the marker, as a header (busybox: by nc; debian: GNU wget's wgetrc).
        expect(call.headers.authorization).toBe(`Bearer ${marker.credential}`);
        expect(JSON.parse(call.body)).toEqual({
          image: marker.image,
          planHash: marker.planHash,
          os: expect.stringMatching(new RegExp(`^${kind} \\d+\\.\\d+\\.\\S+-amd64$`)) as unknown,
        });
      }
      // Not anchored at the line start: on debian, serial-getty's "login: " prompt may come first on the
      // same console line (the call home waits for networkd and a route, the getty for neither).
      const console = vm.console();
      expect(console).toMatch(new RegExp(`bootwright-os: booted ${kind}\\r?$`, "m"));
      expect(console).toMatch(new RegExp(`bootwright-os: called home machine=${machineId}\\r?$`, "m"));
      expect(console.indexOf(`booted ${kind}`)).toBeLessThan(console.indexOf("called home"));
      if (tls && kind === "tiny")
        expect(console).toContain("no TLS client here: calling home over plain HTTP");
      // The answer's next credential is in the marker on the disk now, the rest of the marker unchanged.
      await vm.stop();
      expect(markerOn(image, disk)).toEqual({
        ...marker,
        credential: callHome.nextCredential.get(machineId),
      });
    },
    BOOT_TIMEOUT_MS[kind] + 60_000,
  );

  if (kind === "tiny") {
    it("bios: a disk with no marker boots, says so and calls no one", async () => {
      const before = callHome.calls.length;
      const dir = join(workDir, "tiny-unmarked");
      const disk = join(workDir, "tiny-unmarked.raw");
      await diskWithMarker(image, disk, undefined);
      const vm = Vm.start({
        name: "os-tiny-unmarked",
        workDir: dir,
        accel,
        firmware: "bios",
        boot: { kind: "disk" },
        mac: "52:54:00:05:00:05",
        diskImages: [disk],
      });
      vms.push(vm);
      await vm.waitForConsole(/^bootwright-os: no marker\r?$/m, BOOT_TIMEOUT_MS.tiny);
      expect(vm.console()).toMatch(/^bootwright-os: booted tiny\r?$/m);
      expect(callHome.calls.length).toBe(before);
    });
  }
});
