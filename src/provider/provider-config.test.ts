import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseServerConfig } from "../config/server-config.js";
import { createBalancer } from "../balancer/create-balancer.js";
import { createProvider } from "./create-provider.js";

const parse = (yaml: string) => parseServerConfig(yaml, "strata.yaml");

describe("provider and balancer selection by name in strata.yaml", () => {
  test("absent sections mean the local provider and balancer with their defaults", () => {
    const config = parse("");
    assert.equal(config.settings["provider.openstack"], undefined);
    assert.equal(config.settings["balancer.octavia"], undefined);
    assert.equal(config.addressPrefix, "127.0.0");
    assert.equal(config.balancerHost, "127.0.0.1");
  });

  test("openstack and octavia sections parse with their defaults", () => {
    const config = parse(
      "provider:\n  openstack:\n    cloud: prod\n    flavor: m1.small\n    network: none\n    base_image: debian-12-strata\n    security_groups: [web]\nbalancer:\n  octavia:\n    loadbalancer: web-lb\n",
    );
    assert.deepEqual(config.settings["provider.openstack"], {
      cloud: "prod",
      flavor: "m1.small",
      network: "none",
      base_image: "debian-12-strata",
      security_groups: ["web"],
      agent_command: "strata agent",
      server_root: "/var/lib/strata/server",
    });
    assert.deepEqual(config.settings["balancer.octavia"], {
      loadbalancer: "web-lb",
      pool: "strata-{group}",
      member_port: 8080,
    });
  });

  test("balancer: { host } means the local balancer on that host", () => {
    const config = parse(
      "balancer:\n  host: 127.60.0.1\nprovider:\n  local:\n    address_prefix: 127.60.1\n",
    );
    assert.equal(config.balancerHost, "127.60.0.1");
    assert.equal(config.addressPrefix, "127.60.1");
  });

  test("unknown names, unknown keys and missing keys are errors naming the key", () => {
    assert.throws(() => parse("provider:\n  aws: {}\n"), { key: "provider.aws" });
    assert.throws(() => parse("balancer:\n  haproxy: {}\n"), { key: "balancer.haproxy" });
    assert.throws(() => parse("provider:\n  openstack:\n    flavor: x\n    network: none\n"), {
      key: "provider.openstack.base_image",
    });
    assert.throws(
      () =>
        parse(
          "provider:\n  openstack:\n    flavor: x\n    network: none\n    base_image: b\n    flavour: y\n",
        ),
      { key: "provider.openstack.flavour", message: /unknown key/ },
    );
    assert.throws(() => parse("provider:\n  local:\n    address_prefix: 10.0.0\n"), {
      key: "provider.local.address_prefix",
    });
  });

  test("the factories reject names they do not know", async () => {
    await assert.rejects(
      createProvider({ nope: {} } as never, { local: { dir: "/nonexistent" } }),
      {
        key: "provider",
        message: /unknown provider "nope" \(expected local or openstack\)/,
      },
    );
    await assert.rejects(createBalancer({ nope: {} } as never), {
      key: "balancer",
      message: /unknown balancer "nope"/,
    });
  });

  test("the openstack factory looks its cloud up in clouds.yaml and names it when missing", async () => {
    const provider = createProvider(
      {
        openstack: {
          cloud: "missing",
          flavor: "f",
          network: "none",
          base_image: "b",
          security_groups: [],
          agent_command: "strata agent",
          server_root: "/var/lib/strata/server",
        },
      },
      { local: { dir: "/nonexistent" } },
    );
    await assert.rejects(provider, /cloud missing/);
  });
});
