// The health figures an installed OS reported, over time: one small inline SVG line per figure, with
// its latest value and range, and the readings that crossed a policy threshold marked.
import type { StoredHealthReport } from "../../../protocol/health.js";
import { formatTime } from "../format.js";

const WIDTH = 260;
const HEIGHT = 56;
const PAD = 4;

function Sparkline(props: { name: string; points: { at: number; value: number; crossed: boolean }[] }) {
  const { points } = props;
  const times = points.map((p) => p.at);
  const values = points.map((p) => p.value);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const [v0, v1] = [Math.min(...values), Math.max(...values)];
  const x = (t: number) =>
    PAD + (t1 === t0 ? (WIDTH - 2 * PAD) / 2 : ((t - t0) / (t1 - t0)) * (WIDTH - 2 * PAD));
  const y = (v: number) =>
    HEIGHT - PAD - (v1 === v0 ? (HEIGHT - 2 * PAD) / 2 : ((v - v0) / (v1 - v0)) * (HEIGHT - 2 * PAD));
  const latest = values.at(-1);
  return (
    <figure class="spark">
      <svg
        width={WIDTH}
        height={HEIGHT}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${props.name} over time`}
      >
        <title>{`${props.name}: ${points.length} readings from ${v0} to ${v1}`}</title>
        <polyline
          fill="none"
          stroke="currentColor"
          stroke-width="1.5"
          points={points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ")}
        />
        {points.map((p, i) => (
          <circle
            key={i}
            cx={x(p.at)}
            cy={y(p.value)}
            r={p.crossed ? 3.5 : 1.8}
            class={p.crossed ? "crossed" : ""}
          />
        ))}
      </svg>
      <figcaption>
        <strong>{props.name}</strong> {latest}{" "}
        <span class="muted">
          (min {v0}, max {v1})
        </span>
      </figcaption>
    </figure>
  );
}

export function HealthChart(props: { reports: readonly StoredHealthReport[] }) {
  if (props.reports.length === 0)
    return <p class="muted">no health reports (its installed OS reports them)</p>;
  const names = [...new Set(props.reports.flatMap((r) => Object.keys(r.figures)))].sort();
  const last = props.reports.at(-1);
  return (
    <div class="health">
      <p class="muted">
        {props.reports.length} reports{last && `, the last at ${formatTime(last.at)} from ${last.os}`}
      </p>
      <div class="sparks">
        {names.map((name) => (
          <Sparkline
            key={name}
            name={name}
            points={props.reports.flatMap((r) => {
              const value = r.figures[name];
              return value === undefined
                ? []
                : [{ at: Date.parse(r.at), value, crossed: r.crossed.length > 0 }];
            })}
          />
        ))}
      </div>
    </div>
  );
}
