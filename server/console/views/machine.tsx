// One machine: what it is (inventory, fingerprint), what it should run (the plan and why: `policy
// explain`), what it did (the step log with timings, the image's progress), its maintenance runs with
// their reports, its health over time, and the actions the operator's role allows.
import { useRef } from "preact/hooks";
import type { Role } from "../../../protocol/auth.js";
import { HealthHistory } from "../../../protocol/health.js";
import { ImageList } from "../../../protocol/images.js";
import { Machine, StepLog } from "../../../protocol/machine.js";
import { MaintenanceRunList } from "../../../protocol/maintenance.js";
import { PlanResolution } from "../../../protocol/policy.js";
import { PowerView } from "../../../protocol/power.js";
import { path, type Api } from "../api.js";
import type { Fleet } from "../fleet.js";
import { formatTime } from "../format.js";
import { progressFromLog } from "../progress.js";
import { Category, can, Facts, Problem, ProgressBar, Section, useLoad } from "./common.js";
import { HealthChart } from "./health-chart.js";
import { MachineActions } from "./machine-actions.js";
import { InventoryView } from "./machine-inventory.js";
import { MaintenanceRuns } from "./maintenance-runs.js";
import { PlanView } from "./plan.js";
import { StepLogView } from "./step-log.js";

async function loadMachine(api: Api, id: string, withImages: boolean) {
  const [machine, log, plan, runs, health, power, images] = await Promise.all([
    api.get(path`/v1/machines/${id}`, Machine),
    api.get(path`/v1/machines/${id}/log`, StepLog),
    api.get(path`/v1/machines/${id}/plan`, PlanResolution),
    api.get(path`/v1/machines/${id}/maintenance`, MaintenanceRunList),
    api.get(path`/v1/machines/${id}/health`, HealthHistory),
    api.get(path`/v1/machines/${id}/power`, PowerView),
    withImages ? api.get("/v1/images", ImageList) : Promise.resolve({ images: [] }),
  ]);
  return {
    machine,
    log: log.entries,
    plan,
    runs: runs.runs,
    health: health.reports,
    power,
    images: images.images,
  };
}

/** A key that changes when the fleet says this machine changed (every poll, or its own events). */
function useChangeKey(fleet: Fleet, id: string): string {
  const key = useRef(`${id}:0`);
  if (fleet.touched === "all" || fleet.touched.has(id)) key.current = `${id}:${fleet.tick}`;
  if (!key.current.startsWith(`${id}:`)) key.current = `${id}:${fleet.tick}`;
  return key.current;
}

export function MachineView(props: { id: string; api: Api; fleet: Fleet; role: Role }) {
  const { id, api, fleet, role } = props;
  const loaded = useLoad(() => loadMachine(api, id, can(role, "operator")), useChangeKey(fleet, id));
  const data = loaded.data?.machine.id === id ? loaded.data : undefined;
  if (!data) return loaded.error ? <Problem error={loaded.error} /> : <p class="muted">loading {id}…</p>;
  const { machine } = data;
  const progress = fleet.progress.get(id) ?? progressFromLog(id, data.log);
  return (
    <div class="machine">
      <header class="machine-head">
        <h1>{machine.id}</h1>
        <Category category={machine.category} />
        {machine.expected !== null && (
          <span>
            expected <Category category={machine.expected} />
          </span>
        )}
        {progress && <ProgressBar progress={progress} detailed />}
      </header>
      <Problem error={loaded.error} />
      {can(role, "operator") && (
        <MachineActions
          api={api}
          machine={machine}
          runs={data.runs}
          images={data.images}
          drifted={fleet.differences?.drift.some((d) => d.machineId === id) ?? false}
          reload={() => {
            loaded.reload();
            fleet.reload();
          }}
        />
      )}
      <div class="columns">
        <Section title="Machine">
          <Facts
            rows={[
              ["Boot MAC", machine.bootMac],
              ["Boot path", machine.bootPath],
              ["First seen", formatTime(machine.firstSeenAt)],
              ["Last seen", formatTime(machine.lastSeenAt)],
              [
                "Enrollment",
                `${machine.enrollment.state}${machine.enrollment.reason ? `: ${machine.enrollment.reason}` : ""}`,
              ],
              ["Configuration fingerprint", machine.fingerprint && <code>{machine.fingerprint}</code>],
              ["Tags", machine.tags.join(", ")],
              ["Note", machine.note],
              ["Retired", machine.retired && `by ${machine.retired.by} at ${formatTime(machine.retired.at)}`],
              ["Power driver", `${data.power.driver}${data.power.target ? ` (${data.power.target})` : ""}`],
            ]}
          />
        </Section>
        <Section title="Plan and policy explain">
          <PlanView plan={data.plan} stored={machine.plan} />
        </Section>
      </div>
      <Section title="Inventory">
        {machine.inventory ? (
          <InventoryView inventory={machine.inventory} />
        ) : (
          <p class="muted">no inventory posted yet</p>
        )}
      </Section>
      <Section title="Step log" id="step-log">
        <StepLogView entries={data.log} />
      </Section>
      <Section title="Maintenance runs" id="maintenance-runs">
        <MaintenanceRuns runs={data.runs} />
      </Section>
      <Section title="Health">
        <HealthChart reports={data.health} />
      </Section>
    </div>
  );
}
