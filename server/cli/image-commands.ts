// CLI for the image store: add (streamed, with its sha256 declared so the server checks it), list, show,
// delete (refused while something names the image) and gc.
import { clientToken } from "./credentials.js";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import {
  ErrorBody,
  ImageDeleted,
  ImageDetail,
  ImageGcReport,
  ImageList,
  ImageRecord,
  type ImageReadStats,
} from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatBytes } from "./format.js";

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** PUTs the file to /v1/images, printing progress every few seconds on stderr. */
/** Adds an image over the API (an admin's call): `token`, else the CLI's own (BOOTWRIGHT_TOKEN, login). */
export async function uploadImage(
  server: string,
  file: string,
  meta: { name: string; format: string; purpose: string },
  token: string | undefined = clientToken(server),
): Promise<{ status: number; image: ImageRecord }> {
  const size = (await stat(file)).size;
  const sha256 = await sha256OfFile(file);
  const url = new URL(`${server}/v1/images`);
  url.search = new URLSearchParams(meta).toString();
  let sent = 0;
  let lastPrinted = Date.now();
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      if (Date.now() - lastPrinted > 5_000) {
        lastPrinted = Date.now();
        process.stderr.write(`uploaded ${formatBytes(sent)} of ${formatBytes(size)}\n`);
      }
      callback(null, chunk);
    },
  });
  // node:http(s) rather than fetch: a streamed body with its length, progress as it goes. Under TLS the
  // CA comes from Node's store (NODE_EXTRA_CA_CERTS=<data-dir>/tls/ca.pem, as the README says).
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "PUT",
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          "content-type": "application/octet-stream",
          "content-length": size,
          "x-bootwright-sha256": sha256,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            body = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            const parsed = ImageDetail.pick({ image: true }).safeParse(body);
            if (parsed.success) resolve({ status, image: parsed.data.image });
            else reject(new Error(`unexpected answer from ${url.href}: ${parsed.error.message}`));
            return;
          }
          const error = ErrorBody.safeParse(body);
          reject(new Error(`server answered ${status}${error.success ? `: ${error.data.message}` : ""}`));
        });
      },
    );
    req.on("error", (err) => {
      reject(new Error(`cannot upload to ${url.href}: ${err.message}`, { cause: err }));
    });
    pipeline(createReadStream(file), counter, req).catch((err: unknown) => {
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}

function showImage(image: ImageRecord): string {
  const origin = image.origin
    ? `  captured from recipe ${image.origin.recipe} on ${image.origin.sourceMachine} (${image.origin.fingerprint.slice(0, 19)}…)`
    : "";
  return `${image.name}  ${image.format}  ${image.purpose}  ${formatBytes(image.sizeBytes)} (raw ${formatBytes(image.rawBytes)})  sha256:${image.sha256}  ${image.createdAt}${origin}`;
}

function showReads(reads: ImageReadStats): string {
  return `read from store ${formatBytes(reads.storeBytesRead)}, sent ${formatBytes(reads.bytesSent)}; ${reads.batches} batch(es) serving ${reads.batchedMembers} machine(s), ${reads.soloStreams} solo stream(s), ${reads.detached} detached`;
}

export function formatDeleted(deleted: ImageDeleted): string {
  const overridden = deleted.overridden.map((holder) => `; overrode ${holder.kind} ${holder.ids.join(", ")}`);
  const file = deleted.blobRemoved
    ? "its file is removed"
    : "its file is removed once the streams reading it end";
  return `deleted ${deleted.image.name} (sha256:${deleted.image.sha256})${overridden.join("")}; ${file}`;
}

export function formatGc(report: ImageGcReport): string {
  const lines = [
    `freed ${formatBytes(report.bytesFreed)}: ${report.blobs.length} image file(s), ${report.uploads.length} abandoned upload(s)`,
    ...report.blobs.map((sha) => `  file sha256:${sha}`),
    ...report.uploads.map((id) => `  upload ${id}`),
  ];
  return lines.join("\n");
}

export function addImageCommands(program: Command): void {
  const image = program.command("image").description("the image store: add, list, show, delete, gc");

  image
    .command("add <file>")
    .description("add a zstd-compressed image (checked by the server: sha256 and a complete zstd stream)")
    .requiredOption("--name <name>", "image name (policies name it)")
    .requiredOption("--format <format>", "raw.zst (whole disk) or tar.zst (filesystem tree)")
    .option("--purpose <purpose>", "os, diagnostic or repair", "os")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (file: string, opts: ClientOptions & { name: string; format: string; purpose: string }) => {
      const result = await uploadImage(clientServerUrl(opts.server), file, opts);
      print(
        opts,
        result.image,
        () => `${result.status === 201 ? "added" : "already stored"}: ${showImage(result.image)}`,
      );
    });

  image
    .command("list")
    .description("every stored image with its size and checksum")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const list = ImageList.parse(await getJson(`${clientServerUrl(opts.server)}/v1/images`));
      print(opts, list, () =>
        list.images.length === 0 ? "no images" : list.images.map(showImage).join("\n"),
      );
    });

  image
    .command("show <ref>")
    .description("one image (by name or sha256) and how the server has read it since it started")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (ref: string, opts: ClientOptions) => {
      const detail = ImageDetail.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/images/${encodeURIComponent(ref)}`),
      );
      print(opts, detail, () => {
        const origin = detail.image.origin ? `\norigin: ${JSON.stringify(detail.image.origin, null, 2)}` : "";
        return `${showImage(detail.image)}\n${showReads(detail.reads)}${origin}`;
      });
    });

  image
    .command("delete <ref>")
    .description(
      "delete an image (by name: its newest; or sha256); refused while the policy, a pending install, an installed marker or its captured key names it",
    )
    .option("--force", "delete it even though installed markers or its captured key name it")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (ref: string, opts: ClientOptions & { force?: boolean }) => {
      const url = new URL(`${clientServerUrl(opts.server)}/v1/images/${encodeURIComponent(ref)}`);
      if (opts.force) url.searchParams.set("force", "true");
      const deleted = ImageDeleted.parse(await requestJson(url.href, { method: "DELETE" }));
      print(opts, deleted, () => formatDeleted(deleted));
    });

  image
    .command("gc")
    .description("remove image files no image names and uploads abandoned for over a day")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const report = ImageGcReport.parse(
        await requestJson(`${clientServerUrl(opts.server)}/v1/images/gc`, { method: "POST" }),
      );
      print(opts, report, () => formatGc(report));
    });
}
