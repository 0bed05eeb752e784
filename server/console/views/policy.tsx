// The policy: the current one as written, a draft checked by the server (its problems by line, or who
// it would re-plan and which installed machines would drift), and setting it (admin).
import { useEffect, useState } from "preact/hooks";
import type { Role } from "../../../protocol/auth.js";
import { PolicyDryRun } from "../../../protocol/drift.js";
import { PolicyIssue, PolicyState, type PolicyFormat } from "../../../protocol/policy.js";
import { hasCode } from "../../../protocol/failure.js";
import type { Api } from "../api.js";
import { can, describe, Problem, Section, useActions, useLoad } from "./common.js";

type Check =
  | { kind: "issues"; issues: PolicyIssue[] }
  | { kind: "ok"; dryRun: PolicyDryRun }
  | { kind: "error"; text: string };

function Numbered(props: { source: string; marked: ReadonlySet<number>; label: string }) {
  return (
    <ol class="source" aria-label={props.label}>
      {props.source.split("\n").map((line, i) => (
        <li key={i} class={props.marked.has(i + 1) ? "marked" : ""}>
          <code>{line || " "}</code>
        </li>
      ))}
    </ol>
  );
}

export function PolicyView(props: { api: Api; role: Role }) {
  const { api } = props;
  const loaded = useLoad(() => api.get("/v1/policy", PolicyState), "policy");
  const current = loaded.data?.policy ?? null;
  const [draft, setDraft] = useState<string | null>(null);
  const [format, setFormat] = useState<PolicyFormat>("yaml");
  const [check, setCheck] = useState<Check | null>(null);
  const actions = useActions(() => {
    loaded.reload();
    setCheck(null);
  });
  useEffect(() => {
    if (current && draft === null) {
      setDraft(current.source);
      setFormat(current.format);
    }
  }, [current, draft]);
  const text = draft ?? "";
  const upload = { format, source: text };

  const runCheck = (): void => {
    api.request("POST", "/v1/policy/dry-run", upload).then(
      (answer) => {
        setCheck({ kind: "ok", dryRun: PolicyDryRun.parse(answer) });
      },
      (err: unknown) => {
        const issues =
          hasCode(err, "http_status") && err.context.serverCode === "invalid_policy"
            ? PolicyIssue.array().safeParse(err.context.serverDetails)
            : null;
        setCheck(
          issues?.success ? { kind: "issues", issues: issues.data } : { kind: "error", text: describe(err) },
        );
      },
    );
  };
  const marked = new Set(
    check?.kind === "issues" ? check.issues.flatMap((i) => (i.line === null ? [] : [i.line])) : [],
  );

  return (
    <div class="policy">
      <Section title={current ? `Policy v${current.version} (${current.format})` : "Policy"}>
        <Problem error={loaded.error} />
        {current ? (
          <Numbered source={current.source} marked={new Set()} label="Current policy" />
        ) : (
          <p class="muted">no policy set</p>
        )}
      </Section>
      <Section title="Draft">
        <div class="toolbar">
          <select
            aria-label="Policy format"
            value={format}
            onChange={(e) => {
              setFormat(e.currentTarget.value === "json" ? "json" : "yaml");
            }}
          >
            <option>yaml</option>
            <option>json</option>
          </select>
          <button type="button" onClick={runCheck}>
            Check
          </button>
          {can(props.role, "admin") && (
            <button
              type="button"
              disabled={actions.busy}
              onClick={() => {
                actions.ask(
                  "Set this policy? Machines not yet installing are re-planned now.",
                  "Set policy",
                  "set policy",
                  () => api.send("PUT", "/v1/policy", upload),
                );
              }}
            >
              Set
            </button>
          )}
        </div>
        <textarea
          aria-label="Policy draft"
          spellcheck={false}
          rows={16}
          value={text}
          onInput={(e) => {
            setDraft(e.currentTarget.value);
            setCheck(null);
          }}
        />
        {actions.view}
        {check?.kind === "error" && <Problem error={check.text} />}
        {check?.kind === "issues" && (
          <>
            <ul class="issues" aria-label="Policy problems">
              {check.issues.map((issue, i) => (
                <li key={i}>
                  line {issue.line ?? "?"}
                  {issue.column !== null && `:${issue.column}`} ({issue.path}): {issue.message}
                </li>
              ))}
            </ul>
            <Numbered source={text} marked={marked} label="Draft with problems" />
          </>
        )}
        {check?.kind === "ok" && (
          <div class="status ok" role="status">
            The draft is valid: it would be v{check.dryRun.policyVersion} with {check.dryRun.rules} rules,
            re-plan {check.dryRun.replan.length} machine(s) and leave {check.dryRun.drift.length} installed
            machine(s) drifted.
            <ul>
              {[...check.dryRun.replan, ...check.dryRun.drift].map((m) => (
                <li key={m.machineId}>{m.message}</li>
              ))}
            </ul>
          </div>
        )}
      </Section>
    </div>
  );
}
