// The API under 10,000 bad requests (fuzz-requests.ts makes them from the routes the app declares, so
// a new route is fuzzed without a word here): wrong types, huge strings, deep nesting, an alias bomb
// in the policy, bad tokens, unknown ids, path tricks, wrong content types, truncated JSON. Every answer
// must be a 4xx with a catalogue code; afterwards the server still answers /healthz and neither its
// store nor its data directory changed. The seed is printed with each failure, and
// BOOTWRIGHT_FUZZ_SEED=<seed> replays a run.
import { readdirSync, statSync } from "node:fs";
import { Agent, request } from "node:http";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compress } from "zstd-napi";
import { CreatedToken, ErrorBody, InventoryAccepted } from "../../protocol/index.js";
import { readStore } from "../db/copy.js";
import type { RunningServer } from "../server.js";
import {
  jsonRequest,
  makeTempDir,
  OPERATOR,
  sampleInventory,
  startApiServer,
  TEST_ADMIN_TOKEN,
} from "../test-support.js";
import { fuzzRequest, jsonSchemas, type FuzzRequest, type TokenKind } from "./fuzz-requests.js";

const REQUESTS = 10_000;
/** Requests in flight at once: enough to keep the server busy, few enough for 2 slow cores. */
const CONCURRENCY = 8;
const BODY_LIMIT = 64 * 1024;
const SEED = Number(process.env.BOOTWRIGHT_FUZZ_SEED ?? 20_260_117);

let server: RunningServer;
let temp: ReturnType<typeof makeTempDir>;
const tokens = new Map<TokenKind, string>();
let machineId = "";

async function createToken(role: "viewer" | "operator" | "admin", name: string): Promise<CreatedToken> {
  const made = await jsonRequest(`${server.url}/v1/tokens`, "POST", { name, role });
  expect(made.status).toBe(201);
  return CreatedToken.parse(made.body);
}

/** Every table but the boot log (refused boot requests are written there on purpose), and every file. */
async function snapshot(): Promise<unknown> {
  const tables = (await readStore(server.store.store))
    .filter(({ table }) => table !== "boot_events")
    .map(({ table, rows }) => ({
      table,
      // A token's last use is bookkeeping of a request that was refused after it.
      rows: table === "api_tokens" ? rows.map((row) => ({ ...row, last_used_at: null })) : rows,
    }));
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!entry.name.startsWith("bootwright.sqlite"))
        files.push(`${relative(temp.dir, path)} ${statSync(path).size}`);
    }
  };
  walk(temp.dir);
  return { tables, files: files.sort() };
}

beforeAll(async () => {
  temp = makeTempDir("bw-fuzz-");
  // The limiter stays in the path (its hook runs on every request) but never refuses here:
  // rate-limit.test.ts shows it refusing.
  server = await startApiServer(temp.dir, {
    bodyLimitBytes: BODY_LIMIT,
    rateLimitBurst: 1_000_000,
    rateLimitPerSecond: 1_000,
  });
  const enrolled = await jsonRequest(`${server.url}/v1/inventory`, "POST", sampleInventory(), null);
  const accepted = InventoryAccepted.parse(enrolled.body);
  machineId = accepted.machineId;
  const policy = { rules: [{ name: "all", match: [], plan: { image: "tiny" } }] };
  const put = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
    format: "json",
    source: JSON.stringify(policy),
  });
  expect(put.status).toBe(200);
  const image = await fetch(`${server.url}/v1/images?name=tiny&format=raw.zst`, {
    method: "PUT",
    headers: OPERATOR,
    body: compress(Buffer.alloc(1 << 16, 7)),
  });
  expect(image.status).toBe(201);
  const revoked = await createToken("admin", "revoked");
  expect((await jsonRequest(`${server.url}/v1/tokens/${revoked.info.id}`, "DELETE")).status).toBe(200);
  tokens.set("admin", TEST_ADMIN_TOKEN);
  tokens.set("viewer", (await createToken("viewer", "fuzz-viewer")).token);
  tokens.set("operator", (await createToken("operator", "fuzz-operator")).token);
  tokens.set("revoked", revoked.token);
  tokens.set("machine", accepted.credential);
  // Its first use is recorded once: make it now, before the snapshot.
  await jsonRequest(`${server.url}/v1/machines/${machineId}/next`, "GET", undefined, accepted.credential);
});

