// Erasing a released machine's disks (issue 18), each one checked by reading it back:
// - quick: every partition's and the disk's own signatures (filesystems, RAID, LVM, the GPT at both ends
//   and the protective MBR) removed by wipefs, then the whole device discarded where it supports it;
// - full: zeros over every byte at streaming speed, then every byte read back from the device;
// - secure: the device's own erase (NVMe Format with secure erase; ATA Secure Erase where the drive is
//   not frozen). A device that has none is reported as such, and the command fails: never a claim that
//   it was done.
import { createHash } from "node:crypto";
import { open, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DiskErase, EraseMode } from "../../protocol/index.js";
import { TOOLS } from "../installer/tools.js";
import { readDisks } from "../inventory/disks.js";
import { hasCode } from "../../protocol/index.js";
import { run } from "../shared/run-command.js";

/** Built from initramfs/nvme-format.c by build-scripts/build-initramfs.ts. */
export const NVME_FORMAT = "/usr/lib/bootwright/nvme-format";
/** nvme-format's exit status when the device has no such erase (its stderr says why). */
const NVME_CANNOT = 3;

const CHUNK = 4 * 2 ** 20;
const SAMPLE = 4096;
const SAMPLES = 64;
const TOOL_TIMEOUT_MS = 10 * 60_000;

export interface EraseContext {
  /** Root of /sys, /dev and /proc (tests point it elsewhere). */
  root: string;
  signal: AbortSignal;
  progress: (disk: string, message: string, data: Record<string, unknown>) => void;
}

/** The partitions the kernel shows for a disk (vda1, nvme0n1p1 …). */
async function partitionsOf(root: string, disk: string): Promise<string[]> {
  const entries = await readdir(join(root, "sys/block", disk)).catch(() => []);
  return entries.filter((entry) => entry.startsWith(disk) && entry !== disk).sort();
}

/** What wipefs still finds on a device: empty when it carries no signature. */
async function signaturesOn(device: string, signal: AbortSignal): Promise<string> {
  const { stdout } = await run(TOOLS.wipefs.path, ["--no-act", "--noheadings", device], {
    timeoutMs: 60_000,
    signal,
  });
  return stdout.trim();
}

