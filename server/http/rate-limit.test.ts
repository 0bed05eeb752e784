// The enrollment and inventory rate limit: the token buckets on a clock of our own, the key of a source
// address, and over the real HTTP server (a small burst): over it → 429 rate_limited with retry-after,
// accepted again after that wait, another source address (127.0.0.2: all of 127/8 is loopback on
// Linux) unaffected, the routes that do not write never counted.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorBody, type Inventory } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import { makeTempDir, startApiServer, inventoryFor } from "../test-support.js";
import { sourceKey, TokenBuckets } from "./rate-limit.js";

describe("TokenBuckets", () => {
  it("lets a burst through, then one request per refill, and says how long to wait", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 3, perSecond: 0.5 }, () => now);
    expect([1, 2, 3].map(() => buckets.take("a").ok)).toEqual([true, true, true]);
    expect(buckets.take("a")).toEqual({ ok: false, retryAfterSeconds: 2, first: true });
    expect(buckets.take("a")).toMatchObject({ ok: false, first: false });
    now = 1_000;
    expect(buckets.take("a")).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    now = 2_000;
    expect(buckets.take("a").ok).toBe(true);
    expect(buckets.take("b").ok).toBe(true);
  });

  it("forgets buckets idle long enough to be full again, and keeps at most maxKeys", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 10, perSecond: 10 }, () => now, 1_000);
    for (let i = 0; i < 500; i++) buckets.take(`10.0.${i >> 8}.${i & 255}`);
    expect(buckets.size).toBe(500);
    now = 999;
    buckets.take("fresh");
    expect(buckets.size).toBe(501);
    now = 1_000; // the 500 are full again: forgetting them changes nothing
    buckets.take("fresh");
    expect(buckets.size).toBe(1);
    for (let i = 0; i < 5_000; i++) buckets.take(`k${i}`);
    expect(buckets.size).toBe(1_000);
  });
});

describe("sourceKey", () => {
  it("keeps IPv4 addresses, unmaps IPv4-mapped IPv6, keys IPv6 by its /64", () => {
    expect(sourceKey("10.1.2.3")).toBe("10.1.2.3");
    expect(sourceKey("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(sourceKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(sourceKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(sourceKey("::1")).toBe("0:0:0:0::/64");
    expect(sourceKey(undefined)).toBeUndefined();
  });
});

describe("the rate limit on the real server", () => {
  const BURST = 4;
  let server: RunningServer;
  let temp: ReturnType<typeof makeTempDir>;

  beforeAll(async () => {
    temp = makeTempDir("bw-rate-limit-");
    server = await startApiServer(temp.dir, { rateLimitBurst: BURST, rateLimitPerSecond: 1 });
  });

  afterAll(async () => {
    await server.close();
    temp.remove();
  });

  /** One request from `from` (a loopback address of our choosing). */
  function send(
    path: string,
    from: string,
    body?: unknown,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: unknown }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${server.url}${path}`,
        {
          method: payload === undefined ? "GET" : "POST",
          localAddress: from,
          headers: payload === undefined ? {} : { "content-type": "application/json" },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
          res.on("end", () => {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: res.headers["content-type"]?.startsWith("application/json") ? JSON.parse(text) : text,
            });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  const machine = (n: number): Inventory => {
    const mac = `52:54:00:cc:00:${n.toString(16).padStart(2, "0")}`;
    return inventoryFor(mac, { product: "X1", serial: `R${n}`, uuid: null });
  };

  it("answers 429 rate_limited with retry-after past the burst, then takes requests again", async () => {
    // Boot scripts and inventories share an address's bucket: both enroll.
    expect((await send("/boot/52:54:00:cc:01:01.ipxe", "127.0.0.1")).status).toBe(200);
    for (let n = 1; n < BURST; n++)
      expect((await send("/v1/inventory", "127.0.0.1", machine(n))).status).toBe(200);
    const machines = (await server.store.listMachines()).length;

    const refused = await send("/v1/inventory", "127.0.0.1", machine(99));
    expect(refused.status).toBe(429);
    expect(ErrorBody.parse(refused.body)).toMatchObject({ code: "rate_limited" });
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect((await send("/boot/52:54:00:cc:01:02.ipxe", "127.0.0.1")).status).toBe(429);
    expect((await server.store.listMachines()).length).toBe(machines); // refused: nothing stored

    // Routes that write nothing are not counted.
    expect((await send("/healthz", "127.0.0.1")).status).toBe(200);
    expect((await send("/boot.ipxe", "127.0.0.1")).status).toBe(200);

    // Another address has its own bucket.
    expect((await send("/v1/inventory", "127.0.0.2", machine(50))).status).toBe(200);

    await new Promise((done) => setTimeout(done, retryAfter * 1000));
    expect((await send("/v1/inventory", "127.0.0.1", machine(99))).status).toBe(200);
  });
});
