// Retire, delete, tags and notes through the real CLI (bin/bootwright) against a real server: tags by id
// (+add -remove) and by --where, `--where tag=…` selecting for expect, the TAGS column, a note shown by
// `machines show`, retire, and `machines delete` refused while a lease is live, then done.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NextAction, TagAnswer, type Inventory } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import { jsonRequest, makeTempDir, startApiServer, cliOutput, inventoryFor } from "../test-support.js";

let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;

const bootwright = (...args: string[]): Promise<string> => cliOutput(server.url, work.dir, args);

const machine = (mac: string, product: string): Inventory =>
  inventoryFor(mac, { product, serial: `SER-${mac}`, uuid: null });

const A = "52:54:00:c2:00:01";
const B = "52:54:00:c2:00:02";

beforeAll(async () => {
  work = makeTempDir("bw-lifecycle-cli-");
  server = await startApiServer(work.dir);
  for (const inventory of [machine(A, "C1"), machine(B, "C1")])
    expect((await jsonRequest(`${server.url}/v1/inventory`, "POST", inventory, null)).status).toBe(200);
  await jsonRequest(`${server.url}/v1/machines/${A}/tags`, "POST", { add: ["spare"] });
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("bootwright tag, note, retire, machines delete", () => {
  it("changes tags by id and by --where, and tag=… selects", { timeout: 180_000 }, async () => {
    expect(await bootwright("tag", A, "+rack12", "-spare")).toBe(`${A}: rack12\n`);
    const bulk = TagAnswer.parse(
      JSON.parse(await bootwright("tag", "--where", "inventory.system.product=C1", "+batch7", "--json")),
    );
    expect(bulk.machineIds).toEqual([A, B]);
    const expected = JSON.parse(
      await bootwright("expect", "ready", "--where", "tag=rack12", "--json"),
    ) as unknown;
    expect(expected).toEqual({ machineIds: [A] });
    const list = await bootwright("machines");
    expect(list).toMatch(/CATEGORY\s+TAGS/);
    expect(list).toMatch(new RegExp(`${A}\\s+\\S+\\s+inventoried\\s+batch7,rack12`));
    await expect(bootwright("tag", A, "rack12")).rejects.toThrow(/tags are \+tag to add and -tag to remove/);
  });

  it(
    "writes a note that machines show prints, retires, and deletes once nothing runs",
    { timeout: 180_000 },
    async () => {
      expect(await bootwright("note", A, "PSU 2 flaky, ticket OPS-12")).toBe(`${A}: note set\n`);
      const shown = await bootwright("machines", "show", A);
      expect(shown).toContain("tags      batch7, rack12");
      expect(shown).toContain("PSU 2 flaky, ticket OPS-12");
      expect(await bootwright("retire", A)).toMatch(
        new RegExp(`^${A}: retired by \\S+ at \\S+; not planned or installed until unretired\n$`),
      );

      // A's disk check (queued by the expect above; a retired machine may still be checked) is leased.
      const next = NextAction.parse((await jsonRequest(`${server.url}/v1/machines/${A}/next`, "GET")).body);
      expect(next).toMatchObject({ action: "run", command: { kind: "check-disks" } });
      await expect(bootwright("machines", "delete", A)).rejects.toThrow(
        /server answered 409: machine .* was not deleted: its agent holds a live check-disks lease/,
      );
      expect(await bootwright("machines", "delete", B)).toBe(
        `${B}: deleted; 1 credential(s) revoked, 0 pending command(s) dropped; its log stays (bootwright log ${B})\n`,
      );
    },
  );
});
