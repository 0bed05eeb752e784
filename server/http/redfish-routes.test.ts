// The Redfish side of the power routes without a BMC: settings that cannot reach one are refused with
// power_check_failed and not stored (the password in no answer and no log line, even at trace level);
// bios apply needs a Redfish driver, and an operator.
import { createWriteStream, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import type { RunningServer } from "../server.js";
import {
  jsonRequest,
  makeTempDir,
  sampleInventory,
  sampleMachine,
  SAMPLE_UUID,
  startApiServer,
} from "../test-support.js";

const PASSWORD = "Redfish-Secret-91c2";
let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;
/** A TCP port that accepts and closes at once: no TLS handshake ever happens there. */
let closer: Server;

beforeAll(async () => {
  work = makeTempDir("bw-redfish-routes-");
  server = await startApiServer(
    work.dir,
    { logLevel: "trace" },
    createLogger("trace", createWriteStream(join(work.dir, "server.log"))),
  );
  await jsonRequest(`${server.url}/v1/inventory`, "POST", sampleInventory(), null);
  closer = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => closer.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  closer.close();
  await server.close();
  work.remove();
});

it("refuses Redfish settings whose BMC cannot be reached, stores nothing, shows and logs no password", async () => {
  const address = closer.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const set = await jsonRequest(`${server.url}/v1/machines/${SAMPLE_UUID}/power`, "PUT", {
    driver: "redfish",
    url: `https://127.0.0.1:${port}`,
    username: "admin",
    password: PASSWORD,
  });
  expect(set.status).toBe(502);
  expect(set.body).toMatchObject({
    code: "power_check_failed",
    message: expect.stringMatching(/^power settings not stored: BMC https:\/\/127\.0\.0\.1:\d+: /) as unknown,
  });
  const shown = await jsonRequest(`${server.url}/v1/machines/${SAMPLE_UUID}/power`, "GET");
  expect(shown.body).toEqual({ driver: "none", target: null });
  expect(JSON.stringify(set.body)).not.toContain(PASSWORD);
  expect(readFileSync(join(work.dir, "server.log"), "utf8")).not.toContain(PASSWORD);

  const plain = await jsonRequest(`${server.url}/v1/machines/${SAMPLE_UUID}/power`, "PUT", {
    driver: "redfish",
    url: "http://127.0.0.1:1",
    username: "admin",
    password: PASSWORD,
  });
  expect(plain).toMatchObject({ status: 422, body: { code: "schema_mismatch" } });
});

it("bios apply: an operator's, and only for a machine with a Redfish driver", async () => {
  const apply = `${server.url}/v1/machines/${SAMPLE_UUID}/bios/apply`;
  expect(await jsonRequest(apply, "POST", {}, null)).toMatchObject({ status: 401 });
  // No body at all (curl -X POST) is the same as {}: the wait has a default.
  expect(await jsonRequest(apply, "POST")).toMatchObject({ status: 409, body: { code: "bios_unavailable" } });
  const refused = await jsonRequest(apply, "POST", {});
  expect(refused).toMatchObject({ status: 409, body: { code: "bios_unavailable" } });
  expect((refused.body as { message: string }).message).toMatch(/power driver is none, not redfish/);
});

it("the attributes bios apply uses: the machine's stored plan's, else the plan the policy gives it now", async () => {
  expect(await server.store.biosAttributes(SAMPLE_UUID)).toBeUndefined();
  const policy = {
    rules: [
      { name: "tuned", match: [], plan: { image: "x", bios: { attributes: { ProcTurboMode: "Disabled" } } } },
    ],
  };
  const put = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
    source: JSON.stringify(policy),
    format: "json",
  });
  expect(put.status).toBe(200);
  expect(await server.store.biosAttributes(SAMPLE_UUID)).toEqual({
    attributes: { ProcTurboMode: "Disabled" },
    from: "policy version 1, rule tuned",
  });

  const planned = "0e0c8a6a-6f5f-4c43-9d57-0000000000c7";
  const plan = { image: "y", bios: { attributes: { BootDelaySeconds: 5, SriovGlobalEnable: true } } };
  await server.store.store.transaction((rows) =>
    rows.machines.insert(
      sampleMachine(planned, new Date().toISOString(), {
        plan: { rule: "older", planHash: "sha256:abc", plan, policyVersion: 1 },
      }),
    ),
  );
  expect(await server.store.biosAttributes(planned)).toEqual({
    attributes: { BootDelaySeconds: 5, SriovGlobalEnable: true },
    from: "plan sha256:abc",
  });
});
