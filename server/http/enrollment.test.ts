// Identity and enrollment over the real HTTP API (issue 17), the test playing iPXE and loaders:
// machines that share an SMBIOS UUID (placeholders and real-looking ones) become two machines, each by
// its boot MAC, the first keeping its log and queue; approve and allowlist modes; a known identity back
// with other hardware waits; and a second enrollment while the machine's agent holds a live lease is
// held, its credential untouched, until the lease ends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BootList,
  DifferenceList,
  EnrollmentRefusal,
  ErrorBody,
  InventoryAccepted,
  Machine,
  NextAction,
  SharedUuidList,
  type Inventory,
} from "../../protocol/index.js";
import { fixtureInventory } from "../policy/test-fixtures.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, sampleInventory, startApiServer } from "../test-support.js";

const LEASE_MS = 1_500;
let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;

beforeAll(async () => {
  work = makeTempDir("bw-enrollment-");
  server = await startApiServer(work.dir, { leaseMs: LEASE_MS });
});

afterAll(async () => {
  await server.close();
  work.remove();
});

function machineInventory(
  mac: string,
  serial: string | null,
  uuid: string | null,
  more: string[] = [],
): Inventory {
  return sampleInventory({
    bootMac: mac,
    nics: [mac, ...more].map((nic, i) => ({ name: `eth${i}`, mac: nic })),
    system: { manufacturer: "Acme", product: "X1", serial, uuid },
  });
}

/** POST /v1/inventory as the loader does (no credential). */
const post = (inventory: Inventory) => jsonRequest(`${server.url}/v1/inventory`, "POST", inventory, null);

async function enroll(inventory: Inventory): Promise<InventoryAccepted> {
  const answer = await post(inventory);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return InventoryAccepted.parse(answer.body);
}

async function refused(inventory: Inventory, code: string, status: number): Promise<EnrollmentRefusal> {
  const answer = await post(inventory);
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  const body = ErrorBody.parse(answer.body);
  expect(body.code).toBe(code);
  return EnrollmentRefusal.parse(body.details);
}

/** iPXE asking for its script: the machine id the server chose, from the script's kernel line. */
async function bootRequest(mac: string, uuid: string): Promise<string> {
  const res = await fetch(`${server.url}/boot/${mac}.ipxe?uuid=${uuid}`);
  expect(res.status).toBe(200);
  return res.text();
}

async function machine(id: string): Promise<Machine | undefined> {
  const res = await jsonRequest(`${server.url}/v1/machines/${encodeURIComponent(id)}`, "GET");
  return res.status === 200 ? Machine.parse(res.body) : undefined;
}

async function events(id: string): Promise<string[]> {
  return (await server.store.machineLog(id)).map((entry) => entry.event);
}

