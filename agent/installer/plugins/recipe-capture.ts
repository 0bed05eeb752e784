// Seed 003 claims 3, 7, 17: no captured image fits this machine's configuration yet, so the base image
// was written (image-stream) and now the recipe's install script builds the system on the machine —
// run with chroot in the installed root, with nothing but our server to fetch from ($BOOTWRIGHT_FILES) —
// and the result is captured and uploaded for the next machine with the same configuration.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hasCode } from "../../../protocol/index.js";
import { MOUNT_MODULES } from "../../shared/mount-modules.js";
import { captureAndUpload } from "../capture.js";
import {
  forgetCachedPages,
  installTarget,
  partitionDevice,
  rereadPartitions,
  writeRanges,
  type BlockTarget,
} from "../block-device.js";
import { generalizeRoot } from "../generalize.js";
import { readGpt, readGptTable } from "../gpt.js";
import { extendTable, growLastPartition, gptWrites, MiB } from "../gpt-write.js";
import type { InstallerPlugin, StepContext } from "../plugin.js";
import { recipeCaptureProbe } from "../probes/recipe-capture.js";
import { TOOLS } from "../tools.js";

/** The GPT partition (by name) holding the installed root filesystem. */
export const ROOT_PARTITION = "root";
const MOUNT_POINT = "/run/bootwright/root";
/**
 * Inside the chroot: a tmpfs holding the machine's credential for the script's downloads, as a wgetrc
 * (GNU wget reads $WGETRC: plain `wget "$BOOTWRIGHT_FILES/x"` just works) and as a header file
 * (`curl -H @"$BOOTWRIGHT_HEADERS"`). Never in argv, and never on the disk that gets captured.
 */
const SECRETS_DIR = "/run/bootwright-recipe";

function captureOf(ctx: StepContext): NonNullable<StepContext["plan"]["capture"]> {
  const capture = ctx.plan.capture;
  if (!capture) throw new Error("the plan has no recipe to run");
  return capture;
}

/** What the capture covers: the base image's extent, and the room the recipe asked for after it. */
function captureExtentBytes(ctx: StepContext): number {
  const source = ctx.plan.imageSource;
  if (!source) throw new Error("no base image to capture over");
  return source.rawBytes + (captureOf(ctx).growRootMiB ?? 0) * MiB;
}

/**
 * The recipe asked for room: the image's table moves out to the end of the grown extent (the captured
 * image stays a whole, consistent disk) and its root partition, the last, runs to that end. The
 * filesystem follows once mounted (resize2fs online). Run again, it finds the table grown and changes
 * nothing.
 */
async function growRootPartition(ctx: StepContext, target: BlockTarget): Promise<Record<string, unknown>> {
  const extent = captureExtentBytes(ctx);
  if (extent > target.sizeBytes)
    throw new Error(
      `the recipe's growRootMiB (${captureOf(ctx).growRootMiB ?? 0}) does not fit ${target.name}: the image and its room take ${extent} bytes, the disk has ${target.sizeBytes}`,
    );
  const onDisk = await readGptTable(target.path, target.sectorBytes);
  const { table, stale } = extendTable(onDisk, target.sectorBytes, BigInt(extent / target.sectorBytes));
  const grown = growLastPartition(table, ROOT_PARTITION);
  await writeRanges(target, [...stale, ...gptWrites(table)]);
  await rereadPartitions(target, ctx.exec, ctx.signal);
  const mib = (lba: bigint): number => Number((lba + 1n) * BigInt(target.sectorBytes)) / MiB;
  return { partition: grown.number, fromMiB: mib(grown.fromLba), toMiB: mib(grown.toLba) };
}

