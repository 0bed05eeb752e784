// The Prometheus figures of GET /metrics (prom-client, one registry per server). Counts of what is now
// (machines per category, active leases) are read from the store at each scrape, so they are right on
// every server of a shared database; what happened (installs, bytes, batches, expired leases,
// maintenance outcomes, HTTP requests) is counted by this process since it started, as Prometheus expects
// of a counter (a restart starts it again at zero and rate() copes).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { BootCategory, type LiveEvent } from "../../protocol/index.js";
import type { Services } from "../services.js";

/** The categories of an install in flight: entering one from elsewhere starts an install. */
const INSTALLING = new Set<string>(["configuring", "imaging", "capturing"]);

export class ServerMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly bytesStreamed: Counter;
  readonly storeBytesRead: Counter;
  readonly batchSize: Histogram;
  private readonly installsStarted: Counter;
  private readonly installsFinished: Counter<"outcome">;
  private readonly installDuration: Histogram;
  private readonly leasesExpired: Counter;
  private readonly maintenanceRuns: Counter<"outcome">;
  /** When each install in flight started (ms), by machine. */
  private readonly installing = new Map<string, number>();

  constructor(store: Services) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "bootwright_" });
    new Gauge({
      name: "bootwright_machines",
      help: "Machines in each boot category (from the store at each scrape).",
      labelNames: ["category"],
      registers,
      async collect() {
        const counts = await store.store.read((rows) => rows.machines.countByCategory());
        for (const category of BootCategory.options) this.set({ category }, counts[category] ?? 0);
      },
    });
    new Gauge({
      name: "bootwright_leases_active",
      help: "Commands leased to an agent now (from the store at each scrape).",
      registers,
      async collect() {
        this.set(await store.store.read((rows) => rows.commands.countLeased()));
      },
    });
    this.leasesExpired = new Counter({
      name: "bootwright_leases_expired_total",
      help: "Leases that ran out before their agent reported (each fails or retries its command).",
      registers,
    });
    this.installsStarted = new Counter({
      name: "bootwright_installs_started_total",
      help: "Installs started: a machine entered configuring, imaging or capturing from another category.",
      registers,
    });
    this.installsFinished = new Counter({
      name: "bootwright_installs_finished_total",
      help: "Installs finished, by outcome: succeeded (installed) or failed.",
      labelNames: ["outcome"],
      registers,
    });
    this.installDuration = new Histogram({
      name: "bootwright_install_duration_seconds",
      help: "From an install's start to the machine installed.",
      buckets: [30, 60, 120, 300, 600, 1_200, 1_800, 3_600, 7_200],
      registers,
    });
    this.bytesStreamed = new Counter({
      name: "bootwright_image_bytes_streamed_total",
      help: "Image bytes sent to machines (every member of a batch counted).",
      registers,
    });
    this.storeBytesRead = new Counter({
      name: "bootwright_image_store_bytes_read_total",
      help: "Image bytes read from the image store (once per batch).",
      registers,
    });
    this.batchSize = new Histogram({
      name: "bootwright_image_batch_size",
      help: "Machines in each image batch when it starts reading.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.maintenanceRuns = new Counter({
      name: "bootwright_maintenance_runs_total",
      help: "Maintenance runs that ended, by outcome: completed or failed.",
      labelNames: ["outcome"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "bootwright_http_request_duration_seconds",
      help: "HTTP requests by method, route (as declared, e.g. /v1/machines/:id) and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
  }

  /** Counts what the live events say happened (events/bus.ts): one source for both. */
  observe(event: LiveEvent): void {
    if (event.type === "maintenance") {
      if (event.data.state === "completed" || event.data.state === "failed")
        this.maintenanceRuns.inc({ outcome: event.data.state });
      return;
    }
    if (event.type !== "step") return;
    const { entry } = event.data;
    if (entry.event === "lease-expired") this.leasesExpired.inc();
    if (entry.event !== "category") return;
    const from = String(entry.data.from);
    const to = String(entry.data.to);
    const at = Date.parse(entry.at);
    if (INSTALLING.has(to) && !INSTALLING.has(from)) {
      this.installsStarted.inc();
      this.installing.set(entry.machineId, at);
      return;
    }
    const started = this.installing.get(entry.machineId);
    if (started === undefined || INSTALLING.has(to)) return;
    this.installing.delete(entry.machineId);
    if (to === "installed") {
      this.installsFinished.inc({ outcome: "succeeded" });
      this.installDuration.observe(Math.max(0, (at - started) / 1000));
    } else if (to === "failed") this.installsFinished.inc({ outcome: "failed" });
  }
}
