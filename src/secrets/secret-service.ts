import { isoTime, type Clock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { ServerRecord, Store } from "../store/store.js";
import type { SecretsView, SecretView } from "../wire/secrets.js";
import type { SecretBox } from "./secret-box.js";

export interface SecretServiceOptions {
  store: Store;
  box: SecretBox;
  clock: Clock;
  /** The audit log: entries name the app and key, never the value. */
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
}

/**
 * An app's secrets: sealed before they reach the store, opened only for an agent of a
 * group that runs the app (over its authenticated channel) and never shown again.
 */
export interface SecretService {
  set(app: string, key: string, value: string): Promise<SecretView>;
  /** Throws not_found when there is no such secret. */
  remove(app: string, key: string): Promise<void>;
  list(app: string): Promise<SecretsView>;
  /** The environment of the app `server`'s group runs; empty before its first deploy. */
  forServer(server: ServerRecord): Promise<Record<string, string>>;
}

const context = (app: string, key: string) => `${app}/${key}`;

export function createSecretService(options: SecretServiceOptions): SecretService {
  const { store, box, clock, audit } = options;
  const view = (r: { app: string; key: string; updated_at: number }): SecretView => ({
    app: r.app,
    key: r.key,
    updated_at: isoTime(r.updated_at),
  });
  return {
    async set(app, key, value) {
      const record = {
        app,
        key,
        sealed: box.seal(value, context(app, key)),
        updated_at: clock.now(),
      };
      await store.secrets.put(record);
      await audit("secret.set", context(app, key), { app, key });
      return view(record);
    },
    async remove(app, key) {
      if (!(await store.secrets.delete(app, key))) {
        throw new StrataError("not_found", `[secrets] ${app} has no secret ${key}`);
      }
      await audit("secret.rm", context(app, key), { app, key });
    },
    async list(app) {
      return { app, secrets: (await store.secrets.list(app)).map(view) };
    },
    async forServer(server) {
      const app = (await store.groups.get(server.group))?.app;
      if (!app) return {};
      const records = await store.secrets.list(app);
      return Object.fromEntries(
        records.map((r) => [r.key, box.open(r.sealed, context(app, r.key))]),
      );
    },
  };
}
