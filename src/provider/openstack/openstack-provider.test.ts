import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import type { LaunchSpec, Provider } from "../provider.js";
import { testbedClient, testbedSkip, TESTBED } from "../../lib/openstack/testbed.js";
import { runProviderContract } from "../provider.contract.js";
import { createOpenStackProvider } from "./openstack-provider.js";

const skip = testbedSkip();
const reason = skip ?? "";

runProviderContract({
  name: "Provider contract: openstack (testbed Nova, fake hypervisor)",
  create: async () => ({
    provider: createOpenStackProvider({ client: testbedClient(), ...TESTBED, pollMs: 250 }),
    unknownImage: "00000000-0000-4000-8000-000000000000",
    close: async () => {},
  }),
  skip: skip
    ? {
        "launch gives an instance of the group carrying its tags": reason,
        "get follows an instance to active": reason,
        "list filters by tags": reason,
        "terminate is idempotent and get returns null afterwards": reason,
        "concurrent launches give distinct instances": reason,
        "a second live server with the same name is refused": reason,
        "a launch from an unknown image rejects and leaves no server behind": reason,
      }
    : {},
});

describe("OpenStack provider: bad input against the testbed", { skip }, () => {
  const spec = (name: string): LaunchSpec => ({
    name,
    group: "web",
    tags: { "strata:test": name },
    agent: { server: "http://127.0.0.1:9", joinToken: "t", group: "web" },
  });
  const leftovers = async (provider: Provider, name: string) =>
    (await provider.list({ "strata:test": name })).length;

  test("an unknown flavor names the cloud and the flavors there, and creates nothing", async () => {
    const provider = createOpenStackProvider({
      client: testbedClient(),
      ...TESTBED,
      flavor: "m9.nope",
    });
    const name = `bad-flavor-${randomBytes(3).toString("hex")}`;
    await assert.rejects(
      provider.launch(spec(name)),
      /cloud testbed-demo\): compute: flavor m9\.nope is unknown \(flavors: .*m1\.tiny.*; request req-/,
    );
    assert.equal(await leftovers(provider, name), 0);
  });

  test("an unknown image names the cloud, the service and the request id", async () => {
    const provider = createOpenStackProvider({ client: testbedClient(), ...TESTBED });
    const name = `bad-image-${randomBytes(3).toString("hex")}`;
    await assert.rejects(
      provider.launch({ ...spec(name), image: "00000000-0000-4000-8000-00000000dead" }),
      /cloud testbed-demo\): image: image 00000000-0000-4000-8000-00000000dead is unknown \(request req-/,
    );
    assert.equal(await leftovers(provider, name), 0);
  });

  test("a quota error gives Nova's message with the cloud, the service and the request id", async () => {
    // The testbed's `quota` project may run no instance at all (seed.py).
    const provider = createOpenStackProvider({ client: testbedClient("quota"), ...TESTBED });
    const name = `quota-${randomBytes(3).toString("hex")}`;
    await assert.rejects(provider.launch(spec(name)), (err: Error & { code: string }) => {
      assert.equal(err.code, "unauthorized");
      assert.match(
        err.message,
        /cloud testbed-quota: compute: POST \/v2\.1\/servers: 403 Quota exceeded for instances.*\(request req-/,
      );
      return true;
    });
    assert.equal(await leftovers(provider, name), 0);
  });

  test("a server that goes ERROR after it was created is reported with its fault and deleted", async () => {
    // No host has a petabyte of disk (the fake one has 600 TB): the scheduler puts the server in ERROR (NoValidHost).
    const admin = testbedClient("admin");
    const huge = await admin.request("compute", "GET", "/flavors/strata-huge", { accept: [404] });
    if (huge.status === 404) {
      await admin.request("compute", "POST", "/flavors", {
        body: {
          flavor: { name: "m1.huge", id: "strata-huge", ram: 64, vcpus: 1, disk: 1_000_000 },
        },
      });
    }
    const provider = createOpenStackProvider({
      client: testbedClient(),
      ...TESTBED,
      flavor: "m1.huge",
      pollMs: 250,
    });
    const name = `no-host-${randomBytes(3).toString("hex")}`;
    await assert.rejects(provider.launch(spec(name)), (err: Error) => {
      assert.match(
        err.message,
        /cloud testbed-demo\): compute: server no-host-\w+ \(\S+\) went ERROR: 500 No valid host was found.*\(request req-/,
      );
      return true;
    });
    assert.equal(await leftovers(provider, name), 0, "the failed server is gone");
  });

  test("user data over Nova's 65,535 bytes is refused before anything is created", async () => {
    const provider = createOpenStackProvider({
      client: testbedClient(),
      ...TESTBED,
      userData: () => "#!/bin/sh\n" + "#".repeat(60_000),
    });
    const name = `big-${randomBytes(3).toString("hex")}`;
    await assert.rejects(
      provider.launch(spec(name)),
      /user_data is \d+ bytes in base64; Nova takes at most 65535/,
    );
    assert.equal(await leftovers(provider, name), 0);
  });
});
