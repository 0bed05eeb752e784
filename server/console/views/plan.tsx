// The plan a machine has (as recorded when it was planned) and what the policy gives it now, with
// each rule tried in order and the first fact that failed (`bootwright policy explain`).
import type { Machine } from "../../../protocol/machine.js";
import type { PlanResolution } from "../../../protocol/policy.js";
import { brief } from "../format.js";
import { Facts } from "./common.js";

export function PlanView(props: { plan: PlanResolution; stored: Machine["plan"] }) {
  const { plan, stored } = props;
  if (plan.kind === "no-inventory") return <p class="muted">no inventory yet: nothing to match</p>;
  const spec = plan.kind === "matched" ? plan.plan : null;
  return (
    <div>
      <Facts
        rows={[
          [
            "Policy says",
            plan.kind === "matched" ? `rule ${plan.rule} (#${plan.ruleIndex + 1})` : plan.reason,
          ],
          ["Policy version", plan.policyVersion],
          ["Image", spec?.image],
          ["Plan hash", plan.kind === "matched" && <code>{plan.planHash}</code>],
          [
            "Recorded plan",
            stored &&
              `rule ${stored.rule}, ${stored.plan.image}${stored.policyVersion ? `, policy v${stored.policyVersion}` : ""}`,
          ],
          [
            "Recorded differs",
            stored && plan.kind === "matched" && stored.planHash !== plan.planHash
              ? "yes: drift (reinstall with the new plan)"
              : null,
          ],
        ]}
      />
      {spec && (
        <details>
          <summary>Plan settings</summary>
          <pre>{JSON.stringify(spec, null, 2)}</pre>
        </details>
      )}
      <table class="grid" aria-label="Policy explain">
        <thead>
          <tr>
            <th>#</th>
            <th>Rule</th>
            <th>Matched</th>
            <th>First failed fact</th>
          </tr>
        </thead>
        <tbody>
          {plan.explanation.rules.map((rule) => (
            <tr key={rule.index}>
              <td>{rule.index + 1}</td>
              <td>{rule.name}</td>
              <td>{rule.matched ? "yes" : "no"}</td>
              <td>
                {rule.failed &&
                  `${rule.failed.fact} ${rule.failed.operator} ${brief(rule.failed.expected)}; machine has ${brief(rule.failed.actual)}`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
