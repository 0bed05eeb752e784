// `bootwright approve` through the real CLI (bin/bootwright) against a real server in approve mode: by
// id, and by --where, each then enrolling at the machine's next inventory; and what it says when given
// neither or both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApproveAnswer, type Inventory } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, startApiServer, cliOutput, inventoryFor } from "../test-support.js";

let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;

const bootwright = (...args: string[]): Promise<string> => cliOutput(server.url, work.dir, args);

const machine = (mac: string, product: string): Inventory =>
  inventoryFor(mac, { product, serial: `SER-${mac}`, uuid: null });

const post = (inventory: Inventory) => jsonRequest(`${server.url}/v1/inventory`, "POST", inventory, null);

beforeAll(async () => {
  work = makeTempDir("bw-approve-cli-");
  server = await startApiServer(work.dir);
  const policy = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
    format: "yaml",
    source: "enrollment: approve\nrules: []\n",
  });
  expect(policy.status).toBe(200);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("bootwright approve", () => {
  it("approves one machine by id, and every machine matching --where; each enrolls at its next inventory", async () => {
    const one = machine("52:54:00:c1:00:01", "Z1");
    const two = machine("52:54:00:c1:00:02", "Z2");
    const three = machine("52:54:00:c1:00:03", "Z2");
    for (const inventory of [one, two, three]) expect((await post(inventory)).status).toBe(403);

    expect(await bootwright("approve", "52:54:00:c1:00:01")).toBe(
      "52:54:00:c1:00:01: approved; its next inventory enrolls it\n",
    );
    expect((await post(one)).status).toBe(200);
    expect(await bootwright("approve", "52:54:00:c1:00:01")).toBe(
      "52:54:00:c1:00:01: enrolled, nothing to approve\n",
    );

    const bulk = ApproveAnswer.parse(
      JSON.parse(await bootwright("approve", "--where", "inventory.system.product=Z2", "--json")),
    );
    expect(bulk.machineIds).toEqual(["52:54:00:c1:00:02", "52:54:00:c1:00:03"]);
    expect((await post(two)).status).toBe(200);
    expect((await post(three)).status).toBe(200);

    // The access layer audited each approval, under the route and the machine.
    const audit = await jsonRequest(`${server.url}/v1/audit?machine=52:54:00:c1:00:01`, "GET");
    expect(JSON.stringify(audit.body)).toContain("POST /v1/machines/:id/approve");
    expect(await bootwright("machines")).toMatch(/ENROLLMENT/);
  });

  it("wants a machine id or --where, not both", async () => {
    await expect(bootwright("approve")).rejects.toThrow(/give a machine id or --where/);
    await expect(bootwright("approve", "x", "--where", "a=b")).rejects.toThrow(
      /give a machine id or --where/,
    );
  });
});
