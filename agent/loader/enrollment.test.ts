// The loader's enrollment against a real HTTP server on port 0 that answers as bootwright does while a
// machine waits (403 awaiting_approval, 409 enrollment_held, with the protocol's details), then enrolls
// it: the console says "awaiting approval" with the reason once, and the loader asks again after the
// server's retryAfterMs; any other failure still goes through the usual retries.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { EnrollmentRefusal, ErrorBody, Inventory, InventoryAccepted } from "../../protocol/index.js";
import { enroll, enrollmentLost } from "./enrollment.js";
import { fetchNextAction } from "./server-client.js";

const inventory: Inventory = {
  bootMac: "52:54:00:12:34:56",
  system: { manufacturer: "Acme", product: "X1", serial: "SN-1", uuid: null },
  cpu: { model: "QEMU", logicalCount: 2 },
  memoryBytes: 2 * 1024 ** 3,
  nics: [{ name: "eth0", mac: "52:54:00:12:34:56" }],
  disks: [{ name: "vda", sizeBytes: 10 * 1024 ** 3 }],
};

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** Answers the n-th POST with answers[n] (the last one from then on). */
async function serverAnswering(
  answers: readonly { status: number; body: unknown }[],
): Promise<{ url: string; posts: () => number }> {
  let posts = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      const answer = answers[Math.min(posts, answers.length - 1)];
      posts++;
      res
        .writeHead(answer?.status ?? 500, { "content-type": "application/json" })
        .end(JSON.stringify(answer?.body));
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  closers.push(
    () =>
      new Promise((done) =>
        server.close(() => {
          done();
        }),
      ),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts: () => posts };
}

function refusal(
  code: "awaiting_approval" | "enrollment_held",
  reason: string,
): { status: number; body: ErrorBody } {
  const details: EnrollmentRefusal = { machineId: "52:54:00:12:34:56", reason, retryAfterMs: 4_000 };
  return { status: code === "awaiting_approval" ? 403 : 409, body: { code, message: reason, details } };
}

const accepted: InventoryAccepted = {
  machineId: "52:54:00:12:34:56",
  category: "inventoried",
  bootFromDisk: false,
  credential: "bwm_x.y",
};

describe("enroll", () => {
  it("says awaiting approval, asks again after retryAfterMs, and enrolls once approved", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => lines.push(line));
    const { url, posts } = await serverAnswering([
      refusal("awaiting_approval", "awaiting approval (enrollment: approve)"),
      refusal("awaiting_approval", "awaiting approval (enrollment: approve)"),
      refusal("enrollment_held", "enrollment held: its agent holds a live check-disks lease"),
      { status: 200, body: accepted },
    ]);
    const waits: number[] = [];
    const answer = await enroll(url, inventory, (ms) => {
      waits.push(ms);
      return Promise.resolve();
    });
    expect(answer).toEqual(accepted);
    expect(posts()).toBe(4);
    expect(waits).toEqual([4_000, 4_000, 4_000]);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /!! awaiting approval machine=52:54:00:12:34:56 code=awaiting_approval reason=awaiting approval \(enrollment: approve\) attempt=1 retryInSeconds=4\.0$/,
    );
    // The same reason is not repeated; a new one is.
    expect(lines[1]).not.toMatch(/reason=/);
    expect(lines[2]).toMatch(/code=enrollment_held reason=enrollment held/);
  });
});

describe("enrollmentLost", () => {
  it("is true for a revoked credential or a machine renamed away, false for other failures", async () => {
    const machine = (url: string) => ({ id: "m", serverUrl: url, credential: "bwm_x.y" });
    const failure = async (status: number, code: string): Promise<unknown> => {
      const { url } = await serverAnswering([{ status, body: { code, message: code } }]);
      return fetchNextAction(machine(url)).catch((err: unknown) => err);
    };
    expect(enrollmentLost(await failure(401, "unauthenticated"))).toBe(true);
    expect(enrollmentLost(await failure(403, "wrong_machine"))).toBe(true);
    expect(enrollmentLost(await failure(500, "internal"))).toBe(false);
    expect(enrollmentLost(new Error("ECONNREFUSED"))).toBe(false);
  });
});
