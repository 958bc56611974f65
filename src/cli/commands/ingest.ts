import type { Command } from "commander";
import { createClient } from "../client.js";
import { runIngest, trafficApiOf, type IngestFlags, type IngestIo } from "../ingest-run.js";
import { renderIngest } from "../ingest-view.js";

export type { IngestDocument } from "../ingest-view.js";
export type { IngestIo } from "../ingest-run.js";

const PROCESS_IO: IngestIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export function registerIngestCommand(program: Command, io: IngestIo = PROCESS_IO): void {
  program
    .command("ingest")
    .description(
      "count requests per minute in access logs (or import a counts CSV) and send them to the control plane",
    )
    .argument(
      "[files...]",
      "access logs: nginx/Apache combined or common, LTSV, JSON lines; plain or gzip",
    )
    .requiredOption("--app <app>", "app the traffic belongs to")
    .option("--format <format>", "auto, combined, common, ltsv or json", "auto")
    .option("--follow", "keep reading the files as they grow, across rotation, until interrupted")
    .option(
      "--poll-interval <duration>",
      "with --follow: how often to look for new lines, like 1s or 250ms",
      "1s",
    )
    .option("--counts <csv>", "import a CSV of request counts instead of logs")
    .option("--time-column <name>", "with --counts: timestamp column")
    .option("--value-column <name>", "with --counts: request count column")
    .option("--missing-column <name>", "with --counts: column flagging missing rows")
    .option("--json", "print one JSON document")
    .action(async (files: string[], flags: IngestFlags) => {
      const client = await createClient(program.opts());
      const document = await runIngest(files, flags, trafficApiOf(client), io);
      if (flags.json) io.stdout(JSON.stringify(document, null, 2) + "\n");
      else io.stdout(renderIngest(document) + "\n");
      if (document.failed) process.exitCode = 1;
    });
}
