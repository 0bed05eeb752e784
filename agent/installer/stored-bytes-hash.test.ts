import { createHash, randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { HashWorker, storedBytesHash } from "./stored-bytes-hash.js";

it("hashes the chunks in order, as one sha256 of their bytes, with more bytes given than it holds at once", async () => {
  // 48 chunks of 1 MiB: past the 32 MiB it lets wait, so update() also waits for the worker.
  const chunks = Array.from({ length: 48 }, (_, i) => randomBytes((1 << 20) - i));
  const worker = new HashWorker();
  for (const chunk of chunks) await worker.update(chunk);
  const result = await worker.digest();
  const expected = createHash("sha256");
  for (const chunk of chunks) expected.update(chunk);
  expect(result.sha256).toBe(expected.digest("hex"));
  expect(result.hashMs).toBeGreaterThan(0);
  // The caller's buffers are copied, not transferred: they stay readable for the decoder.
  expect(chunks[0]?.length).toBe(1 << 20);
});

it("an empty stream has the empty input's sha256, and close() after digest() is harmless", async () => {
  const worker = new HashWorker();
  const result = await worker.digest();
  expect(result.sha256).toBe(createHash("sha256").digest("hex"));
  await worker.close();
});

it("a worker closed by a failed stream refuses more bytes with a clear error", async () => {
  const worker = new HashWorker();
  await worker.update(Buffer.from("abc"));
  await worker.close();
  expect(() => worker.update(Buffer.from("def"))).toThrow(/sha256 worker/);
});

it("one or two CPUs hash inline, more on a worker thread: the same sha256 either way", async () => {
  // A chunk larger than the worker's batches, and a last batch left partial.
  const chunks = [
    randomBytes(1000),
    randomBytes(70_000),
    Buffer.alloc(0),
    randomBytes(2_500_000),
    randomBytes(5),
  ];
  const digests: string[] = [];
  for (const cpus of [2, 4]) {
    const hash = storedBytesHash(cpus);
    expect(hash instanceof HashWorker).toBe(cpus > 2);
    for (const chunk of chunks) await hash.update(chunk);
    digests.push((await hash.digest()).sha256);
  }
  const expected = createHash("sha256");
  for (const chunk of chunks) expected.update(chunk);
  const hex = expected.digest("hex");
  expect(digests).toEqual([hex, hex]);
});
