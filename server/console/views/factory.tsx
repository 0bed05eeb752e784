// The factory line (issue 22): units at each stage, passed, failed and units per hour, reloaded on each
// batch of live events (a traveler's every change writes a step-log line, which the events carry), and
// the failed units with their stage and reason.
import { FactoryLine, FACTORY_STAGES, TravelerList } from "../../../protocol/factory.js";
import type { Api } from "../api.js";
import { Problem, Section, useLoad } from "./common.js";

async function loadLine(api: Api): Promise<{ line: FactoryLine; failed: TravelerList["travelers"] }> {
  const [line, failed] = await Promise.all([
    api.get("/v1/factory/line", FactoryLine),
    api.get("/v1/factory/travelers?failed=true", TravelerList),
  ]);
  return { line, failed: failed.travelers };
}

export function FactoryView(props: { api: Api; tick: number }) {
  const loaded = useLoad(() => loadLine(props.api), String(props.tick));
  const line = loaded.data?.line;
  return (
    <Section title={`Factory line${line?.station ? ` ${line.station}` : ""}`}>
      <Problem error={loaded.error} />
      {line && line.station === null && <p class="muted">no station (bootwright factory --station)</p>}
      {line && (
        <table class="grid" aria-label="Factory line">
          <thead>
            <tr>
              {FACTORY_STAGES.map((stage) => (
                <th key={stage}>{stage}</th>
              ))}
              <th>passed</th>
              <th>failed</th>
              <th>units/hour</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              {FACTORY_STAGES.map((stage) => (
                <td key={stage} class="num" data-testid={`stage-${stage}`}>
                  {line.atStage[stage]}
                </td>
              ))}
              <td class="num" data-testid="passed">
                {line.passed}
              </td>
              <td class="num" data-testid="failed">
                {line.failed}
              </td>
              <td class="num">{line.unitsPerHour}</td>
            </tr>
          </tbody>
        </table>
      )}
      {(loaded.data?.failed ?? []).map((t) => (
        <p key={t.serial} class="status error">
          <strong>{t.serial}</strong> failed at {t.stage}:{" "}
          {t.stages.findLast((s) => s.result === "failed")?.reason ?? "no reason recorded"}
        </p>
      ))}
    </Section>
  );
}
