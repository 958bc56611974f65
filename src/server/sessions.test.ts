import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createSessions, SESSION_COOKIE } from "./sessions.js";

describe("dashboard sessions", () => {
  let now = 1_000_000;
  const clock = { now: () => now, sleep: async () => {} };
  const cookieOf = (id: string) => `other=1; ${SESSION_COOKIE}=${id}`;

  test("only the admin token signs in; the session lasts its ttl; sign-out ends it", () => {
    const sessions = createSessions({ adminToken: "secret", clock, ttlMs: 1000 });
    assert.equal(sessions.signIn("Secret"), null);
    const id = sessions.signIn("secret")!;
    assert.match(id, /^[\w-]{40,}$/);
    assert.equal(sessions.valid(cookieOf(id)), true);
    assert.equal(sessions.valid(cookieOf(id + "x")), false);
    assert.equal(sessions.valid(undefined), false);
    now += 999;
    assert.equal(sessions.valid(cookieOf(id)), true);
    now += 1;
    assert.equal(sessions.valid(cookieOf(id)), false, "expired");
    const again = sessions.signIn("secret")!;
    sessions.signOut(cookieOf(again));
    assert.equal(sessions.valid(cookieOf(again)), false);
  });

  test("the cookie is HttpOnly and SameSite=Strict; clearing it sets Max-Age=0", () => {
    const sessions = createSessions({ adminToken: "secret", clock, ttlMs: 60_000 });
    assert.equal(
      sessions.cookie("abc"),
      `${SESSION_COOKIE}=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60`,
    );
    assert.match(sessions.cookie(""), /Max-Age=0$/);
  });

  test("sessions outlive a restart with their file, hashed, and only for the same token", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-sessions-"));
    try {
      const file = join(dir, "dashboard-sessions.json");
      const id = createSessions({ adminToken: "secret", clock, file }).signIn("secret")!;
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.ok(!(await readFile(file, "utf8")).includes(id), "the id itself is not stored");
      assert.equal(createSessions({ adminToken: "secret", clock, file }).valid(cookieOf(id)), true);
      assert.equal(
        createSessions({ adminToken: "rotated", clock, file }).valid(cookieOf(id)),
        false,
        "a new admin token ends the old sessions",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
