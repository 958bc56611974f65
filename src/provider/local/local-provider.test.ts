import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StrataError } from "../../lib/errors.js";
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
