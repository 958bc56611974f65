import { Hono, type Context } from "hono";
import { stream } from "hono/streaming";
import type { ServerRecord } from "../store/store.js";
import {
  ExecRequestSchema,
  LogsQuerySchema,
  MAX_TASK_CHUNK,
  TaskIdSchema,
  TaskOutputSchema,
  TasksQuerySchema,
} from "../wire/ops.js";
import { readJson, readParams, readQuery } from "../server/validate.js";
import { bearer } from "../server/routes/agents.js";
import type { OpsService } from "./ops-service.js";
import type { TaskHub } from "./task-hub.js";
import { StrataError } from "../lib/errors.js";

/** Longest task long poll an agent may ask for, in seconds. */
const MAX_WAIT_S = 60;

/**
 * `GET /v1/logs` and `POST /v1/exec`, behind the API's token check (exec is
 * an admin's: no other role's rule allows it, src/server/access.ts). Both
 * answer NDJSON, one event a line, until every server ended; a client that
 * goes away cancels the tasks.
 */
export function opsRoutes(deps: { ops: OpsService }): Hono {
  const app = new Hono();

  app.get("/logs", async (c) => {
    const query = readQuery(c, LogsQuerySchema, "logs");
    const abort = abortOn(c);
    const events = await deps.ops.logs(query, abort.signal);
    return ndjson(c, events, abort);
  });

  app.post("/exec", async (c) => {
    const request = await readJson(c, ExecRequestSchema, "exec");
    const abort = abortOn(c);
    const events = await deps.ops.exec(request, abort.signal);
    return ndjson(c, events, abort);
  });

  return app;
}

/**
 * The agents' side, mounted at /v1/agents ahead of the API's token check:
 * `GET /tasks` (long poll) and `POST /tasks/:id/output`. The agent token is
 * checked before a body is read.
 */
export function agentTaskRoutes(deps: {
  hub: TaskHub;
  authenticate(token: string): Promise<ServerRecord>;
}): Hono {
  const app = new Hono();
  const server = (c: Context) => deps.authenticate(bearer(c.req.header("authorization")));

  app.get("/tasks", async (c) => {
    const { name } = await server(c);
    const { wait } = readQuery(c, TasksQuerySchema, "tasks");
    const abort = abortOn(c);
    const tasks = await deps.hub.take(name, Math.min(wait, MAX_WAIT_S) * 1000, abort.signal);
    return c.json({ tasks });
  });

  app.post("/tasks/:id/output", async (c) => {
    const { name } = await server(c);
    const { id } = readParams(c, TaskIdSchema, "task output");
    const output = await readJson(c, TaskOutputSchema, "task output", MAX_TASK_CHUNK + 8192);
    if (!(await deps.hub.deliver(name, id, output))) {
      throw new StrataError("not_found", `[ops] task ${id}: nobody waits for it any more`);
    }
    return c.body(null, 204);
  });

  return app;
}

function abortOn(c: Context): AbortController {
  const abort = new AbortController();
  c.req.raw.signal.addEventListener("abort", () => abort.abort(), { once: true });
  return abort;
}

function ndjson(c: Context, events: AsyncGenerator<unknown>, abort: AbortController): Response {
  c.header("content-type", "application/x-ndjson");
  return stream(c, async (out) => {
    out.onAbort(() => abort.abort());
    try {
      for await (const event of events) {
        if (out.aborted) break;
        await out.write(JSON.stringify(event) + "\n");
      }
    } finally {
      abort.abort();
      await events.return(undefined);
    }
  });
}
