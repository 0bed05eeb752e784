// Drift after a policy change, on a real server (port 0, temp SQLite file): a new policy version
// re-plans a planned machine (its step log has the old and the new plan) and leaves an installed one
// alone, listed as drift; the dry run lists both and changes nothing; --replan reinstalls the drifted one.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DifferenceList, Machine, PolicyDryRun, type Drift } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, leaseCommand, makeTempDir, postResult, startApiServer } from "../test-support.js";
import { driftScenario, INSTALLED, PLANNED, POLICY_V1, POLICY_V2, setPolicy } from "./drift-scenario.js";

let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`${server.url}${path}`, method, body);

async function machine(id: string): Promise<Machine> {
  return Machine.parse((await api(`/v1/machines/${id}`)).body);
}

/** Everything a policy change could write: the policy, machines, step logs, queues, the audit log. */
async function snapshot(): Promise<string> {
  const ids = [INSTALLED, PLANNED];
  return JSON.stringify({
    policy: (await api("/v1/policy")).body,
    machines: (await api("/v1/machines")).body,
    logs: await Promise.all(ids.map(async (id) => (await api(`/v1/machines/${id}/log`)).body)),
    queues: await Promise.all(ids.map(async (id) => (await api(`/v1/machines/${id}/queue`)).body)),
    audit: (await api("/v1/audit?limit=1000")).body,
  });
}

const V2 = { format: "json", source: JSON.stringify(POLICY_V2) } as const;

beforeEach(async () => {
  work = makeTempDir("bootwright-drift-");
  server = await startApiServer(work.dir);
  await driftScenario(server.url);
});

afterEach(async () => {
  await server.close();
  work.remove();
});

describe("a new policy version", () => {
  it("re-plans the planned machine (old and new plan in its log) and shows the installed one as drift", async () => {
    const before = { installed: await machine(INSTALLED), planned: await machine(PLANNED) };
    expect(before.installed).toMatchObject({
      category: "installed",
      plan: { rule: "base", policyVersion: 1 },
    });
    expect(before.planned).toMatchObject({ category: "planned", plan: { rule: "base", policyVersion: 1 } });
    expect(DifferenceList.parse((await api("/v1/differences")).body).drift).toEqual([]);

    await setPolicy(server.url, POLICY_V2);

    const planned = await machine(PLANNED);
    expect(planned).toMatchObject({ category: "planned", plan: { rule: "disk-first", policyVersion: 2 } });
    expect(planned.plan?.planHash).not.toBe(before.planned.plan?.planHash);
    const replanned = (await server.store.machineLog(PLANNED)).filter((e) => e.event === "replanned");
    expect(replanned.map((e) => e.data)).toEqual([
      {
        machineId: PLANNED,
        from: { rule: "base", planHash: before.planned.plan?.planHash, policyVersion: 1 },
        to: { rule: "disk-first", planHash: planned.plan?.planHash, policyVersion: 2 },
        message: expect.stringMatching(
          /^plan sha256:\w{12} from rule base \(policy v1\) → plan sha256:\w{12} from rule disk-first \(policy v2\)$/,
        ) as unknown,
        image: "tiny",
      },
    ]);
    // Its queue is still the install: the agent it leases next is built for the new plan.
    expect(
      (await server.store.machineQueue(PLANNED)).filter((c) => c.state === "queued").map((c) => c.kind),
    ).toEqual(["run-agent", "write-image", "boot-installed"]);

    // The installed machine is not touched: same plan, no new log line, nothing queued.
    const installed = await machine(INSTALLED);
    expect(installed).toEqual(before.installed);
    expect((await server.store.machineLog(INSTALLED)).some((e) => e.event === "replanned")).toBe(false);
    const diff = DifferenceList.parse((await api("/v1/differences")).body);
    const drift: Drift = {
      machineId: INSTALLED,
      runs: { rule: "base", planHash: before.installed.plan?.planHash ?? "", policyVersion: 1 },
      wouldGet: { rule: "disk-first", planHash: planned.plan?.planHash ?? "", policyVersion: 2 },
      message: `runs plan ${(before.installed.plan?.planHash ?? "").slice(0, 19)} from rule base, policy v2 gives plan ${(planned.plan?.planHash ?? "").slice(0, 19)} from rule disk-first`,
    };
    expect(diff.drift).toEqual([drift]);
    // The plan route explains why: the rule that now matches.
    expect((await api(`/v1/machines/${INSTALLED}/plan`)).body).toMatchObject({
      kind: "matched",
      rule: "disk-first",
      policyVersion: 2,
    });
  });

  it("drops the plan of a planned machine no rule matches any more: back to inventoried, its queue starts again at the disk check", async () => {
    await setPolicy(server.url, { rules: [] });
    const planned = await machine(PLANNED);
    expect(planned).toMatchObject({ category: "inventoried", plan: null, expected: "installed" });
    const entry = (await server.store.machineLog(PLANNED)).find((e) => e.event === "replanned");
    expect(entry?.data).toMatchObject({
      to: null,
      message: expect.stringMatching(/no rule of policy v2 matches/) as unknown,
    });
    expect(
      (await server.store.machineQueue(PLANNED)).filter((c) => c.state === "queued").map((c) => c.kind),
    ).toEqual(["check-disks", "run-agent", "write-image", "boot-installed"]);
    const diff = DifferenceList.parse((await api("/v1/differences")).body);
    expect(diff.drift).toMatchObject([{ machineId: INSTALLED, wouldGet: null }]);
    expect(diff.drift[0]?.message).toMatch(/policy v2 gives it no plan \(no rule matches\)$/);
  });

  it("the same policy again re-plans nothing and shows no drift", async () => {
    await setPolicy(server.url, POLICY_V1);
    expect(await machine(PLANNED)).toMatchObject({ plan: { rule: "base", policyVersion: 1 } });
    expect(DifferenceList.parse((await api("/v1/differences")).body).drift).toEqual([]);
  });
});

