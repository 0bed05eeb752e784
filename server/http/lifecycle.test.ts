// Retire, delete, tags and notes (issue 18) over the real HTTP API on a temp SQLite store: a retired
// machine gets no command that plans or installs it and the difference list says why; a delete is
// refused while something runs on the machine, then revokes its credentials, leaves an audit entry and
// its log, and its hardware enrolls again as a new machine; tags are set by id and by selector, a policy
// rule on a tag plans the machine, and notes are kept.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import {
  AuditLog,
  BootList,
  DifferenceList,
  ErrorBody,
  InventoryAccepted,
  Machine,
  MachineBusy,
  MachineDeleted,
  NextAction,
  QueuedCommand,
  TagAnswer,
  type Inventory,
  type LeasedCommand,
} from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, startApiServer, serveTestImage, inventoryFor } from "../test-support.js";

let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;
let imageSha = "";

const api = (path: string, method = "GET", body?: unknown, token?: string | null) =>
  jsonRequest(`${server.url}${path}`, method, body, token);

const machine = (n: number, product: string, uuid: string | null = null): Inventory => {
  const mac = `52:54:00:1f:00:${n.toString(16).padStart(2, "0")}`;
  return inventoryFor(mac, { product, serial: `SER-${n}`, uuid });
};

async function enroll(inventory: Inventory): Promise<InventoryAccepted> {
  const answer = await api("/v1/inventory", "POST", inventory, null);
  expect(answer.status).toBe(200);
  return InventoryAccepted.parse(answer.body);
}

async function lease(id: string, kind: string, credential?: string): Promise<LeasedCommand> {
  const next = NextAction.parse((await api(`/v1/machines/${id}/next`, "GET", undefined, credential)).body);
  if (next.action !== "run" || next.command.kind !== kind)
    throw new Error(`expected ${kind}: ${JSON.stringify(next)}`);
  return next.command;
}

async function succeed(id: string, command: LeasedCommand, credential?: string): Promise<void> {
  const output =
    command.kind === "check-disks"
      ? {
          kind: "check-disks",
          disks: [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 2 }],
        }
      : { kind: command.kind, sha256: command.agent?.sha256 ?? "", steps: [] };
  const done = await api(
    `/v1/machines/${id}/commands/${command.id}/result`,
    "POST",
    { leaseId: command.leaseId, outcome: "succeeded", output },
    credential,
  );
  expect(done.status).toBe(200);
}

const pendingKinds = async (id: string): Promise<string[]> =>
  z
    .object({ commands: z.array(QueuedCommand) })
    .parse((await api(`/v1/machines/${id}/queue`)).body)
    .commands.filter((c) => c.state === "queued" || c.state === "leased")
    .map((c) => c.kind);

const getMachine = async (id: string): Promise<Machine> =>
  Machine.parse((await api(`/v1/machines/${id}`)).body);

