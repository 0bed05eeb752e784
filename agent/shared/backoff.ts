// Capped exponential backoff with jitter, and a sleep that an AbortSignal can cut short.
import { setTimeout as delay } from "node:timers/promises";

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** 0..1: the share of each delay that is random, so a rack that powers on together spreads out. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 15_000, jitter: 0.2 };

/** A download that broke off (an image, a maintenance image) is resumed after 1, 2, 4, 8, then every 10 s. */
export const RESUME_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 10_000, jitter: 0 };

/** The delay before retry number `attempt` (1-based). `random` is injectable for tests. */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter;
  return Math.round(base - spread + random() * spread);
}

export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, signal ? { signal } : {});
}
