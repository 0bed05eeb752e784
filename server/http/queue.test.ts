// Expected categories, the difference list and the command queue over the real HTTP API (seed 000).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CommandResult, LeasedCommand, NextAction } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  OPERATOR,
  jsonRequest,
  makeTempDir,
  SAMPLE_UUID as ID,
  sampleInventory,
  startApiServer,
} from "../test-support.js";

let dir: string;
let removeDir: () => void;
let server: RunningServer;

beforeEach(async () => {
  ({ dir, remove: removeDir } = makeTempDir("bootwright-queue-"));
  server = await startApiServer(dir, { leaseMs: 60_000 });
  await jsonRequest(`${server.url}/v1/inventory`, "POST", sampleInventory());
});

afterEach(async () => {
  await server.close();
  removeDir();
});

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`${server.url}${path}`, method, body);

async function lease(): Promise<LeasedCommand> {
  const { body } = await api(`/v1/machines/${ID}/next`);
  const next = body as NextAction;
  if (next.action !== "run") throw new Error(`expected a command, got ${JSON.stringify(next)}`);
  return next.command;
}

const diskCheckOk = (leaseId: string): CommandResult => ({
  leaseId,
  outcome: "succeeded",
  output: {
    kind: "check-disks",
    disks: [{ name: "vda", sizeBytes: 512 * 2 ** 20, bytesRead: 2 ** 21, ms: 3 }],
  },
});

describe("expected category → difference → commands → category", () => {
  it("an inventoried machine expected ready gets a disk check; its result moves it and empties the difference", async () => {
    expect((await api("/v1/differences")).body).toEqual({
      differences: [],
      enrollment: [],
      drift: [],
      drivers: [],
    });
    expect((await api(`/v1/machines/${ID}/next`)).body).toMatchObject({ action: "wait" });

    const set = await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ category: "inventoried", expected: "ready" });
    expect((await api("/v1/differences")).body).toEqual({
      differences: [
        {
          machineId: ID,
          current: "inventoried",
          expected: "ready",
          commands: [{ kind: "check-disks", onSuccess: "ready" }],
          blocked: null,
        },
      ],
      enrollment: [],
      drift: [],
      drivers: [],
    });

    const command = await lease();
    expect(command.kind).toBe("check-disks");
    // While leased, nothing else is handed out.
    expect((await api(`/v1/machines/${ID}/next`)).body).toMatchObject({ action: "wait" });

    const done = await api(
      `/v1/machines/${ID}/commands/${command.id}/result`,
      "POST",
      diskCheckOk(command.leaseId),
    );
    expect(done).toEqual({ status: 200, body: { duplicate: false, category: "ready" } });
    expect((await api("/v1/differences")).body).toEqual({
      differences: [],
      enrollment: [],
      drift: [],
      drivers: [],
    });

    // Posted twice (the agent's retry after a lost answer): accepted, applied once.
    const again = await api(
      `/v1/machines/${ID}/commands/${command.id}/result`,
      "POST",
      diskCheckOk(command.leaseId),
    );
    expect(again).toEqual({ status: 200, body: { duplicate: true, category: "ready" } });
    const log = (await api(`/v1/machines/${ID}/log`)).body as { entries: { event: string }[] };
    const events = log.entries.map((e) => e.event);
    expect(events.filter((e) => e === "command-succeeded")).toHaveLength(1);
    expect(events.slice(-6)).toEqual([
      "expected",
      "command-queued",
      "command-leased",
      "command-succeeded",
      "category",
      "command-result-duplicate",
    ]);

    const queue = (await api(`/v1/machines/${ID}/queue`)).body as {
      commands: { state: string; attempts: number }[];
    };
    expect(queue.commands).toEqual([expect.objectContaining({ state: "succeeded", attempts: 1 })]);
  });

  it("a failed command fails the machine with the reason and clears the expectation (no retry loop)", async () => {
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
    const command = await lease();
    const res = await api(`/v1/machines/${ID}/commands/${command.id}/result`, "POST", {
      leaseId: command.leaseId,
      outcome: "failed",
      error: "/dev/vda: short read at offset 0",
    });
    expect(res.body).toEqual({ duplicate: false, category: "failed" });
    const machine = (await api(`/v1/machines/${ID}`)).body;
    expect(machine).toMatchObject({ category: "failed", expected: null });
    expect((await api(`/v1/machines/${ID}/next`)).body).toMatchObject({ action: "wait" });
    // The operator asks again: from failed, a fresh inventory first, then the disk check.
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
    expect((await lease()).kind).toBe("report-inventory");
  });

  it("a changed expectation cancels the leased command: its late result is refused with 409", async () => {
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
    const command = await lease();
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: null });
    const late = await api(
      `/v1/machines/${ID}/commands/${command.id}/result`,
      "POST",
      diskCheckOk(command.leaseId),
    );
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({
      code: "lease_refused",
      details: { reason: expect.stringContaining("cancelled") as string },
    });
    expect((await api(`/v1/machines/${ID}`)).body).toMatchObject({ category: "inventoried" });
  });

  it("refuses unknown commands and foreign leases, and 422s a malformed result", async () => {
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
    const command = await lease();
    expect(
      (await api(`/v1/machines/${ID}/commands/nope/result`, "POST", diskCheckOk(command.leaseId))).status,
    ).toBe(409);
    expect(
      (await api(`/v1/machines/${ID}/commands/${command.id}/result`, "POST", diskCheckOk("forged"))).status,
    ).toBe(409);
    const malformed = await api(`/v1/machines/${ID}/commands/${command.id}/result`, "POST", {
      leaseId: command.leaseId,
      outcome: "maybe",
    });
    expect(malformed.status).toBe(422);
    expect((await api(`/v1/machines/${ID}/expected`, "PUT", { category: "sideways" })).status).toBe(422);
    expect((await api(`/v1/machines/unknown/expected`, "PUT", { category: "ready" })).status).toBe(404);
  });

  it("a difference no command can close yet is listed as blocked, with the reason", async () => {
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "maintenance" });
    expect((await api("/v1/differences")).body).toEqual({
      differences: [
        {
          machineId: ID,
          current: "inventoried",
          expected: "maintenance",
          commands: [],
          blocked: "no command moves a machine from inventoried to maintenance yet",
        },
      ],
      enrollment: [],
      drift: [],
      drivers: [],
    });
    expect((await api(`/v1/machines/${ID}/next`)).body).toMatchObject({ action: "wait" });
  });

  it("sets expectations in bulk by a fact", async () => {
    const other = "52:54:00:aa:00:02";
    await api(
      "/v1/inventory",
      "POST",
      sampleInventory({
        bootMac: other,
        system: { manufacturer: "Acme", product: "X2", serial: "S2", uuid: null },
      }),
    );
    const res = await api("/v1/expected", "POST", {
      category: "ready",
      where: { path: "inventory.system.product", equals: "X1" },
    });
    expect(res.body).toEqual({ machineIds: [ID] });
    const differences = (await api("/v1/differences")).body as { differences: { machineId: string }[] };
    expect(differences.differences.map((d) => d.machineId)).toEqual([ID]);
  });
});

