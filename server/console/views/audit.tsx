// The audit log: who changed what, when, from where, and the machine's state before and after.
import type { Role } from "../../../protocol/auth.js";
import { AuditLog } from "../../../protocol/auth.js";
import type { Api } from "../api.js";
import { brief, formatTime } from "../format.js";
import { can, Problem, Section, useLoad } from "./common.js";

export function AuditView(props: { api: Api; role: Role; tick: number }) {
  const allowed = can(props.role, "operator");
  const loaded = useLoad(
    () => (allowed ? props.api.get("/v1/audit?limit=500", AuditLog) : Promise.resolve({ entries: [] })),
    String(Math.floor(props.tick / 5)),
  );
  if (!allowed) return <p class="muted">The audit log needs the operator role.</p>;
  return (
    <Section title="Audit log">
      <Problem error={loaded.error} />
      <table class="grid" aria-label="Audit log">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>Action</th>
            <th>Target</th>
            <th>Details</th>
            <th>From</th>
          </tr>
        </thead>
        <tbody>
          {[...(loaded.data?.entries ?? [])].reverse().map((e) => (
            <tr key={e.seq}>
              <td>{formatTime(e.at)}</td>
              <td>
                {e.tokenName} ({e.role})
              </td>
              <td>{e.action}</td>
              <td>{e.target ?? ""}</td>
              <td class="details">{brief(e.details)}</td>
              <td>{e.source ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
