// Operators' tokens and roles over the real HTTP server: no token → 401, the wrong role → 403 naming the
// role, tokens made, listed, revoked (at once), the audit log of each change (who, what, before/after,
// from where; nothing in the API edits it), the first start's admin token, and every route declaring
// its access.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog, CreatedToken, ErrorBody, TokenList } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  jsonRequest,
  makeTempDir,
  sampleInventory,
  SAMPLE_UUID,
  startApiServer,
  TEST_ADMIN_TOKEN,
} from "../test-support.js";

let server: RunningServer;
let temp: ReturnType<typeof makeTempDir>;

beforeAll(async () => {
  temp = makeTempDir("bw-auth-");
  server = await startApiServer(temp.dir);
  await jsonRequest(`${server.url}/v1/inventory`, "POST", sampleInventory(), null);
});

afterAll(async () => {
  await server.close();
  temp.remove();
});

async function tokenFor(role: "viewer" | "operator" | "admin", name: string): Promise<CreatedToken> {
  const made = await jsonRequest(`${server.url}/v1/tokens`, "POST", { name, role });
  expect(made.status).toBe(201);
  return CreatedToken.parse(made.body);
}

describe("operators' routes", () => {
  it("answer 401 without a token, or with one that is not ours, and name the header", async () => {
    const none = await jsonRequest(`${server.url}/v1/machines`, "GET", undefined, null);
    expect(none.status).toBe(401);
    expect(ErrorBody.parse(none.body)).toMatchObject({ code: "unauthenticated" });
    expect(ErrorBody.parse(none.body).message).toMatch(/Authorization: Bearer/);
    for (const bad of ["nonsense", `bwo_${"0".repeat(32)}.${"A".repeat(43)}`, `${TEST_ADMIN_TOKEN}x`]) {
      const answer = await jsonRequest(`${server.url}/v1/machines`, "GET", undefined, bad);
      expect(answer.status).toBe(401);
    }
  });

  it("answer 403 naming the role a viewer lacks, and change nothing", async () => {
    const viewer = await tokenFor("viewer", "dashboard");
    expect((await jsonRequest(`${server.url}/v1/machines`, "GET", undefined, viewer.token)).status).toBe(200);
    const refused = await jsonRequest(
      `${server.url}/v1/machines/${SAMPLE_UUID}/expected`,
      "PUT",
      { category: "ready" },
      viewer.token,
    );
    expect(refused.status).toBe(403);
    expect(ErrorBody.parse(refused.body)).toMatchObject({
      code: "forbidden",
      details: { needs: "operator", has: "viewer" },
    });
    expect((await server.store.getMachine(SAMPLE_UUID))?.expected).toBeNull();
    const operator = await tokenFor("operator", "night-shift");
    const policy = await jsonRequest(
      `${server.url}/v1/policy`,
      "PUT",
      { format: "json", source: '{"rules":[]}' },
      operator.token,
    );
    expect(ErrorBody.parse(policy.body)).toMatchObject({ code: "forbidden", details: { needs: "admin" } });
  });

  it("tokens are listed without their secrets, and a revoked one stops at once", async () => {
    const made = await tokenFor("operator", "ci-robot");
    expect(made.token).toMatch(/^bwo_[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    const list = TokenList.parse((await jsonRequest(`${server.url}/v1/tokens`, "GET")).body);
    expect(list.tokens.find((t) => t.id === made.info.id)).toMatchObject({
      name: "ci-robot",
      role: "operator",
      revokedAt: null,
    });
    expect(JSON.stringify(list)).not.toContain(made.token.split(".")[1]);
    expect((await jsonRequest(`${server.url}/v1/machines`, "GET", undefined, made.token)).status).toBe(200);
    expect((await jsonRequest(`${server.url}/v1/tokens/${made.info.id}`, "DELETE")).status).toBe(200);
    expect((await jsonRequest(`${server.url}/v1/machines`, "GET", undefined, made.token)).status).toBe(401);
    expect((await jsonRequest(`${server.url}/v1/tokens/${made.info.id}`, "DELETE")).status).toBe(404);
  });

  it("each change is in the audit log: who, which token, what, before and after, from where", async () => {
    const operator = await tokenFor("operator", "alice");
    const set = await jsonRequest(
      `${server.url}/v1/machines/${SAMPLE_UUID}/expected`,
      "PUT",
      { category: "ready" },
      operator.token,
    );
    expect(set.status).toBe(200);
    await jsonRequest(
      `${server.url}/v1/machines/${SAMPLE_UUID}/power`,
      "PUT",
      {
        driver: "ipmi",
        host: "bmc1",
        user: "admin",
        password: "hunter2-secret",
      },
      operator.token,
    );
    const log = AuditLog.parse(
      (await jsonRequest(`${server.url}/v1/audit?machine=${SAMPLE_UUID}`, "GET")).body,
    );
    const expectEntry = log.entries.find((e) => e.action === "PUT /v1/machines/:id/expected");
    expect(expectEntry).toMatchObject({
      tokenId: operator.info.id,
      tokenName: "alice",
      role: "operator",
      target: SAMPLE_UUID,
      source: "127.0.0.1",
      details: {
        body: { category: "ready" },
        before: { category: "inventoried", expected: null },
        after: { expected: "ready" },
      },
    });
    expect(JSON.stringify(log)).not.toContain("hunter2-secret");
    // Reading is not a change; and the log has no route that edits it.
    expect(log.entries.some((e) => e.action.startsWith("GET"))).toBe(false);
    for (const method of ["PUT", "DELETE", "POST"])
      expect(
        (await jsonRequest(`${server.url}/v1/audit`, method, method === "DELETE" ? undefined : {})).status,
      ).toBe(405);
  });
});

describe("the first admin token", () => {
  it("is made at first start, written 0600 into the data directory, and works; a second start makes none", async () => {
    const dir = makeTempDir("bw-auth-first-");
    try {
      const first = await startApiServer(dir.dir, { adminToken: undefined });
      await first.close();
      const file = join(dir.dir, "admin-token");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const again = await startApiServer(dir.dir, { adminToken: undefined });
      try {
        const token = readFileSync(file, "utf8").trim();
        expect((await jsonRequest(`${again.url}/v1/tokens`, "GET", undefined, token)).status).toBe(200);
        const list = TokenList.parse(
          (await jsonRequest(`${again.url}/v1/tokens`, "GET", undefined, token)).body,
        );
        expect(list.tokens.filter((t) => t.name === "initial-admin")).toHaveLength(1);
      } finally {
        await again.close();
      }
    } finally {
      dir.remove();
    }
  });
});
