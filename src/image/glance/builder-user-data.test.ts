import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { encodeUserData } from "../../provider/openstack/user-data.js";
import { builderUserData, DONE_MARKER, FAILED_MARKER } from "./builder-user-data.js";

const payloadOf = (script: string) =>
  Buffer.from(script.split("<<'STRATA_PAYLOAD'\n")[1]!.split("\nSTRATA_PAYLOAD")[0]!, "base64");

test("a recipe builder carries the tarball, runs provision.sh under timeout with its env, and powers off either way", () => {
  const tarball = randomBytes(3000);
  const script = builderUserData(
    { kind: "recipe", tarball, timeoutMs: 90_500, env: { STRATA_GROUP: "web's" } },
    { image: "web-mw" },
  );
  assert.deepEqual(payloadOf(script), tarball);
  assert.match(script, /STRATA_GROUP='web'\\''s' timeout 91 /);
  assert.match(script, /--exclude=\.\/provision\.sh/);
  assert.ok(script.includes(`echo "${FAILED_MARKER} $1"`) && script.includes(DONE_MARKER));
  assert.match(script, /poweroff/);
});

test("a release builder unpacks into the agent's layout; a tarball over Nova's user-data limit is refused", () => {
  const id = `sha256:${"ab".repeat(32)}`;
  const script = builderUserData(
    { kind: "release", tarball: randomBytes(100), release: { id, version: "1.2.3" } },
    { image: "web-app" },
  );
  assert.ok(script.includes(`/var/lib/strata/server/releases/sha256-${"ab".repeat(32)}`));
  assert.ok(script.includes(`ln -sfn 'releases/sha256-${"ab".repeat(32)}'`));
  assert.ok(script.includes('"version":"1.2.3"'));
  const big = builderUserData(
    { kind: "release", tarball: randomBytes(60_000), release: { id, version: "1.2.3" } },
    { image: "web-app" },
  );
  assert.throws(() => encodeUserData(big), { code: "too_large" });
});
