// One factory unit for the factory.* benchmark, as a host process playing its loader and agent against
// a real server: enroll, run the station's burn-in with the diagnostic image's own steps (on this host's
// /proc), the install commands with the image really streamed into a file and read back (the agent's
// stream-image code), then the installed OS's call home. Usage (the token comes in the environment):
//   BOOTWRIGHT_TOKEN=… node <bench/factory.ts's bundle of this file> <server-url> <n> <work-dir>
import { createHash } from "node:crypto";
import { open, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ImageDetail,
  NextAction,
  type CommandResult,
  type Inventory,
  type LeasedCommand,
  type MaintenanceStepResult,
} from "../protocol/index.js";
import { steps as diagnostic } from "../agent/installer/maintenance/diagnostic.js";
import { streamImage } from "../agent/installer/stream-image.js";

const [serverUrl = "", n = "1", workDir = "/tmp"] = process.argv.slice(2);
const headers = {
  authorization: `Bearer ${process.env.BOOTWRIGHT_TOKEN ?? ""}`,
  "content-type": "application/json",
};
const id = `0e0c8a6a-6f5f-4c43-9d57-0000000fb${n.padStart(3, "0")}`;
const mac = `52:54:00:fb:00:${n.padStart(2, "0")}`;

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${serverUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function lease(kind: string): Promise<LeasedCommand> {
  for (;;) {
    const next = NextAction.parse(await call("GET", `/v1/machines/${id}/next`));
    if (next.action === "run") {
      if (next.command.kind !== kind) throw new Error(`expected ${kind}, leased ${next.command.kind}`);
      return next.command;
    }
    await new Promise((done) => setTimeout(done, 20));
  }
}

const post = (command: LeasedCommand, result: CommandResult) =>
  call("POST", `/v1/machines/${id}/commands/${command.id}/result`, result);

const inventory: Inventory = {
  bootMac: mac,
  system: { manufacturer: "Acme", product: "BENCH-1U", serial: `BENCH-${n}`, uuid: id },
  cpu: { model: "host", logicalCount: 1 },
  memoryBytes: 1024 * 2 ** 20,
  nics: [{ name: "eth0", mac }],
  disks: [{ name: "vda", sizeBytes: 2 ** 30 }],
};
await call("POST", "/v1/inventory", inventory);

// Burn-in: the diagnostic image's own steps, as the loader runs them from the unpacked image.
const burnIn = await lease("run-maintenance");
const done: MaintenanceStepResult[] = [];
for (const step of burnIn.maintenance?.steps ?? []) {
  const definition = diagnostic[step.name];
  if (!definition) throw new Error(`no diagnostic step ${step.name}`);
  const started = performance.now();
  const data = await definition.run({
    machine: { id, serverUrl, credential: "" },
    inventory,
    root: "/",
    imageDir: workDir,
    params: step.params,
    signal: AbortSignal.timeout(120_000),
    exec: () => Promise.reject(new Error("the benchmark's burn-in runs no programs")),
    progress: () => undefined,
  });
  done.push({
    name: step.name,
    params: step.params,
    ok: true,
    ms: performance.now() - started,
    data,
    error: null,
    extra: false,
  });
}
await post(burnIn, {
  leaseId: burnIn.leaseId,
  outcome: "succeeded",
  output: {
    kind: "run-maintenance",
    runId: burnIn.maintenance?.runId ?? "",
    report: { image: "0".repeat(64), ok: true, steps: done },
  },
});

const check = await lease("check-disks");
await post(check, {
  leaseId: check.leaseId,
  outcome: "succeeded",
  output: { kind: "check-disks", disks: [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 1 }] },
});
const agent = await lease("run-agent");
await post(agent, {
  leaseId: agent.leaseId,
  outcome: "succeeded",
  output: { kind: "run-agent", sha256: agent.agent?.sha256 ?? "", steps: [] },
});

// The install: the image streamed into a file (the agent's code), then read back and compared.
const write = await lease("write-image");
const { image } = ImageDetail.parse(await call("GET", "/v1/images/tiny"));
const target = join(workDir, `unit-${n}.img`);
await writeFile(target, "");
await truncate(target, image.rawBytes);
const source = {
  sha256: image.sha256,
  format: image.format,
  sizeBytes: image.sizeBytes,
  rawBytes: image.rawBytes,
  rawSha256: image.rawSha256,
};
const streamed = await streamImage({
  url: `${serverUrl}/v1/images/${image.sha256}/blob?machine=${id}`,
  headers,
  source,
  target,
  signal: AbortSignal.timeout(300_000),
});
const hash = createHash("sha256");
const handle = await open(target, "r");
for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer);
const readBack = hash.digest("hex");
const step = (name: string, data: Record<string, unknown>) => ({
  plugin: "image-stream",
  step: name,
  ok: true,
  ms: 1,
  data,
  error: null,
});
await post(write, {
  leaseId: write.leaseId,
  outcome: "succeeded",
  output: {
    kind: "write-image",
    sha256: write.agent?.sha256 ?? "",
    steps: [
      step("stream", { ...streamed }),
      step("read-back", {
        image: "tiny",
        sha256: readBack,
        expectedSha256: image.rawSha256,
        matches: readBack === image.rawSha256,
      }),
    ],
  },
});
await lease("boot-installed");
const machine = (await call("GET", `/v1/machines/${id}`)) as { plan?: { planHash?: string } };
await call("POST", `/v1/machines/${id}/callhome`, {
  image: `sha256:${image.sha256}`,
  planHash: machine.plan?.planHash ?? "",
  os: "bench",
});
