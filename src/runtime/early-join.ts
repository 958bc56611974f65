import { StrataError, messageOf } from "../lib/errors.js";
import { requestText } from "../lib/http-request.js";
import type { JoinRequest, JoinResponse } from "../wire/agent.js";

/** How long the early join waits for an answer before it leaves the join to the agent. */
const EARLY_JOIN_TIMEOUT_MS = 10_000;

/**
 * The agent's join, sent by its early boot as soon as the root is open, so
 * that it runs while the app starts and the agent's own modules load: the
 * agent client's request (`POST <server>/v1/agents/join`, the join token in
 * the body, a pinned CA for https), one try. The agent joins itself, with
 * its retries, when this fails.
 */
export async function joinEarly(
  server: string,
  body: JoinRequest,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<JoinResponse> {
  const url = `${server.replace(/\/+$/, "")}/v1/agents/join`;
  const fail = (why: string) =>
    new StrataError("unavailable", `[agent] early join ${new URL(url).origin}: ${why}`);
  let answer: { status: number; text: string };
  try {
    answer = await requestText({
      method: "POST",
      url,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      timeoutMs: options.timeoutMs ?? EARLY_JOIN_TIMEOUT_MS,
      maxBytes: 64 * 1024,
      ...(options.ca ? { ca: options.ca } : {}),
    });
  } catch (err) {
    throw fail(messageOf(err));
  }
  if (answer.status !== 200) throw fail(`HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
  let joined: JoinResponse;
  try {
    joined = JSON.parse(answer.text) as JoinResponse;
  } catch (err) {
    throw fail(`the answer is not JSON: ${messageOf(err)}`);
  }
  if (typeof joined?.token !== "string" || typeof joined.server !== "string") {
    throw fail("the answer holds no token");
  }
  return joined;
}