describe("POST /v1/policy/dry-run", () => {
  it("lists who would re-plan and who would drift, and changes nothing (not even the version)", async () => {
    const before = await snapshot();
    const res = await api("/v1/policy/dry-run", "POST", V2);
    expect(res.status).toBe(200);
    const result = PolicyDryRun.parse(res.body);
    expect(result).toMatchObject({
      policyVersion: 2,
      rules: 1,
      replan: [
        {
          machineId: PLANNED,
          from: { rule: "base", policyVersion: 1 },
          to: { rule: "disk-first", policyVersion: 2 },
        },
      ],
      drift: [
        { machineId: INSTALLED, runs: { rule: "base" }, wouldGet: { rule: "disk-first", policyVersion: 2 } },
      ],
    });
    expect(await snapshot()).toBe(before);
    // What it foretold is what the change does.
    await setPolicy(server.url, POLICY_V2);
    expect(DifferenceList.parse((await api("/v1/differences")).body).drift).toEqual(result.drift);
  });

  it("refuses a bad policy with 422 naming its lines, like PUT", async () => {
    const res = await api("/v1/policy/dry-run", "POST", { format: "yaml", source: "rules: [" });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: "invalid_policy" });
  });
});

describe("expect <id> installed --replan", () => {
  it("reinstalls the drifted machine with its new plan: installed → planned, the install queued", async () => {
    await setPolicy(server.url, POLICY_V2);
    const res = await api(`/v1/machines/${INSTALLED}/expected`, "PUT", {
      category: "installed",
      replan: true,
    });
    expect(res.status).toBe(200);
    const replanned = Machine.parse(res.body);
    expect(replanned).toMatchObject({
      category: "planned",
      expected: "installed",
      plan: { rule: "disk-first", policyVersion: 2 },
    });
    expect(
      (await server.store.machineQueue(INSTALLED)).filter((c) => c.state === "queued").map((c) => c.kind),
    ).toEqual(["run-agent", "write-image", "boot-installed"]);
    const log = await server.store.machineLog(INSTALLED);
    expect(log.find((e) => e.event === "replanned")?.data).toMatchObject({
      from: { rule: "base", policyVersion: 1 },
      to: { rule: "disk-first", policyVersion: 2 },
      message: expect.stringMatching(
        /^reinstall: runs plan .* from rule base, policy v2 gives plan/,
      ) as unknown,
    });
    // No longer drift: it is being reinstalled. Through the install, it runs the new plan.
    expect(DifferenceList.parse((await api("/v1/differences")).body).drift).toEqual([]);
    for (const kind of ["run-agent", "write-image"] as const) {
      const command = await leaseCommand(server.url, INSTALLED, kind);
      await postResult(server.url, INSTALLED, command, {
        leaseId: command.leaseId,
        outcome: "succeeded",
        output: { kind, sha256: command.agent?.sha256 ?? "", steps: [] },
      });
    }
    await leaseCommand(server.url, INSTALLED, "boot-installed");
    const call = await api(`/v1/machines/${INSTALLED}/callhome`, "POST", {
      image: "sha256:x",
      planHash: replanned.plan?.planHash,
      os: "tiny 6.1",
    });
    expect(call.body).toMatchObject({ category: "installed", completedInstall: true });
    const after = DifferenceList.parse((await api("/v1/differences")).body);
    expect(after.drift).toEqual([]);
    expect(after.differences.map((d) => d.machineId)).toEqual([PLANNED]); // the other one, still to install
  });

  it("refuses a machine that does not drift, or is not installed, with 409 replan_refused; nothing changes", async () => {
    const before = await snapshot();
    const same = await api(`/v1/machines/${INSTALLED}/expected`, "PUT", {
      category: "installed",
      replan: true,
    });
    expect(same.status).toBe(409);
    expect(same.body).toMatchObject({
      code: "replan_refused",
      message: expect.stringMatching(/runs the plan policy v1 gives it \(rule base\): no drift/) as unknown,
    });
    expect(await snapshot()).toBe(before);

    await setPolicy(server.url, POLICY_V2);
    const changed = await snapshot();
    const planned = await api(`/v1/machines/${PLANNED}/expected`, "PUT", {
      category: "installed",
      replan: true,
    });
    expect(planned.status).toBe(409);
    expect(planned.body).toMatchObject({
      message: expect.stringMatching(/is planned, not installed/) as unknown,
    });
    const wrong = await api(`/v1/machines/${INSTALLED}/expected`, "PUT", { category: "ready", replan: true });
    expect(wrong.status).toBe(422);
    expect(await snapshot()).toBe(changed);
  });

  it("by selector: the drifted installed machines reinstall, the others are expected installed", async () => {
    await setPolicy(server.url, POLICY_V2);
    const res = await api("/v1/expected", "POST", {
      category: "installed",
      where: { path: "inventory.system.product", equals: "X1" },
      replan: true,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ machineIds: [INSTALLED, PLANNED], replanned: [INSTALLED] });
    expect(await machine(INSTALLED)).toMatchObject({ category: "planned", expected: "installed" });
    expect(await machine(PLANNED)).toMatchObject({ category: "planned", expected: "installed" });
  });
});