async function setPolicy(policy: Record<string, unknown>): Promise<void> {
  const answer = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
    format: "json",
    source: JSON.stringify({ rules: [], ...policy }),
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

const next = (id: string, credential: string) =>
  jsonRequest(`${server.url}/v1/machines/${encodeURIComponent(id)}/next`, "GET", undefined, credential);

describe("a UUID that two different machines report", () => {
  // Placeholders boards really ship with that look like UUIDs (AMI's 03000200-…, a counting one) and a
  // random-looking one: none of them is all-zero or all-FF, so machineIdentity takes each as real.
  const PAIRS = [
    { uuid: "03000200-0400-0500-0006-000700080009", a: "52:54:00:5a:00:01", b: "52:54:00:5b:00:01" },
    { uuid: "12345678-1234-5678-90ab-cddeefaabbcc", a: "52:54:00:5a:00:02", b: "52:54:00:5b:00:02" },
    { uuid: "8f3c2a91-6d4e-4b7a-9c15-2e7d0b9a4f63", a: "52:54:00:5a:00:03", b: "52:54:00:5b:00:03" },
  ];

  it.each(PAIRS)(
    "$uuid: two machines by MAC, the first keeping its log and queue",
    async ({ uuid, a, b }) => {
      await setPolicy({});
      await bootRequest(a, uuid);
      const first = await enroll(machineInventory(a, `SER-A-${a}`, uuid));
      expect(first.machineId).toBe(uuid);
      expect(
        (await jsonRequest(`${server.url}/v1/machines/${uuid}/expected`, "PUT", { category: "ready" }))
          .status,
      ).toBe(200);
      const queued = (await server.store.machineQueue(uuid)).map((c) => c.kind);
      expect(queued).toEqual(["check-disks"]);

      // The second one's iPXE: its MAC is none of the first's NICs, so it gets the loader and changes
      // nothing of the first; its inventory tells the two apart.
      await bootRequest(b, uuid);
      expect(await machine(b)).toBeUndefined();
      expect((await machine(uuid))?.bootMac).toBe(a);
      const logBefore = await events(uuid);
      expect((await server.store.machineLog(uuid)).at(-1)).toMatchObject({
        event: "boot-script",
        data: { mac: b, answer: "loader", unknownNic: true },
      });

      const second = await enroll(machineInventory(b, `SER-B-${b}`, uuid, ["52:54:00:5c:00:01"]));
      expect(second.machineId).toBe(b);
      expect(await machine(uuid)).toBeUndefined();
      const moved = await machine(a);
      expect(moved).toMatchObject({ id: a, category: "inventoried", expected: "ready" });
      expect(moved?.enrollment).toEqual({ state: "enrolled", reason: null, sharedUuid: uuid });
      expect((await machine(b))?.enrollment).toEqual({ state: "enrolled", reason: null, sharedUuid: uuid });
      // The first machine's log and queue came along; the log says why it moved.
      const log = await server.store.machineLog(a);
      expect(log.map((e) => e.event).slice(0, logBefore.length)).toEqual(logBefore);
      expect(log.at(-1)).toMatchObject({
        event: "identity",
        data: { from: uuid, to: a, reason: "shared-uuid" },
      });
      expect((await server.store.machineQueue(a)).map((c) => c.kind)).toEqual(["check-disks"]);
      expect(await events(b)).toContain("identity");
      // Its credential moved with it: its agent runs its step under the new id.
      const step = NextAction.parse((await next(a, first.credential)).body);
      if (step.action !== "run") throw new Error(`expected check-disks: ${JSON.stringify(step)}`);
      const result = await jsonRequest(
        `${server.url}/v1/machines/${a}/commands/${step.command.id}/result`,
        "POST",
        { leaseId: step.command.leaseId, outcome: "succeeded", output: { kind: "check-disks", disks: [] } },
        first.credential,
      );
      expect(result.status).toBe(200);

      const shared = SharedUuidList.parse((await jsonRequest(`${server.url}/v1/shared-uuids`, "GET")).body);
      expect(shared.sharedUuids).toContainEqual({
        uuid,
        machines: [a, b],
        noticedAt: expect.any(String) as string,
      });
      // The boot list names the shared UUID on both.
      const list = BootList.parse((await jsonRequest(`${server.url}/v1/machines`, "GET")).body);
      expect(
        list.machines
          .filter((m) => m.enrollment.sharedUuid === uuid)
          .map((m) => m.id)
          .sort(),
      ).toEqual([a, b].sort());
      // So does the difference list, in its identity and enrollment part.
      const diff = DifferenceList.parse((await jsonRequest(`${server.url}/v1/differences`, "GET")).body);
      expect(
        diff.enrollment
          .filter((d) => d.sharedUuid === uuid)
          .map((d) => d.machineId)
          .sort(),
      ).toEqual([a, b].sort());

      // From now on the UUID names neither: boot requests and inventories carrying it use the MAC.
      await bootRequest(a, uuid);
      expect(await machine(uuid)).toBeUndefined();
      expect((await enroll(machineInventory(a, `SER-A-${a}`, uuid))).machineId).toBe(a);
      expect((await enroll(machineInventory(b, `SER-B-${b}`, uuid, ["52:54:00:5c:00:01"]))).machineId).toBe(
        b,
      );
      expect(await machine(uuid)).toBeUndefined();
    },
  );

  it("a second machine with an installed machine's UUID gets the loader, not that machine's disk", async () => {
    const uuid = "4c4c4544-0057-3810-8031-b4c04f4d3732";
    const [a, b] = ["52:54:00:5f:00:01", "52:54:00:5f:00:02"];
    await enroll(machineInventory(a, "SER-F1", uuid));
    // As if its install had finished (the install flow's tests cover that path): iPXE sends it to its disk.
    await server.store.store.transaction((rows) => rows.machines.update(uuid, { category: "installed" }));
    expect(await bootRequest(a, uuid)).toMatch(/booting \S+ from its local disk/);
    const script = await bootRequest(b, uuid);
    expect(script).toMatch(new RegExp(`loading the loader for ${b}`));
    expect((await machine(uuid))?.category).toBe("installed");
  });

  it("while the first machine's agent holds a live lease the second waits; they are told apart after", async () => {
    const uuid = "2b7d9e41-c8a3-4f06-b5e2-7a1c3d9f0e84";
    const [a, b] = ["52:54:00:60:00:01", "52:54:00:60:00:02"];
    const first = await enroll(machineInventory(a, "SER-G1", uuid));
    await jsonRequest(`${server.url}/v1/machines/${uuid}/expected`, "PUT", { category: "ready" });
    expect(NextAction.parse((await next(uuid, first.credential)).body).action).toBe("run");
    const held = await refused(machineInventory(b, "SER-G2", uuid), "enrollment_held", 409);
    expect(held.machineId).toBe(b);
    expect(held.reason).toMatch(new RegExp(`machine ${uuid} reports the same UUID`));
    expect(await machine(uuid)).toMatchObject({ enrollment: { state: "enrolled", sharedUuid: null } });
    expect(await machine(b)).toBeUndefined();

    await new Promise((done) => setTimeout(done, LEASE_MS + 200));
    expect((await enroll(machineInventory(b, "SER-G2", uuid))).machineId).toBe(b);
    expect((await machine(a))?.enrollment.sharedUuid).toBe(uuid);
  });

  it("a placeholder all-zero or all-FF UUID is no UUID: machines go by MAC without being recorded as shared", async () => {
    for (const uuid of ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"]) {
      const a = await enroll(machineInventory("52:54:00:5d:00:01", "SER-D1", uuid));
      const b = await enroll(machineInventory("52:54:00:5d:00:02", "SER-D2", uuid));
      expect([a.machineId, b.machineId]).toEqual(["52:54:00:5d:00:01", "52:54:00:5d:00:02"]);
    }
    expect((await server.store.sharedUuids()).map((s) => s.uuid)).not.toContain(
      "00000000-0000-0000-0000-000000000000",
    );
  });

  it("a machine that reboots with the same UUID, serial and MACs is the same machine", async () => {
    const uuid = "5d1f0e2c-93b4-4c1a-a6f7-1b2c3d4e5f60";
    const inventory = machineInventory("52:54:00:5e:00:01", "SER-E1", uuid, ["52:54:00:5e:00:02"]);
    const first = await enroll(inventory);
    const again = await enroll(inventory);
    expect(again.machineId).toBe(first.machineId);
    expect(first.machineId).toBe(uuid);
    expect((await server.store.sharedUuids()).map((s) => s.uuid)).not.toContain(uuid);
    expect((await machine(uuid))?.enrollment.state).toBe("enrolled");
  });
});

describe("a known identity back with other hardware", () => {
  it("waits for approval with the reason; its credential still works; approval takes the new hardware", async () => {
    await setPolicy({});
    const uuid = "7b8e4c2d-1f3a-4e5b-8c6d-9a0b1c2d3e4f";
    const mac = "52:54:00:6a:00:01";
    const first = await enroll(machineInventory(mac, "SER-OLD", uuid));
    const wait = await refused(machineInventory(mac, "SER-NEW", uuid), "awaiting_approval", 403);
    expect(wait.machineId).toBe(uuid);
    expect(wait.reason).toMatch(/serial SER-OLD → SER-NEW/);
    const held = await machine(uuid);
    expect(held?.enrollment).toMatchObject({ state: "held", reason: wait.reason });
    expect(held?.inventory?.system.serial).toBe("SER-OLD");
    expect((await next(uuid, first.credential)).status).toBe(200);
    // A NIC added shows too.
    const nic = await refused(
      machineInventory(mac, "SER-OLD", uuid, ["52:54:00:6a:00:09"]),
      "awaiting_approval",
      403,
    );
    expect(nic.reason).toMatch(/MACs added: 52:54:00:6a:00:09/);

    expect((await jsonRequest(`${server.url}/v1/machines/${uuid}/approve`, "POST")).status).toBe(200);
    const after = await enroll(machineInventory(mac, "SER-NEW", uuid));
    expect(after.machineId).toBe(uuid);
    expect(await machine(uuid)).toMatchObject({
      enrollment: { state: "enrolled", reason: null },
      inventory: { system: { serial: "SER-NEW" } },
    });
    expect(await events(uuid)).toEqual(
      expect.arrayContaining(["enrollment-refused", "enrollment-approved", "enrollment-admitted"]),
    );
    // Approval is the old credential's end, as any enrollment.
    expect((await next(uuid, first.credential)).status).toBe(401);
  });
});

describe("a NIC replaced on a known machine", () => {
  it("its iPXE gets the loader without a stray machine; it waits for approval, then keeps its id", async () => {
    await setPolicy({});
    const uuid = "0d9c8b7a-6f5e-4d3c-8b2a-190807060504";
    const [old, fresh] = ["52:54:00:6b:00:01", "52:54:00:6b:00:02"];
    await enroll(machineInventory(old, "SER-NIC", uuid));
    await bootRequest(fresh, uuid);
    const wait = await refused(machineInventory(fresh, "SER-NIC", uuid), "awaiting_approval", 403);
    expect(wait.reason).toMatch(new RegExp(`MACs added: ${fresh}; MACs gone: ${old}`));
    expect((await jsonRequest(`${server.url}/v1/machines/${uuid}/approve`, "POST")).status).toBe(200);
    expect((await enroll(machineInventory(fresh, "SER-NIC", uuid))).machineId).toBe(uuid);
    expect(await machine(fresh)).toBeUndefined();
    expect((await machine(uuid))?.bootMac).toBe(fresh);
    expect((await server.store.sharedUuids()).map((s) => s.uuid)).not.toContain(uuid);
  });
});

describe("enrollment: approve", () => {
  it("a new machine waits discovered, without a credential, until approved by id or by --where", async () => {
    await setPolicy({ enrollment: "approve" });
    const one = machineInventory("52:54:00:7a:00:01", "SER-P1", "6a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c01");
    const two = sampleInventory({
      bootMac: "52:54:00:7a:00:02",
      nics: [{ name: "eth0", mac: "52:54:00:7a:00:02" }],
      system: { manufacturer: "Acme", product: "Y9", serial: "SER-P2", uuid: null },
    });
    const wait = await refused(one, "awaiting_approval", 403);
    expect(wait).toMatchObject({ machineId: "6a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c01", retryAfterMs: 5_000 });
    expect(wait.reason).toMatch(/awaiting approval/);
    expect(await machine(wait.machineId)).toMatchObject({
      category: "discovered",
      plan: null,
      enrollment: { state: "awaiting-approval", reason: wait.reason },
    });
    const diff = DifferenceList.parse((await jsonRequest(`${server.url}/v1/differences`, "GET")).body);
    expect(diff.enrollment).toContainEqual({
      machineId: wait.machineId,
      state: "awaiting-approval",
      reason: wait.reason,
      sharedUuid: null,
    });
    // Asking again changes nothing and adds nothing to the log.
    const log = await events(wait.machineId);
    await refused(one, "awaiting_approval", 403);
    expect(await events(wait.machineId)).toEqual(log);
    expect(log).not.toContain("credential-issued");
    await refused(two, "awaiting_approval", 403);

    expect(
      (await jsonRequest(`${server.url}/v1/machines/${wait.machineId}/approve`, "POST")).body,
    ).toMatchObject({
      enrollment: { state: "approved" },
    });
    const enrolled = await enroll(one);
    expect(enrolled.category).toBe("inventoried");
    expect((await next(enrolled.machineId, enrolled.credential)).status).toBe(200);

    const bulk = await jsonRequest(`${server.url}/v1/approve`, "POST", {
      where: { path: "inventory.system.product", equals: "Y9" },
    });
    expect(bulk.body).toEqual({ machineIds: ["52:54:00:7a:00:02"] });
    expect((await enroll(two)).machineId).toBe("52:54:00:7a:00:02");
    // Enrolled machines come back without asking again.
    expect((await enroll(one)).machineId).toBe(enrolled.machineId);
    // Approving needs an operator: a machine's credential may not.
    const self = await jsonRequest(
      `${server.url}/v1/machines/${enrolled.machineId}/approve`,
      "POST",
      undefined,
      null,
    );
    expect(self.status).toBe(401);
  });
});

describe("enrollment: allowlist", () => {
  it("machines matching a MAC (any NIC), a serial or an asset tag enroll; the others wait", async () => {
    await setPolicy({
      enrollment: "allowlist",
      allowlist: { macs: ["52:54:00:8A:00:99"], serials: ["SER-L2"], assetTags: ["ASSET-3003"] },
    });
    const byMac = machineInventory("52:54:00:8a:00:01", "SER-L1", null, ["52:54:00:8a:00:99"]);
    const bySerial = machineInventory("52:54:00:8a:00:02", "SER-L2", null);
    const byAssetTag: Inventory = {
      ...fixtureInventory("q35-smbios3"),
      system: { ...fixtureInventory("q35-smbios3").system, uuid: "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7" },
    };
    const stranger = machineInventory("52:54:00:8a:00:03", "SER-L3", null);
    expect((await enroll(byMac)).machineId).toBe("52:54:00:8a:00:01");
    expect((await enroll(bySerial)).machineId).toBe("52:54:00:8a:00:02");
    expect((await enroll(byAssetTag)).machineId).toBe("3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7");
    const wait = await refused(stranger, "awaiting_approval", 403);
    expect(wait.reason).toMatch(/not on the allowlist/);
    expect((await machine("52:54:00:8a:00:03"))?.enrollment.state).toBe("awaiting-approval");
  });
});

describe("a second enrollment while the machine's agent holds a live lease", () => {
  it("is held (409 enrollment_held), the credential kept, until the lease expires", async () => {
    await setPolicy({});
    const uuid = "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
    const inventory = machineInventory("52:54:00:9a:00:01", "SER-H1", uuid);
    const first = await enroll(inventory);
    expect(
      (await jsonRequest(`${server.url}/v1/machines/${uuid}/expected`, "PUT", { category: "ready" })).status,
    ).toBe(200);
    const leased = NextAction.parse((await next(uuid, first.credential)).body);
    if (leased.action !== "run") throw new Error("no lease");
    expect(leased.command.kind).toBe("check-disks");

    // A device copying its UUID, serial and MAC (or the machine itself rebooted mid-step).
    const held = await refused(inventory, "enrollment_held", 409);
    expect(held.reason).toMatch(/live check-disks lease/);
    expect((await machine(uuid))?.enrollment.state).toBe("held");
    // The running agent is not cut off: its credential works, its result is taken.
    expect(NextAction.parse((await next(uuid, first.credential)).body)).toMatchObject({ action: "wait" });
    expect(await events(uuid)).not.toContain("credential-revoked");

    await new Promise((done) => setTimeout(done, LEASE_MS + 200));
    const after = await enroll(inventory);
    expect(after.machineId).toBe(uuid);
    expect((await machine(uuid))?.enrollment).toMatchObject({ state: "enrolled", reason: null });
    expect((await next(uuid, first.credential)).status).toBe(401);
  });

  it("an operator's approval lets it through before the lease ends", async () => {
    const uuid = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    const inventory = machineInventory("52:54:00:9b:00:01", "SER-H2", uuid);
    const first = await enroll(inventory);
    await jsonRequest(`${server.url}/v1/machines/${uuid}/expected`, "PUT", { category: "ready" });
    expect(NextAction.parse((await next(uuid, first.credential)).body).action).toBe("run");
    await refused(inventory, "enrollment_held", 409);
    expect((await jsonRequest(`${server.url}/v1/machines/${uuid}/approve`, "POST")).status).toBe(200);
    expect((await enroll(inventory)).machineId).toBe(uuid);
  });
});