describe("leases that time out", () => {
  it("hands the command out again after its lease expires; the old lease's result is refused; effect once", async () => {
    await server.close();
    server = await startApiServer(dir, { leaseMs: 300 });
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
    const first = await lease();
    await new Promise((done) => setTimeout(done, 400));
    const second = await lease();
    expect(second.id).toBe(first.id);
    expect(second.leaseId).not.toBe(first.leaseId);
    expect(
      (await api(`/v1/machines/${ID}/commands/${first.id}/result`, "POST", diskCheckOk(first.leaseId)))
        .status,
    ).toBe(409);
    expect(
      (await api(`/v1/machines/${ID}/commands/${second.id}/result`, "POST", diskCheckOk(second.leaseId)))
        .body,
    ).toEqual({
      duplicate: false,
      category: "ready",
    });
  });

  it("fails the machine when a command's lease expires three times (its agent keeps dying)", async () => {
    await server.close();
    server = await startApiServer(dir, { leaseMs: 100 });
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "ready" });
    for (let i = 0; i < 3; i++) {
      await lease();
      await new Promise((done) => setTimeout(done, 150));
    }
    expect((await api(`/v1/machines/${ID}/next`)).body).toMatchObject({ action: "wait" });
    expect((await api(`/v1/machines/${ID}`)).body).toMatchObject({ category: "failed", expected: null });
    const queue = (await api(`/v1/machines/${ID}/queue`)).body as {
      commands: { state: string; error: string | null }[];
    };
    expect(queue.commands[0]).toMatchObject({
      state: "failed",
      error: expect.stringContaining("lease expired 3 times") as string,
    });
  });
});

