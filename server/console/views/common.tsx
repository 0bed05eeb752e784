// Small pieces every view uses: loading data, running an action with its outcome shown, the
// confirmation dialog, the progress bar, a category badge, a key/value table.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ROLE_RANK, type Role } from "../../../protocol/auth.js";
import { BootCategory } from "../../../protocol/boot-category.js";
import { hasCode } from "../../../protocol/failure.js";
import { formatBytes } from "../../cli/format.js";
import { formatDuration, formatRate } from "../format.js";
import type { Progress } from "../live.js";
import { etaSeconds, fraction } from "../progress.js";

export const can = (role: Role, needs: Role): boolean => ROLE_RANK[role] >= ROLE_RANK[needs];

export function describe(err: unknown): string {
  if (hasCode(err, "http_status")) return `${err.message} (${err.context.serverCode ?? err.context.status})`;
  return err instanceof Error ? err.message : String(err);
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  reload: () => void;
}

/** Loads on mount, whenever `key` changes, and on reload(); keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [again, setAgain] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let current = true;
    latest.current().then(
      (value) => {
        if (current) {
          setData(value);
          setError(null);
        }
      },
      (err: unknown) => {
        if (current) setError(describe(err));
      },
    );
    return () => {
      current = false;
    };
  }, [key, again]);
  return {
    data,
    error,
    reload: useCallback(() => {
      setAgain((n) => n + 1);
    }, []),
  };
}

export interface Confirmation {
  message: string;
  confirmLabel: string;
  run: () => void;
}

/** Runs actions one at a time and says how each ended; `ask` puts up the confirmation dialog first. */
export function useActions(after: () => void) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<Confirmation | null>(null);
  const run = (label: string, action: () => Promise<unknown>): void => {
    setBusy(true);
    setStatus(null);
    action().then(
      () => {
        setStatus({ ok: true, text: `${label}: done` });
        setBusy(false);
        after();
      },
      (err: unknown) => {
        setStatus({ ok: false, text: `${label}: ${describe(err)}` });
        setBusy(false);
      },
    );
  };
  const ask = (message: string, confirmLabel: string, label: string, action: () => Promise<unknown>) => {
    setConfirming({
      message,
      confirmLabel,
      run: () => {
        run(label, action);
      },
    });
  };
  const view = (
    <>
      {status && (
        <p class={status.ok ? "status ok" : "status error"} role="status">
          {status.text}
        </p>
      )}
      {confirming && (
        <ConfirmDialog
          confirmation={confirming}
          close={() => {
            setConfirming(null);
          }}
        />
      )}
    </>
  );
  return { run, ask, busy, view };
}

function ConfirmDialog(props: { confirmation: Confirmation; close: () => void }) {
  return (
    <div class="modal-backdrop">
      <div class="modal" role="alertdialog" aria-modal="true" aria-labelledby="confirm-text">
        <p id="confirm-text">{props.confirmation.message}</p>
        <div class="buttons">
          <button type="button" onClick={props.close}>
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => {
              props.close();
              props.confirmation.run();
            }}
          >
            {props.confirmation.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

export function ProgressBar(props: { progress: Progress; detailed?: boolean }) {
  const { progress } = props;
  const done = fraction(progress);
  const eta = etaSeconds(progress);
  const label = `${progress.kind} ${done === null ? formatBytes(progress.bytesDone) : `${Math.floor(done * 100)}%`}`;
  return (
    <span class="progress" title={label}>
      <progress
        max={1}
        value={done ?? undefined}
        aria-label={label}
        data-bytes={progress.bytesDone}
        data-total={progress.bytesTotal ?? undefined}
      />
      <span class="progress-text">
        {label}
        {props.detailed && (
          <>
            {" · "}
            {formatBytes(progress.bytesDone)}
            {progress.bytesTotal !== null && ` of ${formatBytes(progress.bytesTotal)}`}
            {progress.bytesPerSecond !== null && ` · ${formatRate(progress.bytesPerSecond)}`}
            {eta !== null && ` · ${formatDuration(eta * 1_000)} left`}
          </>
        )}
      </span>
    </span>
  );
}

export const Category = (props: { category: string | null }) =>
  props.category === null ? (
    <span class="muted">—</span>
  ) : (
    <span class={`cat cat-${props.category}`}>{props.category}</span>
  );

/** Rows of label and value, the nulls left out. */
export function Facts(props: { rows: [string, ComponentChildren][] }) {
  const rows = props.rows.filter(([, value]) => value !== null && value !== undefined && value !== "");
  return (
    <table class="facts">
      <tbody>
        {rows.map(([label, value]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export const Problem = (props: { error: string | null }) =>
  props.error ? (
    <p class="status error" role="alert">
      {props.error}
    </p>
  ) : null;

export const Section = (props: { title: string; children: ComponentChildren; id?: string }) => (
  <section class="panel" id={props.id}>
    <h2>{props.title}</h2>
    {props.children}
  </section>
);

/** A one-line text input named by its label (for screen readers and tests alike). */
export const TextField = (props: {
  label: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
}) => (
  <input
    aria-label={props.label}
    placeholder={props.placeholder}
    value={props.value}
    onInput={(e) => {
      props.onChange(e.currentTarget.value);
    }}
  />
);

/** Every boot category, and "" for nothing expected. */
export const CategorySelect = (props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
}) => (
  <select
    aria-label={props.label}
    value={props.value}
    onChange={(e) => {
      props.onChange(e.currentTarget.value);
    }}
  >
    {BootCategory.options.map((c) => (
      <option key={c}>{c}</option>
    ))}
    <option value="">nothing (clear)</option>
  </select>
);
