import { z } from "zod";

/** Query of `GET /v1/groups/:group/check`: the health check of the app about to be deployed. */
export const PreflightQuerySchema = z.strictObject({
  /** Health path to GET on each server; without it only reachability is checked. */
  path: z.string().startsWith("/", "must start with /").max(1024).optional(),
  port: z.coerce.number().int().min(1).max(65_535).optional(),
  status: z.coerce.number().int().min(100).max(599).default(200),
});
export type PreflightQuery = z.infer<typeof PreflightQuerySchema>;

/** One check of `strata check`: what was checked, whether it held, and why not. */
export interface PreflightCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** `GET /v1/groups/:group/check` and `strata check --json`: `ok` when every check held. */
export interface PreflightView {
  group: string;
  ok: boolean;
  checks: PreflightCheck[];
}
