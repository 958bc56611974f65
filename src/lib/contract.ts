import { test } from "node:test";

/**
 * Registers one test per contract case, each on a fresh subject from
 * `create`, closed afterwards even when the case fails. A case named in
 * `skip` is skipped with that reason. Call inside a `describe`.
 */
export function runCases<T>(
  cases: Record<string, (subject: T) => Promise<void>>,
  create: () => Promise<{ subject: T; close: () => Promise<void> }>,
  skip: Partial<Record<string, string>> = {},
): void {
  for (const [name, run] of Object.entries(cases)) {
    const reason = skip[name];
    test(name, reason ? { skip: reason } : {}, async () => {
      const { subject, close } = await create();
      try {
        await run(subject);
      } finally {
        await close();
      }
    });
  }
}
