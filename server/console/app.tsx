// The console's frame: the login form (the operator pastes an API token; it stays in this tab's
// sessionStorage), then the views by the URL's hash (#/machines/<id>, #/images, …: ids only, never the
// token), the identity and role, and whether updates arrive live or by polling.
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { Whoami } from "../../protocol/auth.js";
import { Api, session } from "./api.js";
import { useFleet } from "./fleet.js";
import { describe } from "./views/common.js";
import { AuditView } from "./views/audit.js";
import { BootListView } from "./views/bootlist.js";
import { FactoryView } from "./views/factory.js";
import { ImagesView } from "./views/images.js";
import { MachineView } from "./views/machine.js";
import { MaintenanceView } from "./views/maintenance.js";
import { PolicyView } from "./views/policy.js";

const VIEWS = [
  ["#/", "Boot list"],
  ["#/images", "Images"],
  ["#/policy", "Policy"],
  ["#/maintenance", "Maintenance"],
  ["#/factory", "Factory line"],
  ["#/audit", "Audit log"],
] as const;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || "#/");
  useEffect(() => {
    const changed = (): void => {
      setHash(location.hash || "#/");
    };
    addEventListener("hashchange", changed);
    return () => {
      removeEventListener("hashchange", changed);
    };
  }, []);
  return hash;
}

function Login(props: { onLogin: (who: Whoami, token: string) => void; reason: string | null }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(props.reason);
  const api = useMemo(() => new Api(() => undefined), []);
  return (
    <form
      class="login"
      onSubmit={(event) => {
        event.preventDefault();
        const text = token.trim();
        api
          .request("GET", "/v1/whoami", undefined, text)
          .then((answer) => {
            props.onLogin(Whoami.parse(answer), text);
          })
          .catch((err: unknown) => {
            setError(describe(err));
          });
      }}
    >
      <h1>bootwright console</h1>
      <label>
        API token
        <input
          type="password"
          name="token"
          autocomplete="off"
          placeholder="bwo_…"
          value={token}
          onInput={(e) => {
            setToken(e.currentTarget.value);
          }}
        />
      </label>
      <button type="submit" disabled={token.trim() === ""}>
        Log in
      </button>
      {error && (
        <p class="status error" role="alert">
          {error}
        </p>
      )}
      <p class="muted">
        Make one with <code>bootwright token create &lt;name&gt; --role viewer|operator|admin</code>. It is
        kept in this tab only.
      </p>
    </form>
  );
}

function Shell(props: { who: Whoami; token: string; logout: (reason: string | null) => void }) {
  const { who, token, logout } = props;
  const expired = useCallback(() => {
    logout("the server refused the token (revoked or unknown): log in again");
  }, [logout]);
  const api = useMemo(() => new Api(expired), [expired]);
  const fleet = useFleet(api, token, expired);
  const hash = useHash();
  const machine = /^#\/machines\/(.+)$/.exec(hash);
  const view = machine?.[1] ? (
    <MachineView id={decodeURIComponent(machine[1])} api={api} fleet={fleet} role={who.role} />
  ) : hash === "#/images" ? (
    <ImagesView api={api} tick={fleet.tick} />
  ) : hash === "#/policy" ? (
    <PolicyView api={api} role={who.role} />
  ) : hash === "#/maintenance" ? (
    <MaintenanceView api={api} role={who.role} tick={fleet.tick} />
  ) : hash === "#/factory" ? (
    <FactoryView api={api} tick={fleet.tick} />
  ) : hash === "#/audit" ? (
    <AuditView api={api} role={who.role} tick={fleet.tick} />
  ) : (
    <BootListView fleet={fleet} api={api} role={who.role} />
  );
  return (
    <div class="shell">
      <nav class="top">
        <strong class="brand">bootwright</strong>
        {VIEWS.map(([href, title]) => (
          <a key={href} href={href} class={hash === href ? "current" : ""}>
            {title}
          </a>
        ))}
        <span class="spacer-x" />
        <span class={`mode mode-${fleet.mode}`} title="How this page hears about changes" data-testid="mode">
          {fleet.mode}
        </span>
        <span class="who" data-testid="who">
          {who.name} ({who.role})
        </span>
        <button
          type="button"
          onClick={() => {
            logout(null);
          }}
        >
          Log out
        </button>
      </nav>
      {fleet.error && <p class="status error">{fleet.error}</p>}
      <main>{view}</main>
    </div>
  );
}

export function App() {
  const [state, setState] = useState<{ who: Whoami; token: string } | null>(null);
  const [reason, setReason] = useState<string | null>(null);
  const [checking, setChecking] = useState(session.token() !== null);
  const logout = useCallback((why: string | null) => {
    session.clear();
    setState(null);
    setReason(why);
  }, []);
  // A reload of the tab keeps the session: check the saved token once.
  useEffect(() => {
    const saved = session.token();
    if (!saved) return;
    new Api(() => undefined)
      .get("/v1/whoami", Whoami)
      .then((who) => {
        setState({ who, token: saved });
      })
      .catch(() => {
        session.clear();
      })
      .finally(() => {
        setChecking(false);
      });
  }, []);
  if (checking) return <p class="muted">checking the saved session…</p>;
  if (!state)
    return (
      <Login
        reason={reason}
        onLogin={(who, token) => {
          session.save(token);
          setReason(null);
          setState({ who, token });
        }}
      />
    );
  return <Shell who={state.who} token={state.token} logout={logout} />;
}
