import { z } from "zod";

/** `POST /v1/groups/:group/lock`: a maintenance window; deployments to the group are refused meanwhile. */
export const LockRequestSchema = z.strictObject({
  /** Why, shown to whoever tries to deploy: "database migration, until 14:00". */
  message: z.string().trim().min(1).max(500),
});
export type LockRequest = z.infer<typeof LockRequestSchema>;

/** A group's maintenance lock. */
export interface GroupLock {
  group: string;
  message: string;
  /** ISO 8601 UTC. */
  since: string;
}

/** `GET /v1/groups/:group/lock`: `lock` is null when the group is not locked. */
export interface LockStatusView {
  group: string;
  lock: GroupLock | null;
}

/** Group names as the API accepts them in a path. */
export const GroupNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, {
  message: "must be lowercase letters, digits, . _ - (at most 63)",
});
