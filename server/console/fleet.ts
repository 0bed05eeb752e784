// The page's shared state: the boot list, the difference list and every machine's transfer progress,
// kept current by the event stream (or, without one, by polling each second: the list, and the step
// logs of the machines in flight, where today's API shows image progress).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { DifferenceList } from "../../protocol/difference.js";
import { BootListSummary, StepLog, type MachineSummary } from "../../protocol/machine.js";
import { path, type Api } from "./api.js";
import { startLive, type LiveEvent, type LiveMode, type Progress } from "./live.js";
import { COMMAND_ENDS, progressFromLog } from "./progress.js";

/** Categories in which a machine moves bytes (its install's image, a capture, an erase). */
const IN_FLIGHT = new Set<MachineSummary["category"]>(["configuring", "imaging", "capturing"]);
/** At most this many step logs per poll: the progress of the machines in flight. */
const MAX_LOGS_PER_POLL = 24;

export interface Fleet {
  machines: readonly MachineSummary[] | null;
  differences: DifferenceList | null;
  progress: ReadonlyMap<string, Progress>;
  mode: LiveMode;
  /** Grows on every poll and every batch of events: views that show more than the list reload on it. */
  tick: number;
  /** Machines whose step log or runs changed in the last batch of events (all of them after a poll). */
  touched: ReadonlySet<string> | "all";
  error: string | null;
  reload: () => void;
}

const inFlight = (m: MachineSummary): boolean =>
  IN_FLIGHT.has(m.category) || (m.expected === "released" && m.category !== "released");

export function useFleet(api: Api, token: string, onUnauthorized: () => void): Fleet {
  const [machines, setMachines] = useState<readonly MachineSummary[] | null>(null);
  const [differences, setDifferences] = useState<DifferenceList | null>(null);
  const [progress, setProgress] = useState<ReadonlyMap<string, Progress>>(new Map());
  const [mode, setMode] = useState<LiveMode>("connecting");
  const [tick, setTick] = useState(0);
  const [touched, setTouched] = useState<ReadonlySet<string> | "all">("all");
  const [error, setError] = useState<string | null>(null);
  const pending = useRef<LiveEvent[]>([]);

  // The list shows as soon as it arrives; the differences (the reasons) fill in when theirs does.
  const loadList = useMemo(
    () => async (): Promise<readonly MachineSummary[]> => {
      // Asked first: the server answers in turn, and the list is what the operator waits for.
      const listed = api.get("/v1/boot-list", BootListSummary);
      const differences = api.get("/v1/differences", DifferenceList).then(setDifferences);
      const list = await listed;
      setMachines(list.machines);
      await differences;
      setError(null);
      return list.machines;
    },
    [api],
  );

  useEffect(() => {
    const poll = async (): Promise<void> => {
      let list: readonly MachineSummary[];
      try {
        list = await loadList();
      } catch (err) {
        setError(String(err));
        return;
      }
      const flying = list.filter(inFlight).slice(0, MAX_LOGS_PER_POLL);
      const found = await Promise.all(
        flying.map(async (m) => {
          const log = await api.get(path`/v1/machines/${m.id}/log`, StepLog).catch(() => null);
          return log ? progressFromLog(m.id, log.entries) : null;
        }),
      );
      setProgress(new Map(found.filter((p) => p !== null).map((p) => [p.machineId, p])));
      setTouched("all");
      setTick((t) => t + 1);
    };

    // Events arrive in bursts (a progress report per second per machine in flight): apply them once a frame.
    let frame = 0;
    const apply = (): void => {
      frame = 0;
      const events = pending.current;
      pending.current = [];
      if (events.some((e) => e.type === "reset")) {
        void poll();
        return;
      }
      const changed = new Set(events.map((e) => ("machineId" in e ? e.machineId : "")));
      const categories = new Map(
        events.flatMap((e) => (e.type === "category" ? [[e.machineId, e] as const] : [])),
      );
      if (categories.size > 0)
        setMachines((list) => {
          if (!list) return list;
          const known = new Set(list.map((m) => m.id));
          // A machine never seen before (it just enrolled): the list has to be fetched again.
          if ([...categories.keys()].some((id) => !known.has(id))) void loadList().catch(() => undefined);
          return list.map((m) => {
            const e = categories.get(m.id);
            return e ? { ...m, category: e.category, expected: e.expected, lastSeenAt: e.at } : m;
          });
        });
      if (categories.size > 0) void api.get("/v1/differences", DifferenceList).then(setDifferences, () => {});
      setProgress((old) => {
        const next = new Map(old);
        for (const e of events) {
          if (e.type === "progress") next.set(e.machineId, e);
          // The agent's own reports (bytes written to the disk) come as step lines, as polling reads them.
          if (e.type === "step") {
            const reported = progressFromLog(e.machineId, [e.entry]);
            if (reported) next.set(e.machineId, reported);
            else if (COMMAND_ENDS.has(e.entry.event)) next.delete(e.machineId);
          }
          // A new category ends a transfer: the command that moved the bytes has finished.
          if (e.type === "category") next.delete(e.machineId);
        }
        return next;
      });
      setTouched(changed);
      setTick((t) => t + 1);
    };

    void poll();
    const live = startLive({
      url: "/v1/events",
      token: () => token,
      onEvent: (event) => {
        pending.current.push(event);
        frame ||= requestAnimationFrame(apply);
      },
      onMode: setMode,
      poll,
      onUnauthorized,
    });
    return () => {
      live.stop();
      cancelAnimationFrame(frame);
    };
  }, [api, token, loadList, onUnauthorized]);

  return {
    machines,
    differences,
    progress,
    mode,
    tick,
    touched,
    error,
    reload: () =>
      void loadList().catch((err: unknown) => {
        setError(String(err));
      }),
  };
}
