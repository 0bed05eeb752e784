// Deleting images and collecting the store, over real HTTP and a real SQLite file: a deletion is refused
// while the policy, a pending install, a maintenance run or schedule, an installed marker or a captured
// key names the image (--force only for the last two); a deleted image's file outlives its row exactly
// as long as a stream reads it (a solo stream, or a batch still gathering); gc removes orphan files and
// abandoned uploads, and leaves named files and live uploads alone.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compress } from "zstd-napi";
import {
  ErrorBody,
  ImageDeleted,
  ImageGcReport,
  ImageHolder,
  ImageRecord,
  UploadState,
  type Inventory,
} from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  OPERATOR,
  SAMPLE_UUID as ID,
  jsonRequest,
  leaseCommand,
  makeTempDir,
  postResult,
  sampleInventory,
  startApiServer,
} from "../test-support.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`${server.url}${path}`, method, body);

beforeEach(async () => {
  work = makeTempDir("bootwright-image-removal-");
  server = await startApiServer(work.dir, { batchWindowMs: 1_500 });
});

afterEach(async () => {
  await server.close();
  work.remove();
});

async function addImage(name: string, raw: Buffer): Promise<ImageRecord> {
  const res = await fetch(`${server.url}/v1/images?name=${name}&format=raw.zst`, {
    headers: OPERATOR,
    method: "PUT",
    body: compress(raw),
  });
  expect(res.status).toBe(201);
  return ImageRecord.parse(((await res.json()) as { image: unknown }).image);
}

async function setPolicy(rules: { name: string; image: string }[]): Promise<void> {
  const policy = { rules: rules.map(({ name, image }) => ({ name, match: [], plan: { image } })) };
  const res = await api("/v1/policy", "PUT", { format: "json", source: JSON.stringify(policy) });
  expect(res.status).toBe(200);
}

/** The holders a refused deletion lists (409 image_in_use). */
async function refusal(ref: string, force = false): Promise<ImageHolder[]> {
  const res = await api(`/v1/images/${ref}${force ? "?force=true" : ""}`, "DELETE");
  expect(res.status).toBe(409);
  const body = ErrorBody.parse(res.body);
  expect(body.code).toBe("image_in_use");
  return ImageHolder.array().parse((body.details as { holders: unknown }).holders);
}

async function deleted(ref: string, force = false): Promise<ImageDeleted> {
  const res = await api(`/v1/images/${ref}${force ? "?force=true" : ""}`, "DELETE");
  expect(res.status).toBe(200);
  return ImageDeleted.parse(res.body);
}

const blobPath = (sha: string): string => join(work.dir, "images/sha256", sha);
const trashPath = (sha: string): string => join(work.dir, "images/trash", sha);

/** Opens a captured image's upload as an admin may, for machine `source`; sends one chunk of `bytes`. */
async function openUpload(recipe: string, bytes: Buffer, source = ID): Promise<string> {
  const start = await api("/v1/uploads", "POST", {
    name: `${recipe}-img`,
    format: "raw.zst",
    origin: {
      recipe,
      fingerprint: `sha256:${createHash("sha256").update(recipe).digest("hex")}`,
      sourceMachine: source,
      inventorySummary: {},
    },
  });
  expect(start.status).toBe(201);
  const { id } = UploadState.parse(start.body);
  const chunk = await fetch(`${server.url}/v1/uploads/${id}/chunks/0`, {
    method: "PUT",
    headers: {
      ...OPERATOR,
      "x-bootwright-chunk-sha256": createHash("sha256").update(bytes).digest("hex"),
    },
    body: bytes,
  });
  expect(chunk.status).toBe(200);
  return id;
}

