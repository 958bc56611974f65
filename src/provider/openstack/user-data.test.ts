import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { agentUserData, encodeUserData, USER_DATA_LIMIT } from "./user-data.js";

const spec = {
  name: "web-3",
  group: "web",
  tags: {},
  agent: { server: "http://10.0.0.5:7700", joinToken: "tok'en$(x)", group: "web" },
};

test("the user data starts the agent with its join token kept out of argv", () => {
  const script = agentUserData(spec, { prelude: "echo installing" });
  assert.match(script, /^#!\/bin\/sh\n/);
  assert.match(
    script,
    /STRATA_JOIN_TOKEN='tok'\\''en\$\(x\)'/,
    "the token is quoted for the shell",
  );
  assert.match(script, /EnvironmentFile=\/etc\/strata\/agent\.env/);
  assert.match(
    script,
    /strata agent --group web --root \/var\/lib\/strata\/server --name web-3 --address/,
  );
  assert.doesNotMatch(script.split("STRATA_ENV")[2] ?? "", /tok'en/, "never on a command line");
  assert.ok(
    script.indexOf("echo installing") < script.indexOf("agent.env"),
    "the prelude runs first",
  );
  execFileSync("sh", ["-n"], { input: script }); // parses as a shell script
});

test("user data over Nova's limit is refused; under it comes back as base64", () => {
  const encoded = encodeUserData("#!/bin/sh\ntrue\n");
  assert.equal(Buffer.from(encoded, "base64").toString(), "#!/bin/sh\ntrue\n");
  const justOver = "x".repeat((USER_DATA_LIMIT / 4) * 3 + 3);
  assert.throws(() => encodeUserData(justOver), { code: "too_large" });
});

test("regression (testbed e2e): only the token file is written under umask 077, never the agent it starts", () => {
  // An agent that inherited umask 077 unpacked releases its unprivileged app could not read.
  const script = agentUserData(spec);
  assert.match(script, /^\(umask 077; cat > \/etc\/strata\/agent\.env\) <<'STRATA_ENV'$/m);
  assert.doesNotMatch(script, /^umask /m);
  execFileSync("sh", ["-n"], { input: script });
});

test("with strata's CA the agent pins it from a file the user data writes; without it, no CA file", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const script = agentUserData({ ...spec, agent: { ...spec.agent, ca: pem } });
  assert.ok(script.includes(`cat > /etc/strata/ca.pem <<'STRATA_CA'\n${pem}STRATA_CA\n`));
  assert.match(script, /ExecStart=.* --name web-3 --ca-file \/etc\/strata\/ca\.pem --address/);
  assert.match(script, /nohup strata agent .* --ca-file \/etc\/strata\/ca\.pem --address/);
  execFileSync("sh", ["-n"], { input: script });
  assert.doesNotMatch(agentUserData(spec), /ca\.pem|--ca-file/);
});
