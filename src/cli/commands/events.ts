import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import type { AddEventRequest, EventsView, EventView } from "../../wire/forecast.js";
import { createClient } from "../client.js";
import { printJson, table, type OutputOptions } from "../output.js";
import { describeEvent } from "./forecast.js";

/** `strata events add|list|rm`: known one-off events that multiply an app's forecast. */
export function registerEventCommands(program: Command): void {
  const events = program
    .command("events")
    .description("known one-off events (a campaign, a TV spot) that multiply an app's forecast");
  const path = (app: string) => `/v1/apps/${encodeURIComponent(app)}/events`;

  events
    .command("add")
    .description("multiply the forecast of every hour that starts in [from, to) by a factor")
    .argument("<app>", "app name")
    .requiredOption("--from <time>", "start, ISO 8601 with a zone: 2024-03-01T20:00+01:00")
    .requiredOption("--to <time>", "end (exclusive), ISO 8601 with a zone")
    .requiredOption("--factor <x>", "multiplier > 0, e.g. 1.8 (or 0.5 for a quiet window)")
    .option("--note <text>", "what it is", "")
    .option("--json", "print the event as one JSON document")
    .action(
      async (
        app: string,
        opts: { from: string; to: string; factor: string; note: string } & OutputOptions,
      ) => {
        const factor = Number(opts.factor);
        if (!opts.factor.trim() || !Number.isFinite(factor)) {
          throw new StrataError(
            "bad_request",
            `[cli] --factor: expected a number like 1.8, got "${opts.factor}"`,
          );
        }
        const client = await createClient(program.opts());
        const body: AddEventRequest = { from: opts.from, to: opts.to, factor, note: opts.note };
        const event = await client.post<EventView>(path(app), body);
        if (opts.json) printJson(event);
        else console.log(`added event ${describeEvent(event)}`);
      },
    );

  events
    .command("list")
    .description("the app's events, by start")
    .argument("<app>", "app name")
    .option("--json", "print one JSON document")
    .action(async (app: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.get<EventsView>(path(app));
      if (opts.json) return printJson(view);
      if (view.events.length === 0) return console.log(`${app}: no events`);
      console.log(
        table(
          ["id", "from (UTC)", "to (UTC)", "factor", "note"],
          view.events.map((e) => [e.id, e.from, e.to, e.factor, e.note]),
        ),
      );
    });

  events
    .command("rm")
    .description("delete an event")
    .argument("<app>", "app name")
    .argument("<id>", "event id (see `strata events list`)")
    .option("--json", "print the deleted event as one JSON document")
    .action(async (app: string, id: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const removed = await client.request<EventView>(
        "DELETE",
        `${path(app)}/${encodeURIComponent(id)}`,
      );
      if (opts.json) printJson(removed);
      else console.log(`removed event ${describeEvent(removed)}`);
    });
}