describe("image delete", () => {
  it("refuses while the policy, a pending install, a maintenance run or schedule or an installed marker names it; --force only for the marker", async () => {
    const base = await addImage("base", Buffer.alloc(1 << 20, 1));
    await addImage("other", Buffer.alloc(1 << 20, 2));
    await setPolicy([{ name: "web", image: "base" }]);
    const byPolicy = [{ kind: "policy", ids: ["web"], forcible: false }];
    expect(await refusal("base")).toEqual(byPolicy);
    expect(await refusal(`sha256:${base.sha256}`, true)).toEqual(byPolicy);

    // A machine on its way to write `base` (its agent running: a new policy re-plans only a machine
    // that has not started); then the policy moves on to `other`: its install still holds.
    expect((await api("/v1/inventory", "POST", sampleInventory())).status).toBe(200);
    expect((await api(`/v1/machines/${ID}/expected`, "PUT", { category: "installed" })).status).toBe(200);
    const check = await leaseCommand(server.url, ID, "check-disks");
    await postResult(server.url, ID, check, {
      leaseId: check.leaseId,
      outcome: "succeeded",
      output: { kind: "check-disks", disks: [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 1, ms: 1 }] },
    });
    const agent = await leaseCommand(server.url, ID, "run-agent");
    await setPolicy([{ name: "web", image: "other" }]);
    expect(await refusal("base", true)).toEqual([{ kind: "pending-install", ids: [ID], forcible: false }]);

    // The install runs to its end; the installed OS calls home naming `base`.
    for (const kind of ["run-agent", "write-image"] as const) {
      const command = kind === "run-agent" ? agent : await leaseCommand(server.url, ID, kind);
      await postResult(server.url, ID, command, {
        leaseId: command.leaseId,
        outcome: "succeeded",
        output: { kind, sha256: command.agent?.sha256 ?? "", steps: [] },
      });
    }
    await leaseCommand(server.url, ID, "boot-installed");
    const planHash = (await server.store.getMachine(ID))?.plan?.planHash ?? "";
    const call = await api(`/v1/machines/${ID}/callhome`, "POST", {
      image: `sha256:${base.sha256}`,
      planHash,
      os: "tiny",
    });
    expect(call.status).toBe(200);

    // A maintenance image that a schedule names and a run is on its way into: neither can be forced.
    const diag = await fetch(`${server.url}/v1/images?name=diag&format=tar.zst&purpose=diagnostic`, {
      headers: OPERATOR,
      method: "PUT",
      body: compress(Buffer.alloc(1 << 16, 9)),
    });
    expect(diag.status).toBe(201);
    const schedule = await api("/v1/maintenance/schedules", "POST", {
      target: { machine: ID },
      cron: "0 3 * * 0",
      image: "diag",
    });
    expect(schedule.status).toBe(201);
    const run = await api(`/v1/machines/${ID}/maintenance`, "POST", { image: "diag" });
    expect(run.status).toBe(201);
    expect(await refusal("diag", true)).toEqual([
      { kind: "maintenance-run", ids: [(run.body as { id: string }).id], forcible: false },
      { kind: "maintenance-schedule", ids: [(schedule.body as { id: string }).id], forcible: false },
    ]);

    const marker = [{ kind: "installed-marker", ids: [ID], forcible: true }];
    const res = await api("/v1/images/base", "DELETE");
    expect(ErrorBody.parse(res.body).message).toMatch(/installed-marker .*\(--force deletes it anyway\)/);
    expect(await refusal("base")).toEqual(marker);

    const gone = await deleted("base", true);
    expect(gone).toEqual({ image: base, overridden: marker, blobRemoved: true });
    expect((await api("/v1/images/base", "GET")).status).toBe(404);
    expect(existsSync(blobPath(base.sha256))).toBe(false);
    expect((await api("/v1/images/base", "DELETE")).status).toBe(404);
    // Audited, as every operator's change.
    const audit = await api("/v1/audit?machine=base", "GET");
    expect(JSON.stringify(audit.body)).toContain("DELETE /v1/images/:ref");
  });

  it("a marker in an inventory and a captured key hold an image until --force", async () => {
    const old = await addImage("old", Buffer.alloc(1 << 20, 3));
    const inventory: Inventory = {
      ...sampleInventory(),
      installedMarker: { image: `sha256:${old.sha256}`, planHash: "sha256:p", partition: "vda3" },
    };
    expect((await api("/v1/inventory", "POST", inventory)).status).toBe(200);
    expect(await refusal("old")).toEqual([{ kind: "installed-marker", ids: [ID], forcible: true }]);
    expect((await deleted("old", true)).overridden).toHaveLength(1);

    const bytes = compress(Buffer.alloc(1 << 20, 4));
    const upload = await openUpload("web", bytes);
    const complete = await api(`/v1/uploads/${upload}/complete`, "POST", {
      sha256: createHash("sha256").update(bytes).digest("hex"),
      sizeBytes: bytes.length,
    });
    expect(complete.status).toBe(201);
    const captured = ImageRecord.parse((complete.body as { image: unknown }).image);
    const key = `web sha256:${createHash("sha256").update("web").digest("hex")}`;
    expect(await refusal("web-img")).toEqual([{ kind: "captured-key", ids: [key], forcible: true }]);
    expect(await deleted(`sha256:${captured.sha256}`, true)).toMatchObject({ blobRemoved: true });
    // A retried completion of its upload finds the image gone.
    const retried = await api(`/v1/uploads/${upload}/complete`, "POST", {
      sha256: captured.sha256,
      sizeBytes: bytes.length,
    });
    expect(retried.status).toBe(404);
    // The key is free: the next machine of that configuration captures again.
    await openUpload("web", bytes);
  });

  it("a deleted image's file stays while a stream reads it, and goes when that stream ends", async () => {
    const raw = randomBytes(8 << 20);
    const image = await addImage("big", raw);
    // An anonymous admin read: a stream of its own. Read a little, then stop reading (held open).
    const res = await new Promise<IncomingMessage>((resolve) => {
      get(`${server.url}/v1/images/${image.sha256}/blob`, { headers: OPERATOR }, resolve);
    });
    expect(res.statusCode).toBe(200);
    const hash = createHash("sha256");
    let received = 0;
    await new Promise<void>((resolve) => {
      res.once("data", (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
        res.pause();
        resolve();
      });
    });

    expect(await deleted("big")).toMatchObject({ blobRemoved: false });
    expect((await api(`/v1/images/${image.sha256}`, "GET")).status).toBe(404);
    expect(existsSync(blobPath(image.sha256))).toBe(false);
    expect(statSync(trashPath(image.sha256)).size).toBe(image.sizeBytes);
    // New streams cannot find it.
    const late = await fetch(`${server.url}/v1/images/${image.sha256}/blob`, { headers: OPERATOR });
    expect(late.status).toBe(404);

    // The open stream gets every byte; then the file goes.
    res.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
    });
    res.resume();
    await new Promise((resolve) => res.once("end", resolve));
    expect(received).toBe(image.sizeBytes);
    expect(hash.digest("hex")).toBe(image.sha256);
    await expect.poll(() => existsSync(trashPath(image.sha256))).toBe(false);
  });

  it("a batch still gathering when its image is deleted runs from trash/ and then lets the file go", async () => {
    const image = await addImage("batched", randomBytes(2 << 20));
    const body = fetch(`${server.url}/v1/images/${image.sha256}/blob?machine=${ID}`, {
      headers: OPERATOR,
    }).then(async (res) => Buffer.from(await res.arrayBuffer()));
    // Joined (its hold on the file taken) but not yet reading: the batch waits its window (1.5 s).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await deleted("batched")).toMatchObject({ blobRemoved: false });
    expect(existsSync(trashPath(image.sha256))).toBe(true);
    const bytes = await body;
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(image.sha256);
    await expect.poll(() => existsSync(trashPath(image.sha256))).toBe(false);
  });
});

