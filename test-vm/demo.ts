// npm run demo: starts the server on the embedded SQLite store, adds the Debian 12 image (built once with
// debootstrap, cached in build/images), boots one demo VM through iPXE into our loader, waits for its
// inventory, then (as an operator would) sets a policy and expects it `installed`: the loader runs the
// queued disk check, the server resolves the policy into a plan, the loader runs the agent tailored to
// this machine, streams the image onto the disk (verified), reboots; iPXE sends it to its disk and Debian
// calls home. Then the maintenance swap: the operator starts the diagnostic image; Debian's reporter is
// told to reboot (no power driver: in band), the loader runs the image's checks, and the machine comes
// back to Debian. Shows the console as it goes, prints the boot list, the difference list, the image, the
// maintenance report and the machine's step log, and says where to look.
// `npm run demo -- --keep` leaves the server running afterwards (Ctrl-C stops it).
import { execFile } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadServerConfig } from "../server/config.js";
import { createLogger } from "../server/logger.js";
import { startServer } from "../server/server.js";
import { buildMaintenanceImage } from "../build-scripts/build-maintenance-image.js";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { chooseAccelerator } from "./accelerator.js";
import { INITRAMFS_PATH, KERNEL_PATH, REPO_ROOT, requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { GUEST_HOST_ADDRESS, waitForMachine } from "./test-server.js";

const DEMO_DIR = join(REPO_ROOT, "var/demo");
const DEMO_UUID = "d3e0d3e0-0000-4000-8000-00000000de01";
const keep = process.argv.includes("--keep");

async function main(): Promise<void> {
  requireBootArtefacts();
  rmSync(DEMO_DIR, { recursive: true, force: true });
  mkdirSync(DEMO_DIR, { recursive: true });
  const serverLog = join(DEMO_DIR, "server.log");
  const config = loadServerConfig({
    host: "127.0.0.1",
    port: 0,
    advertiseUrl: `http://${GUEST_HOST_ADDRESS}:{port}`,
    dataDir: DEMO_DIR,
    kernelPath: KERNEL_PATH,
    initramfsPath: INITRAMFS_PATH,
    // QEMU's user-mode network has no switch: no LLDP to wait for.
    kernelArgs: "console=ttyS0,115200n8 quiet panic=-1 bootwright.lldp-wait=0",
    pollIntervalMs: 2000,
    // The installed OS's health reporter: often, so the maintenance swap's in-band reboot comes soon.
    healthReportMs: 5000,
    maintenanceTickMs: 1000,
  });
  const server = await startServer(config, { logger: createLogger("debug", createWriteStream(serverLog)) });
  console.log(
    `server:   ${server.url} (machines are told ${server.advertiseUrl}), store ${join(DEMO_DIR, "bootwright.sqlite")}`,
  );
  // The first start made an admin token (printed above, kept 0600): the demo's operator uses it.
  const tokenFile = join(DEMO_DIR, "admin-token");
  const token = readFileSync(tokenFile, "utf8").trim();
  console.log(
    `operator: export BOOTWRIGHT_TOKEN=$(cat ${tokenFile})   # every bootwright command below uses it`,
  );

  console.log("image:    building the Debian 12 image (debootstrap; first time only, a few minutes)…");
  const debian = await buildOsImage({
    kind: "debian",
    log: (line) => {
      console.log(`          ${line}`);
    },
  });
  const accel = await chooseAccelerator();
  const vm = Vm.start({
    name: "bootwright-demo",
    workDir: join(DEMO_DIR, "vm"),
    accel,
    firmware: "bios",
    boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
    mac: "52:54:00:de:00:01",
    uuid: DEMO_UUID,
    smbios: ["type=1,manufacturer=Acme,product=Demo-1,serial=DEMO-0001"],
    disksMiB: [1024],
    allowReboot: true,
  });
  console.log(`demo VM:  powered on (QEMU pid ${vm.pid ?? "?"}, ${accel}); its console: ${vm.consolePath}`);
  console.log(
    "          network boot → iPXE → our kernel + initramfs → loader → inventory (~20-30 s under TCG)\n",
  );

  // Echo the console's bootwright lines as they appear, so the flow is visible.
  let shown = 0;
  const echo = setInterval(() => {
    // Complete lines only: the last one may still be being written.
    const lines = vm
      .console()
      .split("\n")
      .slice(0, -1)
      .filter((line) => line.includes("bootwright"));
    for (const line of lines.slice(shown)) console.log(`  | ${line.trim()}`);
    shown = lines.length;
  }, 500);
  const cli = async (...args: string[]): Promise<string> =>
    // Asynchronously: the server answering it runs in this process.
    (
      await promisify(execFile)(join(REPO_ROOT, "bin/bootwright"), [...args, "--server", server.url], {
        env: { ...process.env, BOOTWRIGHT_TOKEN: token },
      })
    ).stdout;
  try {
    console.log(`operator: bin/bootwright image add ${debian.paths.zst} --name debian-12 --format raw.zst`);
    console.log(
      `  ${(await cli("image", "add", debian.paths.zst, "--name", "debian-12", "--format", "raw.zst")).trim()}`,
    );
    await waitForMachine(server, DEMO_UUID, (m) => (m?.category === "inventoried" ? m : undefined), 240_000);
    console.log(`\noperator: bin/bootwright policy set test-vm/demo-policy.yaml`);
    console.log(`  ${(await cli("policy", "set", join(REPO_ROOT, "test-vm/demo-policy.yaml"))).trim()}`);
    console.log(`operator: bin/bootwright expect ${DEMO_UUID} installed`);
    console.log(`  ${(await cli("expect", DEMO_UUID, "installed")).trim()}`);
    console.log(
      "  (disk check → ready; policy → planned; tailored agent → configuring; image → imaging; reboot, Debian calls home → installed)",
    );
    const done = await waitForMachine(
      server,
      DEMO_UUID,
      (m) => (m?.category === "installed" || m?.category === "failed" ? m : undefined),
      900_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000)); // let the console echo catch up
    if (done.category === "failed") console.log("\nthe install FAILED: the step log below says why");
    else await maintenanceSwap(cli);
  } finally {
    clearInterval(echo);
    await vm.stop();
  }

  console.log("\nboot list (bin/bootwright machines):");
  console.log(await cli("machines"));
  console.log(`policy (bin/bootwright policy explain ${DEMO_UUID}):`);
  console.log(await cli("policy", "explain", DEMO_UUID));
  console.log("image store (bin/bootwright image show debian-12):");
  console.log(await cli("image", "show", "debian-12"));
  console.log("difference list (bin/bootwright diff):");
  console.log(await cli("diff"));
  console.log(`the machine (bin/bootwright machines show ${DEMO_UUID}):`);
  console.log(await cli("machines", "show", DEMO_UUID));
  console.log(`its PCI devices and their drivers (bin/bootwright drivers ${DEMO_UUID}):`);
  console.log(await cli("drivers", DEMO_UUID));
  console.log(`maintenance runs (bin/bootwright maintenance list ${DEMO_UUID}):`);
  console.log(await cli("maintenance", "list", DEMO_UUID));
  console.log(`step log (bin/bootwright log ${DEMO_UUID}):`);
  console.log(await cli("log", DEMO_UUID));
  console.log("where to look:");
  console.log(`  VM console       ${vm.consolePath}`);
  console.log(`  server log       ${serverLog}  (JSON lines)`);
  console.log(`  SQLite store     ${join(DEMO_DIR, "bootwright.sqlite")}`);
  if (!keep) {
    await server.close();
    console.log("\nserver stopped (run `npm run demo -- --keep` to leave it running).");
    return;
  }
  console.log(`\nserver still running at ${server.url}; Ctrl-C stops it. Try:`);
  console.log(`  the web console: ${server.url}/ (log in with the admin token in ${tokenFile})`);
  console.log(`  curl -H "Authorization: Bearer $(cat ${tokenFile})" ${server.url}/v1/machines`);
  console.log(`  bin/bootwright log ${DEMO_UUID} --server ${server.url}`);
  process.once("SIGINT", () => void server.close().then(() => process.exit(0)));
}

