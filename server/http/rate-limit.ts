// Per-source-address token buckets for the routes a machine calls before it holds a credential (its
// boot script, which enrolls it, and the loader's inventory): a flood from one address gets 429
// rate_limited with retry-after instead of writing machine after machine into the store.
//
// Our own rather than @fastify/rate-limit: a token bucket (a burst, then a steady refill) lets a whole
// rack that powers on at once through and then throttles smoothly, where the plugin's fixed window
// refuses at the window's edge; the refusal goes through our catalogue with no adapter; IPv6 sources
// are keyed by their /64 (one host owns a whole /64 and could otherwise rotate its address per
// request); and it is one small module with no new dependency to keep up.
import { isIPv4, isIPv6 } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ErrorBody } from "../../protocol/index.js";
import { HTTP_STATUS } from "../errors.js";
import type { App } from "./app.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Counted against the source address's bucket (rate-limit.ts): routes open to anyone that write. */
    rateLimited?: boolean;
  }
}

export interface RateLimit {
  /** Requests an address may make at once (a rack booting behind one relay); 0 turns the limit off. */
  burst: number;
  /** Requests per second an address gets back, up to `burst`. */
  perSecond: number;
}

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number; first: boolean };

interface Bucket {
  tokens: number;
  /** When `tokens` was last worked out, ms on `now`'s clock. */
  at: number;
  /** Whether the last request was refused (the first refusal of a run is logged, not the flood after it). */
  refused: boolean;
}

/** The most addresses kept: past it the least recently seen is forgotten (memory stays bounded). */
const MAX_ADDRESSES = 100_000;

export class TokenBuckets {
  /** By key, least recently used first (each take re-inserts its key): the idle ones are at the front. */
  private readonly buckets = new Map<string, Bucket>();
  /** How long an empty bucket takes to fill: one idle this long is full, the same as no bucket at all. */
  private readonly fillMs: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = MAX_ADDRESSES,
  ) {
    this.fillMs = (limit.burst / limit.perSecond) * 1000;
  }

  /** How many addresses are remembered now. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token from `key`'s bucket, or says how many seconds until there is one. */
  take(key: string): Take {
    const now = this.now();
    this.evictIdle(now);
    const bucket = this.buckets.get(key);
    const tokens = bucket
      ? Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) * this.limit.perSecond) / 1000)
      : this.limit.burst;
    this.buckets.delete(key);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now, refused: true });
      return {
        ok: false,
        retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / this.limit.perSecond)),
        first: bucket?.refused !== true,
      };
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now, refused: false });
    // Past the cap, the address seen longest ago goes first: it starts again with a full bucket.
    for (const oldest of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(oldest);
    }
    return { ok: true };
  }

  /** Forgets buckets idle long enough to be full again: forgetting one changes no answer. */
  private evictIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.at < this.fillMs) break; // the rest were used more recently
      this.buckets.delete(key);
    }
  }
}

/** Expands an IPv6 address to its eight groups ("2001:db8::1" → ["2001","db8","0",…,"1"]). */
function ipv6Groups(address: string): string[] {
  const [head = "", tail] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 address ("64:ff9b::192.0.2.1") fills the last two groups.
  const width = (groups: string[]): number => groups.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const zeros = tail === undefined ? [] : Array<string>(8 - width(left) - width(right)).fill("0");
  return [...left, ...zeros, ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ""));
}

/**
 * The bucket a source address counts against: an IPv4 address as it is (IPv4-mapped IPv6 too), an
 * IPv6 address by its /64. undefined for none (the local Unix socket: only its file's users reach it).
 */
export function sourceKey(address: string | undefined): string | undefined {
  if (address === undefined || address === "") return undefined;
  const bare = address.replace(/%.*$/, ""); // a link-local zone ("fe80::1%eth0") is not part of the host
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped !== undefined && isIPv4(mapped)) return mapped;
  if (isIPv6(bare)) return `${ipv6Groups(bare).slice(0, 4).join(":")}::/64`;
  return bare;
}

/** Counts every request to a route with `config.rateLimited` against its source address's bucket. */
export function addRateLimit(app: App, limit: RateLimit): void {
  if (limit.burst === 0) return;
  const buckets = new TokenBuckets(limit);
  // onRequest, before the body is read: a refused request costs no parsing.
  app.addHook("onRequest", (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const key = request.routeOptions.config.rateLimited ? sourceKey(request.ip) : undefined;
    const taken = key === undefined ? undefined : buckets.take(key);
    if (taken === undefined || taken.ok) {
      done();
      return;
    }
    // One line when an address starts being refused, not one per request of a flood.
    if (taken.first)
      request.log.warn(
        { address: key, retryAfterSeconds: taken.retryAfterSeconds, burst: limit.burst },
        "source address rate limited",
      );
    const body: ErrorBody = {
      code: "rate_limited",
      message: `too many enrollment and inventory requests from ${key}; try again in ${taken.retryAfterSeconds} s`,
      details: { retryAfterSeconds: taken.retryAfterSeconds, burst: limit.burst, perSecond: limit.perSecond },
    };
    // Answered here, not thrown: the error handler would log each refused request of a flood.
    void reply
      .code(HTTP_STATUS.rate_limited)
      .header("retry-after", String(taken.retryAfterSeconds))
      .send(body);
  });
}
