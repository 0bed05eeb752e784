// The boot list: every machine with its category, what is expected of it, the difference and why, how
// it booted, when it was last seen and a progress bar while it moves bytes; filtered by words and facts
// (product=X1), sorted by any column, virtualised for 10,000 machines. An operator can act on every
// machine the fact filter selects.
import { useMemo, useState } from "preact/hooks";
import type { Role } from "../../../protocol/auth.js";
import type { Api } from "../api.js";
import {
  buildRows,
  COLUMNS,
  filterRows,
  parseFilter,
  sortRows,
  type BootRow,
  type Column,
  type Filter,
  type Sort,
} from "../bootlist-model.js";
import type { Fleet } from "../fleet.js";
import { formatAgo } from "../format.js";
import { Category, CategorySelect, can, ProgressBar, useActions } from "./common.js";
import { VirtualRows } from "./virtual-rows.js";

const TITLES: Record<Column, string> = {
  id: "Machine",
  product: "Product",
  category: "Category",
  expected: "Expected",
  difference: "Difference",
  reason: "Reason",
  bootPath: "Boot path",
  lastSeen: "Last seen",
};

function readFilter(text: string): { filter: Filter; error: string | null } {
  try {
    return { filter: parseFilter(text), error: null };
  } catch (err) {
    return { filter: { words: [], facts: [] }, error: String(err) };
  }
}

export function BootListView(props: { fleet: Fleet; api: Api; role: Role }) {
  const { fleet } = props;
  const [text, setText] = useState("");
  const [sort, setSort] = useState<Sort>({ column: "id", descending: false });
  const rows = useMemo(
    () => buildRows(fleet.machines ?? [], fleet.differences),
    [fleet.machines, fleet.differences],
  );
  const { filter, error } = useMemo(() => readFilter(text), [text]);
  const shown = useMemo(() => sortRows(filterRows(rows, filter), sort), [rows, filter, sort]);
  const now = Date.now();

  const header = (
    <div class="row head" role="row">
      {COLUMNS.map((column) => (
        <span role="columnheader" class={`cell c-${column}`} key={column}>
          <button
            type="button"
            class="sort"
            aria-sort={sort.column === column ? (sort.descending ? "descending" : "ascending") : "none"}
            onClick={() => {
              setSort({ column, descending: sort.column === column && !sort.descending });
            }}
          >
            {TITLES[column]}
            {sort.column === column ? (sort.descending ? " ▼" : " ▲") : ""}
          </button>
        </span>
      ))}
      <span role="columnheader" class="cell c-progress">
        Progress
      </span>
    </div>
  );

  const row = (r: BootRow) => {
    const m = r.machine;
    const progress = fleet.progress.get(m.id);
    return (
      <div class="row" role="row" key={m.id} data-machine={m.id}>
        <span role="cell" class="cell c-id">
          <a href={`#/machines/${encodeURIComponent(m.id)}`}>{m.id}</a>
        </span>
        <span role="cell" class="cell c-product">
          {r.product}
        </span>
        <span role="cell" class="cell c-category">
          <Category category={m.category} />
        </span>
        <span role="cell" class="cell c-expected">
          <Category category={m.expected} />
        </span>
        <span role="cell" class="cell c-difference">
          {r.difference}
        </span>
        <span role="cell" class="cell c-reason" title={r.reason}>
          {r.reason}
        </span>
        <span role="cell" class="cell c-bootPath">
          {m.bootPath ?? ""}
        </span>
        <span role="cell" class="cell c-lastSeen" title={m.lastSeenAt}>
          {formatAgo(m.lastSeenAt, now)}
        </span>
        <span role="cell" class="cell c-progress">
          {progress && <ProgressBar progress={progress} />}
        </span>
      </div>
    );
  };

  return (
    <div class="bootlist">
      <div class="toolbar">
        <input
          type="search"
          class="filter"
          aria-label="Filter machines"
          placeholder="Filter: words, or facts such as product=X1 tag=rack12 category=failed"
          value={text}
          onInput={(event) => {
            setText(event.currentTarget.value);
          }}
        />
        <span class="count" data-testid="count">
          {fleet.machines === null ? "loading…" : `${shown.length} of ${rows.length} machines`}
        </span>
      </div>
      {error && <p class="status error">{error}</p>}
      {can(props.role, "operator") && filter.facts.length === 1 && (
        <BulkActions api={props.api} filter={filter} count={shown.length} reload={fleet.reload} />
      )}
      <VirtualRows items={shown} header={header} row={row} label="Boot list" />
    </div>
  );
}

/** Expect a category, or approve, for every machine the one fact selects (the server applies the same selector). */
function BulkActions(props: { api: Api; filter: Filter; count: number; reload: () => void }) {
  const where = props.filter.facts[0];
  const [category, setCategory] = useState<string>("installed");
  const actions = useActions(props.reload);
  if (!where) return null;
  const selector = `${where.path}=${String(where.equals)}`;
  return (
    <div class="bulk">
      <span>Every machine with {selector}:</span>
      <CategorySelect label="Expected category for the selection" value={category} onChange={setCategory} />
      <button
        type="button"
        disabled={actions.busy}
        onClick={() => {
          actions.ask(
            `Expect ${category || "nothing"} of every machine with ${selector} (${props.count} shown now)? Installed machines may be reinstalled or erased.`,
            "Expect",
            `expect ${category || "nothing"} where ${selector}`,
            () => props.api.send("POST", "/v1/expected", { where, category: category || null }),
          );
        }}
      >
        Expect
      </button>
      <button
        type="button"
        disabled={actions.busy}
        onClick={() => {
          actions.run(`approve where ${selector}`, () => props.api.send("POST", "/v1/approve", { where }));
        }}
      >
        Approve
      </button>
      {actions.view}
    </div>
  );
}