afterAll(async () => {
  await server.close();
  temp.remove();
});

const GARBAGE = [
  "Bearer",
  "Bearer ",
  "Basic YWRtaW46YWRtaW4=",
  `Bearer ${"x".repeat(4_000)}`,
  `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}${TEST_ADMIN_TOKEN.endsWith("A") ? "B" : "A"}`,
  `Bearer bwm_${"0".repeat(32)}.${"A".repeat(43)}`,
  "Bearer bwo_..",
  `bearer  ${TEST_ADMIN_TOKEN} extra`,
];

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

function send(agent: Agent, fuzz: FuzzRequest, n: number): Promise<Answer> {
  const headers: Record<string, string> = { ...fuzz.headers };
  // Always a length: node's client sends a DELETE's or an OPTIONS' body with neither it nor chunking.
  if (fuzz.body !== undefined) headers["content-length"] = String(fuzz.body.length);
  if (fuzz.token === "garbage") headers.authorization = GARBAGE[n % GARBAGE.length] ?? "";
  else if (fuzz.token !== "none") headers.authorization = `Bearer ${tokens.get(fuzz.token) ?? ""}`;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: server.port, path: fuzz.path, method: fuzz.method, headers, agent },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"] ?? "", text });
        });
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error("no answer in 20 s")));
    req.on("error", reject);
    req.end(fuzz.body);
  });
}

/** Why an answer is wrong, or undefined when it is a proper refusal. */
function judge(fuzz: FuzzRequest, answer: Answer): string | undefined {
  if (answer.status < 400 || answer.status >= 500) return `status ${answer.status}`;
  if (fuzz.method === "HEAD") return undefined; // no body to look at
  if (!answer.contentType.startsWith("application/json")) return `content-type ${answer.contentType}`;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return "body is not JSON";
  }
  const parsed = ErrorBody.safeParse(body);
  return parsed.success ? undefined : "body is not { code, message, details? } with a catalogue code";
}

function describeRequest(fuzz: FuzzRequest, n: number): string {
  const body =
    fuzz.body === undefined
      ? "none"
      : `${fuzz.body.length} bytes ${JSON.stringify(fuzz.body.subarray(0, 160).toString("utf8"))}`;
  return `seed ${SEED} request #${n}: ${fuzz.method} ${fuzz.path.slice(0, 300)} token=${fuzz.token} headers=${JSON.stringify(fuzz.headers)} body=${body} (${fuzz.why.join("; ")})`;
}

describe("the API under bad requests", () => {
  it(`refuses ${REQUESTS} generated bad requests with a 4xx and a catalogue code, and changes nothing`, async () => {
    // Every route, HEAD included: a route added later is in this list without anyone adding it.
    const routes = server.routes;
    expect(routes.length).toBeGreaterThan(40);
    const ctx = { routes, machineId, bodyLimitBytes: BODY_LIMIT, jsonSchema: jsonSchemas() };
    const before = await snapshot();
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const n = next++;
        const fuzz = fuzzRequest(ctx, SEED, n);
        try {
          const answer = await send(agent, fuzz, n);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const wrong = judge(fuzz, answer);
          if (wrong !== undefined)
            failures.push(`${describeRequest(fuzz, n)} → ${wrong}: ${answer.text.slice(0, 300)}`);
        } catch (err) {
          failures.push(`${describeRequest(fuzz, n)} → no answer: ${String(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    expect(
      failures.slice(0, 25),
      `${failures.length} failures; statuses ${JSON.stringify([...statuses])}`,
    ).toEqual([]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it("refuses a YAML alias bomb in PUT /v1/policy with 422 invalid_policy, at once", async () => {
    const levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const started = Date.now();
    const answer = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
      format: "yaml",
      source: `${levels.join("\n")}\nrules: *a8\n`,
    });
    expect(answer.status).toBe(422);
    expect(ErrorBody.parse(answer.body)).toMatchObject({ code: "invalid_policy" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
