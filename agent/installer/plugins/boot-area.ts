// Records the boot area the install leaves (seed 004: the repair image restores it after, say, a boot
// sector infection): once the image is written and the plan's partitions added, the disk's head (MBR,
// primary GPT, up to the first partition) and tail (backup GPT) go to the server, which keeps them
// with the machine. Reads only; safe to rerun (the server replaces the record atomically).
import { credentialHeaders, type Credentialed } from "../../shared/credential.js";
import { createHash } from "node:crypto";
import { BootAreaRecord, BootwrightError, hasCode, type FailureContext } from "../../../protocol/index.js";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "../../shared/backoff.js";
import { installTarget, readRange, type BlockTarget } from "../block-device.js";
import { describeError } from "../describe-error.js";
import { readAnswer } from "../http-answer.js";
import { parseGptEntries, readGptTable } from "../gpt.js";
import { bootAreaExtents } from "../maintenance/boot-area.js";
import type { InstallerPlugin, StepContext } from "../plugin.js";
import { bootAreaProbe } from "../probes/boot-area.js";

const UPLOAD_ATTEMPTS = 5;
const REQUEST_TIMEOUT_MS = 60_000;

/** An answer that retrying cannot change (the server refused the record itself). */
class UploadRefused extends BootwrightError<"boot_area_refused"> {
  constructor(message: string, context: FailureContext<"boot_area_refused">) {
    super("boot_area_refused", message, context);
  }
}

async function putOnce(
  url: string,
  body: Buffer,
  sha256: string,
  machine: Credentialed,
  signal: AbortSignal,
): Promise<BootAreaRecord> {
  const response = await fetch(url, {
    method: "PUT",
    body,
    headers: {
      ...credentialHeaders(machine),
      "content-type": "application/octet-stream",
      "x-bootwright-sha256": sha256,
    },
    signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
  });
  const { json, reason: why } = await readAnswer(response);
  if (!response.ok) {
    const message = `PUT ${url}: HTTP ${response.status}${why ? ` ${why}` : ""}`;
    // 408 and 429 are "later"; 5xx is the server's trouble: both are worth another try.
    if (response.status < 500 && response.status !== 408 && response.status !== 429)
      throw new UploadRefused(message, { url, status: response.status });
    throw new Error(message);
  }
  const record = BootAreaRecord.safeParse(json);
  if (!record.success)
    throw new UploadRefused(`PUT ${url}: unexpected answer: ${record.error.message}`, {
      url,
      status: response.status,
    });
  if (record.data.sha256 !== sha256)
    throw new UploadRefused(
      `PUT ${url}: the server recorded sha256 ${record.data.sha256}, we sent ${sha256}`,
      {
        url,
        status: response.status,
      },
    );
  return record.data;
}

async function record(ctx: StepContext): Promise<Record<string, unknown>> {
  if (ctx.plan.raid)
    return {
      skipped:
        "the plan has RAID: each member disk carries its own boot area under the md array; recording them is not supported",
    };
  const source = ctx.plan.imageSource;
  if (!source) throw new Error(`image ${ctx.plan.image} is not in the server's image store`);
  const target: BlockTarget = await installTarget(ctx.root, ctx.plan);
  // readGptTable refuses a table whose CRCs do not match: a record must never keep a corrupt one.
  const { header, entries } = await readGptTable(target.path, target.sectorBytes);
  const extents = bootAreaExtents(header, parseGptEntries(entries, header.count, header.entrySize), {
    diskBytes: target.sizeBytes,
    sectorBytes: target.sectorBytes,
  });
  const head = await readRange(target.path, 0, extents.headBytes);
  const tail = await readRange(target.path, target.sizeBytes - extents.tailBytes, extents.tailBytes);
  const body = Buffer.concat([head, tail]);
  const sha256 = createHash("sha256").update(body).digest("hex");
  const query = new URLSearchParams({
    device: target.kernelName,
    diskBytes: String(target.sizeBytes),
    sectorBytes: String(target.sectorBytes),
    headBytes: String(extents.headBytes),
    tailBytes: String(extents.tailBytes),
    image: `sha256:${source.sha256}`,
    planHash: ctx.plan.planHash,
  });
  const url = `${ctx.machine.serverUrl}/v1/machines/${encodeURIComponent(ctx.machine.id)}/boot-area?${query.toString()}`;
  ctx.progress("recording the boot area", { device: target.kernelName, ...extents });
  for (let attempt = 1; ; attempt++) {
    try {
      const saved = await putOnce(url, body, sha256, ctx.machine, ctx.signal);
      return {
        device: target.kernelName,
        headBytes: saved.headBytes,
        tailBytes: saved.tailBytes,
        sha256,
        attempts: attempt,
        ...(extents.tailNote ? { tailNote: extents.tailNote } : {}),
      };
    } catch (err) {
      const refused = hasCode(err, "boot_area_refused");
      if (ctx.signal.aborted || refused || attempt >= UPLOAD_ATTEMPTS)
        throw new Error(
          `boot area of ${target.name} not recorded after ${attempt} ${attempt === 1 ? "try" : "tries"}: ${describeError(err)}`,
          {
            cause: err,
          },
        );
      const waitMs = backoffDelayMs(attempt, DEFAULT_BACKOFF);
      ctx.progress("boot area upload failed: retrying", { attempt, waitMs, reason: describeError(err) });
      await sleep(waitMs, ctx.signal);
    }
  }
}

export const bootArea: InstallerPlugin = {
  ...bootAreaProbe,
  steps: [{ name: "record", run: record }],
};
