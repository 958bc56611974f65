import { z } from "zod";
import { groupName, serverName } from "./names.js";

/** Body of `POST /v1/tokens/agents/rotate`: one server, or every server of a group. */
export const RotateAgentTokensSchema = z.union(
  [z.strictObject({ server: serverName }), z.strictObject({ group: groupName })],
  { error: "expected exactly one of server, group" },
);
export type RotateAgentTokens = z.infer<typeof RotateAgentTokensSchema>;

/** Answer to `POST /v1/tokens/agents/rotate`. */
export interface RotateAgentTokensView {
  /** Servers whose next heartbeat asks their agent to rotate. */
  servers: string[];
}
