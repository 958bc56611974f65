import type { Clock } from "../lib/clock.js";
import { messageOf } from "../lib/errors.js";
import type { Store } from "../store/store.js";
import type { PreflightCheck, PreflightQuery, PreflightView } from "../wire/day-two.js";

export interface PreflightOptions {
  store: Store;
  clock: Clock;
  /** A server whose last heartbeat is older is unreachable (the fleet's `heartbeat_timeout`). */
  heartbeatTimeoutMs: number;
  /** Longest wait for one server's health answer. @default 2000 */
  healthTimeoutMs?: number;
}

/**
 * `strata check`'s server side, like `cap deploy:check`: the group exists, has servers,
 * each heartbeats recently, and each answers the health path of the app about to be
 * deployed. Changes nothing.
 */
export async function checkGroup(
  options: PreflightOptions,
  group: string,
  health: PreflightQuery,
): Promise<PreflightView> {
  const { store, clock } = options;
  const checks: PreflightCheck[] = [];
  const done = () => ({ group, ok: checks.every((c) => c.ok), checks });
  const record = await store.groups.get(group);
  if (!record) {
    const known = (await store.groups.list()).map((g) => g.name);
    const detail = known.length ? `groups: ${known.join(", ")}` : "no groups yet";
    checks.push({ name: `group ${group} exists`, ok: false, detail: `no such group (${detail})` });
    return done();
  }
  checks.push({
    name: `group ${group} exists`,
    ok: true,
    detail: `app ${record.app ?? "none yet"}`,
  });
  const servers = (await store.servers.list(group)).filter((s) => s.state !== "terminated");
  checks.push({
    name: "servers",
    ok: servers.length > 0,
    detail:
      servers.length > 0
        ? `${servers.length} server(s)`
        : `none: launch some with \`strata fleet up --group ${group}\``,
  });
  await Promise.all(
    servers.map(async (server) => {
      const age = server.last_heartbeat === null ? null : clock.now() - server.last_heartbeat;
      const reachable =
        server.state !== "offline" && age !== null && age <= options.heartbeatTimeoutMs;
      checks.push({
        name: `${server.name} reachable`,
        ok: reachable,
        detail:
          age === null
            ? "never heartbeated"
            : `${server.state}, last heartbeat ${(age / 1000).toFixed(1)} s ago`,
      });
      if (!health.path) return;
      const port = health.port ?? server.app_port ?? 8080;
      const url = `http://${server.address}:${port}${health.path}`;
      checks.push({
        name: `${server.name} health`,
        ...(await answer(url, health.status, options)),
      });
    }),
  );
  checks.sort(
    (a, b) =>
      order(a.name) - order(b.name) || a.name.localeCompare(b.name, "en", { numeric: true }),
  );
  return done();
}

const order = (name: string) => (name.startsWith("group ") ? 0 : name === "servers" ? 1 : 2);

async function answer(
  url: string,
  expected: number,
  options: PreflightOptions,
): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, {
      redirect: "manual",
      signal: AbortSignal.timeout(options.healthTimeoutMs ?? 2000),
    });
    await res.body?.cancel();
    return res.status === expected
      ? { ok: true, detail: `GET ${url}: ${res.status}` }
      : { ok: false, detail: `GET ${url}: expected ${expected}, got ${res.status}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { ok: false, detail: `GET ${url}: ${cause ?? messageOf(err)}` };
  }
}
