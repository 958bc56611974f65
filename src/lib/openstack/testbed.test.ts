// Regression: the OpenStack tests ran whenever a testbed answered on 127.0.0.1, so any
// `npm test` on a machine where one runs (another session's) loaded it; they run only
// with STRATA_OPENSTACK_TESTS=1 now.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";

test("the OpenStack tests skip without STRATA_OPENSTACK_TESTS=1, even while a testbed answers", async () => {
  const keystone = createServer((_req, res) => res.end('{"version":{}}'));
  await new Promise<void>((resolve) => keystone.listen(0, "127.96.0.1", resolve));
  try {
    const { port } = keystone.address() as AddressInfo;
    process.env.STRATA_OPENSTACK_AUTH_URL = `http://127.96.0.1:${port}/v3`;
    const { testbedSkip } = await import("./testbed.js");
    for (const value of [undefined, "", "0", "yes"]) {
      const env = value === undefined ? {} : { STRATA_OPENSTACK_TESTS: value };
      const reason = await testbedSkip(env);
      assert.match(String(reason), /run only with STRATA_OPENSTACK_TESTS=1/, `value ${value}`);
    }
    assert.equal(await testbedSkip({ STRATA_OPENSTACK_TESTS: "1" }), undefined);
  } finally {
    keystone.close();
  }
});
