// The HTTP API on a real server (port 0, temp SQLite file): enrollment, the boot list, and bad input.
import { InventoryAccepted } from "../../protocol/index.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningServer } from "../server.js";
import {
  OPERATOR,
  makeTempDir,
  SAMPLE_UUID as UUID,
  sampleInventory as inventory,
  startApiServer,
} from "../test-support.js";

let dir: string;
let removeDir: () => void;
let server: RunningServer;

const start = (): Promise<RunningServer> => startApiServer(dir);

beforeEach(async () => {
  ({ dir, remove: removeDir } = makeTempDir("bootwright-api-"));
  server = await start();
});

afterEach(async () => {
  await server.close();
  removeDir();
});

function post(path: string, body: string, contentType = "application/json"): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": contentType }, body });
}

async function machines(): Promise<{ id: string; category: string; bootMac: string }[]> {
  const res = await fetch(`${server.url}/v1/machines`, { headers: OPERATOR });
  expect(res.status).toBe(200);
  return ((await res.json()) as { machines: { id: string; category: string; bootMac: string }[] }).machines;
}

describe("boot scripts and enrollment", () => {
  it("serves the one boot script with the advertised URL, not the listen address", async () => {
    const res = await fetch(`${server.url}/boot.ipxe`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^#!ipxe\n/);
    expect(text).toContain(`chain --autofree --replace ${server.advertiseUrl}/boot/\${netX/mac}.ipxe`);
    expect(server.advertiseUrl).toBe(`http://10.0.2.2:${server.port}`);
  });

  it("enrolls an unknown machine as discovered when iPXE asks, then inventoried at its inventory", async () => {
    // iPXE URL-encodes the colons; upper case is normalised.
    const res = await fetch(`${server.url}/boot/52%3A54%3A00%3AAA%3A00%3A01.ipxe?uuid=${UUID}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("BOOTIF=01-52-54-00-aa-00-01");
    expect(await machines()).toEqual([
      expect.objectContaining({ id: UUID, bootMac: "52:54:00:aa:00:01", category: "discovered" }),
    ]);

    const accepted = await post("/v1/inventory", JSON.stringify(inventory()));
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({
      machineId: UUID,
      category: "inventoried",
      bootFromDisk: false,
      credential: expect.stringMatching(/^bwm_[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/) as unknown,
    });
    expect(await machines()).toEqual([expect.objectContaining({ id: UUID, category: "inventoried" })]);
  });

  it("moves a machine known by MAC to its UUID once the loader reports a real one, keeping its log", async () => {
    await fetch(`${server.url}/boot/52:54:00:aa:00:01.ipxe?uuid=`);
    expect((await machines()).map((m) => m.id)).toEqual(["52:54:00:aa:00:01"]);
    await post("/v1/inventory", JSON.stringify(inventory()));
    expect((await machines()).map((m) => m.id)).toEqual([UUID]);
    const log = (await (
      await fetch(`${server.url}/v1/machines/${UUID}/log`, { headers: OPERATOR })
    ).json()) as {
      entries: { event: string }[];
    };
    expect(log.entries.map((e) => e.event)).toEqual([
      "discovered",
      "identity",
      "inventory",
      "credential-issued",
    ]);
  });

  it("identifies a machine whose firmware reports an all-zero or all-FF UUID by its boot MAC", async () => {
    for (const uuid of ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"]) {
      const res = await post(
        "/v1/inventory",
        JSON.stringify(inventory({ system: { manufacturer: null, product: null, serial: null, uuid } })),
      );
      expect(await res.json()).toMatchObject({
        machineId: "52:54:00:aa:00:01",
        category: "inventoried",
        bootFromDisk: false,
      });
    }
    expect(await machines()).toHaveLength(1);
  });

  it("keeps the boot list across a restart (SQLite file)", async () => {
    await post("/v1/inventory", JSON.stringify(inventory()));
    await server.close();
    server = await start();
    expect(await machines()).toEqual([expect.objectContaining({ id: UUID, category: "inventoried" })]);
  });

  it("tells an enrolled loader to wait, and answers 404 for a machine it does not know", async () => {
    const { credential } = InventoryAccepted.parse(
      await (await post("/v1/inventory", JSON.stringify(inventory()))).json(),
    );
    const asLoader = { headers: { authorization: `Bearer ${credential}` } };
    const next = await fetch(`${server.url}/v1/machines/${UUID}/next`, asLoader);
    expect(await next.json()).toEqual({ action: "wait", pollAfterMs: expect.any(Number) as number });
    const unknown = await fetch(`${server.url}/v1/machines/nope/next`, { headers: OPERATOR });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: "not_found", message: "no machine nope" });
  });

  it("serves the kernel and initramfs with their length", async () => {
    const res = await fetch(`${server.url}/assets/initramfs.img`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("100000");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.alloc(100_000, 7));
    expect((await fetch(`${server.url}/assets/other`)).status).toBe(404);
  });
});

describe("bad input gets a clear 4xx and the server keeps serving", () => {
  it("invalid JSON → 400 invalid_json", async () => {
    const res = await post("/v1/inventory", "{not json");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      code: "invalid_json",
      message: expect.stringContaining("not valid JSON") as string,
    });
  });

  it("a 10 MB body → 413 body_too_large", async () => {
    const res = await post("/v1/inventory", JSON.stringify({ pad: "x".repeat(10 * 2 ** 20) }));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: "body_too_large", details: { limitBytes: 64 * 1024 } });
  });

  it("a 10 MB body without a declared length (chunked) → 413 too", async () => {
    const chunk = new TextEncoder().encode("x".repeat(2 ** 20));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${server.url}/v1/inventory`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    });
    expect(res.status).toBe(413);
  });

  it("wrong types and missing fields → 422 with the zod paths", async () => {
    const bad = { ...inventory(), memoryBytes: "lots", nics: [{ name: "eth0", mac: "not-a-mac" }] } as Record<
      string,
      unknown
    >;
    delete bad.cpu;
    const res = await post("/v1/inventory", JSON.stringify(bad));
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string; details: { path: string; message: string }[] };
    expect(body.code).toBe("schema_mismatch");
    expect(body.details.map((d) => d.path).sort()).toEqual(["cpu", "memoryBytes", "nics.0.mac"]);
  });

  it("unknown fields are refused (strict schemas), naming the key", async () => {
    const res = await post("/v1/inventory", JSON.stringify({ ...inventory(), extra: 1 }));
    expect(res.status).toBe(422);
    expect(JSON.stringify(await res.json())).toContain("extra");
  });

  it("wrong content type → 415; bad MAC → 400; wrong method → 405; unknown route → 404", async () => {
    expect((await post("/v1/inventory", JSON.stringify(inventory()), "text/plain")).status).toBe(415);
    const badMac = await fetch(`${server.url}/boot/zz:zz.ipxe`);
    expect(badMac.status).toBe(400);
    expect(await badMac.json()).toMatchObject({ code: "invalid_parameter" });
    expect((await fetch(`${server.url}/v1/machines`, { headers: OPERATOR, method: "DELETE" })).status).toBe(
      405,
    );
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
  });

  it("after all of that, it still enrolls machines", async () => {
    await post("/v1/inventory", "{not json");
    await post("/v1/inventory", JSON.stringify({ pad: "x".repeat(10 * 2 ** 20) }));
    const res = await post("/v1/inventory", JSON.stringify(inventory()));
    expect(res.status).toBe(200);
    expect(await machines()).toHaveLength(1);
  });
});
