import { testbedClient, testbedSkip, TESTBED } from "../../lib/openstack/testbed.js";
import { runProviderContract } from "../provider.contract.js";
import { createOpenStackProvider } from "./openstack-provider.js";

const skip = await testbedSkip();
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
