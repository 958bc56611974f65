import type { z } from "zod";
import { duration, mapping } from "../config/fields.js";

/**
 * The `agent_tokens` section of strata.yaml: how agents rotate their tokens.
 *
 * ```yaml
 * agent_tokens:
 *   rotate_after: 30d    # a heartbeat asks the agent to rotate once its token is this old
 *   grace: 1m            # the old token still works this long after the new one's first use
 * ```
 */
export const agentTokensSection = mapping({
  rotate_after: duration({
    description:
      "A heartbeat asks the agent to rotate its token once the token is this old; the agent fetches a new one over its authenticated channel, saves it, then uses it. `strata tokens rotate` asks at once.",
    default: "30d",
    min: 60_000,
  }),
  grace: duration({
    description:
      "How long the replaced token still works after the new one is first used (requests already under way). Until that first use the old token keeps working, so an agent killed mid-rotation loses nothing.",
    default: "1m",
    min: 0,
  }),
});

/** Durations in ms. */
export type AgentTokensConfig = z.output<typeof agentTokensSection>;
