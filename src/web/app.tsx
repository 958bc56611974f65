import { useEffect, useState } from "preact/hooks";
import { live, session, signOut, useConnection } from "./api.js";
import { Badge } from "./components.js";
import { AuditView } from "./views/audit.js";
import { DeploymentsView } from "./views/deployments.js";
import { FleetView } from "./views/fleet.js";
import { ForecastsView } from "./views/forecasts.js";
import { ImagesView } from "./views/images.js";
import { SignInView } from "./views/sign-in.js";
import { TimelineView } from "./views/timeline.js";

const VIEWS = [
  { path: "timeline", label: "Timeline" },
  { path: "fleet", label: "Fleet" },
  { path: "deployments", label: "Deployments" },
  { path: "images", label: "Releases & images" },
  { path: "forecasts", label: "Forecasts" },
  { path: "audit", label: "Audit log" },
] as const;

/** `#/deployments/abc` → ["deployments", "abc"]; the landing view is the timeline. */
function route(): string[] {
  const parts = location.hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter(Boolean)
    .map(decodeURIComponent);
  return parts.length > 0 ? parts : ["timeline"];
}

export function App() {
  const [signedIn, setSignedIn] = useState<boolean | null>(null);
  const [tokenFile, setTokenFile] = useState("");
  const [path, setPath] = useState(route());
  const connection = useConnection();

  useEffect(() => {
    void session().then((s) => {
      setTokenFile(s.token_file);
      setSignedIn(s.signed_in);
    });
    const onHash = () => setPath(route());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    if (connection === "signed-out") setSignedIn(false);
  }, [connection]);

  useEffect(() => {
    if (signedIn) live.start();
  }, [signedIn]);

  if (signedIn === null) return <p class="loading">Loading…</p>;
  if (!signedIn)
    return (
      <SignInView
        tokenFile={tokenFile}
        onSignedIn={() => {
          live.reset();
          setSignedIn(true);
        }}
      />
    );

  const [view, ...rest] = path;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">strata</span>
        <nav aria-label="Views">
          {VIEWS.map((v) => (
            <a
              key={v.path}
              href={`#/${v.path}`}
              aria-current={view === v.path ? "page" : undefined}
              class={view === v.path ? "current" : ""}
            >
              {v.label}
            </a>
          ))}
        </nav>
        <span class="connection" aria-live="polite">
          <Badge
            state={connection}
            tone={connection === "live" ? "ok" : connection === "signed-out" ? "bad" : "warn"}
            label={connection === "live" ? "live" : connection}
          />
        </span>
        <button
          type="button"
          class="link"
          onClick={() =>
            void signOut().then(() => {
              live.signedOut();
              setSignedIn(false);
            })
          }
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {view === "fleet" ? (
          <FleetView />
        ) : view === "deployments" ? (
          <DeploymentsView selected={rest[0] ?? null} />
        ) : view === "images" ? (
          <ImagesView />
        ) : view === "forecasts" ? (
          <ForecastsView />
        ) : view === "audit" ? (
          <AuditView />
        ) : (
          <TimelineView group={rest[0] ?? null} />
        )}
      </main>
    </div>
  );
}
