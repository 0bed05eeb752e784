// The server's periodic work, each a duty that one server of a site runs at a time (server/cluster):
// the lease sweep, the maintenance monitor (deadlines, alerts, schedules, health) and the boot-log prune.
// A server that does not hold a duty skips its tick; the holder's next heartbeat renews it.
import type { Logger } from "pino";
import type { Duty } from "../../protocol/index.js";
import type { MaintenanceService } from "../maintenance/service.js";
import type { Services } from "../services.js";

export interface PeriodicSettings {
  leaseSweepMs: number;
  maintenanceTickMs: number;
  bootLogDays: number;
}

export interface PeriodicWork {
  /** Stops the timers; a tick in progress finishes first. */
  stop(): Promise<void>;
}

export function startPeriodicWork(
  deps: {
    holds: (duty: Duty) => boolean;
    store: Services;
    maintenance: MaintenanceService;
    log: Logger;
  },
  settings: PeriodicSettings,
): PeriodicWork {
  const { holds, store, maintenance, log } = deps;
  const running = new Map<Duty, Promise<void>>();
  // One tick of a duty at a time: a slow power driver must not overlap the next maintenance tick.
  const every = (duty: Duty, ms: number, work: () => Promise<void>): NodeJS.Timeout => {
    const timer = setInterval(() => {
      if (running.has(duty) || !holds(duty)) return;
      running.set(
        duty,
        work()
          .catch((err: unknown) => {
            log.error({ err, duty }, "periodic work failed");
          })
          .finally(() => running.delete(duty)),
      );
    }, ms);
    timer.unref();
    return timer;
  };
  const timers = [
    // Leases are otherwise checked when a machine asks for work; one that rebooted into its installed OS
    // and never calls home would wait forever. The sweep fails it with the reason instead.
    every("lease-sweep", settings.leaseSweepMs, async () => {
      const ids = await store.expireLeasesDue(new Date());
      if (ids.length > 0) log.info({ machines: ids }, "expired leases handled");
    }),
    // The maintenance monitor (seed 001's daemon): overdue runs fail with the reason and are alerted,
    // due schedules fire.
    every("maintenance-monitor", settings.maintenanceTickMs, () => maintenance.tick()),
    // The boot log keeps what machines asked for these last days; older lines go once an hour.
    every("boot-log-prune", 3_600_000, async () => {
      await store.pruneBootLog(new Date(Date.now() - settings.bootLogDays * 86_400_000));
    }),
  ];
  return {
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await Promise.all(running.values());
    },
  };
}
