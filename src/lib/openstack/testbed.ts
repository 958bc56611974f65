import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Cloud } from "./clouds.js";
import {
  createOpenStackClient,
  type OpenStackClient,
  type OpenStackClientOptions,
} from "./client.js";

/**
 * For tests against scripts/openstack-testbed (Keystone, Glance, Nova with the
 * fake hypervisor, Octavia with no-op backends on 127.0.0.1). They run only
 * when STRATA_OPENSTACK_TESTS=1 (CI sets it), and then fail when the testbed
 * is not reachable; otherwise they skip with a reason, even while a testbed
 * runs on the machine (another session's: a plain `npm test` must not load it).
 */
export const TESTBED_AUTH_URL = process.env.STRATA_OPENSTACK_AUTH_URL ?? "http://127.0.0.1:5000/v3";

export function testbedSkip(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.STRATA_OPENSTACK_TESTS === "1") return undefined;
  return `the OpenStack tests run only with STRATA_OPENSTACK_TESTS=1 (against the testbed at ${TESTBED_AUTH_URL}: scripts/ci/openstack.sh start)`;
}

/** A testbed user: `demo` (the default), `quota` (instance quota 0) or `admin`. */
export function testbedCloud(user = "demo", overrides: Partial<Cloud["auth"]> = {}): Cloud {
  return {
    name: `testbed-${user}`,
    auth_type: "password",
    auth: {
      auth_url: TESTBED_AUTH_URL,
      username: user,
      password: "secret",
      project_name: user,
      user_domain_name: "Default",
      project_domain_name: "Default",
      ...overrides,
    },
    region_name: "RegionOne",
    interface: "public",
    endpoint_override: {},
    source: "(testbed)",
  };
}

export function testbedClient(
  user = "demo",
  options: Partial<OpenStackClientOptions> = {},
): OpenStackClient {
  // The testbed shares its 2 cores with the tests: one answer may take longer than a cloud's.
  return createOpenStackClient({
    cloud: testbedCloud(user),
    backoffMs: 100,
    timeoutMs: 120_000,
    ...options,
  });
}

/** Writes a clouds.yaml with the testbed's `demo` cloud as `testbed` into a new folder; returns the folder. */
export async function writeTestbedClouds(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "strata-clouds-"));
  const { auth, region_name } = testbedCloud();
  await writeFile(
    join(dir, "clouds.yaml"),
    stringify({ clouds: { testbed: { auth, region_name } } }),
  );
  return dir;
}

/** Settings of the testbed's seeded resources (scripts/openstack-testbed/seed.py). */
export const TESTBED = { flavor: "m1.tiny", baseImage: "strata-base", network: "none" } as const;
