import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import type { StrataError } from "../lib/errors.js";
import { confirm } from "./output.js";

function terminal(answer: string | null, tty = true) {
  const input = Object.assign(new PassThrough(), { isTTY: tty });
  const output = Object.assign(new PassThrough(), { isTTY: tty });
  let asked = "";
  let answered = false;
  output.on("data", (chunk: Buffer) => {
    asked += chunk.toString();
    if (answer !== null && !answered && asked.includes("[y/N]")) {
      answered = true;
      input.write(answer + "\n");
    }
  });
  return { io: { input, output }, asked: () => asked };
}

// Issue 15, defect 8: `fleet scale --count 0` and `fleet down` terminated everything unasked.
test("a destructive command asks on a terminal, takes --yes, and refuses without a terminal (issue 15, defect 8)", async () => {
  const yes = terminal("y");
  assert.equal(await confirm("terminate all 3 server(s)?", { io: yes.io }), true);
  assert.match(yes.asked(), /terminate all 3 server\(s\)\? \[y\/N\]/);

  const no = terminal("");
  assert.equal(await confirm("terminate?", { io: no.io }), false);
  assert.match(no.asked(), /aborted/);
  process.exitCode = undefined;

  const piped = terminal(null, false);
  await assert.rejects(
    confirm("terminate?", { io: piped.io }),
    (err: StrataError) => err.code === "bad_request" && /pass --yes/.test(err.message),
  );
  assert.equal(await confirm("terminate?", { yes: true, io: piped.io }), true);
});
