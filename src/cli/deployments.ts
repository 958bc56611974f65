import type {
  DeployRequest,
  DeploymentEvent,
  DeploymentView,
  RollbackRequest,
} from "../wire/deployment.js";
import type { ApiClient } from "./client.js";
import { createDeployProgress, QUIET, summary, type DeployProgress } from "./deploy-view.js";
import { EXIT } from "./exit-codes.js";
import { printJson } from "./output.js";

/** What the deploy commands do, over the HTTP client; the commands only declare and render. */
export function startDeployment(
  client: ApiClient,
  request: DeployRequest,
): Promise<DeploymentView> {
  return client.post<DeploymentView>("/v1/deployments", request);
}

export function startRollback(
  client: ApiClient,
  request: RollbackRequest & Omit<DeployRequest, "app" | "version">,
): Promise<DeploymentView> {
  return client.post<DeploymentView>("/v1/rollbacks", request);
}

/** Asks the deployer to stop after the current wave; returns the deployment, still running. */
export function cancelDeployment(client: ApiClient, id: string): Promise<DeploymentView> {
  return client.post<DeploymentView>(`/v1/deployments/${encodeURIComponent(id)}/cancel`);
}

export async function listDeployments(
  client: ApiClient,
  filter: { app?: string; group?: string; limit: number },
): Promise<DeploymentView[]> {
  const query = new URLSearchParams({ limit: String(filter.limit) });
  if (filter.app) query.set("app", filter.app);
  if (filter.group) query.set("group", filter.group);
  return (await client.get<{ deployments: DeploymentView[] }>(`/v1/deployments?${query}`))
    .deployments;
}

/**
 * Feeds a deployment's events to `progress` until it ends; returns its final
 * state. A deployment that has ended already yields its snapshot and `done`.
 */
export async function followDeployment(
  client: ApiClient,
  id: string,
  progress: DeployProgress = createDeployProgress(),
): Promise<DeploymentView> {
  let final: DeploymentView | null = null;
  for await (const event of deploymentEvents(client, id)) {
    progress.event(event);
    if (event.type === "done") final = event.deployment;
  }
  return final ?? (await client.get<DeploymentView>(`/v1/deployments/${encodeURIComponent(id)}`));
}

async function* deploymentEvents(client: ApiClient, id: string): AsyncGenerator<DeploymentEvent> {
  const res = await client.raw("GET", `/v1/deployments/${encodeURIComponent(id)}/events`);
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) yield JSON.parse(line) as DeploymentEvent;
    }
  }
}

/**
 * Starts a deployment and reports it: with `detach`, the started deployment;
 * otherwise progress on stderr until it ends, then the outcome once on stdout
 * (`--json`: the final deployment). Exit 1 unless it succeeded.
 */
export async function reportDeployment(
  client: ApiClient,
  start: () => Promise<DeploymentView>,
  options: { json?: boolean; detach?: boolean },
): Promise<void> {
  const started = await start();
  if (options.detach) {
    if (options.json) printJson(started);
    else console.log(`deployment ${started.id} started`);
    return;
  }
  const final = await followDeployment(
    client,
    started.id,
    options.json ? QUIET : createDeployProgress(),
  );
  if (options.json) printJson(final);
  else console.log(summary(final));
  if (final.state !== "succeeded") process.exitCode = EXIT.FAILED;
}
