// `bootwright watch [<id>|--where …]`: the machines in flight, live, from GET /v1/events: on a terminal
// a progress bar per machine (cli-progress) with its category, step and rate; elsewhere a line per change;
// with --json each event as one JSON line (NDJSON). --until <category> ends the watch once every watched
// machine is there (exit 1 if one fails on the way), for scripts.
import type { Command } from "commander";
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import { BootCategory, BootList, Machine, type LiveEvent } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { matchesWhere } from "../selector.js";
import { getJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { liveEvents } from "./event-stream.js";
import { parseWhere } from "../selector.js";
import { describeTransfer, inFlight, WatchedMachines, type MachineView } from "./watch-view.js";

type WatchOptions = ClientOptions & { where?: string; until?: string };

/** How a watch shows what changed. */
interface Display {
  show(view: MachineView, event: LiveEvent): void;
  note(text: string): void;
  stop(): void;
}

/** Plain lines, for logs and pipes: a line per category change, step and progress figure. */
function lineDisplay(): Display {
  return {
    show(view, event) {
      const what =
        event.type === "progress" && view.transfer
          ? describeTransfer(view.transfer)
          : event.type === "category"
            ? `category ${view.category}`
            : view.step;
      console.log(`${view.id}  ${view.category}  ${what}`);
    },
    note: (text) => {
      console.log(text);
    },
    stop: () => undefined,
  };
}

/** A bar per machine in flight, on a terminal. */
function barDisplay(): Display {
  const bars = new MultiBar(
    {
      format: "{machine} |{bar}| {percentage}% {category} {transfer} · {step}",
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
    },
    Presets.shades_classic,
  );
  const byMachine = new Map<string, SingleBar>();
  return {
    show(view) {
      let bar = byMachine.get(view.id);
      if (!inFlight(view)) {
        // Done with its work: the bar goes, a line above the bars says where it ended.
        if (bar) {
          bars.remove(bar);
          bars.log(`${view.id}  ${view.category}\n`);
        }
        byMachine.delete(view.id);
        return;
      }
      const total = view.transfer?.bytesTotal ?? 0;
      const payload = {
        machine: view.id,
        category: view.category,
        transfer: view.transfer ? describeTransfer(view.transfer) : "",
        step: view.step.slice(0, 60),
      };
      if (!bar) {
        bar = bars.create(Math.max(total, 1), 0, payload);
        byMachine.set(view.id, bar);
      }
      if (total > 0) bar.setTotal(total);
      bar.update(view.transfer?.bytesDone ?? 0, payload);
    },
    note: (text) => {
      bars.log(`${text}\n`);
    },
    stop: () => {
      bars.stop();
    },
  };
}

/** A machine first seen in the stream (enrolled since the watch began); none if it is gone again. */
async function oneMachine(server: string, id: string): Promise<Machine[]> {
  const answer = await getJson(`${server}/v1/machines/${encodeURIComponent(id)}`).catch(() => undefined);
  const machine = Machine.safeParse(answer);
  return machine.success ? [machine.data] : [];
}

export function addWatchCommand(program: Command): void {
  program
    .command("watch")
    .description("live progress of the machines in flight: category, step, bytes and rate")
    .argument("[machine]", "one machine's id (default: every machine)")
    .option("--where <path=value>", "the machines matching a fact, e.g. inventory.system.product=X1")
    .option("--until <category>", "exit once every watched machine is in this category (1 if one fails)")
    .option("--json", "print each event as one JSON line (NDJSON)")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string | undefined, opts: WatchOptions) => {
      if (machine !== undefined && opts.where !== undefined)
        throw new Error("give a machine id or --where, not both");
      const until = opts.until === undefined ? undefined : BootCategory.safeParse(opts.until).data;
      if (opts.until !== undefined && until === undefined)
        throw new Error(`--until wants a boot category: one of ${BootCategory.options.join(", ")}`);
      if (until && machine === undefined && opts.where === undefined)
        throw new Error("--until needs a machine id or --where (which machines must get there)");
      const server = clientServerUrl(opts.server);
      const where = opts.where === undefined ? undefined : parseWhere(opts.where);
      const watched = new WatchedMachines((m) =>
        machine !== undefined ? m.id === machine : where ? matchesWhere(m, where) : true,
      );
      const refetch = async (): Promise<void> => {
        watched.load(BootList.parse(await getJson(`${server}/v1/machines`)).machines);
      };
      const stop = new AbortController();
      process.once("SIGINT", () => {
        stop.abort();
      });
      // Listen first, then read the boot list: a change in between is in the stream, not lost.
      let opened = (): void => undefined;
      const open = new Promise<void>((resolve) => {
        opened = resolve;
      });
      const events = liveEvents(server, {
        signal: stop.signal,
        onOpen: () => {
          opened();
        },
        ...(machine ? { machine } : {}),
      });
      const first = events.next();
      await Promise.race([open, first]);
      await refetch();
      if (until && watched.views.size === 0) throw new Error("no machine matches: nothing to wait for");
      const display = opts.json ? undefined : process.stdout.isTTY ? barDisplay() : lineDisplay();
      let outcome: "done" | "failed" | "waiting" = until ? watched.outcome(until) : "waiting";
      try {
        for (let next = await first; !next.done && outcome === "waiting"; next = await events.next()) {
          const event = next.value;
          if (event.type === "reset") {
            display?.note("(the server could not resume the stream: reloading the boot list)");
            await refetch();
          }
          const unknown = watched.unknown(event);
          if (unknown !== undefined && machine === undefined) watched.load(await oneMachine(server, unknown));
          const view = watched.apply(event);
          if (opts.json && (view || event.type === "reset")) console.log(JSON.stringify(event));
          else if (view) display?.show(view, event);
          if (until) outcome = watched.outcome(until);
        }
      } finally {
        stop.abort();
        display?.stop();
      }
      if (outcome === "failed") {
        const failed = [...watched.views.values()].filter((v) => v.category === "failed").map((v) => v.id);
        throw new Error(`failed before reaching ${until ?? ""}: ${failed.join(", ")}`);
      }
    });
}
