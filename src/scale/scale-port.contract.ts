import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { FleetSnapshot, ScalePort } from "./executor.js";

/** A port on an empty group, and a way to wait for its fleet. */
export interface ScalePortSubject {
  port: ScalePort;
  /** Resolves once `ready(snapshot)` holds, moving simulated time or waiting on real servers. */
  settle(what: string, ready: (s: FleetSnapshot) => boolean): Promise<void>;
}

export interface ScalePortContractOptions {
  create: () => Promise<{ subject: ScalePortSubject; close: () => Promise<void> }>;
  /** Cases to skip, each with the reason. */
  skip?: Record<string, string>;
}

const total = (s: FleetSnapshot) => s.inService + s.launching + s.away;

/** What the executor relies on from every ScalePort (FleetOps-backed, simulated). */
export function runScalePortContract(name: string, options: ScalePortContractOptions): void {
  describe(`ScalePort contract: ${name}`, () => {
    runCases<ScalePortSubject>(
      {
        "launched servers count as launching at once, then enter service": async ({
          port,
          settle,
        }) => {
          assert.equal(total(await port.snapshot()), 0);
          await port.launch(2, "contract");
          const s = await port.snapshot();
          assert.equal(s.inService + s.launching, 2);
          await settle("2 in service", (x) => x.inService === 2 && x.launching === 0);
        },
        "retire takes servers away and never goes below none": async ({ port, settle }) => {
          await port.launch(3, "contract");
          await settle("3 in service", (x) => x.inService === 3);
          await port.retire(1, "contract");
          assert.equal(total(await port.snapshot()), 2);
          await port.retire(10, "contract");
          await settle("none left", (x) => total(x) === 0 && x.draining === 0);
        },
      },
      options.create,
      options.skip,
    );
  });
}
