import assert from "node:assert/strict";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StrataError } from "../../lib/errors.js";
import { waitFor } from "../../lib/test-support.js";
import { ROOT_READY_FD_ENV } from "../../runtime/agent-flags.js";
import { runProviderContract } from "../provider.contract.js";
import { createLocalProvider } from "./local-provider.js";

runProviderContract({
  name: "Provider contract: local",
  create: async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-local-provider-"));
    const provider = createLocalProvider({
      dir,
      addressPrefix: "127.60.7",
      // The contract is about instances, not agents: a process that waits stands in for one.
      agentCommand: [process.execPath, "-e", "setInterval(() => {}, 60000)", "--"],
      prepareRoot: async (image) => {
        throw new StrataError("not_found", `[provider] local: image ${image} is unknown`);
      },
      stopTimeoutMs: 2000,
    });
    return {
      provider,
      unknownImage: "img-never-seen",
      close: async () => {
        await provider.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

test("the agent's process starts while the image is cloned into its root, and waits for it (issue 13)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-local-provider-"));
  // Stands in for the agent: says it runs, waits for `ready` on fd 3, then looks at its root.
  const agent = `const { appendFileSync, existsSync } = require("node:fs");
    const root = process.argv[process.argv.indexOf("--root") + 1];
    appendFileSync(root + "/agent-started", "");
    const pipe = new (require("node:net").Socket)({ fd: Number(process.env.${ROOT_READY_FD_ENV}) });
    let text = "";
    pipe.on("data", (chunk) => (text += chunk));
    pipe.on("end", () => appendFileSync(root + "/agent-saw", text + (existsSync(root + "/cloned") ? " cloned" : "")));
    setInterval(() => {}, 60000);`;
  const provider = createLocalProvider({
    dir,
    addressPrefix: "127.82.7",
    agentCommand: [process.execPath, "-e", agent, "--"],
    prepareRoot: async (_image, root) => {
      await waitFor("the agent to start during the clone", () =>
        exists(join(root, "agent-started")),
      );
      await writeFile(join(root, "cloned"), "");
    },
    stopTimeoutMs: 2000,
  });
  try {
    const instance = await provider.launch({
      name: "web-1",
      group: "web",
      image: "img-000000000001",
      tags: {},
      agent: { server: "http://127.82.7.1:9", group: "web", joinToken: "t" },
    });
    const saw = await waitFor("the agent to read its pipe", () =>
      readFile(join(instance.root!, "agent-saw"), "utf8").catch(() => null),
    );
    assert.equal(saw, "ready\n cloned");
    await provider.terminate(instance.id);
  } finally {
    await provider.close({ stopServers: true });
    await rm(dir, { recursive: true, force: true });
  }
});

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