beforeAll(async () => {
  work = makeTempDir("bw-lifecycle-");
  server = await startApiServer(work.dir);
  imageSha = await serveTestImage(server.url, [
    { name: "tagged", match: [{ fact: "tags", equals: "rack12" }], plan: { image: "tiny" } },
    { name: "r1", match: [{ fact: "product", equals: "R1" }], plan: { image: "tiny" } },
  ]);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("retire", () => {
  it("cancels what would plan or install it, blocks its difference with who and when, and unretire lets it go on", async () => {
    const { machineId: id } = await enroll(machine(1, "R1"));
    expect((await api(`/v1/machines/${id}/expected`, "PUT", { category: "installed" })).status).toBe(200);
    expect(await pendingKinds(id)).toEqual(["check-disks", "run-agent", "write-image", "boot-installed"]);

    const retired = await api(`/v1/machines/${id}/retire`, "POST");
    expect(retired.status).toBe(200);
    const record = Machine.parse(retired.body).retired;
    expect(record).toMatchObject({ by: expect.any(String) as string, at: expect.any(String) as string });
    expect(await pendingKinds(id)).toEqual([]);
    expect(NextAction.parse((await api(`/v1/machines/${id}/next`)).body).action).toBe("wait");
    const diff = DifferenceList.parse((await api("/v1/differences")).body);
    expect(diff.differences.find((d) => d.machineId === id)).toEqual({
      machineId: id,
      current: "inventoried",
      expected: "installed",
      commands: [],
      blocked: `retired by ${record?.by ?? ""} at ${record?.at ?? ""}: it is not planned or installed (bootwright unretire ${id})`,
    });
    // Setting the expectation again queues nothing either; retiring twice keeps the first record.
    await api(`/v1/machines/${id}/expected`, "PUT", { category: "planned" });
    expect(await pendingKinds(id)).toEqual([]);
    expect((await getMachine(id)).retired).toEqual(record);
    expect(Machine.parse((await api(`/v1/machines/${id}/retire`, "POST")).body).retired).toEqual(record);

    const back = await api(`/v1/machines/${id}/unretire`, "POST");
    expect(Machine.parse(back.body).retired).toBeNull();
    expect(await pendingKinds(id)).toEqual(["check-disks"]);
    await succeed(id, await lease(id, "check-disks"));
    expect((await getMachine(id)).category).toBe("planned");

    const log = (await api(`/v1/machines/${id}/log`)).body as { entries: { event: string }[] };
    expect(log.entries.map((e) => e.event)).toEqual(expect.arrayContaining(["retired", "unretired"]));
    expect((await api("/v1/machines/no-such/retire", "POST")).status).toBe(404);
  });
});

describe("delete", () => {
  it("is refused while a lease is live or an install is in flight, then revokes its credentials, is audited, and the hardware enrolls as new", async () => {
    const inventory = machine(2, "R1", "0e0c8a6a-6f5f-4c43-9d57-00000000d001");
    const { machineId: id, credential: loader } = await enroll(inventory);
    expect((await api(`/v1/machines/${id}/expected`, "PUT", { category: "installed" })).status).toBe(200);
    const refused = async (pattern: RegExp): Promise<void> => {
      const answer = await api(`/v1/machines/${id}`, "DELETE");
      expect(answer.status).toBe(409);
      const body = ErrorBody.parse(answer.body);
      expect(body.code).toBe("machine_busy");
      expect(MachineBusy.parse(body.details).reason).toMatch(pattern);
    };

    const check = await lease(id, "check-disks", loader);
    await refused(/live check-disks lease until/);
    await succeed(id, check, loader);
    await succeed(id, await lease(id, "run-agent", loader), loader);
    // Between steps: configuring, its write-image queued.
    await refused(/an install is in flight: it is configuring and write-image is queued/);
    const write = await lease(id, "write-image", loader);
    const osCredential = write.osCredential ?? "";
    await refused(/live write-image lease/);
    await succeed(id, write, loader);
    await lease(id, "boot-installed", loader);
    await refused(/rebooting into its install/);

    const planHash = (await getMachine(id)).plan?.planHash ?? "";
    const call = { image: `sha256:${imageSha}`, planHash, os: "tiny 6.1" };
    const home = await api(`/v1/machines/${id}/callhome`, "POST", call, osCredential);
    expect(home.body).toMatchObject({ category: "installed" });

    const deleted = await api(`/v1/machines/${id}`, "DELETE");
    expect(deleted.status).toBe(200);
    // The loader's, the OS's from the marker and the one its call home handed out.
    expect(MachineDeleted.parse(deleted.body)).toEqual({
      machineId: id,
      credentialsRevoked: 3,
      commandsRemoved: 0,
    });
    expect((await api(`/v1/machines/${id}`)).status).toBe(404);
    expect((await api(`/v1/machines/${id}/next`, "GET", undefined, loader)).status).toBe(401);
    expect((await api(`/v1/machines/${id}/callhome`, "POST", call, osCredential)).status).toBe(401);

    const audit = AuditLog.parse((await api(`/v1/audit?machine=${id}`)).body);
    const entry = audit.entries.find((e) => e.action === "DELETE /v1/machines/:id");
    expect(entry?.details).toMatchObject({
      status: 200,
      before: { category: "installed", expected: "installed" },
      after: null,
    });
    const log = (await api(`/v1/machines/${id}/log`)).body as { entries: { event: string }[] };
    expect(log.entries.at(-1)?.event).toBe("deleted");

    // Its hardware boots again: a new machine, inventoried, with a new credential; the old one stays dead.
    const again = await enroll(inventory);
    expect(again.machineId).toBe(id);
    expect(again.category).toBe("inventoried");
    expect(again.credential).not.toBe(loader);
    const reborn = await getMachine(id);
    expect(reborn).toMatchObject({ category: "inventoried", expected: null, plan: null, retired: null });
    expect(Date.parse(reborn.firstSeenAt)).toBeGreaterThan(Date.parse(entry?.at ?? ""));
    expect(await pendingKinds(id)).toEqual([]);
    expect((await api(`/v1/machines/${id}/next`, "GET", undefined, again.credential)).status).toBe(200);
    expect((await api(`/v1/machines/${id}/next`, "GET", undefined, loader)).status).toBe(401);
  });

  it("takes a machine with only queued commands (nothing runs), and answers 404 for an unknown one", async () => {
    const { machineId: id } = await enroll(machine(3, "R1"));
    await api(`/v1/machines/${id}/expected`, "PUT", { category: "ready" });
    const deleted = MachineDeleted.parse((await api(`/v1/machines/${id}`, "DELETE")).body);
    expect(deleted).toEqual({ machineId: id, credentialsRevoked: 1, commandsRemoved: 1 });
    expect((await api(`/v1/machines/${id}`, "DELETE")).status).toBe(404);
  });
});

describe("tags and notes", () => {
  it("are set by id and by selector, select machines, and a rule on a tag plans the machine", async () => {
    const [a, b, c] = [
      (await enroll(machine(4, "T1"))).machineId,
      (await enroll(machine(5, "T1"))).machineId,
      (await enroll(machine(6, "T2"))).machineId,
    ];
    const tagged = await api(`/v1/machines/${a}/tags`, "POST", { add: ["spare", "rack12"] });
    expect(Machine.parse(tagged.body).tags).toEqual(["rack12", "spare"]);
    const untagged = await api(`/v1/machines/${a}/tags`, "POST", { remove: ["spare"] });
    expect(Machine.parse(untagged.body).tags).toEqual(["rack12"]);

    const bulk = await api("/v1/tags", "POST", {
      add: ["batch7"],
      where: { path: "inventory.system.product", equals: "T1" },
    });
    expect(TagAnswer.parse(bulk.body).machineIds).toEqual([a, b].sort());
    const list = BootList.parse((await api("/v1/machines")).body);
    expect(
      Object.fromEntries(list.machines.filter((m) => [a, b, c].includes(m.id)).map((m) => [m.id, m.tags])),
    ).toEqual({
      [a]: ["batch7", "rack12"],
      [b]: ["batch7"],
      [c]: [],
    });

    // Selected by tag: only a is rack12; its disk check done, the rule on its tag plans it.
    const expected = await api("/v1/expected", "POST", {
      category: "planned",
      where: { path: "tag", equals: "rack12" },
    });
    expect(expected.body).toEqual({ machineIds: [a] });
    await succeed(a, await lease(a, "check-disks"));
    expect(await getMachine(a)).toMatchObject({ category: "planned", plan: { rule: "tagged" } });

    // b matches no rule: it waits ready, until the tag arrives.
    await api(`/v1/machines/${b}/expected`, "PUT", { category: "planned" });
    await succeed(b, await lease(b, "check-disks"));
    expect((await getMachine(b)).category).toBe("ready");
    await api("/v1/tags", "POST", { add: ["rack12"], where: { path: "tag", equals: "batch7" } });
    expect(await getMachine(b)).toMatchObject({ category: "planned", plan: { rule: "tagged" } });

    const bad = await api(`/v1/machines/${c}/tags`, "POST", { add: ["no spaces"] });
    expect(bad.status).toBe(422);
    expect((await api("/v1/machines/no-such/tags", "POST", { add: ["x"] })).status).toBe(404);
  });

  it("a note is set, shown with the machine, bounded, and cleared", async () => {
    const { machineId: id } = await enroll(machine(7, "N1"));
    const set = await api(`/v1/machines/${id}/note`, "PUT", { note: "PSU 2 flaky — ticket OPS-12" });
    expect(Machine.parse(set.body).note).toBe("PSU 2 flaky — ticket OPS-12");
    expect((await getMachine(id)).note).toBe("PSU 2 flaky — ticket OPS-12");
    expect((await api(`/v1/machines/${id}/note`, "PUT", { note: "x".repeat(2_001) })).status).toBe(422);
    expect(Machine.parse((await api(`/v1/machines/${id}/note`, "PUT", { note: "" })).body).note).toBeNull();
  });
});
