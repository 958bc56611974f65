import { releaseDirName } from "../../lib/server-root.js";

/** What a builder server applies: the recipe folder or the release, as a gzip'd tar. */
export type BuilderPayload =
  | { kind: "recipe"; tarball: Buffer; timeoutMs: number; env: Record<string, string> }
  | { kind: "release"; tarball: Buffer; release: { id: string; version: string } };

export interface BuilderScriptOptions {
  /** Image being baked (named in the script's comment and log). */
  image: string;
  /** The agent's server root on the image. @default "/var/lib/strata/server" */
  root?: string;
}

/** The line the script prints to the console when the layer failed; the rest of the console is its output. */
export const FAILED_MARKER = "strata-bake: failed:";
/** The line it prints when the layer is applied (then it powers the builder off). */
export const DONE_MARKER = "strata-bake: done";

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * The user data of a bake's builder server: a shell script that unpacks the
 * payload embedded in it and applies it the way the local store does (a
 * recipe's files copied into `/`, then its provision.sh run there with a
 * timeout; a release unpacked into `<root>/releases/<dir>` with `current`
 * and `activations.json` as the agent leaves them), prints its output and a
 * result line to the console, and powers the server off either way: a
 * SHUTOFF builder is a finished one, and its console says how it went.
 */
export function builderUserData(payload: BuilderPayload, options: BuilderScriptOptions): string {
  const root = options.root ?? "/var/lib/strata/server";
  const apply =
    payload.kind === "recipe"
      ? `mkdir -p "$work/recipe"
tar -xzf "$work/payload.tar.gz" -C "$work/recipe"
(cd "$work/recipe" && tar -cf - --exclude=./provision.sh .) | tar -xf - -C /
if [ -f "$work/recipe/provision.sh" ]; then
  ${Object.entries(payload.env)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(" ")} timeout ${Math.max(1, Math.ceil(payload.timeoutMs / 1000))} \\
    sh -c 'cd / && exec sh "$1"' provision "$work/recipe/provision.sh" || finish "provision.sh exited with $?"
fi`
      : `dir=${quote(`${root}/releases/${releaseDirName(payload.release.id)}`)}
mkdir -p "$dir"
tar -xzf "$work/payload.tar.gz" -C "$dir" || finish "unpacking release ${payload.release.id} exited with $?"
ln -sfn ${quote(`releases/${releaseDirName(payload.release.id)}`)} ${quote(`${root}/current`)}
printf '%s\\n' ${quote(JSON.stringify({ [payload.release.id]: { activated_at: 0, version: payload.release.version } }))} > ${quote(`${root}/activations.json`)}`;
  return `#!/bin/sh
# strata: bake a ${payload.kind} layer into image ${options.image}, then power off
exec > /dev/console 2>&1
finish() {
  if [ -n "$1" ]; then echo "${FAILED_MARKER} $1"; else echo "${DONE_MARKER}"; fi
  sync
  poweroff
  exit 0
}
work=$(mktemp -d)
base64 -d > "$work/payload.tar.gz" <<'STRATA_PAYLOAD'
${payload.tarball.toString("base64").replace(/(.{76})/g, "$1\n")}
STRATA_PAYLOAD
${apply}
rm -rf "$work"
finish ""
`;
}
