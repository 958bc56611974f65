import { useState } from "preact/hooks";
import { auditOf, getJson, useLive } from "../api.js";
import { Badge, Empty, ErrorText, Panel, type Tone } from "../components.js";
import { time } from "../format.js";

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}

const KINDS = ["deploy", "rollback", "server", "agent", "image", "release", "forecast"];

function toneOfAction(action: string): Tone {
  if (/failed|offline|error|rolled_back|terminate/.test(action)) return "bad";
  if (/out_of_service|skipped|delete/.test(action)) return "warn";
  if (/succeeded|in_service|baked|stored|join/.test(action)) return "ok";
  if (/start|queued|running|launch/.test(action)) return "busy";
  return "idle";
}

/** Who did what, when: the audit log, newest first, filtered by kind, subject and text. */
export function AuditView() {
  const [kind, setKind] = useState("all");
  const [subject, setSubject] = useState("");
  const [text, setText] = useState("");
  const [limit, setLimit] = useState(200);
  const query = new URLSearchParams({ limit: String(limit) });
  if (subject.trim()) query.set("subject", subject.trim());
  const { data, error } = useLive(
    () => getJson<{ entries: AuditRow[] }>(`/v1/audit?${query}`),
    (e) => auditOf(e) !== null,
    [subject, limit],
  );
  const needle = text.trim().toLowerCase();
  const entries = (data?.entries ?? [])
    .filter((e) => kind === "all" || e.action.split(".")[0] === kind)
    .filter(
      (e) =>
        !needle ||
        `${e.action} ${e.subject} ${e.actor} ${JSON.stringify(e.detail)}`
          .toLowerCase()
          .includes(needle),
    );

  return (
    <div class="view">
      <Panel
        title="Audit log"
        actions={
          <form class="actions" role="search" onSubmit={(e) => e.preventDefault()}>
            <label>
              Kind{" "}
              <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
                <option value="all">all</option>
                {KINDS.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Subject{" "}
              <input
                type="search"
                placeholder="exact, e.g. web-1 or hello/web"
                value={subject}
                onChange={(e) => setSubject((e.target as HTMLInputElement).value)}
              />
            </label>
            <label>
              Text{" "}
              <input
                type="search"
                placeholder="anywhere in the entry"
                value={text}
                onInput={(e) => setText((e.target as HTMLInputElement).value)}
              />
            </label>
          </form>
        }
      >
        <ErrorText error={error} />
        {data && entries.length === 0 ? (
          <Empty>No entries match.</Empty>
        ) : (
          <table aria-label="Audit entries">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>What</th>
                <th>Subject</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} data-action={e.action}>
                  <td class="nowrap">{time(e.at)}</td>
                  <td class="nowrap">{e.actor}</td>
                  <td>
                    <Badge state={e.action} tone={toneOfAction(e.action)} label={e.action} />
                  </td>
                  <td class="mono nowrap">{e.subject}</td>
                  <td class="mono muted wrap-any">{detailText(e.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data && data.entries.length >= limit ? (
          <p>
            <button type="button" onClick={() => setLimit(limit * 2)}>
              Show older entries
            </button>
          </p>
        ) : null}
      </Panel>
    </div>
  );
}

function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("  ");
}