/** The device's bytes at `offsets` (SAMPLE bytes each, read past the page cache's copy: see dropCaches). */
async function readSamples(device: string, offsets: readonly number[]): Promise<Buffer[]> {
  const handle = await open(device, "r");
  try {
    const out: Buffer[] = [];
    for (const offset of offsets) {
      const buffer = Buffer.alloc(SAMPLE);
      await handle.read(buffer, 0, SAMPLE, offset);
      out.push(buffer);
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** Offsets spread over the disk, both ends included. */
function sampleOffsets(sizeBytes: number): number[] {
  const last = Math.max(0, Math.floor((sizeBytes - SAMPLE) / SAMPLE) * SAMPLE);
  return Array.from({ length: SAMPLES }, (_, i) => Math.floor((last / (SAMPLES - 1) / SAMPLE) * i) * SAMPLE);
}

/** After writing through the page cache, reads must come from the device, not from what we wrote. */
async function dropCaches(root: string): Promise<void> {
  await writeFile(join(root, "proc/sys/vm/drop_caches"), "3\n").catch(() => undefined);
}

async function supportsDiscard(root: string, disk: string): Promise<boolean> {
  const text = await readFile(join(root, "sys/block", disk, "queue/discard_max_bytes"), "utf8").catch(
    () => "0",
  );
  return Number(text.trim()) > 0;
}

export async function quickErase(
  disk: string,
  device: string,
  size: number,
  ctx: EraseContext,
): Promise<Omit<DiskErase, "ms">> {
  for (const partition of await partitionsOf(ctx.root, disk)) {
    const path = join(ctx.root, "dev", partition);
    await run(TOOLS.wipefs.path, ["--all", "--force", path], { timeoutMs: 60_000, signal: ctx.signal });
    const left = await signaturesOn(path, ctx.signal);
    if (left) throw new Error(`${partition}: signatures left after wipefs: ${left}`);
  }
  // The disk's own: GPT header and its backup at the end, the protective MBR, a whole-disk filesystem.
  await run(TOOLS.wipefs.path, ["--all", "--force", device], { timeoutMs: 60_000, signal: ctx.signal });
  let method = "wipefs";
  let note: string | null = null;
  if (await supportsDiscard(ctx.root, disk)) {
    await run(TOOLS.blkdiscard.path, ["--force", device], { timeoutMs: TOOL_TIMEOUT_MS, signal: ctx.signal });
    method = "wipefs+discard";
  } else note = "the device does not support discard: data blocks are unreadable only through signatures";
  await dropCaches(ctx.root);
  const left = await signaturesOn(device, ctx.signal);
  if (left) throw new Error(`${disk}: signatures left after wipefs: ${left}`);
  // Both GPT headers gone: LBA 1 and the last LBA no longer say "EFI PART".
  const [primary, backup] = await readSamples(device, [512, Math.max(0, size - 512)]);
  for (const [where, block] of [
    ["primary", primary],
    ["backup", backup],
  ] as const)
    if (block?.subarray(0, 8).toString("latin1") === "EFI PART")
      throw new Error(`${disk}: the ${where} GPT header is still there`);
  return { name: disk, sizeBytes: size, method, verifiedBytes: 2 * SAMPLE, note };
}

/** Zeros over every byte of the device at streaming speed. */
export async function zeroDisk(
  disk: string,
  device: string,
  sizeBytes: number,
  ctx: EraseContext,
): Promise<void> {
  const direct = await zeroWithDirectIo(disk, device, sizeBytes, ctx);
  // What direct I/O did not cover (the device refused it, or a last part under 4 MiB) goes through the cache.
  if (direct < sizeBytes) await zeroWithWrites(disk, device, direct, sizeBytes, ctx);
}

const DIRECT_BS = 4 * 2 ** 20;
const DIRECT_CHUNK_BLOCKS = 256;

/**
 * Zeros in 1 GiB runs of `dd oflag=direct`, 4 MiB writes: our own writes go through the page cache, and
 * copying every byte into it cost 4.6x dd's time under TCG (measured: 134 vs 624 MB/s; 1 MiB direct writes
 * still 0.68 of dd). Between runs, progress. Returns the bytes it covered: 0 when the device refuses
 * direct I/O.
 */
async function zeroWithDirectIo(
  disk: string,
  device: string,
  sizeBytes: number,
  ctx: EraseContext,
): Promise<number> {
  const blocks = Math.floor(sizeBytes / DIRECT_BS);
  for (let block = 0; block < blocks; block += DIRECT_CHUNK_BLOCKS) {
    const count = Math.min(DIRECT_CHUNK_BLOCKS, blocks - block);
    const args = ["if=/dev/zero", `of=${device}`, `bs=${DIRECT_BS}`, `seek=${block}`, `count=${count}`];
    try {
      await run("dd", [...args, "oflag=direct", "conv=notrunc"], {
        timeoutMs: TOOL_TIMEOUT_MS,
        signal: ctx.signal,
      });
    } catch (err) {
      if (!hasCode(err, "command_failed")) throw err;
      const said = err.context.stderrTail.trim();
      if (block === 0 && /Invalid argument/.test(said)) return 0;
      const written = Number(/(\d+)\+\d+ records out/.exec(said)?.[1] ?? 0);
      throw new Error(
        `${disk}: write failed at offset ${(block + written) * DIRECT_BS}: ${said.split("\n")[0] ?? ""}`,
        { cause: err },
      );
    }
    ctx.progress(disk, "erasing", { writtenBytes: (block + count) * DIRECT_BS, totalBytes: sizeBytes });
  }
  return blocks * DIRECT_BS;
}

/** Zeros from `from` to the end through the page cache (4 MiB writes, one fsync at the end). */
async function zeroWithWrites(
  disk: string,
  device: string,
  from: number,
  sizeBytes: number,
  ctx: EraseContext,
): Promise<void> {
  const zeros = Buffer.alloc(CHUNK);
  const handle = await open(device, "r+");
  let lastReport = performance.now();
  try {
    for (let offset = from; offset < sizeBytes; offset += CHUNK) {
      ctx.signal.throwIfAborted();
      const length = Math.min(CHUNK, sizeBytes - offset);
      try {
        // A short write is a failing or full device too: it does not throw by itself.
        const { bytesWritten } = await handle.write(zeros, 0, length, offset);
        if (bytesWritten !== length) throw new Error(`short write (${bytesWritten} of ${length} bytes)`);
      } catch (err) {
        throw new Error(
          `${disk}: write failed at offset ${offset}: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
      if (performance.now() - lastReport > 2_000) {
        lastReport = performance.now();
        ctx.progress(disk, "erasing", { writtenBytes: offset + length, totalBytes: sizeBytes });
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Every byte read back from the device (not the page cache's copy) must be zero. */
async function verifyZeros(
  disk: string,
  device: string,
  sizeBytes: number,
  ctx: EraseContext,
): Promise<void> {
  await dropCaches(ctx.root);
  const zeros = Buffer.alloc(CHUNK);
  const reader = await open(device, "r");
  const buffer = Buffer.alloc(CHUNK);
  try {
    for (let offset = 0; offset < sizeBytes; offset += CHUNK) {
      ctx.signal.throwIfAborted();
      const length = Math.min(CHUNK, sizeBytes - offset);
      const { bytesRead } = await reader.read(buffer, 0, length, offset);
      if (bytesRead !== length || !buffer.subarray(0, length).equals(zeros.subarray(0, length)))
        throw new Error(`${disk}: not all zeros when read back at offset ${offset}`);
    }
  } finally {
    await reader.close();
  }
}

async function fullErase(
  disk: string,
  device: string,
  sizeBytes: number,
  ctx: EraseContext,
): Promise<Omit<DiskErase, "ms">> {
  await zeroDisk(disk, device, sizeBytes, ctx);
  await verifyZeros(disk, device, sizeBytes, ctx);
  return { name: disk, sizeBytes, method: "zeros", verifiedBytes: sizeBytes, note: null };
}

/** hdparm -I's security section: whether an ATA Secure Erase can run now, and if not why. */
export function ataSecureEraseState(identify: string): { ok: true } | { ok: false; why: string } {
  const section = identify.split(/^Security:/m)[1]?.split(/^\S/m)[0];
  if (section === undefined) return { ok: false, why: "the drive reports no ATA security feature set" };
  if (!/^\s+supported\s*$/m.test(section))
    return { ok: false, why: "the drive does not support ATA security" };
  if (!/^\s+not\s+frozen\s*$/m.test(section))
    return {
      ok: false,
      why: "the drive's security is frozen (the BIOS froze it at boot; a suspend/resume thaws it)",
    };
  return { ok: true };
}

async function secureErase(
  disk: string,
  device: string,
  sizeBytes: number,
  ctx: EraseContext,
): Promise<Omit<DiskErase, "ms">> {
  const offsets = sampleOffsets(sizeBytes);
  const before = (await readSamples(device, offsets)).map((b) =>
    createHash("sha256").update(b).digest("hex"),
  );
  let method: string;
  if (disk.startsWith("nvme")) {
    // Secure Erase Setting 1: user data erase, done by the controller; the ioctl returns when it is.
    try {
      await run(join(ctx.root, NVME_FORMAT), [device, "1"], {
        timeoutMs: TOOL_TIMEOUT_MS,
        signal: ctx.signal,
      });
    } catch (err) {
      if (hasCode(err, "command_failed") && err.context.exitCode === NVME_CANNOT)
        return {
          name: disk,
          sizeBytes,
          method: "none",
          verifiedBytes: 0,
          note: err.context.stderrTail.trim(),
        };
      throw err;
    }
    method = "nvme-format ses=1";
  } else if (disk.startsWith("sd")) {
    const { stdout } = await run(TOOLS.hdparm.path, ["-I", device], {
      timeoutMs: 60_000,
      signal: ctx.signal,
    });
    const state = ataSecureEraseState(stdout);
    if (!state.ok) return { name: disk, sizeBytes, method: "none", verifiedBytes: 0, note: state.why };
    // A throwaway password: ATA Secure Erase needs one set, and the erase clears it.
    for (const args of [
      ["--user-master", "u", "--security-set-pass", "bootwright", device],
      ["--user-master", "u", "--security-erase", "bootwright", device],
    ])
      await run(TOOLS.hdparm.path, args, { timeoutMs: TOOL_TIMEOUT_MS, signal: ctx.signal });
    method = "ata-secure-erase";
  } else {
    return {
      name: disk,
      sizeBytes,
      method: "none",
      verifiedBytes: 0,
      note: `${disk} is neither NVMe nor ATA: it has no device-level erase (use --erase full)`,
    };
  }
  await dropCaches(ctx.root);
  // Every sampled block reads as zeros or differs from before: what was there is not readable any more.
  const after = await readSamples(device, offsets);
  after.forEach((block, i) => {
    const same = createHash("sha256").update(block).digest("hex") === before[i];
    if (same && block.some((byte) => byte !== 0))
      throw new Error(`${disk}: ${method} left the block at offset ${offsets[i] ?? 0} as it was`);
  });
  return { name: disk, sizeBytes, method, verifiedBytes: SAMPLES * SAMPLE, note: null };
}

/** Erases every disk of the machine; throws (naming disk and reason) when one cannot be erased as asked. */
export async function eraseDisks(mode: EraseMode, ctx: EraseContext): Promise<DiskErase[]> {
  const disks = await readDisks(ctx.root);
  if (disks.length === 0) throw new Error("no disks found in /sys/block");
  const results: DiskErase[] = [];
  for (const { name, sizeBytes } of disks) {
    const device = join(ctx.root, "dev", name);
    const started = performance.now();
    ctx.progress(name, `erasing (${mode})`, { sizeBytes });
    const done =
      mode === "quick"
        ? await quickErase(name, device, sizeBytes, ctx)
        : mode === "full"
          ? await fullErase(name, device, sizeBytes, ctx)
          : await secureErase(name, device, sizeBytes, ctx);
    results.push({ ...done, ms: Math.round(performance.now() - started) });
    ctx.progress(name, `erased (${done.method})`, { verifiedBytes: done.verifiedBytes });
  }
  const cannot = results.filter((r) => r.method === "none");
  if (cannot.length > 0)
    throw new Error(
      `secure erase not done on ${cannot.map((r) => `${r.name} (${r.note ?? "no reason"})`).join("; ")}; ` +
        `erased: ${
          results
            .filter((r) => r.method !== "none")
            .map((r) => `${r.name} by ${r.method}`)
            .join(", ") || "none"
        }`,
    );
  return results;
}
