import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findCloud } from "./clouds.js";

describe("findCloud (openstacksdk's clouds.yaml search)", () => {
  let work = "";
  let dirs: { cwd: string; home: string; siteDir: string };
  const entry = (user: string, extra = "") =>
    `clouds:\n  dev:\n    auth:\n      auth_url: http://127.60.0.1:5000/v3\n      username: ${user}\n      password: pw\n      project_name: p\n    region_name: R1\n${extra}`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "strata-clouds-"));
    dirs = { cwd: join(work, "cwd"), home: join(work, "home"), siteDir: join(work, "etc") };
    for (const dir of [dirs.cwd, join(dirs.home, ".config", "openstack"), dirs.siteDir])
      await mkdir(dir, { recursive: true });
  });
  after(() => rm(work, { recursive: true, force: true }));

  test("the working folder comes before ~/.config/openstack and /etc/openstack", async () => {
    await writeFile(join(dirs.siteDir, "clouds.yaml"), entry("site"));
    assert.equal((await findCloud({ cloud: "dev", env: {}, ...dirs })).auth.username, "site");
    await writeFile(join(dirs.home, ".config", "openstack", "clouds.yaml"), entry("user"));
    assert.equal((await findCloud({ cloud: "dev", env: {}, ...dirs })).auth.username, "user");
    await writeFile(join(dirs.cwd, "clouds.yaml"), entry("cwd"));
    const cloud = await findCloud({ cloud: "dev", env: {}, ...dirs });
    assert.equal(cloud.auth.username, "cwd");
    assert.equal(cloud.region_name, "R1");
    assert.equal(cloud.interface, "public");
    assert.equal(cloud.source, join(dirs.cwd, "clouds.yaml"));
  });

  test("OS_CLIENT_CONFIG_FILE comes first and OS_CLOUD names the cloud", async () => {
    const file = join(work, "named.yaml");
    await writeFile(file, entry("named"));
    const cloud = await findCloud({
      env: { OS_CLIENT_CONFIG_FILE: file, OS_CLOUD: "dev" },
      ...dirs,
    });
    assert.equal(cloud.auth.username, "named");
  });

  test("secure.yaml adds the secrets and an application credential selects its auth type", async () => {
    const cwd = join(work, "secure");
    await mkdir(cwd);
    await writeFile(
      join(cwd, "clouds.yaml"),
      "clouds:\n  ci:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://127.60.0.1:5000\n      application_credential_id: abc\n    compute_endpoint_override: http://127.60.0.2:8774/v2.1\n",
    );
    await writeFile(
      join(cwd, "secure.yaml"),
      "clouds:\n  ci:\n    auth:\n      application_credential_secret: s3cret\n",
    );
    const cloud = await findCloud({ cloud: "ci", env: {}, ...dirs, cwd });
    assert.equal(cloud.auth_type, "v3applicationcredential");
    assert.equal(cloud.auth.application_credential_secret, "s3cret");
    assert.equal(cloud.endpoint_override.compute, "http://127.60.0.2:8774/v2.1");
  });

  test("an unknown cloud, a missing password or no file names the cloud and where it looked", async () => {
    await assert.rejects(
      findCloud({ cloud: "nope", env: {}, ...dirs }),
      /cloud nope: not in .*clouds\.yaml \(clouds there: dev\)/,
    );
    const cwd = join(work, "nopw");
    await mkdir(cwd);
    await writeFile(
      join(cwd, "clouds.yaml"),
      "clouds:\n  dev:\n    auth:\n      auth_url: http://x/v3\n      username: u\n",
    );
    await assert.rejects(
      findCloud({ cloud: "dev", env: {}, ...dirs, cwd }),
      /cloud dev .*auth\.password is missing/,
    );
    const empty = join(work, "empty");
    await mkdir(empty);
    await assert.rejects(
      findCloud({ cloud: "dev", env: {}, cwd: empty, home: empty, siteDir: empty }),
      /cloud dev: no clouds\.yaml found \(looked in /,
    );
    await assert.rejects(
      findCloud({ env: {}, ...dirs }),
      /set provider\.openstack\.cloud or OS_CLOUD/,
    );
  });
});
