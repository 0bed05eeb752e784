// Offline media on small stand-in files and a real SQLite store: `media build --offline` refuses a missing
// image, an invalid policy or one that installs another image before writing anything, and carries the
// manifest otherwise; `media import` reads the reports the loader leaves on the stick's ESP (written here
// with mtools as the loader writes them), once only, and refuses what is not our media.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasCode,
  OFFLINE_MANIFEST_FILE,
  OfflineManifest,
  parseMbr,
  type OfflineRunReport,
} from "../../protocol/index.js";
import { SqliteStore } from "../db/sqlite/store.js";
import { fixtureInventory } from "../policy/test-fixtures.js";
import { standInMediaRequest } from "../../build-scripts/media/stand-ins.js";
import { buildMedia, type MediaBuildRequest } from "./build-media.js";
import { importMediaReports } from "./import-reports.js";
import { offlineInputs, type OfflineRequest } from "./offline-inputs.js";

const exec = promisify(execFile);
const SHA = "ab".repeat(32);
let dir: string;
let offline: OfflineRequest;
let media: MediaBuildRequest;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-offline-unit-"));
  const dataDir = join(dir, "var");
  mkdirSync(join(dataDir, "images", "sha256"), { recursive: true });
  writeFileSync(join(dataDir, "images", "sha256", SHA), Buffer.alloc(4096, 1));
  const store = SqliteStore.open(join(dataDir, "bootwright.sqlite"));
  await store.transaction((rows) =>
    rows.images.insert({
      sha256: SHA,
      name: "tiny",
      format: "raw.zst",
      purpose: "os",
      sizeBytes: 4096,
      rawBytes: 65536,
      rawSha256: "cd".repeat(32),
      createdAt: new Date().toISOString(),
      origin: null,
    }),
  );
  await store.close();
  writeFileSync(
    join(dir, "policy.yaml"),
    "rules:\n  - name: acme\n    match: [{ fact: manufacturer, equals: Acme }]\n    plan: { image: tiny }\n",
  );
  offline = {
    store: `sqlite:${join(dataDir, "bootwright.sqlite")}`,
    dataDir,
    image: "tiny",
    policyFile: join(dir, "policy.yaml"),
  };
  media = standInMediaRequest(dir, join(dir, "offline.iso"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function esp(image: string): Promise<string> {
  const sector0 = (await exec("head", ["-c", "512", image], { encoding: "buffer" })).stdout;
  const part = parseMbr(sector0).find((p) => p.type === 0xef);
  return `${image}@@${String((part?.startLba ?? 0) * 512)}`;
}

describe("media build --offline", () => {
  it.each([
    ["an image not in the store", { image: "nope" }, { image: "nope" }],
    ["a policy that does not validate", { policyFile: "bad.yaml" }, { file: "bad.yaml" }],
    ["a policy whose rule installs another image", { policyFile: "other.yaml" }, { image: "debian" }],
  ] as const)("refuses %s before writing anything", async (_what, change, context) => {
    writeFileSync(
      join(dir, "bad.yaml"),
      "rules:\n  - name: x\n    match: [{ fact: nosuchfact, equals: 1 }]\n",
    );
    writeFileSync(
      join(dir, "other.yaml"),
      "rules:\n  - name: other\n    match: [{ fact: manufacturer, equals: Acme }]\n    plan: { image: debian }\n",
    );
    const request = {
      ...offline,
      ...change,
      ...("policyFile" in change ? { policyFile: join(dir, change.policyFile) } : {}),
    };
    const err: unknown = await offlineInputs(request).catch((e: unknown) => e);
    expect(hasCode(err, "media_build_refused")).toBe(true);
    if (hasCode(err, "media_build_refused"))
      expect(err.context).toMatchObject("file" in context ? { file: join(dir, context.file) } : context);
    expect(existsSync(media.out)).toBe(false);
  });

  it("carries the image's manifest and the policy on the ESP, the blob in the ISO tree", async () => {
    await buildMedia({ ...media, offline: await offlineInputs(offline) });
    const manifest = OfflineManifest.parse(
      JSON.parse((await exec("mtype", ["-i", await esp(media.out), `::/${OFFLINE_MANIFEST_FILE}`])).stdout),
    );
    expect(manifest.image).toMatchObject({ name: "tiny", source: { sha256: SHA, sizeBytes: 4096 } });
    expect(manifest.policy.rules[0]?.name).toBe("acme");
    const cfg = (await exec("mtype", ["-i", await esp(media.out), "::/bootwright.cfg"])).stdout;
    expect(cfg).toMatch(/^offline=yes$/m);
    expect(cfg).not.toMatch(/^server=/m);
    const tree = (await exec("xorriso", ["-indev", media.out, "-find", "/offline"])).stdout;
    expect(tree).toContain(`/offline/${SHA}.zst`);
  });
});

describe("media import", () => {
  const inventory = fixtureInventory("uefi-ovmf");
  const report: OfflineRunReport = {
    version: 1,
    runId: "525400c00004-1764800000000",
    startedAt: "2026-12-03T22:00:00.000Z",
    finishedAt: "2026-12-03T22:01:00.000Z",
    inventory,
    rule: "acme",
    planHash: `sha256:${"ef".repeat(32)}`,
    plan: { image: "tiny" },
    image: `sha256:${SHA}`,
    outcome: "installed",
    error: null,
    steps: [
      { plugin: "image-stream", step: "stream", ok: true, ms: 1200, data: { bytes: 4096 }, error: null },
      { plugin: "image-stream", step: "write-marker", ok: true, ms: 3, data: {}, error: null },
    ],
  };

  /** Writes reports onto a copy of the built media's ESP, as the loader does. */
  async function stickWith(files: Record<string, string>): Promise<string> {
    const stick = join(dir, `stick-${String(Object.keys(files).length)}.img`);
    copyFileSync(media.out, stick);
    const target = await esp(stick);
    for (const [name, text] of Object.entries(files)) {
      const local = join(dir, "report.tmp");
      writeFileSync(local, text);
      const folder = name.split("/").slice(0, -1).join("/");
      await exec("mmd", ["-D", "s", "-i", target, `::/reports`]).catch(() => undefined);
      await exec("mmd", ["-D", "s", "-i", target, `::/${folder}`]).catch(() => undefined);
      await exec("mcopy", ["-o", "-i", target, local, `::/${name}`]);
    }
    return stick;
  }

  it("brings the machine, its inventory, plan, step log and category into the store, once", async () => {
    const stick = await stickWith({
      [`reports/${report.runId}/report.json`]: JSON.stringify(report),
      "reports/broken/report.json": "{ not json",
    });
    const store = SqliteStore.open(join(dir, "import.sqlite"));
    try {
      const first = await importMediaReports(store, stick);
      expect(first.runs).toEqual([
        { runId: report.runId, machineId: inventory.system.uuid, outcome: "installed", imported: true },
      ]);
      expect(first.unreadable.map((u) => u.file)).toEqual(["reports/broken/report.json"]);
      const id = inventory.system.uuid ?? "";
      const machine = await store.read((rows) => rows.machines.get(id));
      expect(machine).toMatchObject({ category: "installed", plan: { rule: "acme" } });
      expect(machine?.inventory?.system.serial).toBe("SN-4004");
      const installed = await store.read((rows) => rows.machines.installed(id));
      expect(installed).toMatchObject({ image: `sha256:${SHA}`, planHash: report.planHash });
      const log = await store.read((rows) => rows.log.forMachine(id));
      const steps = log.filter((e) => e.event === "offline-step").map((e) => e.data.step);
      expect(steps).toEqual(["stream", "write-marker"]);

      const again = await importMediaReports(store, stick);
      expect(again.runs[0]?.imported).toBe(false);
      expect(await store.read((rows) => rows.log.forMachine(id))).toHaveLength(log.length);
    } finally {
      await store.close();
    }
  });

  it("refuses a file that is not bootwright media", async () => {
    const file = join(dir, "random.img");
    writeFileSync(file, Buffer.alloc(1 << 20));
    const store = SqliteStore.open(join(dir, "refused.sqlite"));
    try {
      const err: unknown = await importMediaReports(store, file).catch((e: unknown) => e);
      expect(hasCode(err, "media_import_refused")).toBe(true);
    } finally {
      await store.close();
    }
  });
});