describe("image gc", () => {
  it("removes files no image names and abandoned uploads, reports the bytes, and leaves the rest", async () => {
    const kept = await addImage("kept", Buffer.alloc(1 << 20, 5));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    const orphan = createHash("sha256").update("orphan").digest("hex");
    writeFileSync(blobPath(orphan), Buffer.alloc(1_000, 1));
    utimesSync(blobPath(orphan), twoHoursAgo, twoHoursAgo);
    // Just landed, its row perhaps on its way: left alone.
    const fresh = createHash("sha256").update("fresh").digest("hex");
    writeFileSync(blobPath(fresh), Buffer.alloc(500, 1));

    const abandoned = await openUpload("left", Buffer.alloc(3_000, 2));
    const live = await openUpload("going", Buffer.alloc(700, 3), "another-machine");
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000);
    await server.store.store.transaction((rows) =>
      rows.uploads.setReceived(abandoned, 3_000, twoDaysAgo.toISOString()),
    );
    utimesSync(join(work.dir, "images/uploads", abandoned), twoDaysAgo, twoDaysAgo);
    // A file no open upload owns (a crash between completing and removing it).
    const stray = join(work.dir, "images/uploads", "stray");
    writeFileSync(stray, Buffer.alloc(200, 4));
    utimesSync(stray, twoDaysAgo, twoDaysAgo);

    const res = await api("/v1/images/gc", "POST");
    expect(res.status).toBe(200);
    const report = ImageGcReport.parse(res.body);
    expect(report).toEqual({
      blobs: [orphan],
      uploads: [abandoned, "stray"],
      bytesFreed: 1_000 + 3_000 + 200,
    });
    expect(existsSync(blobPath(orphan))).toBe(false);
    expect(existsSync(blobPath(fresh))).toBe(true);
    expect(existsSync(blobPath(kept.sha256))).toBe(true);
    expect((await api(`/v1/uploads/${abandoned}`, "GET")).status).toBe(404);
    expect(UploadState.parse((await api(`/v1/uploads/${live}`, "GET")).body)).toMatchObject({
      state: "open",
      received: 700,
    });
    // Nothing left to collect.
    expect((await api("/v1/images/gc", "POST")).body).toEqual({ blobs: [], uploads: [], bytesFreed: 0 });
  });
});
