// Capture figures (../shared/design/benchmarks.md): our resumable upload against a plain `curl -T` of the
// same bytes to the same server; and the second machine's install (the captured image) against the
// first's (base image + the recipe's script + capture), two VMs of one configuration.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { captureAndUpload } from "../agent/installer/capture.js";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { uploadImage } from "../server/cli/image-commands.js";
import { jsonRequest, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { REPO_ROOT, requireBootArtefacts } from "../test-vm/paths.js";
import { Vm } from "../test-vm/qemu.js";
import { prepareRecipe } from "../test-vm/recipe-debs.js";
import { installAndWaitForCallHome, startTestServer } from "../test-vm/test-server.js";
import { median, type Figure } from "./figures.js";
import { INSTALL_VM_CPUS } from "./install.js";
import { describePhases, installPhases } from "./install-phases.js";

const DISK_BYTES = 256 << 20;

/**
 * What a web host's golden image typically adds: an interpreter, ssh, a web server and the everyday tools
 * (git brings perl). ~66 packages and ~150 MiB installed on Debian 12: more than the base image's free
 * space, hence RECIPE_GROW_ROOT_MIB.
 */
const RECIPE_PACKAGES = ["python3", "openssh-server", "nginx", "git", "curl", "rsync", "jq"];
/** The room the recipe asks for under the root: what it installs plus apt's copy of the .debs, and margin. */
const RECIPE_GROW_ROOT_MIB = 256;
const execFileAsync = promisify(execFile);

async function uploadFigure(dir: string): Promise<Figure> {
  process.env.BOOTWRIGHT_NODE_MODULES = join(REPO_ROOT, "node_modules");
  const server = await startTestServer(join(dir, "upload-server"));
  const disk = join(dir, "disk.img");
  // curl reads the credential from a file (-H @file): never in argv.
  const headers = join(dir, "curl-headers");
  writeFileSync(headers, `Authorization: Bearer ${TEST_ADMIN_TOKEN}\n`, { mode: 0o600 });
  // Half noise, half text: compresses like a real root filesystem would, roughly.
  const bytes = Buffer.concat([randomBytes(DISK_BYTES / 2), Buffer.alloc(DISK_BYTES / 2, "bootwright ")]);
  const ours: number[] = [];
  const baseline: number[] = [];
  try {
    for (let run = 0; run < 3; run++) {
      // Different bytes each time: the store keeps one name per content.
      bytes.writeUInt32LE(run * 2 + 1, 0);
      writeFileSync(disk, bytes);
      let started = performance.now();
      const result = await captureAndUpload({
        credential: TEST_ADMIN_TOKEN,
        serverUrl: server.url,
        device: disk,
        bytes: DISK_BYTES,
        start: {
          name: `bench-ours-${run}`,
          format: "raw.zst",
          origin: {
            recipe: "bench",
            fingerprint: `sha256:${String(run).repeat(64)}`,
            sourceMachine: "bench",
            inventorySummary: {},
          },
        },
        signal: AbortSignal.timeout(600_000),
      });
      if (result.kind !== "uploaded") throw new Error(`capture skipped: ${result.reason}`);
      ours.push((performance.now() - started) / 1000);
      bytes.writeUInt32LE(run * 2 + 2, 0);
      writeFileSync(disk, bytes);
      started = performance.now();
      // The same work with stock tools: compress at the same level on one thread, one plain PUT.
      // Asynchronously: the server answering curl runs in this process.
      await execFileAsync("sh", [
        "-c",
        `zstd -3 -T1 -q -c '${disk}' | curl -sS --fail -H @'${headers}' -T - '${server.url}/v1/images?name=bench-curl-${run}&format=raw.zst' -o /dev/null`,
      ]);
      baseline.push((performance.now() - started) / 1000);
    }
  } finally {
    await server.close();
  }
  const mb = DISK_BYTES / 1e6;
  const oursRate = mb / median(ours);
  const curlRate = mb / median(baseline);
  return {
    id: "capture.upload_vs_curl",
    value: Number((oursRate / curlRate).toFixed(2)),
    unit: "ratio",
    ours: Number(oursRate.toFixed(1)),
    baseline: Number(curlRate.toFixed(1)),
    baseline_is: "zstd -3 -T1 disk | curl -T - to PUT /v1/images on the same server",
    note: `MB/s of disk captured (read, zstd -3, upload, server-side verify), ${DISK_BYTES >> 20} MiB disk file on the host, median of 3; ours sends 8 MiB chunks each fsynced and acknowledged; goal ≥ 0.9`,
  };
}

async function reuseFigure(dir: string): Promise<Figure> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const debian = await buildOsImage({ kind: "debian", log: (line) => process.stderr.write(`${line}\n`) });
  const server = await startTestServer(join(dir, "vm-server"), 0, { pollIntervalMs: 1_000 });
  const prepared = prepareRecipe(join(dir, "vm-server/recipes/bench"), RECIPE_PACKAGES);
  const files = prepared.files;
  const script = `${prepared.script}\necho "built by $BOOTWRIGHT_MACHINE" > /etc/bootwright-recipe`;
  const policy = {
    rules: [
      {
        name: "bench",
        match: [{ fact: "product", glob: "BCAP-*" }],
        // Both machines go into their installed system by kexec, as a site that images often would.
        plan: {
          image: "debian-12",
          reboot: "kexec",
          recipe: { name: "bench", script, growRootMiB: RECIPE_GROW_ROOT_MIB },
        },
      },
    ],
  };
  await jsonRequest(`${server.url}/v1/policy`, "PUT", { format: "json", source: JSON.stringify(policy) });
  await uploadImage(
    server.url,
    debian.paths.zst,
    { name: "debian-12", format: "raw.zst", purpose: "os" },
    TEST_ADMIN_TOKEN,
  );
  const seconds: number[] = [];
  // Where the first machine's extra time goes: the recipe's script and the capture, from its step log.
  let buildSteps = "";
  let reusePhases = "";
  // Which machines went into their installed system by kexec (the others fell back to the firmware).
  const kexecs: string[] = [];
  try {
    for (const n of [1, 2]) {
      const id = `0e0c8a6a-6f5f-4c43-9d57-00000000bc0${n}`;
      const started = performance.now();
      const poweredOnAt = Date.now();
      const vm = Vm.start({
        name: `bench-capture-${n}`,
        workDir: join(dir, `vm-${n}`),
        accel,
        firmware: "bios",
        boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
        mac: `52:54:00:bc:00:0${n}`,
        uuid: id,
        smbios: [`type=1,manufacturer=Acme,product=BCAP-1,serial=BCAP-000${n}`],
        disksMiB: [1024],
        cpus: INSTALL_VM_CPUS,
        allowReboot: true,
      });
      try {
        await installAndWaitForCallHome(server, vm, id, { enroll: 600_000, install: 1_200_000 });
      } finally {
        await vm.stop();
      }
      seconds.push((performance.now() - started) / 1000);
      const log = await server.store.machineLog(id);
      if (log.some((e) => e.event === "agent-progress" && e.data.step === "kexec")) kexecs.push(String(n));
      if (n === 1)
        buildSteps = log
          .filter((e) => e.event === "agent-step" && String(e.data.plugin) === "recipe-capture")
          .map((e) => `${String(e.data.step)} ${(Number(e.data.ms) / 1000).toFixed(1)} s`)
          .join(", ");
      else reusePhases = describePhases(installPhases(log, poweredOnAt));
    }
  } finally {
    await server.close();
  }
  const [build = 0, reuse = 0] = seconds;
  return {
    id: "capture.reuse_vs_build",
    value: Number((reuse / build).toFixed(2)),
    unit: "ratio",
    ours: Number(reuse.toFixed(1)),
    baseline: Number(build.toFixed(1)),
    baseline_is: "the first machine of that configuration: base image + recipe script + capture + upload",
    note: `s, power-on → installed, Debian 12 base, accel ${accel}, ${INSTALL_VM_CPUS} vCPUs, one run each (two VMs in sequence), both plans with reboot: kexec (machines that took it: ${kexecs.join(" and ") || "none"}); the recipe installs ${RECIPE_PACKAGES.join(", ")} with apt from ${files.length} .debs our server serves (what the image lacks), in a root grown by ${RECIPE_GROW_ROOT_MIB} MiB (first machine: ${buildSteps}; second machine's phases: ${reusePhases}); goal ≤ 0.3`,
  };
}

/** Runs only the figures whose id starts with `prefix` (the reuse figure boots two VMs). */
export async function captureFigures(prefix = ""): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-capture-"));
  try {
    const figures: Figure[] = [];
    if ("capture.upload_vs_curl".startsWith(prefix)) figures.push(await uploadFigure(dir));
    if ("capture.reuse_vs_build".startsWith(prefix)) figures.push(await reuseFigure(dir));
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
