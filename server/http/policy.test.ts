// The policy API on a real server (port 0, temp SQLite file): set / get, a bad policy refused with its
// lines and not stored, each machine's plan and explanation, the policy kept across a restart, and the
// --policy file at start-up.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PlanResolution, PolicyState, StoredPolicy } from "../../protocol/index.js";
import { fixtureInventory } from "../policy/test-fixtures.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, sampleInventory, startApiServer } from "../test-support.js";

const POLICY = `rules:
  - name: compute-blades
    match:
      - { fact: role, equals: compute }
      - { fact: diskCount, gte: 2 }
    plan:
      image: debian-12-compute
      raid: { level: 1, disks: all }
  - name: x4-uefi
    match:
      - { fact: firmwareType, equals: uefi }
    plan: { image: debian-12 }
`;

let dir: string;
let removeDir: () => void;
let server: RunningServer;

beforeEach(async () => {
  ({ dir, remove: removeDir } = makeTempDir("bootwright-policy-api-"));
  server = await startApiServer(dir);
});

afterEach(async () => {
  await server.close();
  removeDir();
});

async function putPolicy(
  source: string,
  format: "yaml" | "json" = "yaml",
): Promise<{ status: number; body: unknown }> {
  return jsonRequest(`${server.url}/v1/policy`, "PUT", { format, source });
}

async function enroll(name: Parameters<typeof fixtureInventory>[0]): Promise<string> {
  const res = await jsonRequest(`${server.url}/v1/inventory`, "POST", fixtureInventory(name));
  expect(res.status).toBe(200);
  return (res.body as { machineId: string }).machineId;
}

async function plan(id: string): Promise<PlanResolution> {
  const res = await jsonRequest(`${server.url}/v1/machines/${encodeURIComponent(id)}/plan`, "GET");
  expect(res.status).toBe(200);
  return PlanResolution.parse(res.body);
}

describe("GET / PUT /v1/policy", () => {
  it("has no policy at first, then the one set, versioned", async () => {
    expect(PolicyState.parse((await jsonRequest(`${server.url}/v1/policy`, "GET")).body)).toEqual({
      policy: null,
    });
    const first = await putPolicy(POLICY);
    expect(first.status).toBe(200);
    expect(StoredPolicy.parse(first.body)).toMatchObject({ format: "yaml", source: POLICY, version: 1 });
    const second = await putPolicy(JSON.stringify({ rules: [] }), "json");
    expect(StoredPolicy.parse(second.body)).toMatchObject({ format: "json", version: 2 });
    const state = PolicyState.parse((await jsonRequest(`${server.url}/v1/policy`, "GET")).body);
    expect(state.policy).toMatchObject({ format: "json", source: '{"rules":[]}', version: 2 });
  });

  it("refuses a bad policy with 422, each problem's path and line, and keeps the old one", async () => {
    await putPolicy(POLICY);
    const bad = await putPolicy(POLICY.replace("gte: 2", "gte: two"));
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({
      code: "invalid_policy",
      details: [
        {
          path: "rules.0.match.1.gte",
          line: 5,
          column: 33,
          message: expect.stringMatching(/not a number or size/) as unknown,
        },
      ],
    });
    const badJson = await putPolicy('{"rules": [\n  {"name": 1}\n]}', "json");
    expect(badJson.status).toBe(422);
    expect(badJson.body).toMatchObject({
      code: "invalid_policy",
      details: expect.arrayContaining([
        expect.objectContaining({ path: "rules.0.name", line: 2 }),
      ]) as unknown,
    });
    const state = PolicyState.parse((await jsonRequest(`${server.url}/v1/policy`, "GET")).body);
    expect(state.policy).toMatchObject({ source: POLICY, version: 1 });
  });

  it("refuses a body that is not an upload with 422 schema_mismatch", async () => {
    const res = await jsonRequest(`${server.url}/v1/policy`, "PUT", { format: "toml", source: "" });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: "schema_mismatch", details: [{ path: "format" }] });
  });
});

