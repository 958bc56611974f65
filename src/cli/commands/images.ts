import type { Command } from "commander";
import type { BakeView, GcView, ImagesView, ScaleView } from "../../wire/image.js";
import { createClient, type ApiClient } from "../client.js";
import { confirm, printJson, progress, table, type OutputOptions } from "../output.js";
import { formatBytes } from "./build.js";
import { wholeNumber } from "../flags.js";

/** `strata bake`, `strata images`, `strata images gc` and `strata fleet scale`. Register after the fleet commands. */
export function registerImageCommands(program: Command): void {
  program
    .command("bake")
    .description("bake the group's desired release into a golden image (in the background queue)")
    .requiredOption("--group <group>", "server group")
    .option("--wait", "wait for the bake to finish; exit 1 if it fails")
    .option("--json", "print the bake as one JSON document")
    .action(async (opts: { group: string; wait?: boolean } & OutputOptions) => {
      const client = await createClient(program.opts());
      let bake = await client.post<BakeView>("/v1/images/bakes", { group: opts.group });
      if (opts.wait) bake = await waitForBake(client, bake, opts.json ? () => {} : progress);
      if (opts.json) printJson(bake);
      else console.log(describeBake(bake));
      if (bake.state === "failed") process.exitCode = 1;
    });

  const images = program
    .command("images")
    .description("golden images: list them, collect old ones");
  images
    .command("list", { isDefault: true })
    .description("golden images, channels and recent bakes (the default: `strata images`)")
    .option("--group <group>", "only this group")
    .option("--json", "print one JSON document")
    .action(async (opts: { group?: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.get<ImagesView>(
        `/v1/images${opts.group ? `?group=${encodeURIComponent(opts.group)}` : ""}`,
      );
      if (opts.json) return printJson(view);
      console.log(imagesText(view));
    });

  images
    .command("gc")
    .description(
      "delete old images: keep the newest N app images per group, channel targets, images live servers came from, and their middleware",
    )
    .option("--keep <n>", "app images kept per group (default: images.keep of the server config)")
    .option("--dry-run", "only show what would be deleted")
    .option("--json", "print one JSON document")
    .action(async (opts: { keep?: string; dryRun?: boolean } & OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.post<GcView>("/v1/images/gc", {
        ...(opts.keep !== undefined ? { keep: wholeNumber("--keep", opts.keep) } : {}),
        dry_run: Boolean(opts.dryRun),
      });
      if (opts.json) return printJson(view);
      const verb = view.dry_run ? "would delete" : "deleted";
      console.log(
        `${verb} ${view.deleted.length} image(s), kept ${view.kept.length} (keep ${view.keep})`,
      );
      for (const d of view.deleted) console.log(`  - ${d.id} ${d.name}: ${d.reason}`);
      for (const k of view.kept) console.log(`  = ${k.id} ${k.name}: ${k.reason}`);
    });

  const fleet =
    program.commands.find((c) => c.name() === "fleet") ??
    program.command("fleet").description("launch and stop servers");
  fleet
    .command("scale")
    .description("set the group to exactly COUNT servers; new ones launch from <group>:current")
    .requiredOption("--group <group>", "server group")
    .requiredOption("--count <n>", "servers wanted (0 asks for a confirmation)")
    .option("--yes", "scale to 0 without asking")
    .option("--json", "print one JSON document")
    .action(async (opts: { group: string; count: string; yes?: boolean } & OutputOptions) => {
      const count = wholeNumber("--count", opts.count);
      const client = await createClient(program.opts());
      if (count === 0) {
        const question = `fleet scale: terminate every server of group ${opts.group}?`;
        if (!(await confirm(question, opts))) return;
      }
      const view = await client.post<ScaleView>("/v1/fleet/scale", { group: opts.group, count });
      if (opts.json) return printJson(view);
      if (view.launched.length > 0) {
        console.log(
          `launched ${view.launched.join(", ")} from ${view.image ?? "the provider's base image"}`,
        );
      }
      if (view.terminated.length > 0) console.log(`terminated ${view.terminated.join(", ")}`);
      if (view.launched.length + view.terminated.length === 0)
        console.log(`${view.group} has ${view.count} server(s) already`);
    });
}

async function waitForBake(
  client: ApiClient,
  bake: BakeView,
  onProgress: (line: string) => void,
): Promise<BakeView> {
  let shown = "";
  while (bake.state === "queued" || bake.state === "running") {
    const line = `bake ${bake.id}: ${bake.state}${bake.step ? ` (${bake.step})` : ""}`;
    if (line !== shown) onProgress((shown = line));
    await new Promise((r) => setTimeout(r, 500));
    bake = await client.get<BakeView>(`/v1/images/bakes/${bake.id}`);
  }
  return bake;
}

function describeBake(bake: BakeView): string {
  const what = `bake ${bake.id} of ${bake.group} ${bake.version ?? bake.release ?? ""}: ${bake.state}`;
  const lines = [bake.detail ? `${what}: ${bake.detail}` : what];
  if (bake.error) lines.push(`error: ${bake.error}`);
  if (bake.state === "failed" && bake.output) lines.push("output:", bake.output.trimEnd());
  if (bake.state === "queued") lines.push(`follow it with \`strata images --group ${bake.group}\``);
  return lines.join("\n");
}

export function imagesText(view: ImagesView): string {
  const parts: string[] = [];
  for (const c of view.channels) {
    parts.push(
      `${c.name} -> ${c.image} (${c.version ?? c.release ?? "no app"})${c.up_to_date ? "" : "  [behind the desired release: new servers fetch at boot]"}`,
    );
  }
  if (view.channels.length === 0)
    parts.push("no channel yet: new servers launch from the provider's base image");
  parts.push(
    "",
    table(
      [
        "ID",
        "GROUP",
        "LAYER",
        "STATE",
        "VERSION",
        "PARENT",
        "SIZE",
        "BAKED",
        "TOOK",
        "CHANNEL",
        "IN USE",
      ],
      view.images.map((i) => [
        i.id,
        i.group,
        i.layer,
        i.state,
        i.version ?? (i.recipe_hash ? `recipe ${i.recipe_hash.slice(7, 19)}` : null),
        i.parent ?? "base",
        i.size === null ? null : formatBytes(i.size),
        i.baked_at,
        i.bake_ms === null ? null : `${(i.bake_ms / 1000).toFixed(1)} s`,
        i.channels.join(","),
        i.in_use.length > 0 ? i.in_use.join(",") : "no",
      ]),
    ),
  );
  const recent = view.bakes.slice(0, 10);
  if (recent.length > 0) {
    parts.push(
      "",
      table(
        ["BAKE", "GROUP", "VERSION", "REASON", "STATE", "STEP", "REQUESTED", "DETAIL"],
        recent.map((b) => [
          b.id,
          b.group,
          b.version,
          b.reason,
          b.state,
          b.step,
          b.requested_at,
          b.error ?? b.detail,
        ]),
      ),
    );
  }
  return parts.join("\n");
}
