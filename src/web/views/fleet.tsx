import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ServerView, StatusView } from "../../wire/server.js";
import { getJson, useEvents, useLive, useNow } from "../api.js";
import { Badge, Empty, ErrorText, Panel } from "../components.js";
import { age, shortId } from "../format.js";

const ROW_HEIGHT = 34;
const OVERSCAN = 10;

/** Lower sorts first: what needs a look comes before what is fine. */
function trouble(s: ServerView, now: number, staleMs: number): number {
  if (s.state === "failed") return 0;
  if (s.state === "offline") return 1;
  if (s.last_heartbeat && now - Date.parse(s.last_heartbeat) > staleMs) return 2;
  if (s.state !== "ready") return 3;
  if (!s.in_service) return 4;
  if (s.desired_release && s.release !== s.desired_release) return 5;
  return 9;
}

function problem(s: ServerView, now: number, staleMs: number): string | null {
  switch (trouble(s, now, staleMs)) {
    case 0:
      return "last deploy failed";
    case 1:
      return "no heartbeat";
    case 2:
      return "heartbeat late";
    case 3:
      return s.state === "joined" && !s.desired_release ? "no release deployed yet" : s.state;
    case 4:
      return "out of service";
    case 5:
      return "not on desired release";
    default:
      return null;
  }
}

export function FleetView() {
  const { data, error } = useLive(
    () => getJson<StatusView>("/v1/status"),
    (e) => e.topic === "server" || e.topic === "deployment" || e.topic === "image",
  );
  const [heartbeats, setHeartbeats] = useState<Record<string, string | null>>({});
  const [group, setGroup] = useState("all");
  const [filter, setFilter] = useState("");
  const now = useNow(1000);

  // Heartbeat times arrive coalesced on the stream; they update ages without reloading the list.
  useEffect(() => {
    setHeartbeats({});
  }, [data]);
  useEvents((e) => {
    if (e.topic !== "heartbeats") return;
    const servers = e.data.servers as Record<string, string | null>;
    setHeartbeats((h) => ({ ...h, ...servers }));
  });

  const servers = useMemo(() => {
    const all = (data?.servers ?? []).map((s) =>
      heartbeats[s.name] !== undefined ? { ...s, last_heartbeat: heartbeats[s.name] ?? null } : s,
    );
    const text = filter.trim().toLowerCase();
    return all
      .filter((s) => group === "all" || s.group === group)
      .filter(
        (s) =>
          !text ||
          s.name.includes(text) ||
          s.state.includes(text) ||
          (s.version ?? "").includes(text) ||
          s.address.includes(text),
      )
      .sort(
        (a, b) =>
          trouble(a, now, 15_000) - trouble(b, now, 15_000) ||
          a.name.localeCompare(b.name, "en", { numeric: true }),
      );
    // Sorting by trouble uses `now` only for late heartbeats; re-sorting every second is cheap.
  }, [data, heartbeats, group, filter, now]);

  const groups = data?.groups ?? [];
  const counts = {
    total: servers.length,
    inService: servers.filter((s) => s.in_service).length,
    problems: servers.filter((s) => trouble(s, now, 15_000) < 9).length,
  };

  return (
    <div class="view">
      <Panel
        title="Fleet"
        actions={
          <>
            <label>
              Group{" "}
              <select
                value={group}
                onChange={(e) => setGroup((e.target as HTMLSelectElement).value)}
              >
                <option value="all">all groups</option>
                {groups.map((g) => (
                  <option key={g.name} value={g.name}>
                    {g.name}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Filter{" "}
              <input
                type="search"
                placeholder="name, state, version"
                value={filter}
                onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
              />
            </label>
          </>
        }
      >
        <ErrorText error={error} />
        <div class="groups">
          {groups
            .filter((g) => group === "all" || g.name === group)
            .map((g) => (
              <div class="group-card" key={g.name}>
                <strong>{g.name}</strong> app {g.app ?? "—"}, desired{" "}
                <span class="mono">{g.desired_version ?? "—"}</span>
                {g.balancer ? (
                  <>
                    , balancer <span class="mono">{g.balancer}</span>
                  </>
                ) : null}
              </div>
            ))}
        </div>
        <p class="summary" aria-live="polite">
          <span data-testid="server-count">{counts.total}</span> servers,{" "}
          <span>{counts.inService}</span> in service,{" "}
          <span class={counts.problems > 0 ? "bad-text" : ""}>{counts.problems} need a look</span>
        </p>
        {data && servers.length === 0 ? (
          <Empty>
            No servers. Start some with <code>strata fleet up --group web --count 3</code>.
          </Empty>
        ) : (
          <ServerTable servers={servers} now={now} />
        )}
      </Panel>
    </div>
  );
}

/** Only the rows in view are in the DOM, so a thousand servers scroll as smoothly as ten. */
function ServerTable(props: { servers: ServerView[]; now: number }) {
  const { servers, now } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(servers.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const rows = servers.slice(first, last);

  return (
    <div
      class="table fleet-table"
      role="table"
      aria-label="Servers"
      aria-rowcount={servers.length + 1}
    >
      <div class="row head" role="row" aria-rowindex={1}>
        {[
          "Server",
          "State",
          "Problem",
          "Release",
          "Image",
          "In service",
          "Heartbeat",
          "Address",
        ].map((h) => (
          <span role="columnheader" key={h}>
            {h}
          </span>
        ))}
      </div>
      <div
        class="scroll"
        ref={scroller}
        style={{ height: `min(65vh, ${Math.max(1, servers.length) * ROW_HEIGHT + 2}px)` }}
        tabIndex={0}
        aria-label="Server rows (scroll with arrow keys)"
        onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}
      >
        <div style={{ height: `${servers.length * ROW_HEIGHT}px`, position: "relative" }}>
          {rows.map((s, i) => {
            const late = s.last_heartbeat ? now - Date.parse(s.last_heartbeat) > 15_000 : true;
            const why = problem(s, now, 15_000);
            return (
              <div
                class={`row${why ? " problem" : ""}`}
                role="row"
                aria-rowindex={first + i + 2}
                key={s.name}
                data-server={s.name}
                style={{ top: `${(first + i) * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px` }}
              >
                <span role="cell" class="mono strong">
                  {s.name}
                </span>
                <span role="cell">
                  <Badge state={s.state} />
                </span>
                <span role="cell" class={why ? "bad-text" : "muted"}>
                  {why ?? "none"}
                </span>
                <span role="cell" class="mono" title={s.release ?? ""}>
                  {s.version ?? "—"}{" "}
                  <span class="muted">{s.release ? shortId(s.release) : ""}</span>
                  {s.desired_release && s.desired_release !== s.release ? (
                    <span class="warn-text"> → {shortId(s.desired_release)}</span>
                  ) : null}
                </span>
                <span role="cell" class="mono" title={s.image ?? "provider base"}>
                  {s.image ? shortId(s.image) : "base"}
                </span>
                <span role="cell">
                  {s.in_service ? (
                    <Badge state="in_service" label="in service" />
                  ) : (
                    <Badge state="out" tone="idle" label="out" />
                  )}
                </span>
                <span role="cell" class={late ? "warn-text" : ""}>
                  {age(s.last_heartbeat, now)}
                </span>
                <span role="cell" class="mono muted">
                  {s.address}
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
