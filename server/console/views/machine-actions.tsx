// What an operator can do to one machine, through the same API as the CLI: expect a category (a
// reinstall of an installed machine asks first, naming it), approve its enrollment, start or restore
// maintenance, add a step to its active run, power-cycle it.
import { useState } from "preact/hooks";
import type { ImageRecord } from "../../../protocol/images.js";
import type { Machine } from "../../../protocol/machine.js";
import type { MaintenanceRun, StepParams } from "../../../protocol/maintenance.js";
import { path, type Api } from "../api.js";
import { CategorySelect, TextField, useActions } from "./common.js";

/** "mib=256 quick=true" → step parameters (numbers and booleans as such). */
export function parseParams(text: string): StepParams {
  const params: StepParams = {};
  for (const pair of text.trim().split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`a parameter is name=value (got ${pair})`);
    const raw = pair.slice(eq + 1);
    params[pair.slice(0, eq)] =
      raw === "true"
        ? true
        : raw === "false"
          ? false
          : raw !== "" && Number.isFinite(Number(raw))
            ? Number(raw)
            : raw;
  }
  return params;
}

export function MachineActions(props: {
  api: Api;
  machine: Machine;
  runs: readonly MaintenanceRun[];
  images: readonly ImageRecord[];
  drifted: boolean;
  reload: () => void;
}) {
  const { api, machine } = props;
  const id = machine.id;
  const actions = useActions(props.reload);
  const [category, setCategory] = useState<string>(machine.expected ?? "installed");
  const maintenanceImages = props.images.filter((image) => image.purpose !== "os");
  const [image, setImage] = useState("");
  const [mode, setMode] = useState<"passive" | "active">("active");
  const [step, setStep] = useState("");
  const [params, setParams] = useState("");
  const lastRun = props.runs.at(-1);
  const activeRun = props.runs.find(
    (r) => r.mode === "active" && (r.state === "rebooting" || r.state === "running"),
  );

  const expect = (): void => {
    const body = { category: category || null };
    const send = () => api.send("PUT", path`/v1/machines/${id}/expected`, body);
    // Leaving `installed` for anything but maintenance re-plans and rewrites the disk (or erases it).
    if (machine.category === "installed" && category !== "installed")
      actions.ask(
        `Machine ${id} is installed. Expecting it ${category || "nothing"} installs over it (or erases it): its disk will be rewritten. Go on with ${id}?`,
        `Install over ${id}`,
        `expect ${category}`,
        send,
      );
    else actions.run(`expect ${category || "nothing"}`, send);
  };

  return (
    <div class="actions" aria-label="Actions">
      <div class="action">
        <CategorySelect label="Expected category" value={category} onChange={setCategory} />
        <button type="button" disabled={actions.busy} onClick={expect}>
          Expect
        </button>
      </div>
      {props.drifted && (
        <button
          type="button"
          disabled={actions.busy}
          onClick={() => {
            actions.ask(
              `Reinstall ${id} with the plan the policy now gives it? Its disk will be rewritten.`,
              `Reinstall ${id}`,
              "reinstall with the new plan",
              () =>
                api.send("PUT", path`/v1/machines/${id}/expected`, { category: "installed", replan: true }),
            );
          }}
        >
          Reinstall with the new plan
        </button>
      )}
      {(machine.enrollment.state === "awaiting-approval" || machine.enrollment.state === "held") && (
        <button
          type="button"
          disabled={actions.busy}
          onClick={() => {
            actions.run("approve", () => api.send("POST", path`/v1/machines/${id}/approve`));
          }}
        >
          Approve
        </button>
      )}
      <div class="action">
        <select
          aria-label="Maintenance image"
          value={image}
          onChange={(e) => {
            setImage(e.currentTarget.value);
          }}
        >
          <option value="">maintenance image…</option>
          {maintenanceImages.map((i) => (
            <option key={i.sha256} value={i.name}>
              {i.name} ({i.purpose})
            </option>
          ))}
        </select>
        <select
          aria-label="Maintenance mode"
          value={mode}
          onChange={(e) => {
            setMode(e.currentTarget.value === "passive" ? "passive" : "active");
          }}
        >
          <option value="active">active</option>
          <option value="passive">passive</option>
        </select>
        <button
          type="button"
          disabled={actions.busy || image === ""}
          onClick={() => {
            actions.run(`start maintenance (${image})`, () =>
              api.send("POST", path`/v1/machines/${id}/maintenance`, { image, mode }),
            );
          }}
        >
          Start maintenance
        </button>
      </div>
      {lastRun?.state === "failed" && (
        <button
          type="button"
          disabled={actions.busy}
          onClick={() => {
            actions.run("restore", () => api.send("POST", path`/v1/machines/${id}/maintenance/restore`));
          }}
        >
          Restore original system
        </button>
      )}
      {activeRun && (
        <div class="action">
          <TextField label="Extra step" placeholder="step, e.g. disk-read" value={step} onChange={setStep} />
          <TextField label="Step parameters" placeholder="mib=256" value={params} onChange={setParams} />
          <button
            type="button"
            disabled={actions.busy || step === ""}
            onClick={() => {
              actions.run(`add step ${step}`, async () =>
                api.send("POST", path`/v1/machines/${id}/maintenance/steps`, {
                  name: step,
                  params: parseParams(params),
                }),
              );
            }}
          >
            Add step
          </button>
        </div>
      )}
      <button
        type="button"
        disabled={actions.busy}
        onClick={() => {
          actions.ask(
            `Power-cycle ${id} now? Whatever it runs is cut off.`,
            `Power-cycle ${id}`,
            "power cycle",
            () => api.send("POST", path`/v1/machines/${id}/power/cycle`),
          );
        }}
      >
        Power cycle
      </button>
      {actions.view}
    </div>
  );
}
