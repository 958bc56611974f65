import { createSimClock, createSimulatedFleet } from "./sim-fleet.js";
import { runScalePortContract } from "./scale-port.contract.js";

const LAG = 600_000;

runScalePortContract("simulated fleet", {
  create: async () => {
    const clock = createSimClock(0);
    const fleet = createSimulatedFleet({ clock, lagMs: LAG });
    return {
      subject: {
        port: fleet,
        settle: async (what, ready) => {
          for (let i = 0; i < 10 && !ready(await fleet.snapshot()); i++) {
            clock.set(clock.now() + LAG);
            fleet.advance(clock.now());
          }
          if (!ready(await fleet.snapshot())) throw new Error(`never ${what}`);
        },
      },
      close: async () => {},
    };
  },
});
