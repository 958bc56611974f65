import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAppDefinition } from "../../config/app-definition.js";
import { loadServerConfig } from "../../config/server-config.js";
import { runCliBatch } from "../capture.js";
import { EXIT } from "../exit-codes.js";
import { checkAppDefinition } from "./build.js";

describe("strata init", () => {
  let dir = "";
  before(async () => (dir = await mkdtemp(join(tmpdir(), "strata-init-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  test("writes a commented strata.yaml for the control plane and one for an app, from flags", async () => {
    const app = join(dir, "app");
    await mkdir(app);
    const [server, appRun, again, forced, badPort] = await runCliBatch([
      {
        args: ["init", "server", "--dir", dir, "--listen", "127.50.0.1:7790"],
      },
      { args: ["init", "app", "--dir", app, "--start", "node index.js", "--port", "3000"] },
      { args: ["init", "app", "--dir", app] },
      { args: ["init", "app", "--dir", app, "--health-path", "/up", "--force", "--json"] },
      { args: ["init", "app", "--dir", join(dir, "none"), "--port", "eighty"] },
    ]);
    assert.equal(server!.code, EXIT.OK, server!.stderr);
    assert.match(server!.stdout, /wrote .*strata\.yaml \(server\)/);
    const config = await loadServerConfig({ file: join(dir, "strata.yaml"), env: {} });
    assert.equal(config.listen.host, "127.50.0.1");
    assert.equal(config.listen.port, 7790);
    assert.match(await readFile(join(dir, "strata.yaml"), "utf8"), /^# The control plane/);

    assert.equal(appRun!.code, EXIT.OK, appRun!.stderr);
    assert.equal(again!.code, EXIT.USAGE, "an existing file is kept");
    assert.match(again!.stderr, /exists already \(--force replaces it\)/);
    assert.equal(forced!.code, EXIT.OK, forced!.stderr);
    assert.equal(JSON.parse(forced!.stdout).kind, "app");
    const text = await readFile(join(app, "strata.yaml"), "utf8");
    const definition = parseAppDefinition(text, "test");
    assert.equal(definition.health.path, "/up");
    assert.deepEqual(definition.start, ["/bin/sh", "-c", "node server.js"]);
    await checkAppDefinition(app);
    assert.equal(badPort!.code, EXIT.USAGE);
    assert.match(badPort!.stderr, /--port: expected a whole number/);
  });
});