describe("policy → plan → tailored agent in the queue", () => {
  const policy = {
    format: "json",
    source: JSON.stringify({
      rules: [
        {
          name: "raid-pair",
          match: [{ fact: "diskCount", gte: 2 }],
          plan: { image: "debian-12", raid: { level: 1, disks: "all" } },
        },
        { name: "single", match: [{ fact: "product", equals: "X1" }], plan: { image: "debian-12" } },
      ],
    }),
  };

  async function toReady(): Promise<void> {
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "configuring" });
    const check = await lease();
    expect(check.kind).toBe("check-disks");
    await api(`/v1/machines/${ID}/commands/${check.id}/result`, "POST", diskCheckOk(check.leaseId));
  }

  it("without a policy the difference is blocked at ready, with the reason", async () => {
    await toReady();
    expect((await api(`/v1/machines/${ID}`)).body).toMatchObject({ category: "ready", plan: null });
    expect((await api(`/v1/machines/${ID}/next`)).body).toMatchObject({ action: "wait" });
    const log = (await api(`/v1/machines/${ID}/log`)).body as {
      entries: { event: string; data: { reason?: string } }[];
    };
    expect(log.entries.at(-1)).toMatchObject({
      event: "difference-blocked",
      data: { reason: expect.stringContaining("no policy is set") as string },
    });
  });

  it("resolves the plan, leases run-agent with the tailored bundle's URL and sha256, and moves to configuring", async () => {
    expect((await api("/v1/policy", "PUT", policy)).status).toBe(200);
    await toReady();
    const machine = (await api(`/v1/machines/${ID}`)).body as {
      category: string;
      plan: { rule: string; planHash: string };
    };
    expect(machine).toMatchObject({ category: "planned", plan: { rule: "single" } });

    const run = await lease();
    expect(run.kind).toBe("run-agent");
    expect(run.agent?.plugins).toEqual(["disk-report"]);
    expect(run.agent?.url).toBe(`${server.advertiseUrl}/v1/agents/${run.agent?.sha256 ?? ""}.mjs`);
    const bundle = await fetch(`${server.url}/v1/agents/${run.agent?.sha256 ?? ""}.mjs`, {
      headers: OPERATOR,
    });
    expect(bundle.headers.get("x-bootwright-sha256")).toBe(run.agent?.sha256);
    expect(await bundle.text()).toContain(machine.plan.planHash);

    const step = {
      plugin: "disk-report",
      step: "list-disks",
      ok: true,
      ms: 4,
      data: { disks: [] },
      error: null,
    };
    const done = await api(`/v1/machines/${ID}/commands/${run.id}/result`, "POST", {
      leaseId: run.leaseId,
      outcome: "succeeded",
      output: { kind: "run-agent", sha256: run.agent?.sha256, steps: [step] },
    });
    expect(done.body).toEqual({ duplicate: false, category: "configuring" });
    const log = (await api(`/v1/machines/${ID}/log`)).body as {
      entries: { event: string; data: Record<string, unknown> }[];
    };
    expect(log.entries.find((e) => e.event === "planned")?.data).toMatchObject({
      rule: "single",
      image: "debian-12",
    });
    expect(log.entries.find((e) => e.event === "agent-step")?.data).toMatchObject({
      plugin: "disk-report",
      step: "list-disks",
      ok: true,
    });
  });

  it("?next=1: the result's answer carries the next command as GET next gives it (tailored agent and all)", async () => {
    expect((await api("/v1/policy", "PUT", policy)).status).toBe(200);
    await api(`/v1/machines/${ID}/expected`, "PUT", { category: "configuring" });
    const check = await lease();
    const path = `/v1/machines/${ID}/commands/${check.id}/result`;
    expect((await api(`${path}?next=2`, "POST", diskCheckOk(check.leaseId))).status).toBe(400);
    const done = await api(`${path}?next=1`, "POST", diskCheckOk(check.leaseId));
    const answer = done.body as { category: string; next: LeasedCommand | null };
    expect(answer).toMatchObject({ duplicate: false, category: "configuring", next: { kind: "run-agent" } });
    expect(answer.next?.agent?.url).toBe(
      `${server.advertiseUrl}/v1/agents/${answer.next?.agent?.sha256 ?? ""}.mjs`,
    );
    // Leased: GET next has nothing more; the retried post gives the same lease.
    expect((await api(`/v1/machines/${ID}/next`)).body).toMatchObject({ action: "wait" });
    const again = await api(`${path}?next=1`, "POST", diskCheckOk(check.leaseId));
    expect(again.body).toMatchObject({
      duplicate: true,
      next: { id: answer.next?.id, leaseId: answer.next?.leaseId },
    });
    // Without asking, an answer carries no lease at all.
    const run = answer.next;
    if (!run) throw new Error("no run-agent with the answer");
    const last = await api(`/v1/machines/${ID}/commands/${run.id}/result`, "POST", {
      leaseId: run.leaseId,
      outcome: "succeeded",
      output: { kind: "run-agent", sha256: run.agent?.sha256, steps: [] },
    });
    expect(last.body).toEqual({ duplicate: false, category: "configuring" });
  });
});
