// suite.* figures: what the test suite costs (issue 14).
// - suite.vm_pair_vs_serial: two one-vCPU VMs booted side by side ÷ the same two one after another (power-on
//   → inventory stored). Below 1 is what lets `npm test` run two VM files at once on our 2 cores.
// - suite.fresh_minutes / suite.fresh_ci_minutes (only when asked for by prefix: they take most of an hour):
//   a fresh clone of HEAD runs `npm run demo` then `npm test`, and another runs `.ci/run`, as a newcomer
//   and CI would. The Debian packages are already on this machine, so apt's share is not in them.
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { REPO_ROOT, requireBootArtefacts } from "../test-vm/paths.js";
import { directLoaderBoot, Vm } from "../test-vm/qemu.js";
import { startTestServer, waitForMachine } from "../test-vm/test-server.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const TIMEOUT_MS = 180_000;
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

async function pairFigure(): Promise<Figure> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-pair-"));
  const server = await startTestServer(dir);
  let count = 0;
  /** One one-vCPU VM from power-on until the server holds its inventory. */
  const boot = async (): Promise<void> => {
    count += 1;
    const mac = `52:54:00:be:05:${count.toString(16).padStart(2, "0")}`;
    const vm = Vm.start({
      name: `bench-pair-${count}`,
      workDir: join(dir, `vm-${count}`),
      accel,
      firmware: "bios",
      boot: directLoaderBoot(mac, server.advertiseUrl),
      mac,
      cpus: 1,
      disksMiB: [64],
    });
    try {
      await waitForMachine(server, mac, (m) => m?.inventory ?? undefined, TIMEOUT_MS);
    } finally {
      await vm.stop();
    }
  };
  const timed = async (body: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    await body();
    return (performance.now() - started) / 1000;
  };
  try {
    const pair: number[] = [];
    const serial: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      serial.push(
        await timed(async () => {
          await boot();
          await boot();
        }),
      );
      pair.push(await timed(() => Promise.all([boot(), boot()])));
    }
    return {
      id: "suite.vm_pair_vs_serial",
      value: round(median(pair) / median(serial)),
      unit: "ratio",
      ours: round(median(pair), 1),
      baseline: round(median(serial), 1),
      baseline_is: "the same two one-vCPU VMs one after another, same server, same run",
      note: `median of ${RUNS}; direct boot → inventory stored; accel ${accel}; goal ≤ 0.6 on 2 cores`,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a command in `cwd`, its output to `log`; its wall time in minutes, or a clear error. */
function minutesOf(command: string, args: string[], cwd: string, log: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const out = createWriteStream(log);
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.once("error", reject);
    child.once("exit", (code) => {
      out.end();
      if (code === 0) resolve((performance.now() - started) / 60_000);
      else reject(new Error(`${command} ${args.join(" ")} in ${cwd} exited ${String(code)}: see ${log}`));
    });
  });
}

async function freshClone(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-fresh-"));
  await minutesOf(
    "git",
    ["clone", "--quiet", "--no-hardlinks", REPO_ROOT, dir],
    tmpdir(),
    join(tmpdir(), "clone.log"),
  );
  return dir;
}

async function freshFigures(): Promise<Figure[]> {
  const logs = mkdtempSync(join(tmpdir(), "bootwright-bench-fresh-logs-"));
  const demoClone = await freshClone();
  const demo = await minutesOf("npm", ["run", "demo"], demoClone, join(logs, "demo.log"));
  const test = await minutesOf("npm", ["test"], demoClone, join(logs, "test.log"));
  const table = JSON.parse(readFileSync(join(demoClone, "build/test-timing.json"), "utf8")) as {
    wallS: number;
  };
  rmSync(demoClone, { recursive: true, force: true });
  const ciClone = await freshClone();
  const ci = await minutesOf(".ci/run", [], ciClone, join(logs, "ci.log"));
  rmSync(ciClone, { recursive: true, force: true });
  return [
    {
      id: "suite.fresh_minutes",
      value: round(test, 1),
      unit: "min",
      note: `npm test right after npm run demo (${round(demo, 1)} min) in a fresh clone of HEAD; vitest ${round(table.wallS / 60, 1)} min of it; goal ≤ 20; Debian packages already installed; logs ${logs}`,
    },
    {
      id: "suite.fresh_ci_minutes",
      value: round(ci, 1),
      unit: "min",
      note: `.ci/run in a fresh clone of HEAD (npm ci, kernel, initramfs, debootstrap, the suite); goal ≤ 30; Debian packages already installed; logs ${logs}`,
    },
  ];
}

export async function suiteFigures(prefix: string): Promise<Figure[]> {
  const figures = [await pairFigure()];
  if (prefix.startsWith("suite.fresh") || prefix.startsWith("suite.ci"))
    figures.push(...(await freshFigures()));
  return figures;
}
