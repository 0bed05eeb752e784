// A traveler as a printable page (issue 22), pure: one A4 sheet per unit for the line's paperwork —
// the unit, its verdict, each stage attempt with times, result, reason and figures, and the image
// written with its read-back check. Every value is escaped; no script, no external resource.
import type { Traveler, TravelerStage } from "../../protocol/index.js";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** A stage's figures, flattened to "path: value" lines (nested burn-in data included). */
function figureLines(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object")
    return prefix ? [`${prefix}: ${typeof value === "string" ? value : JSON.stringify(value)}`] : [];
  return Object.entries(value).flatMap(([key, inner]) =>
    figureLines(inner, prefix ? `${prefix}.${key}` : key),
  );
}

function stageRow(stage: TravelerStage): string {
  const figures = figureLines(stage.figures).slice(0, 40).map(escapeHtml).join("<br>");
  return `<tr class="${stage.result}"><td>${escapeHtml(stage.stage)} #${stage.attempt}</td><td>${escapeHtml(stage.startedAt)}</td><td>${escapeHtml(stage.endedAt ?? "")}</td><td>${escapeHtml(stage.result.toUpperCase())}</td><td>${escapeHtml(stage.reason ?? "")}</td><td class="figures">${figures}</td></tr>`;
}

export function travelerHtml(traveler: Traveler): string {
  const unit = traveler.inventory;
  const image = traveler.image;
  const verdict =
    traveler.state === "in-progress" ? `IN PROGRESS (${traveler.stage})` : traveler.state.toUpperCase();
  const facts: [string, string][] = [
    ["Serial", traveler.serial],
    ["Product", [unit?.manufacturer, unit?.product].filter(Boolean).join(" ")],
    ["Machine", traveler.machineId],
    ["Station", traveler.station],
    ["Memory", unit ? `${unit.memoryMiB} MiB` : ""],
    ["CPUs", unit ? String(unit.cpus) : ""],
    [
      "Disks",
      unit ? unit.disks.map((d) => `${d.name} ${(d.sizeBytes / 2 ** 30).toFixed(1)} GiB`).join(", ") : "",
    ],
    ["Image", image ? `${image.name} sha256:${image.sha256}` : "not written"],
    [
      "Read-back",
      image?.readBackSha256
        ? `${image.readBackMatches ? "matches" : "DIFFERS"}: sha256:${image.readBackSha256}`
        : "not done",
    ],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Traveler ${escapeHtml(traveler.serial)}</title>
<style>
body{font:11pt sans-serif;margin:1.5cm}h1{font-size:16pt;margin:0 0 .3cm}
table{border-collapse:collapse;width:100%;margin-bottom:.5cm}td,th{border:1px solid #999;padding:3px 5px;vertical-align:top;text-align:left}
.verdict{font-size:14pt;font-weight:bold}.failed td,.verdict.failed{color:#a00}.figures{font:8pt monospace}
@page{size:A4;margin:1cm}@media print{body{margin:0}}
</style></head><body>
<h1>Traveler — unit ${escapeHtml(traveler.serial)}</h1>
<p class="verdict ${traveler.state}">${escapeHtml(verdict)}</p>
<table>${facts.map(([k, v]) => `<tr><th>${k}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>
<table><tr><th>Stage</th><th>Started</th><th>Ended</th><th>Result</th><th>Reason</th><th>Figures</th></tr>
${traveler.stages.map(stageRow).join("\n")}
</table>
<p>Printed from bootwright; last change ${escapeHtml(traveler.updatedAt)}.</p>
</body></html>
`;
}
