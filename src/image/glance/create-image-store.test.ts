import assert from "node:assert/strict";
import { test } from "node:test";
import { testbedCloud } from "../../lib/openstack/testbed.js";
import { openstackProviderConfigSchema } from "../../provider/provider-config.js";
import type { ImageStore } from "../image-store.js";
import { createConfiguredImageStore } from "./create-image-store.js";

const local = { name: "local" } as ImageStore;

test("bakes go to the local store without provider.openstack, to Glance with it (on its cloud)", async () => {
  assert.equal(await createConfiguredImageStore(undefined, local), local);
  const asked: (string | undefined)[] = [];
  const openstack = openstackProviderConfigSchema.parse({
    cloud: "prod",
    flavor: "m1.small",
    network: "none",
    base_image: "debian-12-strata",
  });
  const store = await createConfiguredImageStore(openstack, local, {
    findCloud: async (name) => {
      asked.push(name);
      return testbedCloud();
    },
  });
  assert.equal(store.name, "glance");
  assert.deepEqual(asked, ["prod"]);
});
