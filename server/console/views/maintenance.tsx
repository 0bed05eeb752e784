// Maintenance across the site: every run with its report, and the schedules that start runs (an
// operator can add and remove them).
import { useState } from "preact/hooks";
import type { Role } from "../../../protocol/auth.js";
import { MaintenanceRunList, MaintenanceScheduleList } from "../../../protocol/maintenance.js";
import { path, type Api } from "../api.js";
import { formatTime } from "../format.js";
import { parseWhere } from "../../selector.js";
import { can, Problem, Section, TextField, useActions, useLoad } from "./common.js";
import { MaintenanceRuns } from "./maintenance-runs.js";

async function loadMaintenance(api: Api) {
  const [runs, schedules] = await Promise.all([
    api.get("/v1/maintenance", MaintenanceRunList),
    api.get("/v1/maintenance/schedules", MaintenanceScheduleList),
  ]);
  return { runs: runs.runs, schedules: schedules.schedules };
}

export function MaintenanceView(props: { api: Api; role: Role; tick: number }) {
  const { api } = props;
  const loaded = useLoad(() => loadMaintenance(api), String(Math.floor(props.tick / 3)));
  const actions = useActions(loaded.reload);
  const [target, setTarget] = useState("");
  const [cron, setCron] = useState("0 3 * * 0");
  const [image, setImage] = useState("diagnostic");
  const operator = can(props.role, "operator");

  const addSchedule = (): void => {
    // A machine id, or a fact (product=X1) for every installed machine that has it.
    const spec = {
      target: target.includes("=") ? { where: parseWhere(target) } : { machine: target },
      ...(cron.includes("T") ? { at: cron } : { cron }),
      image,
    };
    actions.run("add schedule", () => api.send("POST", "/v1/maintenance/schedules", spec));
  };

  return (
    <div>
      <Section title="Schedules">
        <Problem error={loaded.error} />
        <table class="grid" aria-label="Maintenance schedules">
          <thead>
            <tr>
              <th>Target</th>
              <th>When</th>
              <th>Image</th>
              <th>Mode</th>
              <th>Next</th>
              <th>Fired</th>
              {operator && <th />}
            </tr>
          </thead>
          <tbody>
            {(loaded.data?.schedules ?? []).map((s) => (
              <tr key={s.id}>
                <td>
                  {"machine" in s.target
                    ? s.target.machine
                    : `${s.target.where.path}=${String(s.target.where.equals)}`}
                </td>
                <td>{s.cron ?? s.at}</td>
                <td>{s.image}</td>
                <td>{s.mode}</td>
                <td>{s.nextFireAt ? formatTime(s.nextFireAt) : "—"}</td>
                <td class="num">{s.fired}</td>
                {operator && (
                  <td>
                    <button
                      type="button"
                      onClick={() => {
                        actions.run(`remove schedule ${s.id}`, () =>
                          api.send("DELETE", path`/v1/maintenance/schedules/${s.id}`),
                        );
                      }}
                    >
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {operator && (
          <div class="toolbar">
            <TextField
              label="Schedule target"
              placeholder="machine id, or product=X1"
              value={target}
              onChange={setTarget}
            />
            <TextField
              label="Schedule cron"
              placeholder="cron (UTC) or ISO time"
              value={cron}
              onChange={setCron}
            />
            <TextField label="Schedule image" placeholder="image" value={image} onChange={setImage} />
            <button type="button" disabled={actions.busy || target === ""} onClick={addSchedule}>
              Add schedule
            </button>
          </div>
        )}
        {actions.view}
      </Section>
      <Section title="Runs">
        <MaintenanceRuns runs={loaded.data?.runs ?? []} showMachine />
      </Section>
    </div>
  );
}
