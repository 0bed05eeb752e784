// The install stream as a process of its own, for the host-side batch benchmark (npm run bench:
// batch8.*): the same streamImage the VMs run, writing to a file. Prints one JSON line with the result.
//   BOOTWRIGHT_TOKEN=<admin token> node stream-cli.mjs <serverUrl> <imageSha256> <targetFile> [machineId]
// (an admin may act for a machine; the token comes from the environment, never argv).
// BOOTWRIGHT_STREAM_CPUS=<n>: the CPUs the stream may count on, when several agents share a host's.
import { ImageDetail, imageBlobPath } from "../../protocol/index.js";
import { streamImage } from "./stream-image.js";

async function main(): Promise<void> {
  const [serverUrl, sha256, target, machineId] = process.argv.slice(2);
  if (!serverUrl || !sha256 || !target)
    throw new Error("usage: stream-cli <serverUrl> <imageSha256> <targetFile> [machineId]");
  const headers = { authorization: `Bearer ${process.env.BOOTWRIGHT_TOKEN ?? ""}` };
  const response = await fetch(`${serverUrl}/v1/images/${sha256}`, { headers });
  if (!response.ok) throw new Error(`GET image ${sha256}: HTTP ${response.status}`);
  const { image } = ImageDetail.parse(await response.json());
  const query = machineId ? `?machine=${encodeURIComponent(machineId)}` : "";
  const result = await streamImage({
    url: `${serverUrl}${imageBlobPath(sha256)}${query}`,
    headers,
    source: image,
    target,
    signal: AbortSignal.timeout(600_000),
    cpus: Number(process.env.BOOTWRIGHT_STREAM_CPUS) || undefined,
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
