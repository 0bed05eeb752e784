// Software RAID with mdadm across the machine's first N disks (seed 002 claim 5): creates the array
// /dev/md/bootwright that image-stream (and partition) then write to.
//
// Safe to run again: an array that is already running with the plan's level, metadata and members (a
// retried command in the same boot) is kept. Anything else (an array from an earlier boot: the initramfs
// never assembles one; a different layout; a half-made one) is stopped, its members' superblocks zeroed,
// and the array created afresh. Nothing on it is worth keeping: this runs in the configure phase, before
// the image is written. Creating starts a resync in the background (md(4)): the step does not wait for it
// (the image is written to both halves anyway, and the kernel finishes the resync later), and says so.
import { mkdir, readFile, realpath } from "node:fs/promises";
import { basename, join } from "node:path";
import { readDisks } from "../../inventory/disks.js";
import {
  createArgv,
  matchesPlan,
  metadataFor,
  parseDetailExport,
  parseMdstat,
  RAID_DEVICE,
  raidModule,
  type ArrayDetail,
} from "../mdadm.js";
import type { InstallerPlugin, StepContext } from "../plugin.js";
import { mdadmRaidProbe } from "../probes/mdadm-raid.js";
import { TOOLS } from "../tools.js";

const MDADM_TIMEOUT_MS = 60_000;

async function mdadm(ctx: StepContext, argv: string[]): Promise<string> {
  const { stdout, stderr } = await ctx.exec(TOOLS.mdadm.path, argv, {
    timeoutMs: MDADM_TIMEOUT_MS,
    signal: ctx.signal,
  });
  return `${stdout}${stderr}`.trim();
}

async function mdstat(ctx: StepContext): Promise<ReturnType<typeof parseMdstat>> {
  return parseMdstat(await readFile(join(ctx.root, "proc/mdstat"), "utf8").catch(() => ""));
}

function arrayPath(ctx: StepContext): string {
  return join(ctx.root, "dev", RAID_DEVICE);
}

/** The running array at /dev/md/bootwright, with its kernel name, or undefined. */
async function currentArray(
  ctx: StepContext,
): Promise<{ kernelName: string; detail: ArrayDetail } | undefined> {
  const path = arrayPath(ctx);
  const real = await realpath(path).catch(() => undefined);
  if (!real) return undefined;
  const text = await mdadm(ctx, ["--detail", "--export", path]).catch(() => undefined);
  return text === undefined ? undefined : { kernelName: basename(real), detail: parseDetailExport(text) };
}

export const mdadmRaid: InstallerPlugin = {
  ...mdadmRaidProbe,
  steps: [
    {
      name: "create-array",
      run: async (ctx) => {
        const raid = ctx.plan.raid;
        if (!raid) throw new Error("plan has no RAID section");
        const disks = (await readDisks(ctx.root)).slice(0, raid.disks);
        if (disks.length < raid.disks)
          throw new Error(`RAID ${raid.level} wants ${raid.disks} disks, found ${disks.length}`);
        const members = disks.map((d) => join(ctx.root, "dev", d.name));
        // No udev in the initramfs: mdadm then makes the /dev/md/ links itself, and keeps its map here.
        await mkdir(join(ctx.root, "run/mdadm"), { recursive: true });
        // The kernel's own module autoload runs /sbin/modprobe, which the initramfs does not have.
        await ctx.exec("modprobe", ["-a", "md_mod", raidModule(raid.level)], {
          timeoutMs: 30_000,
          signal: ctx.signal,
        });

        const existing = await currentArray(ctx);
        let reused = false;
        if (existing && matchesPlan(existing.detail, raid.level, members)) {
          reused = true;
          ctx.progress("RAID array already running as planned: kept", { array: existing.kernelName });
        } else {
          // Free the members: stop every array that holds one, then wipe their md superblocks.
          const names = new Set(disks.map((d) => d.name));
          const stopped: string[] = [];
          for (const array of await mdstat(ctx)) {
            if (array.members.some((m) => names.has(m)) || (existing && array.name === existing.kernelName)) {
              await mdadm(ctx, ["--stop", join(ctx.root, "dev", array.name)]);
              stopped.push(array.name);
            }
          }
          // --force: zero where a superblock would be even if none is found (a blank disk is not an error).
          for (const member of members) await mdadm(ctx, ["--zero-superblock", "--force", member]);
          ctx.progress("creating RAID array", {
            level: raid.level,
            members: members.join(","),
            metadata: metadataFor(raid.level),
            stopped: stopped.join(",") || undefined,
          });
          await mdadm(ctx, createArgv(raid.level, members, arrayPath(ctx)));
        }

        const array = await currentArray(ctx);
        if (!array) throw new Error(`mdadm reported success but /dev/${RAID_DEVICE} is not there`);
        if (!matchesPlan(array.detail, raid.level, members))
          throw new Error(
            `the array at /dev/${RAID_DEVICE} is not what the plan asks for: ${JSON.stringify(array.detail)}`,
          );
        const detail = await mdadm(ctx, ["--detail", arrayPath(ctx)]);
        const status = (await mdstat(ctx)).find((a) => a.name === array.kernelName);
        const sizeSectors = Number(
          (
            await readFile(join(ctx.root, "sys/block", array.kernelName, "size"), "utf8").catch(() => "0")
          ).trim(),
        );
        const sync = status?.sync ?? null;
        ctx.progress("RAID array ready", {
          array: `/dev/${RAID_DEVICE}`,
          device: array.kernelName,
          sizeBytes: sizeSectors * 512,
          resync: sync ? `${sync.action} ${sync.percent}% (continues in the background)` : "none",
        });
        return {
          array: `/dev/${RAID_DEVICE}`,
          device: array.kernelName,
          level: raid.level,
          metadata: metadataFor(raid.level),
          members,
          uuid: array.detail.uuid,
          arrayBytes: sizeSectors * 512,
          reused,
          resync: sync
            ? {
                ...sync,
                waited: false,
                note: "the kernel resyncs in the background; the install does not wait",
              }
            : null,
          mdadmDetail: detail,
        };
      },
    },
  ],
};
