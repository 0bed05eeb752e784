// Secrets at rest: a BMC password given to the power driver is sealed before it reaches the store, so
// neither the SQLite file nor the server's log nor the audit log nor any API answer holds it; the key
// is the data directory's own (0600), and the driver still gets the password back.
import { createWriteStream, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, sampleInventory, SAMPLE_UUID, startApiServer } from "../test-support.js";

const PASSWORD = "Bmc-Secret-7f3a9c";
let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;

beforeAll(async () => {
  work = makeTempDir("bw-secrets-");
  // Everything the server logs, at its most talkative, into a file the test then searches.
  server = await startApiServer(
    work.dir,
    { logLevel: "trace" },
    createLogger("trace", createWriteStream(join(work.dir, "server.log"))),
  );
  await jsonRequest(`${server.url}/v1/inventory`, "POST", sampleInventory(), null);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("a BMC password", () => {
  it("is sealed in the store, shown by no answer, logged nowhere, and opened for the driver", async () => {
    const set = await jsonRequest(`${server.url}/v1/machines/${SAMPLE_UUID}/power`, "PUT", {
      driver: "ipmi",
      host: "bmc1.example",
      username: "admin",
      password: PASSWORD,
    });
    expect(set.status).toBe(200);
    expect(JSON.stringify(set.body)).not.toContain(PASSWORD);
    const shown = await jsonRequest(`${server.url}/v1/machines/${SAMPLE_UUID}/power`, "GET");
    expect(JSON.stringify(shown.body)).not.toContain(PASSWORD);
    const audit = await jsonRequest(`${server.url}/v1/audit`, "GET");
    expect(JSON.stringify(audit.body)).not.toContain(PASSWORD);

    // The driver gets it back: the settings as the maintenance service reads them.
    expect(await server.store.settings.power(SAMPLE_UUID)).toMatchObject({
      driver: "ipmi",
      password: PASSWORD,
    });

    await server.close();
    server = await startApiServer(work.dir);
    // After a restart, the same key opens it; and no file of the data directory holds it in clear.
    expect(await server.store.settings.power(SAMPLE_UUID)).toMatchObject({ password: PASSWORD });
    const files = readdirSync(work.dir).filter((name) => statSync(join(work.dir, name)).isFile());
    expect(files).toEqual(expect.arrayContaining(["bootwright.sqlite", "server.log", "secret.key"]));
    for (const file of files) expect(readFileSync(join(work.dir, file)).includes(PASSWORD), file).toBe(false);
    expect(statSync(join(work.dir, "secret.key")).mode & 0o777).toBe(0o600);
  });
});