describe("GET /v1/machines/:id/plan", () => {
  it("resolves each machine and explains why", async () => {
    await putPolicy(POLICY);
    const blade = await plan(await enroll("bios-full-2nic-nvme"));
    expect(blade).toMatchObject({
      kind: "matched",
      rule: "compute-blades",
      ruleIndex: 0,
      policyVersion: 1,
      plan: { image: "debian-12-compute", raid: { level: 1, disks: "all" } },
      explanation: { rules: [{ name: "compute-blades", matched: true }] },
    });
    const uefi = await plan(await enroll("uefi-ovmf"));
    expect(uefi).toMatchObject({
      kind: "matched",
      rule: "x4-uefi",
      explanation: {
        rules: [
          {
            name: "compute-blades",
            matched: false,
            failed: { fact: "role", operator: "equals", expected: "compute", actual: null },
          },
          { name: "x4-uefi", matched: true },
        ],
      },
    });
  });

  it('answers "no-policy" (200) for a machine no rule matches, and before any policy is set', async () => {
    const id = await enroll("bios-defaults");
    expect(await plan(id)).toMatchObject({
      kind: "no-policy",
      policyVersion: null,
      explanation: { rules: [] },
    });
    await putPolicy(POLICY);
    const resolution = await plan(id);
    expect(resolution).toMatchObject({
      kind: "no-policy",
      policyVersion: 1,
      reason: expect.stringMatching(/none of the policy's 2 rules/) as unknown,
    });
    if (resolution.kind !== "no-policy") throw new Error("unexpected");
    expect(resolution.explanation.rules.map((r) => r.failed?.fact)).toEqual(["role", "firmwareType"]);
  });

  it('answers "no-inventory" for a machine only seen by iPXE, and 404 for an unknown one', async () => {
    const res = await fetch(`${server.url}/boot/52:54:00:aa:00:09.ipxe`);
    expect(res.status).toBe(200);
    expect(await plan("52:54:00:aa:00:09")).toEqual({ kind: "no-inventory", machineId: "52:54:00:aa:00:09" });
    const missing = await jsonRequest(`${server.url}/v1/machines/nope/plan`, "GET");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: "not_found" });
  });

  it("keeps the policy across a restart", async () => {
    await putPolicy(POLICY);
    const id = await enroll("bios-full-2nic-nvme");
    const before = await plan(id);
    await server.close();
    server = await startApiServer(dir);
    const state = PolicyState.parse((await jsonRequest(`${server.url}/v1/policy`, "GET")).body);
    expect(state.policy).toMatchObject({ source: POLICY, version: 1 });
    expect(await plan(id)).toEqual(before);
  });
});

describe("--policy at start-up", () => {
  it("loads the file into the store, once: a restart with the same file keeps the version", async () => {
    await server.close();
    const file = join(dir, "site.yaml");
    writeFileSync(file, POLICY);
    server = await startApiServer(dir, { policyFile: file });
    const first = PolicyState.parse((await jsonRequest(`${server.url}/v1/policy`, "GET")).body);
    expect(first.policy).toMatchObject({ source: POLICY, format: "yaml", version: 1 });
    await server.close();
    server = await startApiServer(dir, { policyFile: file });
    const again = PolicyState.parse((await jsonRequest(`${server.url}/v1/policy`, "GET")).body);
    expect(again.policy?.version).toBe(1);
    expect((await plan(await enroll("uefi-ovmf"))).kind).toBe("matched");
  });

  it("refuses to start with a bad policy file, naming its line and path", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      '{\n  "rules": [\n    { "name": "a", "match": [{ "fact": "nicVendor", "equals": "x" }], "plan": { "image": "i" } }\n  ]\n}\n',
    );
    await expect(startApiServer(dir, { policyFile: file })).rejects.toThrow(
      new RegExp(
        `${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+ rules\\.0\\.match\\.0\\.fact: unknown fact "nicVendor"`,
      ),
    );
  });
});

it("a sample (minimal) inventory resolves on computed facts it has", async () => {
  await putPolicy(
    "rules:\n  - name: any-x1\n    match: [{ fact: product, equals: X1 }]\n    plan: { image: i }\n",
  );
  const res = await jsonRequest(`${server.url}/v1/inventory`, "POST", sampleInventory());
  expect(await plan((res.body as { machineId: string }).machineId)).toMatchObject({
    kind: "matched",
    rule: "any-x1",
  });
});
