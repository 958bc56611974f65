import type { JSX } from "preact";
import type { ImagesView as ImagesWire, ImageView } from "../../wire/image.js";
import type { Release } from "../../wire/release.js";
import type { StatusView } from "../../wire/server.js";
import { getJson, useLive } from "../api.js";
import { Badge, Empty, ErrorText, Panel } from "../components.js";
import { bytes, duration, shortId, time } from "../format.js";

/** Releases and where they run; image layers with parents, channels, images in use, bakes. */
export function ImagesView() {
  const { data, error } = useLive(
    async () => {
      const [releases, images, status] = await Promise.all([
        getJson<{ releases: Release[] }>("/v1/releases"),
        getJson<ImagesWire>("/v1/images"),
        getJson<StatusView>("/v1/status"),
      ]);
      return { releases: releases.releases, images, status };
    },
    (e) => e.topic === "image" || e.topic === "release" || e.topic === "deployment",
  );
  if (!data) return <div class="view">{error ? <ErrorText error={error} /> : null}</div>;
  const { releases, images, status } = data;

  const runningOn = new Map<string, string[]>();
  const imageUsers = new Map<string, string[]>();
  for (const s of status.servers) {
    if (s.release) runningOn.set(s.release, [...(runningOn.get(s.release) ?? []), s.name]);
    if (s.image) imageUsers.set(s.image, [...(imageUsers.get(s.image) ?? []), s.name]);
  }
  const desired = new Map(status.groups.map((g) => [g.desired_release, g.name]));
  const children = new Map<string | null, ImageView[]>();
  for (const image of images.images) {
    const parent = images.images.some((i) => i.id === image.parent) ? image.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), image]);
  }

  const tree = (parent: string | null): JSX.Element | null => {
    const layer = children.get(parent);
    if (!layer?.length) return null;
    return (
      <ul class="tree">
        {layer.map((image) => (
          <li key={image.id} data-image={image.id}>
            <ImageLine image={image} users={imageUsers.get(image.id) ?? []} />
            {tree(image.id)}
          </li>
        ))}
      </ul>
    );
  };

  return (
    <div class="view">
      <ErrorText error={error} />
      <Panel title="Releases">
        {releases.length === 0 ? (
          <Empty>
            No releases. Build one with <code>strata build examples/hello --app hello</code>.
          </Empty>
        ) : (
          <table aria-label="Releases">
            <thead>
              <tr>
                <th>Release</th>
                <th>Id</th>
                <th>Size</th>
                <th>Files</th>
                <th>Built</th>
                <th>Runs on</th>
              </tr>
            </thead>
            <tbody>
              {[...releases]
                .sort((a, b) => b.created_at.localeCompare(a.created_at))
                .map((r) => {
                  const on = runningOn.get(r.id) ?? [];
                  return (
                    <tr key={r.id} data-release={r.version}>
                      <td class="strong">
                        {r.app}@{r.version}{" "}
                        {desired.has(r.id) ? (
                          <Badge state="ok" label={`desired in ${desired.get(r.id)}`} />
                        ) : null}
                      </td>
                      <td class="mono" title={r.id}>
                        {shortId(r.id)}
                      </td>
                      <td>{bytes(r.size)}</td>
                      <td>{r.file_count}</td>
                      <td>{time(r.created_at)}</td>
                      <td>
                        {on.length === 0 ? (
                          <span class="muted">no server</span>
                        ) : (
                          `${on.length} server${on.length === 1 ? "" : "s"}: ${summarise(on)}`
                        )}
                      </td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        )}
      </Panel>
      <div class="two">
        <Panel title="Images (base → middleware → app)">
          {images.channels.length > 0 ? (
            <>
              <h3>Channels</h3>
              <ul>
                {images.channels.map((c) => (
                  <li key={c.name}>
                    <span class="mono strong">{c.name}</span> →{" "}
                    <span class="mono">{c.image.slice(0, 12)}</span> app {c.version ?? "—"}{" "}
                    {c.up_to_date ? (
                      <Badge state="ok" label="current" />
                    ) : (
                      <Badge state="warn" tone="warn" label="behind the desired release" />
                    )}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          <h3>Layers</h3>
          {images.images.length === 0 ? (
            <Empty>No images yet: the first successful deploy bakes one.</Empty>
          ) : (
            <>
              <p class="muted">provider base</p>
              {tree(null)}
            </>
          )}
        </Panel>
        <Panel title="Bakes">
          {images.bakes.length === 0 ? (
            <Empty>No bakes yet.</Empty>
          ) : (
            <table aria-label="Bakes">
              <thead>
                <tr>
                  <th>State</th>
                  <th>Group</th>
                  <th>App</th>
                  <th>Why</th>
                  <th>Requested</th>
                  <th>Took</th>
                </tr>
              </thead>
              <tbody>
                {images.bakes.map((b) => (
                  <tr key={b.id} data-bake={b.id}>
                    <td>
                      <Badge state={b.state} />
                      {b.step && b.state === "running" ? (
                        <span class="muted"> {b.step}</span>
                      ) : null}
                    </td>
                    <td>{b.group}</td>
                    <td>{b.version ?? shortId(b.release)}</td>
                    <td>{b.reason}</td>
                    <td>{time(b.requested_at)}</td>
                    <td>
                      {b.started_at && b.finished_at
                        ? duration(Date.parse(b.finished_at) - Date.parse(b.started_at))
                        : "—"}
                      {b.error || b.output || b.detail ? (
                        <details open={Boolean(b.error)}>
                          <summary>{b.error ? "error and output" : "output"}</summary>
                          <pre class="output">
                            {[b.error, b.detail, b.output].filter(Boolean).join("\n")}
                          </pre>
                        </details>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
      </div>
    </div>
  );
}

function ImageLine(props: { image: ImageView; users: string[] }) {
  const { image, users } = props;
  return (
    <span>
      <Badge state={image.state} /> <span class="strong">{image.layer}</span>{" "}
      <span class="mono" title={image.id}>
        {image.name}
      </span>
      {image.version ? <> app {image.version}</> : null}
      {image.recipe_hash ? (
        <span class="muted mono"> recipe {image.recipe_hash.slice(0, 8)}</span>
      ) : null}{" "}
      <span class="muted">
        {bytes(image.size)}, baked {time(image.baked_at)}
        {image.bake_ms !== null ? ` in ${duration(image.bake_ms)}` : ""}
      </span>
      {image.channels.map((c) => (
        <Badge key={c} state="ok" label={`channel ${c}`} />
      ))}
      {users.length > 0 ? (
        <span> in use by {summarise(users)}</span>
      ) : (
        <span class="muted"> not in use</span>
      )}
      {image.error ? <span class="bad-text"> {image.error}</span> : null}
    </span>
  );
}

function summarise(names: string[]): string {
  const sorted = [...names].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return sorted.length <= 4
    ? sorted.join(", ")
    : `${sorted.slice(0, 3).join(", ")} +${sorted.length - 3}`;
}