export const recipeCapture: InstallerPlugin = {
  ...recipeCaptureProbe,
  steps: [
    {
      name: "run-script",
      run: async (ctx) => {
        const capture = captureOf(ctx);
        const target = await installTarget(ctx.root, ctx.plan);
        // The image just replaced the partition table: have the kernel read it, then mount the root.
        await rereadPartitions(target, ctx.exec, ctx.signal);
        for (const module of MOUNT_MODULES.ext4) await ctx.exec("modprobe", [module], { timeoutMs: 30_000 });
        const root = (await readGpt(target.path, target.sectorBytes)).find((p) => p.name === ROOT_PARTITION);
        if (!root)
          throw new Error(
            `the installed image has no GPT partition named ${ROOT_PARTITION}: the recipe has no root to run in`,
          );
        const growth = capture.growRootMiB ? await growRootPartition(ctx, target) : null;
        const device = await partitionDevice(ctx.root, target, root.index);
        const mountPoint = join(ctx.root, MOUNT_POINT);
        await mkdir(mountPoint, { recursive: true });
        await ctx.exec("mount", ["-t", "ext4", device, mountPoint], {
          timeoutMs: 60_000,
        });
        const mounted = [mountPoint];
        const rootRefused: string[] = [];
        let outcome: Record<string, unknown>;
        try {
          if (growth) {
            // Online, as cloud images grow their root: no fsck first, and the kernel does the work.
            await ctx.exec(TOOLS.resize2fs.path, [device], { timeoutMs: 10 * 60_000, signal: ctx.signal });
            ctx.progress("installed root grown for the recipe", { root: device, ...growth });
          }
          for (const fs of ["proc", "sys", "dev"]) {
            await ctx.exec("mount", ["--bind", join(ctx.root, fs), join(mountPoint, fs)], {
              timeoutMs: 30_000,
            });
            mounted.unshift(join(mountPoint, fs));
          }
          const secrets = join(mountPoint, SECRETS_DIR);
          await mkdir(secrets, { recursive: true });
          await ctx.exec("mount", ["-t", "tmpfs", "-o", "mode=0700,size=1m", "tmpfs", secrets], {
            timeoutMs: 30_000,
          });
          mounted.unshift(secrets);
          const header = `Authorization: Bearer ${ctx.machine.credential}`;
          // Under TLS the files come over https: the CA the loader pinned, for wget and for curl --cacert.
          const caFile = `${SECRETS_DIR}/ca.pem`;
          if (ctx.machine.caPem) await writeFile(join(secrets, "ca.pem"), ctx.machine.caPem, { mode: 0o644 });
          const wgetrc = `header = ${header}\n${ctx.machine.caPem ? `ca_certificate = ${caFile}\n` : ""}`;
          await writeFile(join(secrets, "wgetrc"), wgetrc, { mode: 0o600 });
          await writeFile(join(secrets, "headers"), `${header}\n`, { mode: 0o600 });
          ctx.progress("running the recipe's install script", { recipe: capture.recipe, root: device });
          const started = performance.now();
          const result = await ctx
            .exec(
              "chroot",
              [
                mountPoint,
                "/usr/bin/env",
                `BOOTWRIGHT_FILES=${capture.filesUrl}`,
                `BOOTWRIGHT_SERVER=${ctx.machine.serverUrl}`,
                `BOOTWRIGHT_MACHINE=${ctx.machine.id}`,
                `WGETRC=${SECRETS_DIR}/wgetrc`,
                `BOOTWRIGHT_HEADERS=${SECRETS_DIR}/headers`,
                ...(ctx.machine.caPem ? [`BOOTWRIGHT_CA=${SECRETS_DIR}/ca.pem`] : []),
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                "/bin/sh",
                // -x: each command is echoed on stderr, so a failure's tail names the line that failed.
                "-ecx",
                capture.script,
              ],
              { timeoutMs: 30 * 60_000, signal: ctx.signal },
            )
            .catch((err: unknown) => {
              // The argv holds the whole script: say what failed and what it printed last instead.
              if (!hasCode(err, "command_failed")) throw err;
              const { exitCode, stderrTail } = err.context;
              throw new Error(
                `the recipe's install script (${capture.recipe}) failed (${exitCode === null ? "killed" : `exit ${exitCode}`}); its last output:\n${stderrTail}`,
                { cause: err },
              );
            });
          const scriptMs = Math.round(performance.now() - started);
          // What made the builder one machine comes out before the capture (generalize.ts).
          const generalized = await generalizeRoot(mountPoint);
          outcome = {
            recipe: capture.recipe,
            root: device,
            ...(growth ? { grown: growth } : {}),
            scriptMs,
            generalized,
            outputTail: (result.stdout + result.stderr).slice(-1_000),
          };
        } finally {
          // Every mount comes off even when one refuses; the root's own refusal is the one that matters.
          for (const path of mounted)
            await ctx.exec("umount", [path], { timeoutMs: 60_000 }).catch((err: unknown) => {
              if (path === mountPoint) rootRefused.push(err instanceof Error ? err.message : String(err));
            });
          await ctx.exec("sync", [], { timeoutMs: 120_000 }).catch(() => undefined);
        }
        // A filesystem still mounted would be captured half-written.
        if (rootRefused.length > 0)
          throw new Error(
            `the installed root ${device} could not be unmounted after the recipe (a process the script started may still hold it): ${rootRefused.join("; ")}`,
          );
        return outcome;
      },
    },
    {
      name: "capture",
      run: async (ctx) => {
        const capture = captureOf(ctx);
        const bytes = captureExtentBytes(ctx);
        const target = await installTarget(ctx.root, ctx.plan);
        // The recipe wrote through the root partition; the disk's own cache may still hold the base image.
        await forgetCachedPages(target, ctx.exec, ctx.signal);
        ctx.progress("capturing the installed disk", { bytes, image: capture.imageName });
        const result = await captureAndUpload({
          serverUrl: ctx.machine.serverUrl,
          credential: ctx.machine.credential,
          // The image's extent (grown by the recipe's room): the script changed files inside its partitions.
          device: target.path,
          bytes,
          start: {
            name: capture.imageName,
            format: "raw.zst",
            origin: {
              recipe: capture.recipe,
              fingerprint: capture.fingerprint,
              sourceMachine: ctx.machine.id,
              inventorySummary: capture.inventorySummary,
            },
          },
          signal: ctx.signal,
          onProgress: (p) => {
            ctx.progress("capture progress", {
              readBytes: p.readBytes,
              totalBytes: p.totalBytes,
              uploadedBytes: p.uploadedBytes,
              percent: Math.floor((p.readBytes / p.totalBytes) * 100),
            });
          },
          onRetry: (offset, reason) => {
            ctx.progress("capture upload interrupted: resuming", { offset, reason });
          },
        });
        return result.kind === "uploaded"
          ? {
              uploaded: true,
              image: result.image.sha256,
              name: result.image.name,
              duplicate: result.duplicate,
              uploadedBytes: result.uploadedBytes,
              retries: result.retries,
              ms: result.ms,
            }
          : { uploaded: false, skipped: result.reason, image: result.image };
      },
    },
  ],
};