/**
 * The maintenance swap (seeds 001, 004), as an operator runs it: add the diagnostic image, start it on
 * the installed machine, wait until it is back in Debian, show the run and its report.
 */
async function maintenanceSwap(cli: (...args: string[]) => Promise<string>): Promise<void> {
  const diagnostic = await buildMaintenanceImage({ kind: "diagnostic" });
  console.log(
    `\noperator: bin/bootwright image add ${diagnostic.path} --name diagnostic --format tar.zst --purpose diagnostic`,
  );
  console.log(
    `  ${(await cli("image", "add", diagnostic.path, "--name", "diagnostic", "--format", "tar.zst", "--purpose", "diagnostic")).trim()}`,
  );
  console.log(`operator: bin/bootwright maintenance start ${DEMO_UUID} --image diagnostic --passive`);
  const started = (await cli("maintenance", "start", DEMO_UUID, "--image", "diagnostic", "--passive"))
    .trimEnd()
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
  console.log(started);
  console.log(
    "  (no power driver: Debian's reporter is told to reboot → loader → diagnostic steps → report → reboot → Debian calls home → installed)",
  );
  const runId = /^\s*run (\S+)/.exec(started)?.[1] ?? "";
  for (const deadline = Date.now() + 900_000; Date.now() < deadline;) {
    const shown = await cli("maintenance", "show", runId);
    if (/: (completed|failed)/.test(shown.split("\n")[0] ?? "")) {
      console.log(`\nmaintenance run (bin/bootwright maintenance show ${runId}):\n${shown}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  console.log(
    `\nthe maintenance run ${runId} did not end in 15 minutes: see bin/bootwright maintenance show ${runId}`,
  );
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
