// Machines' credentials over the real HTTP API, the test playing two loaders and an installed OS: each
// enrollment answers with a credential that works only for its own machine (another machine's queue,
// events, results, image, boot area or upload → 403 wrong_machine, nothing of it changed), a
// re-enrollment revokes the one before, and the installed OS's credential (handed out with write-image,
// for the marker) is the only one its call home and health take, rotated at each call home.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ErrorBody,
  InventoryAccepted,
  LeasedCommand,
  NextAction,
  type CallHomeAccepted,
} from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  jsonRequest,
  makeTempDir,
  sampleInventory,
  SAMPLE_UUID as A,
  startApiServer,
  serveTestImage,
} from "../test-support.js";

const B = "0e0c8a6a-6f5f-4c43-9d57-0000000000b2";
let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;
let imageSha = "";

const invA = sampleInventory();
const invB = sampleInventory({
  bootMac: "52:54:00:aa:00:b2",
  nics: [{ name: "eth0", mac: "52:54:00:aa:00:b2" }],
  system: { manufacturer: "Acme", product: "X1", serial: "SN-B", uuid: B },
});

async function enroll(inventory = invA): Promise<string> {
  const answer = await jsonRequest(`${server.url}/v1/inventory`, "POST", inventory, null);
  expect(answer.status).toBe(200);
  return InventoryAccepted.parse(answer.body).credential;
}

const as =
  (credential: string | null) =>
  (path: string, method = "GET", body?: unknown) =>
    jsonRequest(`${server.url}${path}`, method, body, credential);

function errorCode(body: unknown): string {
  return ErrorBody.parse(body).code;
}

async function lease(credential: string, id: string, kind: string): Promise<LeasedCommand> {
  const next = NextAction.parse((await as(credential)(`/v1/machines/${id}/next`)).body);
  if (next.action !== "run" || next.command.kind !== kind)
    throw new Error(`expected ${kind}: ${JSON.stringify(next)}`);
  return next.command;
}

beforeAll(async () => {
  work = makeTempDir("bw-machine-credentials-");
  server = await startApiServer(work.dir);
  imageSha = await serveTestImage(server.url);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("a machine's credential", () => {
  it("works for its own machine only: another's routes answer 403 wrong_machine and change nothing", async () => {
    const a = await enroll(invA);
    await enroll(invB);
    expect((await as(a)(`/v1/machines/${A}/next`)).body).toMatchObject({ action: "wait" });
    const before = await server.store.machineLog(B);
    for (const [path, method, body] of [
      [`/v1/machines/${B}/next`, "GET", undefined],
      [`/v1/machines/${B}/commands/x/result`, "POST", { leaseId: "x", outcome: "failed", error: "boom" }],
      [
        `/v1/machines/${B}/events`,
        "POST",
        { commandId: "x", leaseId: "x", event: "progress", plugin: "p", step: "s", message: "m", data: {} },
      ],
      [`/v1/images/${imageSha}/blob?machine=${B}`, "GET", undefined],
      [`/v1/machines/${B}/boot-area/bytes`, "GET", undefined],
    ] as const) {
      const answer = await as(a)(path, method, body);
      expect(answer.status, path).toBe(403);
      expect(errorCode(answer.body), path).toBe("wrong_machine");
    }
    const upload = await as(a)("/v1/uploads", "POST", {
      name: "captured",
      format: "raw.zst",
      origin: {
        recipe: "web",
        fingerprint: `sha256:${"0".repeat(64)}`,
        sourceMachine: B,
        inventorySummary: {},
      },
    });
    expect(errorCode(upload.body)).toBe("wrong_machine");
    expect(await server.store.machineLog(B)).toEqual(before);
  });

  it("is needed: none → 401; an operator below admin may not act for a machine", async () => {
    expect(errorCode((await as(null)(`/v1/machines/${A}/next`)).body)).toBe("unauthenticated");
    const made = await jsonRequest(`${server.url}/v1/tokens`, "POST", { name: "ops", role: "operator" });
    const operator = (made.body as { token: string }).token;
    const answer = await as(operator)(`/v1/machines/${A}/next`);
    expect(answer.status).toBe(403);
    expect(ErrorBody.parse(answer.body).details).toMatchObject({ needs: "admin" });
  });

  it("is revoked when the machine enrolls again: one live loader credential per machine", async () => {
    const first = await enroll(invA);
    const second = await enroll(invA);
    expect(errorCode((await as(first)(`/v1/machines/${A}/next`)).body)).toBe("unauthenticated");
    expect((await as(second)(`/v1/machines/${A}/next`)).status).toBe(200);
  });
});

describe("the installed OS's credential", () => {
  it("comes with write-image, alone opens call home and health, and rotates at each call home", async () => {
    const loader = await enroll(invA);
    expect(
      (await jsonRequest(`${server.url}/v1/machines/${A}/expected`, "PUT", { category: "installed" })).status,
    ).toBe(200);
    const check = await lease(loader, A, "check-disks");
    await as(loader)(`/v1/machines/${A}/commands/${check.id}/result`, "POST", {
      leaseId: check.leaseId,
      outcome: "succeeded",
      output: {
        kind: "check-disks",
        disks: [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 2 }],
      },
    });
    let osCredential = "";
    for (const kind of ["run-agent", "write-image"] as const) {
      const command = await lease(loader, A, kind);
      if (kind === "write-image") osCredential = command.osCredential ?? "";
      else expect(command.osCredential).toBeUndefined();
      await as(loader)(`/v1/machines/${A}/commands/${command.id}/result`, "POST", {
        leaseId: command.leaseId,
        outcome: "succeeded",
        output: { kind, sha256: command.agent?.sha256 ?? "", steps: [] },
      });
    }
    expect(osCredential).toMatch(/^bwm_/);
    await lease(loader, A, "boot-installed");
    const planHash = (await server.store.getMachine(A))?.plan?.planHash ?? "";
    const call = { image: `sha256:${imageSha}`, planHash, os: "tiny 6.1" };

    // The loader's credential does not open the OS's routes.
    const refused = await as(loader)(`/v1/machines/${A}/callhome`, "POST", call);
    expect(refused.status).toBe(403);
    expect(ErrorBody.parse(refused.body).details).toMatchObject({ needs: "os", has: "loader" });

    const first = await as(osCredential)(`/v1/machines/${A}/callhome`, "POST", call);
    expect(first.body).toMatchObject({ category: "installed", completedInstall: true });
    const next = (first.body as CallHomeAccepted).credential;
    expect(next).not.toBe(osCredential);
    const health = { image: call.image, planHash, os: call.os, figures: { load1: 0.1 } };
    // The old one works until the new one is used: an answer lost on the way costs nothing.
    expect((await as(osCredential)(`/v1/machines/${A}/health`, "POST", health)).status).toBe(200);
    expect((await as(next)(`/v1/machines/${A}/health`, "POST", health)).status).toBe(200);
    expect(errorCode((await as(osCredential)(`/v1/machines/${A}/health`, "POST", health)).body)).toBe(
      "unauthenticated",
    );
    // And it is A's: not B's.
    expect(errorCode((await as(next)(`/v1/machines/${B}/health`, "POST", health)).body)).toBe(
      "wrong_machine",
    );
  });
});
