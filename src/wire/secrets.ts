import { z } from "zod";
import { appName } from "./names.js";

/** Largest secret value, in bytes of UTF-8. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** A secret is an environment variable of the app: HOST, PORT and STRATA_* are the agent's. */
export const secretKey = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be a variable name (letters, digits, _)")
  .refine((key) => !/^(HOST|PORT|STRATA_.*)$/.test(key), "is reserved (the agent sets it)");

/** Path of `/v1/apps/:app/secrets/:key`. */
export const SecretParamsSchema = z.strictObject({ app: appName, key: secretKey });
export const AppParamsSchema = z.strictObject({ app: appName });

/** Body of `PUT /v1/apps/:app/secrets/:key`. */
export const SecretValueSchema = z.strictObject({
  value: z
    .string()
    .min(1, "must not be empty")
    .refine(
      (v) => Buffer.byteLength(v) <= MAX_SECRET_BYTES,
      `is larger than ${MAX_SECRET_BYTES} bytes`,
    ),
});
export type SecretValue = z.infer<typeof SecretValueSchema>;

/** A secret as the API shows it: never its value. */
export interface SecretView {
  app: string;
  key: string;
  /** ISO 8601 UTC of the last set. */
  updated_at: string;
}

/** `GET /v1/apps/:app/secrets` and `strata secrets list --json`. */
export interface SecretsView {
  app: string;
  secrets: SecretView[];
}

/** `GET /v1/agents/secrets`: the environment an agent adds to its app's at start. */
export interface AgentSecrets {
  env: Record<string, string>;
}
