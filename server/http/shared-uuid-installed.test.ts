// An installed machine whose UUID turns out to be shared (issue 17): a second board with the same
// placeholder UUID enrolls, the installed one moves to its boot MAC's id, and its running OS, which
// still names itself by the UUID (the marker it was installed with), keeps reporting health under its
// own credential; the newcomer's credential does not open the old name.
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  ErrorBody,
  InventoryAccepted,
  type CallHomeAccepted,
  type Inventory,
  type LeasedCommand,
} from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  jsonRequest,
  makeTempDir,
  startApiServer,
  serveTestImage,
  installUntilReboot,
  inventoryFor,
} from "../test-support.js";

const UUID = "03000200-0400-0500-0006-000700080009";
const [A, B] = ["52:54:00:d1:00:01", "52:54:00:d1:00:02"];
let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;
let imageSha = "";

const inventory = (mac: string, serial: string): Inventory =>
  inventoryFor(mac, { product: "X1", serial, uuid: UUID });

const as =
  (credential: string) =>
  (path: string, method = "GET", body?: unknown) =>
    jsonRequest(`${server.url}${path}`, method, body, credential);

async function enroll(body: Inventory): Promise<InventoryAccepted> {
  const answer = await jsonRequest(`${server.url}/v1/inventory`, "POST", body, null);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return InventoryAccepted.parse(answer.body);
}

beforeAll(async () => {
  work = makeTempDir("bw-shared-installed-");
  server = await startApiServer(work.dir);
  imageSha = await serveTestImage(server.url);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

it("the installed machine moves to its MAC; its OS's credential still opens its routes under the UUID", async () => {
  let osCredential = "";
  const keepOsCredential = (_kind: string, command: LeasedCommand): Promise<void> => {
    osCredential = command.osCredential ?? osCredential;
    return Promise.resolve();
  };
  const loaderCredential = (await enroll(inventory(A, "SER-1"))).credential;
  const rebooting = await installUntilReboot(server.url, UUID, keepOsCredential, loaderCredential);
  expect(rebooting.kind).toBe("boot-installed");
  const planHash = (await server.store.getMachine(UUID))?.plan?.planHash ?? "";
  const call = { image: `sha256:${imageSha}`, planHash, os: "tiny 6.1" };
  const home = await as(osCredential)(`/v1/machines/${UUID}/callhome`, "POST", call);
  expect(home.body).toMatchObject({ category: "installed" });
  const os = as((home.body as CallHomeAccepted).credential);

  // A second board, same placeholder UUID, another serial and MAC.
  const newcomer = await enroll(inventory(B, "SER-2"));
  expect(newcomer.machineId).toBe(B);
  expect(await server.store.getMachine(UUID)).toBeUndefined();
  expect(await server.store.getMachine(A)).toMatchObject({ category: "installed" });

  const health = { ...call, figures: { load1: 0.5 } };
  expect((await os(`/v1/machines/${UUID}/health`, "POST", health)).status).toBe(200);
  expect((await server.store.machineLog(A)).map((e) => e.event)).toContain("identity");
  const reports = await jsonRequest(`${server.url}/v1/machines/${A}/health`, "GET");
  expect(JSON.stringify(reports.body)).toContain("0.5");
  // The old name is the first machine's only: the newcomer's credential does not open it.
  const foreign = await as(newcomer.credential)(`/v1/machines/${UUID}/next`);
  expect(ErrorBody.parse(foreign.body).code).toBe("wrong_machine");
});
